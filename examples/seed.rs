//! Seeds a history with a realistic mix of events, for trying the interface (and measuring it)
//! on a large history without sending a million requests:
//!
//! ```sh
//! cargo run --release --example seed -- --data /tmp/big --events 1000000
//! cargo run --release -- --data /tmp/big          # then open it
//! ```
//!
//! What it writes, through the same writer a running instance uses (so the file is exactly what
//! hooklens would have made): events on six routes (Stripe, GitHub, Slack, Shopify, Zentra and
//! the catch-all), mostly verified, some mismatched, stale, missing or unsigned, with 0.3–4 KiB JSON
//! bodies and now and then a large one (256 KiB); one to three deliveries each, with one to three
//! attempts (a 500 or a refused connection before the 200), a few of them dead.
//! `--max-events` is set high enough that nothing is pruned. The run is deterministic for a
//! given `--seed`.

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use hooklens::instance::DataDir;
use hooklens::model::{Attempt, Diagnosis, Header, Timestamp, Verdict, Verification, now};
use hooklens::store::{Capture, CaptureTarget, Decision, Store, StoreOptions, Writer};
use sha2::{Digest, Sha256};
use std::time::Instant;
use tokio::task::JoinSet;

#[derive(Parser)]
#[command(about = "Seed a hooklens history with a realistic mix of events")]
struct Args {
    /// The data directory (as `hooklens --data DIR`); its history is added to.
    #[arg(long, value_name = "DIR")]
    data: std::path::PathBuf,
    /// How many events to write.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Seed of the pseudo-random mix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Requests handed to the writer at once: enough for its group commit to fill its batches.
const IN_FLIGHT: usize = 2048;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data = DataDir::new(&args.data);
    data.prepare()
        .with_context(|| format!("cannot make {}", args.data.display()))?;
    let mut options = StoreOptions::new(data.history());
    options.max_events = args.events.max(1_000_000) * 2;
    let (store, writer) = Store::open(options).context("cannot open the history")?;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    // Received times spread over the last day, oldest first, as if they had arrived.
    let span_ms = 24 * 3600 * 1000;
    let first_ms = now().unix_millis() - span_ms;
    for n in 0..args.events {
        if tasks.len() >= IN_FLIGHT
            && let Some(done) = tasks.join_next().await
        {
            done??;
        }
        let at = first_ms + (span_ms * n as i64) / args.events.max(1) as i64;
        let mut rng = Rng::new(args.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let writer = writer.clone();
        tasks.spawn(async move { one(&writer, &mut rng, Timestamp::from_unix_millis(at)).await });
        if n > 0 && n % 100_000 == 0 {
            eprintln!(
                "seed: {n} events ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    drop(writer);
    store.writer_stopped().await;
    eprintln!(
        "seed: {} events in {:.1} s into {}",
        args.events,
        started.elapsed().as_secs_f64(),
        data.history().display()
    );
    Ok(())
}

/// One event, its deliveries and their attempts.
async fn one(writer: &Writer, rng: &mut Rng, at: Timestamp) -> anyhow::Result<()> {
    let route = &ROUTES[rng.below(ROUTES.len())];
    let kind = route.types[rng.below(route.types.len())];
    let body = body(rng, kind);
    let verdict = match rng.below(100) {
        0..=79 if route.scheme.is_some() => Verdict::Verified,
        80..=89 if route.scheme.is_some() => Verdict::Mismatch,
        90..=94 if route.scheme.is_some() => Verdict::Stale,
        _ if route.scheme.is_some() => Verdict::Missing,
        _ => Verdict::Unsigned,
    };
    let delivery_id = format!("dlv_{:016x}", rng.next());
    let mut headers = vec![
        Header::new("host", "hooks.example.test"),
        Header::new("user-agent", route.agent),
        Header::new("content-type", "application/json"),
        Header::new("content-length", body.len().to_string()),
    ];
    if let Some((name, value)) = route.signature {
        headers.push(Header::new(name, value));
    }
    let targets: Vec<CaptureTarget> = TARGETS[..1 + rng.below(TARGETS.len())]
        .iter()
        .map(|name| CaptureTarget {
            name: (*name).to_owned(),
            wire_id: None,
            claimed: false,
        })
        .collect();
    let capture = Capture {
        received_at: at,
        route: route.name.to_owned(),
        method: "POST".into(),
        path: route.path.to_owned(),
        query: String::new(),
        headers,
        body_sha256: hex::encode(Sha256::digest(&body)),
        body: Bytes::from(body),
        remote_addr: format!("203.0.113.{}:{}", rng.below(250), 40000 + rng.below(20000)),
        event_type: Some(kind.to_owned()),
        dedupe_key: Some(delivery_id),
        claims_dedupe_key: verdict == Verdict::Verified || route.scheme.is_none(),
        resend_of: None,
        verification: verification(route.scheme, verdict),
        secret_headers: Vec::new(),
        targets,
        drop_duplicate: false,
        proxy: false,
    };
    let captured = writer.capture(capture).await?;
    let ids = captured.deliveries.iter().map(|d| d.id).collect();
    for record in writer.begin_attempts(ids, at).await? {
        let dead = rng.below(100) < 3;
        let failures = if dead { 3 } else { rng.below(3) as u32 };
        for n in 1..=failures {
            let last = n == failures && dead;
            let decision = if last {
                Decision::Dead
            } else {
                Decision::RetryAt(at)
            };
            writer
                .finish_attempt(record.id, attempt(rng, n, at, false), decision)
                .await?;
            if !last {
                writer.begin_attempts(vec![record.id], at).await?;
            }
        }
        if !dead {
            writer
                .finish_attempt(
                    record.id,
                    attempt(rng, failures + 1, at, true),
                    Decision::Succeeded,
                )
                .await?;
        }
    }
    Ok(())
}

fn attempt(rng: &mut Rng, n: u32, at: Timestamp, ok: bool) -> Attempt {
    let (status, error, body) = match (ok, rng.below(2)) {
        (true, _) => (Some(200), None, Some("eyJvayI6dHJ1ZX0=".to_owned())),
        (false, 0) => (
            Some(500),
            None,
            Some("PGgxPkludGVybmFsIFNlcnZlciBFcnJvcjwvaDE+".to_owned()),
        ),
        (false, _) => (None, Some("connect_refused".to_owned()), None),
    };
    Attempt {
        n,
        started_at: Timestamp::from_unix_millis(at.unix_millis() + i64::from(n) * 500),
        duration_ms: 3 + rng.below(80) as u64,
        status,
        error,
        response_headers: status
            .map(|_| vec![Header::new("content-type", "application/json")])
            .unwrap_or_default(),
        response_size: body.as_ref().map(|b| (b.len() * 3 / 4) as u64),
        response_body_base64: body,
        note: None,
    }
}

fn verification(scheme: Option<&str>, verdict: Verdict) -> Verification {
    let mut v = Verification::bare(scheme, verdict);
    if verdict == Verdict::Verified {
        v.secret = Some("#1".into());
    }
    if verdict == Verdict::Mismatch {
        v.diagnosis = Some(Diagnosis {
            code: "body_reserialized".into(),
            message: "The signature matches the body as compact JSON, not the bytes received."
                .into(),
        });
    }
    if verdict == Verdict::Stale {
        v.timestamp = Some("1700000000".into());
        v.skew_secs = Some(9000);
    }
    v
}

/// A JSON body of 0.3–4 KiB, and one in 500 of 256 KiB.
fn body(rng: &mut Rng, kind: &str) -> Vec<u8> {
    let size = if rng.below(500) == 0 {
        256 * 1024
    } else {
        300 + rng.below(3800)
    };
    let mut body = format!(
        "{{\"id\":\"evt_{:016x}\",\"type\":\"{kind}\",\"created\":{},\"data\":{{\"object\":{{\"amount\":{},\"currency\":\"eur\",\"note\":\"",
        rng.next(),
        1_700_000_000 + rng.below(10_000_000),
        rng.below(100_000)
    );
    while body.len() + 8 < size {
        body.push_str(WORDS[rng.below(WORDS.len())]);
        body.push(' ');
    }
    body.push_str("\"}}}");
    body.into_bytes()
}

struct Route {
    name: &'static str,
    path: &'static str,
    scheme: Option<&'static str>,
    signature: Option<(&'static str, &'static str)>,
    agent: &'static str,
    types: &'static [&'static str],
}

const ROUTES: &[Route] = &[
    Route {
        name: "stripe",
        path: "/stripe/events",
        scheme: Some("stripe"),
        signature: Some((
            "stripe-signature",
            "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
        )),
        agent: "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        types: &[
            "invoice.paid",
            "payment_intent.succeeded",
            "charge.failed",
            "customer.subscription.updated",
        ],
    },
    Route {
        name: "github",
        path: "/gh",
        scheme: Some("github"),
        signature: Some((
            "x-hub-signature-256",
            "sha256=d579137ed67e8887b6f1e73249179ebf9642fc42774193ad8f5aeaa9bdcc0068",
        )),
        agent: "GitHub-Hookshot/abc1234",
        types: &["push", "pull_request", "issues", "workflow_run"],
    },
    Route {
        name: "slack",
        path: "/slack/events",
        scheme: Some("slack"),
        signature: Some((
            "x-slack-signature",
            "v0=63c28b5d732033fdccf86ef2b2dacad9331c6a7f565fca0bfb807fc744d1ed49",
        )),
        agent: "Slackbot 1.0 (+https://api.slack.com/robots)",
        types: &["message", "app_mention", "reaction_added"],
    },
    Route {
        name: "shopify",
        path: "/shopify",
        scheme: Some("shopify"),
        signature: Some((
            "x-shopify-hmac-sha256",
            "1XkTftZ+iIe28ecySReev5ZC/EJ3QZOtj1rqqb3MAGg=",
        )),
        agent: "Shopify-Captain-Hook",
        types: &["orders/create", "orders/paid", "products/update"],
    },
    Route {
        name: "zentra",
        path: "/zentra",
        scheme: Some("zentra"),
        signature: Some((
            "x-zentra-signature",
            "c878af98fea2b1fea17574fd2072609e6f3c842929651cd88001bbd95a4fba83",
        )),
        agent: "Zentra-Webhooks/2.1",
        types: &[
            "ticket.created",
            "ticket.resolved",
            "change.approved",
            "transfer.settled",
        ],
    },
    Route {
        name: "default",
        path: "/hooks",
        scheme: None,
        signature: None,
        agent: "curl/8.5.0",
        types: &["ping"],
    },
];

const TARGETS: &[&str] = &["app", "audit", "billing"];

const WORDS: &[&str] = &[
    "invoice",
    "customer",
    "payment",
    "settled",
    "pending",
    "refund",
    "order",
    "shipment",
    "ticket",
    "priority",
    "escalated",
    "resolved",
    "approved",
    "webhook",
    "delivery",
];

/// xorshift64*: small, fast and deterministic; statistical quality is beside the point here.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
