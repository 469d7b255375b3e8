//! The built `hooklens` binary as a user runs it: headless lines, `events list|show` through the
//! running instance and from the file, a `kill -9`, broken configuration.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_hooklens");

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    receiver: String,
}

impl Running {
    fn start(dir: &Path, extra: &[&str]) -> Running {
        Self::start_with(dir, extra, &[])
    }

    fn start_with(dir: &Path, extra: &[&str], listen: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(dir.join("data"))
            .args(extra)
            .args(["listen", "--headless", "--bind", "127.0.0.1:0"])
            .args(listen)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = read_lines(child.stdout.take().unwrap());
        let ready: serde_json::Value = serde_json::from_str(
            &lines
                .recv_timeout(Duration::from_secs(20))
                .expect("ready line"),
        )
        .unwrap();
        assert_eq!(ready["type"], "ready");
        assert!(
            dir.join("data/instance.json").exists(),
            "instance.json is written before ready"
        );
        Running {
            child,
            lines,
            receiver: ready["receiver"].as_str().unwrap().to_owned(),
        }
    }

    fn next_line(&self) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a headless line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    fn post(&self, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
        http::post(&format!("http://{}{}", self.receiver, path), body)
    }
}

impl Drop for Running {
    // A failing assertion must not leave an instance running behind the test.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A tiny blocking HTTP/1.1 client over std, so these tests need no runtime.
mod http {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    pub fn post(url: &str, body: &[u8]) -> (u16, serde_json::Value) {
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = TcpStream::connect(host).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let text = String::from_utf8_lossy(&answer);
        let status = text[9..12].parse().unwrap();
        let json = text
            .split("\r\n\r\n")
            .nth(1)
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(serde_json::Value::Null);
        (status, json)
    }
}

fn hooklens(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--data")
        .arg(dir.join("data"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn headless_prints_ready_then_one_json_line_per_lifecycle_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Running::start(dir.path(), &[]);
    let (status, answer) = run.post("/hooks/stripe?x=1", br#"{"type":"invoice.paid"}"#);
    assert_eq!(status, 200);
    let line = run.next_line();
    assert_eq!(line["type"], "event.received");
    assert_eq!(line["event_id"], answer["event_id"]);
    assert_eq!(line["path"], "/hooks/stripe");
    run.child.kill().unwrap();
    run.child.wait().unwrap();
}

#[test]
fn events_list_and_show_read_a_running_instance_and_the_file_alike() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Running::start(dir.path(), &[]);
    let body = b"\x00binary\xff\x1b[2J body";
    let (_, answer) = run.post("/bin", body);
    let id = answer["event_id"].as_str().unwrap().to_owned();
    let _ = run.post("/second", b"{}");

    let check = |dir: &Path| {
        let out = hooklens(dir, &["events", "list", "--json", "--limit", "1"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["path"], "/second", "newest first");
        let out = hooklens(dir, &["events", "show", &id, "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(shown["body_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, body);
        // The human view never passes escape sequences to the terminal.
        let out = hooklens(dir, &["events", "show", &id]);
        assert!(out.status.success());
        assert!(!out.stdout.contains(&0x1b), "raw ESC reached the terminal");
        assert!(String::from_utf8_lossy(&out.stdout).contains("\\x1b[2J"));
    };
    check(dir.path());
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    // instance.json is now stale (kill -9 left it): the commands read the file instead.
    assert!(dir.path().join("data/instance.json").exists());
    check(dir.path());
}

#[test]
fn every_acknowledged_event_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Running::start(dir.path(), &[]);
    let mut acknowledged = Vec::new();
    let receiver = run.receiver.clone();
    // Keep posting from several threads while the process is killed mid-stream.
    let (tx, rx) = mpsc::channel();
    let posters: Vec<_> = (0..4)
        .map(|t| {
            let tx = tx.clone();
            let receiver = receiver.clone();
            std::thread::spawn(move || {
                for i in 0.. {
                    let body = format!("{{\"thread\":{t},\"n\":{i}}}");
                    let result = std::panic::catch_unwind(|| {
                        http::post(&format!("http://{receiver}/load"), body.as_bytes())
                    });
                    match result {
                        Ok((200, answer)) => {
                            let _ =
                                tx.send((answer["event_id"].as_str().unwrap().to_owned(), body));
                        }
                        _ => break,
                    }
                }
            })
        })
        .collect();
    drop(tx);
    std::thread::sleep(Duration::from_millis(700));
    run.child.kill().unwrap(); // SIGKILL
    run.child.wait().unwrap();
    for p in posters {
        let _ = p.join();
    }
    acknowledged.extend(rx.try_iter());
    assert!(
        acknowledged.len() > 10,
        "only {} events before the kill",
        acknowledged.len()
    );

    let out = hooklens(
        dir.path(),
        &["events", "list", "--json", "--limit", "100000"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored: std::collections::HashSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for (id, _) in &acknowledged {
        assert!(
            stored.contains(id),
            "acknowledged event {id} lost after kill -9"
        );
    }
    let (id, body) = &acknowledged[acknowledged.len() / 2];
    let out = hooklens(dir.path(), &["events", "show", id, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(shown["body_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, body.as_bytes());

    // And the instance starts again over the same file.
    let mut again = Running::start(dir.path(), &[]);
    assert_eq!(again.post("/after", b"{}").0, 200);
    again.child.kill().unwrap();
    again.child.wait().unwrap();
}

#[test]
fn a_broken_config_at_start_is_a_clear_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[receiver]\nmax_body_bytes = 10\nbogus_key = 1\n").unwrap();
    let out = hooklens(
        dir.path(),
        &["--config", path.to_str().unwrap(), "listen", "--headless"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("bogus_key") && err.contains(":3"),
        "{err}"
    );
    let missing = hooklens(dir.path(), &["--config", "/nonexistent/h.toml", "listen"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_live_config_edit_applies_and_a_broken_one_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hooklens.toml");
    std::fs::write(&path, "[receiver]\nmax_body_bytes = 1000\n").unwrap();
    let mut run = Running::start(dir.path(), &["--config", path.to_str().unwrap()]);
    assert_eq!(run.post("/a", &[b'x'; 2000]).0, 413);
    assert_eq!(run.next_line()["type"], "event.rejected");

    std::fs::write(&path, "[receiver]\nmax_body_bytes = 5000\n").unwrap();
    let reloaded = run.next_line();
    assert_eq!(reloaded["type"], "config.reloaded", "{reloaded}");
    assert_eq!(run.post("/a", &[b'x'; 2000]).0, 200);
    assert_eq!(run.next_line()["type"], "event.received");

    std::fs::write(&path, "[receiver\nmax_body_bytes = 10\n").unwrap();
    let rejected = run.next_line();
    assert_eq!(rejected["type"], "config.rejected", "{rejected}");
    assert!(
        rejected["error"]
            .as_str()
            .unwrap()
            .contains("hooklens.toml")
    );
    assert_eq!(
        run.post("/a", &[b'x'; 2000]).0,
        200,
        "the last good config stays"
    );
    run.child.kill().unwrap();
    run.child.wait().unwrap();
}

#[test]
fn usage_errors_exit_2_and_help_has_examples() {
    let out = Command::new(BIN).args(["events", "show"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    for args in [
        &["--help"][..],
        &["listen", "--help"],
        &["events", "list", "--help"],
        &["events", "show", "--help"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Examples:"),
            "{args:?}"
        );
    }
}

#[path = "common/consumer.rs"]
mod consumer;

/// A consumer that accepts connections and never answers: attempts stay in flight.
fn hanging_consumer() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    (addr, accepted)
}

fn show(dir: &Path, id: &str) -> serde_json::Value {
    let out = hooklens(dir, &["events", "show", id, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_in_flight_at_kill_9_are_recorded_interrupted_and_delivered_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, accepted) = hanging_consumer();
    let forward = format!("http://{addr}/in");
    let mut run = Running::start(dir.path(), &[]);
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    let mut run = Running::start_with(dir.path(), &[], &["--forward", &forward]);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            let (status, answer) = run.post("/x", format!("{{\"n\":{i}}}").as_bytes());
            assert_eq!(status, 200);
            answer["event_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while accepted.load(std::sync::atomic::Ordering::SeqCst) < 3
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "all three in flight"
    );
    run.child.kill().unwrap(); // SIGKILL mid-attempt
    run.child.wait().unwrap();

    // The consumer is fixed and back on another port; a config edit is not needed: the
    // deliveries belong to `forward-1`, which the restart points at the new URL.
    let consumer = consumer::Consumer::start(vec![]).await;
    let mut again = Running::start_with(dir.path(), &[], &["--forward", &consumer.url("/in")]);
    let got = consumer.wait_for(3, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 3, "every pending delivery resumed");
    for id in &ids {
        let mut e = show(dir.path(), id);
        for _ in 0..100 {
            if e["deliveries"][0]["state"] == "succeeded" {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            e = show(dir.path(), id);
        }
        let d = &e["deliveries"][0];
        assert_eq!(d["state"], "succeeded", "{e}");
        assert_eq!(d["attempts"][0]["error"], "interrupted", "{d}");
        assert_eq!(d["attempts"][1]["status"], 200);
    }
    again.child.kill().unwrap();
    again.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_works_through_the_instance_and_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let consumer = consumer::Consumer::start(vec![]).await;
    let mut run = Running::start_with(dir.path(), &[], &["--forward", &consumer.url("/in")]);
    let (_, answer) = run.post("/orders", br#"{"order":7}"#);
    let id = answer["event_id"].as_str().unwrap().to_owned();
    consumer.wait_for(1, Duration::from_secs(10)).await;

    let out = hooklens(dir.path(), &["replay", &id]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("forward-1: succeeded"), "{printed}");
    assert_eq!(consumer.wait_for(2, Duration::from_secs(5)).await.len(), 2);
    run.child.kill().unwrap();
    run.child.wait().unwrap();

    // No instance: the command delivers the replay itself.
    let other = consumer::Consumer::start(vec![]).await;
    let out = hooklens(
        dir.path(),
        &["replay", &id, "--to", &other.url("/elsewhere"), "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made[0]["state"], "succeeded");
    assert!(made[0]["replay_of"].is_string());
    let got = other.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, br#"{"order":7}"#);
    assert_eq!(got[0].uri, "/elsewhere");

    let bad = hooklens(dir.path(), &["replay", "not-an-id"]);
    assert_eq!(bad.status.code(), Some(2));
}
