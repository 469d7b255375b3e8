//! The delivery engine: one task that owns the outbox's progress. It reads what is due per target
//! from the store (the queue lives in redb, never in memory), respects each target's concurrency,
//! circuit and pause, and hands attempts to tasks whose results come back as messages.

use super::attempt::{self, Clients, Limits};
use super::health::{Gate, Health, HealthReport, HealthState};
use super::policy::{self, Next, Outcome};
use super::request;
use super::slots::{Claim, Running, Slots};
use super::tracked::Tracked;
use crate::config::TargetConfig;
use crate::live::LiveRx;
use crate::model::{DeliveryRecord, EventMeta, Lifecycle, TargetControl, Timestamp, now};
use crate::store::{Decision, Store, Writer};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// How long to wait before reading the store again after it failed to answer.
const STORE_RETRY: Duration = Duration::from_millis(500);
/// How often the engine looks for deliveries in flight on disk whose attempt is not running (a
/// task lost to a panic, a capture whose hand-off never came). One seen twice in a row, a sweep
/// apart, is recovered like an attempt cut off by a crash.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// Messages handled in a row before the engine looks at the outbox again.
const MAX_INTENTS: usize = 4096;

/// What other parts ask of the engine.
pub(super) enum Intent {
    /// An attempt's result, for the target's health; answered (when asked) with until when the
    /// circuit is open after it (unix ms), the earliest time its next attempt may be.
    Observed(Observation, Option<oneshot::Sender<Option<i64>>>),
    /// A control by hand, by an actor; persisted (with its audit record) before it applies.
    Control(Control, oneshot::Sender<Result<(), ControlError>>),
    /// Start nothing new; answer once the attempts under way have finished.
    Stop(oneshot::Sender<()>),
    /// An attempt's result is on disk (wakes a draining engine).
    Recorded,
    /// Sweep for lost attempts now, as the timer would (answers when done).
    Sweep(oneshot::Sender<()>),
}

/// A control of a target by hand.
pub(super) struct Control {
    pub target: String,
    pub action: TargetControl,
    pub actor: String,
}

/// Why a control was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no target named {0:?} is configured")]
    UnknownTarget(String),
    #[error("the control could not be recorded: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the relay has stopped")]
    Stopped,
}

/// An attempt's result as health sees it.
#[derive(Debug, Clone)]
pub(super) struct Observation {
    pub target: String,
    pub ok: bool,
    pub fault: bool,
    pub latency_ms: u64,
    pub error: Option<String>,
}

#[derive(Default)]
struct TargetState {
    health: Health,
    reported: Option<HealthState>,
}

pub(super) struct Engine {
    /// What the engine shares with the attempts it starts.
    task: Task,
    intents: mpsc::Receiver<Intent>,
    targets: HashMap<String, TargetState>,
    /// In flight on disk without a running attempt at the last sweep.
    suspects: HashSet<ulid::Ulid>,
    /// Every target's health as of the last pass (`None` until the first).
    health: watch::Sender<Snapshot>,
}

/// What the engine publishes: every target's health, `None` before its first pass.
pub(super) type Snapshot = Option<Arc<Vec<HealthReport>>>;

impl Engine {
    pub fn new(
        task: Task,
        intents: mpsc::Receiver<Intent>,
        health: watch::Sender<Snapshot>,
    ) -> Self {
        Engine {
            task,
            intents,
            targets: HashMap::new(),
            suspects: HashSet::new(),
            health,
        }
    }

    pub async fn run(mut self) {
        self.restore_pauses().await;
        // Nothing runs yet: everything in flight on disk was cut off when hooklens last stopped.
        self.sweep(false).await;
        let mut outbox = self.task.store.subscribe_outbox();
        let mut live = self.task.live.clone();
        let mut live_open = true;
        let mut sweep = tokio::time::interval_at(Instant::now() + SWEEP_EVERY, SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wake_at = self.dispatch().await;
            self.publish();
            let sleep = async {
                match wake_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = outbox.changed() => if changed.is_err() { break },
                intent = self.intents.recv() => match intent {
                    Some(intent) => {
                        if let Some(stop) = self.handle_waiting(intent).await {
                            return self.drain(stop).await;
                        }
                    }
                    None => break,
                },
                // A closed configuration channel stays as it last was: stop listening to it
                // rather than wake on its error forever.
                changed = live.changed(), if live_open => live_open = changed.is_ok(),
                _ = sweep.tick() => self.sweep(true).await,
                _ = sleep => {}
            }
        }
    }

    /// Handles `first` and whatever else is waiting (up to [`MAX_INTENTS`]) before the next
    /// pass over the outbox: under load every attempt sends its result here, and a pass per
    /// message would let them pile up. Returns a stop request, handled last.
    async fn handle_waiting(&mut self, first: Intent) -> Option<oneshot::Sender<()>> {
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(intent) = next.take() {
            match intent {
                Intent::Stop(reply) => return Some(reply),
                intent => self.handle(intent).await,
            }
            handled += 1;
            if handled < MAX_INTENTS {
                next = self.intents.try_recv().ok();
            }
        }
        None
    }

    /// Waits for the attempts under way (each records its result), then answers.
    async fn drain(mut self, reply: oneshot::Sender<()>) {
        self.task.slots.stop();
        while self.task.slots.unrecorded() > 0 || self.task.slots.any_in_flight() {
            match self.intents.recv().await {
                Some(Intent::Stop(other)) => drop(other.send(())),
                Some(intent) => self.handle(intent).await,
                None => break,
            }
        }
        let _ = reply.send(());
    }

    /// Targets paused by hand stay paused across a restart.
    async fn restore_pauses(&mut self) {
        match self.task.store.read(|s| s.paused_targets()).await {
            Ok(paused) => {
                for (name, _) in paused {
                    let state = self.targets.entry(name).or_default();
                    state.health.paused = true;
                    state.reported = Some(HealthState::Paused);
                }
            }
            // Nothing is sent to a target that should be paused, at worst: every delivery is
            // kept, and the operator sees the error.
            Err(error) => tracing::error!(%error, "cannot read which targets are paused"),
        }
    }

    /// Recovers deliveries in flight on disk whose attempt is not running in this process: each
    /// gets an `interrupted` attempt, then retries by its policy. With `confirm`, only those that
    /// were already suspect at the last sweep (so a capture committing just now, whose hand-off
    /// is a moment away, is never taken for lost).
    async fn sweep(&mut self, confirm: bool) {
        let in_flight = match self.task.store.read(|s| s.in_flight()).await {
            Ok(list) => list,
            Err(error) => {
                tracing::error!(%error, "cannot read deliveries in flight");
                return;
            }
        };
        let mut suspects = HashSet::new();
        for (id, started_ms) in in_flight {
            if self.task.slots.is_running(id) {
                continue;
            }
            if confirm && !self.suspects.contains(&id) {
                suspects.insert(id);
                continue;
            }
            if confirm {
                tracing::warn!(delivery = %id, "an attempt in flight was lost; recovering it");
            }
            self.interrupt(id, started_ms).await;
        }
        self.suspects = suspects;
    }

    async fn interrupt(&mut self, id: ulid::Ulid, started_ms: u64) {
        let Ok(Some(record)) = self.task.store.read(move |s| s.delivery(id)).await else {
            return;
        };
        if record.state != crate::model::DeliveryState::InFlight {
            return; // its attempt ended between the two reads
        }
        let n = record.attempt_count + 1;
        let attempt = attempt::interrupted(n, started_ms, now());
        let retry = request::settings(&self.task.live.borrow().config, &record.target)
            .map(|t| t.retry)
            .unwrap_or_default();
        let decision = if record.proxy {
            // The sender of a proxied event heard an error; retrying is its job.
            Decision::Failed
        } else {
            decide(n, Outcome::Error, None, &retry)
        };
        if let Err(error) = self.task.writer.finish_attempt(id, attempt, decision).await {
            tracing::error!(%error, %id, "cannot record an interrupted attempt");
        }
    }

    /// Starts every attempt that is due and allowed, and tells the receiver's fast path which
    /// targets take new deliveries directly; returns when to look again at the latest.
    async fn dispatch(&mut self) -> Option<Instant> {
        let now = now();
        let now_ms = now.unix_millis();
        // Reads are short and never wait for the writer (redb's readers see the last commit).
        let pending = match self.task.store.read(|s| s.pending_targets()).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "cannot read the outbox");
                return Some(Instant::now() + STORE_RETRY);
            }
        };
        let live = self.task.live.borrow().clone();
        self.open_fast_path(&live.config.targets, &pending, now_ms);
        let mut earliest = Earliest::default();
        let mut starting: HashMap<ulid::Ulid, (Claim, TargetConfig)> = HashMap::new();
        for (name, due) in pending {
            let Some(target) = request::settings(&live.config, &name) else {
                continue; // no longer configured: its deliveries wait for it to return
            };
            let state = self.targets.entry(name.clone()).or_default();
            let limit = match state.health.gate(now_ms) {
                Gate::Paused => continue,
                Gate::ClosedUntil(at) => {
                    earliest.note(at);
                    continue;
                }
                Gate::Probe => 1,
                Gate::Open => target.concurrency as usize,
            };
            let due = i64::try_from(due).unwrap_or(i64::MAX);
            if due > now_ms {
                earliest.note(due);
                continue;
            }
            let claims = self.task.slots.take(&name, limit);
            if claims.is_empty() {
                continue; // a finishing attempt wakes us
            }
            let (target_name, limit) = (name.clone(), claims.len());
            let due = self
                .task
                .store
                .read(move |s| s.due(&target_name, now_ms as u64, limit))
                .await;
            let ids = match due {
                Ok(ids) => ids,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the outbox");
                    continue;
                }
            };
            starting.extend(
                ids.into_iter()
                    .zip(claims.into_iter().map(|c| (c, target.clone()))),
            );
        }
        if starting.is_empty() {
            return earliest.wake_at(now_ms);
        }
        // One commit marks every target's next attempts in flight.
        let ids = starting.keys().copied().collect();
        match self.task.writer.begin_attempts(ids, now).await {
            Ok(begun) => {
                for record in begun {
                    if let Some((claim, target)) = starting.remove(&record.id) {
                        self.task.start(record, target, claim, None);
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot start attempts");
                earliest.note(now_ms + STORE_RETRY.as_millis() as i64);
            }
        }
        earliest.wake_at(now_ms)
    }

    /// A new delivery may skip the outbox when its target's circuit lets everything through and
    /// nothing due is waiting for it (it would overtake older deliveries).
    fn open_fast_path(&mut self, targets: &[TargetConfig], pending: &[(String, u64)], now_ms: i64) {
        for target in targets {
            let state = self.targets.entry(target.name.clone()).or_default();
            let open = state.health.gate(now_ms) == Gate::Open;
            let waiting = pending.iter().any(|(name, due)| {
                *name == target.name && i64::try_from(*due).unwrap_or(0) <= now_ms
            });
            let limit = target.concurrency as usize;
            self.task
                .slots
                .set_direct(&target.name, open && !waiting, limit);
        }
        for name in self.targets.keys() {
            if !targets.iter().any(|t| t.name == *name) {
                self.task.slots.close(name);
            }
        }
    }

    async fn handle(&mut self, intent: Intent) {
        match intent {
            Intent::Observed(o, reply) => {
                let open_until = self.observe(o).await;
                // Published before anyone learns of the attempt from its answer: health read
                // after an `endpoint.health_changed` record shows that change.
                self.publish();
                if let Some(reply) = reply {
                    let _ = reply.send(open_until);
                }
            }
            Intent::Control(control, reply) => {
                let done = self.control(control).await;
                // Whoever asked reads the health next: it must show the change.
                self.publish();
                let _ = reply.send(done);
            }
            Intent::Stop(reply) => drop(reply.send(())),
            Intent::Recorded => {}
            Intent::Sweep(reply) => {
                self.sweep(true).await;
                let _ = reply.send(());
            }
        }
    }

    /// Publishes every target's health (configured, or known from deliveries) when it moved:
    /// readers take the latest snapshot without asking the engine, which may be busy.
    fn publish(&self) {
        let live = self.task.live.borrow().clone();
        let mut names: Vec<String> = live.config.targets.iter().map(|t| t.name.clone()).collect();
        for name in self.targets.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let reports: Vec<HealthReport> = names
            .iter()
            .map(|n| {
                let url = request::settings(&live.config, n)
                    .map(|t| crate::text::redact_url(&t.url).into_owned());
                let in_flight = self.task.slots.in_flight(n);
                match self.targets.get(n) {
                    Some(s) => s.health.report(n, url, in_flight),
                    None => Health::default().report(n, url, in_flight),
                }
            })
            .collect();
        self.health.send_if_modified(|old| {
            let moved = old.as_deref().is_none_or(|old| *old != reports);
            if moved {
                *old = Some(Arc::new(reports));
            }
            moved
        });
    }

    async fn control(&mut self, control: Control) -> Result<(), ControlError> {
        let Control {
            target,
            action,
            actor,
        } = control;
        let known = request::settings(&self.task.live.borrow().config, &target).is_some();
        if !known {
            return Err(ControlError::UnknownTarget(target));
        }
        let now_ms = now().unix_millis();
        let state = self.targets.entry(target.clone()).or_default();
        let cooldown_until = match action {
            TargetControl::Probe => state
                .health
                .open_until()
                .filter(|until| *until > now_ms)
                .map(Timestamp::from_unix_millis),
            _ => None,
        };
        // On disk first: a pause that was answered survives a crash the moment after.
        self.task
            .writer
            .control(&target, action, &actor, cooldown_until)
            .await?;
        let state = self.targets.entry(target.clone()).or_default();
        match action {
            TargetControl::Pause => {
                state.health.paused = true;
                self.task.slots.close(&target);
            }
            TargetControl::Resume => state.health.paused = false,
            TargetControl::Probe => {
                state.health.probe_now(now_ms);
            }
        }
        self.report_change(&target).await;
        Ok(())
    }

    /// Records an attempt's result; returns until when the target's circuit is open after it.
    async fn observe(&mut self, o: Observation) -> Option<i64> {
        let circuit = (self.task.live.borrow().config.target(&o.target))
            .map(|t| t.circuit.clone())
            .unwrap_or_default();
        let state = self.targets.entry(o.target.clone()).or_default();
        let now = now();
        state
            .health
            .record(o.ok, o.fault, o.latency_ms, o.error, now, &circuit);
        if state.health.gate(now.unix_millis()) != Gate::Open {
            // Before the next pass: no new delivery may go straight to a failing target.
            self.task.slots.close(&o.target);
        }
        let open_until = state.health.open_until();
        self.report_change(&o.target).await;
        open_until
    }

    /// Logs `endpoint.health_changed` when a target's state moved.
    async fn report_change(&mut self, target: &str) {
        let Some(state) = self.targets.get_mut(target) else {
            return;
        };
        let current = state.health.state();
        let before = state.reported.replace(current);
        if before.unwrap_or(HealthState::Healthy) != current {
            let record = Lifecycle::HealthChanged {
                at: now(),
                target: target.to_owned(),
                state: current.as_str().to_owned(),
            };
            let _ = self.task.writer.log(record).await;
        }
    }
}

/// What an attempt task needs.
#[derive(Clone)]
pub(super) struct Task {
    pub store: Store,
    pub writer: Writer,
    pub live: LiveRx,
    pub clients: Clients,
    pub done: mpsc::Sender<Intent>,
    pub slots: Slots,
    /// The engine and every attempt task: stopped and waited for by the relay's shutdown.
    pub attempts: Tracked,
}

impl Task {
    /// Sends one attempt of a delivery already in flight on disk, holding `claim` until the
    /// consumer has answered. `event`: the event when the caller has it at hand (else it is read
    /// from the store).
    pub fn start(
        &self,
        record: DeliveryRecord,
        target: TargetConfig,
        claim: Claim,
        event: Option<(Arc<EventMeta>, Bytes)>,
    ) {
        self.slots.started();
        let running = self.slots.run(record.id);
        let task = self.clone();
        self.attempts
            .spawn(deliver(task, record, target, claim, event, running));
    }
}

/// One attempt of one delivery, start to finish.
async fn deliver(
    task: Task,
    record: DeliveryRecord,
    target: TargetConfig,
    claim: Claim,
    event: Option<(Arc<EventMeta>, Bytes)>,
    running: Running,
) {
    let n = record.attempt_count + 1;
    let event = match event {
        Some(event) => Ok(Some(event)),
        None => {
            let id = record.event_id;
            task.store
                .read(move |s| s.get_event(id))
                .await
                .map(|found| found.map(|(meta, body)| (Arc::new(meta), Bytes::from(body))))
        }
    };
    let (attempt, outcome, retry_after, latency) = match event {
        Ok(Some((meta, body))) => {
            let live = task.live.borrow().clone();
            let out = request::build(&live, &target, &record, &meta, body, now().unix_secs());
            let mut sent = attempt::send(&task.clients, out, n, limits(&target, None)).await;
            let latency = sent.attempt.duration_ms;
            request::refuse_own_loop(&live, &mut sent);
            (sent.attempt, sent.outcome, sent.retry_after, latency)
        }
        Ok(None) => {
            // Pruned while queued: nothing left to send.
            let mut a = attempt::interrupted(n, now().unix_millis() as u64, now());
            a.error = Some("event_pruned".into());
            a.note = None;
            (a, Outcome::Status(410), None, 0)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read an event to deliver; will retry");
            let mut a = attempt::interrupted(n, now().unix_millis() as u64, now());
            a.error = Some("store_unavailable".into());
            a.note = None;
            (a, Outcome::Error, None, 0)
        }
    };
    // The consumer is done with this request: its concurrency slot is free while the result is
    // written (which waits for a commit shared with everything else being captured).
    drop(claim);
    let mut decision = decide(n, outcome, retry_after, &target.retry);
    let observation = Observation {
        target: record.target.clone(),
        ok: matches!(outcome, Outcome::Status(s) if (200..300).contains(&s)),
        fault: is_fault(outcome),
        latency_ms: latency,
        error: attempt
            .error
            .clone()
            .or_else(|| attempt.status.map(|s| format!("status {s}"))),
    };
    let (reply, open_until) = oneshot::channel();
    let wants = matches!(decision, Decision::RetryAt(_)).then_some(reply);
    if task
        .done
        .send(Intent::Observed(observation, wants))
        .await
        .is_ok()
        && let Decision::RetryAt(at) = decision
        && let Ok(Some(until)) = open_until.await
        && until > at.unix_millis()
    {
        // While the circuit is open nothing is tried: the next attempt is when it reopens.
        decision = Decision::RetryAt(Timestamp::from_unix_millis(until));
    }
    if let Err(error) = task
        .writer
        .finish_attempt(record.id, attempt, decision)
        .await
    {
        // The delivery stays in flight on disk and is recovered at the next start.
        tracing::error!(%error, delivery = %record.id, "cannot record an attempt");
    }
    drop(running);
    task.slots.recorded();
    let _ = task.done.send(Intent::Recorded).await;
}

/// Failures that say the consumer is unreachable or failing (and open the circuit).
pub(super) fn is_fault(outcome: Outcome) -> bool {
    match outcome {
        Outcome::Error => true,
        Outcome::Status(s) => s >= 500 || s == 408 || s == 429,
        Outcome::Refused => false,
    }
}

pub(super) fn limits(target: &crate::config::TargetConfig, read_bytes: Option<usize>) -> Limits {
    let keep = usize::try_from(target.max_response_bytes).unwrap_or(usize::MAX);
    Limits {
        timeout: Duration::from_millis(target.timeout_ms),
        follow_redirects: target.follow_redirects,
        keep_bytes: keep,
        read_bytes: read_bytes.unwrap_or(keep).max(keep),
    }
}

/// The soonest time (unix ms) something waiting becomes possible.
#[derive(Default)]
struct Earliest(Option<i64>);

impl Earliest {
    fn note(&mut self, at: i64) {
        self.0 = Some(self.0.map_or(at, |e| e.min(at)));
    }

    fn wake_at(&self, now_ms: i64) -> Option<Instant> {
        self.0.map(|at| {
            let wait = u64::try_from(at - now_ms).unwrap_or(0);
            Instant::now() + Duration::from_millis(wait)
        })
    }
}

/// The policy's verdict as the store records it.
pub(super) fn decide(
    n: u32,
    outcome: Outcome,
    retry_after: Option<Duration>,
    retry: &crate::config::RetryConfig,
) -> Decision {
    let jitter = getrandom::u32().map_or(0.5, |r| f64::from(r) / (f64::from(u32::MAX) + 1.0));
    match policy::next(n, outcome, retry_after, retry, jitter) {
        Next::Succeeded => Decision::Succeeded,
        Next::Failed => Decision::Failed,
        Next::Dead => Decision::Dead,
        Next::RetryAfter(wait) => {
            let at = now().unix_millis() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            Decision::RetryAt(Timestamp::from_unix_millis(at))
        }
    }
}
