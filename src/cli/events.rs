//! `events list` (filtered by route, verdict, deliveries state) and `events show` (by event or
//! delivery id).

use super::source::{Access, Source};
use super::{EventsCommand, Failure, output};
use crate::instance::DataDir;
use crate::store::EventFilter;
use anyhow::anyhow;
use std::path::PathBuf;
use ulid::Ulid;

pub async fn run(data: Option<PathBuf>, command: EventsCommand) -> Result<(), Failure> {
    let data = DataDir::resolve(data.as_deref()).map_err(Failure::usage)?;
    let source = Source::open(&data, Access::Read).await?;
    match command {
        EventsCommand::List {
            json,
            limit,
            route,
            verdict,
            state,
        } => {
            let filter = EventFilter {
                route,
                verdict,
                state,
            };
            let items = source.list(limit, &filter).await?;
            output::print_list(&items, json)?;
        }
        EventsCommand::Show { id, json, reveal } => {
            let id = parse_id(&id)?;
            let detail = source
                .show(id, reveal)
                .await?
                .ok_or_else(|| Failure::failed(anyhow!("no event or delivery {id}")))?;
            output::print_show(&detail, json)?;
        }
    }
    Ok(())
}

pub fn parse_id(id: &str) -> Result<Ulid, Failure> {
    Ulid::from_string(id).map_err(|_| Failure::usage(anyhow!("{id:?} is not an event id")))
}
