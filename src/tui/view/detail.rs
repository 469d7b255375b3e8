//! The detail of the selected event: five tabs. Bodies show only the visible lines.

use super::list::verdict_badge;
use super::{Theme, clock, esc, fit, grouped, span_of};
use crate::model::{EventDetail, Timestamp};
use crate::text::escape_bytes;
use crate::tui::state::{BodyMode, DetailView, Focus, State, Tab};
use base64::Engine;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn render(state: &State, now: Timestamp, theme: Theme, frame: &mut Frame, area: Rect) {
    let d = &state.detail;
    let focused = state.focus == Focus::Detail;
    let title = match &d.view {
        Some(v) => {
            let e = &v.detail;
            format!(
                " {} {} {} ",
                short(&e.id.to_string()),
                esc(&e.method),
                esc(&e.path)
            )
        }
        None => " Detail ".to_owned(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(fit(&title, area.width.saturating_sub(2) as usize))
        .border_style(if focused { theme.bold() } else { theme.dim() });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let mut tabs = Vec::new();
    for (i, t) in Tab::ALL.iter().enumerate() {
        let label = if *t == d.tab {
            Span::styled(
                format!("[{}]", t.name()),
                theme.bold().add_modifier(Modifier::UNDERLINED),
            )
        } else if inner.width >= 50 {
            Span::raw(format!(" {} ", t.name()))
        } else {
            Span::raw(format!(" {}{} ", i + 1, &t.name()[..t.name().len().min(3)]))
        };
        tabs.push(label);
    }
    frame.render_widget(
        Paragraph::new(Line::from(tabs)),
        Rect::new(inner.x, inner.y, inner.width, 1),
    );
    let body = Rect::new(inner.x, inner.y + 1, inner.width, inner.height - 1);
    let Some(view) = &d.view else {
        let text = if state.list.rows.is_empty() {
            " Nothing selected."
        } else if d.gone {
            " This event is no longer in the history."
        } else {
            " Loading…"
        };
        frame.render_widget(Paragraph::new(text), body);
        return;
    };
    let height = body.height as usize;
    let lines = match d.tab {
        Tab::Overview => overview(&view.detail, now, theme),
        Tab::Request => request(view, d.mode, d.scroll, height, theme),
        Tab::Signature => signature(&view.detail, theme),
        Tab::Deliveries => deliveries(&view.detail, state, now, theme),
        Tab::Raw => raw(view),
    };
    let skip = if matches!(d.tab, Tab::Request) {
        0
    } else {
        d.scroll.min(lines.len().saturating_sub(1))
    };
    let width = body.width as usize;
    let lines: Vec<Line> = lines
        .into_iter()
        .skip(skip)
        .take(height)
        .map(|l| clip(l, width))
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}

/// Cuts a line to the width (ratatui would too; this keeps the ellipsis visible).
fn clip(line: Line<'static>, width: usize) -> Line<'static> {
    let total: usize = line.spans.iter().map(|s| s.content.chars().count()).sum();
    if total <= width {
        return line;
    }
    let mut left = width;
    let style = line.style;
    let mut spans = Vec::new();
    for s in line.spans {
        if left == 0 {
            break;
        }
        let n = s.content.chars().count();
        if n <= left {
            left -= n;
            spans.push(s);
        } else {
            spans.push(Span::styled(fit(&s.content, left), s.style));
            left = 0;
        }
    }
    Line::from(spans).style(style)
}

fn short(id: &str) -> String {
    format!("{}…", &id[..id.len().min(8)])
}

fn field(name: &str, value: impl Into<String>, theme: Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!(" {name:<11}"), theme.bold()),
        Span::raw(value.into()),
    ])
}

fn opt(v: &Option<String>) -> String {
    v.as_deref().map_or("—".into(), |s| esc(s).into_owned())
}

fn overview(e: &EventDetail, now: Timestamp, theme: Theme) -> Vec<Line<'static>> {
    let (glyph, colour) = verdict_badge(e.verification.verdict);
    let age = span_of(now.unix_millis() - e.received_at.unix_millis());
    let body_len = base64::engine::general_purpose::STANDARD
        .decode(&e.body_base64)
        .map_or(0, |b| b.len());
    let mut lines = vec![
        field("Event", e.id.to_string(), theme),
        field("Dedupe key", opt(&e.dedupe_key), theme),
        field(
            "Duplicate",
            e.duplicate_of.map_or("—".into(), |d| d.to_string()),
            theme,
        ),
        field(
            "Resend of",
            e.resend_of.map_or("—".into(), |d| d.to_string()),
            theme,
        ),
        field("Route", esc(&e.route).into_owned(), theme),
        field("Type", opt(&e.event_type), theme),
        field(
            "Received",
            format!("{} UTC ({age} ago)", clock(e.received_at)),
            theme,
        ),
        field("From", esc(&e.remote_addr).into_owned(), theme),
        field("Size", format!("{} B", grouped(body_len as u64)), theme),
        field("SHA-256", fit(&e.body_sha256, 20), theme),
        Line::from(vec![
            Span::styled(format!(" {:<11}", "Verdict"), theme.bold()),
            Span::styled(
                format!("{glyph} {}", e.verification.verdict.as_str()),
                theme.fg(colour),
            ),
        ]),
        Line::styled(" Targets", theme.bold()),
    ];
    if e.deliveries.is_empty() {
        lines.push(Line::raw("   none"));
    }
    for d in &e.deliveries {
        lines.push(Line::raw(format!(
            "   {:<14} {} ({} attempt{})",
            fit(&esc(&d.target), 14),
            d.state.as_str(),
            d.attempts.len(),
            if d.attempts.len() == 1 { "" } else { "s" }
        )));
    }
    lines
}

/// Pretty-printed JSON lines, escaped; `None` when the body is not JSON.
pub fn pretty_json(body: &[u8]) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = serde_json::to_string_pretty(&value).ok()?;
    Some(text.lines().map(|l| esc(l).into_owned()).collect())
}

/// A body's own lines (split on LF, a CR before it kept as `\r`), each escaped.
pub fn body_lines(body: &[u8]) -> Vec<String> {
    body.split(|b| *b == b'\n').map(escape_bytes).collect()
}

fn hex_line(body: &[u8], line: usize) -> String {
    let start = line * 16;
    let chunk = &body[start..(start + 16).min(body.len())];
    let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
    let ascii: String = chunk
        .iter()
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{start:08x}  {:<47}  {ascii}", hex.join(" "))
}

fn request(
    v: &DetailView,
    mode: BodyMode,
    scroll: usize,
    height: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
    let e = &v.detail;
    let query = if e.query.is_empty() {
        String::new()
    } else {
        format!("?{}", esc(&e.query))
    };
    let mut head = vec![Line::styled(
        format!(" {} {}{query}", esc(&e.method), esc(&e.path)),
        theme.bold(),
    )];
    for h in &e.headers {
        head.push(Line::from(vec![
            Span::styled(format!(" {}: ", esc(&h.name)), theme.fg(Color::Cyan)),
            Span::raw(escape_bytes(h.value.as_bytes())),
        ]));
    }
    let shown = match (mode, &v.pretty) {
        (BodyMode::Auto, Some(_)) => "json",
        (BodyMode::Auto, None) if std::str::from_utf8(&v.body).is_err() => "hex",
        (BodyMode::Auto, None) => "text",
        (m, _) => m.name(),
    };
    head.push(Line::styled(
        format!(
            " ── body {} B · {shown} (m: auto/raw/hex) ──",
            grouped(v.body.len() as u64)
        ),
        theme.dim(),
    ));
    // Only the lines that show are made.
    let mut lines: Vec<Line<'static>> = head.into_iter().skip(scroll).collect();
    let body_skip = scroll.saturating_sub(e.headers.len() + 2);
    let want = height.saturating_sub(lines.len());
    match shown {
        "json" => {
            let pretty = v.pretty.as_deref().unwrap_or_default();
            for l in pretty.iter().skip(body_skip).take(want) {
                lines.push(json_line(l, theme));
            }
        }
        "hex" => {
            let total = v.body.len().div_ceil(16);
            for i in (body_skip..total).take(want) {
                lines.push(Line::raw(hex_line(&v.body, i)));
            }
        }
        _ => {
            for l in v.lines.iter().skip(body_skip).take(want) {
                lines.push(Line::raw(format!(" {l}")));
            }
        }
    }
    lines
}

/// Highlights a pretty-printed JSON line: keys, strings, other values.
fn json_line(l: &str, theme: Theme) -> Line<'static> {
    let trimmed = l.trim_start();
    let indent = &l[..l.len() - trimmed.len()];
    if let Some(rest) = trimmed.strip_prefix('"')
        && let Some(end) = rest.find("\": ")
    {
        let key = format!("\"{}\"", &rest[..end]);
        let value = rest[end + 2..].to_owned();
        let colour = if value.trim_start().starts_with('"') {
            Color::Green
        } else {
            Color::Magenta
        };
        return Line::from(vec![
            Span::raw(format!(" {indent}")),
            Span::styled(key, theme.fg(Color::Cyan)),
            Span::raw(":"),
            Span::styled(value, theme.fg(colour)),
        ]);
    }
    Line::raw(format!(" {l}"))
}

fn signature(e: &EventDetail, theme: Theme) -> Vec<Line<'static>> {
    let v = &e.verification;
    let (glyph, colour) = verdict_badge(v.verdict);
    let skew = match v.skew_secs {
        Some(s) => format!("  skew {s:+} s"),
        None => String::new(),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!(" {:<11}", "Verdict"), theme.bold()),
            Span::styled(format!("{glyph} {}", v.verdict.as_str()), theme.fg(colour)),
        ]),
        field("Scheme", opt(&v.scheme), theme),
        field("Secret", opt(&v.secret), theme),
        field("Timestamp", format!("{}{skew}", opt(&v.timestamp)), theme),
        field("Received", opt(&v.received), theme),
        field("Expected", opt(&v.expected), theme),
        field("Signed", opt(&v.signed_content), theme),
    ];
    match &v.diagnosis {
        Some(d) => {
            lines.push(field("Diagnosis", esc(&d.code).into_owned(), theme));
            lines.push(Line::raw(format!("   {}", esc(&d.message))));
        }
        None => lines.push(field("Diagnosis", "—", theme)),
    }
    lines
}

fn deliveries(e: &EventDetail, state: &State, now: Timestamp, theme: Theme) -> Vec<Line<'static>> {
    let selected = state.detail.attempt;
    let mut lines = Vec::new();
    if e.deliveries.is_empty() {
        lines.push(Line::raw(" No deliveries: no target takes this route."));
        return lines;
    }
    let mut n = 0;
    let mut chosen = None;
    for d in &e.deliveries {
        let next = match d.next_attempt_at {
            Some(at) if at > now => format!(
                " · next in {}",
                span_of(at.unix_millis() - now.unix_millis())
            ),
            _ => String::new(),
        };
        lines.push(Line::styled(
            format!(" {} — {}{next}", esc(&d.target), d.state.as_str()),
            theme.bold(),
        ));
        // The URL as the health report shows it (a password as `***`).
        if let Some(url) = state
            .targets
            .reports
            .iter()
            .find(|r| r.name == d.target)
            .and_then(|r| r.url.as_deref())
        {
            lines.push(Line::styled(format!("   {}", esc(url)), theme.dim()));
        }
        let first = d.attempts.first().map_or(0, |a| a.started_at.unix_millis());
        for a in &d.attempts {
            let outcome = match (&a.status, &a.error) {
                (Some(s), _) => format!("{s}"),
                (None, Some(err)) => esc(err).into_owned(),
                (None, None) => "—".into(),
            };
            let ok = a.status.is_some_and(|s| (200..300).contains(&s));
            let bar = "▇".repeat(((a.duration_ms as f64 + 1.0).log2() as usize).clamp(1, 12));
            let note = a
                .note
                .as_deref()
                .map_or(String::new(), |n| format!("  {}", esc(n)));
            let marker = if n == selected { "▶" } else { " " };
            let mut line = Line::from(vec![
                Span::raw(format!(
                    " {marker} #{:<2} +{:<7} ",
                    a.n,
                    span_of(a.started_at.unix_millis() - first)
                )),
                Span::styled(
                    format!("{} {outcome:<16}", if ok { "✓" } else { "✗" }),
                    theme.fg(if ok { Color::Green } else { Color::Red }),
                ),
                Span::raw(format!("{:>6}ms {bar}{note}", a.duration_ms)),
            ]);
            if n == selected {
                line = line.style(theme.selected());
                chosen = Some(a);
            }
            lines.push(line);
            n += 1;
        }
    }
    if let Some(a) = chosen {
        lines.push(Line::styled(
            format!(" ── response of attempt #{} ──", a.n),
            theme.dim(),
        ));
        for h in &a.response_headers {
            lines.push(Line::from(vec![
                Span::styled(format!(" {}: ", esc(&h.name)), theme.fg(Color::Cyan)),
                Span::raw(escape_bytes(h.value.as_bytes())),
            ]));
        }
        if let Some(body) = a
            .response_body_base64
            .as_deref()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        {
            for l in body_lines(&body) {
                lines.push(Line::raw(format!(" {l}")));
            }
        }
    }
    lines
}

fn raw(v: &DetailView) -> Vec<Line<'static>> {
    let e = &v.detail;
    let query = if e.query.is_empty() {
        String::new()
    } else {
        format!("?{}", esc(&e.query))
    };
    let mut lines = vec![Line::raw(format!(
        " {} {}{query} HTTP/1.1",
        esc(&e.method),
        esc(&e.path)
    ))];
    for h in &e.headers {
        lines.push(Line::raw(format!(
            " {}: {}",
            esc(&h.name),
            escape_bytes(h.value.as_bytes())
        )));
    }
    lines.push(Line::raw(""));
    for l in &v.lines {
        lines.push(Line::raw(format!(" {l}")));
    }
    lines
}
