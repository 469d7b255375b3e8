//! The event list: the visible rows of the window, newest at the top.

use super::{Theme, clock, esc, fit, grouped};
use crate::model::{DeliveriesState, Timestamp, Verdict};
use crate::store::WindowRow;
use crate::tui::state::{Focus, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// The signature badge: a glyph for every verdict (never colour alone).
pub fn verdict_badge(v: Verdict) -> (&'static str, Color) {
    match v {
        Verdict::Verified => ("✓", Color::Green),
        Verdict::Unsigned | Verdict::NoSecret => ("·", Color::Gray),
        Verdict::Missing => ("?", Color::Yellow),
        _ => ("✗", Color::Red),
    }
}

/// The delivery badge: attempts and the summary's glyph, with R/D/E for lineage.
fn delivery_badge(row: &WindowRow) -> (String, Color) {
    let (glyph, colour) = match row.summary.deliveries_state {
        DeliveriesState::None => ("—", Color::Gray),
        DeliveriesState::Pending => ("↻", Color::Yellow),
        DeliveriesState::Succeeded => ("✓", Color::Green),
        DeliveriesState::Partial => ("◐", Color::Yellow),
        DeliveriesState::Failed | DeliveriesState::Dead => ("✗", Color::Red),
    };
    let lineage = row.lineage.map(String::from).unwrap_or_default();
    let n = if row.attempts > 1 {
        row.attempts.to_string()
    } else {
        String::new()
    };
    (format!("{lineage}{n}{glyph}"), colour)
}

fn size(n: u64) -> String {
    match n {
        0..1024 => format!("{n}B"),
        1024..1_048_576 => format!("{:.1}K", n as f64 / 1024.0),
        _ => format!("{:.1}M", n as f64 / 1_048_576.0),
    }
}

pub fn render(state: &State, now: Timestamp, theme: Theme, frame: &mut Frame, area: Rect) {
    let list = &state.list;
    let focused = state.focus == Focus::List;
    let mut title = " Events ".to_owned();
    if !list.follow && list.new_since > 0 {
        title = format!(" Events · {} new ↑ (F follows) ", grouped(list.new_since));
    }
    let position = if list.rows.is_empty() {
        String::new()
    } else {
        format!(
            " {}/{}{} ",
            list.selected + 1,
            grouped(list.rows.len() as u64),
            if list.has_older { "+" } else { "" }
        )
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .title_bottom(Line::from(position).right_aligned())
        .border_style(if focused { theme.bold() } else { theme.dim() });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if list.rows.is_empty() {
        empty(state, theme, frame, inner);
        return;
    }
    let w = inner.width as usize;
    let narrow = w < 60;
    let type_w = if narrow {
        0
    } else {
        (w.saturating_sub(36) * 2 / 5).max(6)
    };
    let path_w = w.saturating_sub(if narrow { 26 } else { 36 + type_w });
    let mut lines = vec![Line::styled(
        fit(
            &if narrow {
                format!("  {:<12} {:<path_w$} SIG DLV", "TIME", "PATH")
            } else {
                format!(
                    "  {:<12} {:<4} {:<path_w$} {:<type_w$} SIG DLV  SIZE",
                    "TIME", "METH", "PATH", "TYPE"
                )
            },
            w,
        ),
        theme.bold(),
    )];
    let height = inner.height.saturating_sub(1) as usize;
    for (i, row) in list.rows.iter().enumerate().skip(list.offset).take(height) {
        let s = &row.summary;
        let (sig, sig_colour) = verdict_badge(s.verdict);
        let (dlv, dlv_colour) = delivery_badge(row);
        let marker = if i == list.selected { "▶ " } else { "  " };
        let path = fit(&esc(&s.path), path_w);
        let mut spans = vec![
            Span::raw(marker),
            Span::raw(format!("{:<12} ", clock(s.received_at))),
        ];
        if !narrow {
            spans.push(Span::raw(format!("{:<4} ", fit(&esc(&s.method), 4))));
        }
        spans.push(Span::raw(format!("{path:<path_w$} ")));
        if !narrow {
            let ty = fit(&esc(s.event_type.as_deref().unwrap_or("—")), type_w);
            spans.push(Span::raw(format!("{ty:<type_w$} ")));
        }
        spans.push(Span::styled(format!(" {sig}  "), theme.fg(sig_colour)));
        spans.push(Span::styled(format!("{dlv:<4}"), theme.fg(dlv_colour)));
        if !narrow {
            spans.push(Span::raw(format!(" {:>5}", size(row.body_len))));
        }
        let mut line = Line::from(spans);
        if i == list.selected {
            line = line.style(if focused {
                theme.selected()
            } else {
                theme.bold()
            });
        }
        lines.push(line);
    }
    let _ = now;
    frame.render_widget(Paragraph::new(lines), inner);
}

/// No events yet: where hooklens listens and one command that sends a first event.
fn empty(state: &State, theme: Theme, frame: &mut Frame, area: Rect) {
    let addr = &state.info.receiver;
    let port = addr.rsplit(':').next().unwrap_or("8989");
    let lines = if !state.filter.applied.is_empty() {
        vec![
            Line::raw(""),
            Line::raw(if state.list.loading {
                " Looking for matching events…"
            } else {
                " No event matches the filter. Esc clears it."
            }),
        ]
    } else {
        vec![
            Line::raw(""),
            Line::styled(" No events yet.", theme.bold()),
            Line::raw(""),
            Line::raw(format!(" hooklens listens on http://{addr}")),
            Line::raw(" Send a first event:"),
            Line::raw(""),
            Line::styled(
                format!("   curl -X POST http://{addr}/hello -d '{{\"hello\":\"world\"}}'"),
                Style::new(),
            ),
            Line::raw(""),
            Line::raw(" From the internet, point a tunnel at it:"),
            Line::styled(format!("   ngrok http {port}"), theme.dim()),
            Line::styled(
                format!("   cloudflared tunnel --url http://{addr}"),
                theme.dim(),
            ),
        ]
    };
    frame.render_widget(Paragraph::new(lines), area);
}
