//! Attempts as stored: JSON, readable with any tool, in every schema so far.

use super::borrowed;
use crate::model::{Attempt, Header, Timestamp};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// An attempt as stored: JSON (readable with any tool), in every schema so far.
#[derive(Serialize, Deserialize)]
struct StoredAttempt<'a> {
    n: u32,
    started_at: Timestamp,
    duration_ms: u64,
    status: Option<u16>,
    error: Option<Cow<'a, str>>,
    response_headers: Cow<'a, [Header]>,
    response_body_base64: Option<Cow<'a, str>>,
    response_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<Cow<'a, str>>,
}

pub fn encode_attempt(a: &Attempt) -> Result<Vec<u8>, StoreError> {
    Ok(serde_json::to_vec(&StoredAttempt {
        n: a.n,
        started_at: a.started_at,
        duration_ms: a.duration_ms,
        status: a.status,
        error: borrowed(&a.error),
        response_headers: Cow::Borrowed(&a.response_headers),
        response_body_base64: borrowed(&a.response_body_base64),
        response_size: a.response_size,
        note: borrowed(&a.note),
    })?)
}

pub fn decode_attempt(value: &[u8]) -> Result<Attempt, StoreError> {
    let a: StoredAttempt<'_> = serde_json::from_slice(value)?;
    Ok(Attempt {
        n: a.n,
        started_at: a.started_at,
        duration_ms: a.duration_ms,
        status: a.status,
        error: a.error.map(Cow::into_owned),
        response_headers: a.response_headers.into_owned(),
        response_body_base64: a.response_body_base64.map(Cow::into_owned),
        response_size: a.response_size,
        note: a.note.map(Cow::into_owned),
    })
}
