//! `deliveries list`: deliveries newest first, filtered by state, target and event — where an
//! on-call engineer sees which target is failing and how.

use super::Failure;
use super::events::parse_id;
use super::source::{Access, Source};
use crate::contract::DeliveryItem;
use crate::instance::DataDir;
use crate::model::DeliveryState;
use crate::store::DeliveryFilter;
use crate::text::escape;
use clap::Subcommand;
use std::io::{self, Write};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// Newest deliveries first.
    #[command(
        after_help = "Examples:\n  hooklens deliveries list --state dead\n  hooklens deliveries list --target billing --state dead --json | jq -r .event_id\n  hooklens deliveries list --event 01JD0000000000000000000000"
    )]
    List {
        /// One JSON object per line: event_id and the delivery's fields.
        #[arg(long)]
        json: bool,
        /// How many deliveries.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
        /// Only this state: queued, in_flight, succeeded, retry_scheduled, failed, dead.
        #[arg(long, value_name = "STATE", value_parser = variant::<DeliveryState>)]
        state: Option<DeliveryState>,
        /// Only deliveries to this target.
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        /// Only this event's deliveries.
        #[arg(long, value_name = "ID")]
        event: Option<String>,
    },
}

pub async fn run(data: Option<PathBuf>, command: DeliveriesCommand) -> Result<(), Failure> {
    let DeliveriesCommand::List {
        json,
        limit,
        state,
        target,
        event,
    } = command;
    let event = event.as_deref().map(parse_id).transpose()?;
    let data = DataDir::resolve(data.as_deref()).map_err(Failure::usage)?;
    let source = Source::open(&data, Access::Read).await?;
    let filter = DeliveryFilter {
        state,
        target,
        event,
    };
    let items = source.deliveries(limit, &filter).await?;
    print(&items, json)?;
    Ok(())
}

/// A value of one of the contract's enums, by its JSON name (`dead`, `no_secret`, ...).
pub fn variant<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("{text:?} is not one of the values listed in --help"))
}

fn print(items: &[DeliveryItem], json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        return super::output::json_lines(&mut out, items);
    }
    if items.is_empty() {
        writeln!(out, "no deliveries match")?;
        return out.flush();
    }
    writeln!(
        out,
        "{:<26}  {:<26}  {:<16}  {:<15}  {:>8}  LAST",
        "DELIVERY", "EVENT", "TARGET", "STATE", "ATTEMPTS"
    )?;
    for item in items {
        let d = &item.delivery;
        let last = match d.attempts.last() {
            Some(a) => match (a.status, &a.error) {
                (Some(status), _) => format!("{status} in {} ms", a.duration_ms),
                (None, Some(error)) => escape(error).into_owned(),
                (None, None) => "-".into(),
            },
            None => "-".into(),
        };
        let replay = d
            .replay_of
            .map(|r| format!(" (replay of {r})"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<26}  {:<26}  {:<16}  {:<15}  {:>8}  {last}{replay}",
            d.id.to_string(),
            item.event_id.to_string(),
            escape(&d.target),
            d.state.as_str(),
            d.attempts.len(),
        )?;
    }
    out.flush()
}
