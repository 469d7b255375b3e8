//! Delivering a few deliveries from this process, without the engine: what `replay` does when no
//! instance runs. Only the deliveries it is given are attempted (the outbox's others wait for an
//! instance), retried by their target's policy while the time lasts; whatever has not ended by
//! then is marked `failed` with an `abandoned` attempt, so it never fires later, to whatever
//! another configuration calls its target.

use super::attempt::{self, Clients};
use super::engine::{decide, limits};
use super::request;
use crate::live::Live;
use crate::model::{Attempt, now};
use crate::store::{Decision, Store, StoreError, Writer};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use ulid::Ulid;

/// The error of the attempt that ends a delivery nobody is left to make.
pub const ABANDONED: &str = "abandoned";

/// Attempts `ids` until each has ended, `deadline` passes or `stop` turns true (the user gave
/// up: Ctrl-C), then abandons the rest. Each target's `concurrency` holds here too.
pub async fn deliver_here(
    store: &Store,
    writer: &Writer,
    live: Arc<Live>,
    ids: &[Ulid],
    deadline: Instant,
    stop: watch::Receiver<bool>,
) -> Result<(), StoreError> {
    let clients = Clients::new().map_err(|e| StoreError::CommitFailed(e.to_string()))?;
    let mut gates: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for &id in ids {
        let Some(record) = store.read(move |s| s.delivery(id)).await? else {
            continue;
        };
        let Some(target) = request::settings(&live.config, &record.target) else {
            continue; // abandoned below: nothing here can deliver it
        };
        let gate = gates
            .entry(record.target.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(target.concurrency.max(1) as usize)))
            .clone();
        let (store, writer, live, clients) =
            (store.clone(), writer.clone(), live.clone(), clients.clone());
        let until = Until {
            deadline,
            stop: stop.clone(),
        };
        tasks.spawn(async move {
            let Ok(_permit) = gate.acquire_owned().await else {
                return;
            };
            if let Err(error) = attempts(&store, &writer, &live, &clients, id, until).await {
                tracing::warn!(%error, %id, "cannot deliver a replay");
            }
        });
    }
    // Every task returns by the deadline (plus a commit), so none is cut off while recording.
    while tasks.join_next().await.is_some() {}
    for &id in ids {
        if let Some(record) = store.read(move |s| s.delivery(id)).await?
            && record.state.is_pending()
        {
            let attempt = abandoned(record.attempt_count + 1);
            writer.finish_attempt(id, attempt, Decision::Failed).await?;
        }
    }
    Ok(())
}

/// One delivery's attempts, until it ends or its next one would start after `deadline`.
async fn attempts(
    store: &Store,
    writer: &Writer,
    live: &Live,
    clients: &Clients,
    id: Ulid,
    mut until: Until,
) -> Result<(), StoreError> {
    let Some(first) = store.read(move |s| s.delivery(id)).await? else {
        return Ok(());
    };
    let Some(target) = request::settings(&live.config, &first.target) else {
        return Ok(());
    };
    let event = first.event_id;
    let Some((meta, body)) = store.read(move |s| s.get_event(event)).await? else {
        return Ok(());
    };
    let body = Bytes::from(body);
    while !until.over() {
        let Some(record) = writer.begin_attempts(vec![id], now()).await?.pop() else {
            return Ok(()); // no longer pending
        };
        let n = record.attempt_count + 1;
        let out = request::build(
            live,
            &target,
            &record,
            &meta,
            body.clone(),
            now().unix_secs(),
        );
        let send = attempt::send(clients, out, n, limits(&target, None));
        // Cut off at the end: the delivery is in flight on disk and is abandoned by the caller.
        let Some(mut sent) = until.run(send).await else {
            return Ok(());
        };
        request::refuse_own_loop(live, &mut sent);
        let decision = decide(n, sent.outcome, sent.retry_after, &target.retry);
        writer.finish_attempt(id, sent.attempt, decision).await?;
        let Decision::RetryAt(at) = decision else {
            return Ok(());
        };
        let wait = u64::try_from(at.unix_millis() - now().unix_millis()).unwrap_or(0);
        let next = Instant::now() + std::time::Duration::from_millis(wait);
        if next >= until.deadline {
            return Ok(());
        }
        if until.run(tokio::time::sleep_until(next)).await.is_none() {
            return Ok(());
        }
    }
    Ok(())
}

/// When attempts must end: at the deadline, or as soon as `stop` turns true.
struct Until {
    deadline: Instant,
    stop: watch::Receiver<bool>,
}

impl Until {
    fn over(&self) -> bool {
        Instant::now() >= self.deadline || *self.stop.borrow()
    }

    /// `work`'s result, or `None` when the end came first.
    async fn run<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let stopped = async {
            // A dropped sender can no longer ask to stop: only the deadline is left.
            if self.stop.wait_for(|s| *s).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            done = work => Some(done),
            _ = tokio::time::sleep_until(self.deadline) => None,
            _ = stopped => None,
        }
    }
}

fn abandoned(n: u32) -> Attempt {
    Attempt {
        n,
        started_at: now(),
        duration_ms: 0,
        status: None,
        error: Some(ABANDONED.into()),
        response_headers: Vec::new(),
        response_body_base64: None,
        response_size: None,
        note: Some(
            "not delivered before `replay --wait` ran out, with no instance running to go on; \
             replay again to retry"
                .into(),
        ),
    }
}
