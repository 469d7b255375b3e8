//! The interface's view state, one part per view; owned by the loop, changed only by `update`.

use super::filter::{Filter, FilterError};
use super::keymap::{Context, Keymap};
use crate::model::{EventDetail, Timestamp};
use crate::relay::HealthReport;
use crate::store::WindowRow;
use std::collections::VecDeque;
use std::sync::Arc;
use ulid::Ulid;

/// Rows kept around the selection: a few screens, never the whole history.
pub const WINDOW: usize = 200;
/// Rows a single read looks at before it hands back what it found (and continues).
pub const SCAN_BUDGET: u64 = 20_000;
/// The same for a filter that reads attempts or bodies (`status:`, `error:`, `body:`).
pub const CONTENT_SCAN_BUDGET: u64 = 2_000;

/// What the instance told the interface when it started.
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub receiver: String,
    pub api: String,
    pub log_file: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Detail,
    Targets,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Overview,
    Request,
    Signature,
    Deliveries,
    Raw,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Overview,
        Tab::Request,
        Tab::Signature,
        Tab::Deliveries,
        Tab::Raw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Request => "Request",
            Tab::Signature => "Signature",
            Tab::Deliveries => "Deliveries",
            Tab::Raw => "Raw",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    Auto,
    Raw,
    Hex,
}

impl BodyMode {
    pub fn name(self) -> &'static str {
        match self {
            BodyMode::Auto => "auto",
            BodyMode::Raw => "raw",
            BodyMode::Hex => "hex",
        }
    }
}

/// The event list: a window of rows, newest first.
#[derive(Debug, Clone, Default)]
pub struct ListState {
    pub rows: Vec<WindowRow>,
    pub selected: usize,
    /// First visible row (kept by `update` so the selection stays in view).
    pub offset: usize,
    /// Rows newer than the window exist (it does not start at the newest).
    pub has_newer: bool,
    /// Rows older than the window may exist.
    pub has_older: bool,
    pub follow: bool,
    /// Events received while follow was off.
    pub new_since: u64,
    pub generation: u64,
    pub loading: bool,
    /// Rows looked at by the current read so far.
    pub scanned: u64,
    /// With follow on, events arrived (or listed rows changed) while a read was under way: the
    /// top is read again when it ends.
    pub arrived: bool,
}

impl ListState {
    pub fn selected_id(&self) -> Option<Ulid> {
        self.rows.get(self.selected).map(|r| r.summary.id)
    }
}

#[derive(Debug, Clone, Default)]
pub struct FilterState {
    pub applied: Filter,
    /// The prompt's text while it is open.
    pub editing: Option<String>,
    pub error: Option<FilterError>,
}

/// An event's detail as loaded, with the body prepared off the loop.
#[derive(Debug, Clone)]
pub struct DetailView {
    pub detail: EventDetail,
    pub body: Vec<u8>,
    /// Pretty-printed JSON lines (escaped), when the body is JSON.
    pub pretty: Option<Vec<String>>,
    /// The body's own lines, escaped (raw mode and the Raw tab).
    pub lines: Vec<String>,
}

impl DetailView {
    /// Decodes the body once and prepares its escaped lines, off the render loop.
    pub fn new(detail: EventDetail) -> Self {
        let body = detail.body();
        let pretty = super::view::pretty_json(&body);
        let lines = super::view::body_lines(&body);
        Self {
            detail,
            body,
            pretty,
            lines,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DetailState {
    pub tab: Tab,
    pub mode: BodyMode,
    pub scroll: usize,
    /// Selected attempt in the Deliveries tab (over every delivery's attempts, in order).
    pub attempt: usize,
    pub id: Option<Ulid>,
    pub view: Option<Arc<DetailView>>,
    /// The event is no longer in the history (pruned).
    pub gone: bool,
    pub generation: u64,
}

impl Default for DetailState {
    fn default() -> Self {
        DetailState {
            tab: Tab::Overview,
            mode: BodyMode::Auto,
            scroll: 0,
            attempt: 0,
            id: None,
            view: None,
            gone: false,
            generation: 0,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TargetsState {
    pub reports: Vec<HealthReport>,
    pub selected: usize,
    pub generation: u64,
    /// Something changed since the last read.
    pub stale: bool,
    pub last_read_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ConfigState {
    #[default]
    Ok,
    Reloaded,
    Rejected(String),
}

#[derive(Debug, Clone, Default)]
pub struct Status {
    pub stored: u64,
    /// Arrival times (ms) of recent events, for the rate.
    pub arrivals: VecDeque<i64>,
    pub config: ConfigState,
    /// Events arrived (or were pruned) since the count was read.
    pub count_stale: bool,
}

/// The help overlay's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpTab {
    Keys,
    Filter,
    Legend,
}

impl HelpTab {
    pub const ALL: [HelpTab; 3] = [HelpTab::Keys, HelpTab::Filter, HelpTab::Legend];

    pub fn name(self) -> &'static str {
        match self {
            HelpTab::Keys => "Keys",
            HelpTab::Filter => "Filter syntax",
            HelpTab::Legend => "Legend",
        }
    }
}

/// The help overlay while it is open: its tab, and what was typed to narrow the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpState {
    pub tab: HelpTab,
    pub query: String,
}

/// One line of the event log: what an action (or the system) said, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub at: Timestamp,
    pub text: String,
}

/// Lines the event log keeps (the oldest go first).
pub const LOG_LINES: usize = 500;

/// The event log (`E`): every feedback line, and the system's own news (configuration reloaded
/// or rejected, a target's health changed), newest last.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    pub lines: VecDeque<Said>,
    pub open: bool,
    /// Lines scrolled up from the newest.
    pub scroll: usize,
}

impl EventLog {
    pub fn push(&mut self, at: Timestamp, text: String) {
        if self.lines.len() == LOG_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(Said { at, text });
    }
}

/// The whole interface: its parts and the facts every view needs.
#[derive(Debug, Clone)]
pub struct State {
    pub keymap: Keymap,
    pub info: Info,
    pub list: ListState,
    pub filter: FilterState,
    pub detail: DetailState,
    pub targets: TargetsState,
    pub status: Status,
    pub focus: Focus,
    pub help: Option<HelpState>,
    pub log: EventLog,
    pub feedback: Option<String>,
    pub quit: bool,
    pub width: u16,
    pub height: u16,
    pub now: Timestamp,
}

impl State {
    pub fn new(keymap: Keymap, info: Info, now: Timestamp) -> State {
        State {
            keymap,
            info,
            list: ListState {
                follow: true,
                ..ListState::default()
            },
            filter: FilterState::default(),
            detail: DetailState::default(),
            targets: TargetsState::default(),
            status: Status::default(),
            focus: Focus::List,
            help: None,
            log: EventLog::default(),
            feedback: None,
            quit: false,
            width: 120,
            height: 40,
            now,
        }
    }

    /// Says something on the feedback line, and keeps it in the event log.
    pub fn say(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.log.push(self.now, text.clone());
        self.feedback = Some(text);
    }

    pub fn wide(&self) -> bool {
        self.width >= 100
    }

    pub fn context(&self) -> Context {
        match self.focus {
            Focus::List => Context::List,
            Focus::Detail => Context::Detail,
            Focus::Targets => Context::Targets,
        }
    }

    /// Events per second over the last five seconds.
    pub fn rate(&self) -> f64 {
        let since = self.now.unix_millis() - 5_000;
        self.status.arrivals.iter().filter(|t| **t > since).count() as f64 / 5.0
    }

    /// The paused targets, by name.
    pub fn paused(&self) -> usize {
        self.targets.reports.iter().filter(|r| r.paused).count()
    }
}
