//! The disk under the history: how long an fsync takes there (durable capture cannot commit
//! faster than that; group commit shares one fsync among many events) and how large a file grows
//! per event.

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

/// The file's length, or 0 if it is not there yet.
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
