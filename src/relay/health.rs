//! Endpoint health per target: a circuit breaker (open after consecutive failures, one probe after
//! a cool-down), pause by hand, and the figures an operator reads (success rate over a recent
//! window, p50/p95 latency, last success, last error).

use crate::config::CircuitConfig;
use crate::model::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Attempts the success rate and latencies are computed over.
const WINDOW: usize = 100;
/// Consecutive successes after which a target is `healthy` again, whatever the window still
/// remembers of its failures: an operator wants to see that it recovered, not wait 100 attempts.
pub const RECOVERED_AFTER: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Healthy,
    Degraded,
    /// Circuit open.
    Down,
    Paused,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Down => "down",
            HealthState::Paused => "paused",
        }
    }
}

/// What the circuit lets through now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Up to the concurrency limit.
    Open,
    /// One probe attempt.
    Probe,
    /// Nothing until this time (unix ms).
    ClosedUntil(i64),
    Paused,
}

#[derive(Debug, Clone, Default)]
pub struct Health {
    recent: VecDeque<(bool, u64)>,
    consecutive_failures: u32,
    consecutive_successes: u32,
    /// Unix ms until which the circuit is open.
    open_until: Option<i64>,
    pub paused: bool,
    pub last_success: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// A snapshot for the control API (`GET /api/v1/endpoints`), `targets list` and the interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    pub name: String,
    /// The target's URL, its password (if any) shown as `***`; null for a target no longer
    /// configured (its deliveries wait for it to return).
    pub url: Option<String>,
    pub state: HealthState,
    pub paused: bool,
    pub success_rate: Option<f64>,
    pub consecutive_failures: u32,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    /// Deliveries waiting in the outbox (queued or waiting to retry).
    pub queued: u64,
    pub in_flight: usize,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// While the circuit is open: when it lets a probe through (every waiting delivery's next
    /// attempt).
    pub circuit_open_until: Option<Timestamp>,
}

impl Health {
    pub fn gate(&self, now_ms: i64) -> Gate {
        if self.paused {
            return Gate::Paused;
        }
        match self.open_until {
            None => Gate::Open,
            Some(until) if now_ms < until => Gate::ClosedUntil(until),
            Some(_) => Gate::Probe,
        }
    }

    /// Records an attempt's result: `ok` when the consumer took the event (2xx), `fault` when
    /// it could not be reached or failed (error, 5xx, 408, 429) — the failures that open the
    /// circuit. A 4xx refusal is neither: it lowers the success rate, but it is an answer, so
    /// it closes the circuit like a success.
    pub fn record(
        &mut self,
        ok: bool,
        fault: bool,
        latency_ms: u64,
        error: Option<String>,
        now: Timestamp,
        circuit: &CircuitConfig,
    ) {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back((ok, latency_ms));
        if ok {
            self.consecutive_successes = self.consecutive_successes.saturating_add(1);
        } else {
            self.consecutive_successes = 0;
            self.last_error = error;
        }
        if !fault {
            if ok {
                self.last_success = Some(now);
            }
            self.consecutive_failures = 0;
            self.open_until = None;
        } else {
            self.consecutive_failures += 1;
            let probe_failed = self.open_until.is_some();
            if probe_failed || self.consecutive_failures >= circuit.failures.max(1) {
                let cooldown = i64::try_from(circuit.cooldown_ms).unwrap_or(i64::MAX);
                self.open_until = Some(now.unix_millis().saturating_add(cooldown));
            }
        }
    }

    pub fn state(&self) -> HealthState {
        if self.paused {
            HealthState::Paused
        } else if self.open_until.is_some() {
            HealthState::Down
        } else if self.consecutive_failures > 0
            || (self.consecutive_successes < RECOVERED_AFTER
                && self.success_rate().is_some_and(|r| r < 0.95))
        {
            HealthState::Degraded
        } else {
            HealthState::Healthy
        }
    }

    /// "Probe now": ends the circuit's cool-down, so the next due delivery is tried at once.
    /// False when the circuit is not open (nothing to end).
    pub fn probe_now(&mut self, now_ms: i64) -> bool {
        match self.open_until {
            Some(until) if until > now_ms => {
                self.open_until = Some(now_ms);
                true
            }
            _ => false,
        }
    }

    /// Until when the circuit is open (unix ms); `None` while it is closed.
    pub fn open_until(&self) -> Option<i64> {
        self.open_until
    }

    pub fn success_rate(&self) -> Option<f64> {
        if self.recent.is_empty() {
            return None;
        }
        let ok = self.recent.iter().filter(|(ok, _)| *ok).count();
        Some(ok as f64 / self.recent.len() as f64)
    }

    /// The snapshot of one target; `queued` is left for the caller (it lives in the store).
    pub fn report(&self, name: &str, url: Option<String>, in_flight: usize) -> HealthReport {
        let mut latencies: Vec<u64> = self.recent.iter().map(|(_, ms)| *ms).collect();
        latencies.sort_unstable();
        let pct = |p: f64| {
            (!latencies.is_empty())
                .then(|| latencies[((latencies.len() - 1) as f64 * p).round() as usize])
        };
        HealthReport {
            name: name.to_owned(),
            url,
            state: self.state(),
            paused: self.paused,
            success_rate: self.success_rate(),
            consecutive_failures: self.consecutive_failures,
            p50_ms: pct(0.5),
            p95_ms: pct(0.95),
            queued: 0,
            in_flight,
            last_success_at: self.last_success,
            last_error: self.last_error.clone(),
            circuit_open_until: self.open_until.map(Timestamp::from_unix_millis),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_circuit_opens_after_consecutive_failures_probes_after_the_cooldown_and_closes_on_success()
     {
        let circuit = CircuitConfig {
            failures: 3,
            cooldown_ms: 1_000,
        };
        let t = Timestamp::from_unix_millis;
        let mut h = Health::default();
        let fault =
            |h: &mut Health, ms| h.record(false, true, 5, Some("timeout".into()), t(ms), &circuit);
        assert_eq!(h.state(), HealthState::Healthy);
        fault(&mut h, 0);
        fault(&mut h, 10);
        assert_eq!(h.state(), HealthState::Degraded);
        assert_eq!(h.gate(10), Gate::Open);
        // A 4xx refusal is an answer: the count of consecutive faults starts again.
        h.record(false, false, 5, Some("status 400".into()), t(12), &circuit);
        assert_eq!(h.report("t", None, 0).consecutive_failures, 0);
        fault(&mut h, 14);
        fault(&mut h, 16);
        assert_eq!(h.gate(16), Gate::Open);
        fault(&mut h, 20);
        assert_eq!(h.state(), HealthState::Down);
        assert_eq!(h.gate(500), Gate::ClosedUntil(1_020));
        assert_eq!(h.gate(1_020), Gate::Probe);
        // A failed probe opens it again for a whole cool-down.
        h.record(false, true, 5, None, t(1_030), &circuit);
        assert_eq!(h.gate(1_040), Gate::ClosedUntil(2_030));
        h.record(true, false, 7, None, t(2_100), &circuit);
        assert_eq!(h.gate(2_100), Gate::Open);
        assert_eq!(h.report("t", None, 0).consecutive_failures, 0);
        h.paused = true;
        assert_eq!(
            (h.gate(2_100), h.state()),
            (Gate::Paused, HealthState::Paused)
        );
    }

    #[test]
    fn a_target_that_answers_again_is_healthy_after_a_few_successes_not_a_whole_window() {
        let circuit = CircuitConfig {
            failures: 100,
            cooldown_ms: 1_000,
        };
        let t = Timestamp::from_unix_millis;
        let mut h = Health::default();
        for ms in 0..20 {
            h.record(false, true, 5, Some("status 503".into()), t(ms), &circuit);
        }
        for n in 1..RECOVERED_AFTER {
            h.record(true, false, 5, None, t(100 + i64::from(n)), &circuit);
            assert_eq!(h.state(), HealthState::Degraded, "after {n} successes");
        }
        h.record(true, false, 5, None, t(200), &circuit);
        assert!(
            h.success_rate().unwrap() < 0.95,
            "the window still remembers"
        );
        assert_eq!(h.state(), HealthState::Healthy);
        // One more failure makes it degraded again at once.
        h.record(false, true, 5, Some("timeout".into()), t(300), &circuit);
        assert_eq!(h.state(), HealthState::Degraded);
    }

    #[test]
    fn probe_now_ends_the_cooldown_of_an_open_circuit_only() {
        let circuit = CircuitConfig {
            failures: 1,
            cooldown_ms: 60_000,
        };
        let mut h = Health::default();
        assert!(!h.probe_now(0), "closed: nothing to end");
        h.record(
            false,
            true,
            5,
            None,
            Timestamp::from_unix_millis(0),
            &circuit,
        );
        assert_eq!(h.gate(10), Gate::ClosedUntil(60_000));
        assert!(h.probe_now(10));
        assert_eq!(h.gate(10), Gate::Probe);
        assert_eq!(h.state(), HealthState::Down, "down until the probe answers");
    }
}
