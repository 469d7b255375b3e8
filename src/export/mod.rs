//! `hooklens export`: captured requests in forms people hand to each other — JSONL (one
//! `events show --json` object per line), HAR 1.2 (what browser devtools and HAR viewers open) and
//! curl (one runnable command per event that sends the request again, byte for byte). Each event is
//! written as it is read, so an export of a million events holds one event in memory at a time.

mod curl;
mod har;
mod import;

pub use import::{ImportError, ImportedEvent, parse as parse_import};

use crate::model::EventDetail;
use std::io::{self, Write};

/// An export format, as `--format` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Har,
    Curl,
}

/// Writes one export: [`Exporter::event`] for each event in order, then [`Exporter::finish`].
pub struct Exporter<W: Write> {
    out: W,
    format: Format,
    written: u64,
}

impl<W: Write> Exporter<W> {
    pub fn new(mut out: W, format: Format) -> io::Result<Self> {
        match format {
            Format::Jsonl => {}
            Format::Har => har::begin(&mut out)?,
            Format::Curl => curl::begin(&mut out)?,
        }
        Ok(Exporter {
            out,
            format,
            written: 0,
        })
    }

    pub fn event(&mut self, event: &EventDetail) -> io::Result<()> {
        match self.format {
            Format::Jsonl => crate::text::write_json_line(&mut self.out, event)?,
            Format::Har => har::entry(&mut self.out, event, self.written == 0)?,
            Format::Curl => curl::command(&mut self.out, event)?,
        }
        self.written += 1;
        Ok(())
    }

    /// Closes the export; returns how many events it holds.
    pub fn finish(mut self) -> io::Result<u64> {
        if self.format == Format::Har {
            har::end(&mut self.out)?;
        }
        self.out.flush()?;
        Ok(self.written)
    }
}
