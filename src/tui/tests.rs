//! Interface tests: `update` driven by key sequences, and `render` into a `TestBackend` at fixed
//! sizes with fixed data and a fixed clock, snapshotted with insta.

use super::keymap::{Key, Keymap};
use super::state::{DetailView, Focus, HelpTab, Info, State, Tab};
use super::update::{Effect, Msg, Place, update};
use super::view::{self, Theme};
use crate::model::{
    Attempt, DeliveriesState, Delivery, DeliveryState, Diagnosis, EventDetail, EventMeta,
    EventSummary, Header, Timestamp, Verdict, Verification,
};
use crate::relay::{HealthReport, HealthState};
use crate::store::{Direction, Scan, WindowRow};
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use ulid::Ulid;

const NOW: i64 = 1_764_677_100_000; // 2025-12-02 12:05:00 UTC

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(NOW + offset_ms)
}

fn id(n: u128) -> Ulid {
    Ulid::from_parts((NOW as u64) - 1000 + n as u64, n)
}

fn row(n: u128, path: &str, ty: &str, verdict: Verdict, states: &[DeliveryState]) -> WindowRow {
    WindowRow {
        summary: EventSummary {
            id: id(n),
            received_at: at(-(1000 * (10 - n as i64))),
            route: "stripe".into(),
            method: "POST".into(),
            path: path.into(),
            event_type: Some(ty.into()),
            verdict,
            deliveries_state: DeliveriesState::of(states.iter().copied()),
        },
        dedupe_key: Some(format!("evt_{n}")),
        body_len: 1532,
        delivery_states: states.to_vec(),
        attempts: states.len() as u32,
        lineage: None,
        targets: states.iter().map(|_| "billing".to_owned()).collect(),
        scheme: Some("stripe".into()),
    }
}

fn rows() -> Vec<WindowRow> {
    vec![
        row(
            9,
            "/stripe/events",
            "invoice.paid",
            Verdict::Mismatch,
            &[DeliveryState::Dead],
        ),
        row(
            8,
            "/stripe/events",
            "charge.failed",
            Verdict::Verified,
            &[DeliveryState::RetryScheduled],
        ),
        row(
            7,
            "/gh/push",
            "push",
            Verdict::Verified,
            &[DeliveryState::Succeeded],
        ),
        row(6, "/hello", "—", Verdict::Unsigned, &[]),
    ]
}

fn meta(path: &str, headers: Vec<Header>) -> EventMeta {
    EventMeta {
        id: id(9),
        received_at: at(-1000),
        route: "stripe".into(),
        method: "POST".into(),
        path: path.into(),
        query: String::new(),
        headers,
        body_sha256: "5257a8e108d8bd5257a8e108d8bd5257a8e108d8bd".into(),
        body_len: 0,
        remote_addr: "127.0.0.1:53211".into(),
        event_type: Some("invoice.paid".into()),
        dedupe_key: Some("evt_9".into()),
        duplicate_of: None,
        resend_of: None,
        verification: Verification {
            scheme: Some("stripe".into()),
            verdict: Verdict::Mismatch,
            secret: None,
            timestamp: Some("1764677099".into()),
            skew_secs: Some(1),
            received: Some("v1=5257a8…e108d8bd".into()),
            expected: Some("v1=6ffbb5…b039989a (2026-11)".into()),
            signed_content: Some("\"1764677099.\" + 36 B body".into()),
            diagnosis: Some(Diagnosis {
                code: "body_reserialized".into(),
                message: "matches the compact JSON, not the bytes received".into(),
            }),
        },
        secret_headers: Vec::new(),
        imported: false,
    }
}

fn detail_view(path: &str, headers: Vec<Header>, body: &[u8]) -> Arc<DetailView> {
    let deliveries = vec![Delivery {
        id: id(20),
        target: "billing".into(),
        state: DeliveryState::Dead,
        replay_of: None,
        next_attempt_at: None,
        attempts: vec![
            Attempt {
                n: 1,
                started_at: at(-900),
                duration_ms: 41,
                status: Some(500),
                error: None,
                response_headers: vec![Header::new("content-type", "text/plain")],
                response_body_base64: Some("aW50ZXJuYWwgZXJyb3I=".into()),
                response_size: Some(14),
                note: None,
            },
            Attempt {
                n: 2,
                started_at: at(-400),
                duration_ms: 812,
                status: None,
                error: Some("timeout".into()),
                response_headers: Vec::new(),
                response_body_base64: None,
                response_size: None,
                note: Some("re-signed with 2026-11".into()),
            },
        ],
    }];
    let detail = EventDetail::new(meta(path, headers), body, deliveries, false);
    Arc::new(DetailView::new(detail))
}

fn reports() -> Vec<HealthReport> {
    let r =
        |name: &str, state, paused, rate, p95, queued, error: Option<&str>, until| HealthReport {
            name: name.into(),
            url: Some(format!("http://127.0.0.1:3000/{name}")),
            state,
            paused,
            success_rate: rate,
            consecutive_failures: 0,
            p50_ms: p95,
            p95_ms: p95,
            queued,
            in_flight: 0,
            last_success_at: None,
            last_error: error.map(str::to_owned),
            circuit_open_until: until,
        };
    vec![
        r(
            "audit",
            HealthState::Healthy,
            false,
            Some(1.0),
            Some(18),
            0,
            None,
            None,
        ),
        r(
            "billing",
            HealthState::Degraded,
            false,
            Some(0.912),
            Some(812),
            3,
            Some("status 500"),
            None,
        ),
        r(
            "crm",
            HealthState::Down,
            false,
            Some(0.0),
            None,
            41,
            Some("connect_refused"),
            Some(at(45_000)),
        ),
        r(
            "search",
            HealthState::Paused,
            true,
            None,
            None,
            12,
            None,
            None,
        ),
    ]
}

fn state(width: u16, height: u16) -> State {
    let info = Info {
        receiver: "127.0.0.1:8989".into(),
        api: "127.0.0.1:8990".into(),
        log_file: "/data/hooklens.log".into(),
    };
    let mut s = State::new(Keymap::default(), info, at(0));
    s.width = width;
    s.height = height;
    s
}

/// A state with the window loaded, the detail open on the newest event, and targets.
fn loaded(width: u16, height: u16) -> State {
    let mut s = state(width, height);
    let g = s.list.generation;
    update(
        &mut s,
        Msg::Window {
            generation: g,
            place: Place::Replace {
                keep: None,
                select_last: false,
            },
            direction: Direction::Older,
            scan: Scan {
                rows: rows(),
                ..Scan::default()
            },
        },
    );
    s.status.stored = 1_000_000;
    s.targets.reports = reports();
    s.detail.id = s.list.selected_id();
    let g = s.detail.generation;
    let body = br#"{"id":"evt_9","type":"invoice.paid","amount":1200}"#;
    let headers = vec![
        Header::new("content-type", "application/json"),
        Header::new("stripe-signature", "t=1764677099,v1=5257a8"),
    ];
    update(
        &mut s,
        Msg::Detail {
            generation: g,
            view: Some(detail_view("/stripe/events", headers, body)),
        },
    );
    s
}

fn key(c: char) -> Msg {
    Msg::Key(Key::ch(c))
}

fn code(c: KeyCode) -> Msg {
    Msg::Key(Key::plain(c))
}

fn draw(s: &State) -> String {
    draw_with(
        s,
        Theme {
            colour: false,
            ascii: false,
        },
    )
}

fn draw_with(s: &State, theme: Theme) -> String {
    let mut terminal = Terminal::new(TestBackend::new(s.width, s.height)).unwrap();
    terminal.draw(|f| view::render(s, at(0), theme, f)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn snap(name: &str, s: &State) {
    insta::assert_snapshot!(format!("{name}_{}x{}", s.width, s.height), draw(s));
}

#[test]
fn moving_turns_follow_off_and_g_turns_it_back_on() {
    let mut s = loaded(120, 40);
    assert!(s.list.follow);
    update(&mut s, key('j'));
    assert!(!s.list.follow);
    assert_eq!(s.list.selected, 1);
    update(&mut s, code(KeyCode::Down));
    update(&mut s, key('k'));
    assert_eq!(s.list.selected, 1);
    let effects = update(&mut s, key('G'));
    assert!(s.list.follow);
    assert_eq!(s.list.selected, 0);
    assert!(matches!(effects[0], Effect::ReadWindow { from: None, .. }));
}

#[test]
fn a_stale_window_read_is_dropped() {
    let mut s = loaded(120, 40);
    let old = s.list.generation;
    update(&mut s, key('F'));
    update(
        &mut s,
        Msg::Window {
            generation: old,
            place: Place::Replace {
                keep: None,
                select_last: false,
            },
            direction: Direction::Older,
            scan: Scan::default(),
        },
    );
    assert_eq!(
        s.list.rows.len(),
        4,
        "the old answer must not empty the list"
    );
}

/// The `event.received` record of an event with nothing else to say.
pub(super) fn received(event: Ulid) -> crate::model::Lifecycle {
    crate::model::Lifecycle::EventReceived {
        at: at(0),
        event_id: event,
        route: "stripe".into(),
        method: "POST".into(),
        path: "/stripe".into(),
        event_type: None,
        dedupe_key: None,
        duplicate_of: None,
        resend_of: None,
        verification: crate::model::VerificationSummary {
            scheme: None,
            verdict: crate::model::Verdict::Unsigned,
            secret: None,
            diagnosis: None,
        },
    }
}

#[test]
fn new_events_are_counted_while_follow_is_off() {
    let mut s = loaded(120, 40);
    update(&mut s, key('j'));
    let fact = received(id(10));
    update(&mut s, Msg::Log(vec![fact.clone(), fact], at(0)));
    assert_eq!(s.list.new_since, 2);
    assert_eq!(s.list.selected, 1, "the selection stays put");
}

/// The detail is on screen beside the list (wide layout): its tabs switch from the list too, so
/// a newcomer's `3` shows the signature without knowing to press Enter first.
#[test]
fn tabs_switch_from_the_list_as_well() {
    let mut s = loaded(120, 40);
    assert_eq!(s.focus, Focus::List);
    update(&mut s, key('3'));
    assert_eq!((s.focus, s.detail.tab), (Focus::List, Tab::Signature));
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(s.detail.tab, Tab::Deliveries);
}

#[test]
fn tabs_body_mode_and_focus() {
    let mut s = loaded(120, 40);
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.focus, Focus::Detail);
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(s.detail.tab, Tab::Request);
    update(&mut s, key('m'));
    assert_eq!(s.detail.mode, super::state::BodyMode::Raw);
    update(&mut s, key('4'));
    assert_eq!(s.detail.tab, Tab::Deliveries);
    assert_eq!(
        s.detail.attempt, 1,
        "the latest attempt of the first target"
    );
    update(&mut s, code(KeyCode::BackTab));
    assert_eq!(s.detail.tab, Tab::Signature);
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.focus, Focus::List);
    update(&mut s, key('T'));
    assert_eq!(s.focus, Focus::Targets);
    update(&mut s, key('j'));
    let effects = update(&mut s, key('p'));
    assert_eq!(
        effects,
        vec![Effect::Control {
            target: "billing".into(),
            action: crate::model::TargetControl::Pause
        }]
    );
    update(&mut s, key('j'));
    update(&mut s, key('j'));
    let effects = update(&mut s, key('p'));
    assert!(matches!(
        &effects[0],
        Effect::Control {
            action: crate::model::TargetControl::Resume,
            ..
        }
    ));
    update(&mut s, key('?'));
    assert!(s.help.is_some());
    update(&mut s, key('?'));
    assert!(s.help.is_none());
    update(&mut s, key('q'));
    assert!(s.quit);
}

/// The help narrows its keys as one types, switches tabs, and `Esc` first clears what was
/// typed, then closes; keys typed into it never reach the screen behind.
#[test]
fn the_help_filters_its_keys_and_has_tabs() {
    let mut s = loaded(120, 40);
    update(&mut s, key('?'));
    for c in "tab".chars() {
        update(&mut s, key(c));
    }
    let help = s.help.clone().unwrap();
    assert_eq!((help.tab, help.query.as_str()), (HelpTab::Keys, "tab"));
    assert!(
        !s.quit && s.list.selected == 0,
        "typed keys stay in the help"
    );
    let text = draw(&s);
    assert!(
        text.contains("next tab") && !text.contains("move down"),
        "{text}"
    );
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(s.help.as_ref().unwrap().tab, HelpTab::Filter);
    assert!(draw(&s).contains("attempts:>=3"));
    update(&mut s, code(KeyCode::Tab));
    assert!(draw(&s).contains("circuit open"));
    update(&mut s, code(KeyCode::BackTab));
    assert_eq!(s.help.as_ref().unwrap().tab, HelpTab::Filter);
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.help.as_ref().unwrap().query, "", "Esc clears first");
    update(&mut s, code(KeyCode::Esc));
    assert!(s.help.is_none());
}

/// Every feedback line is kept in the event log with the system's news; `E` shows it, newest at
/// the bottom, and closes it again.
#[test]
fn the_event_log_keeps_what_was_said() {
    let mut s = loaded(120, 40);
    update(&mut s, key('T'));
    update(&mut s, key('p'));
    update(
        &mut s,
        Msg::Controlled(Ok("pause billing: now paused".into())),
    );
    let news = crate::model::Lifecycle::HealthChanged {
        at: at(7000),
        target: "crm\x1b]0;owned\x07".into(),
        state: "down".into(),
    };
    update(&mut s, Msg::Log(vec![news], at(7000)));
    update(&mut s, key('E'));
    assert!(s.log.open);
    let lines: Vec<&str> = s.log.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(lines[0], "✓ pause billing: now paused");
    assert!(lines[1].starts_with("target crm"), "{lines:?}");
    let text = draw(&s);
    assert!(text.contains("Event log — 2 lines"), "{text}");
    assert!(
        text.contains("\\x1b]0;owned\\x07 is now down"),
        "escaped: {text}"
    );
    update(&mut s, key('E'));
    assert!(!s.log.open);
}

#[test]
fn a_filter_error_keeps_the_previous_filter() {
    let mut s = loaded(120, 40);
    for c in "/verdict:mismatch".chars() {
        update(&mut s, key(c));
    }
    let effects = update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.filter.applied.text, "verdict:mismatch");
    assert!(matches!(&effects[0], Effect::ReadWindow { filter, .. } if !filter.is_empty()));
    update(&mut s, key('/'));
    for c in " colour:red".chars() {
        update(&mut s, key(c));
    }
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    assert_eq!(s.filter.error.as_ref().map(|e| e.column), Some(17));
    assert_eq!(s.filter.applied.text, "verdict:mismatch");
    update(&mut s, code(KeyCode::Esc));
    assert!(s.filter.editing.is_none());
    update(&mut s, code(KeyCode::Esc));
    assert!(s.filter.applied.is_empty(), "Esc in the list clears it");
}

#[test]
fn snapshots() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut s = loaded(w, h);
        snap("main", &s);
        update(&mut s, code(KeyCode::Enter));
        for (i, tab) in ["overview", "request", "signature", "deliveries", "raw"]
            .iter()
            .enumerate()
        {
            update(&mut s, key(char::from(b'1' + i as u8)));
            snap(&format!("tab_{tab}"), &s);
        }
        update(&mut s, code(KeyCode::Esc));
        update(&mut s, key('T'));
        snap("targets", &s);
        update(&mut s, key('?'));
        snap("help", &s);
        update(&mut s, code(KeyCode::Tab));
        snap("help_filter", &s);
        update(&mut s, code(KeyCode::Tab));
        snap("help_legend", &s);
        update(&mut s, code(KeyCode::Esc));
        update(
            &mut s,
            Msg::Controlled(Ok("pause billing: now paused".into())),
        );
        update(&mut s, Msg::Failed("cannot read events: disk gone".into()));
        update(&mut s, key('E'));
        snap("event_log", &s);
        let mut e = state(w, h);
        e.targets.reports = reports()[..1].to_vec();
        snap("empty", &e);
        let mut f = loaded(w, h);
        for c in "/stripe verdict:nope".chars() {
            update(&mut f, key(c));
        }
        update(&mut f, code(KeyCode::Enter));
        snap("filter_error", &f);
    }
    // Something sane at 40×10.
    let tiny = draw(&loaded(40, 10));
    assert!(tiny.contains("recv 127.0.0.1:8989"), "{tiny}");
    assert!(tiny.contains("/stripe/ev"), "{tiny}");
}

#[test]
fn hostile_bytes_render_as_visible_escapes() {
    let hostile = "\0\x1b[2J\x1b]0;title\x07\u{9b}\u{202e}";
    let mut s = loaded(120, 40);
    s.list.rows[0].summary.path = format!("/p{hostile}");
    let headers = vec![Header::new("x-evil", format!("v{hostile}").into_bytes())];
    let body = format!("b{hostile}").into_bytes();
    let g = s.detail.generation;
    update(
        &mut s,
        Msg::Detail {
            generation: g,
            view: Some(detail_view(&format!("/p{hostile}"), headers, &body)),
        },
    );
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, key('2'));
    update(&mut s, key('m')); // raw: the body as bytes, escaped
    let screen = draw(&s);
    for c in screen.chars() {
        assert!(
            c == '\n' || !(c.is_control() || crate::text::is_deceptive(c)),
            "raw {c:?} reached the buffer"
        );
    }
    assert!(screen.contains(r"\x1b[2J"), "{screen}");
    assert!(screen.contains(r"\x1b]0;title\x07"));
    assert!(screen.contains(r"\u{9b}"));
    assert!(screen.contains(r"\u{202e}"));
    assert!(
        screen.contains(r"\x00") || screen.contains(r"\0"),
        "{screen}"
    );
    // In the header and the list too.
    assert!(screen.contains(r"x-evil: v\x00") || screen.contains(r"x-evil: v\0"));
    assert!(
        screen.matches(r"\x1b[2J").count() >= 3,
        "path, header and body"
    );
}

#[test]
fn the_colour_is_never_alone() {
    let s = loaded(120, 40);
    let screen = draw(&s);
    for glyph in ["✗", "✓", "●", "◐", "○", "‖"] {
        assert!(screen.contains(glyph), "{glyph} missing");
    }
}

/// Where the terminal cannot draw the glyphs, each has an ASCII stand-in of the same width:
/// every state still reads, and nothing but ASCII reaches the screen.
#[test]
fn ascii_terminals_get_ascii_glyphs() {
    let ascii = Theme {
        colour: false,
        ascii: true,
    };
    for (w, h) in [(80, 24), (120, 40)] {
        let mut s = loaded(w, h);
        let screen = draw_with(&s, ascii);
        assert!(screen.is_ascii(), "{screen}");
        for word in [
            "* healthy",
            "% degraded",
            "o down",
            "| paused",
            "> 12:04:59",
        ] {
            assert!(screen.contains(word), "{word} missing:\n{screen}");
        }
        update(&mut s, key('?'));
        assert!(draw_with(&s, ascii).is_ascii());
        if w == 80 {
            insta::assert_snapshot!("main_ascii_80x24", screen);
        }
    }
}

#[test]
fn an_idle_tick_reads_nothing() {
    let mut s = loaded(120, 40);
    s.targets.reports.truncate(1); // healthy, nothing queued: nothing moves
    assert!(update(&mut s, Msg::Tick(at(1000))).is_empty());
    let fact = received(id(10));
    update(&mut s, Msg::Log(vec![fact], at(1000)));
    assert_eq!(update(&mut s, Msg::Tick(at(2000))), vec![Effect::ReadCount]);
    assert!(update(&mut s, Msg::Tick(at(3000))).is_empty());
}

#[test]
fn the_open_detail_refreshes_as_attempts_arrive() {
    let mut s = loaded(120, 40);
    let fact = crate::model::Lifecycle::DeliveryAttempted {
        at: at(5000),
        event_id: id(9),
        delivery_id: id(90),
        target: "billing".into(),
        attempt: 2,
        status: Some(500),
        error: None,
        duration_ms: 12,
        next_attempt_at: None,
    };
    let effects = update(&mut s, Msg::Log(vec![fact], at(5000)));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::ReadDetail { id: x, .. } if *x == id(9))),
        "{effects:?}"
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::ReadHealth { .. }))
    );
}

#[test]
fn scrolling_past_the_top_of_a_slid_window_reads_newer_rows() {
    let mut s = loaded(120, 40);
    s.list.has_newer = true;
    update(&mut s, key('j'));
    update(&mut s, key('k'));
    let effects = update(&mut s, key('k'));
    let Some(Effect::ReadWindow {
        generation,
        from,
        direction: Direction::Newer,
        ..
    }) = effects.first().cloned()
    else {
        panic!("{effects:?}")
    };
    assert_eq!(from, Some(id(9)));
    update(
        &mut s,
        Msg::Window {
            generation,
            place: Place::Prepend,
            direction: Direction::Newer,
            scan: Scan {
                rows: vec![
                    row(10, "/a", "a", Verdict::Verified, &[]),
                    row(11, "/b", "b", Verdict::Verified, &[]),
                ],
                ..Scan::default()
            },
        },
    );
    let ids: Vec<_> = s.list.rows.iter().map(|r| r.summary.id).collect();
    assert_eq!(&ids[..3], &[id(11), id(10), id(9)]);
    assert_eq!(s.list.selected, 1, "the row just above the old top");
    assert!(!s.list.has_newer);
}

#[test]
fn a_body_splits_on_its_own_newlines_only() {
    // A JSON string's `\n` is two characters, not a line break.
    let lines = view::body_lines(b"{\"a\":\"x\\ny\"}\r\n\x1b[2Jnext");
    assert_eq!(lines, [r#"{"a":"x\ny"}\r"#, r"\x1b[2Jnext"]);
}
