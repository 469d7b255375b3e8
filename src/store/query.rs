//! Reads: pages of events by key range (never by offset), one event, the lifecycle log.

use super::record;
use super::tables::{ATTEMPTS, BODIES, BY_EVENT, DELIVERIES, EVENTS, INFLIGHT, PAUSED, PENDING};
use super::{Store, StoreError};
use crate::model::{
    Attempt, Delivery, DeliveryRecord, EventDetail, EventMeta, EventSummary, Timestamp,
};
use redb::ReadTransaction;
use redb::{ReadableTable, ReadableTableMetadata};
use ulid::Ulid;

/// One page of `events list`, newest first.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub items: Vec<EventSummary>,
    /// Pass as `before` to get the next page; `None` on the last page.
    pub next_cursor: Option<Ulid>,
    /// Records passed over because they no longer decode.
    pub damaged: usize,
}

/// One page of deliveries, newest first, each with its event's id.
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    pub items: Vec<(Ulid, Delivery)>,
    pub next_cursor: Option<Ulid>,
}

impl Store {
    /// Newest events first, strictly older than `before` when given.
    pub fn list_events(&self, before: Option<Ulid>, limit: usize) -> Result<EventPage, StoreError> {
        self.list_events_where(before, limit, &super::EventFilter::default())
    }

    /// One event with its body.
    pub fn get_event(&self, id: Ulid) -> Result<Option<(EventMeta, Vec<u8>)>, StoreError> {
        read_event(&self.begin_read()?, id)
    }

    /// The event `id` names (itself, or the one a delivery id belongs to) with its body and its
    /// deliveries, read in one transaction so that they agree with each other.
    pub fn event_detail(&self, id: Ulid, reveal: bool) -> Result<Option<EventDetail>, StoreError> {
        let txn = self.begin_read()?;
        let Some(event) = resolve(&txn, id)? else {
            return Ok(None);
        };
        let Some((meta, body)) = read_event(&txn, event)? else {
            return Ok(None);
        };
        let deliveries = read_deliveries(&txn, event)?;
        Ok(Some(EventDetail::new(meta, &body, deliveries, reveal)))
    }

    /// The newest id the writer handed out (events and deliveries share one sequence).
    pub(super) fn newest_id(&self) -> Result<Ulid, StoreError> {
        let txn = self.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        let deliveries = txn.open_table(DELIVERIES)?;
        let event = events.last()?.map_or(0, |(k, _)| k.value());
        let delivery = deliveries.last()?.map_or(0, |(k, _)| k.value());
        Ok(Ulid(event.max(delivery)))
    }

    /// Number of events kept.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        let txn = self.begin_read()?;
        Ok(txn.open_table(EVENTS)?.len()?)
    }

    /// An event's deliveries with their attempts, oldest first.
    pub fn event_deliveries(&self, event: Ulid) -> Result<Vec<Delivery>, StoreError> {
        read_deliveries(&self.begin_read()?, event)
    }

    /// Deliveries, newest first, strictly older than `before` when given.
    pub fn list_deliveries(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<DeliveryPage, StoreError> {
        let txn = self.begin_read()?;
        let deliveries = txn.open_table(DELIVERIES)?;
        let mut out = Vec::new();
        let mut more = false;
        for entry in deliveries.range(..before.map_or(u128::MAX, |b| b.0))?.rev() {
            let (key, value) = entry?;
            if out.len() == limit {
                more = true;
                break;
            }
            let record = record::decode_delivery(Ulid(key.value()), value.value())?;
            let attempts = read_attempts(&txn, &record)?;
            out.push((record.event_id, record.view(attempts)));
        }
        let next = if more {
            out.last().map(|(_, d)| d.id)
        } else {
            None
        };
        Ok(DeliveryPage {
            items: out,
            next_cursor: next,
        })
    }

    pub fn delivery(&self, id: Ulid) -> Result<Option<DeliveryRecord>, StoreError> {
        let txn = self.begin_read()?;
        read_delivery(&txn, id)
    }

    /// Up to `limit` deliveries to `target` due at `now_ms` or before, earliest first.
    pub fn due(&self, target: &str, now_ms: u64, limit: usize) -> Result<Vec<Ulid>, StoreError> {
        let txn = self.begin_read()?;
        let pending = txn.open_table(PENDING)?;
        let mut out = Vec::new();
        for entry in pending
            .range((target, 0, 0)..=(target, now_ms, u128::MAX))?
            .take(limit)
        {
            let (key, _) = entry?;
            out.push(Ulid(key.value().2));
        }
        Ok(out)
    }

    /// Every target with deliveries waiting, with its earliest due time (unix ms). Reads one key
    /// per target, jumping over the rest, so a target with a long queue costs the same as one
    /// with a single delivery.
    pub fn pending_targets(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let txn = self.begin_read()?;
        let pending = txn.open_table(PENDING)?;
        let mut out: Vec<(String, u64)> = Vec::new();
        let mut next = pending.first()?.map(|(k, _)| {
            let (target, due, _) = k.value();
            (target.to_owned(), due)
        });
        while let Some((target, due)) = next.take() {
            // The smallest key after every key of `target`: the same name with a NUL appended.
            let after = format!("{target}\0");
            next = pending
                .range((after.as_str(), 0, 0)..)?
                .next()
                .transpose()?
                .map(|(k, _)| {
                    let (t, d, _) = k.value();
                    (t.to_owned(), d)
                });
            out.push((target, due));
        }
        Ok(out)
    }

    /// Attempts under way (or cut off by a crash): delivery id and start (unix ms).
    /// Deliveries waiting in the outbox (queued or waiting to retry), per target.
    pub fn queued(&self) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let txn = self.begin_read()?;
        let pending = txn.open_table(PENDING)?;
        let mut out = std::collections::HashMap::<String, u64>::new();
        for entry in pending.iter()? {
            let (key, _) = entry?;
            let (target, _, _) = key.value();
            match out.get_mut(target) {
                Some(n) => *n += 1,
                None => drop(out.insert(target.to_owned(), 1)),
            }
        }
        Ok(out)
    }

    /// Targets paused by hand, and since when.
    pub fn paused_targets(&self) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let txn = self.begin_read()?;
        let paused = txn.open_table(PAUSED)?;
        paused
            .iter()?
            .map(|e| {
                let (name, since) = e?;
                let since = Timestamp::from_unix_millis(i64::try_from(since.value()).unwrap_or(0));
                Ok((name.value().to_owned(), since))
            })
            .collect()
    }

    pub fn in_flight(&self) -> Result<Vec<(Ulid, u64)>, StoreError> {
        let txn = self.begin_read()?;
        let inflight = txn.open_table(INFLIGHT)?;
        inflight
            .iter()?
            .map(|e| {
                e.map(|(k, v)| (Ulid(k.value()), v.value()))
                    .map_err(Into::into)
            })
            .collect()
    }
}

fn read_event(txn: &ReadTransaction, id: Ulid) -> Result<Option<(EventMeta, Vec<u8>)>, StoreError> {
    let events = txn.open_table(EVENTS)?;
    let Some(value) = events.get(id.0)? else {
        return Ok(None);
    };
    let event = record::decode(id, value.value())?;
    let body = match event.body {
        Some(inline) => inline.to_vec(),
        None => txn
            .open_table(BODIES)?
            .get(id.0)?
            .map(|v| v.value().to_vec())
            .unwrap_or_default(),
    };
    Ok(Some((event.meta, body)))
}

/// The event an id names: an event id itself, or a delivery's event.
pub(super) fn resolve(txn: &ReadTransaction, id: Ulid) -> Result<Option<Ulid>, StoreError> {
    if txn.open_table(EVENTS)?.get(id.0)?.is_some() {
        return Ok(Some(id));
    }
    Ok(read_delivery(txn, id)?.map(|d| d.event_id))
}

fn read_deliveries(txn: &ReadTransaction, event: Ulid) -> Result<Vec<Delivery>, StoreError> {
    let by_event = txn.open_table(BY_EVENT)?;
    let mut out = Vec::new();
    for entry in by_event.range((event.0, 0)..=(event.0, u128::MAX))? {
        let (key, _) = entry?;
        if let Some(record) = read_delivery(txn, Ulid(key.value().1))? {
            out.push(record.view(read_attempts(txn, &record)?));
        }
    }
    Ok(out)
}

pub(super) fn read_delivery(
    txn: &ReadTransaction,
    id: Ulid,
) -> Result<Option<DeliveryRecord>, StoreError> {
    let deliveries = txn.open_table(DELIVERIES)?;
    match deliveries.get(id.0)? {
        Some(v) => Ok(Some(record::decode_delivery(id, v.value())?)),
        None => Ok(None),
    }
}

pub(super) fn read_attempts(
    txn: &ReadTransaction,
    record: &DeliveryRecord,
) -> Result<Vec<Attempt>, StoreError> {
    let attempts = txn.open_table(ATTEMPTS)?;
    let mut out = Vec::with_capacity(record.attempt_count as usize);
    for entry in attempts.range((record.id.0, 0)..=(record.id.0, u32::MAX))? {
        let (_, value) = entry?;
        out.push(record::decode_attempt(value.value())?);
    }
    Ok(out)
}
