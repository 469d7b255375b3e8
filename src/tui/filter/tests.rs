//! Parsing (each qualifier, quotes, errors with their columns) and matching over candidates
//! made by hand.

use super::*;
use crate::model::{DeliveriesState, DeliveryState, EventSummary, Header, Timestamp, Verdict};
use crate::store::{Outcome, WindowRow};

const NOW: i64 = 1_764_677_100_000; // 2025-12-02 12:05:00 UTC

fn now() -> Timestamp {
    Timestamp::from_unix_millis(NOW)
}

fn row(path: &str, ty: Option<&str>, verdict: Verdict, states: &[DeliveryState]) -> WindowRow {
    WindowRow {
        summary: EventSummary {
            // Received five minutes before `NOW`, its id made then.
            id: Ulid::from_parts((NOW - 300_000) as u64, 1),
            received_at: Timestamp::from_unix_millis(NOW - 300_000),
            route: "stripe".into(),
            method: "POST".into(),
            path: path.into(),
            event_type: ty.map(str::to_owned),
            verdict,
            deliveries_state: DeliveriesState::of(states.iter().copied()),
        },
        dedupe_key: Some("evt_42".into()),
        body_len: 0,
        delivery_states: states.to_vec(),
        attempts: 3,
        lineage: Some('R'),
        targets: vec!["billing".into()],
        scheme: Some("stripe".into()),
    }
}

fn stripe_row() -> WindowRow {
    row(
        "/stripe/events",
        Some("invoice.paid"),
        Verdict::Mismatch,
        &[DeliveryState::Dead],
    )
}

fn outcomes() -> Vec<Outcome> {
    vec![
        Outcome {
            status: Some(503),
            error: None,
        },
        Outcome {
            status: None,
            error: Some("timeout".into()),
        },
        Outcome {
            status: Some(200),
            error: None,
        },
    ]
}

fn headers() -> Vec<Header> {
    vec![
        Header::new("content-type", "application/json"),
        Header::new("stripe-signature", "t=1,v1=ABCdef"),
        Header::new("x-raw", b"\xff\xfebinary".to_vec()),
    ]
}

const BODY: &[u8] = br#"{"id":"evt_1","note":"hello world","amount":1200}"#;

/// Whether `query` keeps the stripe row with its secret, headers, attempts and body.
fn keeps(query: &str) -> bool {
    let (row, headers, outcomes) = (stripe_row(), headers(), outcomes());
    let c = Candidate::new(&row, Some("2026-11"), &headers, &outcomes, BODY);
    Filter::parse(query, now())
        .unwrap_or_else(|e| panic!("{query}: {e:?}"))
        .matches(&c)
}

fn error(query: &str) -> FilterError {
    Filter::parse(query, now()).unwrap_err()
}

#[test]
fn terms_combine() {
    assert!(keeps(""));
    assert!(keeps("STRIPE"));
    assert!(keeps("evt_42"));
    assert!(keeps("verdict:mismatch type:invoice.*"));
    assert!(keeps("verdict:verified|mismatch"));
    assert!(!keeps("-verdict:mismatch"));
    assert!(keeps("state:dead|failed method:post"));
    assert!(!keeps("state:pending"));
    assert!(keeps("route:str*"));
    assert!(!keeps("type:charge.*"));
    assert!(!keeps("github"));
    assert!(keeps("target:bill* scheme:stripe"));
    assert!(!keeps("target:audit"));
    assert!(keeps("attempts:>=3 attempts:3 -attempts:<3"));
    assert!(!keeps("attempts:>3"));
    assert!(keeps("is:replay") && !keeps("is:duplicate|resend"));
}

#[test]
fn secret_is_the_matched_label_as_a_glob() {
    assert!(keeps("secret:2026-11"));
    assert!(keeps("secret:2026-*"));
    assert!(keeps("secret:old|2026-11"));
    assert!(!keeps("secret:2025-*"));
    assert!(!keeps("-secret:2026-11"));
    // No secret matched: nothing to glob.
    let (row, none) = (stripe_row(), Vec::new());
    let c = Candidate::new(&row, None, &[], &none, b"");
    assert!(!Filter::parse("secret:*", now()).unwrap().matches(&c));
    assert!(Filter::parse("-secret:*", now()).unwrap().matches(&c));
}

#[test]
fn status_is_any_attempts_status() {
    assert!(keeps("status:503"));
    assert!(keeps("status:5xx") && keeps("status:5XX"));
    assert!(keeps("status:2xx"));
    assert!(!keeps("status:4xx"));
    assert!(keeps("status:>=500") && keeps("status:<300"));
    assert!(!keeps("status:>503"));
    assert!(keeps("status:404|503"));
    assert!(!keeps("-status:5xx"));
    assert!(keeps("-status:4xx"));
}

#[test]
fn error_is_any_attempts_error_kind_as_a_glob() {
    assert!(keeps("error:timeout"));
    assert!(keeps("error:time*"));
    assert!(keeps("error:connect_refused|timeout"));
    assert!(!keeps("error:connect_refused"));
    assert!(keeps("-error:dns"));
}

#[test]
fn since_is_a_cutoff_fixed_at_parse_or_an_id() {
    // Received five minutes ago.
    assert!(keeps("since:10m") && keeps("since:1h") && keeps("since:1d") && keeps("since:1w"));
    assert!(!keeps("since:2m") && !keeps("since:30s"));
    assert!(keeps("since:301s") && !keeps("since:299s"));
    assert!(keeps("-since:2m"));
    assert!(keeps("since:2m|10m"));
    let id = stripe_row().summary.id;
    let older = Ulid(id.0 - 1).to_string();
    assert!(keeps(&format!("since:{older}")));
    assert!(keeps(&format!("since:{}", older.to_lowercase())));
    assert!(!keeps(&format!("since:{id}")), "strictly newer");
    assert!(keeps("since:2025-12-02T12:00:00Z"));
    assert!(!keeps("since:2025-12-02T12:01:00Z"));
    // The same text at another time is another filter.
    let later = Timestamp::from_unix_millis(NOW + 600_000);
    assert_ne!(
        Filter::parse("since:10m", now()),
        Filter::parse("since:10m", later)
    );
}

#[test]
fn since_bounds_the_scan_below() {
    let scope = |q: &str| Filter::parse(q, now()).unwrap().scope();
    assert_eq!(scope("route:x").after, None);
    assert_eq!(scope("-since:10m").after, None, "a negation bounds nothing");
    let id = Ulid::from_parts(NOW as u64 - 1000, 7);
    assert_eq!(scope(&format!("since:{id}")).after, Some(id));
    // A duration leaves an hour of slack below its cutoff.
    let floor = scope("since:10m").after.unwrap();
    assert_eq!(
        floor.timestamp_ms() as i64,
        NOW - 600_000 - SINCE_SLACK_MS - 1
    );
    // Alternatives take the lowest bound, terms the highest.
    let two = scope(&format!("since:10m|{id}")).after.unwrap();
    assert_eq!(two, floor);
    assert_eq!(scope(&format!("since:10m since:{id}")).after, Some(id));
}

#[test]
fn header_is_present_or_holds_a_value() {
    assert!(keeps("header:stripe-signature"));
    assert!(keeps("header:Stripe-Signature"));
    assert!(keeps("header:stripe-*"));
    assert!(!keeps("header:x-github-event"));
    assert!(keeps("header:stripe-signature=v1=abc"));
    assert!(keeps("header:STRIPE-SIGNATURE=ABCDEF"));
    assert!(!keeps("header:stripe-signature=zzz"));
    assert!(keeps("header:content-type=\"application/json\""));
    assert!(keeps("header:x-raw=binary"), "a value that is not UTF-8");
    assert!(keeps("-header:x-github-event"));
    assert!(keeps("header:x-github-event|stripe-signature"));
}

#[test]
fn body_is_an_exact_substring() {
    assert!(keeps("body:evt_1"));
    assert!(keeps("body:\"hello world\""));
    assert!(!keeps("body:\"Hello World\""), "bytes as they came");
    assert!(keeps("body:\"\\\"amount\\\":1200\""), "escaped quotes");
    assert!(keeps("body:nothing|\"hello world\""));
    assert!(!keeps("-body:hello"));
    assert!(!keeps("body:\"hello  world\""));
}

#[test]
fn quotes_work_for_every_term() {
    assert!(keeps("\"invoice.paid\""));
    assert!(keeps("type:\"invoice.*\" route:\"stripe\""));
    let f = Filter::parse("body:\"a b\" route:x", now()).unwrap();
    assert_eq!(f.terms.len(), 2);
    // A quoted colon is no qualifier.
    assert!(Filter::parse("\"colour:red\"", now()).is_ok());
    // A quoted | is no alternative.
    assert!(!keeps("body:\"evt_1|nothing\""));
}

#[test]
fn scope_asks_only_for_what_the_filter_reads() {
    let scope = |q: &str| Filter::parse(q, now()).unwrap().scope();
    assert_eq!(
        scope("verdict:mismatch header:x secret:a"),
        Scope::default()
    );
    assert!(scope("status:5xx").attempts && !scope("status:5xx").body);
    assert!(scope("-error:timeout").attempts);
    assert!(scope("body:x").body && !scope("body:x").attempts);
    assert!(!Filter::parse("header:x", now()).unwrap().reads_more());
    assert!(Filter::parse("body:x", now()).unwrap().reads_more());
}

#[test]
fn body_terms_are_checked_last() {
    let f = Filter::parse("body:x route:a status:5xx", now()).unwrap();
    let fields: Vec<_> = f.terms.iter().map(|t| t.field).collect();
    assert_eq!(fields, [Field::Route, Field::Status, Field::Body]);
    assert_eq!(f.text, "body:x route:a status:5xx");
}

#[test]
fn errors_point_at_the_column() {
    let e = error("stripe verdict:nope");
    assert_eq!(e.column, 15);
    let e = error("a colour:red");
    assert_eq!(e.column, 2);
    assert!(e.message.contains("unknown qualifier"));
    for q in QUALIFIERS {
        assert!(e.message.contains(q), "{q} listed");
    }
    let e = error("-colour:red");
    assert_eq!(e.column, 1);
    assert_eq!(error("state:dead|").column, 11);
    assert_eq!(error("a - b").column, 2);
    let e = error("attempts:>=x");
    assert_eq!(e.column, 9);
    assert!(e.message.contains("not a count"));
    assert!(Filter::parse("is:forwarded", now()).is_err());
    let e = error("x status:6x");
    assert_eq!(e.column, 9);
    assert!(e.message.contains("not a status"));
    assert!(Filter::parse("status:1000", now()).is_err());
    let e = error("since:10 since:10y");
    assert_eq!(e.column, 6);
    assert!(e.message.contains("not a time"));
    assert_eq!(error("since:10m|soon").column, 10);
    assert!(Filter::parse("since:99999999999999999d", now()).is_err());
    let e = error("header:");
    assert_eq!(e.column, 7);
    let e = error("header:=x");
    assert!(e.message.contains("name"));
    // Where the value would be.
    let e = error("header:x-sig=");
    assert_eq!(e.column, 13);
    // An unterminated quote points at the quote.
    let e = error("route:a body:\"hello world");
    assert_eq!(e.column, 13);
    assert!(e.message.contains("unterminated quote"));
    let e = error("body:\"\"");
    assert_eq!(e.column, 5);
    // Columns count characters, not bytes.
    assert_eq!(error("é verdict:nope").column, 10);
}

#[test]
fn untrusted_text_in_messages_is_escaped() {
    let e = error("status:\u{1b}[2J");
    assert!(!e.message.contains('\u{1b}'), "{:?}", e.message);
    let e = error("verdict:\u{202e}x");
    assert!(!e.message.contains('\u{202e}'));
}
