//! Printing events for people (escaped, aligned) and for scripts (the contract's JSON).

use crate::model::{EventDetail, EventSummary};
use crate::text::{escape, escape_bytes, write_json_line};
use std::io::{self, Write};

/// Bytes of a body shown in `events show`; the rest is summarised.
const BODY_PREVIEW: usize = 64 * 1024;

/// One JSON object per line, for scripts (and safe on a terminal: see [`crate::text::json_safe`]).
pub fn json_lines<T: serde::Serialize>(out: &mut impl Write, items: &[T]) -> io::Result<()> {
    for item in items {
        write_json_line(out, item)?;
    }
    out.flush()
}

pub fn print_list(items: &[EventSummary], json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        return json_lines(&mut out, items);
    }
    if items.is_empty() {
        writeln!(out, "no events yet")?;
        return out.flush();
    }
    writeln!(
        out,
        "{:<26}  {:<24}  {:<12}  {:<7}  {:<30}  {:<24}  {:<10}  DELIVERIES",
        "ID", "RECEIVED", "ROUTE", "METHOD", "PATH", "TYPE", "VERDICT"
    )?;
    for e in items {
        writeln!(
            out,
            "{:<26}  {:<24}  {:<12}  {:<7}  {:<30}  {:<24}  {:<10}  {}",
            e.id.to_string(),
            e.received_at.to_string(),
            clip(&escape(&e.route), 12),
            clip(&escape(&e.method), 7),
            clip(&escape(&e.path), 30),
            clip(&escape(e.event_type.as_deref().unwrap_or("-")), 24),
            e.verdict.as_str(),
            json_name(&e.deliveries_state),
        )?;
    }
    out.flush()
}

pub fn print_show(detail: &EventDetail, json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        write_json_line(&mut out, detail)?;
        return out.flush();
    }
    let query = if detail.query.is_empty() {
        String::new()
    } else {
        format!("?{}", escape(&detail.query))
    };
    writeln!(out, "event      {}", detail.id)?;
    if detail.imported {
        writeln!(
            out,
            "imported   from an export (`hooklens import`), not received here"
        )?;
    }
    writeln!(
        out,
        "received   {}  from {}",
        detail.received_at,
        escape(&detail.remote_addr)
    )?;
    writeln!(out, "route      {}", escape(&detail.route))?;
    writeln!(
        out,
        "request    {} {}{}",
        escape(&detail.method),
        escape(&detail.path),
        query
    )?;
    let opt = |v: &Option<String>| {
        v.as_deref()
            .map(|s| escape(s).into_owned())
            .unwrap_or_else(|| "-".into())
    };
    writeln!(out, "type       {}", opt(&detail.event_type))?;
    writeln!(out, "dedupe key {}", opt(&detail.dedupe_key))?;
    if let Some(of) = detail.duplicate_of {
        writeln!(out, "duplicate  of {of}")?;
    }
    let v = &detail.verification;
    writeln!(
        out,
        "signature  {} ({}){}",
        v.verdict.as_str(),
        v.scheme.as_deref().map_or("no scheme".into(), escape),
        v.secret
            .as_deref()
            .map(|s| format!(", secret {}", escape(s)))
            .unwrap_or_default()
    )?;
    super::signing::print_diagnosis(&mut out, v)?;
    if !detail.deliveries.is_empty() {
        writeln!(out, "deliveries")?;
    }
    for d in &detail.deliveries {
        let replay = d
            .replay_of
            .map(|r| format!(", replay of {r}"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} to {}: {}{}",
            d.id,
            escape(&d.target),
            d.state.as_str(),
            replay
        )?;
        for a in &d.attempts {
            let result = match (a.status, &a.error) {
                (Some(status), _) => format!("{status}"),
                (None, Some(error)) => escape(error).into_owned(),
                (None, None) => "-".into(),
            };
            let size = a
                .response_size
                .map(|s| format!(", {s} bytes"))
                .unwrap_or_default();
            writeln!(
                out,
                "    #{} {}  {} in {} ms{}",
                a.n, a.started_at, result, a.duration_ms, size
            )?;
            if let Some(note) = &a.note {
                writeln!(out, "       {}", escape(note))?;
            }
        }
        if let Some(next) = d.next_attempt_at.filter(|_| d.state.is_pending()) {
            writeln!(out, "    next attempt at {next}")?;
        }
    }
    writeln!(out, "headers")?;
    for h in &detail.headers {
        writeln!(
            out,
            "  {}: {}",
            escape(&h.name),
            escape_bytes(h.value.as_bytes())
        )?;
    }
    let body = detail.body();
    writeln!(
        out,
        "body       {} bytes, sha256 {}",
        body.len(),
        detail.body_sha256
    )?;
    if !body.is_empty() {
        let shown = &body[..body.len().min(BODY_PREVIEW)];
        writeln!(out, "{}", escape_bytes(shown))?;
        if body.len() > shown.len() {
            writeln!(
                out,
                "… {} more bytes (use --json for all of it)",
                body.len() - shown.len()
            )?;
        }
    }
    out.flush()
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

pub fn json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
