//! Schema 2's JSON records, read as they were written (schema 2 is never written any more).

use super::stored::{StoredMode, StoredState, StoredVerification};
use crate::model::{DeliveryRecord, EventMeta, Header, Timestamp};
use serde::Deserialize;
use ulid::Ulid;

/// An event as schema 2 wrote it (JSON). Times, ids and headers in their contract form (RFC
/// 3339, ULID text, `[name, value]` pairs), which the contract keeps stable anyway.
#[derive(Deserialize)]
pub(super) struct V2Event<'a> {
    id: Ulid,
    received_at: Timestamp,
    route: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<Header>,
    body_sha256: String,
    body_len: u64,
    remote_addr: String,
    event_type: Option<String>,
    dedupe_key: Option<String>,
    duplicate_of: Option<Ulid>,
    resend_of: Option<Ulid>,
    verification: StoredVerification<'a>,
    #[serde(default)]
    secret_headers: Vec<String>,
}

impl V2Event<'_> {
    pub(super) fn into_model(self) -> EventMeta {
        EventMeta {
            id: self.id,
            received_at: self.received_at,
            route: self.route,
            method: self.method,
            path: self.path,
            query: self.query,
            headers: self.headers,
            body_sha256: self.body_sha256,
            body_len: self.body_len,
            remote_addr: self.remote_addr,
            event_type: self.event_type,
            dedupe_key: self.dedupe_key,
            duplicate_of: self.duplicate_of,
            resend_of: self.resend_of,
            verification: self.verification.into_model(),
            secret_headers: self.secret_headers,
            imported: false,
        }
    }
}

/// A delivery as schema 2 wrote it (JSON).
#[derive(Deserialize)]
pub(super) struct V2Delivery {
    id: Ulid,
    event_id: Ulid,
    target: String,
    url: Option<String>,
    state: StoredState,
    replay_of: Option<Ulid>,
    next_attempt_at: Option<Timestamp>,
    wire_id: String,
    mode: StoredMode,
    duplicate: bool,
    proxy: bool,
    attempt_count: u32,
}

impl V2Delivery {
    pub(super) fn into_model(self) -> DeliveryRecord {
        DeliveryRecord {
            id: self.id,
            event_id: self.event_id,
            target: self.target,
            url: self.url,
            state: self.state.into(),
            replay_of: self.replay_of,
            next_attempt_at: self.next_attempt_at,
            wire_id: self.wire_id,
            mode: self.mode.into(),
            duplicate: self.duplicate,
            proxy: self.proxy,
            attempt_count: self.attempt_count,
        }
    }
}
