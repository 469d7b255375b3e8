//! `event.rejected` records, coalesced: a flood of identical rejections (a sender retrying a 413,
//! a burst of 503s) must not become a flood of durable records. The first rejection of a kind is
//! written at once; those of the same kind in the next [`WINDOW`] are counted and written as one
//! record with their `count` when the window ends.

use crate::model::{Lifecycle, now};
use crate::store::Writer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long identical rejections are folded into one record.
const WINDOW: Duration = Duration::from_secs(1);

/// Route, status and reason: what makes two rejections the same kind (paths vary freely).
type Kind = (String, u16, String);

#[derive(Default)]
pub(super) struct Rejections {
    /// Kinds in their window: the last one folded and how many were.
    open: Mutex<HashMap<Kind, Option<Folded>>>,
}

struct Folded {
    method: String,
    path: String,
    count: u64,
}

impl Rejections {
    /// Records a rejection: durably before returning when it opens a window, else folded into
    /// the record written when the window ends.
    pub async fn record(
        self: &Arc<Self>,
        writer: &Writer,
        route: &str,
        method: &str,
        path: &str,
        status: u16,
        reason: String,
    ) {
        let kind: Kind = (route.to_owned(), status, reason);
        {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(folded) = open.get_mut(&kind) {
                let f = folded.get_or_insert(Folded {
                    method: String::new(),
                    path: String::new(),
                    count: 0,
                });
                f.method = method.to_owned();
                f.path = path.to_owned();
                f.count += 1;
                return;
            }
            open.insert(kind.clone(), None);
        }
        let record = rejected(&kind, method, path, 1);
        // A rejection is worth a line; losing it (a full disk) must not change the answer.
        let _ = writer.log(record).await;
        let this = self.clone();
        let writer = writer.clone();
        tokio::spawn(async move {
            tokio::time::sleep(WINDOW).await;
            let folded = this
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&kind)
                .flatten();
            if let Some(f) = folded {
                let _ = writer
                    .log(rejected(&kind, &f.method, &f.path, f.count))
                    .await;
            }
        });
    }
}

fn rejected((route, status, reason): &Kind, method: &str, path: &str, count: u64) -> Lifecycle {
    Lifecycle::EventRejected {
        at: now(),
        route: route.clone(),
        method: method.to_owned(),
        path: path.to_owned(),
        status: *status,
        reason: reason.clone(),
        count,
    }
}
