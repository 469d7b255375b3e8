//! One request: read it within the limits, check its signature, hand it to the writer, answer.

use super::budget::Reservation;
use super::error::{IngressError, json_response};
use super::server::Ctx;
use crate::capture::{Arrived, Plan, Reply};
use crate::live::{Inspection, Live};
use crate::model::{Header, Timestamp, now};
use crate::relay::{Answer, Claim, ProxyError};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Bodies at least this large are hashed and verified on a blocking thread, not a worker of
/// the runtime (a 25 MiB body takes tens of milliseconds).
const OFF_THREAD_BYTES: usize = 256 * 1024;

pub(super) async fn handle(
    ctx: Arc<Ctx>,
    remote: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let received_at = now();
    let live = ctx.live.borrow().clone();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    if let Some(refused) = refuse_early(&ctx, &live, &parts, &path).await {
        return Ok(refused);
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (body, reservation) = match read_body(&ctx, body, declared, &live.config.receiver).await {
        Ok(read) => read,
        Err(error) => {
            if matches!(
                error,
                IngressError::BodyTooLarge { .. } | IngressError::Busy
            ) {
                let route = live.config.route_for(&path);
                let status = error.status().as_u16();
                ctx.rejections
                    .record(
                        &ctx.writer,
                        route.name(),
                        parts.method.as_str(),
                        &path,
                        status,
                        error.to_string(),
                    )
                    .await;
            }
            return Ok(error.into_response());
        }
    };
    // The body is in: from here the event is the receiver's to store and deliver, whether or not
    // its sender stays to read the answer. hyper drops this future when the client hangs up, so
    // the work runs in a task of its own and this future only waits for its answer.
    let request = Arrival {
        received_at,
        remote,
        parts,
        path,
        body,
        reservation,
    };
    let task = ctx.tasks.spawn(capture(ctx.clone(), live, request));
    let response = match task.await {
        Ok(answer) => answer.unwrap_or_else(IngressError::into_response),
        Err(error) => {
            tracing::error!(%error, "capture task failed; answering 503");
            IngressError::NotStored.into_response()
        }
    };
    Ok(response)
}

/// Requests refused on their head alone, before a byte of the body is read: HTTP/1.1 without
/// `Host` (400), `CONNECT` (405), a head over `max_header_bytes` (431, an `event.rejected`
/// record), and a relay loop — its `Via` names this instance — which gets 508, recorded as
/// `event.rejected` (`loop_detected`). None is stored.
async fn refuse_early(
    ctx: &Ctx,
    live: &Live,
    parts: &hyper::http::request::Parts,
    path: &str,
) -> Option<Response<Full<Bytes>>> {
    // RFC 9112 §3.2: a request of HTTP/1.1 without Host is malformed; CONNECT asks for a
    // tunnel, which a webhook receiver never gives.
    if parts.version == hyper::Version::HTTP_11 && !parts.headers.contains_key(header::HOST) {
        return Some(IngressError::MissingHost.into_response());
    }
    if parts.method == hyper::Method::CONNECT {
        return Some(IngressError::Connect.into_response());
    }
    // hyper's read buffer is not an exact limit (it lets a head well past it through): the
    // limit is counted here, on the head as it came (request line, names, values, separators).
    let limit = live.config.receiver.max_header_bytes;
    let target = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path().len(), |pq| pq.as_str().len());
    let head = parts.method.as_str().len()
        + target
        + " HTTP/1.1\r\n\r\n".len()
        + parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if head as u64 > limit {
        let error = IngressError::HeadersTooLarge { limit };
        let reason = error.to_string();
        return Some(rejected(ctx, live, parts, path, error, reason).await);
    }
    // Most requests carry no `Via`: nothing to collect then.
    if !parts.headers.contains_key(header::VIA) {
        return None;
    }
    let via: Vec<Header> = parts
        .headers
        .get_all(header::VIA)
        .iter()
        .map(|v| Header::new("via", v.as_bytes()))
        .collect();
    if !live.identity.seen_in(&via) {
        return None;
    }
    let error = IngressError::LoopDetected {
        via: live.identity.via(),
    };
    let reason = error.code().to_owned();
    Some(rejected(ctx, live, parts, path, error, reason).await)
}

/// The answer to a request refused on its head, recorded as `event.rejected` with `reason`.
async fn rejected(
    ctx: &Ctx,
    live: &Live,
    parts: &hyper::http::request::Parts,
    path: &str,
    error: IngressError,
    reason: String,
) -> Response<Full<Bytes>> {
    let route = live.config.route_for(path);
    let method = parts.method.as_str();
    let status = error.status().as_u16();
    ctx.rejections
        .record(&ctx.writer, route.name(), method, path, status, reason)
        .await;
    error.into_response()
}

/// A request whose body has been read in full, with the budget it holds.
struct Arrival {
    received_at: Timestamp,
    remote: SocketAddr,
    parts: hyper::http::request::Parts,
    path: String,
    body: Bytes,
    reservation: Reservation,
}

/// Reads the body within `max_body_bytes` and `body_timeout_ms`, counting each piece against the
/// in-flight budget as it arrives (chunked or not; a declared length reserves nothing, so idle
/// senders declaring huge bodies cannot lock others out). The reservation holds the body's bytes
/// until it is dropped.
async fn read_body(
    ctx: &Ctx,
    body: Incoming,
    declared: Option<u64>,
    limits: &crate::config::ReceiverConfig,
) -> Result<(Bytes, Reservation), IngressError> {
    let max = limits.max_body_bytes;
    if declared.is_some_and(|len| len > max) {
        return Err(IngressError::BodyTooLarge { limit: max });
    }
    let mut reservation = ctx.budget.reservation();
    let read = async {
        let mut body = body;
        let mut collected = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| IngressError::BodyRead)?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            let len = data.len() as u64;
            if collected.len() as u64 + len > max {
                return Err(IngressError::BodyTooLarge { limit: max });
            }
            reservation
                .grow(len, limits.inflight_body_bytes)
                .map_err(|_| IngressError::Busy)?;
            collected.extend_from_slice(&data);
        }
        Ok(collected.freeze())
    };
    let timeout = Duration::from_millis(limits.body_timeout_ms);
    match tokio::time::timeout(timeout, read).await {
        Err(_) => Err(IngressError::BodyTimeout(limits.body_timeout_ms)),
        Ok(Err(error)) => Err(error),
        Ok(Ok(bytes)) => Ok((bytes, reservation)),
    }
}

async fn capture(
    ctx: Arc<Ctx>,
    live: Arc<Live>,
    request: Arrival,
) -> Result<Response<Full<Bytes>>, IngressError> {
    let Arrival {
        received_at,
        remote,
        parts,
        path,
        body,
        reservation,
    } = request;
    let arrived = Arrived {
        received_at,
        remote_addr: remote.to_string(),
        method: parts.method.as_str().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| Header::new(name.as_str(), value.as_bytes()))
            .collect(),
        path,
        body,
        resend_of: None,
    };
    let (arrived, inspection, body_sha256) = inspect(live.clone(), arrived).await?;
    let Plan { mut capture, reply } = crate::capture::plan(&live, arrived, inspection, body_sha256);
    // Targets with a free slot get their first attempt the moment the event is on disk (the
    // proxied one is made below, by this request itself).
    let proxy = capture.proxy;
    let claims: Vec<Option<Claim>> = capture
        .targets
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
    let body = capture.body.clone();
    let captured = ctx.writer.capture(capture).await.map_err(|error| {
        tracing::error!(%error, "event not stored; answering 503");
        IngressError::NotStored
    })?;
    // Committed: the body no longer counts against the budget of bytes waiting for the disk.
    drop(reservation);
    let event_id = captured.id.to_string();
    let event = Arc::new(captured.event);
    dispatch_claimed(
        &ctx,
        &live,
        claims,
        &captured.deliveries,
        event.clone(),
        body.clone(),
    );
    Ok(match reply {
        // Recorded, but the sender hears only that the signature failed: no expected value, no
        // diagnosis (that would make the receiver a signature oracle).
        Reply::Rejected => json_response(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({
                "error": "invalid_signature",
                "message": "the webhook signature could not be verified",
                "event_id": event_id,
            }),
        ),
        // Slack accepts hooklens as its Request URL only if it hears the challenge back.
        Reply::Challenge(challenge) => json_response(
            StatusCode::OK,
            &serde_json::json!({ "challenge": challenge }),
        ),
        Reply::Static(answer) => {
            if answer.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(answer.delay_ms)).await;
            }
            static_answer(&answer)
        }
        Reply::Proxy => match captured.deliveries.first() {
            Some(first) if first.proxy => {
                let max =
                    usize::try_from(live.config.receiver.max_body_bytes).unwrap_or(usize::MAX);
                let answer = ctx.relay.proxy(first.clone(), &event, body, max).await;
                proxied(answer, &event_id)
            }
            _ => json_response(StatusCode::OK, &serde_json::json!({ "event_id": event_id })),
        },
        Reply::Ack => json_response(StatusCode::OK, &serde_json::json!({ "event_id": event_id })),
    })
}

/// A route's static answer (its headers were checked when the configuration was loaded).
fn static_answer(answer: &crate::config::StaticAnswer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body.clone())));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            header::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// Hands the deliveries whose slot was claimed at capture to the relay.
fn dispatch_claimed(
    ctx: &Ctx,
    live: &Live,
    claims: Vec<Option<Claim>>,
    deliveries: &[crate::model::DeliveryRecord],
    event: Arc<crate::model::EventMeta>,
    body: Bytes,
) {
    for (claim, record) in claims.into_iter().zip(deliveries) {
        if let Some(claim) = claim {
            let (record, event, body) = (record.clone(), event.clone(), body.clone());
            ctx.relay.dispatch(&live.config, claim, record, event, body);
        }
    }
}

/// Checks the signature and hashes the body; on a blocking thread when the body is large.
async fn inspect(
    live: Arc<Live>,
    arrived: Arrived,
) -> Result<(Arrived, Inspection, String), IngressError> {
    let large = arrived.body.len() >= OFF_THREAD_BYTES;
    let work = move || {
        let (inspection, sha) = crate::capture::inspect(&live, &arrived);
        (arrived, inspection, sha)
    };
    if !large {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        tracing::error!(%error, "signature check failed; answering 503");
        IngressError::NotStored
    })
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
