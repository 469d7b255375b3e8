//! `import`: a colleague's export (JSONL or HAR) into this history, marked as imported, so the
//! requests someone handed over can be inspected and replayed like those received here.

use super::Failure;
use super::source::{Access, Source};
use crate::export::{Format, parse_import};
use crate::instance::DataDir;
use anyhow::{Context, anyhow};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  hooklens import --format jsonl events.jsonl\n  hooklens import --format har hooks.har && hooklens events list"
)]
pub struct ImportArgs {
    /// jsonl (as `export --format jsonl` writes it) or har (HAR 1.2).
    #[arg(long, value_enum)]
    pub format: Format,
    /// The export to load.
    pub file: PathBuf,
}

pub async fn run(data: Option<PathBuf>, args: ImportArgs) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))
        .map_err(Failure::usage)?;
    let data = DataDir::resolve(data.as_deref()).map_err(Failure::usage)?;
    let source = Source::open(&data, Access::Write).await?;
    let imported = match &source {
        Source::Api { .. } => {
            let path = format!("/api/v1/import?format={}", name(args.format));
            let answer: serde_json::Value = source.post_bytes(&path, bytes).await?;
            answer["imported"].as_u64().unwrap_or(0) as usize
        }
        Source::File(history) => {
            let events = parse_import(args.format, &bytes).map_err(|e| {
                Failure::usage(anyhow!(
                    "{}: {e}; nothing was imported",
                    args.file.display()
                ))
            })?;
            let Some(history) = history else {
                return Err(Failure::failed(anyhow!("the history could not be made")));
            };
            history.writer()?.import(events, "cli").await?.len()
        }
    };
    println!("imported {imported} events (marked imported; `hooklens events list` shows them)");
    Ok(())
}

pub fn name(format: Format) -> &'static str {
    match format {
        Format::Jsonl => "jsonl",
        Format::Har => "har",
        Format::Curl => "curl",
    }
}
