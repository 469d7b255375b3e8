//! The stored forms of the model's small types (verification, verdict, delivery state, send
//! mode): enums and structs of the file's own, so the model's serde shape can grow without
//! changing what is on disk. Postcard writes enums as their variant's index: the order of the
//! variants below is the format.

use super::borrowed;
use crate::model::{DeliveryState, Diagnosis, SendMode, Verdict, Verification};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A verification as stored (and as schema 2's JSON named its fields).
#[derive(Serialize, Deserialize)]
pub(super) struct StoredVerification<'a> {
    scheme: Option<Cow<'a, str>>,
    verdict: StoredVerdict,
    secret: Option<Cow<'a, str>>,
    timestamp: Option<Cow<'a, str>>,
    skew_secs: Option<i64>,
    received: Option<Cow<'a, str>>,
    expected: Option<Cow<'a, str>>,
    signed_content: Option<Cow<'a, str>>,
    diagnosis: Option<StoredDiagnosis<'a>>,
}

#[derive(Serialize, Deserialize)]
struct StoredDiagnosis<'a> {
    code: Cow<'a, str>,
    message: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredVerdict {
    Verified,
    Mismatch,
    Missing,
    Malformed,
    Stale,
    NoSecret,
    Unsigned,
}

impl<'a> StoredVerification<'a> {
    pub(super) fn of(v: &'a Verification) -> Self {
        StoredVerification {
            scheme: borrowed(&v.scheme),
            verdict: match v.verdict {
                Verdict::Verified => StoredVerdict::Verified,
                Verdict::Mismatch => StoredVerdict::Mismatch,
                Verdict::Missing => StoredVerdict::Missing,
                Verdict::Malformed => StoredVerdict::Malformed,
                Verdict::Stale => StoredVerdict::Stale,
                Verdict::NoSecret => StoredVerdict::NoSecret,
                Verdict::Unsigned => StoredVerdict::Unsigned,
            },
            secret: borrowed(&v.secret),
            timestamp: borrowed(&v.timestamp),
            skew_secs: v.skew_secs,
            received: borrowed(&v.received),
            expected: borrowed(&v.expected),
            signed_content: borrowed(&v.signed_content),
            diagnosis: v.diagnosis.as_ref().map(|d| StoredDiagnosis {
                code: Cow::Borrowed(&d.code),
                message: Cow::Borrowed(&d.message),
            }),
        }
    }

    pub(super) fn into_model(self) -> Verification {
        let text = |t: Option<Cow<'_, str>>| t.map(Cow::into_owned);
        Verification {
            scheme: text(self.scheme),
            verdict: match self.verdict {
                StoredVerdict::Verified => Verdict::Verified,
                StoredVerdict::Mismatch => Verdict::Mismatch,
                StoredVerdict::Missing => Verdict::Missing,
                StoredVerdict::Malformed => Verdict::Malformed,
                StoredVerdict::Stale => Verdict::Stale,
                StoredVerdict::NoSecret => Verdict::NoSecret,
                StoredVerdict::Unsigned => Verdict::Unsigned,
            },
            secret: text(self.secret),
            timestamp: text(self.timestamp),
            skew_secs: self.skew_secs,
            received: text(self.received),
            expected: text(self.expected),
            signed_content: text(self.signed_content),
            diagnosis: self.diagnosis.map(|d| Diagnosis {
                code: d.code.into_owned(),
                message: d.message.into_owned(),
            }),
        }
    }
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum StoredState {
    Queued,
    InFlight,
    Succeeded,
    RetryScheduled,
    Failed,
    Dead,
}

impl From<DeliveryState> for StoredState {
    fn from(s: DeliveryState) -> Self {
        match s {
            DeliveryState::Queued => StoredState::Queued,
            DeliveryState::InFlight => StoredState::InFlight,
            DeliveryState::Succeeded => StoredState::Succeeded,
            DeliveryState::RetryScheduled => StoredState::RetryScheduled,
            DeliveryState::Failed => StoredState::Failed,
            DeliveryState::Dead => StoredState::Dead,
        }
    }
}

impl From<StoredState> for DeliveryState {
    fn from(s: StoredState) -> Self {
        match s {
            StoredState::Queued => DeliveryState::Queued,
            StoredState::InFlight => DeliveryState::InFlight,
            StoredState::Succeeded => DeliveryState::Succeeded,
            StoredState::RetryScheduled => DeliveryState::RetryScheduled,
            StoredState::Failed => DeliveryState::Failed,
            StoredState::Dead => DeliveryState::Dead,
        }
    }
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum StoredMode {
    Target,
    Replay,
    AsReceived,
}

impl From<SendMode> for StoredMode {
    fn from(m: SendMode) -> Self {
        match m {
            SendMode::Target => StoredMode::Target,
            SendMode::Replay => StoredMode::Replay,
            SendMode::AsReceived => StoredMode::AsReceived,
        }
    }
}

impl From<StoredMode> for SendMode {
    fn from(m: StoredMode) -> Self {
        match m {
            StoredMode::Target => SendMode::Target,
            StoredMode::Replay => SendMode::Replay,
            StoredMode::AsReceived => SendMode::AsReceived,
        }
    }
}
