//! Deliveries that never stall and a receiver that cannot be locked up: senders that hang up,
//! idle senders declaring huge bodies, unterminated chunked bodies — over a real receiver, a real
//! redb file and a real consumer.

mod common;

use common::Harness;
use common::consumer::{Consumer, Reply};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn relay_config(url: &str, respond: &str, receiver: &str) -> String {
    format!(
        r#"
[receiver]
{receiver}

[[routes]]
name = "hooks"
path = "/hooks"
targets = ["app"]
respond = "{respond}"

[[targets]]
name = "app"
url = "{url}"
timeout_ms = 2000
"#
    )
}

/// Sends a whole request and closes the connection at once, without reading the answer.
async fn send_and_hang_up(h: &Harness, path: &str, body: &str) {
    let mut stream = TcpStream::connect(h.receiver()).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    drop(stream);
}

/// Waits until the consumer got as many requests as there are events stored; returns how many.
async fn wait_until_stored_events_are_delivered(h: &Harness, consumer: &Consumer) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stored = h.instance.store().event_count().unwrap() as usize;
        let delivered = consumer.received().len();
        if (stored > 0 && delivered == stored) || Instant::now() > deadline {
            assert_eq!(delivered, stored, "every stored event is delivered");
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the receiver holds no body bytes (or a few seconds pass) and returns the count.
async fn budget_settles(h: &Harness) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.instance.inflight_body_bytes() != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.instance.inflight_body_bytes()
}

#[tokio::test]
async fn a_sender_that_hangs_up_still_gets_its_event_stored_and_delivered() {
    let consumer = Consumer::start(vec![]).await;
    // A budget of 64 bytes: a few leaked reservations would refuse every later sender.
    let h = Harness::start(&relay_config(
        &consumer.url("/in"),
        "ack",
        "max_body_bytes = 64\ninflight_body_bytes = 64",
    ))
    .await;
    for i in 0..20 {
        send_and_hang_up(&h, "/hooks/x", &format!("{{\"n\":{i}}}")).await;
    }
    assert_eq!(budget_settles(&h).await, 0, "the body budget is given back");
    // Whether hyper hands over a request whose sender is already gone varies; every one it
    // handed over (and so was stored) must reach the consumer.
    let stored = wait_until_stored_events_are_delivered(&h, &consumer).await;
    assert!(
        stored > 0,
        "some requests were read in full before the hang-up was seen"
    );
    // Bounded by something that did happen: a later request is served, not refused as busy.
    let (status, answer) = h.post("/hooks/after", "x").await;
    assert_eq!(status, 200, "{answer}");
    h.stop().await;
}

#[tokio::test]
async fn a_proxied_sender_that_hangs_up_still_gets_its_attempt_recorded() {
    let consumer =
        Consumer::start(vec![Reply::status(201).delay(Duration::from_millis(100))]).await;
    let h = Harness::start(&relay_config(
        &consumer.url("/in"),
        "proxy",
        "max_body_bytes = 64\ninflight_body_bytes = 64",
    ))
    .await;
    send_and_hang_up(&h, "/hooks/x", "proxied").await;
    consumer.wait_for(1, Duration::from_secs(5)).await;
    let done = h.wait_for("event.delivery.succeeded").await;
    assert_eq!(done["attempts"], 1);
    assert_eq!(budget_settles(&h).await, 0);
    let (status, answer) = h.post("/hooks/after", "x").await;
    assert_eq!(status, 200, "a budget of one body is free again: {answer}");
    h.stop().await;
}

#[tokio::test]
async fn idle_senders_declaring_huge_bodies_lock_nobody_out() {
    // Seven senders declare 10 MiB each against a 64 MiB budget and send nothing more.
    let h = Harness::start("[receiver]\nmax_body_bytes = 20000000\n").await;
    let mut idle = Vec::new();
    for _ in 0..7 {
        let mut s = TcpStream::connect(h.receiver()).await.unwrap();
        s.write_all(b"POST /idle HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\nx")
            .await
            .unwrap();
        idle.push(s);
    }
    let (status, answer) = h.post("/other", vec![b'y'; 5 << 20]).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        h.instance.inflight_body_bytes() < 64 * 1024,
        "only what arrived counts"
    );
    drop(idle);
    h.stop().await;
}

#[tokio::test]
async fn unterminated_chunked_bodies_are_counted_as_they_arrive() {
    // Budget 64 KiB; senders stream 16 KiB chunks and never finish.
    let h =
        Harness::start("[receiver]\nmax_body_bytes = 65536\ninflight_body_bytes = 65536\n").await;
    let chunk = {
        let mut c = format!("{:x}\r\n", 16384).into_bytes();
        c.extend(vec![b'z'; 16384]);
        c.extend(b"\r\n");
        c
    };
    let mut refused = 0;
    let mut open = Vec::new();
    for _ in 0..12 {
        let mut s = TcpStream::connect(h.receiver()).await.unwrap();
        s.write_all(b"POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        s.write_all(&chunk).await.unwrap();
        s.write_all(&chunk).await.unwrap();
        // Each sender is either holding its 32 KiB or has been refused; read what it got.
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
                assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
                refused += 1;
            }
            _ => open.push(s),
        }
        assert!(
            h.instance.inflight_body_bytes() <= 65536 + 16384,
            "memory stays within the budget: {}",
            h.instance.inflight_body_bytes()
        );
    }
    assert!(
        refused >= 9,
        "senders past the budget are refused: {refused}"
    );
    let rejected = h.wait_for("event.rejected").await;
    assert_eq!(rejected["status"], 503);
    drop(open);
    assert_eq!(
        budget_settles(&h).await,
        0,
        "closed senders give their bytes back"
    );
    let (status, _) = h.post("/after", "x").await;
    assert_eq!(status, 200);
    h.stop().await;
}

#[tokio::test]
async fn a_delivery_in_flight_whose_attempt_is_lost_is_recovered_by_the_sweep() {
    use hooklens::model::{Verdict, Verification, now};
    use hooklens::store::{Capture, CaptureTarget};
    let consumer = Consumer::start(vec![]).await;
    let h = Harness::start(&relay_config(&consumer.url("/in"), "ack", "")).await;
    // A capture that claims its first attempt (marked in flight in the capture's transaction)
    // and then never hands it to the relay: what a lost task leaves behind.
    let lost = Capture {
        received_at: now(),
        route: "hooks".into(),
        method: "POST".into(),
        path: "/hooks/lost".into(),
        query: String::new(),
        headers: Vec::new(),
        body: bytes::Bytes::from_static(b"lost"),
        body_sha256: String::new(),
        remote_addr: "127.0.0.1:1".into(),
        event_type: None,
        dedupe_key: None,
        claims_dedupe_key: true,
        resend_of: None,
        verification: Verification::bare(None, Verdict::Unsigned),
        secret_headers: Vec::new(),
        targets: vec![CaptureTarget {
            name: "app".into(),
            wire_id: None,
            claimed: true,
        }],
        drop_duplicate: false,
        proxy: false,
    };
    let captured = h.instance.writer().capture(lost).await.unwrap();
    let relay = h.instance.relay();
    relay.sweep().await;
    // A capture handed over normally meanwhile is never taken for lost.
    let (status, _) = h.post("/hooks/fine", "fine").await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !consumer.received().iter().any(|r| r.body == b"fine") {
        assert!(
            Instant::now() < deadline,
            "the fine event was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        consumer.received().iter().all(|r| r.body != b"lost"),
        "one sweep is not enough"
    );
    relay.sweep().await;
    let got = consumer.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "the second sweep recovers it");
    assert_eq!(got[1].body, b"lost");
    let id = captured.id.to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !h
        .lifecycle()
        .iter()
        .any(|r| r["type"] == "event.delivery.succeeded" && r["event_id"] == id.as_str())
    {
        assert!(Instant::now() < deadline, "the recovered delivery succeeds");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let e = h.event(&id).await;
    let attempts = &e.deliveries[0].attempts;
    assert_eq!(attempts[0].error.as_deref(), Some("interrupted"));
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_full_history_keeps_every_event_until_its_delivery_ends() {
    // The target fails the first 30 attempts (a consumer down), then recovers; the history holds
    // 10 events. Every one of the 30 acknowledged events must still reach it.
    let consumer = Consumer::start(vec![Reply::status(503); 30]).await;
    let config = format!(
        r#"
[storage]
max_events = 10

[[routes]]
name = "hooks"
path = "/hooks"
targets = ["app"]

[[targets]]
name = "app"
url = "{}"
timeout_ms = 2000
[targets.retry]
max_attempts = 20
initial_ms = 100
max_ms = 200
[targets.circuit]
failures = 1000
"#,
        consumer.url("/in")
    );
    let h = Harness::start(&config).await;
    for i in 0..30 {
        let (status, _) = h.post("/hooks/x", format!("{{\"n\":{i}}}")).await;
        assert_eq!(status, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = consumer.received();
        let delivered: std::collections::HashSet<Vec<u8>> =
            got.iter().skip(30).map(|r| r.body.clone()).collect();
        if delivered.len() == 30 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of 30 events delivered; lifecycle: {:?}",
            delivered.len(),
            h.lifecycle()
                .iter()
                .filter(|r| r["error"] == "event_pruned")
                .count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Delivered, they may go: the next capture brings the history back to its limit.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        h.post("/other", "x").await;
        if h.instance.store().event_count().unwrap() <= 10 {
            break;
        }
        assert!(Instant::now() < deadline, "the history shrinks back");
    }
    h.stop().await;
}

/// Zentra's signature: HMAC-SHA256 of the body, hex.
fn zentra_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn a_forged_duplicate_never_keeps_the_genuine_event_from_its_consumer() {
    let consumer = Consumer::start(vec![]).await;
    let config = format!(
        r#"
[[routes]]
name = "zentra"
path = "/zentra"
targets = ["app"]
dedupe = "drop"
reject_invalid = true
[routes.verify]
scheme = "zentra"
secrets = ["z-secret"]

[[targets]]
name = "app"
url = "{}"
"#,
        consumer.url("/in")
    );
    let h = Harness::start(&config).await;
    let header = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    let body = br#"{"event":"ticket.created"}"#;
    // An attacker guesses the next delivery id and sends it first, unsigned and mis-signed.
    for signature in [None, Some("00".repeat(32))] {
        let mut headers = vec![
            header("X-Zentra-Event", "ticket.created"),
            header("X-Zentra-Delivery-Id", "dlv_42"),
        ];
        headers.extend(signature.map(|s| header("X-Zentra-Signature", &s)));
        let (status, _) = h.post_with("/zentra", b"forged", &headers).await;
        assert_eq!(status, 401);
    }
    let genuine = vec![
        header("X-Zentra-Event", "ticket.created"),
        header("X-Zentra-Delivery-Id", "dlv_42"),
        header("X-Zentra-Signature", &zentra_signature("z-secret", body)),
    ];
    let (status, answer) = h.post_with("/zentra", body, &genuine).await;
    assert_eq!(status, 200, "{answer}");
    let got = consumer.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "the genuine event is delivered");
    assert_eq!(got[0].body, body);
    // Its real retry is the duplicate, and is dropped; bounded by a later event that went through.
    h.post_with("/zentra", body, &genuine).await;
    let next = br#"{"event":"ticket.updated"}"#;
    let later = vec![
        header("X-Zentra-Event", "ticket.updated"),
        header("X-Zentra-Delivery-Id", "dlv_43"),
        header("X-Zentra-Signature", &zentra_signature("z-secret", next)),
    ];
    h.post_with("/zentra", next, &later).await;
    let got = consumer.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].body, next,
        "the genuine retry was dropped as a duplicate"
    );
    h.stop().await;
}

/// Waits for the `n`-th `config.reloaded` record since the start (1-based).
async fn nth_reload(h: &Harness, n: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reloads: Vec<_> = h
            .lifecycle()
            .into_iter()
            .filter(|r| r["type"] == "config.reloaded")
            .collect();
        if let Some(r) = reloads.get(n - 1) {
            return r.clone();
        }
        assert!(Instant::now() < deadline, "no reload #{n}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn restart_required_compares_an_edit_with_what_runs_not_with_the_last_edit() {
    let h = Harness::start("[receiver]\nbind = \"127.0.0.1:0\"\n").await;
    std::fs::write(h.config_path(), "[receiver]\nbind = \"127.0.0.1:1\"\n").unwrap();
    let first = nth_reload(&h, 1).await;
    assert_eq!(
        first["restart_required"],
        serde_json::json!(["receiver.bind"])
    );
    // Reverted: what runs is what the file says again.
    std::fs::write(h.config_path(), "[receiver]\nbind = \"127.0.0.1:0\"\n").unwrap();
    let second = nth_reload(&h, 2).await;
    assert_eq!(second["restart_required"], serde_json::json!([]));
    h.stop().await;
}

/// A stop cuts off an attempt that is still waiting for its consumer, instead of leaving it
/// detached with the history's writer: the writer stops, and the next start recovers the
/// delivery as `interrupted`.
#[tokio::test]
async fn a_stop_leaves_no_attempt_behind_and_the_next_start_recovers_it() {
    let consumer = Consumer::start(vec![Reply::status(200).delay(Duration::from_secs(120))]).await;
    // The attempt outlasts the stop's grace (5 s).
    let config = relay_config(&consumer.url("/in"), "ack", "")
        .replace("timeout_ms = 2000", "timeout_ms = 60000");
    let h = Harness::start(&config).await;
    let (status, answer) = h.post("/hooks", "{}").await;
    assert_eq!(status, 200);
    let id = answer["event_id"].as_str().unwrap().to_owned();
    consumer.wait_for(1, Duration::from_secs(10)).await;
    let store = h.instance.store().clone();
    let opts = {
        let mut o = common::options(h.dir.path());
        o.config_path = Some(h.config_path());
        o
    };
    let Harness { instance, dir, .. } = h;
    instance.shutdown().await;
    tokio::time::timeout(Duration::from_millis(500), store.writer_stopped())
        .await
        .expect("the writer stopped with the instance: no attempt task still holds it");
    drop(store);
    let h = Harness::start_with(dir, opts).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let e = h.event(&id).await;
        let errors: Vec<_> = e.deliveries[0]
            .attempts
            .iter()
            .map(|a| a.error.clone())
            .collect();
        if !errors.is_empty() {
            assert_eq!(errors[0].as_deref(), Some("interrupted"), "{e:?}");
            break;
        }
        assert!(Instant::now() < deadline, "not recovered: {e:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.stop().await;
}

/// Under a burst every attempt reports to the engine; it must keep up with them (not look at the
/// outbox after each one), or a stop waits behind thousands of reports and runs out of grace.
#[tokio::test]
async fn after_a_burst_the_relay_stops_with_every_attempt_recorded() {
    let consumer = Consumer::start(vec![]).await;
    let config = relay_config(&consumer.url("/in"), "ack", "")
        .replace("timeout_ms = 2000", "timeout_ms = 2000\nconcurrency = 64");
    let h = std::sync::Arc::new(Harness::start(&config).await);
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let h = h.clone();
        senders.spawn(async move {
            for _ in 0..60 {
                assert_eq!(h.post("/hooks", "{}").await.0, 200);
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    assert!(
        h.instance.relay().shutdown(Duration::from_secs(1)).await,
        "the relay ran out of grace with attempts unrecorded"
    );
}
