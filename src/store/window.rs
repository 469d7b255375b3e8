//! Windows of the event list for the interface: rows at or older than a key, rows newer than a
//! key, each filtered by a predicate while scanning by key range, with a scan budget so that a
//! rare match never holds a read for long (the caller continues from where it stopped).
//!
//! A row is cheap to make (the event's record and its deliveries). What a filter may need
//! beyond it is read only when the filter says so ([`Scope`]): the attempts' statuses and error
//! kinds (one more read per delivery), the body (read when a row gets as far as a `body:` term,
//! from the event's record or, when large, from the bodies table).

use super::record;
use super::tables::{ATTEMPTS, BODIES, BY_EVENT, DELIVERIES, EVENTS};
use super::{Store, StoreError};
use crate::model::{DeliveriesState, DeliveryState, EventMeta, EventSummary, Header};
use redb::ReadTransaction;
use serde::Deserialize;
use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use ulid::Ulid;

/// Body bytes one scan reads (for `body:` filters) before it hands back what it found, so that
/// a read over large bodies stays short like any other.
pub const BODY_BYTES_BUDGET: u64 = 64 << 20;

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

/// What a scan reads beyond each row, and where it may stop: derived from the filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope {
    /// Each attempt's status and error kind ([`Candidate::outcomes`]): one more read per
    /// delivery.
    pub attempts: bool,
    /// The body may be read ([`Candidate::body`]); without this it is never touched.
    pub body: bool,
    /// No key at or below this one can match: an `Older` scan ends there, a `Newer` one starts
    /// above it.
    pub after: Option<Ulid>,
}

/// One attempt's outcome, as far as a filter cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Option<u16>,
    /// The error kind (`timeout`, `connect_refused`, ...).
    pub error: Option<String>,
}

/// A row as a filter sees it: the row, the event's record's fields the row does not carry, and
/// what the scan's [`Scope`] asked for. The body is read on first use only.
pub struct Candidate<'a> {
    pub row: &'a WindowRow,
    /// The label of the secret that matched.
    pub secret: Option<&'a str>,
    /// The request's headers, as captured (they come with the event's record).
    pub headers: &'a [Header],
    /// Every attempt of every delivery; empty unless [`Scope::attempts`].
    pub outcomes: &'a [Outcome],
    body: Body<'a>,
}

type LoadBody<'a> = &'a dyn Fn() -> Result<Vec<u8>, StoreError>;

enum Body<'a> {
    /// Not asked for ([`Scope::body`] off): reads as empty.
    Absent,
    Ready(&'a [u8]),
    Later {
        load: LoadBody<'a>,
        got: OnceCell<Vec<u8>>,
        failed: RefCell<Option<StoreError>>,
    },
}

impl<'a> Candidate<'a> {
    /// A candidate whose body is at hand (tests, and bodies inside the event's record).
    pub fn new(
        row: &'a WindowRow,
        secret: Option<&'a str>,
        headers: &'a [Header],
        outcomes: &'a [Outcome],
        body: &'a [u8],
    ) -> Self {
        Candidate {
            row,
            secret,
            headers,
            outcomes,
            body: Body::Ready(body),
        }
    }

    /// The body's exact bytes: read now if it lives in its own table (once per candidate).
    pub fn body(&self) -> &[u8] {
        match &self.body {
            Body::Absent => &[],
            Body::Ready(body) => body,
            Body::Later { load, got, failed } => got.get_or_init(|| {
                load().unwrap_or_else(|error| {
                    *failed.borrow_mut() = Some(error);
                    Vec::new()
                })
            }),
        }
    }

    /// Body bytes read from the bodies table so far, or the error that read met.
    fn read_so_far(self) -> Result<u64, StoreError> {
        match self.body {
            Body::Later { got, failed, .. } => match failed.into_inner() {
                Some(error) => Err(error),
                None => Ok(got.get().map_or(0, |b| b.len() as u64)),
            },
            _ => Ok(0),
        }
    }
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

/// What a scan does after a row.
enum Step {
    Next,
    /// Out of budget, or enough rows: `resume` says where to go on.
    Pause,
    /// Below [`Scope::after`]: nothing further can match.
    End,
}

impl Store {
    /// Up to `limit` rows matching `keep`, looking at no more than `budget` rows (and no more
    /// than [`BODY_BYTES_BUDGET`] of bodies). `Older` starts at `from` inclusive (newest
    /// first); `Newer` starts after `from` (oldest first). `scope` says what `keep` may look at
    /// beyond the row.
    pub fn scan_window(
        &self,
        from: Option<Ulid>,
        direction: Direction,
        limit: usize,
        budget: u64,
        scope: Scope,
        keep: &dyn Fn(&Candidate<'_>) -> bool,
    ) -> Result<Scan, StoreError> {
        let txn = self.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        let bodies = txn.open_table(BODIES)?;
        let mut scan = Scan::default();
        let mut body_bytes = 0u64;
        let mut visit = |key: u128, value: &[u8], scan: &mut Scan| -> Result<Step, StoreError> {
            if scope.after.is_some_and(|after| key <= after.0) {
                return Ok(Step::End);
            }
            if scan.rows.len() >= limit || scan.scanned >= budget || body_bytes >= BODY_BYTES_BUDGET
            {
                scan.full = scan.rows.len() >= limit;
                return Ok(Step::Pause);
            }
            scan.scanned += 1;
            scan.resume = Some(Ulid(key));
            let Ok(decoded) = record::decode(Ulid(key), value) else {
                return Ok(Step::Next);
            };
            let (row, outcomes) = row_of(&txn, &decoded.meta, scope.attempts)?;
            let load = || -> Result<Vec<u8>, StoreError> {
                Ok(bodies
                    .get(key)?
                    .map(|v| v.value().to_vec())
                    .unwrap_or_default())
            };
            let candidate = Candidate {
                row: &row,
                secret: decoded.meta.verification.secret.as_deref(),
                headers: &decoded.meta.headers,
                outcomes: &outcomes,
                body: match decoded.body {
                    _ if !scope.body => Body::Absent,
                    Some(inline) => Body::Ready(inline),
                    None => Body::Later {
                        load: &load,
                        got: OnceCell::new(),
                        failed: RefCell::new(None),
                    },
                },
            };
            let kept = keep(&candidate);
            body_bytes += candidate.read_so_far()?;
            if kept {
                scan.rows.push(row);
            }
            Ok(Step::Next)
        };
        let mut stop = None;
        match direction {
            Direction::Older => {
                let range = events.range(..=from.map_or(u128::MAX, |f| f.0))?;
                for entry in range.rev() {
                    let (k, v) = entry?;
                    match visit(k.value(), v.value(), &mut scan)? {
                        Step::Next => {}
                        step => {
                            stop = Some(step);
                            break;
                        }
                    }
                }
            }
            Direction::Newer => {
                let lower = from.map_or(0, |f| f.0.saturating_add(1));
                let lower = scope
                    .after
                    .map_or(lower, |a| lower.max(a.0.saturating_add(1)));
                for entry in events.range(lower..)? {
                    let (k, v) = entry?;
                    match visit(k.value(), v.value(), &mut scan)? {
                        Step::Next => {}
                        step => {
                            stop = Some(step);
                            break;
                        }
                    }
                }
            }
        }
        let ended = !matches!(stop, Some(Step::Pause));
        if ended {
            scan.resume = None;
        } else if direction == Direction::Older {
            // `Older` is inclusive of its start: resume below the last row looked at.
            scan.resume = scan.resume.map(|r| Ulid(r.0.saturating_sub(1)));
        }
        Ok(scan)
    }
}

/// An attempt's status and error, read from its stored JSON (`record::attempt`) without the
/// response's headers and body.
#[derive(Deserialize)]
struct StoredOutcome<'a> {
    status: Option<u16>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
}

fn row_of(
    txn: &ReadTransaction,
    meta: &EventMeta,
    with_attempts: bool,
) -> Result<(WindowRow, Vec<Outcome>), StoreError> {
    let by_event = txn.open_table(BY_EVENT)?;
    let deliveries = txn.open_table(DELIVERIES)?;
    let mut states = Vec::new();
    let mut targets = Vec::new();
    let mut attempts = 0u32;
    let mut outcomes = Vec::new();
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
            if with_attempts && d.attempt_count > 0 {
                outcomes_of(txn, id, &mut outcomes)?;
            }
        }
    }
    let summary = EventSummary::of(meta, DeliveriesState::of(states.iter().copied()));
    let row = WindowRow {
        summary,
        dedupe_key: meta.dedupe_key.clone(),
        body_len: meta.body_len,
        delivery_states: states,
        attempts,
        lineage,
        targets,
        scheme: meta.verification.scheme.clone(),
    };
    Ok((row, outcomes))
}

fn outcomes_of(
    txn: &ReadTransaction,
    delivery: u128,
    out: &mut Vec<Outcome>,
) -> Result<(), StoreError> {
    let table = txn.open_table(ATTEMPTS)?;
    for entry in table.range((delivery, 0)..=(delivery, u32::MAX))? {
        let (_, value) = entry?;
        // A damaged attempt is passed over, as a damaged event is.
        if let Ok(a) = serde_json::from_slice::<StoredOutcome<'_>>(value.value()) {
            out.push(Outcome {
                status: a.status,
                error: a.error.map(Cow::into_owned),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attempt, now};
    use crate::store::{Capture, CaptureTarget, Decision, StoreOptions, Writer};
    use crate::tui::filter::Filter;

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
        let all = |_: &Candidate<'_>| true;
        let newest = store
            .scan_window(None, Direction::Older, 4, 100, Scope::default(), &all)
            .unwrap();
        let got: Vec<_> = newest.rows.iter().map(|r| r.summary.id).collect();
        assert_eq!(got, [ids[9], ids[8], ids[7], ids[6]]);
        assert!(newest.full && newest.resume.is_some());
        // Older is inclusive of its start, Newer exclusive.
        let at = store
            .scan_window(
                Some(ids[5]),
                Direction::Older,
                2,
                100,
                Scope::default(),
                &all,
            )
            .unwrap();
        assert_eq!(at.rows[0].summary.id, ids[5]);
        let newer = store
            .scan_window(
                Some(ids[5]),
                Direction::Newer,
                2,
                100,
                Scope::default(),
                &all,
            )
            .unwrap();
        let got: Vec<_> = newer.rows.iter().map(|r| r.summary.id).collect();
        assert_eq!(got, [ids[6], ids[7]]);
        let oldest = store
            .scan_window(None, Direction::Newer, 100, 100, Scope::default(), &all)
            .unwrap();
        assert_eq!(oldest.rows.len(), 10);
        assert_eq!(oldest.resume, None, "nothing left");
        // A rare match with a small budget hands back what it found and where to go on.
        let rare = |c: &Candidate<'_>| c.row.summary.route == "rare";
        let first = store
            .scan_window(None, Direction::Older, 10, 4, Scope::default(), &rare)
            .unwrap();
        assert_eq!(first.scanned, 4);
        assert_eq!(
            first.rows.iter().map(|r| r.summary.id).collect::<Vec<_>>(),
            [ids[9], ids[6]]
        );
        assert!(!first.full);
        let rest = store
            .scan_window(
                first.resume,
                Direction::Older,
                10,
                100,
                Scope::default(),
                &rare,
            )
            .unwrap();
        assert_eq!(
            rest.rows.iter().map(|r| r.summary.id).collect::<Vec<_>>(),
            [ids[3], ids[0]]
        );
        assert_eq!(rest.resume, None);
    }

    fn attempt(status: Option<u16>, error: Option<&str>) -> Attempt {
        Attempt {
            n: 1,
            started_at: now(),
            duration_ms: 3,
            status,
            error: error.map(str::to_owned),
            response_headers: vec![Header::new("content-type", "text/plain")],
            response_body_base64: Some("b2s=".into()),
            response_size: Some(2),
            note: None,
        }
    }

    /// Captures an event with `headers` and `body`, delivered once to `billing` with
    /// `outcome` when there is one.
    async fn event(
        writer: &Writer,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        outcome: Option<Attempt>,
    ) -> Ulid {
        let mut c = crate::store::tests::capture("r", b"", None);
        c.body = body.into();
        c.headers = headers.iter().map(|(n, v)| Header::new(*n, *v)).collect();
        if outcome.is_some() {
            c.targets = vec![CaptureTarget {
                name: "billing".into(),
                wire_id: None,
                claimed: false,
            }];
        }
        let captured = writer.capture(c).await.unwrap();
        if let Some(outcome) = outcome {
            let ids = captured.deliveries.iter().map(|d| d.id).collect();
            for d in writer.begin_attempts(ids, now()).await.unwrap() {
                writer
                    .finish_attempt(d.id, outcome.clone(), Decision::Failed)
                    .await
                    .unwrap();
            }
        }
        captured.id
    }

    #[tokio::test]
    async fn header_body_status_and_error_filters_read_what_they_need() {
        let dir = tempfile::tempdir().unwrap();
        let (store, writer) = Store::open(StoreOptions::new(dir.path().join("h.redb"))).unwrap();
        // A large body lives in its own table, a small one inside the event's record.
        let large = |tail: &str| {
            let mut b = vec![b'.'; record::INLINE_BODY_MAX + 100];
            b.extend_from_slice(tail.as_bytes());
            b
        };
        let push = event(
            &writer,
            &[("x-github-event", "push")],
            br#"{"hello":"world"}"#.to_vec(),
            Some(attempt(Some(500), None)),
        )
        .await;
        let slow = event(
            &writer,
            &[],
            large("needle"),
            Some(attempt(None, Some("timeout"))),
        )
        .await;
        let quiet = event(&writer, &[], b"needle".to_vec(), None).await;
        let ping = event(
            &writer,
            &[("X-GitHub-Event", "Ping")],
            large("hay"),
            Some(attempt(Some(200), None)),
        )
        .await;
        let find = |query: &str| {
            let filter = Filter::parse(query, now()).unwrap();
            let scan = store
                .scan_window(None, Direction::Older, 10, 100, filter.scope(), &|c| {
                    filter.matches(c)
                })
                .unwrap();
            assert_eq!(scan.resume, None, "{query}: the whole history");
            scan.rows.iter().map(|r| r.summary.id).collect::<Vec<_>>()
        };
        assert_eq!(find("header:x-github-event"), [ping, push]);
        assert_eq!(find("header:x-github-event=ping"), [ping]);
        assert_eq!(find("-header:x-github-event"), [quiet, slow]);
        assert_eq!(find("body:needle"), [quiet, slow], "large and small");
        assert_eq!(find("body:\"\\\"hello\\\":\\\"world\\\"\""), [push]);
        assert_eq!(find("body:hay|hello"), [ping, push]);
        assert_eq!(find("status:5xx"), [push]);
        assert_eq!(find("status:>=200"), [ping, push]);
        assert_eq!(find("status:<300 header:x-github-event"), [ping]);
        assert_eq!(find("error:timeout"), [slow]);
        assert_eq!(find("error:time*|dns body:needle"), [slow]);
        assert_eq!(find("-status:5xx -error:*"), [ping, quiet]);
        // Without the scope asking, the attempts and the body are not read: nothing matches.
        let status = Filter::parse("status:5xx", now()).unwrap();
        let body = Filter::parse("body:needle", now()).unwrap();
        let blind = |f: &Filter| {
            store
                .scan_window(None, Direction::Older, 10, 100, Scope::default(), &|c| {
                    f.matches(c)
                })
                .unwrap()
                .rows
        };
        assert!(blind(&status).is_empty() && blind(&body).is_empty());
    }

    #[tokio::test]
    async fn since_bounds_the_key_range() {
        let dir = tempfile::tempdir().unwrap();
        let (store, writer) = Store::open(StoreOptions::new(dir.path().join("h.redb"))).unwrap();
        let mut ids = Vec::new();
        for _ in 0..6 {
            ids.push(writer.capture(capture("r")).await.unwrap().id);
        }
        let filter = Filter::parse(&format!("since:{}", ids[2]), now()).unwrap();
        let keep = |c: &Candidate<'_>| filter.matches(c);
        let older = store
            .scan_window(None, Direction::Older, 10, 100, filter.scope(), &keep)
            .unwrap();
        let got: Vec<_> = older.rows.iter().map(|r| r.summary.id).collect();
        assert_eq!(got, [ids[5], ids[4], ids[3]]);
        assert_eq!(
            older.scanned, 3,
            "nothing at or below the bound is looked at"
        );
        assert_eq!(older.resume, None);
        let newer = store
            .scan_window(None, Direction::Newer, 10, 100, filter.scope(), &keep)
            .unwrap();
        assert_eq!(newer.rows.len(), 3);
        assert_eq!(newer.scanned, 3);
        assert_eq!(newer.rows[0].summary.id, ids[3]);
        // A relative one: everything here arrived in the last minute.
        let recent = Filter::parse("since:1m", now()).unwrap();
        let scan = store
            .scan_window(None, Direction::Older, 10, 100, recent.scope(), &|c| {
                recent.matches(c)
            })
            .unwrap();
        assert_eq!(scan.rows.len(), 6);
    }
}
