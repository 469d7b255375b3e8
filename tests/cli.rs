//! Command-line habits people bring from Stripe CLI and other tools: `listen`'s flags without
//! the word (or before it), a `--forward` URL without a scheme.

mod common;

use common::consumer::Consumer;
use std::io::BufRead;
use std::time::Duration;

/// Starts the binary with `args` and the data directory, sends one event, and returns what
/// the consumer got.
async fn relayed_once(args: &[&str], consumer: &Consumer) -> Vec<common::consumer::Received> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(common::binary::BIN)
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&ready).expect("a ready line");
    let receiver = ready["receiver"].as_str().unwrap().to_owned();
    let before = consumer.received().len();
    let status = reqwest::Client::new()
        .post(format!("http://{receiver}/stripe/events?x=1"))
        .body("{}")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let got = consumer.wait_for(before + 1, Duration::from_secs(10)).await;
    child.kill().unwrap();
    let _ = child.wait();
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_flags_work_without_the_word_and_a_url_without_a_scheme_is_http() {
    let consumer = Consumer::start(vec![]).await;
    let forward = format!("localhost:{}/hooks", consumer.addr.port());
    let got = relayed_once(
        &["--headless", "--bind", "127.0.0.1:0", "--forward", &forward],
        &consumer,
    )
    .await;
    assert_eq!(got.len(), 1, "relayed to the --forward target");
    assert_eq!(
        got[0].uri, "/hooks?x=1",
        "the target URL's own path as given, the query appended"
    );
    // Given before the word, they count too.
    let got = relayed_once(
        &[
            "--bind",
            "127.0.0.1:0",
            "--forward",
            &forward,
            "listen",
            "--headless",
        ],
        &consumer,
    )
    .await;
    assert_eq!(got.len(), 2);
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_hooklens()"),
        ("zsh", "#compdef hooklens"),
        ("fish", "complete -c hooklens"),
    ] {
        let out = std::process::Command::new(common::binary::BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {:.80}", text);
        assert!(
            text.contains("replay") && text.contains("targets"),
            "{shell}: the commands"
        );
    }
}
