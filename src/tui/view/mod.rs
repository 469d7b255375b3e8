//! `render(&State, now, &mut Frame)`: pure; draws what the state says and nothing else. Every
//! untrusted string goes through `text::escape` before it becomes a cell.

mod ascii;
mod detail;
pub use detail::{body_lines, pretty_json};
pub mod layout;
mod list;
mod overlays;
mod targets;

use super::keymap::{Action, Context};
use super::state::{ConfigState, Focus, State};
use crate::model::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use std::borrow::Cow;

/// Styles, with or without colour (`NO_COLOR`): bold, reverse and underline carry meaning either
/// way, colour only adds to a glyph or a word.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub colour: bool,
    /// Glyphs drawn as ASCII (see `ascii::wanted`).
    pub ascii: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme {
            colour: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            ascii: ascii::wanted(|k| std::env::var(k).ok()),
        }
    }

    pub fn fg(self, colour: Color) -> Style {
        if self.colour {
            Style::new().fg(colour)
        } else {
            Style::new()
        }
    }

    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        if self.colour {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
}

/// Escapes untrusted text for a cell.
pub fn esc(s: &str) -> Cow<'_, str> {
    crate::text::escape(s)
}

/// Cuts `s` to `width` columns (by character; escaped text is what is measured).
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// `12:04:31.120` (UTC).
pub fn clock(t: Timestamp) -> String {
    let d = t.to_datetime();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        d.hour(),
        d.minute(),
        d.second(),
        d.millisecond()
    )
}

/// `2m10s`, `45s`, `3h05m`.
pub fn span_of(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Thousands with commas: `1,000,000`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn render(state: &State, now: Timestamp, theme: Theme, frame: &mut Frame) {
    let area = frame.area();
    let a = layout::areas(area, state);
    status_bar(state, theme, frame, a.status);
    if area.height < 5 {
        return;
    }
    if let Some(r) = a.list {
        list::render(state, now, theme, frame, r);
    }
    if let Some(r) = a.detail {
        detail::render(state, now, theme, frame, r);
    }
    if let Some(r) = a.targets {
        targets::render(state, now, theme, frame, r);
    }
    // After the list: a filter error draws its caret line over the list's top border.
    filter_line(state, theme, frame, a.filter);
    hints(state, theme, frame, a.hints);
    let feedback = state.feedback.as_deref().unwrap_or("");
    frame.render_widget(
        Paragraph::new(fit(&esc(feedback), area.width as usize)),
        a.feedback,
    );
    if state.log.open {
        overlays::event_log(state, theme, frame, area);
    }
    if state.help.is_some() {
        overlays::help(state, theme, frame, area);
    }
    if theme.ascii {
        ascii::fold(frame.buffer_mut());
    }
}

fn status_bar(state: &State, theme: Theme, frame: &mut Frame, area: Rect) {
    // Narrow terminals get the short words, so FOLLOW, paused targets and the config's state
    // still fit at 80 columns.
    let narrow = area.width < 100;
    let sep = Span::styled(if narrow { "│" } else { " │ " }, theme.dim());
    let mut spans = vec![
        Span::styled(if narrow { "" } else { " hooklens " }, theme.bold()),
        Span::raw(format!(
            " recv {} api {} ",
            state.info.receiver,
            short_api(state)
        )),
        sep.clone(),
        Span::raw(format!(
            "{:.0}{}",
            state.rate(),
            if narrow { "/s" } else { " ev/s" }
        )),
        sep.clone(),
        Span::raw(format!(
            "{}{}",
            grouped(state.status.stored),
            if narrow { "" } else { " stored" }
        )),
    ];
    if state.list.follow {
        spans.push(sep.clone());
        spans.push(Span::styled("FOLLOW", theme.bold()));
    }
    if state.paused() > 0 {
        spans.push(sep.clone());
        spans.push(Span::styled(
            format!("‖ {} paused", state.paused()),
            theme.fg(Color::Yellow),
        ));
    }
    match &state.status.config {
        ConfigState::Ok => {}
        ConfigState::Reloaded => {
            spans.push(sep.clone());
            spans.push(Span::raw("config ✓"));
        }
        ConfigState::Rejected(error) => {
            spans.push(sep.clone());
            spans.push(Span::styled(
                format!("config ✗ {}", esc(error)),
                theme.fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
        }
    }
    let help = state.keymap.keys_of(Context::Global, Action::Help);
    spans.push(sep);
    spans.push(Span::raw(format!("{help} help")));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The API address without the host when it is the receiver's (`:8990`).
fn short_api(state: &State) -> &str {
    let host = |a: &str| a.rsplit_once(':').map(|(h, _)| h.len());
    match (host(&state.info.receiver), host(&state.info.api)) {
        (Some(r), Some(a)) if state.info.receiver[..r] == state.info.api[..a] => {
            &state.info.api[a..]
        }
        _ => &state.info.api,
    }
}

/// The progress of a read under way (a rare or a `body:` filter goes through the history in
/// pages): how far, out of the stored events when their count is known.
fn scanning(scanned: u64, stored: u64) -> String {
    if stored == 0 {
        return format!(" · scanning ({} looked at)", grouped(scanned));
    }
    let percent = (scanned.saturating_mul(100) / stored).min(99);
    format!(
        " · scanning {percent}% ({} of {})",
        grouped(scanned),
        grouped(stored)
    )
}

fn filter_line(state: &State, theme: Theme, frame: &mut Frame, area: Rect) {
    let count = format!(
        "{} shown{}{}",
        grouped(state.list.rows.len() as u64),
        if state.list.has_older { "+" } else { "" },
        if state.list.loading {
            scanning(state.list.scanned, state.status.stored)
        } else {
            String::new()
        }
    );
    let width = area.width as usize;
    let line = match (&state.filter.editing, &state.filter.error) {
        (Some(text), Some(error)) => {
            let caret = " ".repeat(error.column + 2) + "^ ";
            let text = esc(text);
            let lines = vec![
                Line::from(vec![Span::styled("/ ", theme.bold()), Span::raw(text)]),
                Line::styled(
                    fit(&format!("{caret}{}", esc(&error.message)), width),
                    theme.fg(Color::Red),
                ),
            ];
            // The error takes the line under the prompt (the top of the list), drawn over it.
            let two = Rect::new(area.x, area.y, area.width, 2);
            frame.render_widget(Clear, two);
            frame.render_widget(Paragraph::new(lines), two);
            return;
        }
        (Some(text), None) => Line::from(vec![
            Span::styled("/ ", theme.bold()),
            Span::raw(esc(text)),
            Span::styled("█", theme.dim()),
            Span::styled("   Enter apply · Esc cancel", theme.dim()),
        ]),
        (None, _) if !state.filter.applied.is_empty() => Line::from(vec![
            Span::styled("/ ", theme.bold()),
            Span::raw(esc(&state.filter.applied.text)),
            Span::styled(format!("   {count} · Esc clears"), theme.dim()),
        ]),
        (None, _) => Line::styled(format!(" {count}"), theme.dim()),
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn hints(state: &State, theme: Theme, frame: &mut Frame, area: Rect) {
    let context = state.context();
    let wanted: &[Action] = match state.focus {
        Focus::List => &[
            Action::Open,
            Action::Filter,
            Action::Follow,
            Action::FocusTargets,
        ],
        Focus::Detail => &[Action::NextTab, Action::BodyMode, Action::Back],
        Focus::Targets => &[Action::Pause, Action::Probe, Action::FocusTargets],
    };
    let mut spans = Vec::new();
    for action in wanted.iter().chain(&[Action::Help, Action::Quit]) {
        let keys = state.keymap.keys_of(context, *action);
        if keys.is_empty() {
            continue;
        }
        let help = state
            .keymap
            .bindings
            .iter()
            .find(|b| b.action == *action)
            .map_or("", |b| b.help);
        spans.push(Span::styled(format!(" {keys}"), theme.bold()));
        spans.push(Span::raw(format!(" {help} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
