//! `targets list|pause|resume|probe`: each target's health, and the on-call controls — through
//! the running instance's relay, or (pause and resume) on the history file itself when none runs,
//! so the next instance starts with the target paused.

use super::Failure;
use super::source::{Access, Source};
use crate::config::Config;
use crate::instance::DataDir;
use crate::model::{TargetControl, Timestamp, now};
use crate::relay::{HealthReport, HealthState};
use crate::text::{escape, redact_url};
use anyhow::anyhow;
use clap::Subcommand;
use std::io::{self, Write};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum TargetsCommand {
    /// Health of each target: state, success rate, latency, queue, the circuit, the last error.
    #[command(
        after_help = "Examples:\n  hooklens targets list\n  hooklens targets list --json | jq -r 'select(.state == \"down\") | .name'"
    )]
    List {
        /// One JSON object per line, shaped like `GET /api/v1/endpoints`'s items.
        #[arg(long)]
        json: bool,
    },
    /// Stop sending to a target (nothing is lost: its deliveries wait); survives a restart.
    #[command(after_help = "Examples:\n  hooklens targets pause billing")]
    Pause {
        /// Target name.
        name: String,
    },
    /// Send to a paused target again.
    #[command(after_help = "Examples:\n  hooklens targets resume billing")]
    Resume {
        /// Target name.
        name: String,
    },
    /// End an open circuit's cool-down now: the next waiting delivery is tried at once.
    #[command(after_help = "Examples:\n  hooklens targets probe billing")]
    Probe {
        /// Target name.
        name: String,
    },
}

pub async fn run(
    config: Option<PathBuf>,
    data: Option<PathBuf>,
    command: TargetsCommand,
) -> Result<(), Failure> {
    let data = DataDir::resolve(data.as_deref()).map_err(Failure::usage)?;
    let (name, action) = match command {
        TargetsCommand::List { json } => {
            let source = Source::open(&data, Access::Read).await?;
            let reports = list(&source, config).await?;
            return Ok(print(&reports, json, now())?);
        }
        TargetsCommand::Pause { name } => (name, TargetControl::Pause),
        TargetsCommand::Resume { name } => (name, TargetControl::Resume),
        TargetsCommand::Probe { name } => (name, TargetControl::Probe),
    };
    let source = Source::open(&data, Access::Write).await?;
    let mut out = io::stdout().lock();
    match &source {
        Source::Api { .. } => {
            let path = format!("/api/v1/targets/{}/{}", segment(&name), action.as_str());
            let report: HealthReport = source.post_to_named(&path).await?;
            writeln!(
                out,
                "{} {}: {}",
                done(action),
                escape(&report.name),
                describe(&report, now())
            )?;
        }
        Source::File(history) => {
            if action == TargetControl::Probe {
                return Err(Failure::failed(anyhow!(
                    "no instance is running: a probe is an attempt the running relay makes"
                )));
            }
            let config = super::load_config(config)?;
            known(&config, &name)?;
            let Some(history) = history else {
                return Err(Failure::failed(anyhow!("the history could not be made")));
            };
            history
                .writer()?
                .control(&name, action, "cli", None)
                .await?;
            writeln!(
                out,
                "{} {} (no instance is running: the next one starts with it {})",
                done(action),
                escape(&name),
                if action == TargetControl::Pause {
                    "paused"
                } else {
                    "sending"
                }
            )?;
        }
    }
    Ok(())
}

/// Health as a running instance measures it; without one, what the file says (paused, queued)
/// about the targets of the configuration given.
async fn list(source: &Source, config: Option<PathBuf>) -> Result<Vec<HealthReport>, Failure> {
    if let Source::Api { .. } = source {
        return source.get("/api/v1/endpoints").await;
    }
    eprintln!(
        "hooklens: no instance is running; health (success rate, latency, circuit) is measured \
         while one runs"
    );
    let config = super::load_config(config)?;
    let (paused, queued) = match source {
        Source::File(Some(h)) => (h.store.paused_targets()?, h.store.queued()?),
        _ => Default::default(),
    };
    Ok(config
        .targets
        .iter()
        .map(|t| {
            let paused = paused.iter().any(|(name, _)| *name == t.name);
            HealthReport {
                name: t.name.clone(),
                url: Some(redact_url(&t.url).into_owned()),
                state: if paused {
                    HealthState::Paused
                } else {
                    HealthState::Healthy
                },
                paused,
                success_rate: None,
                consecutive_failures: 0,
                p50_ms: None,
                p95_ms: None,
                queued: queued.get(&t.name).copied().unwrap_or(0),
                in_flight: 0,
                last_success_at: None,
                last_error: None,
                circuit_open_until: None,
            }
        })
        .collect())
}

fn known(config: &Config, name: &str) -> Result<(), Failure> {
    if config.targets.iter().any(|t| t.name == name) {
        return Ok(());
    }
    let names: Vec<_> = config.targets.iter().map(|t| escape(&t.name)).collect();
    Err(Failure::usage(anyhow!(
        "no target named {name:?} in the configuration (no instance is running: targets come from \
         --config){}",
        if names.is_empty() {
            String::new()
        } else {
            format!("; targets: {}", names.join(", "))
        }
    )))
}

/// A target name as one path segment.
fn segment(name: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a valid base");
    url.path_segments_mut()
        .expect("a base with a path")
        .push(name);
    url.path().trim_start_matches('/').to_owned()
}

fn done(action: TargetControl) -> &'static str {
    match action {
        TargetControl::Pause => "paused",
        TargetControl::Resume => "resumed",
        TargetControl::Probe => "probing",
    }
}

/// One line on a target's state: `down, reopens in 12 s (3 queued) · last error: timeout`.
fn describe(r: &HealthReport, now: Timestamp) -> String {
    let mut line = r.state.as_str().to_owned();
    if let Some(until) = r.circuit_open_until {
        let secs = (until.unix_millis() - now.unix_millis())
            .max(0)
            .unsigned_abs()
            .div_ceil(1000);
        if secs > 0 {
            line.push_str(&format!(", reopens in {secs} s"));
        } else {
            line.push_str(", probing");
        }
    }
    if r.queued > 0 || r.in_flight > 0 {
        line.push_str(&format!(
            " ({} queued, {} in flight)",
            r.queued, r.in_flight
        ));
    }
    if let Some(error) = &r.last_error {
        line.push_str(&format!(" · last error: {}", escape(error)));
    }
    line
}

fn print(reports: &[HealthReport], json: bool, now: Timestamp) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        return super::output::json_lines(&mut out, reports);
    }
    if reports.is_empty() {
        writeln!(
            out,
            "no targets (add [[targets]] to the configuration, or --forward URL)"
        )?;
        return out.flush();
    }
    writeln!(
        out,
        "{:<16}  {:<8}  {:>5}  {:>7}  {:>7}  {:>6}  {:>9}  URL",
        "TARGET", "STATE", "OK", "P50", "P95", "QUEUED", "IN FLIGHT"
    )?;
    let ms = |v: Option<u64>| v.map_or("-".to_owned(), |v| format!("{v} ms"));
    for r in reports {
        let rate = r
            .success_rate
            .map_or("-".to_owned(), |rate| format!("{:.0}%", rate * 100.0));
        writeln!(
            out,
            "{:<16}  {:<8}  {:>5}  {:>7}  {:>7}  {:>6}  {:>9}  {}",
            escape(&r.name),
            r.state.as_str(),
            rate,
            ms(r.p50_ms),
            ms(r.p95_ms),
            r.queued,
            r.in_flight,
            escape(r.url.as_deref().unwrap_or("-")),
        )?;
        let detail = describe(r, now);
        if detail != r.state.as_str() {
            writeln!(out, "{:<16}  {detail}", "")?;
        }
    }
    out.flush()
}
