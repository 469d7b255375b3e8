//! The relay: delivers captured events to their targets, at least once, with every attempt on
//! record — retries by policy, per-target concurrency, circuit breaker and pause, crash resume,
//! passthrough or re-signing, replays, and the `proxy` answer mode.

mod attempt;
mod direct;
mod engine;
mod health;
mod policy;
mod request;
mod slots;
mod tracked;

pub use attempt::Answer;
pub use direct::{ABANDONED, deliver_here};
pub use engine::ControlError;
pub use health::{HealthReport, HealthState, RECOVERED_AFTER};
pub use policy::{Next, Outcome, next as next_step, parse_retry_after};
pub use request::{settings as target_settings, target_url};
pub use slots::Claim;

use crate::live::LiveRx;
use crate::model::{DeliveryRecord, EventMeta, TargetControl, now};
use crate::store::{Decision, Store, Writer};
use bytes::Bytes;
use engine::{Engine, Intent, Observation, Snapshot, Task};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Handle to the relay; cheap to clone.
#[derive(Clone)]
pub struct Relay {
    intents: mpsc::Sender<Intent>,
    task: Task,
    health: watch::Receiver<Snapshot>,
}

/// Why a proxied attempt has no answer to pass back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyError {
    /// The consumer did not answer in time (the sender gets 504).
    Timeout,
    /// The consumer could not be reached (the sender gets 502); the error kind.
    Unreachable(String),
}

impl Relay {
    /// Starts the engine; it resumes every unfinished delivery in the store.
    pub fn start(store: Store, writer: Writer, live: LiveRx) -> anyhow::Result<Relay> {
        let (tx, rx) = mpsc::channel(1024);
        let task = Task {
            store,
            writer,
            live,
            clients: attempt::Clients::new()?,
            done: tx.clone(),
            slots: slots::Slots::default(),
            attempts: Default::default(),
        };
        let (publish, health) = watch::channel(None);
        task.attempts
            .spawn(Engine::new(task.clone(), rx, publish).run());
        Ok(Relay {
            intents: tx,
            task,
            health,
        })
    }

    /// Reserves a concurrency slot of `target` for an event about to be captured, when the
    /// target takes deliveries directly (circuit closed, nothing due waiting for it). The capture
    /// then marks the delivery in flight and [`Relay::dispatch`] sends it as soon as it is on
    /// disk. `None`: the delivery waits in the outbox as usual.
    pub fn claim(&self, target: &str) -> Option<Claim> {
        self.task.slots.claim(target)
    }

    /// Sends a delivery that the capture marked in flight with a [`Claim`]; returns at once.
    /// `config` is the configuration the capture was planned with (so a reload in between
    /// cannot strand the delivery).
    pub fn dispatch(
        &self,
        config: &crate::config::Config,
        claim: Claim,
        record: DeliveryRecord,
        event: Arc<EventMeta>,
        body: Bytes,
    ) {
        debug_assert_eq!(claim.target(), record.target);
        match request::settings(config, &record.target) {
            Some(target) => self.task.start(record, target, claim, Some((event, body))),
            // Unreachable: the capture took the target from this configuration. Were it to
            // happen, the delivery is recovered as `interrupted` at the next start.
            None => tracing::error!(target = %record.target, "dispatch without its target"),
        }
    }

    /// Pauses, resumes or probes a target by hand, for `actor` (`cli`, `api`, `interface`):
    /// recorded (a pause survives a restart) with an audit record, then applied. Paused time
    /// costs no attempts; a probe ends the circuit's cool-down now. Returns the target's health
    /// after the change.
    pub async fn control(
        &self,
        target: &str,
        action: TargetControl,
        actor: &str,
    ) -> Result<HealthReport, ControlError> {
        let (reply, answer) = oneshot::channel();
        let control = engine::Control {
            target: target.to_owned(),
            action,
            actor: actor.to_owned(),
        };
        self.intents
            .send(Intent::Control(control, reply))
            .await
            .map_err(|_| ControlError::Stopped)?;
        answer.await.map_err(|_| ControlError::Stopped)??;
        self.health()
            .await
            .into_iter()
            .find(|r| r.name == target)
            .ok_or(ControlError::Stopped)
    }

    /// Starts no new attempt and waits (at most `grace`) for those under way to be recorded;
    /// any still running after that is recorded as `interrupted` at the next start.
    /// Returns whether every attempt under way was recorded within `grace`.
    pub async fn shutdown(&self, grace: std::time::Duration) -> bool {
        let (reply, done) = oneshot::channel();
        let asked =
            async { self.intents.send(Intent::Stop(reply)).await.is_ok() && done.await.is_ok() };
        let drained = tokio::time::timeout(grace, asked).await.unwrap_or(false);
        // What still runs is cut off (its delivery stays in flight on disk, `interrupted` at
        // the next start) and waited for, so nothing outlives the relay holding the writer.
        self.task.attempts.stop().await;
        drained
    }

    /// Looks for deliveries in flight on disk whose attempt is not running, as the engine does
    /// every few seconds: one found by two sweeps in a row is recovered as `interrupted`.
    pub async fn sweep(&self) {
        let (reply, done) = oneshot::channel();
        if self.intents.send(Intent::Sweep(reply)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Health of every target (configured, or with deliveries still waiting), with what waits
    /// for each in the outbox.
    pub async fn health(&self) -> Vec<HealthReport> {
        let mut reports = self.reports().await;
        match self.task.store.read(|s| s.queued()).await {
            Ok(queued) => {
                for report in &mut reports {
                    report.queued = queued.get(&report.name).copied().unwrap_or(0);
                }
                for (name, n) in queued {
                    if !reports.iter().any(|r| r.name == name) {
                        // Not configured (any more): its deliveries wait for it to return.
                        let mut report = health::Health::default().report(&name, None, 0);
                        report.queued = n;
                        reports.push(report);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot count the outbox"),
        }
        reports
    }

    /// Until when each target's circuit is open, for the targets whose circuit is open: every
    /// delivery waiting for one is tried no sooner.
    pub async fn open_circuits(
        &self,
    ) -> std::collections::HashMap<String, crate::model::Timestamp> {
        let now = now();
        self.reports()
            .await
            .into_iter()
            .filter_map(|r| r.circuit_open_until.map(|until| (r.name, until)))
            .filter(|(_, until)| *until > now)
            .collect()
    }

    /// The engine's view of every target as last published (without the outbox counts; in
    /// flight as of now, since captures claim slots without the engine). Waits for the engine's
    /// first pass after a start; empty once it has stopped without one.
    async fn reports(&self) -> Vec<HealthReport> {
        let published = self.health.borrow().clone();
        let snapshot = match published {
            Some(snapshot) => snapshot,
            None => match self.health.clone().wait_for(Option::is_some).await {
                Ok(snapshot) => snapshot.clone().unwrap_or_default(),
                Err(_) => return Vec::new(),
            },
        };
        let mut reports = Vec::clone(&snapshot);
        for report in &mut reports {
            report.in_flight = self.task.slots.in_flight(&report.name);
        }
        reports
    }

    /// Makes the one attempt of a `proxy` route's delivery (already in flight on disk) and returns
    /// the consumer's answer. That attempt ends the delivery whatever it answered: retrying is
    /// the sender's job, so there are no doubles.
    pub async fn proxy(
        &self,
        record: DeliveryRecord,
        event: &EventMeta,
        body: Bytes,
        max_answer: usize,
    ) -> Result<Answer, ProxyError> {
        let live = self.task.live.borrow().clone();
        let Some(target) = request::settings(&live.config, &record.target) else {
            return Err(ProxyError::Unreachable("no_target".into()));
        };
        let _running = self.task.slots.run(record.id);
        let out = request::build(&live, &target, &record, event, body, now().unix_secs());
        let sent = attempt::send(
            &self.task.clients,
            out,
            record.attempt_count + 1,
            engine::limits(&target, Some(max_answer)),
        )
        .await;
        let ok = matches!(sent.outcome, Outcome::Status(s) if (200..300).contains(&s));
        let decision = if ok {
            Decision::Succeeded
        } else {
            Decision::Failed
        };
        let error = sent.attempt.error.clone();
        let observation = Observation {
            target: record.target.clone(),
            ok,
            fault: engine::is_fault(sent.outcome),
            latency_ms: sent.attempt.duration_ms,
            error: error
                .clone()
                .or_else(|| sent.attempt.status.map(|s| format!("status {s}"))),
        };
        if let Err(e) = self
            .task
            .writer
            .finish_attempt(record.id, sent.attempt, decision)
            .await
        {
            tracing::error!(error = %e, delivery = %record.id, "cannot record a proxied attempt");
        }
        let _ = self.intents.send(Intent::Observed(observation, None)).await;
        match (sent.answer, error) {
            (Some(answer), _) => Ok(answer),
            (None, Some(kind)) if kind == "timeout" => Err(ProxyError::Timeout),
            (None, kind) => Err(ProxyError::Unreachable(kind.unwrap_or_default())),
        }
    }
}
