//! What hooklens keeps and shows about other people's requests: file permissions, secrets in
//! errors, and who is trusted with the API token — over real files, sockets and processes.

mod common;

use common::Harness;
use common::binary::{Running, hooklens};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_history_is_readable_by_its_owner_only_and_a_loose_one_is_tightened() {
    // A fresh data directory.
    let h = Harness::start("").await;
    let data = h.dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("hooklens.redb")), 0o600);
    assert_eq!(mode(&data.join("api-token")), 0o600);
    assert_eq!(mode(&data.join("instance.json")), 0o600);
    let opts = {
        let mut o = common::options(h.dir.path());
        o.config_path = Some(h.config_path());
        o
    };
    let Harness { instance, dir, .. } = h;
    instance.shutdown().await;

    // As an older hooklens (or a umask of 022) left them: readable by everyone.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let history = data.join("hooklens.redb");
    std::fs::set_permissions(&history, std::fs::Permissions::from_mode(0o644)).unwrap();
    let h = Harness::start_with(dir, opts).await;
    assert_eq!(mode(&data), 0o700, "the directory was tightened");
    assert_eq!(mode(&history), 0o600, "the history was tightened");
    h.stop().await;
}

#[test]
fn a_command_that_makes_the_history_makes_it_private() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[[targets]]\nname = \"app\"\nurl = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
    let out = hooklens(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "targets",
            "pause",
            "app",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&dir.path().join("data")), 0o700);
    assert_eq!(mode(&dir.path().join("data/hooklens.redb")), 0o600);
}

/// A secret given with the wrong type is named by its key, never shown: at start (stderr) and
/// in a live edit's `config.rejected` record.
#[test]
fn a_secret_of_the_wrong_type_never_reaches_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let bad = "[[routes]]\nname = \"s\"\npath = \"/s\"\n[routes.verify]\nscheme = \"stripe\"\n\
               secrets = \"whsec_LEAKED\"\n";
    std::fs::write(&config, bad).unwrap();
    let cfg = config.to_str().unwrap();
    let out = hooklens(dir.path(), &["--config", cfg, "listen", "--headless"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("routes[0].verify.secrets"), "{stderr}");
    assert!(!stderr.contains("LEAKED"), "{stderr}");

    std::fs::write(&config, "").unwrap();
    let running = Running::start(dir.path(), &["--config", cfg]);
    std::fs::write(&config, bad).unwrap();
    let line = running.line_of("config.rejected");
    assert!(line.contains("routes[0].verify.secrets"), "{line}");
    assert!(!line.contains("LEAKED"), "{line}");
    running.stop();
    let out = hooklens(dir.path(), &["events", "list"]);
    assert!(out.status.success());
}

/// A target pointed at hooklens's own receiver: the relayed copy carries this instance's `Via`
/// and is refused (508, `loop_detected`, nothing stored), and the relay does not retry it.
#[tokio::test]
async fn a_relay_loop_is_refused_once_not_multiplied() {
    let h = Harness::start("").await;
    let own = h.url("/");
    std::fs::write(
        h.config_path(),
        format!(
            "[[routes]]\nname = \"hooks\"\npath = \"/hooks\"\ntargets = [\"self\"]\n\n\
             [[targets]]\nname = \"self\"\nurl = \"{own}\"\n[targets.retry]\n\
             max_attempts = 5\ninitial_ms = 10\nmax_ms = 20\n"
        ),
    )
    .unwrap();
    h.wait_for("config.reloaded").await;
    let (status, answer) = h.post("/hooks", "{}").await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["event_id"].as_str().unwrap().to_owned();
    let rejected = h.wait_for("event.rejected").await;
    assert_eq!(
        (&rejected["status"], &rejected["reason"]),
        (&508.into(), &"loop_detected".into())
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let e = loop {
        let e = h.event(&id).await;
        if !e.deliveries[0].state.is_pending() {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "{e:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let d = &e.deliveries[0];
    assert_eq!(d.state, hooklens::model::DeliveryState::Failed, "{e:?}");
    assert_eq!(d.attempts.len(), 1, "a loop is not retried");
    assert_eq!(d.attempts[0].status, Some(508));
    assert_eq!(d.attempts[0].error.as_deref(), Some("loop_detected"));
    let (_, page) = h.api_get("/api/v1/events").await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "only the original is stored"
    );
    h.stop().await;
}

/// Records the `Authorization` header of every request it gets, and answers `/healthz` like
/// an instance would (without the right instance id).
async fn rogue_listener() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use axum::http::HeaderMap;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let log = log.clone();
        async move {
            if let Some(v) = headers.get("authorization") {
                log.lock()
                    .unwrap()
                    .push(v.to_str().unwrap_or("").to_owned());
            }
            axum::Json(serde_json::json!({ "status": "ok", "instance_id": "rogue",
                "items": [], "next_cursor": null }))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn point_instance_json_at(data: &Path, api: std::net::SocketAddr, instance_id: &str) {
    let info = serde_json::json!({ "pid": 1, "instance_id": instance_id,
        "receiver": api.to_string(), "api": api.to_string() });
    std::fs::write(data.join("instance.json"), info.to_string()).unwrap();
}

/// After a crash `instance.json` stays behind; whatever listens on its port must not get the
/// token: the history is not locked (no instance runs), or `/healthz` answers another id.
#[tokio::test]
async fn a_stale_instance_json_hands_the_token_to_nobody() {
    let (rogue, seen) = rogue_listener().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A real instance made the history, the token and instance.json, then died.
    let running = Running::start(dir.path(), &[]);
    let (status, _) = running.post("/x", b"{}");
    assert_eq!(status, 200);
    running.stop();
    point_instance_json_at(&data, rogue, "rogue");
    let d = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || hooklens(&d, &["events", "list", "--json"]))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "read from the file"
    );

    // An instance runs (the history is locked) but instance.json names another listener, whose
    // /healthz answers with the wrong id.
    let running = Running::start(dir.path(), &[]);
    let real_id: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("instance.json")).unwrap()).unwrap();
    assert_eq!(real_id["instance_id"].as_str().unwrap().len(), 32);
    point_instance_json_at(&data, rogue, real_id["instance_id"].as_str().unwrap());
    let d = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || hooklens(&d, &["events", "list"]))
        .await
        .unwrap();
    assert!(
        !out.status.success(),
        "the file is in use and the listener is not the instance"
    );
    running.stop();
    assert!(
        seen.lock().unwrap().is_empty(),
        "the token went to {:?}",
        seen.lock().unwrap()
    );
}

/// Logs on a stderr that is not a terminal (a file, a pipe, CI) carry no colour codes.
#[test]
fn stderr_gets_no_colour_codes_when_it_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Makes the instance warn at start (it tightens the directory).
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = std::process::Command::new(common::binary::BIN)
        .arg("--data")
        .arg(&data)
        .args(["listen", "--headless", "--bind", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert!(ready.contains("\"ready\""), "{ready}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tightened"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// A target that re-signs is another consumer: it gets fresh headers of its own scheme, never
/// the sender's signatures, ids, timestamps or credentials. One whose signature cannot be made
/// gets nothing: the attempt is `sign_failed`.
#[tokio::test]
async fn a_re_signing_target_never_receives_the_senders_credentials() {
    use common::consumer::Consumer;
    let resigned = Consumer::start(vec![]).await;
    let unsignable = Consumer::start(vec![]).await;
    let witness = Consumer::start(vec![]).await;
    let config = format!(
        r#"
[[routes]]
name = "hooks"
path = "/hooks"
targets = ["zentra", "expired", "witness"]
[routes.verify]
scheme = "header-secret"
header = "X-Hook-Token"
secrets = ["route-token"]

[[targets]]
name = "zentra"
url = "{}"
[targets.sign]
scheme = "zentra"
secrets = ["zentra-secret"]

[[targets]]
name = "expired"
url = "{}"
[targets.sign]
scheme = "standard-webhooks"
secrets = [{{ secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM=", expires = "2020-01-01T00:00:00Z" }}]

[[targets]]
name = "witness"
url = "{}"
"#,
        resigned.url("/in"),
        unsignable.url("/in"),
        witness.url("/in"),
    );
    let h = Harness::start(&config).await;
    let sender = [
        ("X-Hook-Token", "route-token"),
        ("Authorization", "Bearer sender-credential"),
        ("Cookie", "session=sender-cookie"),
        ("Stripe-Signature", "t=1,v1=00"),
        ("svix-id", "msg_stale"),
        ("svix-timestamp", "1"),
        ("svix-signature", "v1,AAAA"),
        ("X-Hub-Signature-256", "sha256=00"),
        ("X-Request-Trace", "kept"),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    let (status, answer) = h.post_with("/hooks", b"{\"a\":1}", &sender).await;
    assert_eq!(status, 200, "{answer}");
    let got = resigned
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    let r = &got[0];
    for gone in [
        "x-hook-token",
        "authorization",
        "cookie",
        "stripe-signature",
        "svix-id",
        "svix-timestamp",
        "svix-signature",
        "x-hub-signature-256",
    ] {
        assert!(
            r.header(gone).is_none(),
            "{gone} reached the re-signing target"
        );
    }
    assert_eq!(r.header("x-request-trace"), Some("kept"));
    assert!(r.header("x-zentra-signature").is_some());
    assert!(r.header("via").is_some_and(|v| v.contains("hooklens-")));

    // The witness (passthrough) got everything, so the unsignable target had its turn too.
    witness
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    let id = serde_json::from_str::<serde_json::Value>(&answer).unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let expired = loop {
        let e = h.event(&id).await;
        let d = e
            .deliveries
            .iter()
            .find(|d| d.target == "expired")
            .unwrap()
            .clone();
        if !d.state.is_pending() {
            break d;
        }
        assert!(std::time::Instant::now() < deadline, "{e:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(expired.state, hooklens::model::DeliveryState::Failed);
    assert_eq!(expired.attempts.len(), 1);
    assert_eq!(expired.attempts[0].error.as_deref(), Some("sign_failed"));
    assert_eq!(expired.attempts[0].status, None);
    assert!(
        unsignable.received().is_empty(),
        "nothing was sent unsigned"
    );
    h.stop().await;
}

/// A password in a URL is shown as `***` everywhere — the delivery's target, the lifecycle log,
/// the API — and kept only for the request that needs it.
#[tokio::test]
async fn a_password_in_a_replay_url_is_never_shown() {
    use common::consumer::Consumer;
    let consumer = Consumer::start(vec![]).await;
    let h = Harness::start("").await;
    let (_, answer) = h.post("/x", "{}").await;
    let id = answer["event_id"].as_str().unwrap().to_owned();
    let to = consumer
        .url("/in")
        .replace("http://", "http://user:hunter2@");
    let response = h
        .http
        .post(h.api_url(&format!("/api/v1/events/{id}/replay")))
        .bearer_auth(&h.token)
        .json(&serde_json::json!({ "to": to }))
        .send()
        .await
        .unwrap();
    let replayed = response.text().await.unwrap();
    assert!(!replayed.contains("hunter2"), "{replayed}");
    let got = consumer
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    assert!(
        got[0].header("authorization").is_some(),
        "the request itself still carries the credentials"
    );
    h.wait_for("event.delivery.succeeded").await;
    let (_, shown) = h.api_get(&format!("/api/v1/events/{id}")).await;
    let target = shown["deliveries"][0]["target"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(target, to.replace("hunter2", "***"));
    let (_, deliveries) = h.api_get("/api/v1/deliveries").await;
    let log = serde_json::to_string(&h.lifecycle()).unwrap();
    for text in [shown.to_string(), deliveries.to_string(), log] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    h.stop().await;
}

#[tokio::test]
async fn the_bearer_scheme_is_matched_without_regard_to_case_the_token_exactly() {
    let h = Harness::start("").await;
    let status = |value: String| {
        let (http, url) = (h.http.clone(), h.api_url("/api/v1/events"));
        async move {
            let r = http
                .get(url)
                .header("authorization", value)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        assert_eq!(
            status(format!("{scheme} {}", h.token)).await,
            200,
            "{scheme}"
        );
    }
    assert_eq!(
        status(format!("Bearer {}", h.token.to_uppercase())).await,
        401
    );
    assert_eq!(status(format!("Basic {}", h.token)).await, 401);
    assert_eq!(status(h.token.clone()).await, 401);
    h.stop().await;
}

/// The safe ways to give `sign`/`verify` a secret — a file, the environment — sign exactly as
/// `--secret` does.
#[test]
fn a_secret_from_a_file_or_the_environment_signs_like_one_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, b"{\"a\":1}").unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, b"s3cret\n").unwrap();
    let run = |extra: &[&str], env: Option<&str>| {
        let mut command = std::process::Command::new(common::binary::BIN);
        command
            .args(["sign", "--scheme", "github"])
            .args(extra)
            .arg(&body);
        command.env_remove("HOOKLENS_SECRET");
        if let Some(secret) = env {
            command.env("HOOKLENS_SECRET", secret);
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let inline = run(&["--secret", "s3cret"], None);
    assert!(
        inline.starts_with("X-Hub-Signature-256: sha256="),
        "{inline}"
    );
    assert_eq!(
        run(&["--secret-file", file.to_str().unwrap()], None),
        inline
    );
    assert_eq!(run(&[], Some("s3cret")), inline);
    let out = std::process::Command::new(common::binary::BIN)
        .args(["sign", "--scheme", "github"])
        .arg(&body)
        .env_remove("HOOKLENS_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--secret-file"));
}

/// Every output an operator or a script reads — headless lines, debug logs, `events`,
/// `deliveries` and `targets` (text and JSON), the control API — searched for every configured
/// secret and every credential a sender sent: none appears.
// Multi-threaded: the test reads the instance's lines blocking while its consumer answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_carries_a_secret_or_a_senders_credential() {
    use common::consumer::Consumer;
    let consumer = Consumer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        "whsec_STRIPESECRET",
        "GITHUBSECRET",
        "ROUTETOKEN",
        "ZENTRASECRET",
        "URLPASSWORD",
        "SENDERBEARER",
        "SENDERCOOKIE",
    ];
    let target = consumer
        .url("/in")
        .replace("http://", "http://user:URLPASSWORD@");
    let config = format!(
        r#"
[[routes]]
name = "stripe"
path = "/stripe"
targets = ["app"]
[routes.verify]
scheme = "stripe"
secrets = ["whsec_STRIPESECRET"]

[[routes]]
name = "gh"
path = "/gh"
targets = ["app"]
[routes.verify]
scheme = "github"
secrets = [{{ label = "current", secret = "GITHUBSECRET" }}]

[[routes]]
name = "token"
path = "/token"
targets = ["app"]
[routes.verify]
scheme = "header-secret"
secrets = ["ROUTETOKEN"]

[[targets]]
name = "app"
url = "{target}"
[targets.sign]
scheme = "zentra"
secrets = ["ZENTRASECRET"]
"#
    );
    let path = dir.path().join("hooklens.toml");
    std::fs::write(&path, config).unwrap();
    let cfg = path.to_str().unwrap().to_owned();
    let mut child = std::process::Command::new(common::binary::BIN)
        .arg("--data")
        .arg(dir.path().join("data"))
        .args([
            "--config",
            &cfg,
            "listen",
            "--headless",
            "--bind",
            "127.0.0.1:0",
        ])
        .env("HOOKLENS_LOG", "debug")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || {
        lines
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap()
    };
    let ready: serde_json::Value = serde_json::from_str(&next()).unwrap();
    let receiver = format!("http://{}", ready["receiver"].as_str().unwrap());
    let api = format!("http://{}", ready["api"].as_str().unwrap());
    let http = reqwest::Client::new();
    let credentials = [
        ("authorization", "Bearer SENDERBEARER"),
        ("cookie", "session=SENDERCOOKIE"),
    ];
    for (route, extra) in [
        ("/stripe", ("stripe-signature", "t=1,v1=00")),
        ("/gh", ("x-hub-signature-256", "sha256=00")),
        ("/token", ("x-webhook-secret", "ROUTETOKEN")),
    ] {
        let mut request = http
            .post(format!("{receiver}{route}"))
            .body("{\"id\":\"evt_1\"}");
        for (name, value) in credentials.iter().chain([&extra]) {
            request = request.header(*name, *value);
        }
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
    let mut headless = vec![ready.to_string()];
    let mut ended = 0;
    while ended < 3 {
        let line = next();
        if ["succeeded", "failed", "dead"]
            .iter()
            .any(|end| line.contains(&format!("\"event.delivery.{end}\"")))
        {
            ended += 1;
        }
        headless.push(line);
    }
    let token = std::fs::read_to_string(dir.path().join("data/api-token")).unwrap();
    let get = |route: String| {
        let request = http.get(format!("{api}{route}")).bearer_auth(token.trim());
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let mut outputs = vec![("headless".to_owned(), headless.join("\n"))];
    let list = get("/api/v1/events".into()).await;
    let page: serde_json::Value = serde_json::from_str(&list).unwrap();
    outputs.push(("GET /api/v1/events".into(), list));
    for route in ["/api/v1/deliveries", "/api/v1/endpoints"] {
        outputs.push((route.into(), get(route.into()).await));
    }
    let mut commands: Vec<Vec<String>> = [
        &["events", "list"][..],
        &["deliveries", "list", "--json"],
        &["deliveries", "list"],
        &["targets", "list", "--json"],
        &["targets", "list"],
    ]
    .iter()
    .map(|args| args.iter().map(|a| a.to_string()).collect())
    .collect();
    for item in page["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap().to_owned();
        outputs.push((
            format!("GET event {id}"),
            get(format!("/api/v1/events/{id}")).await,
        ));
        commands.push(vec!["events".into(), "show".into(), id.clone()]);
        commands.push(vec!["events".into(), "show".into(), id, "--json".into()]);
    }
    for args in commands {
        let d = dir.path().to_owned();
        let shown = format!("{args:?}");
        let text = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = hooklens(&d, &args);
            assert!(out.status.success(), "{args:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr)
        })
        .await
        .unwrap();
        if shown.contains("show") && !shown.contains("--json") {
            assert!(text.contains("[redacted]"), "{text}");
        }
        outputs.push((shown, text));
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    outputs.push((
        "debug logs".into(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ));
    for (what, text) in &outputs {
        for secret in secrets {
            assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
        }
    }
    // The consumer got the credentials it needs, and none of the sender's.
    let got = consumer.received();
    assert_eq!(got.len(), 3);
    for r in &got {
        assert!(r.header("cookie").is_none() && r.header("x-webhook-secret").is_none());
    }
}

/// Every API error is the API's own `{error, message}` JSON, a path that does not decode too.
#[tokio::test]
async fn a_path_that_does_not_decode_is_a_json_400() {
    let h = Harness::start("").await;
    for path in ["/api/v1/events/%FF%FE", "/api/v1/targets/%C3%28/pause"] {
        let request = if path.ends_with("pause") {
            h.http.post(h.api_url(path))
        } else {
            h.http.get(h.api_url(path))
        };
        let response = request.bearer_auth(&h.token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{path}");
        let body: serde_json::Value = response.json().await.expect("a JSON error");
        assert_eq!(body["error"], "bad_request", "{path}: {body}");
    }
    h.stop().await;
}
