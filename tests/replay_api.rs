//! Replays and delivery triage through the control API, over real parts: a real instance, a
//! real redb file, real consumers (one of them down, then back on the same port).

mod common;

use common::Harness;
use common::consumer::Consumer;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

/// A port nothing listens on (yet): deliveries to it are refused until a consumer takes it.
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// `/hooks` goes to `good` and `dead`, `/only` to `good`; two fast attempts, no circuit.
fn two_targets(good: &str, dead: &str) -> String {
    format!(
        r#"
[[routes]]
name = "hooks"
path = "/hooks"
targets = ["good", "dead"]

[[routes]]
name = "only"
path = "/only"
targets = ["good"]

[[targets]]
name = "good"
url = "{good}"

[[targets]]
name = "dead"
url = "{dead}"
[targets.retry]
max_attempts = 2
initial_ms = 10
max_ms = 20
[targets.circuit]
failures = 1000
"#
    )
}

async fn api_post(h: &Harness, path: &str, body: Value) -> (u16, Value) {
    let response = h
        .http
        .post(h.api_url(path))
        .bearer_auth(&h.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits (a few seconds at most) until `n` lifecycle records of this type are in.
async fn wait_count(h: &Harness, kind: &str, n: usize) {
    for _ in 0..400 {
        if h.lifecycle().iter().filter(|r| r["type"] == kind).count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("fewer than {n} {kind} records");
}

fn targets_of(answer: &Value) -> Vec<String> {
    answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["target"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_json_error(status: u16, body: &Value) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "bad_request", "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn a_url_given_once_with_to_is_never_a_target_of_later_replays() {
    let app = Consumer::start(vec![]).await;
    let elsewhere = Consumer::start(vec![]).await;
    let config = format!(
        "[[routes]]\nname = \"hooks\"\npath = \"/hooks\"\ntargets = [\"app\"]\n\n[[targets]]\nname = \"app\"\nurl = \"{}\"\n",
        app.url("/in")
    );
    let h = Harness::start(&config).await;
    let (_, answer) = h.post("/hooks", "{}").await;
    let id = answer["event_id"].as_str().unwrap().to_owned();
    app.wait_for(1, Duration::from_secs(5)).await;

    let to = elsewhere.url("/once");
    let (status, once) = api_post(
        &h,
        &format!("/api/v1/events/{id}/replay"),
        json!({ "to": to }),
    )
    .await;
    assert_eq!(status, 200, "{once}");
    assert_eq!(targets_of(&once), [to.as_str()]);
    assert_eq!(elsewhere.wait_for(1, Duration::from_secs(5)).await.len(), 1);

    let (status, plain) = api_post(&h, &format!("/api/v1/events/{id}/replay"), json!({})).await;
    assert_eq!(status, 200, "{plain}");
    assert_eq!(targets_of(&plain), ["app"], "the --to URL is not a target");
    assert_eq!(app.wait_for(2, Duration::from_secs(5)).await.len(), 2);
    wait_count(&h, "event.delivery.succeeded", 3).await;
    assert_eq!(elsewhere.received().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn triage_one_target_dead_one_fine_then_replay_only_the_dead_letters() {
    let good = Consumer::start(vec![]).await;
    let dead_addr = free_port();
    let dead_url = format!("http://{dead_addr}/in");
    let h = Harness::start(&two_targets(&good.url("/in"), &dead_url)).await;
    // Matching and non-matching events interleaved, so a filtered page has rows to pass over.
    let mut partial = Vec::new();
    for i in 0..3 {
        let (_, a) = h.post("/hooks", format!("{{\"n\":{i}}}")).await;
        partial.push(a["event_id"].as_str().unwrap().to_owned());
        let (status, _) = h.post("/only", "{}").await;
        assert_eq!(status, 200);
    }
    wait_count(&h, "event.delivery.dead", 3).await;
    wait_count(&h, "event.delivery.succeeded", 6).await;

    // events: filtered pages hold `limit` matches while more exist.
    let (status, page) = h.api_get("/api/v1/events?state=partial&limit=2").await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [partial[2].as_str(), partial[1].as_str()]);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, next) = h
        .api_get(&format!(
            "/api/v1/events?state=partial&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(next["items"].as_array().unwrap().len(), 1);
    assert_eq!(next["items"][0]["id"], partial[0].as_str());
    assert!(next["next_cursor"].is_null());
    let (_, only) = h
        .api_get("/api/v1/events?route=only&verdict=unsigned")
        .await;
    assert_eq!(only["items"].as_array().unwrap().len(), 3);
    let (_, ok) = h
        .api_get("/api/v1/events?state=succeeded&route=hooks")
        .await;
    assert!(ok["items"].as_array().unwrap().is_empty(), "{ok}");

    // deliveries: by state and target, paged; by event.
    let (status, dead) = h
        .api_get("/api/v1/deliveries?state=dead&target=dead&limit=2")
        .await;
    assert_eq!(status, 200, "{dead}");
    assert_eq!(dead["items"].as_array().unwrap().len(), 2);
    assert!(
        dead["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["target"] == "dead" && d["state"] == "dead")
    );
    let cursor = dead["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, rest) = h
        .api_get(&format!(
            "/api/v1/deliveries?state=dead&target=dead&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let (_, of_event) = h
        .api_get(&format!("/api/v1/deliveries?event={}", partial[0]))
        .await;
    let mut targets: Vec<&str> = of_event["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["target"].as_str().unwrap())
        .collect();
    targets.sort();
    assert_eq!(targets, ["dead", "good"]);
    assert!(
        of_event["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["event_id"] == partial[0].as_str())
    );
    let (status, _) = h
        .api_get("/api/v1/deliveries?state=&target=&event=&limit=&cursor=")
        .await;
    assert_eq!(status, 200, "empty values mean not given");

    // Unknown parameters and bad values: 400 with the JSON error shape.
    for path in [
        "/api/v1/deliveries?nope=1",
        "/api/v1/deliveries?state=sleeping",
        "/api/v1/deliveries?limit=many",
        "/api/v1/events?colour=red",
        "/api/v1/events?verdict=fine",
        "/api/v1/events/01JD0000000000000000000000?reveal=true&x=1",
    ] {
        let (status, body) = h.api_get(path).await;
        assert_json_error(status, &body);
    }

    // A delivery id where an event id is expected shows its event.
    let delivery = dead["items"][0]["id"].as_str().unwrap();
    let (status, shown) = h.api_get(&format!("/api/v1/events/{delivery}")).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["id"], dead["items"][0]["event_id"]);

    // One event to chosen targets only; an unknown name is refused, nothing queued.
    let replay = format!("/api/v1/events/{}/replay", partial[0]);
    let (status, body) = api_post(&h, &replay, json!({ "targets": ["nope"] })).await;
    assert_json_error(status, &body);
    assert!(body["message"].as_str().unwrap().contains("nope"), "{body}");
    let (status, body) = api_post(&h, &replay, json!({ "targets": ["good"] })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(targets_of(&body), ["good"]);
    good.wait_for(7, Duration::from_secs(5)).await;

    // The dead target is back: bulk-replay its dead letters, and only those.
    let back = Consumer::start_on(dead_addr, vec![]).await;
    let (status, body) = api_post(
        &h,
        "/api/v1/deliveries/replay",
        json!({ "state": "queued" }),
    )
    .await;
    assert_json_error(status, &body);
    let (status, body) = api_post(
        &h,
        "/api/v1/deliveries/replay",
        json!({ "state": "dead", "target": "dead" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "replayed": 3 }));
    let got = back.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 3);
    wait_count(&h, "event.delivery.succeeded", 10).await;
    let (_, body) = api_post(&h, "/api/v1/deliveries/replay", json!({ "state": "dead" })).await;
    assert_eq!(
        body,
        json!({ "replayed": 0 }),
        "replayed letters are not taken again"
    );
    assert_eq!(
        good.received().len(),
        7,
        "the fine target got no bulk replay"
    );
    h.stop().await;
}
