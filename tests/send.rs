//! `send` as a developer uses it against a real consumer: every catalog sample, signed with its
//! provider's scheme, verifies with hooklens's verifier (whose schemes are tested against the
//! providers' published vectors in `signatures.rs`); `--duplicate`, `--stale` and `--tamper` make
//! the failures a consumer must catch; bad input gets a clear error.

mod common;

use common::binary::BIN;
use common::consumer::Consumer;
use hooklens::model::{Verdict, now};
use hooklens::signature::{Scheme, Secret, SecretValue, Verifier};
use std::process::Output;
use std::time::Duration;

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn secret_for(scheme: &str) -> &'static str {
    match scheme {
        "stripe" => "whsec_test_secret",
        "standard-webhooks" => SW_SECRET,
        _ => "s3cret",
    }
}

async fn send(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .env_remove("HOOKLENS_SECRET")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn verdict(scheme: &str, received: &common::consumer::Received) -> Verdict {
    let scheme = Scheme::from_name(scheme).unwrap();
    let secrets = vec![Secret::positional(
        0,
        SecretValue::new(secret_for(scheme.name()).as_bytes()),
    )];
    let headers = received.captured_headers();
    Verifier::new(scheme, secrets)
        .verify(&headers, &received.body, now())
        .verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signed_sample_verifies_as_its_provider_sends_it() {
    let consumer = Consumer::start(vec![]).await;
    let signed: Vec<_> = hooklens::catalog::CATALOG
        .iter()
        .filter(|s| s.scheme.is_some())
        .collect();
    for (n, sample) in signed.iter().enumerate() {
        let scheme = sample.scheme.unwrap();
        let out = send(vec![
            "send".into(),
            sample.event_type.into(),
            "--scheme".into(),
            scheme.into(),
            "--secret".into(),
            secret_for(scheme).into(),
            "--to".into(),
            consumer.url("/in"),
        ])
        .await;
        assert!(
            out.status.success(),
            "{}: {}",
            sample.event_type,
            String::from_utf8_lossy(&out.stderr)
        );
        let got = consumer.wait_for(n + 1, Duration::from_secs(10)).await;
        let r = &got[n];
        assert_eq!(
            verdict(scheme, r),
            Verdict::Verified,
            "{} ({scheme})",
            sample.event_type
        );
        assert_eq!(r.header("content-type"), Some(sample.content_type));
        if scheme == "github" {
            assert_eq!(r.header("x-github-event"), Some(sample.event_type));
            assert!(
                r.header("x-github-delivery")
                    .is_some_and(|id| id.len() == 36)
            );
            assert!(
                r.header("x-hub-signature")
                    .is_some_and(|s| s.starts_with("sha1=") && s.len() == 45),
                "the legacy SHA-1 signature GitHub still sends"
            );
        }
        if scheme == "shopify" {
            assert_eq!(r.header("x-shopify-topic"), Some(sample.event_type));
            assert!(r.header("x-shopify-shop-domain").is_some());
        }
        if scheme == "zentra" {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(r.header("x-zentra-event"), Some(sample.event_type));
            assert_eq!(
                r.header("x-zentra-delivery-id"),
                body["delivery_id"].as_str(),
                "the id header is the payload's delivery id"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_stale_and_tamper_make_the_failures_a_consumer_must_catch() {
    let consumer = Consumer::start(vec![]).await;
    let base = |extra: &str| {
        let mut args: Vec<String> = ["send", "invoice.paid", "--scheme", "standard-webhooks"]
            .map(String::from)
            .to_vec();
        args.extend([
            "--secret".into(),
            SW_SECRET.into(),
            "--to".into(),
            consumer.url("/in"),
        ]);
        args.push(extra.into());
        args
    };
    assert!(send(base("--duplicate")).await.status.success());
    let got = consumer.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[0].body, got[1].body, "the same bytes, twice");
    assert_eq!(verdict("standard-webhooks", &got[1]), Verdict::Verified);
    assert!(send(base("--stale")).await.status.success());
    assert!(send(base("--tamper")).await.status.success());
    let got = consumer.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(verdict("standard-webhooks", &got[2]), Verdict::Stale);
    assert_eq!(verdict("standard-webhooks", &got[3]), Verdict::Mismatch);
    let out = send(base("--json")).await;
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (line["status"].as_u64(), line["event_type"].as_str()),
        (Some(200), Some("invoice.paid"))
    );
    assert!(line["delivery_id"].as_str().unwrap().starts_with("msg_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error() {
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let out = send(args(&[
        "send",
        "invoice.unpaid",
        "--scheme",
        "stripe",
        "--secret",
        "x",
        "--to",
        "localhost:9",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invoice.unpaid") && stderr.contains("ticket.created"),
        "{stderr}"
    );
    // Nothing listens on a port just bound and released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let to = format!("127.0.0.1:{port}/x");
    let out = send(args(&["send", "push", "--secret", "s", "--to", &to])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cannot connect"));
    let consumer = Consumer::start(vec![common::consumer::Reply::status(400)]).await;
    let out = send(args(&[
        "send",
        "push",
        "--secret",
        "s",
        "--to",
        &consumer.url("/in"),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1), "exit 0 only on a 2xx");
    let list = send(args(&["send", "--list"])).await;
    assert!(list.status.success());
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).lines().count(),
        hooklens::catalog::CATALOG.len() + 1
    );
}
