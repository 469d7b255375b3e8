//! Reading the lifecycle log: as the JSON text headless lines print, or as typed facts for the
//! interface (nothing re-parsed on its side). `event.received` is stored as a reference to its
//! event and rendered from the event record when read.

use super::record;
use super::tables::{self, EVENTS, LOG};
use super::{Store, StoreError};
use crate::model::Lifecycle;

/// Lifecycle records read in one go, and where the read stopped.
#[derive(Debug, Clone)]
pub struct LogBatch<T = LogRecord> {
    pub records: Vec<T>,
    /// The last sequence looked at: pass it as `after` for the next batch. Records whose event
    /// was pruned meanwhile, or that no longer decode, are passed over, so a batch can be empty
    /// while records remain — this says how far it got. Equal to `after` at the head.
    pub next: u64,
    /// Records passed over because they no longer decode.
    pub damaged: usize,
}

/// One committed lifecycle record: its sequence and its JSON text.
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub seq: u64,
    pub json: Vec<u8>,
}

/// One committed lifecycle record as a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub seq: u64,
    pub lifecycle: Lifecycle,
}

/// A log entry as the table holds it.
// Made and consumed at once, one at a time: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Entry<'a> {
    /// `event.received`, made from its event record.
    Received(Lifecycle),
    /// Any other record, as serde_json wrote it.
    Stored(&'a [u8]),
}

impl Store {
    /// Lifecycle records with a sequence greater than `after`, oldest first, as JSON text; at
    /// most `limit` looked at.
    pub fn log_after(&self, after: u64, limit: usize) -> Result<LogBatch, StoreError> {
        self.walk_log(after, limit, |seq, entry| {
            let json = match entry {
                Entry::Received(lifecycle) => serde_json::to_vec(&lifecycle)?,
                Entry::Stored(bytes) => bytes.to_vec(),
            };
            Ok(Some(LogRecord { seq, json }))
        })
    }

    /// The same records as `log_after`, as values. A stored record that no longer parses (a
    /// vocabulary this build does not know) is counted in `damaged` and passed over.
    pub fn facts_after(&self, after: u64, limit: usize) -> Result<LogBatch<Fact>, StoreError> {
        let mut unknown = 0;
        let mut batch = self.walk_log(after, limit, |seq, entry| {
            let lifecycle = match entry {
                Entry::Received(lifecycle) => lifecycle,
                Entry::Stored(bytes) => match serde_json::from_slice(bytes) {
                    Ok(lifecycle) => lifecycle,
                    Err(_) => {
                        unknown += 1;
                        return Ok(None);
                    }
                },
            };
            Ok(Some(Fact { seq, lifecycle }))
        })?;
        batch.damaged += unknown;
        Ok(batch)
    }

    fn walk_log<T>(
        &self,
        after: u64,
        limit: usize,
        mut each: impl FnMut(u64, Entry<'_>) -> Result<Option<T>, StoreError>,
    ) -> Result<LogBatch<T>, StoreError> {
        let txn = self.begin_read()?;
        let log = txn.open_table(LOG)?;
        let events = txn.open_table(EVENTS)?;
        let mut batch = LogBatch {
            records: Vec::new(),
            next: after,
            damaged: 0,
        };
        for entry in log.range(after.saturating_add(1)..)?.take(limit) {
            let (seq, value) = entry?;
            let seq = seq.value();
            batch.next = seq;
            let entry = match tables::received_of(value.value()) {
                Some(id) => match events.get(id.0)? {
                    Some(event) => match record::decode(id, event.value()) {
                        Ok(decoded) => Entry::Received(Lifecycle::received(&decoded.meta)),
                        Err(error) => {
                            tracing::warn!(%error, event = %id, "damaged event record passed over");
                            batch.damaged += 1;
                            continue;
                        }
                    },
                    // Pruned between the two reads' commits: nothing left to tell.
                    None => continue,
                },
                None => Entry::Stored(value.value()),
            };
            if let Some(record) = each(seq, entry)? {
                batch.records.push(record);
            }
        }
        Ok(batch)
    }
}
