//! The full view of one event (`events show --json`, `GET /api/v1/events/{id}`), with redaction.

use super::{Delivery, EventMeta, Header, HeaderValue, Timestamp, Verification};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// What replaces a header value that may be a secret.
pub const REDACTED: &str = "[redacted]";

/// Headers whose value may be a credential, whatever route they came in on.
const ALWAYS_SECRET: &[&str] = &["authorization", "proxy-authorization", "cookie"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDetail {
    pub id: Ulid,
    pub received_at: Timestamp,
    pub route: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<Header>,
    pub body_base64: String,
    pub body_sha256: String,
    pub remote_addr: String,
    pub event_type: Option<String>,
    pub dedupe_key: Option<String>,
    pub duplicate_of: Option<Ulid>,
    pub resend_of: Option<Ulid>,
    pub verification: Verification,
    pub deliveries: Vec<Delivery>,
    /// Loaded by `hooklens import` from an export, not received here.
    #[serde(default)]
    pub imported: bool,
}

impl EventDetail {
    /// Builds the view; unless `reveal`, headers that may carry a secret read `[redacted]`.
    pub fn new(meta: EventMeta, body: &[u8], deliveries: Vec<Delivery>, reveal: bool) -> Self {
        let headers = if reveal {
            meta.headers
        } else {
            redact(meta.headers, &meta.secret_headers)
        };
        EventDetail {
            id: meta.id,
            received_at: meta.received_at,
            route: meta.route,
            method: meta.method,
            path: meta.path,
            query: meta.query,
            headers,
            body_base64: STANDARD.encode(body),
            body_sha256: meta.body_sha256,
            remote_addr: meta.remote_addr,
            event_type: meta.event_type,
            dedupe_key: meta.dedupe_key,
            duplicate_of: meta.duplicate_of,
            resend_of: meta.resend_of,
            verification: meta.verification,
            deliveries,
            imported: meta.imported,
        }
    }

    /// The body's bytes (the view carries them as base64).
    pub fn body(&self) -> Vec<u8> {
        STANDARD.decode(&self.body_base64).unwrap_or_default()
    }
}

/// Whether a header (lowercase name) may carry a secret, given the route's own secret headers.
pub fn is_secret_header(name: &str, secret_headers: &[String]) -> bool {
    ALWAYS_SECRET.contains(&name) || secret_headers.iter().any(|s| s.eq_ignore_ascii_case(name))
}

pub fn redact(headers: Vec<Header>, secret_headers: &[String]) -> Vec<Header> {
    headers
        .into_iter()
        .map(|h| {
            if is_secret_header(&h.name, secret_headers) {
                Header {
                    name: h.name,
                    value: HeaderValue(REDACTED.as_bytes().to_vec()),
                }
            } else {
                h
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_route_secret_headers_are_redacted_unless_revealed() {
        let headers = vec![
            Header::new("authorization", "Bearer abc"),
            Header::new("cookie", "session=1"),
            Header::new("x-webhook-secret", "hunter2"),
            Header::new("content-type", "text/plain"),
        ];
        let secret = vec!["x-webhook-secret".to_owned()];
        let shown = redact(headers.clone(), &secret);
        let values: Vec<_> = shown.iter().map(|h| h.value.to_str().unwrap()).collect();
        assert_eq!(values, [REDACTED, REDACTED, REDACTED, "text/plain"]);
        let without_route_secret = redact(headers, &[]);
        assert_eq!(without_route_secret[2].value.to_str(), Some("hunter2"));
    }
}
