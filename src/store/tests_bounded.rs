//! A history that stays bounded and readable, over a real redb file: retention never takes an
//! event that is still being delivered, the lifecycle log shrinks with the events, damaged records
//! are passed over instead of stopping everything, and a forged request claims no dedupe key.

use super::tables::EVENTS;
use super::*;
use crate::model::{Attempt, Header, Lifecycle, Verdict, Verification, now};
use bytes::Bytes;
use redb::ReadableTable;

fn capture(targets: &[&str], dedupe: Option<&str>, claims: bool) -> Capture {
    Capture {
        received_at: now(),
        route: "r".into(),
        method: "POST".into(),
        path: "/r".into(),
        query: String::new(),
        headers: vec![Header::new("content-type", "application/json")],
        body: Bytes::from_static(b"{}"),
        body_sha256: String::new(),
        remote_addr: "127.0.0.1:1".into(),
        event_type: None,
        dedupe_key: dedupe.map(str::to_owned),
        claims_dedupe_key: claims,
        resend_of: None,
        verification: Verification::bare(None, Verdict::Unsigned),
        secret_headers: Vec::new(),
        targets: targets
            .iter()
            .map(|name| CaptureTarget {
                name: (*name).into(),
                wire_id: None,
                claimed: false,
            })
            .collect(),
        drop_duplicate: false,
        proxy: false,
    }
}

fn open(path: &std::path::Path, max_events: u64) -> (Store, Writer) {
    let mut options = StoreOptions::new(path);
    options.max_events = max_events;
    Store::open(options).unwrap()
}

fn ok_attempt(n: u32) -> Attempt {
    Attempt {
        n,
        started_at: now(),
        duration_ms: 1,
        status: Some(200),
        error: None,
        response_headers: Vec::new(),
        response_body_base64: None,
        response_size: Some(0),
        note: None,
    }
}

/// Makes every delivery of `captured` succeed in one attempt.
async fn deliver(writer: &Writer, captured: &Captured) {
    let ids = captured.deliveries.iter().map(|d| d.id).collect();
    let begun = writer.begin_attempts(ids, now()).await.unwrap();
    for d in begun {
        writer
            .finish_attempt(d.id, ok_attempt(1), Decision::Succeeded)
            .await
            .unwrap();
    }
}

fn kept(store: &Store, captured: &[Captured]) -> Vec<bool> {
    captured
        .iter()
        .map(|c| store.get_event(c.id).unwrap().is_some())
        .collect()
}

#[tokio::test]
async fn an_event_whose_delivery_has_not_ended_is_never_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir.path().join("h.redb"), 3);
    let mut events = Vec::new();
    for _ in 0..5 {
        events.push(
            writer
                .capture(capture(&["down"], None, true))
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        store.event_count().unwrap(),
        5,
        "all five wait for their target"
    );
    deliver(&writer, &events[0]).await;
    deliver(&writer, &events[3]).await;
    events.push(writer.capture(capture(&[], None, true)).await.unwrap());
    // Past the limit by three; the two delivered ones go, the three still queued stay (and
    // the new one too: no commit removes the event it acknowledges).
    assert_eq!(
        kept(&store, &events),
        [false, true, true, false, true, true]
    );
    // More events come while the three wait: the history keeps them past `max_events`.
    for _ in 0..3 {
        events.push(writer.capture(capture(&[], None, true)).await.unwrap());
    }
    let now_kept = kept(&store, &events);
    assert_eq!((now_kept[1], now_kept[2], now_kept[4]), (true, true, true));
    assert_eq!(store.event_count().unwrap(), 4, "three held, one new");
    for e in [&events[1], &events[2], &events[4]] {
        deliver(&writer, e).await;
    }
    events.push(writer.capture(capture(&[], None, true)).await.unwrap());
    assert_eq!(
        store.event_count().unwrap(),
        3,
        "once delivered, they may go"
    );
    assert!(*kept(&store, &events).last().unwrap());
}

fn log_len(store: &Store) -> usize {
    store.log_after(0, usize::MAX).unwrap().records.len()
}

#[tokio::test]
async fn the_lifecycle_log_is_bounded_with_the_events_rejections_included() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir.path().join("h.redb"), 5);
    // Ten records per event: received, and queued + attempted + succeeded for three targets.
    for _ in 0..30 {
        let c = writer
            .capture(capture(&["a", "b", "c"], None, true))
            .await
            .unwrap();
        deliver(&writer, &c).await;
    }
    assert_eq!(store.event_count().unwrap(), 5);
    let records = log_len(&store);
    assert!(
        records <= 5 * 10 + 10,
        "only the kept events' records: {records}"
    );
    let rejected = || Lifecycle::EventRejected {
        at: now(),
        route: "r".into(),
        method: "POST".into(),
        path: "/big".into(),
        status: 413,
        reason: "too large".into(),
        count: 1,
    };
    // Sent at once, so they share commits.
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let (writer, record) = (writer.clone(), rejected());
        sends.spawn(async move { writer.log(record).await });
    }
    while let Some(sent) = sends.join_next().await {
        sent.unwrap().unwrap();
    }
    let records = log_len(&store);
    assert!(
        records <= 5 * 16,
        "records of no event are capped too: {records}"
    );
    let newest: serde_json::Value =
        serde_json::from_slice(&store.log_after(store.log_head() - 1, 1).unwrap().records[0].json)
            .unwrap();
    assert_eq!(newest["type"], "event.rejected", "the newest records stay");
}

/// Closes the store: every writer handle dropped and its thread ended, so the file is free.
async fn close(store: Store, writer: Writer) {
    drop(writer);
    store.writer_stopped().await;
}

#[tokio::test]
async fn damaged_records_are_passed_over_by_reads_and_pruned_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.redb");
    let (store, writer) = open(&path, 3);
    let mut events = Vec::new();
    for key in ["k0", "k1", "k2"] {
        events.push(writer.capture(capture(&[], Some(key), true)).await.unwrap());
    }
    close(store, writer).await;
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(EVENTS).unwrap();
            for e in &events[..2] {
                // The sequence survives; everything after it is garbage.
                let mut value = table.get(e.id.0).unwrap().unwrap().value().to_vec();
                value[8..].fill(0xee);
                table.insert(e.id.0, value.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
    }
    let (store, writer) = open(&path, 3);
    let page = store.list_events(None, 10).unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!((page.items[0].id, page.damaged), (events[2].id, 2));
    // The log's first two records stand for the damaged events: passed over, with progress.
    let batch = store.log_after(0, 2).unwrap();
    assert_eq!((batch.records.len(), batch.next, batch.damaged), (0, 2, 2));
    // The history is full: every capture now prunes a damaged record, and none fails.
    for _ in 0..2 {
        events.push(writer.capture(capture(&[], None, true)).await.unwrap());
    }
    assert_eq!(kept(&store, &events), [false, false, true, true, true]);
    assert_eq!(store.list_events(None, 10).unwrap().damaged, 0);
    // The damaged event's dedupe claim went with it (found by key, not in its record).
    let fresh = writer
        .capture(capture(&[], Some("k1"), true))
        .await
        .unwrap();
    assert_eq!(fresh.duplicate_of, None);
    assert_eq!(store.event_count().unwrap(), 3);
}

#[tokio::test]
async fn an_event_that_may_be_forged_never_claims_its_dedupe_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, writer) = open(&dir.path().join("h.redb"), 100);
    let forged = writer
        .capture(capture(&[], Some("evt_1"), false))
        .await
        .unwrap();
    let genuine = writer
        .capture(capture(&[], Some("evt_1"), true))
        .await
        .unwrap();
    let forged_again = writer
        .capture(capture(&[], Some("evt_1"), false))
        .await
        .unwrap();
    let retry = writer
        .capture(capture(&[], Some("evt_1"), true))
        .await
        .unwrap();
    assert_eq!(forged.duplicate_of, None);
    assert_eq!(genuine.duplicate_of, None, "the forged one claimed nothing");
    assert_eq!(
        forged_again.duplicate_of,
        Some(genuine.id),
        "it still looks"
    );
    assert_eq!(retry.duplicate_of, Some(genuine.id));
}

#[tokio::test]
async fn after_an_io_error_reads_come_back_without_waiting_for_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let full = DiskFull::default();
    let mut options = StoreOptions::new(dir.path().join("h.redb"));
    options.disk_full = Some(full.clone());
    let (store, writer) = Store::open(options).unwrap();
    writer.capture(capture(&[], None, true)).await.unwrap();
    full.set_unreadable(true);
    assert!(writer.capture(capture(&[], None, true)).await.is_err());
    // The writer drops the broken handle (just after answering) and cannot open a new one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.event_count().is_ok() {
        assert!(std::time::Instant::now() < deadline, "still readable");
        tokio::task::yield_now().await;
    }
    full.set_unreadable(false);
    // No write comes: the reopen is retried on a timer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.event_count().is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "reads never came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(store.event_count().unwrap(), 1);
}
