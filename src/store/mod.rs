//! The history: one redb file, written by one writer thread (group commit), read by anyone.
//!
//! Tables (see `tables.rs`) hold events (without bodies), bodies, the lifecycle log and the
//! dedupe index. Every change and the lifecycle records that describe it go in one transaction.

mod apply;
mod error;
mod fault;
mod filter;
mod log;
mod query;
mod record;
mod tables;
mod window;
mod writer;

pub use apply::{Decision, Planned};
pub use error::StoreError;
pub use fault::DiskFull;
pub use filter::{DeliveryFilter, EventFilter};
pub use log::{Fact, LogBatch, LogRecord};
pub use query::{DeliveryPage, EventPage};
pub use window::{BODY_BYTES_BUDGET, Candidate, Direction, Outcome, Scan, Scope, WindowRow};
pub use writer::{Capture, CaptureTarget, Captured, ReplayRequest, Writer};

use redb::{Builder, Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// How the writer commits. Chosen with the benchmark; see README "Performance".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitMode {
    /// One fsync per commit; redb detects a torn commit by checksums.
    Default,
    /// Two fsyncs per commit, so the primary commit slot is always valid even if an attacker
    /// shapes the data (redb's advice where input is untrusted).
    TwoPhase,
}

#[derive(Clone)]
pub struct StoreOptions {
    pub path: PathBuf,
    pub cache_mb: usize,
    pub max_events: u64,
    pub commit_mode: CommitMode,
    /// Fault injection for tests; `None` in normal use.
    pub disk_full: Option<DiskFull>,
}

impl StoreOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreOptions {
            path: path.into(),
            cache_mb: 64,
            max_events: 1_000_000,
            commit_mode: CommitMode::TwoPhase,
            disk_full: None,
        }
    }

    fn open_database(&self) -> Result<Database, StoreError> {
        private_file(&self.path)?;
        let mut builder = Builder::new();
        builder.set_cache_size(self.cache_mb.clamp(1, 1 << 20).saturating_mul(1024 * 1024));
        let db = match &self.disk_full {
            Some(full) => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&self.path)?;
                let backend = redb::backends::FileBackend::new(file)?;
                builder.create_with_backend(fault::FaultyBackend::new(backend, full.clone()))?
            }
            None => builder.create(&self.path).map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(self.path.clone()),
                other => other.into(),
            })?,
        };
        Ok(db)
    }

    /// Opens the file without writing to it: `None` when redb would have to repair it first (a
    /// process was killed while writing) or a table is missing (a file of an older schema), as
    /// both need a write.
    fn open_read_only(&self) -> Result<Option<ReadOnlyDatabase>, StoreError> {
        let mut builder = Builder::new();
        builder.set_cache_size(self.cache_mb.clamp(1, 1 << 20).saturating_mul(1024 * 1024));
        let db = match builder.open_read_only(&self.path) {
            Ok(db) => db,
            Err(redb::DatabaseError::RepairAborted) => return Ok(None),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::Locked(self.path.clone()));
            }
            Err(other) => return Err(other.into()),
        };
        tables::check_version(&db)?;
        Ok(tables::complete(&db)?.then_some(db))
    }
}

/// Makes the history file readable by its owner only (mode 0600: it holds other people's
/// requests, their credentials among them) before redb opens it; an existing one that others
/// may read is tightened, with a notice.
fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::instance::tighten(path, 0o600)
        }
        Err(e) => Err(e),
    }
}

/// The open file: written by this process's writer, or only read.
enum Handle {
    Writable(Database),
    ReadOnly(ReadOnlyDatabase),
}

impl Handle {
    fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(match self {
            Handle::Writable(db) => db.begin_read()?,
            Handle::ReadOnly(db) => db.begin_read()?,
        })
    }
}

/// Read access to the history; cheap to clone. Writes go through [`Writer`].
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    /// `None` while the writer reopens the file after an I/O error.
    db: RwLock<Option<Arc<Handle>>>,
    options: StoreOptions,
    /// Sequence number of the newest committed lifecycle record.
    log_head: watch::Sender<u64>,
    /// Bumped by every commit that put a delivery into the outbox.
    outbox: watch::Sender<u64>,
    /// A thread is retrying to reopen the file.
    reopening: AtomicBool,
    /// True while the writer thread runs.
    writer_running: watch::Sender<bool>,
}

/// How often a failed reopen is tried again.
const REOPEN_RETRY: Duration = Duration::from_secs(1);

impl Store {
    /// Opens (or creates) the history and starts its writer thread.
    pub fn open(options: StoreOptions) -> Result<(Store, Writer), StoreError> {
        if let Some(dir) = options.path.parent() {
            crate::instance::private_dir(dir)?;
        }
        let db = options.open_database()?;
        let head = tables::init(&db)?;
        let store = Store::new(Handle::Writable(db), options, head);
        let writer = writer::spawn(store.clone())?;
        Ok((store, writer))
    }

    /// Opens an existing history to read it, writing nothing — no schema upgrade, no new
    /// tables — so a read-only command leaves the file as it found it. A file that needs a write
    /// first (redb's repair after a kill, the tables of a newer schema) is opened for writing
    /// instead (without a writer: it is only read).
    pub fn open_read_only(options: StoreOptions) -> Result<Store, StoreError> {
        let store = match options.open_read_only()? {
            Some(db) => {
                let head = db.begin_read()?;
                let head = tables::log_head(&head.open_table(tables::LOG)?)?;
                Store::new(Handle::ReadOnly(db), options, head)
            }
            None => {
                let db = options.open_database()?;
                let head = tables::init(&db)?;
                Store::new(Handle::Writable(db), options, head)
            }
        };
        store.shared.writer_running.send_replace(false);
        Ok(store)
    }

    fn new(db: Handle, options: StoreOptions, head: u64) -> Store {
        Store {
            shared: Arc::new(Shared {
                db: RwLock::new(Some(Arc::new(db))),
                options,
                log_head: watch::channel(head).0,
                outbox: watch::channel(0).0,
                reopening: AtomicBool::new(false),
                writer_running: watch::channel(true).0,
            }),
        }
    }

    /// Whether this process may write the file (see [`Store::open_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.handle()
            .is_ok_and(|h| matches!(*h, Handle::ReadOnly(_)))
    }

    /// Sequence number of the newest committed lifecycle record.
    pub fn log_head(&self) -> u64 {
        *self.shared.log_head.borrow()
    }

    /// Returns once the writer thread has ended: every [`Writer`] handle was dropped and every
    /// request sent before that is committed (or failed). A stop waits for this, so the last
    /// events are on disk before the process exits.
    pub async fn writer_stopped(&self) {
        let mut running = self.shared.writer_running.subscribe();
        let _ = running.wait_for(|running| !running).await;
    }

    /// Wakes whenever new lifecycle records are committed.
    pub fn subscribe_log(&self) -> watch::Receiver<u64> {
        self.shared.log_head.subscribe()
    }

    /// Wakes whenever a commit put a delivery into the outbox (queued, replayed, or due to
    /// retry). Commits that only capture or record attempts do not: the relay has nothing new
    /// to read then.
    pub fn subscribe_outbox(&self) -> watch::Receiver<u64> {
        self.shared.outbox.subscribe()
    }

    /// Runs a read on a blocking thread: redb reads touch the disk, and a worker of the runtime
    /// must never wait for it.
    pub async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || query(&store))
            .await
            .map_err(|e| StoreError::CommitFailed(format!("read task failed: {e}")))?
    }

    fn handle(&self) -> Result<Arc<Handle>, StoreError> {
        let guard = self.shared.db.read().unwrap_or_else(|p| p.into_inner());
        guard.clone().ok_or(StoreError::Unavailable)
    }

    /// A snapshot of the last commit.
    fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        self.handle()?.begin_read()
    }

    /// Runs `write` on the database, for the writer thread.
    fn with_writable<T>(
        &self,
        write: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &*self.handle()? {
            Handle::Writable(db) => write(db),
            Handle::ReadOnly(_) => Err(StoreError::ReadOnly),
        }
    }

    fn options(&self) -> &StoreOptions {
        &self.shared.options
    }

    /// Reopens the file after an I/O error; while that fails (the disk still full), keeps trying
    /// on a timer from a thread of its own, so reads come back without waiting for a write.
    fn reopen_until_open(&self) {
        let Err(error) = self.reopen() else {
            return;
        };
        if self.shared.reopening.swap(true, Ordering::AcqRel) {
            return; // a retry thread is already at it
        }
        tracing::error!(%error, "reopening the history failed; retrying every second");
        let store = self.clone();
        let spawned = std::thread::Builder::new()
            .name("hooklens-reopen".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(REOPEN_RETRY);
                    if store
                        .shared
                        .db
                        .read()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_some()
                    {
                        break; // a write reopened it meanwhile
                    }
                    if store.reopen().is_ok() {
                        tracing::info!("the history is open again");
                        break;
                    }
                }
                store.shared.reopening.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.shared.reopening.store(false, Ordering::Release);
        }
    }

    /// Drops the database after an I/O error and opens it again (redb answers `PreviousIo` to
    /// every call until then). Waits briefly for readers to let go of the old handle, since the
    /// file lock is only released when the last handle drops.
    fn reopen(&self) -> Result<(), StoreError> {
        let old = self
            .shared
            .db
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut old) = old {
            for _ in 0..500 {
                match Arc::try_unwrap(old) {
                    Ok(db) => {
                        drop(db);
                        break;
                    }
                    Err(still_shared) => {
                        old = still_shared;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }
        let db = self.options().open_database()?;
        tables::init(&db)?;
        *self.shared.db.write().unwrap_or_else(|p| p.into_inner()) =
            Some(Arc::new(Handle::Writable(db)));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bounded;
#[cfg(test)]
mod tests_format;
