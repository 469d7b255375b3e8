//! The lifecycle vocabulary: one object per thing that happened, shared by the lifecycle log, the
//! headless output, the stream and the interface.

use super::{Diagnosis, EventMeta, Timestamp, Verdict, Verification};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// The part of a verification that travels with `event.received`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationSummary {
    pub scheme: Option<String>,
    pub verdict: Verdict,
    pub secret: Option<String>,
    pub diagnosis: Option<Diagnosis>,
}

impl From<&Verification> for VerificationSummary {
    fn from(v: &Verification) -> Self {
        VerificationSummary {
            scheme: v.scheme.clone(),
            verdict: v.verdict,
            secret: v.secret.clone(),
            diagnosis: v.diagnosis.clone(),
        }
    }
}

/// One lifecycle record. Serialized with its `type` tag, exactly as a headless line.
// Records are built once and serialized at once; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Lifecycle {
    #[serde(rename = "event.received")]
    EventReceived {
        at: Timestamp,
        event_id: Ulid,
        route: String,
        method: String,
        path: String,
        event_type: Option<String>,
        dedupe_key: Option<String>,
        duplicate_of: Option<Ulid>,
        resend_of: Option<Ulid>,
        verification: VerificationSummary,
    },
    #[serde(rename = "event.rejected")]
    EventRejected {
        at: Timestamp,
        route: String,
        method: String,
        path: String,
        status: u16,
        reason: String,
        /// How many identical rejections (route, status, reason) this record stands for: a
        /// burst is folded into one record a second.
        #[serde(default = "one")]
        count: u64,
    },
    #[serde(rename = "event.delivery.queued")]
    DeliveryQueued {
        at: Timestamp,
        event_id: Ulid,
        delivery_id: Ulid,
        target: String,
    },
    #[serde(rename = "event.delivery.attempted")]
    DeliveryAttempted {
        at: Timestamp,
        event_id: Ulid,
        delivery_id: Ulid,
        target: String,
        attempt: u32,
        status: Option<u16>,
        error: Option<String>,
        duration_ms: u64,
        next_attempt_at: Option<Timestamp>,
    },
    #[serde(rename = "event.delivery.succeeded")]
    DeliverySucceeded {
        at: Timestamp,
        event_id: Ulid,
        delivery_id: Ulid,
        target: String,
        attempts: u32,
    },
    #[serde(rename = "event.delivery.failed")]
    DeliveryFailed {
        at: Timestamp,
        event_id: Ulid,
        delivery_id: Ulid,
        target: String,
        attempts: u32,
    },
    #[serde(rename = "event.delivery.dead")]
    DeliveryDead {
        at: Timestamp,
        event_id: Ulid,
        delivery_id: Ulid,
        target: String,
        attempts: u32,
    },
    #[serde(rename = "event.replayed")]
    EventReplayed {
        at: Timestamp,
        event_id: Ulid,
        delivery_id: Ulid,
        target: String,
        replay_of: Option<Ulid>,
        duplicate: bool,
    },
    #[serde(rename = "webhook.endpoint.created")]
    EndpointCreated {
        at: Timestamp,
        target: String,
        state: String,
    },
    #[serde(rename = "endpoint.health_changed")]
    HealthChanged {
        at: Timestamp,
        target: String,
        state: String,
    },
    /// Who did what to which event or target: the audit trail, in the same log.
    #[serde(rename = "audit")]
    Audit {
        at: Timestamp,
        actor: String,
        action: String,
        event_id: Option<Ulid>,
        delivery_id: Option<Ulid>,
        target: Option<String>,
    },
    #[serde(rename = "config.reloaded")]
    ConfigReloaded {
        at: Timestamp,
        path: String,
        error: Option<String>,
        restart_required: Vec<String>,
    },
    #[serde(rename = "config.rejected")]
    ConfigRejected {
        at: Timestamp,
        path: String,
        error: Option<String>,
    },
}

fn one() -> u64 {
    1
}

impl Lifecycle {
    /// The event the record is about, where it is about one.
    pub fn event_id(&self) -> Option<Ulid> {
        match self {
            Lifecycle::EventReceived { event_id, .. }
            | Lifecycle::DeliveryQueued { event_id, .. }
            | Lifecycle::DeliveryAttempted { event_id, .. }
            | Lifecycle::DeliverySucceeded { event_id, .. }
            | Lifecycle::DeliveryFailed { event_id, .. }
            | Lifecycle::DeliveryDead { event_id, .. }
            | Lifecycle::EventReplayed { event_id, .. } => Some(*event_id),
            Lifecycle::Audit { event_id, .. } => *event_id,
            _ => None,
        }
    }

    /// The target the record is about, where it is about one.
    pub fn target(&self) -> Option<&str> {
        match self {
            Lifecycle::DeliveryQueued { target, .. }
            | Lifecycle::DeliveryAttempted { target, .. }
            | Lifecycle::DeliverySucceeded { target, .. }
            | Lifecycle::DeliveryFailed { target, .. }
            | Lifecycle::DeliveryDead { target, .. }
            | Lifecycle::EventReplayed { target, .. }
            | Lifecycle::EndpointCreated { target, .. }
            | Lifecycle::HealthChanged { target, .. } => Some(target),
            Lifecycle::Audit { target, .. } => target.as_deref(),
            _ => None,
        }
    }

    /// The `event.received` record of a stored event.
    pub fn received(e: &EventMeta) -> Self {
        Lifecycle::EventReceived {
            at: e.received_at,
            event_id: e.id,
            route: e.route.clone(),
            method: e.method.clone(),
            path: e.path.clone(),
            event_type: e.event_type.clone(),
            dedupe_key: e.dedupe_key.clone(),
            duplicate_of: e.duplicate_of,
            resend_of: e.resend_of,
            verification: VerificationSummary::from(&e.verification),
        }
    }
}
