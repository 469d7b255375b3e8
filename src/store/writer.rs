//! The one thread that writes the history, with group commit: it drains every waiting request
//! into one write transaction, commits once, then answers each sender.

use super::apply::{Decision, Planned, PruneCursor, Tables, Written};
use super::{CommitMode, Store, StoreError};
use crate::model::{
    Attempt, DeliveryRecord, DeliveryState, EventMeta, Header, Lifecycle, SendMode, TargetControl,
    Timestamp, Verification,
};
use bytes::Bytes;
use redb::{Database, Durability};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use ulid::Ulid;

/// Requests taken into one transaction at most; bounds commit latency under a burst.
const MAX_BATCH: usize = 1024;
/// How long attempt results wait for a capture to share their commit (see [`share_wait`]): two
/// commits' time, within these bounds.
const SHARE_WAIT: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(10));
/// How often the queue is looked at meanwhile (the channel cannot be waited on with a timeout
/// from this thread; sleeps this short cost a capture tens of microseconds at most).
const SHARE_POLL: Duration = Duration::from_micros(20);

/// A request to record, as the receiver saw it, and where it goes. The writer assigns the ids.
#[derive(Debug, Clone)]
pub struct Capture {
    pub received_at: Timestamp,
    pub route: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<Header>,
    pub body: Bytes,
    pub body_sha256: String,
    pub remote_addr: String,
    pub event_type: Option<String>,
    pub dedupe_key: Option<String>,
    /// Whether this event claims its dedupe key, so a later event with the same key is its
    /// duplicate: only a verified one does on a route that verifies (a forged request must never
    /// make the genuine event a duplicate); every one does on a route without `verify`.
    pub claims_dedupe_key: bool,
    pub resend_of: Option<Ulid>,
    pub verification: Verification,
    pub secret_headers: Vec<String>,
    /// One delivery per target, in order.
    pub targets: Vec<CaptureTarget>,
    /// `dedupe = "drop"`: a duplicate is recorded but not delivered.
    pub drop_duplicate: bool,
    /// `respond = "proxy"`: the first delivery is made in flight at once, by the receiver itself.
    pub proxy: bool,
}

/// A target a captured event goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureTarget {
    pub name: String,
    /// The id the consumer will see, when it is the sender's own (its dedupe key, passed
    /// through or re-signed); `None`: the delivery's own id.
    pub wire_id: Option<String>,
    /// The receiver holds a concurrency slot of this target and sends the first attempt itself
    /// once the event is on disk: the delivery is marked in flight in this same transaction.
    pub claimed: bool,
}

/// What the writer made of a [`Capture`] once it is on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    pub id: Ulid,
    pub duplicate_of: Option<Ulid>,
    /// The event as stored.
    pub event: EventMeta,
    /// The deliveries queued, in the order of the capture's targets (those claimed, and the
    /// first one of a proxy route, in flight); none when a duplicate was dropped.
    pub deliveries: Vec<DeliveryRecord>,
}

/// A replay to make: of which event, to where, how.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    pub event_id: Ulid,
    pub targets: Vec<Planned>,
    pub mode: SendMode,
    pub duplicate: bool,
    /// Who asked: `cli`, `api`, `interface`.
    pub actor: String,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum Op {
    Capture(Box<Capture>, Reply<Captured>),
    Log(Box<Lifecycle>, Reply<()>),
    Replay(Box<ReplayRequest>, Reply<Vec<DeliveryRecord>>),
    Begin(Vec<Ulid>, Timestamp, Reply<Vec<DeliveryRecord>>),
    Finish(Ulid, Box<Attempt>, Decision, Reply<()>),
    Control(Box<Control>, Reply<()>),
    Import(Box<Import>, Reply<Vec<Ulid>>),
}

/// Events to load from an export, all in one transaction.
#[derive(Debug)]
struct Import {
    events: Vec<crate::export::ImportedEvent>,
    actor: String,
}

/// A control of a target by hand, recorded with its audit record.
#[derive(Debug, Clone)]
struct Control {
    target: String,
    action: TargetControl,
    actor: String,
    /// A probe: the end of the cool-down it cuts short.
    cooldown_until: Option<Timestamp>,
}

impl Op {
    /// An attempt's result: its sender (the relay, with the consumer's answer in hand and the
    /// target's slot already free) can wait for a commit. Everything else has someone waiting on
    /// it: a sender for its 2xx or 413, the relay for attempts to start, a replay's caller.
    fn can_wait(&self) -> bool {
        matches!(self, Op::Finish(..))
    }

    fn fail(self, error: &str) {
        let e = || StoreError::CommitFailed(error.to_owned());
        match self {
            Op::Capture(_, r) => drop(r.send(Err(e()))),
            Op::Log(_, r) | Op::Finish(_, _, _, r) | Op::Control(_, r) => drop(r.send(Err(e()))),
            Op::Replay(_, r) | Op::Begin(_, _, r) => drop(r.send(Err(e()))),
            Op::Import(_, r) => drop(r.send(Err(e()))),
        }
    }
}

/// What an op produced, handed to its sender after the commit.
enum Done {
    Captured(Box<Captured>),
    Unit,
    Deliveries(Vec<DeliveryRecord>),
    Ids(Vec<Ulid>),
    /// Refused without touching the history (the rest of the batch commits).
    Refused(StoreError),
}

/// Handle to the writer thread. The thread ends once every handle is dropped and its queue is
/// drained.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
}

impl Writer {
    async fn call<T>(&self, op: impl FnOnce(Reply<T>) -> Op) -> Result<T, StoreError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(op(reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        done.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Records an event, its deliveries and their lifecycle lines; returns once all are durable.
    pub async fn capture(&self, capture: Capture) -> Result<Captured, StoreError> {
        self.call(|r| Op::Capture(Box::new(capture), r)).await
    }

    /// Appends a lifecycle record that belongs to no stored change (a rejection, a reload).
    pub async fn log(&self, record: Lifecycle) -> Result<(), StoreError> {
        self.call(|r| Op::Log(Box::new(record), r)).await
    }

    /// Queues replays of an event, with `event.replayed` and audit records.
    pub async fn replay(&self, request: ReplayRequest) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.call(|r| Op::Replay(Box::new(request), r)).await
    }

    /// Marks pending deliveries in flight; returns those that still were pending. Durable before
    /// the attempt starts, so an attempt cut off by a crash is recorded as `interrupted`.
    pub async fn begin_attempts(
        &self,
        ids: Vec<Ulid>,
        started: Timestamp,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.call(|r| Op::Begin(ids, started, r)).await
    }

    /// Records a control of `target` by `actor` (`cli`, `api`, `interface`) as an audit record;
    /// a pause is kept (and a resume clears it) so it survives a restart. A probe that cuts a
    /// cool-down short (`cooldown_until`) makes the deliveries waiting for its end due now.
    pub async fn control(
        &self,
        target: &str,
        action: TargetControl,
        actor: &str,
        cooldown_until: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let control = Control {
            target: target.to_owned(),
            action,
            actor: actor.to_owned(),
            cooldown_until,
        };
        self.call(|r| Op::Control(Box::new(control), r)).await
    }

    /// Loads exported events, marked as imported, in one transaction (all of them or none):
    /// each keeps its id when no event has it yet. Returns the ids they got. They claim no
    /// dedupe key and go to no target; replay them to send them.
    pub async fn import(
        &self,
        events: Vec<crate::export::ImportedEvent>,
        actor: &str,
    ) -> Result<Vec<Ulid>, StoreError> {
        let import = Import {
            events,
            actor: actor.to_owned(),
        };
        self.call(|r| Op::Import(Box::new(import), r)).await
    }

    /// Records an attempt and what follows (success, failure, death or the next try).
    pub async fn finish_attempt(
        &self,
        delivery: Ulid,
        attempt: Attempt,
        decision: Decision,
    ) -> Result<(), StoreError> {
        self.call(|r| Op::Finish(delivery, Box::new(attempt), decision, r))
            .await
    }
}

/// Takes what is waiting, up to [`MAX_BATCH`].
fn drain(rx: &mut mpsc::Receiver<Op>, batch: &mut Vec<Op>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
}

/// How long a batch waits for company before its commit, given how long the last commit with a
/// capture took (`None`: the last commit had none, so no capture is likely to come soon).
///
/// While events keep arriving, a batch of nothing but attempt results waits two commits' time
/// (within [`SHARE_WAIT`]) for the next capture to share its commit. Committed at once, the
/// results would hold the disk for a commit of their own just as that capture comes, and the
/// capture (and its delivery) would wait for it: at one connection with a target, most events
/// paid for two commits.
fn share_wait(last_capture_commit: Option<Duration>, batch: &[Op]) -> Option<Duration> {
    let commit = last_capture_commit?;
    batch
        .iter()
        .all(Op::can_wait)
        .then(|| (commit * 2).clamp(SHARE_WAIT.0, SHARE_WAIT.1))
}

/// Waits at most `wait` for a request that is not an attempt result, then takes what is
/// waiting with it.
fn wait_for_capture(rx: &mut mpsc::Receiver<Op>, batch: &mut Vec<Op>, wait: Duration) {
    let deadline = Instant::now() + wait;
    while batch.len() < MAX_BATCH && Instant::now() < deadline {
        match rx.try_recv() {
            Ok(op) => {
                let urgent = !op.can_wait();
                batch.push(op);
                if urgent {
                    return drain(rx, batch);
                }
            }
            Err(mpsc::error::TryRecvError::Empty) => std::thread::sleep(SHARE_POLL),
            Err(mpsc::error::TryRecvError::Disconnected) => return,
        }
    }
}

pub(super) fn spawn(store: Store) -> Result<Writer, StoreError> {
    let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
    let last_id = store.newest_id()?;
    std::thread::Builder::new()
        .name("hooklens-writer".into())
        .spawn(move || {
            let running = store.shared.writer_running.clone();
            WriterLoop::new(store, last_id).run(rx);
            running.send_replace(false);
        })?;
    Ok(Writer { tx })
}

struct WriterLoop {
    store: Store,
    ids: ulid::Generator,
    last_id: Ulid,
    prune: PruneCursor,
    /// The file is marked with this schema version (done by the first commit).
    marked: bool,
}

impl WriterLoop {
    fn new(store: Store, last_id: Ulid) -> Self {
        WriterLoop {
            store,
            ids: ulid::Generator::new(),
            last_id,
            prune: PruneCursor::default(),
            marked: false,
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Op>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // How long the last commit with a capture took, while events keep arriving.
        let mut capturing: Option<Duration> = None;
        while let Some(op) = rx.blocking_recv() {
            batch.push(op);
            drain(&mut rx, &mut batch);
            if let Some(wait) = share_wait(capturing, &batch) {
                wait_for_capture(&mut rx, &mut batch, wait);
            }
            let has_capture = batch.iter().any(|op| matches!(op, Op::Capture(..)));
            let started = Instant::now();
            self.commit(&mut batch);
            capturing = has_capture.then(|| started.elapsed());
        }
    }

    fn commit(&mut self, batch: &mut Vec<Op>) {
        let last_id = self.last_id;
        let result = self.store.clone().with_writable(|db| self.write(db, batch));
        match result {
            Ok((done, written)) => {
                if written.damaged > 0 {
                    tracing::warn!(
                        records = written.damaged,
                        "damaged history records were passed over"
                    );
                }
                if written.outbox_grew {
                    self.store
                        .shared
                        .outbox
                        .send_modify(|generation| *generation += 1);
                }
                self.store.shared.log_head.send_replace(written.head);
                for (op, done) in batch.drain(..).zip(done) {
                    match (op, done) {
                        (Op::Capture(_, r), Done::Captured(c)) => drop(r.send(Ok(*c))),
                        (Op::Log(_, r) | Op::Finish(_, _, _, r) | Op::Control(_, r), _) => {
                            drop(r.send(Ok(())))
                        }
                        (Op::Replay(_, r) | Op::Begin(_, _, r), Done::Deliveries(d)) => {
                            drop(r.send(Ok(d)))
                        }
                        (Op::Replay(_, r), Done::Refused(e)) => drop(r.send(Err(e))),
                        (Op::Import(_, r), Done::Ids(ids)) => drop(r.send(Ok(ids))),
                        (op, _) => op.fail("internal: mismatched write result"),
                    }
                }
            }
            Err(error) if !error.needs_reopen() && batch.len() > 1 => {
                // One request met a damaged record (or the like): nothing of the batch is on
                // disk, so commit each request alone and fail only the one.
                self.last_id = last_id;
                tracing::warn!(%error, "a batch failed; committing its requests one by one");
                for op in std::mem::take(batch) {
                    self.commit(&mut vec![op]);
                }
            }
            Err(error) => {
                // Nothing of this batch is on disk: every sender hears so, none gets a 2xx.
                self.last_id = last_id;
                let message = error.to_string();
                for op in batch.drain(..) {
                    op.fail(&message);
                }
                if error.needs_reopen() {
                    tracing::error!(%error, "history commit failed; reopening the database");
                    self.store.reopen_until_open();
                } else {
                    tracing::warn!(%error, "a request could not be written");
                }
            }
        }
    }

    fn next_id(&mut self) -> Ulid {
        let id = self
            .ids
            .generate()
            .unwrap_or_else(|overflow| overflow.commit_overflow_increment());
        // Keys must grow even if the clock steps back (or across restarts): arrival order is
        // key order.
        let id = if id > self.last_id {
            id
        } else {
            self.last_id.increment().unwrap_or(self.last_id)
        };
        self.last_id = id;
        id
    }

    /// Writes the batch in one transaction. Returns per-op results and what changed.
    fn write(&mut self, db: &Database, batch: &[Op]) -> Result<(Vec<Done>, Written), StoreError> {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.set_two_phase_commit(self.store.options().commit_mode == CommitMode::TwoPhase);
        if !self.marked {
            super::tables::mark_version(&txn)?;
        }
        let mut done = Vec::with_capacity(batch.len());
        // Moved only by a transaction that commits.
        let mut prune = self.prune;
        let written = {
            let mut t = Tables::open(&txn)?;
            for op in batch {
                done.push(self.apply(&mut t, op)?);
            }
            t.close(self.store.options().max_events, &mut prune)?
        };
        txn.commit()?;
        self.prune = prune;
        self.marked = true;
        Ok((done, written))
    }

    fn apply(&mut self, t: &mut Tables<'_>, op: &Op) -> Result<Done, StoreError> {
        let now = crate::model::now();
        Ok(match op {
            Op::Capture(capture, _) => Done::Captured(Box::new(self.capture(t, capture)?)),
            Op::Log(record, _) => {
                t.log(record)?;
                Done::Unit
            }
            Op::Replay(request, _) => {
                if !t.event_exists(request.event_id)? {
                    return Ok(Done::Refused(StoreError::NoSuchEvent(request.event_id)));
                }
                let mut made = Vec::with_capacity(request.targets.len());
                for planned in &request.targets {
                    let id = self.next_id();
                    let record = t.replay(
                        request.event_id,
                        planned,
                        id,
                        request.mode,
                        request.duplicate,
                        now,
                    )?;
                    t.log(&Lifecycle::Audit {
                        at: now,
                        actor: request.actor.clone(),
                        action: if request.duplicate {
                            "duplicate"
                        } else {
                            "replay"
                        }
                        .into(),
                        event_id: Some(request.event_id),
                        delivery_id: Some(id),
                        target: Some(planned.target.clone()),
                    })?;
                    made.push(record);
                }
                Done::Deliveries(made)
            }
            Op::Begin(ids, started, _) => {
                let mut begun = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(record) = t.begin_attempt(*id, *started)? {
                        begun.push(record);
                    }
                }
                Done::Deliveries(begun)
            }
            Op::Finish(id, attempt, decision, _) => {
                t.finish_attempt(*id, attempt, *decision, now)?;
                Done::Unit
            }
            Op::Import(import, _) => {
                let mut ids = Vec::with_capacity(import.events.len());
                let mut taken = std::collections::HashSet::new();
                for event in &import.events {
                    let proposed = event.meta.id;
                    let free = proposed != Ulid::nil()
                        && !taken.contains(&proposed)
                        && !t.event_exists(proposed)?;
                    let id = if free {
                        // Ids keep growing from the newest one, imported or not.
                        self.last_id = self.last_id.max(proposed);
                        proposed
                    } else {
                        self.next_id()
                    };
                    taken.insert(id);
                    let mut meta = event.meta.clone();
                    meta.id = id;
                    meta.imported = true;
                    t.insert_event(&meta, &event.body)?;
                    ids.push(id);
                }
                t.log(&Lifecycle::Audit {
                    at: now,
                    actor: import.actor.clone(),
                    action: "import".into(),
                    event_id: None,
                    delivery_id: None,
                    target: None,
                })?;
                Done::Ids(ids)
            }
            Op::Control(control, _) => {
                match control.action {
                    TargetControl::Pause => t.set_paused(&control.target, Some(now))?,
                    TargetControl::Resume => t.set_paused(&control.target, None)?,
                    TargetControl::Probe => {
                        if let Some(until) = control.cooldown_until {
                            t.expedite(&control.target, until, now)?;
                        }
                    }
                }
                t.log(&Lifecycle::Audit {
                    at: now,
                    actor: control.actor.clone(),
                    action: control.action.as_str().into(),
                    event_id: None,
                    delivery_id: None,
                    target: Some(control.target.clone()),
                })?;
                Done::Unit
            }
        })
    }

    fn capture(&mut self, t: &mut Tables<'_>, c: &Capture) -> Result<Captured, StoreError> {
        let id = self.next_id();
        let duplicate_of = match &c.dedupe_key {
            Some(key) => t.dedupe(&c.route, key, id, c.claims_dedupe_key)?,
            None => None,
        };
        let meta = event_meta(id, c, duplicate_of);
        t.insert_event(&meta, &c.body)?;
        let mut deliveries = Vec::new();
        if duplicate_of.is_some() && c.drop_duplicate {
            return Ok(Captured {
                id,
                duplicate_of,
                event: meta,
                deliveries,
            });
        }
        for (i, target) in c.targets.iter().enumerate() {
            let delivery = self.next_id();
            let proxied = c.proxy && i == 0;
            let started = proxied || target.claimed;
            let record = DeliveryRecord {
                id: delivery,
                event_id: id,
                target: target.name.clone(),
                url: None,
                state: DeliveryState::Queued,
                replay_of: None,
                next_attempt_at: Some(c.received_at),
                wire_id: target
                    .wire_id
                    .clone()
                    .unwrap_or_else(|| delivery.to_string()),
                mode: SendMode::Target,
                duplicate: false,
                proxy: proxied,
                attempt_count: 0,
            };
            let record = if started {
                // The receiver makes this attempt itself, so it never waits in the outbox.
                t.queue_in_flight(record, c.received_at)?
            } else {
                t.queue(&record, c.received_at)?;
                record
            };
            deliveries.push(record);
        }
        Ok(Captured {
            id,
            duplicate_of,
            event: meta,
            deliveries,
        })
    }
}

fn event_meta(id: Ulid, c: &Capture, duplicate_of: Option<Ulid>) -> EventMeta {
    EventMeta {
        id,
        received_at: c.received_at,
        route: c.route.clone(),
        method: c.method.clone(),
        path: c.path.clone(),
        query: c.query.clone(),
        headers: c.headers.clone(),
        body_sha256: c.body_sha256.clone(),
        body_len: c.body.len() as u64,
        remote_addr: c.remote_addr.clone(),
        event_type: c.event_type.clone(),
        dedupe_key: c.dedupe_key.clone(),
        duplicate_of,
        resend_of: c.resend_of,
        verification: c.verification.clone(),
        secret_headers: c.secret_headers.clone(),
        imported: false,
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
