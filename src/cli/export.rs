//! `export`: captured events as JSONL, HAR or curl (see [`crate::export`]), oldest first, read
//! page by page through the running instance or from the history file.

use super::Failure;
use super::events::parse_id;
use super::source::{Access, Source};
use crate::contract::Page;
use crate::export::{Exporter, Format};
use crate::instance::DataDir;
use crate::model::{EventDetail, EventSummary};
use crate::store::EventFilter;
use anyhow::{Context, anyhow};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use ulid::Ulid;

/// Events read per page.
const PAGE: usize = 500;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  hooklens export --format har -o hooks.har          # open in browser devtools or a HAR viewer\n  hooklens export --format curl --route stripe > replay.sh\n  HOOKLENS_URL=http://localhost:3000 sh replay.sh        # send them again, to your consumer\n  hooklens export --format jsonl --since 01JD0000000000000000000000 | jq .event_type"
)]
pub struct ExportArgs {
    /// jsonl (one `events show --json` object per line), har (HAR 1.2) or curl (a shell script).
    #[arg(long, value_enum)]
    pub format: Format,
    /// Only events newer than this id.
    #[arg(long, value_name = "ID")]
    pub since: Option<String>,
    /// Only events of this route.
    #[arg(long, value_name = "NAME")]
    pub route: Option<String>,
    /// Include header values that may be secrets (Authorization, Cookie, a route's secret header).
    #[arg(long)]
    pub reveal: bool,
    /// Write to this file (mode 0600: it holds other people's requests) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub async fn run(data: Option<PathBuf>, args: ExportArgs) -> Result<(), Failure> {
    let since = args.since.as_deref().map(parse_id).transpose()?;
    let data = DataDir::resolve(data.as_deref()).map_err(Failure::usage)?;
    let source = Source::open(&data, Access::Read).await?;
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(private_file(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut exporter = Exporter::new(out, args.format)?;
    let filter = EventFilter {
        route: args.route.clone(),
        ..EventFilter::default()
    };
    // From the start: the nil id is older than every event.
    let mut after = since.unwrap_or(Ulid::nil());
    loop {
        let (items, next) = page(&source, after, &filter).await?;
        for summary in &items {
            let Some(detail) = detail(&source, summary.id, args.reveal).await? else {
                continue; // pruned meanwhile
            };
            exporter.event(&detail)?;
        }
        match next {
            Some(next) => after = next,
            None => break,
        }
    }
    let written = exporter.finish()?;
    if let Some(path) = &args.output {
        eprintln!("exported {written} events to {}", path.display());
    }
    Ok(())
}

/// One page of events newer than `after`, oldest first, and the next page's `after`.
async fn page(
    source: &Source,
    after: Ulid,
    filter: &EventFilter,
) -> Result<(Vec<EventSummary>, Option<Ulid>), Failure> {
    match source {
        Source::Api { .. } => {
            let mut path = format!("/api/v1/events?limit={PAGE}&after={after}");
            if let Some(route) = &filter.route {
                let mut url = reqwest::Url::parse("http://x/").expect("a valid base");
                url.query_pairs_mut().append_pair("route", route);
                path.push('&');
                path.push_str(url.query().unwrap_or_default());
            }
            let page: Page<EventSummary> = source.get(&path).await?;
            Ok((page.items, page.next_cursor))
        }
        Source::File(None) => Ok((Vec::new(), None)),
        Source::File(Some(history)) => {
            let filter = filter.clone();
            let page = history
                .store
                .read(move |s| s.list_events_after(Some(after), PAGE, &filter))
                .await?;
            Ok((page.items, page.next_cursor))
        }
    }
}

async fn detail(source: &Source, id: Ulid, reveal: bool) -> Result<Option<EventDetail>, Failure> {
    source.show(id, reveal).await
}

fn private_file(path: &std::path::Path) -> Result<std::fs::File, Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))
        .map_err(|e| Failure::failed(anyhow!("{e:#}")))
}
