//! `replay ID`: a new delivery of a captured event — to its targets or `--to URL`, re-signed with
//! a fresh timestamp (or `--as-received`), or as an exact `--duplicate` — then the first result.

use super::Failure;
use super::events::parse_id;
use super::source::Source;
use crate::api::ReplayBody;
use crate::app::{self, ListenOptions};
use crate::instance::DataDir;
use crate::live::Live;
use crate::model::Delivery;
use crate::relay::Relay;
use crate::text::escape;
use anyhow::anyhow;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use ulid::Ulid;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  hooklens replay 01JD0000000000000000000000\n  hooklens replay 01JD0000000000000000000000 --to http://localhost:3000/webhooks\n  hooklens replay 01JD0000000000000000000000 --duplicate     # same delivery id: test idempotency\n  hooklens replay 01JD0000000000000000000000 --as-received   # the original headers, signature and all"
)]
pub struct ReplayArgs {
    /// Event id.
    pub id: String,
    /// Deliver to this URL instead of the event's targets.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// Send with the same delivery id the consumer saw, to test its idempotency.
    #[arg(long)]
    pub duplicate: bool,
    /// Send the original headers exactly, instead of re-signing with a fresh timestamp.
    #[arg(long)]
    pub as_received: bool,
    /// Seconds to wait for the first attempt's result.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub wait: u64,
    /// Print the replay deliveries as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(
    config: Option<PathBuf>,
    data: Option<PathBuf>,
    args: ReplayArgs,
) -> Result<(), Failure> {
    let dir = DataDir::resolve(data.as_deref()).map_err(Failure::usage)?;
    let source = Source::open(&dir).await?;
    let id = parse_id(&args.id)?;
    let body = ReplayBody {
        to: args.to.clone(),
        duplicate: args.duplicate,
        as_received: args.as_received,
    };
    // Without a running instance this process delivers the replay itself, so it keeps the relay
    // alive until the result is in.
    let (made, relay) = match &source {
        Source::Api { .. } => {
            let answer: serde_json::Value = source
                .post(&format!("/api/v1/events/{id}/replay"), &body)
                .await?;
            (ids(&answer), None)
        }
        Source::File(None) => return Err(Failure::failed(anyhow!("no event {id}"))),
        Source::File(Some((store, writer))) => {
            let options = ListenOptions {
                config_path: config,
                ..ListenOptions::default()
            };
            let config = app::initial_config(&options).map_err(Failure::usage)?;
            let request =
                crate::replay::plan(store, &config, id, &body, "cli").map_err(|e| match e {
                    crate::replay::PlanError::NoSuchEvent => {
                        Failure::failed(anyhow!("no event {id}"))
                    }
                    other => Failure::usage(other),
                })?;
            let made = writer.replay(request).await?;
            let (_live, live_rx) = tokio::sync::watch::channel(Arc::new(Live::new(config, None)));
            let relay = Relay::start(store.clone(), writer.clone(), live_rx)?;
            (made.iter().map(|d| d.id).collect(), Some((relay, _live)))
        }
    };
    let deliveries = wait_for_results(&source, id, &made, Duration::from_secs(args.wait)).await?;
    if let Some((relay, _live)) = relay {
        // Let any other attempt this process started be recorded before it exits.
        relay.shutdown(Duration::from_secs(5)).await;
    }
    print(&deliveries, args.json)?;
    if deliveries.iter().all(|d| d.state.as_str() == "succeeded") {
        Ok(())
    } else {
        Err(Failure::failed(anyhow!("the replay did not succeed (yet)")))
    }
}

fn ids(answer: &serde_json::Value) -> Vec<Ulid> {
    answer["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["id"].as_str().and_then(|s| Ulid::from_string(s).ok()))
        .collect()
}

/// Polls until every replay delivery has an attempt (or has ended), or the wait is over.
async fn wait_for_results(
    source: &Source,
    event: Ulid,
    made: &[Ulid],
    wait: Duration,
) -> Result<Vec<Delivery>, Failure> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let detail = source
            .show(event, false)
            .await?
            .ok_or_else(|| Failure::failed(anyhow!("no event {event}")))?;
        let ours: Vec<Delivery> = detail
            .deliveries
            .into_iter()
            .filter(|d| made.contains(&d.id))
            .collect();
        let settled = ours
            .iter()
            .all(|d| !d.attempts.is_empty() || !d.state.is_pending());
        if settled || tokio::time::Instant::now() >= deadline {
            return Ok(ours);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn print(deliveries: &[Delivery], json: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, deliveries)?;
        return writeln!(out);
    }
    for d in deliveries {
        write!(
            out,
            "delivery {} to {}: {}",
            d.id,
            escape(&d.target),
            d.state.as_str()
        )?;
        if let Some(a) = d.attempts.last() {
            match (a.status, &a.error) {
                (Some(status), _) => {
                    write!(out, " (attempt {}: {status} in {} ms)", a.n, a.duration_ms)?
                }
                (None, Some(error)) => write!(out, " (attempt {}: {error})", a.n)?,
                _ => {}
            }
            if let Some(note) = &a.note {
                write!(out, "; {note}")?;
            }
        }
        if let Some(next) = d.next_attempt_at {
            write!(out, "; next attempt at {next}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
