//! The overlays: the help (keys of the context, narrowed by what was typed; the filter syntax;
//! the legend of every glyph) and the event log. Both are drawn over the screen, centred.

use super::{Theme, clock, esc, fit};
use crate::tui::state::{HelpTab, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// The filter language, as the Filter syntax tab shows it (INTERFACE.md, "Filter syntax").
const FILTER_SYNTAX: &[(&str, &str)] = &[
    (
        "word",
        "path, route, type, event id or dedupe key contains it",
    ),
    ("-term", "not"),
    ("a|b", "either value"),
    ("\"a b\"", "a value with spaces (body:\"id 42\")"),
    (
        "verdict:",
        "verified mismatch missing malformed stale no_secret unsigned",
    ),
    ("scheme:", "stripe github slack … (globs)"),
    ("secret:", "the label of the secret that matched"),
    ("route: method:", "globs: route:stripe method:post"),
    ("type:", "event type, globs: type:invoice.*"),
    ("target:", "a target its deliveries go to"),
    ("state:", "pending succeeded failed dead retry_scheduled"),
    ("status:", "an attempt's status: 500 5xx >=400"),
    ("error:", "an attempt's error: timeout connect_refused"),
    ("attempts:", "attempts:>=3 attempts:<2"),
    ("since:", "since:10m since:2h since:ID or RFC 3339"),
    ("is:", "replay duplicate resend"),
    ("header:", "header:NAME or header:NAME=VALUE"),
    ("body:", "body:\"some text\" (scans the history)"),
];

/// Every glyph the screens use, so that nothing rests on colour.
const LEGEND: &[(&str, &str)] = &[
    ("SIG ✓", "signature verified"),
    ("SIG ✗", "mismatch, stale or malformed"),
    ("SIG ?", "signature header missing"),
    ("SIG ·", "unsigned, or no secret to check it"),
    ("DLV ✓", "delivered to every target"),
    ("DLV ↻", "a delivery is queued, in flight or retrying"),
    ("DLV ◐", "some delivered, some failed"),
    ("DLV ✗", "failed or dead"),
    ("DLV —", "no target"),
    ("R D E", "a replay, a duplicate, an edited resend"),
    ("3✗", "attempts made, then the outcome"),
    (
        "● ◐ ○ ‖",
        "target healthy, degraded, down (circuit open), paused",
    ),
    ("▶", "the selected row"),
    ("FOLLOW", "the newest event stays selected (F or G)"),
];

fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let (width, height) = (width.min(area.width), height.min(area.height));
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

fn two_columns(
    rows: &[(&str, &str)],
    left: usize,
    width: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
    rows.iter()
        .map(|(a, b)| {
            Line::from(vec![
                Span::styled(format!(" {a:<left$}"), theme.bold()),
                Span::raw(fit(b, width.saturating_sub(left + 2))),
            ])
        })
        .collect()
}

pub fn help(state: &State, theme: Theme, frame: &mut Frame, area: Rect) {
    let Some(help) = &state.help else {
        return;
    };
    let context = state.context();
    let width = area.width.min(72);
    let inner = width.saturating_sub(2) as usize;
    let mut tabs = vec![Span::raw(" ")];
    for tab in HelpTab::ALL {
        let name = format!(" {} ", tab.name());
        tabs.push(if tab == help.tab {
            Span::styled(format!("[{}]", name.trim()), theme.selected())
        } else {
            Span::raw(name)
        });
    }
    let mut lines = vec![Line::from(tabs), Line::raw("")];
    match help.tab {
        HelpTab::Keys => {
            let query = help.query.to_lowercase();
            let rows: Vec<(String, &str)> = state
                .keymap
                .help_rows(context)
                .into_iter()
                .filter(|(keys, text)| {
                    query.is_empty()
                        || keys.to_lowercase().contains(&query)
                        || text.to_lowercase().contains(&query)
                })
                .collect();
            lines.push(Line::styled(
                if help.query.is_empty() {
                    " type to narrow · Tab: next tab · Esc closes".to_owned()
                } else {
                    fit(&format!(" keys matching \"{}\"", esc(&help.query)), inner)
                },
                theme.dim(),
            ));
            if rows.is_empty() {
                lines.push(Line::raw(" no key matches"));
            }
            let rows: Vec<(&str, &str)> = rows.iter().map(|(k, t)| (k.as_str(), *t)).collect();
            lines.extend(two_columns(&rows, 16, inner, theme));
        }
        HelpTab::Filter => {
            lines.push(Line::styled(
                " space is AND · Enter keeps the filter · Esc in the list clears it",
                theme.dim(),
            ));
            lines.extend(two_columns(FILTER_SYNTAX, 16, inner, theme));
        }
        HelpTab::Legend => {
            lines.extend(two_columns(LEGEND, 9, inner, theme));
            if !state.info.log_file.is_empty() {
                lines.push(Line::raw(""));
                let logs = format!(" Logs: {}", esc(&state.info.log_file));
                lines.push(Line::styled(fit(&logs, inner), theme.dim()));
            }
        }
    }
    let r = centred(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" Help — {} ", context.as_str())),
        ),
        r,
    );
}

pub fn event_log(state: &State, theme: Theme, frame: &mut Frame, area: Rect) {
    let log = &state.log;
    let r = centred(
        area,
        area.width.saturating_sub(8).max(40),
        area.height.saturating_sub(4),
    );
    let inner = r.width.saturating_sub(2) as usize;
    let rows = r.height.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    if log.lines.is_empty() {
        lines.push(Line::raw(
            " nothing said yet: actions and the system's news show here",
        ));
    }
    // Newest at the bottom, as a log reads; scrolled up by `scroll` lines.
    let end = log.lines.len().saturating_sub(log.scroll);
    let start = end.saturating_sub(rows);
    for said in log.lines.range(start..end) {
        lines.push(Line::from(vec![
            Span::styled(format!(" {} ", clock(said.at)), theme.dim()),
            Span::raw(fit(&esc(&said.text), inner.saturating_sub(15))),
        ]));
    }
    let title = if log.scroll > 0 {
        format!(
            " Event log — {} lines, {} newer below ",
            log.lines.len(),
            log.scroll
        )
    } else {
        format!(" Event log — {} lines ", log.lines.len())
    };
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        r,
    );
}
