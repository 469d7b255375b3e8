//! How the list's reads follow the filter in `update`: slow filters read in smaller pages and
//! show their progress, a new filter drops the old scan, and events arriving during a scan
//! wait for it instead of restarting it.

use super::Filter;
use crate::model::{DeliveriesState, EventSummary, Timestamp, Verdict};
use crate::store::{Direction, Scan, WindowRow};
use crate::tui::keymap::{Key, Keymap};
use crate::tui::state::{CONTENT_SCAN_BUDGET, Info, SCAN_BUDGET, State};
use crate::tui::tests::received;
use crate::tui::update::{Effect, Msg, Place, update};
use crate::tui::view::{self, Theme};
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ulid::Ulid;

const NOW: i64 = 1_764_677_100_000;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(NOW + ms)
}

fn id(n: u64) -> Ulid {
    Ulid::from_parts(NOW as u64 - 10_000 + n, 0)
}

fn row(n: u64) -> WindowRow {
    WindowRow {
        summary: EventSummary {
            id: id(n),
            received_at: at(-10_000 + n as i64),
            route: "r".into(),
            method: "POST".into(),
            path: format!("/r/{n}"),
            event_type: None,
            verdict: Verdict::Unsigned,
            deliveries_state: DeliveriesState::None,
        },
        dedupe_key: None,
        body_len: 2,
        delivery_states: Vec::new(),
        attempts: 0,
        lineage: None,
        targets: Vec::new(),
        scheme: None,
    }
}

fn state() -> State {
    let mut s = State::new(Keymap::default(), Info::default(), at(0));
    s.status.stored = 1_000_000;
    s
}

/// Types `text` into the filter prompt (emptied first) and applies it.
fn apply(s: &mut State, text: &str) -> Vec<Effect> {
    update(s, Msg::Key(Key::ch('/')));
    while s.filter.editing.as_ref().is_some_and(|t| !t.is_empty()) {
        update(s, Msg::Key(Key::plain(KeyCode::Backspace)));
    }
    for c in text.chars() {
        update(s, Msg::Key(Key::ch(c)));
    }
    update(s, Msg::Key(Key::plain(KeyCode::Enter)))
}

/// The one window read among `effects`: its generation, start, budget and place.
fn read(effects: &[Effect]) -> (u64, Option<Ulid>, u64, Place) {
    let reads: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::ReadWindow {
                generation,
                from,
                budget,
                place,
                ..
            } => Some((*generation, *from, *budget, *place)),
            _ => None,
        })
        .collect();
    assert_eq!(reads.len(), 1, "{effects:?}");
    reads[0]
}

fn answer(s: &mut State, generation: u64, place: Place, scan: Scan) -> Vec<Effect> {
    update(
        s,
        Msg::Window {
            generation,
            place,
            direction: Direction::Older,
            scan,
        },
    )
}

fn shown(s: &State) -> Vec<Ulid> {
    s.list.rows.iter().map(|r| r.summary.id).collect()
}

fn screen(s: &State) -> String {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal
        .draw(|f| {
            view::render(
                s,
                at(0),
                Theme {
                    colour: false,
                    ascii: false,
                },
                f,
            )
        })
        .unwrap();
    let buffer = terminal.backend().buffer();
    buffer.content().iter().map(|c| c.symbol()).collect()
}

const REPLACE: Place = Place::Replace {
    keep: None,
    select_last: false,
};

#[test]
fn a_body_scan_reads_in_small_pages_shows_progress_and_stops_for_a_new_filter() {
    let mut s = state();
    let (first, from, budget, place) = read(&apply(&mut s, "body:\"hello world\""));
    assert_eq!((from, budget, place), (None, CONTENT_SCAN_BUDGET, REPLACE));
    // Nothing found in the first page: the scan goes on from where it stopped.
    let scan = Scan {
        rows: Vec::new(),
        resume: Some(id(5000)),
        scanned: CONTENT_SCAN_BUDGET,
        full: false,
    };
    let (generation, from, _, place) = read(&answer(&mut s, first, REPLACE, scan));
    assert_eq!(
        (generation, from, place),
        (first, Some(id(5000)), Place::Append)
    );
    assert!(s.list.loading);
    let drawn = screen(&s);
    assert!(
        drawn.contains("scanning 0% (2,000 of 1,000,000)"),
        "{drawn}"
    );
    assert!(drawn.contains("Looking for matching events"));
    // A match streams in while the scan goes on.
    let scan = Scan {
        rows: vec![row(4000)],
        resume: Some(id(3000)),
        scanned: CONTENT_SCAN_BUDGET,
        full: false,
    };
    read(&answer(&mut s, first, Place::Append, scan));
    assert_eq!(shown(&s), [id(4000)]);
    assert!(screen(&s).contains("scanning 0% (4,000 of 1,000,000)"));
    // Another filter: a new read, with the full budget of a cheap filter.
    let (second, _, budget, _) = read(&apply(&mut s, "route:r"));
    assert!(second > first);
    assert_eq!(budget, SCAN_BUDGET);
    // The old scan's next page is dropped and goes no further.
    let late = Scan {
        rows: vec![row(2500)],
        resume: Some(id(2000)),
        scanned: CONTENT_SCAN_BUDGET,
        full: false,
    };
    assert!(answer(&mut s, first, Place::Append, late).is_empty());
    assert_eq!(
        shown(&s),
        [id(4000)],
        "the old rows stay until the new read answers"
    );
    assert!(!s.list.rows.iter().any(|r| r.summary.id == id(2500)));
}

#[test]
fn events_arriving_during_a_scan_wait_for_it_then_the_top_is_read_again() {
    let mut s = state();
    let (g, ..) = read(&apply(&mut s, "status:5xx"));
    let scan = Scan {
        rows: vec![row(900)],
        resume: Some(id(800)),
        scanned: CONTENT_SCAN_BUDGET,
        full: false,
    };
    read(&answer(&mut s, g, REPLACE, scan));
    let effects = update(&mut s, Msg::Log(vec![received(id(9999))], at(10)));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::ReadWindow { .. })),
        "the scan under way is not restarted: {effects:?}"
    );
    // The scan ends: the top is read again.
    let end = Scan {
        rows: vec![row(700)],
        resume: None,
        scanned: 500,
        full: false,
    };
    let (refresh, from, _, place) = read(&answer(&mut s, g, Place::Append, end));
    assert_eq!((from, place), (None, Place::Refresh));
    assert!(refresh > g && s.list.loading);
    assert_eq!(shown(&s), [id(900), id(700)]);
    // It reached only part of the history: what it found replaces the rows it looked at, the
    // older ones stay.
    let top = Scan {
        rows: vec![row(9999)],
        resume: Some(id(850)),
        scanned: CONTENT_SCAN_BUDGET,
        full: false,
    };
    let effects = answer(&mut s, refresh, Place::Refresh, top);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::ReadWindow { .. })),
        "no continuation: the older rows are known: {effects:?}"
    );
    assert_eq!(shown(&s), [id(9999), id(700)], "900 no longer matches");
    assert!(!s.list.loading);
    assert_eq!(s.list.selected, 0);
}

#[test]
fn a_refresh_that_reads_everything_replaces_the_rows() {
    let mut s = state();
    let (g, ..) = read(&apply(&mut s, "error:timeout"));
    s.list.arrived = true;
    let (refresh, ..) = read(&answer(&mut s, g, REPLACE, Scan::default()));
    let all = Scan {
        rows: vec![row(3), row(1)],
        ..Scan::default()
    };
    answer(&mut s, refresh, Place::Refresh, all);
    assert_eq!(shown(&s), [id(3), id(1)]);
    assert!(!s.list.has_older);
    // Moved while another refresh was read: the selected event stays selected.
    s.list.arrived = true;
    s.list.loading = true;
    let (refresh, ..) = read(&answer(&mut s, refresh, Place::Append, Scan::default()));
    update(&mut s, Msg::Key(Key::ch('j')));
    assert!(!s.list.follow);
    let again = Scan {
        rows: vec![row(5), row(3), row(1)],
        ..Scan::default()
    };
    answer(&mut s, refresh, Place::Refresh, again);
    assert_eq!(s.list.selected_id(), Some(id(1)));
}

#[test]
fn since_counts_back_from_the_interfaces_clock() {
    let mut s = state();
    s.now = at(60_000);
    let effects = apply(&mut s, "since:10m");
    let Some(Effect::ReadWindow { filter, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(filter, &Filter::parse("since:10m", at(60_000)).unwrap());
    assert_ne!(filter, &Filter::parse("since:10m", at(0)).unwrap());
}
