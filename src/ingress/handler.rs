//! One request: read it within the limits, check its signature, hand it to the writer, answer.

use super::error::{IngressError, json_response};
use super::server::Ctx;
use crate::config::{Dedupe, Respond, SignScheme};
use crate::model::{Header, Lifecycle, Timestamp, now};
use crate::relay::{Answer, Claim, ProxyError};
use crate::store::{Capture, CaptureTarget};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub(super) async fn handle(
    ctx: Arc<Ctx>,
    remote: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let received_at = now();
    let live = ctx.live.borrow().clone();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let route = live.config.route_for(&path);
    let route_name = route.name().to_owned();
    let limits = &live.config.receiver;

    let rejected = |status: StatusCode, reason: String| Lifecycle::EventRejected {
        at: received_at,
        route: route_name.clone(),
        method: parts.method.as_str().to_owned(),
        path: path.clone(),
        status: status.as_u16(),
        reason,
    };

    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = match read_body(&ctx, body, declared, limits).await {
        Ok(body) => body,
        Err(error) => {
            if matches!(
                error,
                IngressError::BodyTooLarge { .. } | IngressError::Busy
            ) {
                // The rejection is a fact worth a lifecycle line; losing it (a full disk)
                // must not change the answer.
                let _ = ctx
                    .writer
                    .log(rejected(error.status(), error.to_string()))
                    .await;
            }
            return Ok(error.into_response());
        }
    };
    let reserved = body.len() as u64;
    let response = capture(&ctx, &live, received_at, remote, parts, path, body).await;
    ctx.inflight.fetch_sub(reserved, Ordering::AcqRel);
    Ok(response.unwrap_or_else(IngressError::into_response))
}

/// Reads the body within `max_body_bytes` and `body_timeout_ms`, reserving its size from the
/// in-flight budget. On success the caller owns the reservation of `body.len()` bytes.
async fn read_body(
    ctx: &Ctx,
    body: Incoming,
    declared: Option<u64>,
    limits: &crate::config::ReceiverConfig,
) -> Result<Bytes, IngressError> {
    let max = limits.max_body_bytes;
    if declared.is_some_and(|len| len > max) {
        return Err(IngressError::BodyTooLarge { limit: max });
    }
    let reserve = |bytes: u64| -> Result<(), IngressError> {
        let before = ctx.inflight.fetch_add(bytes, Ordering::AcqRel);
        if before + bytes > limits.inflight_body_bytes && before > 0 {
            ctx.inflight.fetch_sub(bytes, Ordering::AcqRel);
            return Err(IngressError::Busy);
        }
        Ok(())
    };
    // Reserve the declared size up front so a burst of large bodies is refused before it is read.
    let reserved = declared.unwrap_or(0);
    reserve(reserved)?;
    let timeout = Duration::from_millis(limits.body_timeout_ms);
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let read = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await;
    let result = match read {
        Err(_) => Err(IngressError::BodyTimeout(limits.body_timeout_ms)),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            Err(IngressError::BodyTooLarge { limit: max })
        }
        Ok(Err(_)) => Err(IngressError::BodyRead),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    };
    match result {
        Ok(bytes) => {
            let len = bytes.len() as u64;
            if len != reserved {
                ctx.inflight.fetch_sub(reserved, Ordering::AcqRel);
                reserve(len)?;
            }
            Ok(bytes)
        }
        Err(error) => {
            ctx.inflight.fetch_sub(reserved, Ordering::AcqRel);
            Err(error)
        }
    }
}

async fn capture(
    ctx: &Ctx,
    live: &crate::live::Live,
    received_at: Timestamp,
    remote: SocketAddr,
    parts: hyper::http::request::Parts,
    path: String,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, IngressError> {
    let headers: Vec<Header> = parts
        .headers
        .iter()
        .map(|(name, value)| Header::new(name.as_str(), value.as_bytes()))
        .collect();
    let route = live.config.route_for(&path);
    let inspection = live.inspect(&route, &headers, &body, received_at);
    let reject = route.route.is_some_and(|r| r.reject_invalid)
        && inspection.verification.verdict.is_invalid();
    // A refused event is recorded as evidence but goes nowhere.
    let mut targets = if reject {
        Vec::new()
    } else {
        live.config
            .targets_for_route(route.name())
            .into_iter()
            .filter(|t| crate::live::accepts(&t.events, inspection.event_type.as_deref()))
            .map(|t| CaptureTarget {
                name: t.name.clone(),
                wire_id: match t.sign.scheme {
                    SignScheme::Passthrough => inspection.dedupe_key.clone(),
                    SignScheme::Resign(_) => None,
                },
                claimed: false,
            })
            .collect::<Vec<_>>()
    };
    let proxy = !targets.is_empty() && route.route.is_some_and(|r| r.respond == Respond::Proxy);
    // Targets with a free slot get their first attempt the moment the event is on disk (the
    // proxied one is made below, by this request itself).
    let claims: Vec<Option<Claim>> = targets
        .iter_mut()
        .enumerate()
        .map(|(i, t)| {
            let claim = (!(proxy && i == 0))
                .then(|| ctx.relay.claim(&t.name))
                .flatten();
            t.claimed = claim.is_some();
            claim
        })
        .collect();
    let drop_duplicate = route.route.is_some_and(|r| r.dedupe == Dedupe::Drop);
    let route_name = route.name().to_owned();
    let capture = Capture {
        received_at,
        route: route_name,
        method: parts.method.as_str().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        path,
        headers,
        body_sha256: hex::encode(Sha256::digest(&body)),
        body,
        remote_addr: remote.to_string(),
        event_type: inspection.event_type,
        dedupe_key: inspection.dedupe_key,
        resend_of: None,
        verification: inspection.verification,
        secret_headers: inspection.secret_headers,
        targets,
        drop_duplicate,
        proxy,
    };
    let body = capture.body.clone();
    let captured = ctx.writer.capture(capture).await.map_err(|error| {
        tracing::error!(%error, "event not stored; answering 503");
        IngressError::NotStored
    })?;
    let event_id = captured.id.to_string();
    if reject {
        // Recorded, but the sender hears only that the signature failed: no expected value, no
        // diagnosis (that would make the receiver a signature oracle).
        let body = serde_json::json!({
            "error": "invalid_signature",
            "message": "the webhook signature could not be verified",
            "event_id": event_id,
        });
        return Ok(json_response(StatusCode::UNAUTHORIZED, &body));
    }
    let event = Arc::new(captured.event);
    for (claim, record) in claims.into_iter().zip(&captured.deliveries) {
        if let Some(claim) = claim {
            let (record, event, body) = (record.clone(), event.clone(), body.clone());
            ctx.relay.dispatch(&live.config, claim, record, event, body);
        }
    }
    if let Some(first) = captured.deliveries.first()
        && first.proxy
    {
        let max = usize::try_from(live.config.receiver.max_body_bytes).unwrap_or(usize::MAX);
        let answer = ctx.relay.proxy(first.clone(), &event, body, max).await;
        return Ok(proxied(answer, &event_id));
    }
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "event_id": event_id }),
    ))
}

/// The consumer's answer passed back to the sender, or 502/504 when there was none.
fn proxied(answer: Result<Answer, ProxyError>, event_id: &str) -> Response<Full<Bytes>> {
    match answer {
        Ok(answer) => {
            let mut response = Response::new(Full::new(answer.body));
            *response.status_mut() =
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            for h in answer.headers {
                if HOP_BY_HOP.contains(&h.name.as_str()) {
                    continue;
                }
                if let (Ok(name), Ok(value)) = (
                    header::HeaderName::from_bytes(h.name.as_bytes()),
                    header::HeaderValue::from_bytes(h.value.as_bytes()),
                ) {
                    response.headers_mut().append(name, value);
                }
            }
            response
        }
        Err(error) => {
            let (status, code, message) = match error {
                ProxyError::Timeout => (
                    StatusCode::GATEWAY_TIMEOUT,
                    "consumer_timeout",
                    "the consumer did not answer in time".to_owned(),
                ),
                ProxyError::Unreachable(kind) => (
                    StatusCode::BAD_GATEWAY,
                    "consumer_unreachable",
                    format!("the consumer could not be reached ({kind})"),
                ),
            };
            json_response(
                status,
                &serde_json::json!({ "error": code, "message": message, "event_id": event_id }),
            )
        }
    }
}

/// Response headers that describe the consumer's connection, not the answer.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];
