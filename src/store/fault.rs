//! Fault injection under the real file: a switch that makes writes fail as a full disk does.
//! Tests use it to prove that a failed commit is never acknowledged and that the history
//! recovers once space is back.

use redb::StorageBackend;
use redb::backends::FileBackend;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// When on, every write and sync of the history file fails with "no space left on device";
/// when unreadable, reads fail too (a drive unplugged, a mount lost).
#[derive(Debug, Clone, Default)]
pub struct DiskFull {
    full: Arc<AtomicBool>,
    unreadable: Arc<AtomicBool>,
}

impl DiskFull {
    pub fn set(&self, full: bool) {
        self.full.store(full, Ordering::SeqCst);
    }

    pub fn set_unreadable(&self, unreadable: bool) {
        self.unreadable.store(unreadable, Ordering::SeqCst);
    }

    fn check(&self) -> io::Result<()> {
        if self.full.load(Ordering::SeqCst) || self.unreadable.load(Ordering::SeqCst) {
            Err(io::Error::from_raw_os_error(28)) // ENOSPC
        } else {
            Ok(())
        }
    }

    fn check_read(&self) -> io::Result<()> {
        if self.unreadable.load(Ordering::SeqCst) {
            Err(io::Error::from_raw_os_error(5)) // EIO
        } else {
            Ok(())
        }
    }
}

#[derive(Debug)]
pub(super) struct FaultyBackend {
    inner: FileBackend,
    full: DiskFull,
}

impl FaultyBackend {
    pub(super) fn new(inner: FileBackend, full: DiskFull) -> Self {
        FaultyBackend { inner, full }
    }
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.full.check_read()?;
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.full.check()?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.full.check()?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.full.check()?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }
}
