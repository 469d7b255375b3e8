//! Signatures end to end: a real receiver verifying real signed requests, `reject_invalid`,
//! redaction, duplicates; and the `sign` / `verify` commands of the built binary.

mod common;

use common::Harness;
use hooklens::model::now;
use hooklens::signature::{self, Scheme, Secret, SecretValue};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hooklens");

const CONFIG: &str = r#"
[[routes]]
name = "gh"
path = "/gh"
reject_invalid = true
[routes.verify]
scheme = "github"
secrets = [{ label = "old", secret = "gh-old-secret" }, { label = "new", secret = "gh-new-secret" }]

[[routes]]
name = "stripe"
path = "/stripe"
[routes.verify]
scheme = "stripe"
secrets = ["whsec_stripe_route_secret"]

[[routes]]
name = "shared"
path = "/shared"
[routes.verify]
scheme = "header-secret"
header = "X-Api-Key"
secrets = ["shared-header-secret"]
"#;

fn signed(scheme: Scheme, secret: &str, body: &[u8], id: Option<&str>) -> Vec<(String, String)> {
    let secrets = vec![Secret::positional(0, SecretValue::new(secret.as_bytes()))];
    signature::sign(&scheme, &secrets, body, now().unix_secs(), id, None)
}

async fn post_signed(
    h: &Harness,
    path: &str,
    body: &[u8],
    headers: &[(String, String)],
) -> (u16, String) {
    h.post_with(path, body, headers).await
}

#[tokio::test]
async fn a_rotated_secret_verifies_and_is_named_with_event_facts_and_duplicates() {
    let h = Harness::start(CONFIG).await;
    let body = br#"{"action":"opened"}"#;
    let mut headers = signed(Scheme::Github, "gh-new-secret", body, Some("delivery-7"));
    headers.push(("X-GitHub-Event".into(), "pull_request".into()));
    let (status, answer) = post_signed(&h, "/gh/hook", body, &headers).await;
    assert_eq!(status, 200, "{answer}");
    let first: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let e = h.event(first["event_id"].as_str().unwrap()).await;
    assert_eq!(e.verification.verdict.as_str(), "verified");
    assert_eq!(e.verification.secret.as_deref(), Some("new"));
    assert_eq!(e.event_type.as_deref(), Some("pull_request"));
    assert_eq!(e.dedupe_key.as_deref(), Some("delivery-7"));
    assert_eq!(e.duplicate_of, None);

    let (_, answer) = post_signed(&h, "/gh/hook", body, &headers).await;
    let again: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let e = h.event(again["event_id"].as_str().unwrap()).await;
    assert_eq!(
        e.duplicate_of.map(|id| id.to_string()),
        first["event_id"].as_str().map(str::to_owned)
    );
    h.stop().await;
}

#[tokio::test]
async fn reject_invalid_answers_401_without_evidence_but_records_the_event() {
    let h = Harness::start(CONFIG).await;
    let body = br#"{"action":"closed"}"#;
    let headers = signed(Scheme::Github, "not-the-secret", body, None);
    let (status, answer) = post_signed(&h, "/gh", body, &headers).await;
    assert_eq!(status, 401);
    let rejected: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let e = h.event(rejected["event_id"].as_str().unwrap()).await;
    assert_eq!(e.verification.verdict.as_str(), "mismatch");
    let expected = e
        .verification
        .expected
        .clone()
        .expect("expected signature is recorded");
    assert!(
        !answer.contains(&expected),
        "the 401 must not be a signature oracle: {answer}"
    );
    assert!(!answer.contains("sha256="), "{answer}");
    assert!(!answer.contains("diagnosis"), "{answer}");
    // A missing signature is rejected too.
    let (status, _) = post_signed(&h, "/gh", body, &[]).await;
    assert_eq!(status, 401);
    h.stop().await;
}

#[tokio::test]
async fn another_routes_secret_is_diagnosed_by_route_name_never_by_value() {
    let h = Harness::start(CONFIG).await;
    let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    let headers = signed(Scheme::Stripe, "gh-old-secret", body, None);
    let (status, answer) = post_signed(&h, "/stripe", body, &headers).await;
    assert_eq!(status, 200, "no reject_invalid on this route");
    let id: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let e = h.event(id["event_id"].as_str().unwrap()).await;
    let d = e.verification.diagnosis.expect("a diagnosis");
    assert_eq!(d.code, "other_route_secret");
    assert!(d.message.contains("gh"), "{}", d.message);
    assert!(!d.message.contains("gh-old-secret"));
    assert_eq!(
        e.event_type.as_deref(),
        Some("invoice.paid"),
        "stripe's type is read from the body"
    );
    assert_eq!(e.dedupe_key.as_deref(), Some("evt_1"));
    h.stop().await;
}

#[tokio::test]
async fn a_header_secret_is_verified_redacted_everywhere_and_never_logged() {
    let h = Harness::start(CONFIG).await;
    let headers = vec![
        ("X-Api-Key".to_owned(), "shared-header-secret".to_owned()),
        ("Authorization".to_owned(), "Bearer user-token".to_owned()),
    ];
    let (status, answer) = post_signed(&h, "/shared", b"{}", &headers).await;
    assert_eq!(status, 200);
    let id = serde_json::from_str::<serde_json::Value>(&answer).unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, shown) = h.api_get(&format!("/api/v1/events/{id}")).await;
    assert_eq!(shown["verification"]["verdict"], "verified");
    let text = shown.to_string();
    assert!(
        !text.contains("shared-header-secret") && !text.contains("user-token"),
        "{text}"
    );
    assert!(text.contains("[redacted]"));
    let revealed = h.event(&id).await; // ?reveal=true
    assert!(
        revealed
            .headers
            .iter()
            .any(|h| h.value.to_str() == Some("shared-header-secret"))
    );
    let log = serde_json::to_string(&h.lifecycle()).unwrap();
    assert!(!log.contains("shared-header-secret") && !log.contains("whsec_stripe_route_secret"));
    h.stop().await;
}

#[tokio::test]
async fn a_route_without_verify_names_the_scheme_it_sees_as_no_secret() {
    let h = Harness::start(CONFIG).await;
    let body = br#"{"id":"evt_2","type":"charge.succeeded"}"#;
    let headers = signed(Scheme::Stripe, "whsec_x", body, None);
    let (_, answer) = post_signed(&h, "/elsewhere", body, &headers).await;
    let id: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let e = h.event(id["event_id"].as_str().unwrap()).await;
    assert_eq!(e.route, "default");
    assert_eq!(e.verification.verdict.as_str(), "no_secret");
    assert_eq!(e.verification.scheme.as_deref(), Some("stripe"));
    h.stop().await;
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn sign_then_verify_round_trips_every_scheme_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(
        &body,
        br#"{"type":"demo.event","id":"evt_9","event":{"type":"app_mention"}}"#,
    )
    .unwrap();
    let body = body.to_str().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("zentra", &[]),
        ("standard-webhooks", &[]),
        ("stripe", &[]),
        ("github", &[]),
        ("slack", &[]),
        ("shopify", &[]),
        ("header-secret", &["--secret-header", "X-Token"]),
        (
            "hmac",
            &[
                "--sig-header",
                "X-Sig",
                "--prefix",
                "sha256=",
                "--encoding",
                "base64",
                "--timestamp-header",
                "X-Ts",
                "--signed",
                "{timestamp}.{body}",
            ],
        ),
    ];
    for (scheme, extra) in cases {
        let secret = if *scheme == "standard-webhooks" {
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        } else {
            "demo-secret-value"
        };
        let mut sign = vec![
            "sign",
            "--scheme",
            scheme,
            "--secret",
            secret,
            "--timestamp",
            "1700000000",
            "--id",
            "msg_1",
        ];
        sign.extend_from_slice(extra);
        sign.push(body);
        let out = run(&sign);
        assert!(
            out.status.success(),
            "{scheme}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let headers = String::from_utf8(out.stdout).unwrap();
        let mut verify = vec![
            "verify",
            "--scheme",
            scheme,
            "--secret",
            secret,
            "--now",
            "1700000010",
        ];
        verify.extend_from_slice(extra);
        let header_args: Vec<String> = headers.lines().map(|l| format!("--header={l}")).collect();
        verify.extend(header_args.iter().map(String::as_str));
        verify.push(body);
        let out = run(&verify);
        let printed = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{scheme}: {printed}");
        assert!(
            printed.starts_with("verdict    verified"),
            "{scheme}: {printed}"
        );
        if *scheme != "header-secret" {
            assert!(!printed.contains(secret), "{scheme} printed its secret");
        }
    }
}

#[test]
fn verify_explains_a_failure_and_exits_1_and_bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let compact = dir.path().join("compact.json");
    let pretty = dir.path().join("pretty.json");
    std::fs::write(&compact, br#"{"a":1,"b":[1,2]}"#).unwrap();
    std::fs::write(
        &pretty,
        b"{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ]\n}",
    )
    .unwrap();
    let out = run(&[
        "sign",
        "--scheme",
        "github",
        "--secret",
        "k",
        compact.to_str().unwrap(),
    ]);
    let header = String::from_utf8(out.stdout).unwrap();
    // The first line is X-Hub-Signature-256 (the legacy SHA-1 one follows).
    let header = header.lines().next().unwrap();
    assert!(header.starts_with("X-Hub-Signature-256: "), "{header}");
    let out = run(&[
        "verify",
        "--scheme",
        "github",
        "--secret",
        "k",
        "--header",
        header.trim(),
        "--json",
        pretty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "mismatch");
    assert_eq!(v["diagnosis"]["code"], "body_reserialized");

    let out = run(&[
        "verify",
        "--scheme",
        "nope",
        "--secret",
        "k",
        compact.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scheme"));
    let out = run(&[
        "verify",
        "--scheme",
        "github",
        "--secret",
        "k",
        "--header",
        "no colon",
        compact.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}
