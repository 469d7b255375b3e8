//! Per-target concurrency slots, shared by the engine and the receiver's fast path.
//!
//! A delivery normally waits in the outbox until the engine marks it in flight (one durable
//! commit) and sends it. When its target has a free slot and nothing already waiting, the
//! receiver claims the slot before the capture is written instead: the writer marks the delivery
//! in flight in the capture's own transaction and the attempt starts the moment the event is on
//! disk — one commit per delivery instead of two, and no outbox read.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use ulid::Ulid;

#[derive(Clone, Default)]
pub(super) struct Slots {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    targets: Mutex<HashMap<String, Slot>>,
    /// Set once the relay stops: no new attempt starts.
    stopped: AtomicBool,
    /// Attempts started whose result is not on disk yet.
    unrecorded: AtomicUsize,
    /// Deliveries whose attempt is running in this process: an in-flight delivery on disk that
    /// is not here lost its attempt (see the engine's sweep).
    running: Mutex<HashSet<Ulid>>,
}

/// Marks a delivery's attempt as running until dropped (after its result is recorded).
pub(super) struct Running {
    slots: Slots,
    id: Ulid,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.slots.running().remove(&self.id);
    }
}

#[derive(Debug, Default)]
struct Slot {
    in_flight: usize,
    limit: usize,
    /// Whether a new delivery may skip the outbox: the circuit lets everything through and no
    /// delivery is due and waiting (so none is overtaken).
    direct: bool,
}

/// One concurrency slot of a target, held while an attempt talks to its consumer; dropping it
/// frees the slot.
pub struct Claim {
    slots: Slots,
    target: String,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("target", &self.target)
            .finish()
    }
}

impl Claim {
    pub fn target(&self) -> &str {
        &self.target
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(slot) = self.slots.lock().get_mut(&self.target) {
            slot.in_flight = slot.in_flight.saturating_sub(1);
        }
    }
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding this lock leaves only counters behind; they stay usable.
        self.inner
            .targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The receiver's fast path: a slot when the target takes new deliveries directly.
    pub fn claim(&self, target: &str) -> Option<Claim> {
        if self.inner.stopped.load(Ordering::Acquire) {
            return None;
        }
        let mut targets = self.lock();
        let slot = targets.get_mut(target)?;
        if !slot.direct || slot.in_flight >= slot.limit {
            return None;
        }
        slot.in_flight += 1;
        drop(targets);
        Some(self.claim_taken(target))
    }

    /// The engine's path: every slot free under `limit` in flight.
    pub fn take(&self, target: &str, limit: usize) -> Vec<Claim> {
        let taken = {
            let mut targets = self.lock();
            let slot = targets.entry(target.to_owned()).or_default();
            let n = limit.saturating_sub(slot.in_flight);
            slot.in_flight += n;
            n
        };
        (0..taken).map(|_| self.claim_taken(target)).collect()
    }

    fn claim_taken(&self, target: &str) -> Claim {
        Claim {
            slots: self.clone(),
            target: target.to_owned(),
        }
    }

    pub fn in_flight(&self, target: &str) -> usize {
        self.lock().get(target).map_or(0, |s| s.in_flight)
    }

    pub fn any_in_flight(&self) -> bool {
        self.lock().values().any(|s| s.in_flight > 0)
    }

    /// Whether new deliveries to `target` may skip the outbox, and its concurrency limit.
    pub fn set_direct(&self, target: &str, direct: bool, limit: usize) {
        let mut targets = self.lock();
        let slot = targets.entry(target.to_owned()).or_default();
        slot.direct = direct;
        slot.limit = limit;
    }

    /// Closes the fast path of one target at once (a failing circuit, a pause, a removed
    /// target); the engine's next pass decides again through [`Slots::set_direct`].
    pub fn close(&self, target: &str) {
        if let Some(slot) = self.lock().get_mut(target) {
            slot.direct = false;
        }
    }

    fn running(&self) -> MutexGuard<'_, HashSet<Ulid>> {
        self.inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the attempt of delivery `id` as running in this process.
    pub fn run(&self, id: Ulid) -> Running {
        self.running().insert(id);
        Running {
            slots: self.clone(),
            id,
        }
    }

    pub fn is_running(&self, id: Ulid) -> bool {
        self.running().contains(&id)
    }

    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::Release);
    }

    pub fn started(&self) {
        self.inner.unrecorded.fetch_add(1, Ordering::AcqRel);
    }

    pub fn recorded(&self) {
        self.inner.unrecorded.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn unrecorded(&self) -> usize {
        self.inner.unrecorded.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_only_open_targets_with_a_free_slot() {
        let slots = Slots::default();
        assert!(slots.claim("app").is_none(), "unknown target");
        slots.set_direct("app", true, 2);
        let a = slots.claim("app").expect("first slot");
        let b = slots.claim("app").expect("second slot");
        assert!(slots.claim("app").is_none(), "limit reached");
        assert_eq!(slots.in_flight("app"), 2);
        drop(a);
        assert_eq!(slots.in_flight("app"), 1);
        slots.close("app");
        assert!(slots.claim("app").is_none(), "closed by the engine");
        drop(b);
        assert!(!slots.any_in_flight());
    }

    #[test]
    fn engine_takes_what_the_limit_leaves_and_stop_ends_the_fast_path() {
        let slots = Slots::default();
        slots.set_direct("app", true, 3);
        let held = slots.claim("app").expect("slot");
        let taken = slots.take("app", 3);
        assert_eq!(taken.len(), 2);
        assert!(slots.take("app", 3).is_empty(), "all three are held");
        drop(taken);
        assert_eq!(slots.take("app", 3).len(), 2, "dropped claims were freed");
        drop(held);
        slots.stop();
        assert!(slots.claim("app").is_none());
    }
}
