//! Table layout.
//!
//! Keys are ULIDs as `u128` (so key order is arrival order) and log sequence numbers. Events and
//! deliveries are compact binary records (`record.rs`), written on every capture and attempt;
//! attempts and the lifecycle log are JSON, readable with any tool. A schema change is a version
//! bump in `meta`, written by the first commit of this version (never by a read).

use super::StoreError;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle,
    WriteTransaction,
};

/// 4: the `dedupe_of` index and `paused` targets; 3: events and deliveries are compact records,
/// small bodies inside their event (`record.rs`); 2: `event.received` log records are
/// references to their event (1 stored them whole). Older files are read as they are; the
/// first commit marks them 4.
pub const SCHEMA_VERSION: u64 = 4;

/// `schema_version`. (Files before schema 3 also kept `log_seq` and `events` counters here,
/// rewritten by every commit; the log's last key and the events table's length say the same.)
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Event id → its record: log sequence of its `event.received` record, the event, and a small
/// body (see `record.rs`).
pub const EVENTS: TableDefinition<u128, &[u8]> = TableDefinition::new("events");
/// Event id → the body's exact bytes, for bodies too large to sit in the event's record.
pub const BODIES: TableDefinition<u128, &[u8]> = TableDefinition::new("bodies");
/// Sequence → one JSON lifecycle object, exactly as a headless line prints it; or, for
/// `event.received` (which would repeat the event's own record), [`RECEIVED`] and the event id,
/// rendered from the event when read.
pub const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// `route \n dedupe_key` → the newest event that carried that key.
pub const DEDUPE: TableDefinition<&str, u128> = TableDefinition::new("dedupe");
/// Event id → the [`DEDUPE`] key it claimed, so pruning an event cleans the index by key,
/// without decoding the event's record (one that no longer decodes must still go).
pub const DEDUPE_OF: TableDefinition<u128, &str> = TableDefinition::new("dedupe_of");

/// Delivery id → its record (`record.rs`; JSON in files before schema 3).
pub const DELIVERIES: TableDefinition<u128, &[u8]> = TableDefinition::new("deliveries");
/// (delivery id, attempt number) → JSON [`Attempt`](crate::model::Attempt).
pub const ATTEMPTS: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("attempts");
/// (event id, delivery id): an event's deliveries.
pub const BY_EVENT: TableDefinition<(u128, u128), ()> = TableDefinition::new("deliveries_by_event");
/// The outbox: (target, due unix ms, delivery id) for every delivery waiting for an attempt, so
/// the relay reads what is due per target by key range and the queue never lives in memory.
pub const PENDING: TableDefinition<(&str, u64, u128), ()> = TableDefinition::new("pending");
/// Delivery id → attempt start (unix ms) for attempts under way; after a crash each becomes an
/// `interrupted` attempt.
pub const INFLIGHT: TableDefinition<u128, u64> = TableDefinition::new("in_flight");
/// Target name → when it was paused by hand (unix ms): a pause survives a restart.
pub const PAUSED: TableDefinition<&str, u64> = TableDefinition::new("paused");

pub const KEY_SCHEMA: &str = "schema_version";

/// Creates missing tables, checks the schema version, and returns the log head. A new file is
/// marked with this version; an older one keeps its own until [`mark_version`] in the first
/// commit that writes.
pub fn init(db: &Database) -> Result<u64, StoreError> {
    check_version(db)?;
    let txn = db.begin_write()?;
    let head = {
        let mut meta = txn.open_table(META)?;
        if meta.get(KEY_SCHEMA)?.is_none() && txn.open_table(EVENTS)?.is_empty()? {
            meta.insert(KEY_SCHEMA, SCHEMA_VERSION)?;
        }
        txn.open_table(EVENTS)?;
        txn.open_table(BODIES)?;
        txn.open_table(DEDUPE)?;
        txn.open_table(DEDUPE_OF)?;
        txn.open_table(DELIVERIES)?;
        txn.open_table(ATTEMPTS)?;
        txn.open_table(BY_EVENT)?;
        txn.open_table(PENDING)?;
        txn.open_table(INFLIGHT)?;
        txn.open_table(PAUSED)?;
        log_head(&txn.open_table(LOG)?)?
    };
    txn.commit()?;
    Ok(head)
}

/// Refuses a file written by a newer hooklens.
pub fn check_version(db: &impl ReadableDatabase) -> Result<(), StoreError> {
    let txn = db.begin_read()?;
    let found = match txn.open_table(META) {
        Ok(meta) => meta.get(KEY_SCHEMA)?.map(|v| v.value()),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(other) => return Err(other.into()),
    };
    match found {
        Some(found) if found > SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        }),
        _ => Ok(()),
    }
}

/// Whether the file has every table this version reads.
pub fn complete(db: &impl ReadableDatabase) -> Result<bool, StoreError> {
    let txn = db.begin_read()?;
    let names: Vec<String> = txn.list_tables()?.map(|t| t.name().to_owned()).collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    Ok(has(META.name())
        && has(EVENTS.name())
        && has(BODIES.name())
        && has(LOG.name())
        && has(DEDUPE.name())
        && has(DEDUPE_OF.name())
        && has(DELIVERIES.name())
        && has(ATTEMPTS.name())
        && has(BY_EVENT.name())
        && has(PENDING.name())
        && has(INFLIGHT.name())
        && has(PAUSED.name()))
}

/// Marks the file with this schema version, in a transaction that writes this version's
/// records; the writer does so in its first commit.
pub fn mark_version(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    if meta.get(KEY_SCHEMA)?.map(|v| v.value()) != Some(SCHEMA_VERSION) {
        meta.insert(KEY_SCHEMA, SCHEMA_VERSION)?;
    }
    Ok(())
}

/// The newest lifecycle record's sequence. Pruning only ever removes records older than the
/// oldest event kept, so the last one stays and sequences never repeat.
pub fn log_head(log: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64, StoreError> {
    Ok(log.last()?.map_or(0, |(seq, _)| seq.value()))
}

/// Marks a log value that stands for its event's `event.received` record. A JSON object starts
/// with `{`, so the two cannot be confused.
pub const RECEIVED: u8 = 0x01;

/// The log value of an event's `event.received` record.
pub fn received_ref(id: ulid::Ulid) -> [u8; 17] {
    let mut out = [RECEIVED; 17];
    out[1..].copy_from_slice(&id.0.to_be_bytes());
    out
}

/// The event a log value stands for, when it is a [`received_ref`].
pub fn received_of(value: &[u8]) -> Option<ulid::Ulid> {
    match value {
        [RECEIVED, id @ ..] => Some(ulid::Ulid(u128::from_be_bytes(id.try_into().ok()?))),
        _ => None,
    }
}

pub fn dedupe_key(route: &str, key: &str) -> String {
    format!("{route}\n{key}")
}
