//! The domain: events, verifications, deliveries and the lifecycle vocabulary, in the shapes the
//! contract (DESIGN.md, "Formats") prints them.

mod detail;
mod header;
mod lifecycle;
mod timefmt;

pub use detail::{EventDetail, REDACTED, is_secret_header, redact};
pub use header::{Header, HeaderValue};
pub use lifecycle::{Lifecycle, VerificationSummary};
pub use timefmt::{Timestamp, now};

use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// An event as stored (everything but the body, which lives in its own table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMeta {
    pub id: Ulid,
    pub received_at: Timestamp,
    pub route: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<Header>,
    pub body_sha256: String,
    pub body_len: u64,
    pub remote_addr: String,
    pub event_type: Option<String>,
    pub dedupe_key: Option<String>,
    pub duplicate_of: Option<Ulid>,
    pub resend_of: Option<Ulid>,
    pub verification: Verification,
    /// Names of captured headers whose value may be a secret beyond `authorization` and
    /// `cookie` (a `header-secret` route's header); shown as `[redacted]` unless revealed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_headers: Vec<String>,
    /// Loaded by `hooklens import` from someone's export, not received here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

/// What a signature check found, with the evidence that explains it. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub scheme: Option<String>,
    pub verdict: Verdict,
    /// Label of the secret that matched; `None` when none did.
    pub secret: Option<String>,
    /// The sender's timestamp exactly as sent.
    pub timestamp: Option<String>,
    /// Received time minus signed time, in seconds.
    pub skew_secs: Option<i64>,
    pub received: Option<String>,
    pub expected: Option<String>,
    /// What was signed, with the body written as `{body}`.
    pub signed_content: Option<String>,
    pub diagnosis: Option<Diagnosis>,
}

impl Verification {
    /// A verification with only a verdict (and maybe a scheme): no evidence.
    pub fn bare(scheme: Option<&str>, verdict: Verdict) -> Self {
        Verification {
            scheme: scheme.map(str::to_owned),
            verdict,
            secret: None,
            timestamp: None,
            skew_secs: None,
            received: None,
            expected: None,
            signed_content: None,
            diagnosis: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Verified,
    Mismatch,
    Missing,
    Malformed,
    Stale,
    NoSecret,
    Unsigned,
}

impl Verdict {
    /// A verdict that `reject_invalid` answers with 401.
    pub fn is_invalid(self) -> bool {
        matches!(
            self,
            Verdict::Mismatch | Verdict::Missing | Verdict::Malformed | Verdict::Stale
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Mismatch => "mismatch",
            Verdict::Missing => "missing",
            Verdict::Malformed => "malformed",
            Verdict::Stale => "stale",
            Verdict::NoSecret => "no_secret",
            Verdict::Unsigned => "unsigned",
        }
    }
}

/// The usual mistake that explains a failed verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub code: String,
    pub message: String,
}

/// Summary of an event's deliveries, as `events list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveriesState {
    None,
    Pending,
    Succeeded,
    Partial,
    Failed,
    Dead,
}

/// One line of `events list --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    pub id: Ulid,
    pub received_at: Timestamp,
    pub route: String,
    pub method: String,
    pub path: String,
    pub event_type: Option<String>,
    pub verdict: Verdict,
    pub deliveries_state: DeliveriesState,
}

impl EventSummary {
    pub fn of(meta: &EventMeta, deliveries_state: DeliveriesState) -> Self {
        EventSummary {
            id: meta.id,
            received_at: meta.received_at,
            route: meta.route.clone(),
            method: meta.method.clone(),
            path: meta.path.clone(),
            event_type: meta.event_type.clone(),
            verdict: meta.verification.verdict,
            deliveries_state,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Queued,
    InFlight,
    Succeeded,
    RetryScheduled,
    Failed,
    Dead,
}

/// One event on its way to one target, as the contract shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: Ulid,
    pub target: String,
    pub state: DeliveryState,
    pub replay_of: Option<Ulid>,
    pub next_attempt_at: Option<Timestamp>,
    pub attempts: Vec<Attempt>,
}

/// How a delivery presents the event to its consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendMode {
    /// The target's own signing: the sender's headers passed through, or re-signed by the target.
    Target,
    /// A replay: re-signed with the route's scheme and secret and a fresh timestamp when the
    /// route has a secret (so timestamped schemes pass the consumer's tolerance), else as received.
    Replay,
    /// The original headers exactly as received (`--as-received`).
    AsReceived,
}

/// A delivery as stored: the contract's fields and what the relay needs to make each attempt.
/// Attempts live in their own table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: Ulid,
    pub event_id: Ulid,
    pub target: String,
    /// Set for a replay `--to URL`; else the target's URL.
    pub url: Option<String>,
    pub state: DeliveryState,
    pub replay_of: Option<Ulid>,
    pub next_attempt_at: Option<Timestamp>,
    /// The delivery id the consumer sees where the relay signs (e.g. `X-Zentra-Delivery-Id`,
    /// `webhook-id`): this delivery's own id; the sender's own id for a passed-through delivery;
    /// for a duplicate, the id the consumer saw the first time.
    pub wire_id: String,
    pub mode: SendMode,
    pub duplicate: bool,
    /// Made by a `proxy` route: one attempt, whatever it answers.
    pub proxy: bool,
    /// Attempts made so far.
    pub attempt_count: u32,
}

impl Delivery {
    /// A delivery waiting for a target whose circuit is open until `reopens` is tried then,
    /// not before: its `next_attempt_at` says so.
    pub fn wait_for_circuit(&mut self, reopens: Timestamp) {
        let waiting = matches!(
            self.state,
            DeliveryState::Queued | DeliveryState::RetryScheduled
        );
        if waiting && self.next_attempt_at.is_none_or(|at| at < reopens) {
            self.next_attempt_at = Some(reopens);
        }
    }
}

impl DeliveryRecord {
    pub fn view(&self, attempts: Vec<Attempt>) -> Delivery {
        Delivery {
            id: self.id,
            target: self.target.clone(),
            state: self.state,
            replay_of: self.replay_of,
            next_attempt_at: self.next_attempt_at,
            attempts,
        }
    }
}

impl DeliveryState {
    /// Still on its way: queued, in flight or waiting to retry.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            DeliveryState::Queued | DeliveryState::InFlight | DeliveryState::RetryScheduled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::InFlight => "in_flight",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::RetryScheduled => "retry_scheduled",
            DeliveryState::Failed => "failed",
            DeliveryState::Dead => "dead",
        }
    }
}

impl DeliveriesState {
    /// The summary of an event's deliveries (`none` without any).
    pub fn of(states: impl IntoIterator<Item = DeliveryState>) -> Self {
        let (mut n, mut pending, mut ok, mut dead) = (0, 0, 0, 0);
        for s in states {
            n += 1;
            match s {
                s if s.is_pending() => pending += 1,
                DeliveryState::Succeeded => ok += 1,
                DeliveryState::Dead => dead += 1,
                _ => {}
            }
        }
        match () {
            _ if n == 0 => DeliveriesState::None,
            _ if pending > 0 => DeliveriesState::Pending,
            _ if ok == n => DeliveriesState::Succeeded,
            _ if ok > 0 => DeliveriesState::Partial,
            _ if dead == n => DeliveriesState::Dead,
            _ => DeliveriesState::Failed,
        }
    }
}

/// One try at delivering: a response, or an error kind.
/// What an operator does to a target by hand (an audit record's `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetControl {
    /// No attempt starts until resumed; persisted, so it survives a restart.
    Pause,
    Resume,
    /// End the circuit's cool-down now: the next due delivery is tried at once.
    Probe,
}

impl TargetControl {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetControl::Pause => "pause",
            TargetControl::Resume => "resume",
            TargetControl::Probe => "probe",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub n: u32,
    pub started_at: Timestamp,
    pub duration_ms: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response_headers: Vec<Header>,
    pub response_body_base64: Option<String>,
    pub response_size: Option<u64>,
    /// What the relay did beyond passing the event through (e.g. re-signed with a fresh timestamp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
