//! The on-call controls over real parts: pause (kept across a restart), resume, probe, and the
//! health an operator reads — a real instance, a real redb file, real consumers.

mod common;

use common::Harness;
use common::binary::{Running, hooklens, json_lines};
use common::consumer::{Consumer, Reply};
use hooklens::model::{EventDetail, Timestamp};
use std::time::{Duration, Instant};

/// Route `hooks` to `app` (the target under control) and `witness` (never touched: what reaches
/// it bounds what did not reach `app`).
fn config(app: &str, witness: &str, app_extra: &str) -> String {
    format!(
        r#"
[[routes]]
name = "hooks"
path = "/hooks"
targets = ["app", "witness"]

[[targets]]
name = "app"
url = "{app}"
[targets.retry]
max_attempts = 20
initial_ms = 10
max_ms = 20
{app_extra}

[[targets]]
name = "witness"
url = "{witness}"
"#
    )
}

async fn control(h: &Harness, name: &str, action: &str) -> (u16, serde_json::Value) {
    let response = h
        .http
        .post(h.api_url(&format!("/api/v1/targets/{name}/{action}")))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn endpoint(h: &Harness, name: &str) -> serde_json::Value {
    let (status, all) = h.api_get("/api/v1/endpoints").await;
    assert_eq!(status, 200, "{all}");
    all.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {all}"))
        .clone()
}

async fn event_id(h: &Harness, n: u32) -> String {
    let (status, answer) = h.post("/hooks", format!("{{\"n\":{n}}}")).await;
    assert_eq!(status, 200, "{answer}");
    answer["event_id"].as_str().unwrap().to_owned()
}

fn app_delivery(e: &EventDetail) -> &hooklens::model::Delivery {
    e.deliveries.iter().find(|d| d.target == "app").unwrap()
}

/// Polls (ten seconds at most) until `done` holds for the event.
async fn until(h: &Harness, id: &str, done: impl Fn(&EventDetail) -> bool) -> EventDetail {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let e = h.event(id).await;
        if done(&e) {
            return e;
        }
        assert!(Instant::now() < deadline, "timed out; {e:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn audits(h: &Harness) -> Vec<(String, String, String)> {
    h.lifecycle()
        .into_iter()
        .filter(|r| r["type"] == "audit")
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (text("actor"), text("action"), text("target"))
        })
        .collect()
}

#[tokio::test]
async fn a_pause_holds_deliveries_through_a_restart_and_resume_sends_them() {
    let app = Consumer::start(vec![]).await;
    let witness = Consumer::start(vec![]).await;
    let h = Harness::start(&config(&app.url("/in"), &witness.url("/in"), "")).await;

    let (status, paused) = control(&h, "app", "pause").await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(
        (&paused["state"], &paused["paused"]),
        (&"paused".into(), &true.into())
    );
    let first = event_id(&h, 1).await;
    witness.wait_for(1, Duration::from_secs(10)).await;
    let e = until(&h, &first, |e| {
        e.deliveries
            .iter()
            .any(|d| d.target == "witness" && !d.state.is_pending())
    })
    .await;
    assert!(app_delivery(&e).state.is_pending(), "{e:?}");
    assert!(app_delivery(&e).attempts.is_empty(), "paused: no attempt");
    let health = endpoint(&h, "app").await;
    assert_eq!(
        (&health["queued"], &health["paused"]),
        (&1.into(), &true.into()),
        "{health}"
    );
    assert_eq!(
        audits(&h),
        [("api".into(), "pause".into(), "app".into())],
        "the control is on record with its actor"
    );

    // A restart keeps the pause: a second event waits too, while the witness gets it.
    let opts = {
        let mut o = common::options(h.dir.path());
        o.config_path = Some(h.config_path());
        o
    };
    let Harness { instance, dir, .. } = h;
    instance.shutdown().await;
    let h = Harness::start_with(dir, opts).await;
    let health = endpoint(&h, "app").await;
    assert_eq!(
        (&health["state"], &health["paused"]),
        (&"paused".into(), &true.into()),
        "{health}"
    );
    let second = event_id(&h, 2).await;
    witness.wait_for(2, Duration::from_secs(10)).await;
    until(&h, &second, |e| {
        e.deliveries
            .iter()
            .any(|d| d.target == "witness" && !d.state.is_pending())
    })
    .await;
    assert_eq!(app.received().len(), 0, "nothing went to the paused target");
    assert_eq!(endpoint(&h, "app").await["queued"], 2);

    let (status, resumed) = control(&h, "app", "resume").await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["paused"], false);
    let got = app.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "both waiting deliveries went once resumed");
    for id in [&first, &second] {
        let e = until(&h, id, |e| !app_delivery(e).state.is_pending()).await;
        assert_eq!(
            app_delivery(&e).attempts.len(),
            1,
            "paused time cost no attempt"
        );
    }
    assert_eq!(audits(&h), [("api".into(), "resume".into(), "app".into())]);
    h.stop().await;
}

#[tokio::test]
async fn probe_ends_the_cooldown_and_a_target_that_answers_again_is_healthy_soon() {
    // Two failures open the circuit for ten minutes; then the consumer answers.
    let app = Consumer::start(vec![Reply::status(503), Reply::status(503)]).await;
    let witness = Consumer::start(vec![]).await;
    let extra = "[targets.circuit]\nfailures = 2\ncooldown_ms = 600000";
    let h = Harness::start(&config(&app.url("/in"), &witness.url("/in"), extra)).await;

    let first = event_id(&h, 1).await;
    let e = until(&h, &first, |e| app_delivery(e).attempts.len() == 2).await;
    let health = endpoint(&h, "app").await;
    assert_eq!(health["state"], "down", "{health}");
    let reopens: Timestamp =
        serde_json::from_value(health["circuit_open_until"].clone()).expect("a reopen time");
    let wait = reopens.unix_millis() - hooklens::model::now().unix_millis();
    assert!((590_000..=600_000).contains(&wait), "reopens in {wait} ms");
    assert_eq!(
        app_delivery(&e).next_attempt_at,
        Some(reopens),
        "while the circuit is open the next attempt is when it reopens"
    );
    // A new event waits for the circuit too, and says so.
    let second = event_id(&h, 2).await;
    let e = until(&h, &second, |e| {
        e.deliveries
            .iter()
            .any(|d| d.target == "witness" && !d.state.is_pending())
    })
    .await;
    assert_eq!(app_delivery(&e).next_attempt_at, Some(reopens));
    assert_eq!(app.received().len(), 2);

    let (status, probed) = control(&h, "app", "probe").await;
    assert_eq!(status, 200, "{probed}");
    let got = app.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(
        got.len(),
        4,
        "the probe went at once, then the circuit closed"
    );
    for id in [&first, &second] {
        let e = until(&h, id, |e| !app_delivery(e).state.is_pending()).await;
        assert_eq!(
            app_delivery(&e).state,
            hooklens::model::DeliveryState::Succeeded
        );
    }
    let third = event_id(&h, 3).await;
    until(&h, &third, |e| !app_delivery(e).state.is_pending()).await;
    // Three successes after two failures: 60% over the window, yet it answers again.
    let health = endpoint(&h, "app").await;
    assert_eq!(health["state"], "healthy", "{health}");
    assert_eq!(health["circuit_open_until"], serde_json::Value::Null);
    assert!(health["success_rate"].as_f64().unwrap() < 0.95);
    assert_eq!(audits(&h), [("api".into(), "probe".into(), "app".into())]);
    h.stop().await;
}

#[tokio::test]
async fn endpoints_show_every_contract_field_and_never_a_password() {
    let app = Consumer::start(vec![]).await;
    let witness = Consumer::start(vec![]).await;
    let with_password = app.url("/in").replace("http://", "http://user:hunter2@");
    let h = Harness::start(&config(&with_password, &witness.url("/in"), "")).await;
    event_id(&h, 1).await;
    app.wait_for(1, Duration::from_secs(10)).await;
    let (_, all) = h.api_get("/api/v1/endpoints").await;
    assert!(!all.to_string().contains("hunter2"), "{all}");
    let health = endpoint(&h, "app").await;
    let mut fields: Vec<&str> = health
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "circuit_open_until",
            "consecutive_failures",
            "in_flight",
            "last_error",
            "last_success_at",
            "name",
            "p50_ms",
            "p95_ms",
            "paused",
            "queued",
            "state",
            "success_rate",
            "url",
        ]
    );
    assert_eq!(
        health["url"],
        app.url("/in").replace("http://", "http://user:***@")
    );
    let (status, answer) = control(&h, "nobody", "pause").await;
    assert_eq!(
        (status, &answer["error"]),
        (404, &"not_found".into()),
        "{answer}"
    );
    assert!(audits(&h).is_empty(), "a refused control is not on record");
    h.stop().await;
}

/// The CLI, as an on-call engineer types it: through the running instance, and on the file
/// when none runs (a pause then waits for the next start).
#[tokio::test]
async fn targets_commands_work_with_and_without_an_instance() {
    let app = Consumer::start(vec![]).await;
    let witness = Consumer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("hooklens.toml");
    std::fs::write(
        &config_path,
        config(&app.url("/in"), &witness.url("/in"), ""),
    )
    .unwrap();
    let cfg = config_path.to_str().unwrap();

    // No instance yet: the pause is kept in the file; an unknown name is a usage error.
    let out = hooklens(dir.path(), &["--config", cfg, "targets", "pause", "app"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hooklens(dir.path(), &["--config", cfg, "targets", "pause", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
    let out = hooklens(dir.path(), &["--config", cfg, "targets", "list", "--json"]);
    let listed = json_lines(&out);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(
        (&listed[0]["name"], &listed[0]["paused"]),
        (&"app".into(), &true.into())
    );

    let running = Running::start(dir.path(), &["--config", cfg]);
    let (status, _) = running.post("/hooks", b"{}");
    assert_eq!(status, 200);
    witness.wait_for(1, Duration::from_secs(10)).await;
    let out = hooklens(dir.path(), &["targets", "list", "--json"]);
    let app_health = json_lines(&out)
        .into_iter()
        .find(|r| r["name"] == "app")
        .unwrap();
    assert_eq!(
        (&app_health["state"], &app_health["queued"]),
        (&"paused".into(), &1.into())
    );
    let out = hooklens(dir.path(), &["targets", "resume", "app"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("resumed app"));
    assert_eq!(app.wait_for(1, Duration::from_secs(10)).await.len(), 1);
    let out = hooklens(dir.path(), &["targets", "probe", "nobody"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown name is a usage error here too"
    );
    let out = hooklens(dir.path(), &["targets", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("TARGET"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("app ") && l.contains("healthy")),
        "{text}"
    );
    running.stop();

    // Without an instance, reading commands leave the file exactly as they found it (the
    // first one after a kill lets redb repair it).
    let history = dir.path().join("data/hooklens.redb");
    assert!(hooklens(dir.path(), &["events", "list"]).status.success());
    let before = std::fs::read(&history).unwrap();
    for args in [
        &["events", "list", "--json"][..],
        &["deliveries", "list", "--state", "succeeded"],
        &["--config", cfg, "targets", "list"],
    ] {
        let out = hooklens(dir.path(), args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        std::fs::read(&history).unwrap() == before,
        "a read-only command wrote to the history"
    );
}
