//! The one thread that writes the history, with group commit: it drains every waiting request
//! into one write transaction, commits once, then answers each sender.

use super::tables::{self, BODIES, DEDUPE, EVENTS, KEY_EVENTS, KEY_LOG_SEQ, LOG, META};
use super::{CommitMode, Store, StoreError};
use crate::model::{EventMeta, Header, Lifecycle, Timestamp, Verification};
use bytes::Bytes;
use redb::{Database, Durability, ReadableTable, WriteTransaction};
use tokio::sync::{mpsc, oneshot};
use ulid::Ulid;

/// Requests taken into one transaction at most; bounds commit latency under a burst.
const MAX_BATCH: usize = 1024;
/// Oldest events pruned per transaction, so lowering `max_events` never stalls capture.
const MAX_PRUNE: u64 = 1024;

/// A request to record, as the receiver saw it. The writer assigns the id.
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
    pub resend_of: Option<Ulid>,
    pub verification: Verification,
    pub secret_headers: Vec<String>,
}

/// What the writer made of a [`Capture`] once it is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Captured {
    pub id: Ulid,
    pub duplicate_of: Option<Ulid>,
}

enum Op {
    Capture(Box<Capture>, oneshot::Sender<Result<Captured, StoreError>>),
    Log(
        Box<Lifecycle>,
        Option<oneshot::Sender<Result<(), StoreError>>>,
    ),
}

/// Handle to the writer thread. The thread ends once every handle is dropped and its queue is
/// drained.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
}

impl Writer {
    /// Records an event and its `event.received` line; returns once both are durable.
    pub async fn capture(&self, capture: Capture) -> Result<Captured, StoreError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Op::Capture(Box::new(capture), reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        done.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Appends a lifecycle record that belongs to no stored change (a rejection, a reload).
    pub async fn log(&self, record: Lifecycle) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Op::Log(Box::new(record), Some(reply)))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        done.await.map_err(|_| StoreError::WriterGone)?
    }
}

pub(super) fn spawn(store: Store) -> Result<Writer, StoreError> {
    let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
    let last_id = store.last_event_id()?.unwrap_or(Ulid::nil());
    std::thread::Builder::new()
        .name("hooklens-writer".into())
        .spawn(move || WriterLoop::new(store, last_id).run(rx))?;
    Ok(Writer { tx })
}

struct WriterLoop {
    store: Store,
    ids: ulid::Generator,
    last_id: Ulid,
}

impl WriterLoop {
    fn new(store: Store, last_id: Ulid) -> Self {
        WriterLoop {
            store,
            ids: ulid::Generator::new(),
            last_id,
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Op>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(op) = rx.blocking_recv() {
            batch.push(op);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
    }

    fn commit(&mut self, batch: &mut Vec<Op>) {
        let last_id = self.last_id;
        let result = self
            .store
            .db()
            .and_then(|db| self.write(&db, batch).map(|r| (r, db)));
        match result {
            Ok(((results, head), _db)) => {
                self.store.shared.log_head.send_replace(head);
                for (op, result) in batch.drain(..).zip(results) {
                    match op {
                        Op::Capture(_, reply) => {
                            let _ = reply.send(Ok(result.expect("capture result")));
                        }
                        Op::Log(_, Some(reply)) => {
                            let _ = reply.send(Ok(()));
                        }
                        Op::Log(_, None) => {}
                    }
                }
            }
            Err(error) => {
                // Nothing of this batch is on disk: every sender hears so, none gets a 2xx.
                self.last_id = last_id;
                tracing::error!(%error, "history commit failed; reopening the database");
                let message = error.to_string();
                for op in batch.drain(..) {
                    match op {
                        Op::Capture(_, reply) => {
                            let _ = reply.send(Err(StoreError::CommitFailed(message.clone())));
                        }
                        Op::Log(_, Some(reply)) => {
                            let _ = reply.send(Err(StoreError::CommitFailed(message.clone())));
                        }
                        Op::Log(_, None) => {}
                    }
                }
                if let Err(error) = self.store.reopen() {
                    tracing::error!(%error, "reopening the history failed; will retry");
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

    /// Writes the batch in one transaction. Returns per-op results and the new log head.
    #[allow(clippy::type_complexity)]
    fn write(
        &mut self,
        db: &Database,
        batch: &[Op],
    ) -> Result<(Vec<Option<Captured>>, u64), StoreError> {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.set_two_phase_commit(self.store.options().commit_mode == CommitMode::TwoPhase);
        let mut results = Vec::with_capacity(batch.len());
        let head = {
            let mut meta = txn.open_table(META)?;
            let mut events = txn.open_table(EVENTS)?;
            let mut bodies = txn.open_table(BODIES)?;
            let mut log = txn.open_table(LOG)?;
            let mut dedupe = txn.open_table(DEDUPE)?;
            let mut seq = meta.get(KEY_LOG_SEQ)?.map(|v| v.value()).unwrap_or(0);
            let mut count = meta.get(KEY_EVENTS)?.map(|v| v.value()).unwrap_or(0);
            for op in batch {
                match op {
                    Op::Capture(capture, _) => {
                        let id = self.next_id();
                        let duplicate_of = match &capture.dedupe_key {
                            Some(key) => {
                                let key = tables::dedupe_key(&capture.route, key);
                                // The index keeps the newest carrier of each key, so it can be
                                // dropped exactly when that event is pruned.
                                dedupe
                                    .insert(key.as_str(), id.0)?
                                    .map(|previous| Ulid(previous.value()))
                            }
                            None => None,
                        };
                        let meta = event_meta(id, capture, duplicate_of);
                        seq += 1;
                        let received = Lifecycle::received(&meta);
                        log.insert(seq, serde_json::to_vec(&received)?.as_slice())?;
                        events.insert(id.0, tables::encode_event(seq, &meta)?.as_slice())?;
                        bodies.insert(id.0, capture.body.as_ref())?;
                        count += 1;
                        results.push(Some(Captured { id, duplicate_of }));
                    }
                    Op::Log(record, _) => {
                        seq += 1;
                        log.insert(seq, serde_json::to_vec(&**record)?.as_slice())?;
                        results.push(None);
                    }
                }
            }
            let max = self.store.options().max_events;
            if count > max {
                count -= prune(&mut events, &mut bodies, &mut dedupe, &mut log, count - max)?;
            }
            meta.insert(KEY_LOG_SEQ, seq)?;
            meta.insert(KEY_EVENTS, count)?;
            seq
        };
        commit(txn)?;
        Ok((results, head))
    }
}

fn commit(txn: WriteTransaction) -> Result<(), StoreError> {
    txn.commit()?;
    Ok(())
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
    }
}

/// Removes up to `excess` (at most [`MAX_PRUNE`]) oldest events with their bodies, dedupe entries
/// and the log records older than the oldest event kept. Returns how many events went.
fn prune(
    events: &mut redb::Table<u128, &[u8]>,
    bodies: &mut redb::Table<u128, &[u8]>,
    dedupe: &mut redb::Table<&str, u128>,
    log: &mut redb::Table<u64, &[u8]>,
    excess: u64,
) -> Result<u64, StoreError> {
    let n = excess.min(MAX_PRUNE);
    let mut doomed = Vec::with_capacity(n as usize);
    for entry in events.iter()?.take(n as usize) {
        let (key, value) = entry?;
        let (_, meta) = tables::decode_event(value.value())?;
        doomed.push((key.value(), meta.route, meta.dedupe_key));
    }
    for (id, route, key) in &doomed {
        events.remove(id)?;
        bodies.remove(id)?;
        if let Some(key) = key {
            let key = tables::dedupe_key(route, key);
            let points_here = dedupe.get(key.as_str())?.map(|v| v.value()) == Some(*id);
            if points_here {
                dedupe.remove(key.as_str())?;
            }
        }
    }
    let keep_from = match events.first()? {
        Some((_, value)) => tables::event_seq(value.value()),
        None => 0,
    };
    // Everything logged before the oldest kept event describes pruned events (or is older).
    let stale: Vec<u64> = log
        .range(..keep_from)?
        .take(MAX_PRUNE as usize * 8)
        .map(|e| e.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    for seq in stale {
        log.remove(seq)?;
    }
    Ok(doomed.len() as u64)
}
