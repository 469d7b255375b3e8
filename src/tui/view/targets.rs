//! The targets panel: each target's state (glyph and word), success rate, p95, queue, in
//! flight, when the next attempt is (or the circuit reopens), and the last error.

use super::{Theme, esc, fit, span_of};
use crate::model::Timestamp;
use crate::relay::HealthState;
use crate::tui::state::{Focus, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn state_badge(s: HealthState) -> (&'static str, Color) {
    match s {
        HealthState::Healthy => ("●", Color::Green),
        HealthState::Degraded => ("◐", Color::Yellow),
        HealthState::Down => ("○", Color::Red),
        HealthState::Paused => ("‖", Color::Cyan),
    }
}

pub fn render(state: &State, now: Timestamp, theme: Theme, frame: &mut Frame, area: Rect) {
    let focused = state.focus == Focus::Targets;
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Targets ")
        .border_style(if focused { theme.bold() } else { theme.dim() });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "  {:<10} {:<12} {:>6} {:>6} {:>5} {:>4}  {:<8} LAST ERROR",
                "STATE", "TARGET", "OK%", "p95", "QUEUE", "INFL", "NEXT"
            ),
            w,
        ),
        theme.bold(),
    )];
    if state.targets.reports.is_empty() {
        lines.push(Line::raw(
            "  no targets configured (--forward URL adds one)",
        ));
    }
    for (i, r) in state.targets.reports.iter().enumerate() {
        let (glyph, colour) = state_badge(r.state);
        let ok = r
            .success_rate
            .map_or("—".to_owned(), |x| format!("{:.1}", x * 100.0));
        let p95 = r.p95_ms.map_or("—".to_owned(), |x| format!("{x}ms"));
        let next = if r.paused {
            "held".to_owned()
        } else {
            match r.circuit_open_until {
                Some(until) if until > now => span_of(until.unix_millis() - now.unix_millis()),
                _ => "—".to_owned(),
            }
        };
        let error = r.last_error.as_deref().map_or("—".into(), esc);
        let marker = if focused && i == state.targets.selected {
            "▶ "
        } else {
            "  "
        };
        let text = format!(
            "{:<12} {:>6} {:>6} {:>5} {:>4}  {:<8} {}",
            fit(&esc(&r.name), 12),
            ok,
            p95,
            r.queued,
            r.in_flight,
            next,
            error
        );
        let mut line = Line::from(vec![
            Span::raw(marker),
            Span::styled(
                format!("{glyph} {:<8} ", r.state.as_str()),
                theme.fg(colour),
            ),
            Span::raw(fit(&text, w.saturating_sub(13))),
        ]);
        if focused && i == state.targets.selected {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
