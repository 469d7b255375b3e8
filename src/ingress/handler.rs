//! One request: read it within the limits, check its signature, hand it to the writer, answer.

use super::error::{IngressError, json_response};
use super::server::Ctx;
use crate::model::{Header, Lifecycle, Timestamp, now};
use crate::store::Capture;
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
    let capture = Capture {
        received_at,
        route: route.name().to_owned(),
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
    };
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
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "event_id": event_id }),
    ))
}
