//! The disk under the history: how long an fsync takes there (durable capture cannot commit
//! faster than that; group commit shares one fsync among many events) and how much of it a
//! history uses per event.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Size of each block written before an fsync: one page, the smallest durable write.
const BLOCK: usize = 4096;

/// Appends a 4 KiB block and fsyncs it, `times` times, in `dir`; latencies in microseconds.
pub fn fsync_latencies_us(dir: &Path, times: usize) -> std::io::Result<Vec<u32>> {
    let scratch = tempfile::Builder::new().prefix("fsync-").tempdir_in(dir)?;
    let mut file = std::fs::File::create(scratch.path().join("probe"))?;
    let block = vec![0xa5u8; BLOCK];
    let mut latencies = Vec::with_capacity(times);
    for _ in 0..times {
        let start = Instant::now();
        file.write_all(&block)?;
        file.sync_all()?;
        let micros = start.elapsed().as_micros();
        latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
    }
    Ok(latencies)
}

/// What a history holds on disk.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// Bytes of the pages in use (data, indexes, the log).
    pub pages: u64,
    /// The file's length: redb grows it by doubling, so it is 1–2× the pages in use and the
    /// free tail is filled before it grows again.
    pub file: u64,
}

/// Opens a history that no process holds and measures it.
pub fn usage(path: &Path) -> anyhow::Result<Usage> {
    let file = std::fs::metadata(path)?.len();
    let db = redb::Database::open(path)?;
    let txn = db.begin_write()?;
    let stats = txn.stats()?;
    txn.abort()?;
    Ok(Usage {
        pages: stats.allocated_pages() * stats.page_size() as u64,
        file,
    })
}
