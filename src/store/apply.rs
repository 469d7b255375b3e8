//! What each write does inside the writer's transaction. One [`Tables`] per transaction; every
//! change writes the lifecycle records that describe it.

use super::StoreError;
use super::record;
use super::tables::{
    self, ATTEMPTS, BODIES, BY_EVENT, DEDUPE, DEDUPE_OF, DELIVERIES, EVENTS, INFLIGHT, LOG, PAUSED,
    PENDING,
};
use crate::model::{
    Attempt, DeliveryRecord, DeliveryState, EventMeta, Lifecycle, SendMode, Timestamp,
};
use redb::{ReadableTable, ReadableTableMetadata, Table, WriteTransaction};
use ulid::Ulid;

/// Oldest events pruned per transaction, so lowering `max_events` never stalls capture.
const MAX_PRUNE: u64 = 1024;
/// Events looked at per transaction while pruning (those held by unfinished deliveries are
/// passed over), so a long queue to a dead target never makes a commit slow.
const MAX_PRUNE_SCAN: usize = 4096;
/// Lifecycle records removed per transaction at most: more than any commit writes, so the log
/// always catches up.
const MAX_LOG_PRUNE: usize = 16 * 1024;
/// Lifecycle records kept per event of `max_events` at most. A relayed event writes a dozen or
/// so; rejections and reloads belong to no event. Past this the oldest records go even while an
/// old event is held by an unfinished delivery (the event and its deliveries stay).
const LOG_PER_EVENT: u64 = 16;

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
    dedupe_of: Table<'t, u128, &'static str>,
    deliveries: Table<'t, u128, &'static [u8]>,
    attempts: Table<'t, (u128, u32), &'static [u8]>,
    by_event: Table<'t, (u128, u128), ()>,
    pending: Table<'t, (&'static str, u64, u128), ()>,
    inflight: Table<'t, u128, u64>,
    paused: Table<'t, &'static str, u64>,
    seq: u64,
    count: u64,
    /// A delivery went into the outbox (new, replayed or retrying): the relay has to look.
    outbox_grew: bool,
    /// The oldest event whose delivery ended in this transaction: it may have become prunable.
    finished_below: Option<u128>,
    /// Records that did not decode, passed over.
    damaged: u64,
    /// The first event this transaction inserted: pruning stops short of it (an event is never
    /// removed by the commit that acknowledges it).
    first_new: Option<u128>,
}

/// Where pruning resumes: every event older than `from` is held by an unfinished delivery (or
/// gone). Kept by the writer across transactions, so events held by a long queue are not looked
/// at again by every commit.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PruneCursor {
    from: u128,
}

/// What a transaction changed that others watch for.
pub(super) struct Written {
    /// Sequence of the newest lifecycle record.
    pub head: u64,
    pub outbox_grew: bool,
    /// Damaged records passed over by pruning.
    pub damaged: u64,
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
            dedupe_of: txn.open_table(DEDUPE_OF)?,
            deliveries: txn.open_table(DELIVERIES)?,
            attempts: txn.open_table(ATTEMPTS)?,
            by_event: txn.open_table(BY_EVENT)?,
            pending: txn.open_table(PENDING)?,
            inflight: txn.open_table(INFLIGHT)?,
            paused: txn.open_table(PAUSED)?,
            seq,
            count,
            outbox_grew: false,
            finished_below: None,
            damaged: 0,
            first_new: None,
        })
    }

    /// Prunes beyond `max_events`, events and log alike; says what changed.
    pub fn close(
        mut self,
        max_events: u64,
        cursor: &mut PruneCursor,
    ) -> Result<Written, StoreError> {
        if self.finished_below.is_some_and(|e| e < cursor.from) {
            cursor.from = 0; // an event passed over may go now
        }
        if self.count > max_events {
            let excess = self.count - max_events;
            self.count -= self.prune(excess, cursor)?;
        }
        self.prune_log(max_events)?;
        Ok(Written {
            head: self.seq,
            outbox_grew: self.outbox_grew,
            damaged: self.damaged,
        })
    }

    pub fn log(&mut self, record: &Lifecycle) -> Result<(), StoreError> {
        self.seq += 1;
        self.log
            .insert(self.seq, serde_json::to_vec(record)?.as_slice())?;
        Ok(())
    }

    /// The newest earlier event on this route that claimed this dedupe key; with `claim`, records
    /// this one as the newest (an event that may be forged looks, but never claims).
    /// Marks a target paused since `since`, or not paused (`None`).
    pub fn set_paused(&mut self, target: &str, since: Option<Timestamp>) -> Result<(), StoreError> {
        match since {
            Some(at) => drop(self.paused.insert(target, due_ms(at))?),
            None => drop(self.paused.remove(target)?),
        }
        Ok(())
    }

    /// Makes every delivery to `target` due between now and `until` due now: a probe that ends
    /// a circuit's cool-down early also ends the wait of the deliveries scheduled for its end.
    /// Returns how many moved.
    pub fn expedite(
        &mut self,
        target: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let (now_ms, until_ms) = (due_ms(now), due_ms(until));
        if until_ms <= now_ms {
            return Ok(0);
        }
        let mut waiting = Vec::new();
        for entry in self
            .pending
            .range((target, now_ms + 1, 0)..=(target, until_ms, u128::MAX))?
        {
            let (key, _) = entry?;
            let (_, due, id) = key.value();
            waiting.push((due, id));
        }
        for (due, id) in &waiting {
            self.pending.remove((target, *due, *id))?;
            self.pending.insert((target, now_ms, *id), ())?;
            if let Some(mut record) = self.delivery(Ulid(*id))? {
                record.next_attempt_at = Some(now);
                self.put_delivery(&record)?;
            }
        }
        if !waiting.is_empty() {
            self.outbox_grew = true;
        }
        Ok(waiting.len())
    }

    pub fn dedupe(
        &mut self,
        route: &str,
        key: &str,
        id: Ulid,
        claim: bool,
    ) -> Result<Option<Ulid>, StoreError> {
        let key = tables::dedupe_key(route, key);
        if !claim {
            return Ok(self.dedupe.get(key.as_str())?.map(|v| Ulid(v.value())));
        }
        // The index keeps the newest carrier of each key, so it can be dropped exactly when that
        // event is pruned.
        self.dedupe_of.insert(id.0, key.as_str())?;
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
        self.first_new.get_or_insert(meta.id.0);
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
        self.attempts.insert(
            (id.0, attempt.n),
            record::encode_attempt(attempt)?.as_slice(),
        )?;
        record.attempt_count = record.attempt_count.max(attempt.n);
        let (state, next) = match decision {
            Decision::Succeeded => (DeliveryState::Succeeded, None),
            Decision::Failed => (DeliveryState::Failed, None),
            Decision::Dead => (DeliveryState::Dead, None),
            Decision::RetryAt(at) => (DeliveryState::RetryScheduled, Some(at)),
        };
        record.state = state;
        record.next_attempt_at = next;
        if next.is_none() {
            let event = record.event_id.0;
            self.finished_below = Some(self.finished_below.map_or(event, |e| e.min(event)));
        }
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

    /// Removes up to `excess` (at most [`MAX_PRUNE`]) oldest events whose deliveries have all
    /// ended, with their bodies, deliveries, attempts and dedupe entries. An event with a
    /// delivery still queued, in flight or waiting to retry is never removed: the history grows
    /// past `max_events` instead, until it is delivered. Works by key, so a record that no longer
    /// decodes is removed like any other. Returns how many events went.
    fn prune(&mut self, excess: u64, cursor: &mut PruneCursor) -> Result<u64, StoreError> {
        let n = excess.min(MAX_PRUNE) as usize;
        let mut doomed = Vec::with_capacity(n);
        let mut held_prefix = true;
        let oldest: Vec<u128> = self
            .events
            .range(cursor.from..self.first_new.unwrap_or(u128::MAX))?
            .take(MAX_PRUNE_SCAN)
            .map(|e| e.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()?;
        for id in oldest {
            if self.unfinished(Ulid(id))? {
                if held_prefix {
                    cursor.from = id.saturating_add(1);
                }
            } else {
                held_prefix = false;
                doomed.push(id);
            }
            if doomed.len() == n {
                break;
            }
        }
        if doomed.len() < n {
            tracing::warn!(
                kept = self.count,
                "the history is past max_events: its oldest events wait for deliveries to end"
            );
        }
        for id in &doomed {
            self.remove_event(*id)?;
        }
        Ok(doomed.len() as u64)
    }

    /// Whether any delivery of `event` has yet to end. A delivery record that no longer decodes
    /// cannot be delivered either: it counts as ended.
    fn unfinished(&mut self, event: Ulid) -> Result<bool, StoreError> {
        for delivery in self.deliveries_of(event)? {
            match self.delivery(delivery) {
                Ok(Some(d)) if d.state.is_pending() => return Ok(true),
                Ok(_) => {}
                Err(e) if e.is_damage() => self.damaged += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    fn remove_event(&mut self, id: u128) -> Result<(), StoreError> {
        let record = self
            .events
            .remove(id)?
            .map(|v| record::decode(Ulid(id), v.value()).map(|d| d.meta));
        self.bodies.remove(id)?;
        let claimed = self.dedupe_of.remove(id)?.map(|key| key.value().to_owned());
        let claimed = match claimed {
            Some(key) => Some(key),
            // Schema 3 and older kept no `dedupe_of`: the key is in the record, if it decodes.
            None => match record {
                Some(Ok(meta)) => meta
                    .dedupe_key
                    .map(|key| tables::dedupe_key(&meta.route, &key)),
                Some(Err(_)) => {
                    self.damaged += 1;
                    None
                }
                None => None,
            },
        };
        if let Some(key) = claimed {
            let points_here = self.dedupe.get(key.as_str())?.map(|v| v.value()) == Some(id);
            if points_here {
                self.dedupe.remove(key.as_str())?;
            }
        }
        for delivery in self.deliveries_of(Ulid(id))? {
            self.remove_delivery(Ulid(id), delivery)?;
        }
        Ok(())
    }

    /// Removes the lifecycle records older than the oldest event kept once the history is full
    /// (they describe pruned events, or nothing stored), and the oldest ones past [`LOG_PER_EVENT`] × `max_events`.
    fn prune_log(&mut self, max_events: u64) -> Result<(), StoreError> {
        let first = match self.log.first()? {
            Some((seq, _)) => seq.value(),
            None => return Ok(()),
        };
        // Only a full history has pruned events for older records to describe.
        let keep_from = match self.events.first()? {
            Some((_, value)) if self.count >= max_events => record::seq(value.value()),
            _ => first,
        };
        let cap = max_events.saturating_mul(LOG_PER_EVENT).max(1);
        let over = self.log.len()?.saturating_sub(cap);
        // Sequences are dense from the oldest record on, so `over` records end at `first + over`.
        let until = keep_from.max(first.saturating_add(over)).min(self.seq);
        if until <= first {
            return Ok(());
        }
        let stale: Vec<u64> = self
            .log
            .range(..until)?
            .take(MAX_LOG_PRUNE)
            .map(|e| e.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()?;
        for seq in stale {
            self.log.remove(seq)?;
        }
        Ok(())
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
