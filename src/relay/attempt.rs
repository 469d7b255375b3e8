//! Making one attempt: send, read a bounded answer, and name what went wrong when nothing came.

use super::policy::{Outcome, parse_retry_after};
use super::request::Outgoing;
use crate::model::{Attempt, Header, Timestamp};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use std::error::Error as _;
use std::time::{Duration, Instant};

/// The answer kept whole for a `proxy` route, to pass back to the sender.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Bytes,
}

/// One attempt's result.
#[derive(Debug, Clone)]
pub struct Sent {
    pub attempt: Attempt,
    pub outcome: Outcome,
    pub retry_after: Option<Duration>,
    pub answer: Option<Answer>,
}

/// The two clients: redirects are a per-target choice and reqwest fixes them per client.
#[derive(Clone)]
pub struct Clients {
    plain: reqwest::Client,
    following: reqwest::Client,
}

impl Clients {
    pub fn new() -> Result<Self, reqwest::Error> {
        let build = |redirects| {
            reqwest::Client::builder()
                .redirect(redirects)
                .no_proxy()
                .pool_max_idle_per_host(64)
                .tcp_nodelay(true)
                .build()
        };
        Ok(Clients {
            plain: build(reqwest::redirect::Policy::none())?,
            following: build(reqwest::redirect::Policy::limited(10))?,
        })
    }
}

/// Limits of one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub follow_redirects: bool,
    /// Response bytes stored with the attempt.
    pub keep_bytes: usize,
    /// Response bytes read at most (the proxy passes the whole answer back).
    pub read_bytes: usize,
}

pub async fn send(clients: &Clients, out: Outgoing, n: u32, limits: Limits) -> Sent {
    let started_at = crate::model::now();
    let clock = Instant::now();
    let client = if limits.follow_redirects {
        &clients.following
    } else {
        &clients.plain
    };
    if let Some(why) = out.sign_failed {
        // Never sent unsigned, nor with the sender's old headers.
        let mut attempt = interrupted(n, started_at.unix_millis() as u64, started_at);
        attempt.error = Some("sign_failed".into());
        attempt.note = Some(why);
        return Sent {
            attempt,
            outcome: Outcome::Refused,
            retry_after: None,
            answer: None,
        };
    }
    let result = request(client, &out, limits).await;
    let duration_ms = clock.elapsed().as_millis() as u64;
    let mut attempt = Attempt {
        n,
        started_at,
        duration_ms,
        status: None,
        error: None,
        response_headers: Vec::new(),
        response_body_base64: None,
        response_size: None,
        note: out.note,
    };
    match result {
        Ok((status, headers, body, size)) => {
            let retry_after = headers
                .iter()
                .find(|h| h.name == "retry-after")
                .and_then(|h| h.value.to_str())
                .and_then(|v| parse_retry_after(v, started_at.unix_secs()));
            attempt.status = Some(status);
            attempt.response_headers = headers.clone();
            attempt.response_body_base64 =
                Some(STANDARD.encode(&body[..body.len().min(limits.keep_bytes)]));
            attempt.response_size = Some(size);
            Sent {
                attempt,
                outcome: Outcome::Status(status),
                retry_after,
                answer: Some(Answer {
                    status,
                    headers,
                    body,
                }),
            }
        }
        Err(kind) => {
            attempt.error = Some(kind.to_owned());
            Sent {
                attempt,
                outcome: Outcome::Error,
                retry_after: None,
                answer: None,
            }
        }
    }
}

type Response = (u16, Vec<Header>, Bytes, u64);

async fn request(
    client: &reqwest::Client,
    out: &Outgoing,
    limits: Limits,
) -> Result<Response, &'static str> {
    let method = reqwest::Method::from_bytes(out.method.as_bytes()).map_err(|_| "bad_method")?;
    let mut builder = client
        .request(method, &out.url)
        .timeout(limits.timeout)
        .body(out.body.clone());
    for h in &out.headers {
        builder = builder.header(h.name.as_str(), h.value.as_bytes());
    }
    let mut response = builder.send().await.map_err(|e| classify(&e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| Header::new(n.as_str(), v.as_bytes()))
        .collect();
    let declared = response.content_length();
    let mut body = Vec::new();
    let mut seen: u64 = 0;
    // Read what is kept; past that, stop: a consumer answering gigabytes costs us nothing.
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                seen += chunk.len() as u64;
                let room = limits.read_bytes.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= limits.read_bytes {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => break,
            Err(e) => return Err(classify(&e)),
        }
    }
    Ok((
        status,
        headers,
        Bytes::from(body),
        declared.unwrap_or(seen).max(seen),
    ))
}

/// An error kind an operator recognises.
fn classify(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        return "timeout";
    }
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connect_refused",
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    return "reset";
                }
                std::io::ErrorKind::TimedOut => return "timeout",
                _ => {}
            }
        }
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("dns") || text.contains("failed to lookup") {
            return "dns";
        }
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return "tls";
        }
        if text.contains("connection closed") || text.contains("incomplete message") {
            return "reset";
        }
        source = e.source();
    }
    if error.is_connect() {
        "connect"
    } else if error.is_redirect() {
        "redirect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "request"
    }
}

/// The attempt recorded for a delivery that was in flight when hooklens stopped.
pub fn interrupted(n: u32, started_ms: u64, now: Timestamp) -> Attempt {
    let started = Timestamp::from_unix_millis(i64::try_from(started_ms).unwrap_or(0));
    Attempt {
        n,
        started_at: started,
        duration_ms: u64::try_from(now.unix_millis() - started.unix_millis()).unwrap_or(0),
        status: None,
        error: Some("interrupted".into()),
        response_headers: Vec::new(),
        response_body_base64: None,
        response_size: None,
        note: Some("hooklens stopped while this attempt was under way".into()),
    }
}
