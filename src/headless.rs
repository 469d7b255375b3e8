//! Headless output: the lifecycle log, one JSON object per line, followed from the store so a slow
//! stdout lags but never loses a line. Records are stored as serde_json wrote them (raw bidi and
//! C1 characters included, in records of any age), so each line is made safe as it is printed.

use crate::store::Store;
use crate::text::json_safe;
use std::io;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// Records read per batch; bounds memory when the writer runs far ahead of the reader.
const BATCH: usize = 4096;

/// Prints every lifecycle record after `after` until `stop` turns true, then prints what is left.
pub async fn follow<W: AsyncWrite + Unpin>(
    store: Store,
    mut after: u64,
    mut out: W,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut head = store.subscribe_log();
    let mut stopping = false;
    loop {
        let reader = store.clone();
        let batch = tokio::task::spawn_blocking(move || reader.log_after(after, BATCH))
            .await
            .map_err(io::Error::other)?
            .map_err(io::Error::other)?;
        let at_head = batch.next == after;
        after = batch.next;
        let records = batch.records;
        if at_head {
            if stopping {
                return out.flush().await;
            }
            tokio::select! {
                changed = head.changed() => if changed.is_err() { stopping = true },
                _ = stop.wait_for(|s| *s) => stopping = true,
            }
            continue;
        }
        if records.is_empty() {
            continue; // passed over pruned or damaged records: read on
        }
        let mut buf = Vec::with_capacity(records.iter().map(|r| r.json.len() + 1).sum());
        for record in &records {
            buf.extend_from_slice(&json_safe(&record.json));
            buf.push(b'\n');
        }
        out.write_all(&buf).await?;
        out.flush().await?;
    }
}
