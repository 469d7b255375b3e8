//! `send`: a signed sample event (from the catalog, or a file) sent to a consumer exactly as its
//! provider sends it — signature, id, timestamp and event headers, content type — with the
//! failure modes a consumer must handle: a duplicate, a stale timestamp, a tampered body.

use super::Failure;
use super::signing::SchemeArgs;
use crate::catalog::{self, CATALOG, Sample};
use crate::model::{Timestamp, now};
use crate::signature;
use crate::text::{escape, escape_bytes, write_json_line};
use anyhow::{Context, anyhow};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How far `--stale` moves the timestamp back: past every provider's tolerance (five minutes).
const STALE_BY_SECS: i64 = 3600;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  hooklens send --list\n  hooklens send invoice.paid --scheme stripe --secret whsec_test --to http://localhost:8989/stripe\n  hooklens send ticket.created --scheme zentra --secret s3cret --to localhost:3000/hooks --duplicate\n  hooklens send push --scheme github --secret s3cret --to localhost:8989/gh --tamper   # must be refused\n  HOOKLENS_SECRET=whsec_test hooklens send body.json --scheme stripe --to localhost:8989/stripe --json"
)]
pub struct SendArgs {
    /// An event type from the catalog (`send --list`), or a file whose bytes are the body.
    #[arg(required_unless_present = "list")]
    pub event: Option<String>,
    /// Show the catalog.
    #[arg(long)]
    pub list: bool,
    /// Where to send it (`localhost:3000/hooks` without a scheme means http://).
    #[arg(long, value_name = "URL", required_unless_present = "list")]
    pub to: Option<String>,
    #[command(flatten)]
    pub scheme: SchemeArgs,
    /// Send it N times, each with its own ids.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u32,
    /// Send each one twice with the same delivery id (and bytes): does the consumer dedupe?
    #[arg(long)]
    pub duplicate: bool,
    /// Sign a timestamp an hour old, outside every provider's tolerance.
    #[arg(long)]
    pub stale: bool,
    /// Change the body after signing it: the signature must not verify.
    #[arg(long)]
    pub tamper: bool,
    /// An extra header, `Name: value`; repeatable (replaces one of the same name).
    #[arg(long = "header", value_name = "'Name: value'")]
    pub headers: Vec<String>,
    /// One JSON object per send: status, duration_ms, delivery_id, headers, body.
    #[arg(long)]
    pub json: bool,
}

/// What one request was and what the consumer answered.
#[derive(serde::Serialize)]
struct Outcome {
    event_type: Option<String>,
    delivery_id: String,
    status: Option<u16>,
    error: Option<String>,
    duration_ms: u64,
    /// The headers sent (signatures included: they are made with your secret, not one of
    /// hooklens's).
    headers: Vec<(String, String)>,
    body: String,
}

pub async fn run(args: SendArgs) -> Result<(), Failure> {
    if args.list {
        return Ok(list()?);
    }
    let name = args.event.clone().unwrap_or_default();
    let source = Body::of(&name, args.scheme.scheme.as_deref())?;
    let scheme = args.scheme.scheme(source.scheme())?;
    let scheme_name = scheme.name();
    let secrets = args.scheme.secrets()?;
    let url = target(args.to.as_deref().unwrap_or_default())?;
    let extra = args
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .filter(|(n, _)| !n.is_empty())
                .ok_or_else(|| Failure::usage(anyhow!("--header {h:?}: expected 'Name: value'")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if args.stale && !timestamped(scheme_name) {
        eprintln!("hooklens: --stale: {scheme_name} signs no timestamp; sent as usual");
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut all_ok = true;
    let mut out = std::io::stdout().lock();
    for _ in 0..args.repeat.max(1) {
        let at = now();
        let id = random_id()?;
        let (body, event_type, content_type) = source.render(&id, at);
        let signed_at = if args.stale {
            at.unix_secs() - STALE_BY_SECS
        } else {
            at.unix_secs()
        };
        let wire_id = wire_id(scheme_name, &id);
        let mut headers = signature::try_sign(
            &scheme,
            &secrets,
            &body,
            signed_at,
            Some(&wire_id),
            event_type.as_deref(),
        )
        .map_err(|e| Failure::usage(anyhow!("cannot sign: {e}")))?;
        headers.push(("Content-Type".into(), content_type));
        headers.extend(provider_headers(scheme_name, &id, at));
        for (name, value) in &extra {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name.clone(), value.clone()));
        }
        let body = if args.tamper { tampered(body) } else { body };
        let times = if args.duplicate { 2 } else { 1 };
        for _ in 0..times {
            let outcome = send(&client, &url, &headers, &body).await;
            let outcome = Outcome {
                event_type: event_type.clone(),
                delivery_id: wire_id.clone(),
                ..outcome
            };
            all_ok &= outcome.status.is_some_and(|s| (200..300).contains(&s));
            if args.json {
                write_json_line(&mut out, &outcome)?;
            } else {
                print(&mut out, &outcome)?;
            }
        }
    }
    if all_ok {
        Ok(())
    } else {
        Err(Failure::failed(anyhow!("the consumer did not answer 2xx")))
    }
}

/// Where the body comes from: a catalog sample, or a file's bytes.
enum Body {
    Sample(&'static Sample),
    File {
        bytes: Vec<u8>,
        event_type: Option<String>,
        content_type: String,
    },
}

impl Body {
    fn of(name: &str, scheme: Option<&str>) -> Result<Body, Failure> {
        if let Some(sample) = catalog::find(name, scheme) {
            return Ok(Body::Sample(sample));
        }
        let scheme = scheme.unwrap_or("the scheme");
        let path = PathBuf::from(name);
        if !path.is_file() {
            let known: Vec<&str> = CATALOG.iter().map(|s| s.event_type).collect();
            return Err(Failure::usage(anyhow!(
                "{:?} is neither a catalog event type nor a file; the catalog: {}",
                escape(name),
                known.join(", ")
            )));
        }
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {name}"))?;
        let json = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
        if json.is_none() && body_typed(scheme) {
            eprintln!(
                "hooklens: {name} is not JSON, where {scheme} reads the event type from the body; sent as is"
            );
        }
        let event_type = json.as_ref().and_then(|v| {
            v["type"]
                .as_str()
                .or_else(|| v["event"].as_str())
                .or_else(|| v["event"]["type"].as_str())
                .map(str::to_owned)
        });
        let content_type = if json.is_some() {
            "application/json".to_owned()
        } else {
            "application/octet-stream".to_owned()
        };
        Ok(Body::File {
            bytes,
            event_type,
            content_type,
        })
    }

    /// The scheme its provider signs with, for a sample.
    fn scheme(&self) -> Option<&'static str> {
        match self {
            Body::Sample(s) => s.scheme,
            Body::File { .. } => None,
        }
    }

    /// The body, its event type and content type, for one send.
    fn render(&self, id: &str, at: Timestamp) -> (Vec<u8>, Option<String>, String) {
        match self {
            Body::Sample(s) => (
                s.body(id, at).into_bytes(),
                Some(s.event_type.to_owned()),
                s.content_type.to_owned(),
            ),
            Body::File {
                bytes,
                event_type,
                content_type,
            } => (bytes.clone(), event_type.clone(), content_type.clone()),
        }
    }
}

/// The id header's value as each provider writes it.
fn wire_id(scheme: &str, id: &str) -> String {
    match scheme {
        "standard-webhooks" => format!("msg_{id}"),
        "github" | "shopify" => uuid_like(id),
        // Their ids are in the body (the samples' `evt_{{id}}`, `Ev{{id}}`).
        "stripe" => format!("evt_{id}"),
        "slack" => format!("Ev{id}"),
        _ => format!("dlv_{id}"),
    }
}

/// What a provider sends beside its signature (the scheme's own id and event headers come with
/// the signature).
fn provider_headers(scheme: &str, id: &str, at: Timestamp) -> Vec<(String, String)> {
    let pairs: Vec<(&str, String)> = match scheme {
        "stripe" => vec![(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)".into(),
        )],
        "github" => vec![
            ("User-Agent", "GitHub-Hookshot/hooklens".into()),
            ("X-GitHub-Hook-ID", "12345678".into()),
        ],
        "slack" => vec![(
            "User-Agent",
            "Slackbot 1.0 (+https://api.slack.com/robots)".into(),
        )],
        "shopify" => vec![
            (
                "X-Shopify-Shop-Domain",
                "hooklens-demo.myshopify.com".into(),
            ),
            ("X-Shopify-API-Version", "2024-07".into()),
            ("X-Shopify-Triggered-At", at.to_string()),
            (
                "X-Shopify-Event-Id",
                uuid_like(&id.chars().rev().collect::<String>()),
            ),
        ],
        "zentra" => vec![("User-Agent", "Zentra-Webhooks/1.0".into())],
        _ => Vec::new(),
    };
    pairs.into_iter().map(|(n, v)| (n.to_owned(), v)).collect()
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Outcome {
    let mut request = client.post(url).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let started = Instant::now();
    let answer = request.send().await;
    let (status, error, text) = match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            let bytes = response.bytes().await.unwrap_or_default();
            (
                Some(status),
                None,
                escape_bytes(&bytes[..bytes.len().min(64 * 1024)]),
            )
        }
        Err(e) if e.is_timeout() => (None, Some("timeout".into()), String::new()),
        Err(e) if e.is_connect() => (
            None,
            Some(format!("cannot connect to {url}")),
            String::new(),
        ),
        Err(e) => (None, Some(e.to_string()), String::new()),
    };
    Outcome {
        event_type: None,
        delivery_id: String::new(),
        status,
        error,
        duration_ms: started.elapsed().as_millis() as u64,
        headers: headers.to_vec(),
        body: text,
    }
}

fn print(out: &mut impl Write, o: &Outcome) -> std::io::Result<()> {
    let what = format!(
        "{} {}",
        o.event_type.as_deref().map_or("-".into(), escape),
        escape(&o.delivery_id)
    );
    match (o.status, &o.error) {
        (Some(status), _) => writeln!(out, "{status} in {} ms  {what}  {}", o.duration_ms, o.body),
        (None, Some(error)) => writeln!(out, "failed: {}  {what}", escape(error)),
        (None, None) => writeln!(out, "failed  {what}"),
    }
}

fn list() -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<26}  {:<18}  {:<18}  CONTENT TYPE",
        "EVENT TYPE", "PROVIDER", "SCHEME"
    )?;
    for s in CATALOG {
        writeln!(
            out,
            "{:<26}  {:<18}  {:<18}  {}",
            s.event_type,
            s.provider,
            s.scheme.unwrap_or("-"),
            s.content_type
        )?;
    }
    Ok(())
}

/// `--to`, with `http://` when it names no scheme (as `--forward` takes it).
fn target(to: &str) -> Result<String, Failure> {
    let url = if to.contains("://") {
        to.to_owned()
    } else {
        format!("http://{to}")
    };
    reqwest::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .map(|u| u.to_string())
        .ok_or_else(|| Failure::usage(anyhow!("--to {to:?} is not an http(s) URL")))
}

fn timestamped(scheme: &str) -> bool {
    matches!(scheme, "stripe" | "standard-webhooks" | "slack")
}

/// Schemes that read the event type (or the dedupe key) from a JSON body.
fn body_typed(scheme: &str) -> bool {
    matches!(scheme, "stripe" | "standard-webhooks" | "slack")
}

/// The body changed after signing: one more byte at the end, which no signature covers.
fn tampered(mut body: Vec<u8>) -> Vec<u8> {
    body.push(b' ');
    body
}

fn random_id() -> Result<String, Failure> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Failure::failed(anyhow!("no randomness: {e}")))?;
    Ok(hex::encode(bytes))
}

/// 32 hex digits as a version-4 UUID (GitHub's and Shopify's ids are UUIDs).
fn uuid_like(hex32: &str) -> String {
    let h: String = format!("{hex32:0<32}").chars().take(32).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}
