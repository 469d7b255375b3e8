//! Reads: pages of events by key range (never by offset), one event, the lifecycle log.

use super::tables::{self, BODIES, EVENTS, LOG};
use super::{Store, StoreError};
use crate::model::{DeliveriesState, EventMeta, EventSummary};
use redb::{ReadableDatabase, ReadableTable};
use ulid::Ulid;

/// One page of `events list`, newest first.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub items: Vec<EventSummary>,
    /// Pass as `before` to get the next page; `None` on the last page.
    pub next_cursor: Option<Ulid>,
}

/// One committed lifecycle record: its sequence and its JSON text.
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub seq: u64,
    pub json: Vec<u8>,
}

impl Store {
    /// Newest events first, strictly older than `before` when given.
    pub fn list_events(&self, before: Option<Ulid>, limit: usize) -> Result<EventPage, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        let upper = before.map_or(u128::MAX, |id| id.0);
        let mut items = Vec::with_capacity(limit.min(1024));
        let mut more = false;
        for entry in events.range(..upper)?.rev() {
            let (_, value) = entry?;
            if items.len() == limit {
                more = true;
                break;
            }
            let (_, meta) = tables::decode_event(value.value())?;
            items.push(EventSummary::of(&meta, DeliveriesState::None));
        }
        // An unbounded `before` still has to exclude the key u128::MAX itself; no ULID is that.
        let next_cursor = if more {
            items.last().map(|e| e.id)
        } else {
            None
        };
        Ok(EventPage { items, next_cursor })
    }

    /// One event with its body.
    pub fn get_event(&self, id: Ulid) -> Result<Option<(EventMeta, Vec<u8>)>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        let Some(value) = events.get(id.0)? else {
            return Ok(None);
        };
        let (_, meta) = tables::decode_event(value.value())?;
        let bodies = txn.open_table(BODIES)?;
        let body = bodies
            .get(id.0)?
            .map(|v| v.value().to_vec())
            .unwrap_or_default();
        Ok(Some((meta, body)))
    }

    /// The id of the newest event, if any.
    pub fn last_event_id(&self) -> Result<Option<Ulid>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        Ok(events.last()?.map(|(k, _)| Ulid(k.value())))
    }

    /// Number of events kept.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read()?;
        let meta = txn.open_table(tables::META)?;
        Ok(meta
            .get(tables::KEY_EVENTS)?
            .map(|v| v.value())
            .unwrap_or(0))
    }

    /// Lifecycle records with a sequence greater than `after`, oldest first, at most `limit`.
    pub fn log_after(&self, after: u64, limit: usize) -> Result<Vec<LogRecord>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read()?;
        let log = txn.open_table(LOG)?;
        let mut out = Vec::new();
        for entry in log.range(after.saturating_add(1)..)?.take(limit) {
            let (seq, json) = entry?;
            out.push(LogRecord {
                seq: seq.value(),
                json: json.value().to_vec(),
            });
        }
        Ok(out)
    }
}
