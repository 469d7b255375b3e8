//! The load generator: N keep-alive HTTP/1.1 connections, each posting 1 KiB JSON bodies in a
//! closed loop (send, wait for the answer, send again) for a fixed time or a fixed count.
//!
//! It is a bare hyper client on one `TcpStream` per connection so that its own cost per request is
//! small and identical for every server it measures: on two cores the generator competes with the
//! server, and only the ratios between cases are meant to be compared.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Size of every request body, as the issue's reference numbers were taken with.
pub const BODY_BYTES: usize = 1024;

/// What each request carries.
#[derive(Clone)]
pub enum Body {
    /// The same bytes every time, with precomputed extra headers (a signature over those bytes).
    Fixed {
        body: Bytes,
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    /// A body carrying a run-wide unique number `n`, so a consumer can tell which request a
    /// relayed delivery belongs to.
    Numbered,
}

/// When the connections stop.
#[derive(Clone, Copy)]
pub enum Stop {
    /// Load for `warmup` unmeasured, then `measure` measured.
    Time { warmup: Duration, measure: Duration },
    /// Exactly this many requests in total, all measured.
    Count(u64),
}

#[derive(Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub path: String,
    pub connections: usize,
    pub body: Body,
    pub stop: Stop,
}

/// What one run measured. Only requests started in the measured window count.
#[derive(Default)]
pub struct Outcome {
    /// Requests answered 200.
    pub ok: u64,
    /// Requests answered 200, warm-up included: the events hooklens stored.
    pub all_ok: u64,
    /// Other statuses and transport errors.
    pub errors: u64,
    /// From the start of the measured window to the last measured answer.
    pub elapsed: Duration,
    /// Latency of each answered request, microseconds (send → full answer read).
    pub latencies_us: Vec<u32>,
    /// For numbered bodies: `(n, send instant)` of each measured request.
    pub sends: Vec<(u64, Instant)>,
    /// The first error seen, to say why a case failed.
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn req_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.all_ok += other.all_ok;
        self.errors += other.errors;
        self.elapsed = self.elapsed.max(other.elapsed);
        self.latencies_us.extend(other.latencies_us);
        self.sends.extend(other.sends);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// A JSON body of exactly [`BODY_BYTES`] bytes carrying `n`.
pub fn json_body(n: u64) -> Bytes {
    let head = format!(r#"{{"n":{n},"type":"bench.event","data":""#);
    let tail = r#""}"#;
    let pad = BODY_BYTES.saturating_sub(head.len() + tail.len());
    let mut body = String::with_capacity(BODY_BYTES);
    body.push_str(&head);
    body.extend(std::iter::repeat_n('x', pad));
    body.push_str(tail);
    Bytes::from(body)
}

/// Reads `n` back from a body made by [`json_body`] without parsing the whole JSON (the consumer
/// does this per request, under load).
pub fn body_number(body: &[u8]) -> Option<u64> {
    let rest = body.strip_prefix(br#"{"n":"#)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// Runs the plan to completion and merges what every connection saw.
pub async fn run(plan: Plan) -> Outcome {
    let shared = Arc::new(Shared {
        start: Instant::now(),
        next_n: AtomicU64::new(0),
        remaining: AtomicU64::new(match plan.stop {
            Stop::Count(n) => n,
            Stop::Time { .. } => u64::MAX,
        }),
    });
    let tasks: Vec<_> = (0..plan.connections)
        .map(|_| tokio::spawn(connection(plan.clone(), shared.clone())))
        .collect();
    let mut total = Outcome::default();
    for task in tasks {
        match task.await {
            Ok(outcome) => total.merge(outcome),
            Err(e) => {
                total.errors += 1;
                total.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    total
}

struct Shared {
    start: Instant,
    next_n: AtomicU64,
    remaining: AtomicU64,
}

impl Shared {
    /// Whether another request should be sent, and whether it is measured.
    fn next(&self, stop: Stop, now: Instant) -> Option<bool> {
        match stop {
            Stop::Time { warmup, measure } => {
                let since = now.duration_since(self.start);
                (since < warmup + measure).then_some(since >= warmup)
            }
            Stop::Count(_) => {
                let taken =
                    self.remaining
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1));
                taken.is_ok().then_some(true)
            }
        }
    }

    fn window_start(&self, stop: Stop) -> Instant {
        match stop {
            Stop::Time { warmup, .. } => self.start + warmup,
            Stop::Count(_) => self.start,
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    // Small requests on keep-alive: without this, Nagle delays every other request.
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake {addr}: {e}"))?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One connection's closed loop; reconnects after a transport error.
async fn connection(plan: Plan, shared: Arc<Shared>) -> Outcome {
    let mut out = Outcome::default();
    let window_start = shared.window_start(plan.stop);
    let mut last_done = window_start;
    let mut sender: Option<Sender> = None;
    while let Some(measured) = shared.next(plan.stop, Instant::now()) {
        let n = shared.next_n.fetch_add(1, Ordering::Relaxed);
        let result = match sender.as_mut() {
            Some(s) => send(s, &plan, n, measured, &mut out).await,
            None => match connect(plan.addr).await {
                Ok(s) => send(sender.insert(s), &plan, n, measured, &mut out).await,
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(done) => last_done = last_done.max(done),
            Err(e) => {
                sender = None;
                if measured {
                    out.errors += 1;
                }
                out.first_error.get_or_insert(e);
                // A server that refuses connections would otherwise make this a busy loop.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    out.elapsed = last_done.duration_since(window_start);
    out
}

/// Sends one request and reads the whole answer; returns when it finished.
async fn send(
    sender: &mut Sender,
    plan: &Plan,
    n: u64,
    measured: bool,
    out: &mut Outcome,
) -> Result<Instant, String> {
    let (body, extra) = match &plan.body {
        Body::Fixed { body, headers } => (body.clone(), headers.as_slice()),
        Body::Numbered => (json_body(n), &[][..]),
    };
    let mut request = Request::post(plan.path.as_str())
        .header(http::header::HOST, plan.addr.to_string())
        .header(http::header::CONTENT_TYPE, "application/json");
    for (name, value) in extra {
        request = request.header(name, value);
    }
    let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
    sender.ready().await.map_err(|e| e.to_string())?;
    let sent = Instant::now();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    let done = Instant::now();
    if status == StatusCode::OK {
        out.all_ok += 1;
    }
    if !measured {
        return Ok(done);
    }
    if status == StatusCode::OK {
        out.ok += 1;
        let micros = done.duration_since(sent).as_micros();
        out.latencies_us
            .push(u32::try_from(micros).unwrap_or(u32::MAX));
        if matches!(plan.body, Body::Numbered) {
            out.sends.push((n, sent));
        }
    } else {
        out.errors += 1;
        out.first_error
            .get_or_insert_with(|| format!("answer {status}"));
    }
    Ok(done)
}

/// The `q`-quantile (0..=1) of a sorted slice, nearest rank.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// p50 and p99 of a set of latencies in microseconds, as milliseconds.
pub fn p50_p99_ms(latencies_us: &mut [u32]) -> Option<(f64, f64)> {
    latencies_us.sort_unstable();
    let ms = |us: u32| f64::from(us) / 1000.0;
    Some((
        ms(quantile(latencies_us, 0.50)?),
        ms(quantile(latencies_us, 0.99)?),
    ))
}
