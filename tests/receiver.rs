//! The receiver over real sockets: exact capture, routing, limits, timeouts, full disk.

mod common;

use common::{Harness, raw_exchange};
use sha2::{Digest, Sha256};
use std::time::Duration;

const ROUTES: &str = r#"
[[routes]]
name = "gh"
path = "/gh"

[[routes]]
name = "gh-app"
path = "/gh/app"
"#;

#[tokio::test]
async fn bodies_of_every_kind_are_kept_byte_for_byte() {
    let h = Harness::start(ROUTES).await;
    let mut non_utf8 = b"\xff\xfe\x00bin\x1b[31m".to_vec();
    non_utf8.extend((0..=255u8).collect::<Vec<_>>());
    let multipart = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n\x00\x01\x02\r\n--b--\r\n".to_vec();
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"id":"evt_1","nested":{"a":[1,2,3]}}"#.to_vec(),
        b"a=1&b=%20two&b=three".to_vec(),
        multipart,
        non_utf8,
        Vec::new(),
        b"{\n  \"pretty\": true\n}\n".to_vec(),
    ];
    for body in bodies {
        let (status, answer) = h.post("/gh/push", body.clone()).await;
        assert_eq!(status, 200, "{answer}");
        let id = answer["event_id"].as_str().expect("event_id in the answer");
        let event = h.event(id).await;
        assert_eq!(event.body(), body);
        assert_eq!(event.body_sha256, hex::encode(Sha256::digest(&body)));
    }
    h.stop().await;
}

#[tokio::test]
async fn method_path_query_headers_and_remote_address_are_recorded() {
    let h = Harness::start(ROUTES).await;
    let response = h
        .http
        .request(reqwest::Method::PUT, h.url("/gh/app/x?b=2&a=1&a=%ff"))
        .header("X-Repeat", "one")
        .header("X-Other", "mid")
        .header("X-Repeat", "two")
        .body("x")
        .send()
        .await
        .unwrap();
    let id = response.json::<serde_json::Value>().await.unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = h.event(&id).await;
    assert_eq!(e.method, "PUT");
    assert_eq!(e.path, "/gh/app/x");
    assert_eq!(e.query, "b=2&a=1&a=%ff");
    assert_eq!(e.route, "gh-app", "longest prefix wins");
    assert!(e.remote_addr.starts_with("127.0.0.1:"));
    let repeats: Vec<_> = e
        .headers
        .iter()
        .filter(|h| h.name == "x-repeat")
        .map(|h| h.value.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        repeats,
        ["one", "two"],
        "repeats kept, in order, names lowercase"
    );
    h.stop().await;
}

#[tokio::test]
async fn routes_match_whole_segments_and_the_rest_goes_to_default() {
    let h = Harness::start(ROUTES).await;
    for (path, route) in [
        ("/gh", "gh"),
        ("/gh/", "gh"),
        ("/gh/x/y", "gh"),
        ("/gh/app", "gh-app"),
        ("/ghost", "default"),
        ("/", "default"),
    ] {
        let (status, answer) = h.post(path, "{}").await;
        assert_eq!(status, 200);
        let e = h.event(answer["event_id"].as_str().unwrap()).await;
        assert_eq!(e.route, route, "{path}");
    }
    h.stop().await;
}

#[tokio::test]
async fn every_event_gets_an_event_received_line_with_the_contract_fields() {
    let h = Harness::start(ROUTES).await;
    let (_, answer) = h.post("/ping", "").await;
    let line = h.wait_for("event.received").await;
    assert_eq!(line["event_id"], answer["event_id"]);
    for field in [
        "at",
        "route",
        "method",
        "path",
        "event_type",
        "dedupe_key",
        "duplicate_of",
        "resend_of",
    ] {
        assert!(
            line.get(field).is_some(),
            "event.received lacks {field}: {line}"
        );
    }
    assert_eq!(line["route"], "default");
    assert_eq!(line["verification"]["verdict"], "unsigned");
    h.stop().await;
}

#[tokio::test]
async fn an_oversized_body_gets_413_a_rejected_line_and_nothing_stored() {
    let h = Harness::start("[receiver]\nmax_body_bytes = 1024\n").await;
    // Declared too large (Content-Length) and streamed too large (chunked) are both refused.
    let (status, _) = h.post("/big", vec![b'x'; 1025]).await;
    assert_eq!(status, 413);
    let chunk = "y".repeat(800);
    let chunked = format!(
        "POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n"
    );
    let answer = raw_exchange(h.receiver(), chunked.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:.80}");
    let (status, _) = h.post("/small", vec![b'x'; 1024]).await;
    assert_eq!(status, 200, "a body at the limit is taken");
    let rejected = h.wait_for("event.rejected").await;
    assert_eq!(rejected["status"], 413);
    assert_eq!(rejected["path"], "/big");
    assert_eq!(rejected["route"], "default");
    let (_, page) = h.api_get("/api/v1/events").await;
    let paths: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].clone())
        .collect();
    assert_eq!(paths, [serde_json::json!("/small")]);
    h.stop().await;
}

#[tokio::test]
async fn headers_over_the_limit_get_431() {
    let h = Harness::start("[receiver]\nmax_header_bytes = 8192\n").await;
    let big = "a".repeat(10_000);
    let request =
        format!("POST /x HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\nContent-Length: 0\r\n\r\n");
    let answer = raw_exchange(h.receiver(), request.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.80}");
    h.stop().await;
}

#[tokio::test]
async fn malformed_http_gets_400_and_the_receiver_keeps_serving() {
    let h = Harness::start("").await;
    let answer = raw_exchange(
        h.receiver(),
        b"NOT HTTP AT ALL\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:.80}");
    let (status, _) = h.post("/after", "ok").await;
    assert_eq!(status, 200);
    h.stop().await;
}

#[tokio::test]
async fn a_client_stalling_in_its_headers_is_cut_off() {
    let h = Harness::start("[receiver]\nheader_timeout_ms = 300\n").await;
    let started = std::time::Instant::now();
    let answer = raw_exchange(
        h.receiver(),
        b"POST /slow HTTP/1.1\r\nHost: t\r\nX-Part",
        Duration::from_secs(10),
    )
    .await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "connection held for {waited:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer:.80}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_client_stalling_in_its_body_gets_408_and_nothing_is_stored() {
    let h = Harness::start("[receiver]\nbody_timeout_ms = 300\n").await;
    let request = b"POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly part";
    let answer = raw_exchange(h.receiver(), request, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:.80}");
    let (_, page) = h.api_get("/api/v1/events").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    h.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let h = Harness::start("[receiver]\nmax_connections = 1\nheader_timeout_ms = 2000\n").await;
    // One idle connection holds the only slot.
    let holder = tokio::net::TcpStream::connect(h.receiver()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let blocked = tokio::time::timeout(Duration::from_millis(500), h.post("/second", "x")).await;
    assert!(
        blocked.is_err(),
        "a second connection was served past the cap"
    );
    drop(holder);
    let (status, _) = tokio::time::timeout(Duration::from_secs(5), h.post("/second", "x"))
        .await
        .expect("served once the slot is free");
    assert_eq!(status, 200);
    h.stop().await;
}

#[tokio::test]
async fn bodies_beyond_the_in_flight_budget_get_503() {
    // Budget 1 KiB: 900 bytes of a body still arriving hold it; a second 900-byte body is refused.
    let h = Harness::start("[receiver]\nmax_body_bytes = 1024\ninflight_body_bytes = 1024\n").await;
    let mut slow = tokio::net::TcpStream::connect(h.receiver()).await.unwrap();
    use tokio::io::AsyncWriteExt;
    slow.write_all(b"POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 905\r\n\r\n")
        .await
        .unwrap();
    slow.write_all(&[b'y'; 900]).await.unwrap();
    while h.instance.inflight_body_bytes() < 900 {
        tokio::task::yield_now().await;
    }
    let (status, answer) = h.post("/second", vec![b'x'; 900]).await;
    assert_eq!(status, 503, "{answer}");
    let rejected = h.wait_for("event.rejected").await;
    assert_eq!(rejected["status"], 503);
    slow.write_all(&[b'y'; 5]).await.unwrap();
    let mut answer = String::new();
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (status, _) = h.post("/third", vec![b'x'; 900]).await;
    assert_eq!(status, 200, "the budget is released after commit");
    h.stop().await;
}

#[tokio::test]
async fn a_full_disk_answers_503_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let full = hooklens::store::DiskFull::default();
    let mut opts = common::options(dir.path());
    opts.disk_full = Some(full.clone());
    let h = Harness::start_with(dir, opts).await;
    let (status, kept) = h.post("/a", "kept").await;
    assert_eq!(status, 200);
    full.set(true);
    let (status, answer) = h.post("/b", "refused").await;
    assert_eq!(status, 503, "never 2xx for an event not on disk: {answer}");
    full.set(false);
    let mut status = 0;
    for _ in 0..50 {
        status = h.post("/c", "after").await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200, "the history recovers once there is space");
    let e = h.event(kept["event_id"].as_str().unwrap()).await;
    assert_eq!(e.body(), b"kept");
    let (_, page) = h.api_get("/api/v1/events").await;
    let paths: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(!paths.contains(&"/b".to_owned()), "{paths:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_flood_of_413s_is_folded_into_a_few_records_that_count_it() {
    let h = Harness::start("[receiver]\nmax_body_bytes = 1024\n").await;
    for _ in 0..300 {
        let (status, _) = h.post("/big", vec![b'x'; 2048]).await;
        assert_eq!(status, 413);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rejected: Vec<_> = h
            .lifecycle()
            .into_iter()
            .filter(|r| r["type"] == "event.rejected")
            .collect();
        let counted: u64 = rejected.iter().map(|r| r["count"].as_u64().unwrap()).sum();
        if counted == 300 {
            assert!(rejected.len() <= 20, "{} records", rejected.len());
            assert!(
                rejected
                    .iter()
                    .all(|r| r["status"] == 413 && r["path"] == "/big")
            );
            break;
        }
        assert!(counted < 300, "counted twice: {counted}");
        assert!(std::time::Instant::now() < deadline, "counted {counted}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.stop().await;
}

/// HTTP/1.1 without `Host` is malformed (RFC 9112 §3.2) and CONNECT asks for a tunnel: both are
/// refused on their head, and neither is stored; HTTP/1.0 needs no Host.
#[tokio::test]
async fn a_request_without_host_is_400_and_connect_is_405() {
    let h = Harness::start("").await;
    let wait = Duration::from_secs(5);
    let answer = raw_exchange(
        h.receiver(),
        b"POST /hooks HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        wait,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("missing_host"), "{answer}");
    let answer = raw_exchange(
        h.receiver(),
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n",
        wait,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("allow: get"),
        "{answer}"
    );
    let answer = raw_exchange(
        h.receiver(),
        b"POST /old HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}",
        wait,
    )
    .await;
    assert!(answer.contains(" 200 "), "{answer}");
    let (_, page) = h.api_get("/api/v1/events").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "only the HTTP/1.0 request was stored: {page}"
    );
    assert_eq!(items[0]["path"], "/old");
    h.stop().await;
}

/// Slack's Request URL check: a verified `url_verification` request is answered with its
/// challenge, even on a `proxy` route; an unverified one never is (no echo for anyone's text).
#[tokio::test]
async fn a_verified_slack_url_verification_is_answered_with_its_challenge() {
    let config = r#"
[[routes]]
name = "slack"
path = "/slack"
respond = "proxy"
targets = ["app"]
[routes.verify]
scheme = "slack"
secrets = ["slack-signing-secret"]

[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
"#;
    let h = Harness::start(config).await;
    let body = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let secrets = hooklens::signature::Secret::list(["slack-signing-secret"]);
    let now = hooklens::model::now().unix_secs();
    let signed = hooklens::signature::sign(
        &hooklens::signature::Scheme::Slack,
        &secrets,
        body,
        now,
        None,
        None,
    );
    let (status, answer) = h.post_with("/slack", body, &signed).await;
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer,
        serde_json::json!({ "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" })
    );
    // Unsigned: recorded, not answered with the challenge (the proxy to a dead target: 502).
    let (status, answer) = h.post_with("/slack", body, &[]).await;
    assert!(!answer.contains("3eZbrw1a"), "{status} {answer}");
    h.stop().await;
}

/// A static answer, once the event is on disk: TwiML for Twilio, or a 410 (slowly) to see how a
/// provider reacts.
#[tokio::test]
async fn a_route_with_a_static_answer_gives_it_once_the_event_is_stored() {
    let config = r#"
[[routes]]
name = "twilio"
path = "/twilio"
respond = { status = 200, headers = { "Content-Type" = "text/xml" }, body = "<Response/>" }

[[routes]]
name = "gone"
path = "/gone"
respond = { status = 410, body = "gone", delay_ms = 30 }
"#;
    let h = Harness::start(config).await;
    let response = h
        .http
        .post(h.url("/twilio/sms"))
        .body("Body=hi")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/xml");
    assert_eq!(response.text().await.unwrap(), "<Response/>");
    let started = std::time::Instant::now();
    let response = h.http.post(h.url("/gone")).body("x").send().await.unwrap();
    assert_eq!(response.status(), 410);
    assert!(started.elapsed() >= Duration::from_millis(30), "delay_ms");
    assert_eq!(response.text().await.unwrap(), "gone");
    let (_, page) = h.api_get("/api/v1/events").await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        2,
        "both are stored"
    );
    h.stop().await;
}

/// `max_header_bytes` is the limit as documented, counted on the head as it came: just under
/// passes, just over is 431 with an `event.rejected` record (hyper's buffer alone let heads
/// far past it through).
#[tokio::test]
async fn max_header_bytes_is_enforced_at_its_value_with_a_record() {
    let h = Harness::start("[receiver]\nmax_header_bytes = 65536\n").await;
    let head = |pad: usize| {
        format!(
            "POST /x HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "a".repeat(pad)
        )
    };
    // The head without the pad is 80 bytes.
    let fixed = head(0).len();
    let under = raw_exchange(
        h.receiver(),
        head(65536 - fixed - 8).as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(under.starts_with("HTTP/1.1 200"), "{under:.80}");
    let over = raw_exchange(
        h.receiver(),
        head(70 * 1024).as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(over.starts_with("HTTP/1.1 431"), "{over:.80}");
    let rejected = h.wait_for("event.rejected").await;
    assert_eq!(rejected["status"], 431, "{rejected}");
    h.stop().await;
}
