//! Keys while an overlay is open. Both are modal: the help (`?`: tabs for the keys of the
//! context — type to narrow them —, the filter syntax and the legend) and the event log (`E`:
//! every line the feedback line said, and the system's own news). Ctrl-c still quits.

use super::keymap::{Action, Context, Key};
use super::state::{HelpState, HelpTab, State};
use super::update::Effect;
use crossterm::event::{KeyCode, KeyModifiers};

/// Handles `key` when an overlay is open; `None` when none is (the key is the screen's).
pub(super) fn on_key(state: &mut State, key: Key) -> Option<Vec<Effect>> {
    if key == Key::ctrl('c') && (state.help.is_some() || state.log.open) {
        state.quit = true;
        return Some(Vec::new());
    }
    if let Some(help) = state.help.as_mut() {
        let own = state.keymap.action(Context::Global, key) == Some(Action::Help);
        match key.code {
            KeyCode::Esc if !help.query.is_empty() => help.query.clear(),
            KeyCode::Esc => state.help = None,
            _ if own => state.help = None,
            KeyCode::Tab | KeyCode::Right => help.tab = step(help.tab, 1),
            KeyCode::BackTab | KeyCode::Left => help.tab = step(help.tab, -1),
            KeyCode::Backspace => {
                help.query.pop();
            }
            KeyCode::Char(c) if !key.mods.contains(KeyModifiers::CONTROL) => {
                // Typing narrows the keys: the Keys tab is where that shows.
                help.tab = HelpTab::Keys;
                help.query.push(c);
            }
            _ => {}
        }
        return Some(Vec::new());
    }
    if state.log.open {
        let own = state.keymap.action(Context::Global, key) == Some(Action::EventLog);
        let log = &mut state.log;
        let last = log.lines.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => log.open = false,
            _ if own => log.open = false,
            KeyCode::Up | KeyCode::Char('k') => log.scroll = (log.scroll + 1).min(last),
            KeyCode::Down | KeyCode::Char('j') => log.scroll = log.scroll.saturating_sub(1),
            KeyCode::PageUp => log.scroll = (log.scroll + 10).min(last),
            KeyCode::PageDown => log.scroll = log.scroll.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => log.scroll = last,
            KeyCode::End | KeyCode::Char('G') => log.scroll = 0,
            _ => {}
        }
        return Some(Vec::new());
    }
    None
}

/// Opens the help on its first tab.
pub(super) fn open_help(state: &mut State) {
    state.help = Some(HelpState {
        tab: HelpTab::Keys,
        query: String::new(),
    });
}

/// Opens the event log at its newest line.
pub(super) fn open_log(state: &mut State) {
    state.log.open = true;
    state.log.scroll = 0;
}

fn step(tab: HelpTab, by: isize) -> HelpTab {
    let n = HelpTab::ALL.len() as isize;
    let at = HelpTab::ALL.iter().position(|t| *t == tab).unwrap_or(0) as isize;
    HelpTab::ALL[(at + by).rem_euclid(n) as usize]
}
