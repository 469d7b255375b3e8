//! Filtered reads: pages of events and deliveries that match a filter, found while scanning by
//! key range (redb has no offset lookup, so pages never skip), and the deliveries a bulk replay
//! takes.

use super::query::{read_attempts, read_delivery};
use super::record;
use super::tables::{BY_EVENT, DELIVERIES, EVENTS};
use super::{DeliveryPage, EventPage, Store, StoreError};
use crate::model::{DeliveriesState, DeliveryRecord, DeliveryState, EventSummary, Verdict};
use redb::ReadTransaction;
use ulid::Ulid;

type EventRow = Result<
    (
        redb::AccessGuard<'static, u128>,
        redb::AccessGuard<'static, &'static [u8]>,
    ),
    redb::StorageError,
>;

/// The matching events of `rows` (in the order given), up to `limit`, and where the next page
/// starts; damaged records are passed over and counted.
fn events_page(
    txn: &ReadTransaction,
    rows: impl Iterator<Item = EventRow>,
    limit: usize,
    filter: &EventFilter,
) -> Result<EventPage, StoreError> {
    let mut items: Vec<EventSummary> = Vec::with_capacity(limit.min(1024));
    let mut more = false;
    let mut damaged = 0;
    for entry in rows {
        let (key, value) = entry?;
        let meta = match record::decode(Ulid(key.value()), value.value()) {
            Ok(decoded) => decoded.meta,
            Err(error) => {
                tracing::warn!(%error, event = %Ulid(key.value()), "damaged event record passed over");
                damaged += 1;
                continue;
            }
        };
        if filter.route.as_deref().is_some_and(|r| r != meta.route)
            || filter
                .verdict
                .is_some_and(|v| v != meta.verification.verdict)
        {
            continue;
        }
        // The summary costs a read per delivery: only for events that passed the rest.
        let state = deliveries_state(txn, meta.id, &mut damaged)?;
        if filter.state.is_some_and(|s| s != state) {
            continue;
        }
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(EventSummary::of(&meta, state));
    }
    let next_cursor = if more {
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(EventPage {
        items,
        next_cursor,
        damaged,
    })
}

/// Which events a page of `events list` shows; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub route: Option<String>,
    pub verdict: Option<Verdict>,
    pub state: Option<DeliveriesState>,
}

impl EventFilter {
    pub fn is_empty(&self) -> bool {
        *self == EventFilter::default()
    }
}

/// Which deliveries a page of `deliveries list` shows; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub state: Option<DeliveryState>,
    pub target: Option<String>,
    pub event: Option<Ulid>,
}

impl DeliveryFilter {
    fn matches(&self, d: &DeliveryRecord) -> bool {
        self.state.is_none_or(|s| s == d.state)
            && self.target.as_deref().is_none_or(|t| t == d.target)
            && self.event.is_none_or(|e| e == d.event_id)
    }
}

impl Store {
    /// Newest matching events first, strictly older than `before` when given. A page holds
    /// `limit` matches whenever that many exist, however many rows in between do not match.
    pub fn list_events_where(
        &self,
        before: Option<Ulid>,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<EventPage, StoreError> {
        let txn = self.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        let rows = events.range(..before.map_or(u128::MAX, |b| b.0))?.rev();
        events_page(&txn, rows, limit, filter)
    }

    /// Oldest matching events first, strictly newer than `after` when given (arrival order, for
    /// exports and for reading on toward the newest); otherwise as [`Store::list_events_where`].
    pub fn list_events_after(
        &self,
        after: Option<Ulid>,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<EventPage, StoreError> {
        let txn = self.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        let from = after.map_or(0, |a| a.0.saturating_add(1));
        let rows = events.range(from..)?;
        events_page(&txn, rows, limit, filter)
    }

    /// Newest matching deliveries first, each with its event's id, strictly older than `before`.
    /// With an event, only that event's deliveries are read.
    pub fn list_deliveries_where(
        &self,
        before: Option<Ulid>,
        limit: usize,
        filter: &DeliveryFilter,
    ) -> Result<DeliveryPage, StoreError> {
        let txn = self.begin_read()?;
        let upper = before.map_or(u128::MAX, |b| b.0);
        let mut items = Vec::with_capacity(limit.min(1024));
        let mut more = false;
        let mut take = |record: DeliveryRecord| -> Result<bool, StoreError> {
            if !filter.matches(&record) {
                return Ok(true);
            }
            if items.len() == limit {
                more = true;
                return Ok(false);
            }
            let attempts = read_attempts(&txn, &record)?;
            items.push((record.event_id, record.view(attempts)));
            Ok(true)
        };
        match filter.event {
            Some(event) => {
                let by_event = txn.open_table(BY_EVENT)?;
                for entry in by_event.range((event.0, 0)..(event.0, upper))?.rev() {
                    let (key, _) = entry?;
                    if let Some(record) = read_delivery(&txn, Ulid(key.value().1))?
                        && !take(record)?
                    {
                        break;
                    }
                }
            }
            None => {
                let deliveries = txn.open_table(DELIVERIES)?;
                for entry in deliveries.range(..upper)?.rev() {
                    let (key, value) = entry?;
                    let record = record::decode_delivery(Ulid(key.value()), value.value())?;
                    if !take(record)? {
                        break;
                    }
                }
            }
        }
        let next_cursor = if more {
            items.last().map(|(_, d)| d.id)
        } else {
            None
        };
        Ok(DeliveryPage { items, next_cursor })
    }

    /// An event's deliveries as stored (with their ad-hoc URLs), oldest first.
    pub fn event_delivery_records(&self, event: Ulid) -> Result<Vec<DeliveryRecord>, StoreError> {
        let txn = self.begin_read()?;
        let by_event = txn.open_table(BY_EVENT)?;
        let mut out = Vec::new();
        for entry in by_event.range((event.0, 0)..=(event.0, u128::MAX))? {
            let (key, _) = entry?;
            if let Some(record) = read_delivery(&txn, Ulid(key.value().1))? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// The event an id names: the event itself, or the event of the delivery it is.
    pub fn event_of(&self, id: Ulid) -> Result<Option<Ulid>, StoreError> {
        super::query::resolve(&self.begin_read()?, id)
    }

    /// The dead letters a bulk replay takes, oldest first: deliveries to a named target in
    /// `state`, newer than `since`, that are still the newest delivery of their event to their
    /// target (one replayed since is not taken again, so running the same bulk replay twice does
    /// not deliver twice). Ad-hoc `--to` deliveries are never taken.
    pub fn replayable(
        &self,
        state: DeliveryState,
        target: Option<&str>,
        since: Option<Ulid>,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let txn = self.begin_read()?;
        let deliveries = txn.open_table(DELIVERIES)?;
        let by_event = txn.open_table(BY_EVENT)?;
        let lower = since.map_or(0, |s| s.0.saturating_add(1));
        let mut out = Vec::new();
        for entry in deliveries.range(lower..)? {
            let (key, value) = entry?;
            let record = record::decode_delivery(Ulid(key.value()), value.value())?;
            if record.state != state
                || record.url.is_some()
                || target.is_some_and(|t| t != record.target)
            {
                continue;
            }
            let mut superseded = false;
            let later =
                (record.event_id.0, record.id.0.saturating_add(1))..=(record.event_id.0, u128::MAX);
            for entry in by_event.range(later)? {
                let (key, _) = entry?;
                if read_delivery(&txn, Ulid(key.value().1))?
                    .is_some_and(|d| d.target == record.target)
                {
                    superseded = true;
                    break;
                }
            }
            if !superseded {
                out.push(record);
            }
        }
        Ok(out)
    }
}

/// The summary of an event's deliveries; a delivery record that does not decode is counted in
/// `damaged` and left out.
fn deliveries_state(
    txn: &ReadTransaction,
    event: Ulid,
    damaged: &mut usize,
) -> Result<DeliveriesState, StoreError> {
    let by_event = txn.open_table(BY_EVENT)?;
    let deliveries = txn.open_table(DELIVERIES)?;
    let mut states = Vec::new();
    for entry in by_event.range((event.0, 0)..=(event.0, u128::MAX))? {
        let id = entry?.0.value().1;
        if let Some(d) = deliveries.get(id)? {
            match record::decode_delivery(Ulid(id), d.value()) {
                Ok(d) => states.push(d.state),
                Err(_) => *damaged += 1,
            }
        }
    }
    Ok(DeliveriesState::of(states))
}
