//! The history over a real redb file in a temp dir.

use super::*;
use crate::model::{
    DeliveriesState, DeliveryRecord, DeliveryState, EventMeta, Header, Lifecycle, SendMode,
    Verdict, Verification, now,
};
use bytes::Bytes;

pub(super) fn capture(route: &str, body: &'static [u8], dedupe: Option<&str>) -> Capture {
    Capture {
        received_at: now(),
        route: route.into(),
        method: "POST".into(),
        path: format!("/{route}"),
        query: String::new(),
        headers: vec![Header::new("content-type", "application/json")],
        body: Bytes::from_static(body),
        body_sha256: String::new(),
        remote_addr: "127.0.0.1:1".into(),
        event_type: None,
        dedupe_key: dedupe.map(str::to_owned),
        claims_dedupe_key: true,
        resend_of: None,
        verification: Verification::bare(None, Verdict::Unsigned),
        secret_headers: Vec::new(),
        targets: Vec::new(),
        drop_duplicate: false,
        proxy: false,
    }
}

fn open(dir: &tempfile::TempDir, max_events: u64) -> (Store, Writer) {
    let mut options = StoreOptions::new(dir.path().join("h.redb"));
    options.max_events = max_events;
    Store::open(options).unwrap()
}

#[tokio::test]
async fn events_come_back_exactly_newest_first_in_cursor_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir, 1000);
    let mut ids = Vec::new();
    for i in 0..7u8 {
        let body: &'static [u8] = Box::leak(vec![i, 0xff, 0].into_boxed_slice());
        ids.push(writer.capture(capture("r", body, None)).await.unwrap().id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow with arrival");
    let first = store.list_events(None, 3).unwrap();
    assert_eq!(
        first.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[6], ids[5], ids[4]]
    );
    let second = store.list_events(first.next_cursor, 3).unwrap();
    assert_eq!(
        second.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[3], ids[2], ids[1]]
    );
    let last = store.list_events(second.next_cursor, 3).unwrap();
    assert_eq!(
        last.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[0]]
    );
    assert_eq!(last.next_cursor, None);
    let (meta, body) = store.get_event(ids[2]).unwrap().unwrap();
    assert_eq!(body, [2, 0xff, 0]);
    assert_eq!(meta.body_len, 3);
}

#[tokio::test]
async fn every_capture_and_record_is_logged_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir, 1000);
    let a = writer.capture(capture("r", b"a", None)).await.unwrap();
    writer
        .log(Lifecycle::ConfigRejected {
            at: now(),
            path: "x.toml".into(),
            error: Some("bad".into()),
        })
        .await
        .unwrap();
    let log = store.log_after(0, 10).unwrap().records;
    assert_eq!(log.len(), 2);
    assert_eq!(store.log_head(), log[1].seq);
    let first: serde_json::Value = serde_json::from_slice(&log[0].json).unwrap();
    // Stored as a reference to the event, rendered in full when read.
    assert_eq!(first["type"], "event.received");
    assert_eq!(first["event_id"], a.id.to_string());
    assert_eq!(first["route"], "r");
    assert_eq!(first["method"], "POST");
    assert_eq!(first["verification"]["verdict"], "unsigned");
    assert_eq!(first["at"], a.event.received_at.to_string());
    let second: serde_json::Value = serde_json::from_slice(&log[1].json).unwrap();
    assert_eq!(second["type"], "config.rejected");
    assert!(store.log_after(log[1].seq, 10).unwrap().records.is_empty());
    // The same records as values, for the interface: nothing for it to parse.
    let facts = store.facts_after(0, 10).unwrap();
    let seqs: Vec<u64> = facts.records.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [log[0].seq, log[1].seq]);
    assert_eq!(facts.records[0].lifecycle, Lifecycle::received(&a.event));
    assert!(matches!(
        &facts.records[1].lifecycle,
        Lifecycle::ConfigRejected { error: Some(e), .. } if e == "bad"
    ));
    assert_eq!((facts.next, facts.damaged), (log[1].seq, 0));
}

#[tokio::test]
async fn a_seen_dedupe_key_marks_a_duplicate_on_the_same_route_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, writer) = open(&dir, 1000);
    let first = writer.capture(capture("r", b"1", Some("k"))).await.unwrap();
    let again = writer.capture(capture("r", b"2", Some("k"))).await.unwrap();
    let other_route = writer.capture(capture("s", b"3", Some("k"))).await.unwrap();
    let third = writer.capture(capture("r", b"4", Some("k"))).await.unwrap();
    assert_eq!(first.duplicate_of, None);
    assert_eq!(again.duplicate_of, Some(first.id));
    assert_eq!(
        third.duplicate_of,
        Some(again.id),
        "points at the previous carrier"
    );
    assert_eq!(other_route.duplicate_of, None);
}

#[tokio::test]
async fn retention_prunes_the_oldest_events_with_their_bodies_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir, 3);
    let mut ids = Vec::new();
    for i in 0..5 {
        let key = if i == 0 { "only-in-pruned" } else { "kept" };
        ids.push(
            writer
                .capture(capture("r", b"x", Some(key)))
                .await
                .unwrap()
                .id,
        );
    }
    assert_eq!(store.event_count().unwrap(), 3);
    assert!(store.get_event(ids[0]).unwrap().is_none());
    assert!(store.get_event(ids[1]).unwrap().is_none());
    assert!(store.get_event(ids[2]).unwrap().is_some());
    let log = store.log_after(0, 100).unwrap().records;
    let logged: Vec<String> = log
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.json).unwrap()["event_id"].to_string()
        })
        .collect();
    assert_eq!(
        logged.len(),
        3,
        "log records of pruned events are gone: {logged:?}"
    );
    // A key whose every carrier was pruned is new again; one still carried is not.
    let fresh = writer
        .capture(capture("r", b"x", Some("only-in-pruned")))
        .await
        .unwrap();
    assert_eq!(fresh.duplicate_of, None);
    let seen = writer
        .capture(capture("r", b"x", Some("kept")))
        .await
        .unwrap();
    assert_eq!(seen.duplicate_of, Some(ids[4]));
}

#[tokio::test]
async fn history_survives_reopening_and_ids_keep_growing() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let (_store, writer) = open(&dir, 1000);
        writer
            .capture(capture("r", b"before", None))
            .await
            .unwrap()
            .id
    };
    // The writer thread lets go of the file once its handle is dropped.
    let (store, writer) = loop {
        let mut options = StoreOptions::new(dir.path().join("h.redb"));
        options.max_events = 1000;
        match Store::open(options) {
            Ok(pair) => break pair,
            Err(StoreError::Locked(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    let second = writer
        .capture(capture("r", b"after", None))
        .await
        .unwrap()
        .id;
    assert!(second > first);
    assert_eq!(store.get_event(first).unwrap().unwrap().1, b"before");
}

#[tokio::test]
async fn a_full_disk_fails_the_commit_and_the_store_recovers_after() {
    let dir = tempfile::tempdir().unwrap();
    let full = DiskFull::default();
    let mut options = StoreOptions::new(dir.path().join("h.redb"));
    options.disk_full = Some(full.clone());
    let (store, writer) = Store::open(options).unwrap();
    let kept = writer
        .capture(capture("r", b"kept", None))
        .await
        .unwrap()
        .id;
    full.set(true);
    let refused = writer.capture(capture("r", b"lost", None)).await;
    assert!(
        matches!(refused, Err(StoreError::CommitFailed(_))),
        "{refused:?}"
    );
    full.set(false);
    // The writer reopened the file; the next capture works and nothing acknowledged is lost.
    let mut after = writer.capture(capture("r", b"after", None)).await;
    for _ in 0..50 {
        if after.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        after = writer.capture(capture("r", b"after", None)).await;
    }
    let after = after.unwrap().id;
    assert_eq!(store.get_event(kept).unwrap().unwrap().1, b"kept");
    assert_eq!(store.get_event(after).unwrap().unwrap().1, b"after");
    let bodies: Vec<Vec<u8>> = store
        .list_events(None, 10)
        .unwrap()
        .items
        .iter()
        .map(|e| store.get_event(e.id).unwrap().unwrap().1)
        .collect();
    assert!(
        !bodies.contains(&b"lost".to_vec()),
        "a refused event must not appear"
    );
}

#[tokio::test]
async fn a_large_body_is_kept_apart_and_pruned_with_its_event() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir, 1);
    let large: &'static [u8] =
        Box::leak(vec![0xa5; record::INLINE_BODY_MAX * 4].into_boxed_slice());
    let big = writer.capture(capture("r", large, None)).await.unwrap().id;
    assert_eq!(store.get_event(big).unwrap().unwrap().1, large);
    let small = writer.capture(capture("r", b"s", None)).await.unwrap().id;
    assert!(store.get_event(big).unwrap().is_none());
    assert_eq!(store.get_event(small).unwrap().unwrap().1, b"s");
    let txn = store.begin_read().unwrap();
    let bodies = txn.open_table(tables::BODIES).unwrap();
    assert_eq!(
        redb::ReadableTableMetadata::len(&bodies).unwrap(),
        0,
        "the large body went with its event"
    );
}

/// A file written by the schema-2 code: JSON event records, every body in `bodies`.
#[tokio::test]
async fn a_schema_2_history_reads_as_it_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.redb");
    let old = EventMeta {
        id: ulid::Ulid::from_parts(1_700_000_000_000, 7),
        received_at: now(),
        route: "r".into(),
        method: "POST".into(),
        path: "/r".into(),
        query: String::new(),
        headers: vec![Header::new("x-a", "1")],
        body_sha256: "00".repeat(32),
        body_len: 3,
        remote_addr: "127.0.0.1:1".into(),
        event_type: None,
        dedupe_key: Some("k".into()),
        duplicate_of: None,
        resend_of: None,
        verification: Verification::bare(None, Verdict::Unsigned),
        secret_headers: Vec::new(),
        imported: false,
    };
    let old_delivery = DeliveryRecord {
        id: ulid::Ulid::from_parts(1_700_000_000_000, 8),
        event_id: old.id,
        target: "app".into(),
        url: None,
        state: DeliveryState::Succeeded,
        replay_of: None,
        next_attempt_at: None,
        wire_id: "w".into(),
        mode: SendMode::Target,
        duplicate: false,
        proxy: false,
        attempt_count: 0,
    };
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(tables::META).unwrap();
            meta.insert(tables::KEY_SCHEMA, 2).unwrap();
            meta.insert("log_seq", 1).unwrap();
            meta.insert("events", 1).unwrap();
            let mut value = 1u64.to_le_bytes().to_vec();
            serde_json::to_writer(&mut value, &old).unwrap();
            txn.open_table(tables::EVENTS)
                .unwrap()
                .insert(old.id.0, value.as_slice())
                .unwrap();
            txn.open_table(tables::BODIES)
                .unwrap()
                .insert(old.id.0, &b"old"[..])
                .unwrap();
            let reference = tables::received_ref(old.id);
            txn.open_table(tables::LOG)
                .unwrap()
                .insert(1, reference.as_slice())
                .unwrap();
            let json = serde_json::to_vec(&old_delivery).unwrap();
            txn.open_table(tables::DELIVERIES)
                .unwrap()
                .insert(old_delivery.id.0, json.as_slice())
                .unwrap();
            txn.open_table(tables::BY_EVENT)
                .unwrap()
                .insert((old.id.0, old_delivery.id.0), ())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let schema = |store: &Store| {
        let txn = store.begin_read().unwrap();
        let meta = txn.open_table(tables::META).unwrap();
        meta.get(tables::KEY_SCHEMA).unwrap().unwrap().value()
    };
    let file = || std::fs::read(&path).unwrap();
    let before = file();
    {
        // The file lacks tables of this schema: it is opened for writing (to make them), but
        // its schema stays as it was until something is written.
        let store = Store::open_read_only(StoreOptions::new(&path)).unwrap();
        assert!(!store.is_read_only());
        assert_eq!(store.list_events(None, 10).unwrap().items.len(), 1);
        assert_eq!(schema(&store), 2);
    }
    {
        let store = Store::open_read_only(StoreOptions::new(&path)).unwrap();
        assert!(store.is_read_only(), "every table is there now");
        assert_eq!(
            store.get_event(old.id).unwrap().unwrap(),
            (old.clone(), b"old".to_vec())
        );
        assert_eq!(schema(&store), 2, "a read never upgrades the schema");
    }
    assert_ne!(file(), before, "the missing tables were made");
    let made = file();
    drop(Store::open_read_only(StoreOptions::new(&path)).unwrap());
    assert_eq!(file(), made, "a read-only open leaves the file as it was");
    let (store, writer) = open(&dir, 1000);
    assert_eq!(schema(&store), 2, "opening for writes is not a write");
    assert_eq!(
        store.get_event(old.id).unwrap().unwrap(),
        (old.clone(), b"old".to_vec())
    );
    let new = writer.capture(capture("r", b"new", None)).await.unwrap();
    let listed: Vec<_> = store
        .list_events(None, 10)
        .unwrap()
        .items
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, [new.id, old.id]);
    let page = store.list_events(None, 10).unwrap();
    assert_eq!(page.items[1].deliveries_state, DeliveriesState::Succeeded);
    let deliveries = store.event_deliveries(old.id).unwrap();
    assert_eq!((deliveries.len(), deliveries[0].id), (1, old_delivery.id));
    let log = store.log_after(0, 10).unwrap().records;
    let first: serde_json::Value = serde_json::from_slice(&log[0].json).unwrap();
    assert_eq!(first["event_id"], old.id.to_string());
    assert_eq!(store.get_event(new.id).unwrap().unwrap().1, b"new");
    assert_eq!(
        schema(&store),
        tables::SCHEMA_VERSION,
        "the first write marks the file"
    );
}

#[tokio::test]
async fn only_a_commit_that_fills_the_outbox_wakes_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir, 1000);
    let outbox = store.subscribe_outbox();
    writer
        .capture(capture("r", b"nowhere", None))
        .await
        .unwrap();
    assert!(
        !outbox.has_changed().unwrap(),
        "an event without targets queues nothing"
    );
    let mut claimed = capture("r", b"fast path", None);
    claimed.targets = vec![CaptureTarget {
        name: "app".into(),
        wire_id: None,
        claimed: true,
    }];
    writer.capture(claimed.clone()).await.unwrap();
    assert!(
        !outbox.has_changed().unwrap(),
        "a claimed delivery is in flight, not in the outbox"
    );
    claimed.targets[0].claimed = false;
    writer.capture(claimed).await.unwrap();
    assert!(
        outbox.has_changed().unwrap(),
        "a queued delivery wakes the relay"
    );
}
