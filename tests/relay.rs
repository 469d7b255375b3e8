//! The relay over real parts: a real receiver, a real redb file, real HTTP to a real local
//! consumer. Retry schedules use millisecond policies in real time.

mod common;

use common::Harness;
use common::consumer::{Consumer, Reply};
use hooklens::model::{EventDetail, Header, now};
use hooklens::signature::{self, Scheme, Secret, SecretValue, Verifier};
use std::time::{Duration, Instant};

/// A target with a fast retry policy, named `app`, taking every route's events.
fn config(url: &str, extra: &str) -> String {
    format!(
        r#"
[[routes]]
name = "hooks"
path = "/hooks"
targets = ["app"]

[[targets]]
name = "app"
url = "{url}"
timeout_ms = 2000
[targets.retry]
max_attempts = 3
initial_ms = 20
max_ms = 50
{extra}
"#
    )
}

async fn post(
    h: &Harness,
    path: &str,
    body: &[u8],
    headers: &[(String, String)],
) -> (u16, serde_json::Value) {
    let (status, text) = h.post_with(path, body, headers).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Waits until the event's deliveries are all finished (or the time is up) and returns it.
async fn settled(h: &Harness, id: &str, within: Duration) -> EventDetail {
    let deadline = Instant::now() + within;
    loop {
        let e = h.event(id).await;
        let done = !e.deliveries.is_empty() && e.deliveries.iter().all(|d| !d.state.is_pending());
        if done || Instant::now() > deadline {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn id_of(answer: &serde_json::Value) -> String {
    answer["event_id"].as_str().expect("event_id").to_owned()
}

#[tokio::test]
async fn two_500s_then_200_is_three_attempts_and_succeeded() {
    let consumer = Consumer::start(vec![
        Reply::status(500),
        Reply::status(500),
        Reply::status(200),
    ])
    .await;
    let h = Harness::start(&config(&consumer.url("/in"), "")).await;
    let (status, answer) = post(&h, "/hooks/x", br#"{"n":1}"#, &[]).await;
    assert_eq!(status, 200);
    let e = settled(&h, &id_of(&answer), Duration::from_secs(10)).await;
    let d = &e.deliveries[0];
    assert_eq!(d.state.as_str(), "succeeded");
    let statuses: Vec<_> = d.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(consumer.received().len(), 3);
    let (status, page) = h.api_get("/api/v1/deliveries?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["event_id"], e.id.to_string());
    assert_eq!(page["items"][0]["attempts"].as_array().unwrap().len(), 3);
    assert!(
        page["next_cursor"].is_null(),
        "one delivery, one page: {page}"
    );
    // Every attempt is in the lifecycle log, then the success.
    let kinds: Vec<String> = h
        .lifecycle()
        .iter()
        .map(|r| r["type"].as_str().unwrap().to_owned())
        .filter(|t| t.starts_with("event.delivery"))
        .collect();
    assert_eq!(
        kinds,
        [
            "event.delivery.queued",
            "event.delivery.attempted",
            "event.delivery.attempted",
            "event.delivery.attempted",
            "event.delivery.succeeded"
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn a_400_is_one_attempt_and_failed() {
    let consumer = Consumer::start(vec![Reply::status(400).body("bad payload")]).await;
    let h = Harness::start(&config(&consumer.url("/in"), "")).await;
    let (_, answer) = post(&h, "/hooks", b"{}", &[]).await;
    let e = settled(&h, &id_of(&answer), Duration::from_secs(10)).await;
    let d = &e.deliveries[0];
    assert_eq!(d.state.as_str(), "failed");
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].status, Some(400));
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD
        .decode(d.attempts[0].response_body_base64.as_ref().unwrap())
        .unwrap();
    assert_eq!(
        body, b"bad payload",
        "the consumer's answer is kept as evidence"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(consumer.received().len(), 1, "no retry after a 400");
    h.stop().await;
}

#[tokio::test]
async fn a_429_with_retry_after_waits_at_least_that_long() {
    let consumer = Consumer::start(vec![Reply::status(429).header("retry-after", "1")]).await;
    let extra = "";
    let h = Harness::start(
        &config(&consumer.url("/in"), extra).replace("max_ms = 50", "max_ms = 5000"),
    )
    .await;
    let (_, answer) = post(&h, "/hooks", b"{}", &[]).await;
    let got = consumer.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2);
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(990), "retried after {gap:?}");
    let e = settled(&h, &id_of(&answer), Duration::from_secs(5)).await;
    assert_eq!(e.deliveries[0].state.as_str(), "succeeded");
    h.stop().await;
}

#[tokio::test]
async fn refused_connections_end_dead_after_max_attempts() {
    // A port that was just free: nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let h = Harness::start(&config(&format!("http://{dead}/in"), "")).await;
    let (_, answer) = post(&h, "/hooks", b"{}", &[]).await;
    let e = settled(&h, &id_of(&answer), Duration::from_secs(10)).await;
    let d = &e.deliveries[0];
    assert_eq!(d.state.as_str(), "dead");
    assert_eq!(d.attempts.len(), 3);
    assert!(
        d.attempts
            .iter()
            .all(|a| a.error.as_deref() == Some("connect_refused")),
        "{:?}",
        d.attempts
    );
    assert!(
        h.lifecycle()
            .iter()
            .any(|r| r["type"] == "event.delivery.dead")
    );
    h.stop().await;
}

#[tokio::test]
async fn a_hanging_consumer_times_out_and_is_retried() {
    let consumer = Consumer::start(vec![Reply::status(200).delay(Duration::from_secs(5))]).await;
    let h = Harness::start(
        &config(&consumer.url("/in"), "").replace("timeout_ms = 2000", "timeout_ms = 200"),
    )
    .await;
    let (_, answer) = post(&h, "/hooks", b"{}", &[]).await;
    let e = settled(&h, &id_of(&answer), Duration::from_secs(10)).await;
    let d = &e.deliveries[0];
    assert_eq!(d.attempts[0].error.as_deref(), Some("timeout"));
    assert_eq!(d.state.as_str(), "succeeded");
    assert_eq!(d.attempts.len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn a_huge_answer_is_stored_only_up_to_max_response_bytes() {
    let consumer = Consumer::start(vec![Reply::status(200).body(vec![b'z'; 5_000_000])]).await;
    let text = config(&consumer.url("/in"), "").replace(
        "timeout_ms = 2000",
        "timeout_ms = 2000\nmax_response_bytes = 1000",
    );
    let h = Harness::start(&text).await;
    let (_, answer) = post(&h, "/hooks", b"{}", &[]).await;
    let e = settled(&h, &id_of(&answer), Duration::from_secs(10)).await;
    let a = &e.deliveries[0].attempts[0];
    use base64::Engine;
    let kept = base64::engine::general_purpose::STANDARD
        .decode(a.response_body_base64.as_ref().unwrap())
        .unwrap();
    assert_eq!(kept.len(), 1000);
    assert_eq!(
        a.response_size,
        Some(5_000_000),
        "the full size is recorded"
    );
    h.stop().await;
}

#[tokio::test]
async fn passthrough_keeps_method_headers_and_body_so_stripes_signature_verifies() {
    let consumer = Consumer::start(vec![]).await;
    let h = Harness::start(&config(&consumer.url("/"), "")).await;
    // Pretty JSON with a trailing newline and odd spacing: any re-serialisation would break it.
    let body = b"{\n  \"id\": \"evt_1\",  \"type\": \"invoice.paid\"\n}\n".to_vec();
    let secret = "whsec_consumer_secret";
    let secrets = vec![Secret::positional(0, SecretValue::new(secret.as_bytes()))];
    let ts = now().unix_secs();
    let signed = signature::sign(&Scheme::Stripe, &secrets, &body, ts, None, None);
    let (_, answer) = post(&h, "/hooks/stripe/in?x=1", &body, &signed).await;
    let got = consumer.wait_for(1, Duration::from_secs(10)).await;
    let r = &got[0];
    assert_eq!(r.body, body, "byte-exact body");
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.uri, "/stripe/in?x=1",
        "the path after the route prefix and the query are appended"
    );
    let headers = r.captured_headers();
    let v = Verifier::new(Scheme::Stripe, secrets).verify(&headers, &r.body, now());
    assert_eq!(v.verdict.as_str(), "verified", "{v:?}");
    settled(&h, &id_of(&answer), Duration::from_secs(5)).await;
    h.stop().await;
}

#[tokio::test]
async fn re_signed_deliveries_verify_with_every_rotation_secret() {
    let consumer = Consumer::start(vec![]).await;
    let extra = r#"[targets.sign]
scheme = "standard-webhooks"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_dGhlIG5leHQgc2VjcmV0IGluIHRoZSByb3RhdGlvbg=="]
"#;
    let h = Harness::start(&config(&consumer.url("/in"), extra)).await;
    let (_, answer) = post(&h, "/hooks", br#"{"type":"user.created"}"#, &[]).await;
    let got = consumer.wait_for(1, Duration::from_secs(10)).await;
    let r = &got[0];
    let headers = r.captured_headers();
    for secret in [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_dGhlIG5leHQgc2VjcmV0IGluIHRoZSByb3RhdGlvbg==",
    ] {
        let v = Verifier::new(
            Scheme::StandardWebhooks,
            vec![Secret::positional(0, SecretValue::new(secret.as_bytes()))],
        )
        .verify(&headers, &r.body, now());
        assert_eq!(v.verdict.as_str(), "verified", "with {secret}: {v:?}");
    }
    let e = settled(&h, &id_of(&answer), Duration::from_secs(5)).await;
    assert_eq!(
        r.header("webhook-id"),
        Some(e.deliveries[0].id.to_string().as_str())
    );
    assert!(
        e.deliveries[0].attempts[0]
            .note
            .as_deref()
            .unwrap_or("")
            .contains("re-signed")
    );
    h.stop().await;
}

#[tokio::test]
async fn zentra_re_signing_keeps_one_delivery_id_across_retries() {
    let consumer = Consumer::start(vec![Reply::status(503), Reply::status(200)]).await;
    let extra = "[targets.sign]\nscheme = \"zentra\"\nsecrets = [\"z-secret\"]\n";
    let h = Harness::start(&config(&consumer.url("/in"), extra)).await;
    let zentra_headers = vec![("X-Zentra-Event".to_owned(), "ticket.created".to_owned())];
    let (_, answer) = post(&h, "/hooks", br#"{"ticket":1}"#, &zentra_headers).await;
    let got = consumer.wait_for(2, Duration::from_secs(10)).await;
    let e = settled(&h, &id_of(&answer), Duration::from_secs(5)).await;
    let delivery = e.deliveries[0].id.to_string();
    for r in &got {
        assert_eq!(r.header("x-zentra-delivery-id"), Some(delivery.as_str()));
        assert_eq!(r.header("x-zentra-event"), Some("ticket.created"));
        let headers = r.captured_headers();
        let v = Verifier::new(Scheme::Zentra, Secret::list(["z-secret"])).verify(
            &headers,
            &r.body,
            now(),
        );
        assert_eq!(v.verdict.as_str(), "verified");
    }
    h.stop().await;
}

/// The wire id is the sender's own id when it has one, re-signed or not (a consumer that dedupes
/// on it keeps working through hooklens), the same across retries; a replay gets a new one.
#[tokio::test]
async fn a_re_signed_delivery_carries_the_senders_own_id_and_a_replay_a_new_one() {
    let consumer = Consumer::start(vec![Reply::status(503), Reply::status(200)]).await;
    let extra = "[targets.sign]\nscheme = \"zentra\"\nsecrets = [\"z-secret\"]\n";
    let h = Harness::start(&config(&consumer.url("/in"), extra)).await;
    // A Zentra sender's own delivery id (the route reads it without verifying).
    let sender = vec![
        ("X-Zentra-Event".to_owned(), "ticket.created".to_owned()),
        ("X-Zentra-Delivery-Id".to_owned(), "dlv_sender_7".to_owned()),
        ("X-Zentra-Signature".to_owned(), "00".to_owned()),
    ];
    let (_, answer) = post(&h, "/hooks", br#"{"ticket":1}"#, &sender).await;
    let got = consumer.wait_for(2, Duration::from_secs(10)).await;
    for r in &got {
        assert_eq!(r.header("x-zentra-delivery-id"), Some("dlv_sender_7"));
    }
    let id = id_of(&answer);
    settled(&h, &id, Duration::from_secs(5)).await;
    let response = h
        .http
        .post(h.api_url(&format!("/api/v1/events/{id}/replay")))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let got = consumer.wait_for(3, Duration::from_secs(10)).await;
    let replayed = got[2].header("x-zentra-delivery-id").unwrap();
    assert_ne!(
        replayed, "dlv_sender_7",
        "a replay is a new delivery, with a new id"
    );
    h.stop().await;
}

/// Deliveries start two ways — at capture, when the target has a free slot, or from the outbox
/// — and both share one concurrency limit.
#[tokio::test]
async fn the_concurrency_limit_holds_for_a_burst() {
    let hold = Duration::from_millis(150);
    let consumer = Consumer::start(vec![Reply::status(200).delay(hold); 6]).await;
    let text =
        config(&consumer.url("/in"), "").replace("timeout_ms", "concurrency = 2\ntimeout_ms");
    let h = Harness::start(&text).await;
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..6 {
        let request = h.http.post(h.url("/hooks")).body(format!("{{\"n\":{i}}}"));
        posts.spawn(async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        });
    }
    let answers = posts.join_all().await;
    let got = consumer.wait_for(6, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 6, "every event was delivered");
    let mut arrivals: Vec<Instant> = got.iter().map(|r| r.at).collect();
    arrivals.sort();
    for window in arrivals.windows(3) {
        // With two requests at a time, a third starts only once the first has been answered.
        let gap = window[2] - window[0];
        assert!(
            gap >= hold - Duration::from_millis(20),
            "three at once: {gap:?} apart"
        );
    }
    for (status, answer) in answers {
        assert_eq!(status, 200);
        let e = settled(&h, &id_of(&answer), Duration::from_secs(5)).await;
        assert_eq!(e.deliveries.len(), 1);
        assert_eq!(e.deliveries[0].state.as_str(), "succeeded");
        assert_eq!(e.deliveries[0].attempts.len(), 1);
    }
    h.stop().await;
}

#[tokio::test]
async fn a_dead_target_does_not_hold_up_another() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let alive = Consumer::start(vec![]).await;
    let text = format!(
        r#"
[[routes]]
name = "hooks"
path = "/hooks"
targets = ["dead", "alive"]

[[targets]]
name = "dead"
url = "http://{dead}/"
[targets.retry]
max_attempts = 50
initial_ms = 5
max_ms = 20

[[targets]]
name = "alive"
url = "{}"
"#,
        alive.url("/in")
    );
    let h = Harness::start(&text).await;
    let started = Instant::now();
    for i in 0..200 {
        let (status, _) = post(&h, "/hooks", format!("{{\"n\":{i}}}").as_bytes(), &[]).await;
        assert_eq!(status, 200);
    }
    let got = alive.wait_for(200, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 200, "the healthy target got everything");
    assert!(started.elapsed() < Duration::from_secs(20));
    let (_, endpoints) = h.api_get("/api/v1/endpoints").await;
    let dead_health = endpoints
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "dead")
        .unwrap()
        .clone();
    assert_eq!(
        dead_health["state"], "down",
        "the circuit opened: {dead_health}"
    );
    h.stop().await;
}

#[tokio::test]
async fn replay_re_signs_with_the_route_secret_and_a_fresh_timestamp() {
    let consumer = Consumer::start(vec![]).await;
    let text = format!(
        r#"
[[routes]]
name = "stripe"
path = "/stripe"
targets = ["app"]
[routes.verify]
scheme = "stripe"
secrets = ["whsec_route"]

[[targets]]
name = "app"
url = "{}"
"#,
        consumer.url("/in")
    );
    let h = Harness::start(&text).await;
    let body = br#"{"id":"evt_9","type":"invoice.paid"}"#;
    let secrets = Secret::list(["whsec_route"]);
    // Signed an hour ago: passed through as is, the consumer's tolerance would refuse it.
    let old = now().unix_secs() - 3600;
    let signed = signature::sign(&Scheme::Stripe, &secrets, body, old, None, None);
    let (_, answer) = post(&h, "/stripe", body, &signed).await;
    let id = id_of(&answer);
    let first = settled(&h, &id, Duration::from_secs(5)).await;

    let response = h
        .http
        .post(h.api_url(&format!("/api/v1/events/{id}/replay")))
        .bearer_auth(&h.token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let replayed: serde_json::Value = response.json().await.unwrap();
    let replay_id = replayed["deliveries"][0]["id"].as_str().unwrap().to_owned();
    let got = consumer.wait_for(2, Duration::from_secs(10)).await;
    let r = &got[1];
    assert_eq!(r.body, body);
    let headers = r.captured_headers();
    let v = Verifier::new(Scheme::Stripe, secrets).verify(&headers, &r.body, now());
    assert_eq!(
        v.verdict.as_str(),
        "verified",
        "fresh timestamp passes tolerance: {v:?}"
    );
    let e = settled(&h, &id, Duration::from_secs(5)).await;
    let replay = e
        .deliveries
        .iter()
        .find(|d| d.id.to_string() == replay_id)
        .unwrap();
    assert_eq!(replay.replay_of, Some(first.deliveries[0].id));
    assert!(
        replay.attempts[0]
            .note
            .as_deref()
            .unwrap()
            .contains("fresh timestamp")
    );
    let log = h.lifecycle();
    let line = log.iter().find(|r| r["type"] == "event.replayed").unwrap();
    assert_eq!(line["replay_of"], first.deliveries[0].id.to_string());
    assert_eq!(line["duplicate"], false);
    assert!(
        log.iter()
            .any(|r| r["type"] == "audit" && r["actor"] == "api" && r["action"] == "replay")
    );

    // --as-received: the original, stale signature exactly.
    let _ = h
        .http
        .post(h.api_url(&format!("/api/v1/events/{id}/replay")))
        .bearer_auth(&h.token)
        .json(&serde_json::json!({ "as_received": true }))
        .send()
        .await
        .unwrap();
    let got = consumer.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        got[2].header("stripe-signature"),
        signed[0].1.as_str().into()
    );
    h.stop().await;
}

#[tokio::test]
async fn a_duplicate_keeps_the_delivery_id_the_consumer_saw() {
    let consumer = Consumer::start(vec![]).await;
    let extra = "[targets.sign]\nscheme = \"zentra\"\nsecrets = [\"z\"]\n";
    let h = Harness::start(&config(&consumer.url("/in"), extra)).await;
    let (_, answer) = post(&h, "/hooks", b"{}", &[]).await;
    let id = id_of(&answer);
    consumer.wait_for(1, Duration::from_secs(5)).await;
    for duplicate in [true, false] {
        h.http
            .post(h.api_url(&format!("/api/v1/events/{id}/replay")))
            .bearer_auth(&h.token)
            .json(&serde_json::json!({ "duplicate": duplicate }))
            .send()
            .await
            .unwrap();
    }
    let got = consumer.wait_for(3, Duration::from_secs(10)).await;
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.header("x-zentra-delivery-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids[0], ids[1], "--duplicate re-sends the same delivery id");
    assert_ne!(ids[0], ids[2], "a replay is a new delivery id");
    h.stop().await;
}

#[tokio::test]
async fn proxy_passes_the_consumers_answer_back_and_never_retries() {
    let consumer = Consumer::start(vec![
        Reply::status(201)
            .header("x-consumer", "yes")
            .body("created"),
    ])
    .await;
    let text = config(&consumer.url("/in"), "").replace(
        "targets = [\"app\"]",
        "targets = [\"app\"]\nrespond = \"proxy\"",
    );
    let h = Harness::start(&text).await;
    let response = h
        .http
        .post(h.url("/hooks"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["x-consumer"], "yes");
    assert_eq!(response.text().await.unwrap(), "created");
    h.stop().await;

    // Unreachable: 502 to the sender, the delivery failed after exactly one attempt. The port
    // stays held (a port merely released may be taken by another test's server meanwhile):
    // each connection is closed unanswered.
    let refuser = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = refuser.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((connection, _)) = refuser.accept().await {
            drop(connection);
        }
    });
    let text = config(&format!("http://{dead}/"), "").replace(
        "targets = [\"app\"]",
        "targets = [\"app\"]\nrespond = \"proxy\"",
    );
    let h = Harness::start(&text).await;
    let response = h
        .http
        .post(h.url("/hooks"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 502);
    let answer: serde_json::Value = response.json().await.unwrap();
    // The proxied attempt is on disk before the sender hears its answer.
    let e = h.event(&id_of(&answer)).await;
    assert_eq!(e.deliveries[0].state.as_str(), "failed");
    assert_eq!(e.deliveries[0].attempts.len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_proxied_timeout_is_504() {
    let consumer = Consumer::start(vec![Reply::status(200).delay(Duration::from_secs(3))]).await;
    let text = config(&consumer.url("/in"), "")
        .replace(
            "targets = [\"app\"]",
            "targets = [\"app\"]\nrespond = \"proxy\"",
        )
        .replace("timeout_ms = 2000", "timeout_ms = 200");
    let h = Harness::start(&text).await;
    let response = h
        .http
        .post(h.url("/hooks"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 504);
    h.stop().await;
}

#[tokio::test]
async fn event_filters_and_dedupe_drop_decide_what_is_delivered() {
    let consumer = Consumer::start(vec![]).await;
    let text = format!(
        r#"
[[routes]]
name = "gh"
path = "/gh"
targets = ["app"]
dedupe = "drop"

[[targets]]
name = "app"
url = "{}"
events = ["push", "pull_request.*"]
"#,
        consumer.url("/in")
    );
    let h = Harness::start(&text).await;
    let gh = |event: &str, id: &str| {
        vec![
            ("X-GitHub-Event".to_owned(), event.to_owned()),
            ("X-GitHub-Delivery".to_owned(), id.to_owned()),
            ("X-Hub-Signature-256".to_owned(), "sha256=00".to_owned()),
        ]
    };
    post(&h, "/gh", b"{}", &gh("push", "d1")).await;
    post(&h, "/gh", b"{}", &gh("issues", "d2")).await; // filtered out
    let (_, dup) = post(&h, "/gh", b"{}", &gh("push", "d1")).await; // duplicate, dropped
    consumer.wait_for(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(consumer.received().len(), 1);
    let e = h.event(&id_of(&dup)).await;
    assert!(e.duplicate_of.is_some());
    assert!(e.deliveries.is_empty());
    let (_, list) = h.api_get("/api/v1/events").await;
    let states: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["deliveries_state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["none", "none", "succeeded"]);
    h.stop().await;
}

/// A sender that used Svix's `svix-*` headers: re-signed, the consumer gets fresh headers in
/// both families (never the sender's stale ones, which svix's library would prefer), and each
/// family verifies on its own.
#[tokio::test]
async fn re_signing_writes_fresh_headers_in_the_senders_family_too() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let consumer = Consumer::start(vec![]).await;
    let extra =
        format!("[targets.sign]\nscheme = \"standard-webhooks\"\nsecrets = [\"{SECRET}\"]\n");
    let h = Harness::start(&config(&consumer.url("/in"), &extra)).await;
    let sender = [
        ("svix-id", "msg_sender"),
        ("svix-timestamp", "1600000000"),
        ("svix-signature", "v1,c3RhbGU="),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    post(&h, "/hooks", br#"{"type":"invoice.paid"}"#, &sender).await;
    let got = consumer.wait_for(1, Duration::from_secs(10)).await;
    let r = &got[0];
    for family in ["webhook", "svix"] {
        let id = r.header(&format!("{family}-id")).unwrap();
        assert_eq!(id, "msg_sender", "the sender's own id is the wire id");
        assert_ne!(r.header(&format!("{family}-timestamp")), Some("1600000000"));
        assert_ne!(
            r.header(&format!("{family}-signature")),
            Some("v1,c3RhbGU=")
        );
        let headers: Vec<Header> = r
            .headers
            .iter()
            .filter(|(n, _)| n.as_str().starts_with(family))
            .map(|(n, v)| Header::new(n.as_str(), v.as_bytes()))
            .collect();
        let v = Verifier::new(Scheme::StandardWebhooks, Secret::list([SECRET])).verify(
            &headers,
            &r.body,
            now(),
        );
        assert_eq!(v.verdict.as_str(), "verified", "{family}-* alone");
    }
    h.stop().await;
}

/// Relayed requests say where they came from, as proxies do: the sender's address appended to
/// `X-Forwarded-For`, the scheme and `Host` it called (unless a tunnel said them first); the
/// query goes along even to a target URL with a path of its own.
#[tokio::test]
async fn relayed_requests_carry_forwarded_headers_and_the_query() {
    let consumer = Consumer::start(vec![]).await;
    let quiet = Consumer::start(vec![]).await;
    let text = format!(
        r#"
[[routes]]
name = "hooks"
path = "/hooks"
targets = ["app", "quiet"]

[[targets]]
name = "app"
url = "{}"

[[targets]]
name = "quiet"
url = "{}"
forwarded_headers = false
"#,
        consumer.url("/in"),
        quiet.url("/in")
    );
    let h = Harness::start(&text).await;
    let tunnel = vec![
        ("X-Forwarded-For".to_owned(), "203.0.113.9".to_owned()),
        ("X-Forwarded-Proto".to_owned(), "https".to_owned()),
    ];
    let (status, _) = post(&h, "/hooks/x?a=1&b=%20", b"{}", &tunnel).await;
    assert_eq!(status, 200);
    let r = &consumer.wait_for(1, Duration::from_secs(10)).await[0];
    assert_eq!(r.uri, "/in?a=1&b=%20");
    assert_eq!(r.header("x-forwarded-for"), Some("203.0.113.9, 127.0.0.1"));
    assert_eq!(
        r.header("x-forwarded-proto"),
        Some("https"),
        "the tunnel's, kept"
    );
    assert_eq!(
        r.header("x-forwarded-host"),
        Some(h.receiver().to_string().as_str())
    );
    let q = &quiet.wait_for(1, Duration::from_secs(10)).await[0];
    assert_eq!(
        q.header("x-forwarded-for"),
        Some("203.0.113.9"),
        "the sender's own only"
    );
    assert!(q.header("x-forwarded-host").is_none());
    h.stop().await;
}
