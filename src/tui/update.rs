//! `update(&mut State, Msg) -> Vec<Effect>`: every change to the view state, pure. Reads and
//! relay commands are effects; their results come back as messages with the generation they
//! were asked under, and an answer to an older request is dropped.

use super::filter::Filter;
use super::keymap::{Action, Key};
use super::state::{
    BodyMode, CONTENT_SCAN_BUDGET, DetailView, Focus, SCAN_BUDGET, State, Tab, WINDOW,
};
use super::view::layout;
use crate::model::{Lifecycle, TargetControl, Timestamp};
use crate::relay::HealthReport;
use crate::store::{Direction, Scan};
use crossterm::event::KeyCode;
use std::sync::Arc;
use ulid::Ulid;

/// How a window read's rows join the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Replace the rows; keep the selected event when it is still there, else the row index.
    Replace {
        keep: Option<Ulid>,
        select_last: bool,
    },
    /// Older rows after the last (a continuation).
    Append,
    /// Newer rows (oldest first in the scan) above the first.
    Prepend,
    /// The top read again after a read that events arrived during: the rows it looked at are
    /// replaced by what it found, the older ones it did not reach stay.
    Refresh,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(Key),
    Resize(u16, u16),
    Tick(Timestamp),
    /// Lifecycle records committed since the last batch, oldest first.
    Log(Vec<Lifecycle>, Timestamp),
    Window {
        generation: u64,
        place: Place,
        direction: Direction,
        scan: Scan,
    },
    Detail {
        generation: u64,
        view: Option<Arc<DetailView>>,
    },
    Health {
        generation: u64,
        reports: Vec<HealthReport>,
        at: Timestamp,
    },
    Count(u64),
    Controlled(Result<String, String>),
    /// A read failed: said on the feedback line.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    ReadWindow {
        generation: u64,
        from: Option<Ulid>,
        direction: Direction,
        limit: usize,
        budget: u64,
        filter: Filter,
        place: Place,
    },
    ReadDetail {
        generation: u64,
        id: Ulid,
    },
    ReadHealth {
        generation: u64,
    },
    ReadCount,
    Control {
        target: String,
        action: TargetControl,
    },
}

/// Applies one message; returns what to run.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(state, key),
        Msg::Resize(w, h) => {
            state.width = w;
            state.height = h;
            keep_in_view(state);
            Vec::new()
        }
        Msg::Tick(now) => {
            state.now = now;
            let mut effects = Vec::new();
            if state.targets.stale || health_moving(state) {
                effects.extend(read_health(state));
            }
            if state.status.count_stale {
                // The count is read at most once a second, and not at all when idle.
                state.status.count_stale = false;
                effects.push(Effect::ReadCount);
            }
            effects
        }
        Msg::Log(facts, now) => on_log(state, facts, now),
        Msg::Window {
            generation,
            place,
            direction,
            scan,
        } => on_window(state, generation, place, direction, scan),
        Msg::Detail { generation, view } => {
            if generation == state.detail.generation {
                state.detail.gone = view.is_none();
                state.detail.view = view;
            }
            Vec::new()
        }
        Msg::Health {
            generation,
            reports,
            at,
        } => {
            if generation == state.targets.generation {
                state.targets.reports = reports;
                state.targets.last_read_ms = at.unix_millis();
                let n = state.targets.reports.len();
                state.targets.selected = state.targets.selected.min(n.saturating_sub(1));
                keep_in_view(state);
            }
            Vec::new()
        }
        Msg::Count(n) => {
            state.status.stored = n;
            Vec::new()
        }
        Msg::Controlled(result) => {
            state.say(match result {
                Ok(said) => format!("✓ {said}"),
                Err(said) => format!("✗ {said}"),
            });
            read_health(state)
        }
        Msg::Failed(error) => {
            state.say(format!("✗ {error}"));
            state.list.loading = false;
            Vec::new()
        }
    }
}

/// The first reads: the newest window, the targets, the count.
pub fn start(state: &mut State) -> Vec<Effect> {
    let mut effects = reload(state, None);
    effects.extend(read_health(state));
    effects.push(Effect::ReadCount);
    effects
}

fn health_moving(state: &State) -> bool {
    let now = state.now;
    state
        .targets
        .reports
        .iter()
        .any(|r| r.in_flight > 0 || r.queued > 0 || r.circuit_open_until.is_some_and(|u| u > now))
}

fn read_health(state: &mut State) -> Vec<Effect> {
    state.targets.generation += 1;
    state.targets.stale = false;
    vec![Effect::ReadHealth {
        generation: state.targets.generation,
    }]
}

/// Rows one read looks at: fewer when the filter reads attempts or bodies, so that each read
/// stays short and a changed filter is taken up soon.
fn budget_for(filter: &Filter) -> u64 {
    if filter.reads_more() {
        CONTENT_SCAN_BUDGET
    } else {
        SCAN_BUDGET
    }
}

/// Reads the window again from the top: the newest rows when `from` is `None`.
fn reload(state: &mut State, from: Option<Ulid>) -> Vec<Effect> {
    state.list.generation += 1;
    state.list.loading = true;
    state.list.scanned = 0;
    state.list.arrived = false;
    let keep = if state.list.follow {
        None
    } else {
        state.list.selected_id()
    };
    vec![Effect::ReadWindow {
        generation: state.list.generation,
        from,
        direction: Direction::Older,
        limit: WINDOW,
        budget: budget_for(&state.filter.applied),
        filter: state.filter.applied.clone(),
        place: Place::Replace {
            keep,
            select_last: false,
        },
    }]
}

fn detail_wanted(state: &State) -> bool {
    state.wide() || state.focus == Focus::Detail
}

/// Loads the detail of the selected event when it shows and is another one.
fn follow_selection(state: &mut State) -> Vec<Effect> {
    let id = state.list.selected_id();
    if id == state.detail.id || !detail_wanted(state) {
        return Vec::new();
    }
    state.detail.id = id;
    state.detail.view = None;
    state.detail.gone = false;
    state.detail.scroll = 0;
    state.detail.attempt = 0;
    refresh_detail(state)
}

fn refresh_detail(state: &mut State) -> Vec<Effect> {
    state.detail.generation += 1;
    match state.detail.id {
        Some(id) => vec![Effect::ReadDetail {
            generation: state.detail.generation,
            id,
        }],
        None => Vec::new(),
    }
}

fn on_key(state: &mut State, key: Key) -> Vec<Effect> {
    if state.filter.editing.is_some() {
        return on_prompt_key(state, key);
    }
    if let Some(effects) = super::overlays::on_key(state, key) {
        return effects;
    }
    let Some(action) = state.keymap.action(state.context(), key) else {
        if state.focus == Focus::List
            && key.code == KeyCode::Esc
            && !state.filter.applied.is_empty()
        {
            state.filter.applied = Filter::default();
            state.filter.error = None;
            state.say("filter cleared");
            return reload_for_filter(state);
        }
        return Vec::new();
    };
    match action {
        Action::Quit => {
            state.quit = true;
            Vec::new()
        }
        Action::Help => {
            super::overlays::open_help(state);
            Vec::new()
        }
        Action::EventLog => {
            super::overlays::open_log(state);
            Vec::new()
        }
        Action::FocusTargets => {
            state.focus = if state.focus == Focus::Targets {
                Focus::List
            } else {
                Focus::Targets
            };
            Vec::new()
        }
        _ => match state.focus {
            Focus::List => list_action(state, action),
            Focus::Detail => detail_action(state, action),
            Focus::Targets => targets_action(state, action),
        },
    }
}

fn on_prompt_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Some(text) = state.filter.editing.as_mut() else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => {
            state.filter.editing = None;
            state.filter.error = None;
        }
        KeyCode::Enter => match Filter::parse(text, state.now) {
            Ok(filter) => {
                state.filter.editing = None;
                state.filter.error = None;
                if filter != state.filter.applied {
                    state.filter.applied = filter;
                    return reload_for_filter(state);
                }
            }
            Err(error) => state.filter.error = Some(error),
        },
        KeyCode::Backspace => {
            text.pop();
            state.filter.error = None;
        }
        KeyCode::Char(c) if !key.mods.contains(crossterm::event::KeyModifiers::CONTROL) => {
            text.push(c);
            state.filter.error = None;
        }
        KeyCode::Char('c') => state.quit = true,
        _ => {}
    }
    Vec::new()
}

fn reload_for_filter(state: &mut State) -> Vec<Effect> {
    state.list.follow = true;
    state.list.new_since = 0;
    state.list.selected = 0;
    state.list.offset = 0;
    reload(state, None)
}

fn list_action(state: &mut State, action: Action) -> Vec<Effect> {
    let page = layout::list_capacity(state);
    match action {
        Action::Down => move_by(state, 1),
        Action::Up => move_by(state, -1),
        Action::PageDown => move_by(state, page as isize),
        Action::PageUp => move_by(state, -(page as isize)),
        Action::Newest | Action::Follow => {
            state.list.follow = true;
            state.list.new_since = 0;
            state.list.selected = 0;
            state.list.offset = 0;
            reload(state, None)
        }
        Action::First => {
            state.list.follow = false;
            state.list.generation += 1;
            state.list.loading = true;
            vec![Effect::ReadWindow {
                generation: state.list.generation,
                from: None,
                direction: Direction::Newer,
                limit: WINDOW,
                budget: budget_for(&state.filter.applied),
                filter: state.filter.applied.clone(),
                place: Place::Replace {
                    keep: None,
                    select_last: true,
                },
            }]
        }
        Action::Open => {
            if state.list.rows.is_empty() {
                return Vec::new();
            }
            // The open event stays put while new ones arrive.
            state.list.follow = false;
            state.focus = Focus::Detail;
            state.detail.scroll = 0;
            follow_selection(state)
        }
        Action::Filter => {
            state.filter.editing = Some(state.filter.applied.text.clone());
            state.filter.error = None;
            Vec::new()
        }
        // The detail's tabs, from the list: it is on screen beside it (wide layout), and opens
        // on the chosen tab (narrow).
        Action::NextTab => {
            switch_tab(state, (state.detail.tab.index() + 1) % 5);
            Vec::new()
        }
        Action::PrevTab => {
            switch_tab(state, (state.detail.tab.index() + 4) % 5);
            Vec::new()
        }
        Action::Tab(n) => {
            switch_tab(state, usize::from(n.clamp(1, 5) - 1));
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Moves the selection; the user moving turns follow off. Near an edge of the window, the next
/// rows are read by key range.
fn move_by(state: &mut State, delta: isize) -> Vec<Effect> {
    let list = &mut state.list;
    if list.rows.is_empty() {
        return Vec::new();
    }
    list.follow = false;
    let last = list.rows.len() - 1;
    let wanted = list.selected as isize + delta;
    list.selected = wanted.clamp(0, last as isize) as usize;
    let mut effects = Vec::new();
    let page = layout::list_capacity(state);
    let list = &mut state.list;
    if !list.loading {
        if wanted < 0 && list.has_newer {
            list.generation += 1;
            list.loading = true;
            effects.push(Effect::ReadWindow {
                generation: list.generation,
                from: list.rows.first().map(|r| r.summary.id),
                direction: Direction::Newer,
                limit: page.max(1) * 2,
                budget: budget_for(&state.filter.applied),
                filter: state.filter.applied.clone(),
                place: Place::Prepend,
            });
        } else if list.selected + page >= last && list.has_older && list.rows.len() > page {
            // Slide the window down: it restarts a page above the selection.
            let top = list.selected.saturating_sub(page);
            let from = list.rows[top].summary.id;
            list.generation += 1;
            list.loading = true;
            list.has_newer = true;
            effects.push(Effect::ReadWindow {
                generation: list.generation,
                from: Some(from),
                direction: Direction::Older,
                limit: WINDOW,
                budget: budget_for(&state.filter.applied),
                filter: state.filter.applied.clone(),
                place: Place::Replace {
                    keep: list.selected_id(),
                    select_last: false,
                },
            });
        }
    }
    keep_in_view(state);
    effects.extend(follow_selection(state));
    effects
}

fn keep_in_view(state: &mut State) {
    let page = layout::list_capacity(state);
    let list = &mut state.list;
    if list.selected < list.offset {
        list.offset = list.selected;
    } else if list.selected >= list.offset + page {
        list.offset = list.selected + 1 - page;
    }
    let max_offset = list.rows.len().saturating_sub(page);
    list.offset = list.offset.min(max_offset);
}

fn detail_action(state: &mut State, action: Action) -> Vec<Effect> {
    let page = layout::detail_capacity(state);
    let d = &mut state.detail;
    let attempts = d.view.as_ref().map_or(0, |v| {
        v.detail
            .deliveries
            .iter()
            .map(|x| x.attempts.len())
            .sum::<usize>()
    });
    match action {
        Action::Back => state.focus = Focus::List,
        Action::Down if d.tab == Tab::Deliveries => {
            d.attempt = (d.attempt + 1).min(attempts.saturating_sub(1));
        }
        Action::Up if d.tab == Tab::Deliveries => d.attempt = d.attempt.saturating_sub(1),
        Action::Down => d.scroll += 1,
        Action::Up => d.scroll = d.scroll.saturating_sub(1),
        Action::PageDown => d.scroll += page,
        Action::PageUp => d.scroll = d.scroll.saturating_sub(page),
        Action::NextTab => switch_tab(state, (state.detail.tab.index() + 1) % 5),
        Action::PrevTab => switch_tab(state, (state.detail.tab.index() + 4) % 5),
        Action::Tab(n) => switch_tab(state, usize::from(n.clamp(1, 5) - 1)),
        Action::BodyMode => {
            d.mode = match d.mode {
                BodyMode::Auto => BodyMode::Raw,
                BodyMode::Raw => BodyMode::Hex,
                BodyMode::Hex => BodyMode::Auto,
            };
            d.scroll = 0;
            let said = format!("body shown {}", d.mode.name());
            state.say(said);
        }
        _ => {}
    }
    Vec::new()
}

fn switch_tab(state: &mut State, index: usize) {
    let d = &mut state.detail;
    d.tab = Tab::ALL[index];
    d.scroll = 0;
    if d.tab == Tab::Deliveries {
        // The latest attempt of the first target.
        d.attempt = d
            .view
            .as_ref()
            .and_then(|v| v.detail.deliveries.first())
            .map_or(0, |x| x.attempts.len().saturating_sub(1));
    }
}

fn targets_action(state: &mut State, action: Action) -> Vec<Effect> {
    let t = &mut state.targets;
    let n = t.reports.len();
    match action {
        Action::Down => t.selected = (t.selected + 1).min(n.saturating_sub(1)),
        Action::Up => t.selected = t.selected.saturating_sub(1),
        Action::Back => state.focus = Focus::List,
        Action::Pause | Action::Probe => {
            let Some(report) = t.reports.get(t.selected) else {
                state.say("no target to control");
                return Vec::new();
            };
            let control = match action {
                Action::Probe => TargetControl::Probe,
                _ if report.paused => TargetControl::Resume,
                _ => TargetControl::Pause,
            };
            return vec![Effect::Control {
                target: report.name.clone(),
                action: control,
            }];
        }
        _ => {}
    }
    Vec::new()
}

fn on_log(state: &mut State, facts: Vec<Lifecycle>, now: Timestamp) -> Vec<Effect> {
    state.now = now;
    let mut received = 0u64;
    let mut touched_rows = false;
    let mut touched_detail = false;
    for fact in &facts {
        if let Some(id) = fact.event_id() {
            touched_detail |= state.detail.id == Some(id);
            touched_rows |= state.list.rows.iter().any(|r| r.summary.id == id);
        }
        if fact.target().is_some() {
            state.targets.stale = true;
        }
        match fact {
            Lifecycle::EventReceived { .. } => {
                received += 1;
                state.status.arrivals.push_back(now.unix_millis());
            }
            Lifecycle::ConfigReloaded {
                at,
                path,
                restart_required,
                ..
            } => {
                state.status.config = super::state::ConfigState::Reloaded;
                let mut said = format!("configuration reloaded from {path}");
                if !restart_required.is_empty() {
                    said.push_str(&format!(
                        "; needs a restart: {}",
                        restart_required.join(", ")
                    ));
                }
                state.log.push(*at, said);
            }
            Lifecycle::ConfigRejected { error, at, .. } => {
                let error = error.clone().unwrap_or_else(|| "rejected".into());
                state
                    .log
                    .push(*at, format!("configuration rejected: {error}"));
                state.status.config = super::state::ConfigState::Rejected(error);
            }
            Lifecycle::HealthChanged {
                at,
                target,
                state: health,
            } => {
                state
                    .log
                    .push(*at, format!("target {target} is now {health}"));
            }
            _ => {}
        }
    }
    let since = now.unix_millis() - 5_000;
    while state.status.arrivals.front().is_some_and(|t| *t <= since) {
        state.status.arrivals.pop_front();
    }
    state.status.stored += received;
    state.status.count_stale |= received > 0;
    let mut effects = Vec::new();
    if state.list.follow && state.list.loading && (received > 0 || touched_rows) {
        // Restarting a read under way drops what it found so far, and a busy history could
        // keep a slow filter (`body:`, `status:`) from ever showing a row: the top is read
        // again once it ends.
        state.list.arrived = true;
    } else if received > 0 && state.list.follow {
        effects.extend(reload(state, None));
    } else {
        state.list.new_since += received;
        if touched_rows {
            let top = state.list.rows.first().map(|r| r.summary.id);
            effects.extend(reload(state, if state.list.follow { None } else { top }));
        }
    }
    if touched_detail {
        effects.extend(refresh_detail(state));
    }
    if state.targets.stale && now.unix_millis() - state.targets.last_read_ms >= 1_000 {
        effects.extend(read_health(state));
    }
    effects
}

fn on_window(
    state: &mut State,
    generation: u64,
    place: Place,
    direction: Direction,
    scan: Scan,
) -> Vec<Effect> {
    if generation != state.list.generation {
        return Vec::new();
    }
    let list = &mut state.list;
    list.scanned += scan.scanned;
    let mut rows = scan.rows;
    if direction == Direction::Newer {
        rows.reverse();
    }
    let budget_ran_out = scan.resume.is_some() && !scan.full;
    match place {
        Place::Replace { keep, select_last } => {
            let id = keep.or_else(|| {
                if list.follow {
                    None
                } else {
                    list.selected_id()
                }
            });
            list.rows = rows;
            if direction == Direction::Older {
                list.has_older = scan.resume.is_some();
                if list.follow {
                    list.has_newer = false;
                }
            } else {
                list.has_older = false;
                list.has_newer = scan.resume.is_some();
            }
            list.selected = if select_last {
                list.rows.len().saturating_sub(1)
            } else if list.follow {
                0
            } else {
                id.and_then(|id| list.rows.iter().position(|r| r.summary.id == id))
                    .unwrap_or(list.selected)
                    .min(list.rows.len().saturating_sub(1))
            };
        }
        Place::Append => {
            list.rows.extend(rows);
            list.has_older = scan.resume.is_some();
        }
        Place::Refresh => {
            let selected = list.selected_id();
            let ended = scan.resume.is_none();
            if !ended && !scan.full {
                let below = scan.resume.map_or(0, |r| r.0);
                let kept = list
                    .rows
                    .iter()
                    .filter(|r| r.summary.id.0 <= below)
                    .cloned();
                rows.extend(kept);
                list.has_older |= rows.len() > WINDOW;
                rows.truncate(WINDOW);
            } else {
                list.has_older = !ended;
            }
            list.rows = rows;
            list.has_newer = false;
            // The user may have moved (follow off) while it was read: the selection stays.
            list.selected = match selected {
                Some(id) if !list.follow => list.rows.iter().position(|r| r.summary.id == id),
                _ => None,
            }
            .unwrap_or(0);
        }
        Place::Prepend => {
            let n = rows.len();
            rows.append(&mut list.rows);
            list.rows = rows;
            list.rows.truncate(WINDOW);
            list.has_older = true;
            list.has_newer = scan.resume.is_some();
            list.selected = (list.selected + n).saturating_sub(1);
        }
    }
    let mut effects = Vec::new();
    let wanted = WINDOW.saturating_sub(list.rows.len());
    let mut refresh = false;
    if budget_ran_out && wanted > 0 && direction == Direction::Older && place != Place::Refresh {
        // A rare filter: keep scanning older rows in the background, page by page.
        list.loading = true;
        effects.push(Effect::ReadWindow {
            generation,
            from: scan.resume,
            direction,
            limit: wanted,
            budget: budget_for(&state.filter.applied),
            filter: state.filter.applied.clone(),
            place: Place::Append,
        });
    } else {
        list.loading = false;
        refresh = std::mem::take(&mut list.arrived) && list.follow;
    }
    if refresh {
        state.list.generation += 1;
        state.list.loading = true;
        state.list.scanned = 0;
        effects.push(Effect::ReadWindow {
            generation: state.list.generation,
            from: None,
            direction: Direction::Older,
            limit: WINDOW,
            budget: budget_for(&state.filter.applied),
            filter: state.filter.applied.clone(),
            place: Place::Refresh,
        });
    }
    keep_in_view(state);
    effects.extend(follow_selection(state));
    effects
}
