//! `replay ID`: a new delivery of a captured event — to its named targets, `--target NAME` only,
//! or `--to URL` — re-signed with a fresh timestamp (or `--as-received`), or as an exact
//! `--duplicate`; and bulk `replay --state dead|failed`: every such delivery to its own target.
//! Without a running instance this process makes the attempts itself while it waits.

use super::Failure;
use super::events::parse_id;
use super::source::{Access, Source};
use crate::config::Config;
use crate::contract::{BulkReplayBody, ReplayBody};
use crate::instance::DataDir;
use crate::live::Live;
use crate::model::{Delivery, DeliveryState};
use crate::replay::PlanError;
use crate::store::{Store, Writer};
use crate::text::{escape, write_json_line};
use anyhow::anyhow;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use ulid::Ulid;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  hooklens replay 01JD0000000000000000000000                   # to the event's targets\n  hooklens replay 01JD0000000000000000000000 --target billing  # to that target only\n  hooklens replay 01JD0000000000000000000000 --to http://localhost:3000/webhooks\n  hooklens replay 01JD0000000000000000000000 --duplicate     # same delivery id: test idempotency\n  hooklens replay 01JD0000000000000000000000 --as-received   # the original headers, signature and all\n  hooklens replay --state dead --target billing                # every dead letter of billing\n  hooklens --config hooklens.toml replay --state dead          # no instance running: delivered here"
)]
pub struct ReplayArgs {
    /// Event id (none with --state).
    #[arg(required_unless_present = "state", conflicts_with = "state")]
    pub id: Option<String>,
    /// Deliver to this URL instead of the event's targets (never a target of later replays).
    #[arg(long, value_name = "URL", conflicts_with_all = ["targets", "state"])]
    pub to: Option<String>,
    /// Only to this configured target; repeatable.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Bulk: replay every delivery in this state (not replayed since) to its own target.
    #[arg(long, value_name = "STATE", value_parser = ["dead", "failed"])]
    pub state: Option<String>,
    /// Bulk: only deliveries newer than this id.
    #[arg(long, value_name = "ID", requires = "state")]
    pub since: Option<String>,
    /// Send with the same delivery id the consumer saw, to test its idempotency.
    #[arg(long, conflicts_with = "state")]
    pub duplicate: bool,
    /// Send the original headers exactly, instead of re-signing with a fresh timestamp.
    #[arg(long, conflicts_with = "state")]
    pub as_received: bool,
    /// Seconds to wait for results. Without a running instance, attempts are made (and retried)
    /// only meanwhile; what has not succeeded by then is marked failed (abandoned).
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
    let source = Source::open(&dir, Access::Write).await?;
    match &args.state {
        Some(state) => bulk(&source, config, state, &args).await,
        None => one(&source, config, &args).await,
    }
}

async fn one(source: &Source, config: Option<PathBuf>, args: &ReplayArgs) -> Result<(), Failure> {
    let id = parse_id(args.id.as_deref().unwrap_or_default())?;
    let body = ReplayBody {
        to: args.to.clone(),
        targets: (!args.targets.is_empty()).then(|| args.targets.clone()),
        duplicate: args.duplicate,
        as_received: args.as_received,
    };
    let wait = Duration::from_secs(args.wait);
    let deliveries = match source {
        Source::Api { .. } => {
            let answer: serde_json::Value = source
                .post(&format!("/api/v1/events/{id}/replay"), &body)
                .await?;
            wait_for_results(source, id, &ids(&answer), wait).await?
        }
        Source::File(None) => return Err(Failure::failed(anyhow!("no event {id}"))),
        Source::File(Some(history)) => {
            let (store, writer) = (&history.store, history.writer()?);
            let config = super::load_config(config)?;
            let request =
                crate::replay::plan(store, &config, id, &body, "cli").map_err(|e| match e {
                    PlanError::NoSuchEvent => Failure::failed(anyhow!("no event {id}")),
                    other => plan_failure(other),
                })?;
            let made: Vec<Ulid> = writer.replay(request).await?.iter().map(|d| d.id).collect();
            deliver_here(store, writer, config, &made, wait).await?;
            let mut all = store.event_deliveries(id)?;
            all.retain(|d| made.contains(&d.id));
            all
        }
    };
    print(&deliveries, args.json)?;
    if deliveries
        .iter()
        .all(|d| d.state == DeliveryState::Succeeded)
    {
        Ok(())
    } else {
        Err(Failure::failed(anyhow!("the replay did not succeed (yet)")))
    }
}

async fn bulk(
    source: &Source,
    config: Option<PathBuf>,
    state: &str,
    args: &ReplayArgs,
) -> Result<(), Failure> {
    let since = args.since.as_deref().map(parse_id).transpose()?;
    // No --target: every target; else each one named.
    let targets: Vec<Option<String>> = if args.targets.is_empty() {
        vec![None]
    } else {
        args.targets.iter().cloned().map(Some).collect()
    };
    let (replayed, succeeded) = match source {
        Source::Api { .. } => {
            let mut replayed = 0;
            for target in targets {
                let body = BulkReplayBody {
                    state: state.to_owned(),
                    target,
                    since,
                };
                let answer: serde_json::Value =
                    source.post("/api/v1/deliveries/replay", &body).await?;
                replayed += answer["replayed"].as_u64().unwrap_or(0);
            }
            // The instance delivers them; `deliveries list` shows how they fare.
            (replayed, None)
        }
        Source::File(None) => (0, None),
        Source::File(Some(history)) => {
            let (store, writer) = (&history.store, history.writer()?);
            let config = super::load_config(config)?;
            let wanted = crate::replay::bulk_state(state).map_err(Failure::usage)?;
            let mut requests = Vec::new();
            for target in &targets {
                requests.extend(
                    crate::replay::plan_bulk(
                        store,
                        &config,
                        wanted,
                        target.as_deref(),
                        since,
                        "cli",
                    )
                    .map_err(plan_failure)?,
                );
            }
            let made: Vec<Ulid> = crate::replay::queue_all(writer, requests)
                .await?
                .iter()
                .map(|d| d.id)
                .collect();
            deliver_here(store, writer, config, &made, Duration::from_secs(args.wait)).await?;
            let mut succeeded = 0;
            for id in &made {
                if store
                    .delivery(*id)?
                    .is_some_and(|d| d.state == DeliveryState::Succeeded)
                {
                    succeeded += 1;
                }
            }
            (made.len() as u64, Some(succeeded))
        }
    };
    report(args.json, replayed, succeeded)?;
    match succeeded {
        Some(ok) if ok < replayed => Err(Failure::failed(anyhow!(
            "{} of {replayed} replays did not succeed; see `hooklens deliveries list --state failed`",
            replayed - ok
        ))),
        _ => Ok(()),
    }
}

/// `replayed N deliveries` (and, when this process delivered them, how many succeeded).
fn report(json: bool, replayed: u64, succeeded: Option<u64>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::json!({ "replayed": replayed });
        if let Some(ok) = succeeded {
            v["succeeded"] = ok.into();
        }
        return write_json_line(&mut out, &v);
    }
    let plural = if replayed == 1 {
        "delivery"
    } else {
        "deliveries"
    };
    match succeeded {
        Some(ok) => writeln!(out, "replayed {replayed} {plural}, {ok} succeeded"),
        None => writeln!(out, "replayed {replayed} {plural}"),
    }
}

/// The configuration targets are resolved from when no instance runs: `--config`, or the
/// default one (which has no targets).
fn plan_failure(error: PlanError) -> Failure {
    match error {
        PlanError::Store(e) => Failure::failed(e),
        PlanError::UnknownTarget { .. } => Failure::usage(anyhow!(
            "{error} (no instance is running: targets come from --config)"
        )),
        other => Failure::usage(other),
    }
}

/// Makes the attempts here, for at most `wait`; see [`crate::relay::deliver_here`].
async fn deliver_here(
    store: &Store,
    writer: &Writer,
    config: Config,
    made: &[Ulid],
    wait: Duration,
) -> Result<(), Failure> {
    // This command relays too, under an identity of its own (in `Via`).
    let identity = crate::identity::Identity::generate()?;
    let live = Arc::new(Live::new(config, None, identity));
    let deadline = tokio::time::Instant::now() + wait;
    // Ctrl-C ends the wait early; what is unfinished is still abandoned, not left queued.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    // Polled once here, so the handler is in place before the first attempt goes out.
    let _ = tokio::time::timeout(Duration::ZERO, &mut ctrl_c).await;
    let interrupt = tokio::spawn(async move {
        if ctrl_c.await.is_ok() {
            let _ = stop.send(true);
        }
    });
    let done = crate::relay::deliver_here(store, writer, live, made, deadline, stopped).await;
    interrupt.abort();
    done?;
    Ok(())
}

fn ids(answer: &serde_json::Value) -> Vec<Ulid> {
    answer["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["id"].as_str().and_then(|s| Ulid::from_string(s).ok()))
        .collect()
}

/// Polls the running instance until every replay delivery has an attempt (or has ended), or
/// the wait is over.
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
        return write_json_line(&mut out, deliveries);
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
                (None, Some(error)) => write!(out, " (attempt {}: {})", a.n, escape(error))?,
                _ => {}
            }
            if let Some(note) = &a.note {
                write!(out, "; {}", escape(note))?;
            }
        }
        if let Some(next) = d.next_attempt_at.filter(|_| d.state.is_pending()) {
            write!(out, "; next attempt at {next}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
