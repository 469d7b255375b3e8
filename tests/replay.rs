//! `replay`, `deliveries list` and `events list|show` filters as a user runs them, through a
//! running instance and without one: targets resolved from `--config`, attempts made while the
//! command waits, and nothing left queued to fire later somewhere else.

#[path = "common/binary.rs"]
mod binary;
#[path = "common/consumer.rs"]
mod consumer;

use binary::{Running, hooklens, json_lines};
use consumer::{Consumer, Reply};
use std::path::Path;

fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `/hooks` goes to `good` and `dead`; the dead target gives up fast. `good_retry`: the good
/// target's retry policy.
fn config(dir: &Path, name: &str, good: &str, dead: &str, good_retry: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            r#"
[[routes]]
name = "hooks"
path = "/hooks"
targets = ["good", "dead"]

[[targets]]
name = "good"
url = "{good}"
[targets.retry]
{good_retry}

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
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn show(dir: &Path, id: &str) -> serde_json::Value {
    let out = hooklens(dir, &["events", "show", id, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_a_dead_target_and_replay_its_dead_letters_without_an_instance() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = Consumer::start(vec![]).await;
    let dead_addr = free_port();
    let cfg = config(
        d,
        "hooklens.toml",
        &good.url("/in"),
        &format!("http://{dead_addr}/in"),
        "",
    );
    let run = Running::start(d, &["--config", &cfg]);
    let ids: Vec<String> = (0..2)
        .map(|i| {
            let (status, a) = run.post("/hooks", format!("{{\"n\":{i}}}").as_bytes());
            assert_eq!(status, 200);
            a["event_id"].as_str().unwrap().to_owned()
        })
        .collect();
    run.wait_for("event.delivery.dead", 2);

    // Triage through the instance: which events are half delivered, which deliveries are dead.
    let out = hooklens(d, &["events", "list", "--state", "partial", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_lines(&out).len(), 2);
    let out = hooklens(
        d,
        &[
            "deliveries",
            "list",
            "--state",
            "dead",
            "--target",
            "dead",
            "--json",
        ],
    );
    let dead = json_lines(&out);
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(
        dead.iter()
            .all(|l| l["target"] == "dead" && l["state"] == "dead")
    );
    let out = hooklens(d, &["deliveries", "list", "--state", "dead"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("connect_refused"));
    // A delivery id where an event id is expected shows its event.
    let delivery = dead[0]["id"].as_str().unwrap();
    assert_eq!(show(d, delivery)["id"], dead[0]["event_id"]);
    let out = hooklens(d, &["replay", &ids[0], "--target", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    run.stop();

    // No instance and no --config: the targets cannot be resolved, so nothing is queued.
    let out = hooklens(d, &["replay", &ids[0]]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("\"good\""), "{}", stderr(&out));
    assert_eq!(show(d, &ids[0])["deliveries"].as_array().unwrap().len(), 2);
    let out = hooklens(d, &["replay", "--state", "dead"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // The dead target is back: replay its dead letters from here, with the configuration.
    let back = Consumer::start_on(dead_addr, vec![]).await;
    let out = hooklens(
        d,
        &[
            "--config", &cfg, "replay", "--state", "dead", "--target", "dead",
        ],
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{printed} {}", stderr(&out));
    assert!(
        printed.contains("replayed 2 deliveries, 2 succeeded"),
        "{printed}"
    );
    assert_eq!(back.received().len(), 2);
    assert_eq!(good.received().len(), 2, "the fine target got nothing");
    let out = hooklens(d, &["--config", &cfg, "replay", "--state", "dead"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("replayed 0 deliveries"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_replay_without_an_instance_cannot_deliver_in_time_is_abandoned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = Consumer::start(vec![]).await;
    let cfg = config(d, "hooklens.toml", &good.url("/in"), &good.url("/also"), "");
    let run = Running::start(d, &["--config", &cfg]);
    let (_, a) = run.post("/hooks", b"{}");
    let id = a["event_id"].as_str().unwrap().to_owned();
    run.wait_for("event.delivery.succeeded", 2);
    run.stop();

    // The consumer fails now, and its next retry would come after the wait.
    let failing = Consumer::start(vec![Reply::status(500), Reply::status(500)]).await;
    let slow_retry = "max_attempts = 5\ninitial_ms = 600000\nmax_ms = 600000";
    let other = config(
        d,
        "failing.toml",
        &failing.url("/in"),
        &good.url("/also"),
        slow_retry,
    );
    let out = hooklens(
        d,
        &[
            "--config", &other, "replay", &id, "--target", "good", "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made.as_array().unwrap().len(), 1, "{made}");
    assert_eq!(made[0]["target"], "good");
    assert_eq!(made[0]["state"], "failed", "{made}");
    let attempts = made[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["status"], 500);
    assert_eq!(attempts.last().unwrap()["error"], "abandoned", "{made}");
    // Full jitter may draw a retry inside the wait (a few percent of the time): every attempt
    // made reached the consumer, and the last one is the abandonment.
    let sent = attempts.iter().filter(|a| a["status"] == 500).count();
    assert_eq!(failing.received().len(), sent, "{made}");
    assert_eq!(sent, attempts.len() - 1, "{made}");

    // Nothing of it is left in the outbox for a later instance to send.
    let out = hooklens(d, &["deliveries", "list", "--state", "queued", "--json"]);
    assert!(json_lines(&out).is_empty());
    let out = hooklens(
        d,
        &["deliveries", "list", "--state", "retry_scheduled", "--json"],
    );
    assert!(json_lines(&out).is_empty());
    let out = hooklens(
        d,
        &["deliveries", "list", "--event", &id, "--state", "failed"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("abandoned"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_still_under_way_when_the_wait_ends_is_abandoned_not_left_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = Consumer::start(vec![]).await;
    let cfg = config(d, "hooklens.toml", &good.url("/in"), &good.url("/also"), "");
    let run = Running::start(d, &["--config", &cfg]);
    let (_, a) = run.post("/hooks", b"{}");
    let id = a["event_id"].as_str().unwrap().to_owned();
    run.wait_for("event.delivery.succeeded", 2);
    run.stop();

    // A consumer that takes the request and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            let _ = accepted.send(());
        }
    });
    let hanging = format!("http://{addr}/in");
    let other = config(d, "hanging.toml", &hanging, &good.url("/also"), "");
    let out = hooklens(
        d,
        &[
            "--config", &other, "replay", &id, "--target", "good", "--wait", "1", "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    got.try_recv().expect("the attempt reached the consumer");
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made[0]["state"], "failed", "{made}");
    assert_eq!(made[0]["attempts"][0]["error"], "abandoned", "{made}");
    let out = hooklens(d, &["deliveries", "list", "--state", "in_flight", "--json"]);
    assert!(
        json_lines(&out).is_empty(),
        "nothing left in flight to resume"
    );
}
