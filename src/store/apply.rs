//! What each write does inside the writer's transaction. One [`Tables`] per transaction; every
//! change writes the lifecycle records that describe it.

use super::StoreError;
use super::record;
use super::tables::{
    self, ATTEMPTS, BODIES, BY_EVENT, DEDUPE, DELIVERIES, EVENTS, INFLIGHT, LOG, PENDING,
};
use crate::model::{
    Attempt, DeliveryRecord, DeliveryState, EventMeta, Lifecycle, SendMode, Timestamp,
};
use redb::{ReadableTable, ReadableTableMetadata, Table, WriteTransaction};
use ulid::Ulid;

/// Oldest events pruned per transaction, so lowering `max_events` never stalls capture.
const MAX_PRUNE: u64 = 1024;

/// A delivery to create: to a configured target, or to a URL given for a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub target: String,
    pub url: Option<String>,
}

/// How an attempt ended, as the relay's policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Succeeded,
    Failed,
    Dead,
    RetryAt(Timestamp),
}

pub(super) struct Tables<'t> {
    events: Table<'t, u128, &'static [u8]>,
    bodies: Table<'t, u128, &'static [u8]>,
    log: Table<'t, u64, &'static [u8]>,
    dedupe: Table<'t, &'static str, u128>,
    deliveries: Table<'t, u128, &'static [u8]>,
    attempts: Table<'t, (u128, u32), &'static [u8]>,
    by_event: Table<'t, (u128, u128), ()>,
    pending: Table<'t, (&'static str, u64, u128), ()>,
    inflight: Table<'t, u128, u64>,
    seq: u64,
    count: u64,
    /// A delivery went into the outbox (new, replayed or retrying): the relay has to look.
    outbox_grew: bool,
}

/// What a transaction changed that others watch for.
pub(super) struct Written {
    /// Sequence of the newest lifecycle record.
    pub head: u64,
    pub outbox_grew: bool,
}

impl<'t> Tables<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        // Both come from the tables themselves (redb keeps each table's length in its header),
        // so a commit touches no counter page of its own.
        let log = txn.open_table(LOG)?;
        let seq = tables::log_head(&log)?;
        let events = txn.open_table(EVENTS)?;
        let count = events.len()?;
        Ok(Tables {
            events,
            bodies: txn.open_table(BODIES)?,
            log,
            dedupe: txn.open_table(DEDUPE)?,
            deliveries: txn.open_table(DELIVERIES)?,
            attempts: txn.open_table(ATTEMPTS)?,
            by_event: txn.open_table(BY_EVENT)?,
            pending: txn.open_table(PENDING)?,
            inflight: txn.open_table(INFLIGHT)?,
            seq,
            count,
            outbox_grew: false,
        })
    }

    /// Prunes beyond `max_events`; says what changed.
    pub fn close(mut self, max_events: u64) -> Result<Written, StoreError> {
        if self.count > max_events {
            let excess = self.count - max_events;
            self.count -= self.prune(excess)?;
        }
        Ok(Written {
            head: self.seq,
            outbox_grew: self.outbox_grew,
        })
    }

    pub fn log(&mut self, record: &Lifecycle) -> Result<(), StoreError> {
        self.seq += 1;
        self.log
            .insert(self.seq, serde_json::to_vec(record)?.as_slice())?;
        Ok(())
    }

    /// The newest earlier event on this route with this dedupe key; records this one as newest.
    pub fn dedupe(&mut self, route: &str, key: &str, id: Ulid) -> Result<Option<Ulid>, StoreError> {
        let key = tables::dedupe_key(route, key);
        // The index keeps the newest carrier of each key, so it can be dropped exactly when that
        // event is pruned.
        Ok(self
            .dedupe
            .insert(key.as_str(), id.0)?
            .map(|previous| Ulid(previous.value())))
    }

    pub fn insert_event(&mut self, meta: &EventMeta, body: &[u8]) -> Result<(), StoreError> {
        // The record would repeat the event: the log keeps a reference, rendered when read.
        self.seq += 1;
        self.log
            .insert(self.seq, tables::received_ref(meta.id).as_slice())?;
        let (value, inline) = record::encode(self.seq, meta, body)?;
        self.events.insert(meta.id.0, value.as_slice())?;
        if !inline {
            self.bodies.insert(meta.id.0, body)?;
        }
        self.count += 1;
        Ok(())
    }

    fn dedupe_key_of(&self, event: Ulid) -> Result<Option<String>, StoreError> {
        match self.events.get(event.0)? {
            Some(v) => Ok(record::decode(event, v.value())?.meta.dedupe_key),
            None => Ok(None),
        }
    }

    pub fn event_exists(&self, id: Ulid) -> Result<bool, StoreError> {
        Ok(self.events.get(id.0)?.is_some())
    }

    /// Queues a new delivery, due now, with its `event.delivery.queued` record.
    pub fn queue(&mut self, record: &DeliveryRecord, now: Timestamp) -> Result<(), StoreError> {
        self.put_delivery(record)?;
        self.pending
            .insert((record.target.as_str(), due_ms(now), record.id.0), ())?;
        self.outbox_grew = true;
        self.queued(record, now)
    }

    /// Queues a new delivery whose first attempt starts at once (its sender holds the target's
    /// slot), skipping the outbox: it is recorded in flight, like any attempt under way.
    pub fn queue_in_flight(
        &mut self,
        mut record: DeliveryRecord,
        now: Timestamp,
    ) -> Result<DeliveryRecord, StoreError> {
        record.state = DeliveryState::InFlight;
        self.put_delivery(&record)?;
        self.inflight.insert(record.id.0, due_ms(now))?;
        self.queued(&record, now)?;
        Ok(record)
    }

    fn queued(&mut self, record: &DeliveryRecord, now: Timestamp) -> Result<(), StoreError> {
        self.by_event.insert((record.event_id.0, record.id.0), ())?;
        self.log(&Lifecycle::DeliveryQueued {
            at: now,
            event_id: record.event_id,
            delivery_id: record.id,
            target: record.target.clone(),
        })
    }

    pub fn delivery(&self, id: Ulid) -> Result<Option<DeliveryRecord>, StoreError> {
        match self.deliveries.get(id.0)? {
            Some(v) => Ok(Some(record::decode_delivery(id, v.value())?)),
            None => Ok(None),
        }
    }

    /// The newest delivery of `event` to `target`, if any.
    pub fn latest_delivery(
        &self,
        event: Ulid,
        target: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        for entry in self
            .by_event
            .range((event.0, 0)..=(event.0, u128::MAX))?
            .rev()
        {
            let (key, _) = entry?;
            if let Some(d) = self.delivery(Ulid(key.value().1))?
                && d.target == target
            {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }

    /// The delivery ids of an event, oldest first.
    pub fn deliveries_of(&self, event: Ulid) -> Result<Vec<Ulid>, StoreError> {
        self.by_event
            .range((event.0, 0)..=(event.0, u128::MAX))?
            .map(|e| e.map(|(k, _)| Ulid(k.value().1)).map_err(Into::into))
            .collect()
    }

    fn put_delivery(&mut self, record: &DeliveryRecord) -> Result<(), StoreError> {
        self.deliveries
            .insert(record.id.0, record::encode_delivery(record)?.as_slice())?;
        Ok(())
    }

    /// Takes a pending delivery out of the outbox and marks it in flight. `None` when it is no
    /// longer pending (finished, or pruned with its event).
    pub fn begin_attempt(
        &mut self,
        id: Ulid,
        started: Timestamp,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let Some(mut record) = self.delivery(id)? else {
            return Ok(None);
        };
        if !matches!(
            record.state,
            DeliveryState::Queued | DeliveryState::RetryScheduled
        ) {
            return Ok(None);
        }
        let due = record.next_attempt_at.map_or(0, due_ms);
        self.pending.remove((record.target.as_str(), due, id.0))?;
        self.inflight.insert(id.0, due_ms(started))?;
        record.state = DeliveryState::InFlight;
        self.put_delivery(&record)?;
        Ok(Some(record))
    }

    /// Records an attempt and what follows from it.
    pub fn finish_attempt(
        &mut self,
        id: Ulid,
        attempt: &Attempt,
        decision: Decision,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let Some(mut record) = self.delivery(id)? else {
            // Pruned with its event while the attempt was under way: nothing left to record.
            self.inflight.remove(id.0)?;
            return Ok(());
        };
        self.inflight.remove(id.0)?;
        if record.state == DeliveryState::RetryScheduled || record.state == DeliveryState::Queued {
            let due = record.next_attempt_at.map_or(0, due_ms);
            self.pending.remove((record.target.as_str(), due, id.0))?;
        }
        self.attempts
            .insert((id.0, attempt.n), serde_json::to_vec(attempt)?.as_slice())?;
        record.attempt_count = record.attempt_count.max(attempt.n);
        let (state, next) = match decision {
            Decision::Succeeded => (DeliveryState::Succeeded, None),
            Decision::Failed => (DeliveryState::Failed, None),
            Decision::Dead => (DeliveryState::Dead, None),
            Decision::RetryAt(at) => (DeliveryState::RetryScheduled, Some(at)),
        };
        record.state = state;
        record.next_attempt_at = next;
        if let Some(at) = next {
            self.pending
                .insert((record.target.as_str(), due_ms(at), id.0), ())?;
            self.outbox_grew = true;
        }
        self.put_delivery(&record)?;
        let (event_id, delivery_id, target) = (record.event_id, record.id, record.target.clone());
        self.log(&Lifecycle::DeliveryAttempted {
            at: now,
            event_id,
            delivery_id,
            target: target.clone(),
            attempt: attempt.n,
            status: attempt.status,
            error: attempt.error.clone(),
            duration_ms: attempt.duration_ms,
            next_attempt_at: next,
        })?;
        let attempts = record.attempt_count;
        let end = match decision {
            Decision::Succeeded => Some(Lifecycle::DeliverySucceeded {
                at: now,
                event_id,
                delivery_id,
                target,
                attempts,
            }),
            Decision::Failed => Some(Lifecycle::DeliveryFailed {
                at: now,
                event_id,
                delivery_id,
                target,
                attempts,
            }),
            Decision::Dead => Some(Lifecycle::DeliveryDead {
                at: now,
                event_id,
                delivery_id,
                target,
                attempts,
            }),
            Decision::RetryAt(_) => None,
        };
        if let Some(end) = end {
            self.log(&end)?;
        }
        Ok(())
    }

    /// Creates a replay delivery of `event` to `planned`, with its `event.replayed` record.
    pub fn replay(
        &mut self,
        event: Ulid,
        planned: &Planned,
        id: Ulid,
        mode: SendMode,
        duplicate: bool,
        now: Timestamp,
    ) -> Result<DeliveryRecord, StoreError> {
        let previous = self.latest_delivery(event, &planned.target)?;
        let replay_of = Some(previous.as_ref().map_or(event, |d| d.id));
        let wire_id = match (&previous, duplicate) {
            (Some(p), true) => p.wire_id.clone(),
            (None, true) => self.dedupe_key_of(event)?.unwrap_or_else(|| id.to_string()),
            _ => id.to_string(),
        };
        let record = DeliveryRecord {
            id,
            event_id: event,
            target: planned.target.clone(),
            url: planned.url.clone(),
            state: DeliveryState::Queued,
            replay_of,
            next_attempt_at: Some(now),
            wire_id,
            mode,
            duplicate,
            proxy: false,
            attempt_count: 0,
        };
        self.queue(&record, now)?;
        self.log(&Lifecycle::EventReplayed {
            at: now,
            event_id: event,
            delivery_id: id,
            target: planned.target.clone(),
            replay_of,
            duplicate,
        })?;
        Ok(record)
    }

    /// Removes up to `excess` (at most [`MAX_PRUNE`]) oldest events with their bodies,
    /// deliveries, attempts, dedupe entries and the log records older than the oldest event kept.
    /// Returns how many events went.
    fn prune(&mut self, excess: u64) -> Result<u64, StoreError> {
        let n = excess.min(MAX_PRUNE) as usize;
        let mut doomed = Vec::with_capacity(n);
        for entry in self.events.iter()?.take(n) {
            let (key, value) = entry?;
            let meta = record::decode(Ulid(key.value()), value.value())?.meta;
            doomed.push((key.value(), meta.route, meta.dedupe_key));
        }
        for (id, route, key) in &doomed {
            self.events.remove(id)?;
            self.bodies.remove(id)?;
            if let Some(key) = key {
                let key = tables::dedupe_key(route, key);
                let points_here = self.dedupe.get(key.as_str())?.map(|v| v.value()) == Some(*id);
                if points_here {
                    self.dedupe.remove(key.as_str())?;
                }
            }
            for delivery in self.deliveries_of(Ulid(*id))? {
                self.remove_delivery(Ulid(*id), delivery)?;
            }
        }
        let keep_from = match self.events.first()? {
            Some((_, value)) => record::seq(value.value()),
            None => 0,
        };
        // Everything logged before the oldest kept event describes pruned events (or is older).
        let stale: Vec<u64> = self
            .log
            .range(..keep_from)?
            .take(n * 8)
            .map(|e| e.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()?;
        for seq in stale {
            self.log.remove(seq)?;
        }
        Ok(doomed.len() as u64)
    }

    fn remove_delivery(&mut self, event: Ulid, id: Ulid) -> Result<(), StoreError> {
        if let Some(record) = self.delivery(id)? {
            let due = record.next_attempt_at.map_or(0, due_ms);
            self.pending.remove((record.target.as_str(), due, id.0))?;
            for n in 1..=record.attempt_count {
                self.attempts.remove((id.0, n))?;
            }
        }
        self.inflight.remove(id.0)?;
        self.deliveries.remove(id.0)?;
        self.by_event.remove((event.0, id.0))?;
        Ok(())
    }
}

pub(super) fn due_ms(t: Timestamp) -> u64 {
    u64::try_from(t.unix_millis()).unwrap_or(0)
}
