//! Golden bytes of every stored format: records written by each schema, committed under
//! `fixtures/`, must keep reading as the same values, and today's encoder must keep writing the
//! same bytes. A change to a stored type that would silently change the format fails here.
//!
//! A new format gets new fixtures (never rewritten ones): `HOOKLENS_WRITE_FIXTURES=1 cargo test
//! --lib tests_format` writes the files that are missing.

use super::record;
use crate::model::{
    Attempt, DeliveryRecord, DeliveryState, Diagnosis, EventMeta, Header, SendMode, Timestamp,
    Verdict, Verification,
};
use std::path::PathBuf;
use ulid::Ulid;

pub(super) fn event() -> EventMeta {
    EventMeta {
        id: Ulid::from_parts(1_700_000_000_000, 1),
        received_at: Timestamp::from_unix_millis(1_700_000_000_123),
        route: "stripe".into(),
        method: "POST".into(),
        path: "/stripe/hooks".into(),
        query: "a=1&b".into(),
        headers: vec![
            Header::new("content-type", "application/json"),
            Header::new("x-raw", vec![0xff, 0x00, 0x1b]),
            Header::new("x-raw", "second"),
        ],
        body_sha256: "ab".repeat(32),
        body_len: 4,
        remote_addr: "127.0.0.1:9".into(),
        event_type: Some("invoice.paid".into()),
        dedupe_key: Some("evt_1".into()),
        duplicate_of: Some(Ulid::from_parts(1_699_999_999_000, 2)),
        resend_of: None,
        verification: Verification {
            scheme: Some("stripe".into()),
            verdict: Verdict::Stale,
            secret: Some("#1".into()),
            timestamp: Some("1700000000000".into()),
            skew_secs: Some(-3),
            received: Some("v1=00".into()),
            expected: Some("v1=11".into()),
            signed_content: Some("1700000000000.{body}".into()),
            diagnosis: Some(Diagnosis {
                code: "timestamp_millis".into(),
                message: "m".into(),
            }),
        },
        secret_headers: vec!["x-webhook-secret".into()],
        imported: false,
    }
}

/// Every verdict once, so a reordered enum cannot pass.
fn verdicts() -> Vec<Verdict> {
    vec![
        Verdict::Verified,
        Verdict::Mismatch,
        Verdict::Missing,
        Verdict::Malformed,
        Verdict::Stale,
        Verdict::NoSecret,
        Verdict::Unsigned,
    ]
}

fn delivery(state: DeliveryState, mode: SendMode) -> DeliveryRecord {
    DeliveryRecord {
        id: Ulid::from_parts(1_700_000_000_000, 3),
        event_id: Ulid::from_parts(1_700_000_000_000, 1),
        target: "app".into(),
        url: Some("http://127.0.0.1:3000/x?y".into()),
        state,
        replay_of: Some(Ulid::from_parts(1_700_000_000_000, 4)),
        next_attempt_at: Some(Timestamp::from_unix_millis(1_700_000_001_000)),
        wire_id: "evt_1".into(),
        mode,
        duplicate: true,
        proxy: false,
        attempt_count: 3,
    }
}

/// Every state and mode once.
fn deliveries() -> Vec<DeliveryRecord> {
    use DeliveryState::*;
    let modes = [SendMode::Target, SendMode::Replay, SendMode::AsReceived];
    [Queued, InFlight, Succeeded, RetryScheduled, Failed, Dead]
        .into_iter()
        .enumerate()
        .map(|(i, state)| delivery(state, modes[i % modes.len()]))
        .collect()
}

fn attempt() -> Attempt {
    Attempt {
        n: 2,
        started_at: Timestamp::from_unix_millis(1_700_000_000_500),
        duration_ms: 41,
        status: Some(503),
        error: None,
        response_headers: vec![Header::new("retry-after", "5")],
        response_body_base64: Some("b2s=".into()),
        response_size: Some(2),
        note: Some("re-signed with a fresh timestamp".into()),
    }
}

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/store/fixtures")
        .join(name)
}

/// The committed bytes of a fixture; with `HOOKLENS_WRITE_FIXTURES=1`, a missing one is written
/// from `made` first.
fn golden(name: &str, made: &[u8]) -> Vec<u8> {
    let path = path(name);
    if !path.exists() && std::env::var_os("HOOKLENS_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, made).unwrap();
    }
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// Events with each verdict, one after the other: `u32 LE length | record`.
fn framed(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(&u32::try_from(r.len()).unwrap().to_le_bytes());
        out.extend_from_slice(r);
    }
    out
}

fn unframe(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        out.push(&bytes[4..4 + len]);
        bytes = &bytes[4 + len..];
    }
    out
}

fn with_verdict(v: Verdict) -> EventMeta {
    let mut e = event();
    e.verification.verdict = v;
    e
}

#[test]
fn compact_event_records_of_schema_3_read_and_write_the_same_bytes() {
    let body = b"{}\n\x00";
    let inline: Vec<Vec<u8>> = verdicts()
        .into_iter()
        .map(|v| record::encode(7, &with_verdict(v), body).unwrap().0)
        .collect();
    let fixture = golden("event-compact-inline.bin", &framed(&inline));
    assert_eq!(fixture, framed(&inline), "the inline event format changed");
    for (bytes, v) in unframe(&fixture).into_iter().zip(verdicts()) {
        let back = record::decode(event().id, bytes).unwrap();
        assert_eq!((back.meta, back.body), (with_verdict(v), Some(&body[..])));
        assert_eq!(record::seq(bytes), 7);
    }
    let large = vec![b'x'; record::INLINE_BODY_MAX + 1];
    let (outside, inline) = record::encode(8, &event(), &large).unwrap();
    assert!(!inline);
    let fixture = golden("event-compact.bin", &outside);
    assert_eq!(fixture, outside, "the event format changed");
    let back = record::decode(event().id, &fixture).unwrap();
    assert_eq!((back.meta, back.body), (event(), None));
}

#[test]
fn imported_event_records_read_and_write_the_same_bytes() {
    let mut imported = event();
    imported.imported = true;
    let (inline, _) = record::encode(9, &imported, b"{}").unwrap();
    let (outside, _) =
        record::encode(9, &imported, &vec![b'y'; record::INLINE_BODY_MAX + 1]).unwrap();
    let fixture = golden(
        "event-imported.bin",
        &framed(&[inline.clone(), outside.clone()]),
    );
    assert_eq!(
        fixture,
        framed(&[inline, outside]),
        "the imported event format changed"
    );
    let records = unframe(&fixture);
    let back = record::decode(imported.id, records[0]).unwrap();
    assert_eq!((back.meta, back.body), (imported.clone(), Some(&b"{}"[..])));
    let back = record::decode(imported.id, records[1]).unwrap();
    assert_eq!((back.meta, back.body), (imported, None));
}

#[test]
fn compact_delivery_records_read_and_write_the_same_bytes() {
    let made: Vec<Vec<u8>> = deliveries()
        .iter()
        .map(|d| record::encode_delivery(d).unwrap())
        .collect();
    let fixture = golden("delivery-compact.bin", &framed(&made));
    assert_eq!(fixture, framed(&made), "the delivery format changed");
    for (bytes, d) in unframe(&fixture).into_iter().zip(deliveries()) {
        assert_eq!(record::decode_delivery(d.id, bytes).unwrap(), d);
    }
}

#[test]
fn schema_2_json_records_still_read() {
    // As schema 2 wrote them: `seq` then the event as JSON; deliveries as JSON.
    let mut made = 5u64.to_le_bytes().to_vec();
    serde_json::to_writer(&mut made, &event()).unwrap();
    let fixture = golden("event-schema2.bin", &made);
    let back = record::decode(event().id, &fixture).unwrap();
    assert_eq!(
        (back.meta, back.body, record::seq(&fixture)),
        (event(), None, 5)
    );
    let made: Vec<Vec<u8>> = deliveries()
        .iter()
        .map(|d| serde_json::to_vec(d).unwrap())
        .collect();
    let fixture = golden("delivery-schema2.bin", &framed(&made));
    for (bytes, d) in unframe(&fixture).into_iter().zip(deliveries()) {
        assert_eq!(record::decode_delivery(d.id, bytes).unwrap(), d);
    }
}

#[test]
fn attempt_records_read_and_write_the_same_json() {
    let mut bare = attempt();
    bare.note = None;
    bare.error = Some("connect_refused".into());
    bare.status = None;
    let made = framed(&[
        record::encode_attempt(&attempt()).unwrap(),
        record::encode_attempt(&bare).unwrap(),
    ]);
    let fixture = golden("attempt.bin", &made);
    assert_eq!(fixture, made, "the attempt format changed");
    let back: Vec<Attempt> = unframe(&fixture)
        .into_iter()
        .map(|b| record::decode_attempt(b).unwrap())
        .collect();
    assert_eq!(back, [attempt(), bare]);
}
