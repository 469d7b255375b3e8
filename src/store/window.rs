//! Windows of the event list for the interface: rows at or older than a key, rows newer than a
//! key, each filtered by a predicate while scanning by key range, with a scan budget so that a
//! rare match never holds a read for long (the caller continues from where it stopped).

use super::record;
use super::tables::{BY_EVENT, DELIVERIES, EVENTS};
use super::{Store, StoreError};
use crate::model::{DeliveriesState, DeliveryState, EventMeta, EventSummary};
use redb::ReadTransaction;
use ulid::Ulid;

/// One row of the interface's event list: the summary, and what the filter and the badges need.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRow {
    pub summary: EventSummary,
    pub dedupe_key: Option<String>,
    pub body_len: u64,
    /// Each delivery's state, oldest first.
    pub delivery_states: Vec<DeliveryState>,
    /// Attempts made over all deliveries.
    pub attempts: u32,
    /// A replay, duplicate or edited resend: `R`, `D`, `E`.
    pub lineage: Option<char>,
    /// The targets its deliveries go to, oldest first.
    pub targets: Vec<String>,
    /// The signature scheme it was checked with (or detected).
    pub scheme: Option<String>,
}

/// Which way a scan goes from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Keys at or below the start (`None`: from the newest), newest first.
    Older,
    /// Keys strictly above the start, oldest first.
    Newer,
}

/// What one bounded scan found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    pub rows: Vec<WindowRow>,
    /// Where the scan stopped with rows left to look at (the budget ran out or `limit` was
    /// reached): continue from here, exclusive.
    pub resume: Option<Ulid>,
    /// Rows looked at.
    pub scanned: u64,
    /// The limit was reached (more matches may follow).
    pub full: bool,
}

impl Store {
    /// Up to `limit` rows matching `keep`, looking at no more than `budget` rows. `Older` starts
    /// at `from` inclusive (newest first); `Newer` starts after `from` (oldest first).
    pub fn scan_window(
        &self,
        from: Option<Ulid>,
        direction: Direction,
        limit: usize,
        budget: u64,
        keep: &dyn Fn(&WindowRow) -> bool,
    ) -> Result<Scan, StoreError> {
        let txn = self.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        let mut scan = Scan::default();
        let visit = |key: u128, value: &[u8], scan: &mut Scan| -> Result<bool, StoreError> {
            if scan.rows.len() >= limit || scan.scanned >= budget {
                scan.full = scan.rows.len() >= limit;
                return Ok(false);
            }
            scan.scanned += 1;
            scan.resume = Some(Ulid(key));
            let Ok(decoded) = record::decode(Ulid(key), value) else {
                return Ok(true);
            };
            let row = row_of(&txn, &decoded.meta)?;
            if keep(&row) {
                scan.rows.push(row);
            }
            Ok(true)
        };
        let mut ended = true;
        match direction {
            Direction::Older => {
                let range = events.range(..=from.map_or(u128::MAX, |f| f.0))?;
                for entry in range.rev() {
                    let (k, v) = entry?;
                    if !visit(k.value(), v.value(), &mut scan)? {
                        ended = false;
                        break;
                    }
                }
            }
            Direction::Newer => {
                let lower = from.map_or(0, |f| f.0.saturating_add(1));
                for entry in events.range(lower..)? {
                    let (k, v) = entry?;
                    if !visit(k.value(), v.value(), &mut scan)? {
                        ended = false;
                        break;
                    }
                }
            }
        }
        if ended {
            scan.resume = None;
        } else if direction == Direction::Older {
            // `Older` is inclusive of its start: resume below the last row looked at.
            scan.resume = scan.resume.map(|r| Ulid(r.0.saturating_sub(1)));
        }
        Ok(scan)
    }
}

fn row_of(txn: &ReadTransaction, meta: &EventMeta) -> Result<WindowRow, StoreError> {
    let by_event = txn.open_table(BY_EVENT)?;
    let deliveries = txn.open_table(DELIVERIES)?;
    let mut states = Vec::new();
    let mut targets = Vec::new();
    let mut attempts = 0u32;
    let mut lineage = meta.resend_of.map(|_| 'E');
    for entry in by_event.range((meta.id.0, 0)..=(meta.id.0, u128::MAX))? {
        let id = entry?.0.value().1;
        if let Some(value) = deliveries.get(id)?
            && let Ok(d) = record::decode_delivery(Ulid(id), value.value())
        {
            states.push(d.state);
            targets.push(d.target);
            attempts = attempts.saturating_add(d.attempt_count);
            if lineage.is_none() && d.replay_of.is_some() {
                lineage = Some(if d.duplicate { 'D' } else { 'R' });
            }
        }
    }
    let summary = EventSummary::of(meta, DeliveriesState::of(states.iter().copied()));
    Ok(WindowRow {
        summary,
        dedupe_key: meta.dedupe_key.clone(),
        body_len: meta.body_len,
        delivery_states: states,
        attempts,
        lineage,
        targets,
        scheme: meta.verification.scheme.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Capture, StoreOptions};

    fn capture(route: &str) -> Capture {
        crate::store::tests::capture(route, b"{}", None)
    }

    #[tokio::test]
    async fn windows_page_by_key_and_resume_within_a_budget() {
        let dir = tempfile::tempdir().unwrap();
        let (store, writer) = Store::open(StoreOptions::new(dir.path().join("h.redb"))).unwrap();
        let mut ids = Vec::new();
        for i in 0..10 {
            let route = if i % 3 == 0 { "rare" } else { "common" };
            ids.push(writer.capture(capture(route)).await.unwrap().id);
        }
        let all = |_: &WindowRow| true;
        let newest = store
            .scan_window(None, Direction::Older, 4, 100, &all)
            .unwrap();
        let got: Vec<_> = newest.rows.iter().map(|r| r.summary.id).collect();
        assert_eq!(got, [ids[9], ids[8], ids[7], ids[6]]);
        assert!(newest.full && newest.resume.is_some());
        // Older is inclusive of its start, Newer exclusive.
        let at = store
            .scan_window(Some(ids[5]), Direction::Older, 2, 100, &all)
            .unwrap();
        assert_eq!(at.rows[0].summary.id, ids[5]);
        let newer = store
            .scan_window(Some(ids[5]), Direction::Newer, 2, 100, &all)
            .unwrap();
        let got: Vec<_> = newer.rows.iter().map(|r| r.summary.id).collect();
        assert_eq!(got, [ids[6], ids[7]]);
        let oldest = store
            .scan_window(None, Direction::Newer, 100, 100, &all)
            .unwrap();
        assert_eq!(oldest.rows.len(), 10);
        assert_eq!(oldest.resume, None, "nothing left");
        // A rare match with a small budget hands back what it found and where to go on.
        let rare = |r: &WindowRow| r.summary.route == "rare";
        let first = store
            .scan_window(None, Direction::Older, 10, 4, &rare)
            .unwrap();
        assert_eq!(first.scanned, 4);
        assert_eq!(
            first.rows.iter().map(|r| r.summary.id).collect::<Vec<_>>(),
            [ids[9], ids[6]]
        );
        assert!(!first.full);
        let rest = store
            .scan_window(first.resume, Direction::Older, 10, 100, &rare)
            .unwrap();
        assert_eq!(
            rest.rows.iter().map(|r| r.summary.id).collect::<Vec<_>>(),
            [ids[3], ids[0]]
        );
        assert_eq!(rest.resume, None);
    }
}
