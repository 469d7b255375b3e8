//! The real binary's interface in a pseudo-terminal (120×40): events sent over HTTP appear,
//! one opens, tabs switch, help opens, `q` quits with status 0 and the terminal is restored.

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Screen(Arc<Mutex<vt100::Parser>>);

impl Screen {
    fn text(&self) -> String {
        self.0.lock().unwrap().screen().contents()
    }

    /// Polls the parsed screen until `pred` holds (bounded).
    fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.text();
            if pred(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn post(addr: &str, path: &str, body: &str) {
    let mut s = TcpStream::connect(addr).expect("connect to the receiver");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 2"), "{answer}");
}

#[test]
fn the_interface_runs_in_a_terminal_and_restores_it() {
    let data = tempfile::tempdir().unwrap();
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_hooklens"));
    cmd.args([
        "--data",
        data.path().to_str().unwrap(),
        "listen",
        "--bind",
        "127.0.0.1:0",
        "--api-bind",
        "127.0.0.1:0",
    ]);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("HOOKLENS_CONFIG");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZeroU16::new(40).unwrap(),
        std::num::NonZeroU16::new(120).unwrap(),
        0,
    )));
    let mut reader = pty.master.try_clone_reader().unwrap();
    let feed = parser.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            feed.lock().unwrap().process(&buf[..n]);
        }
    });
    let mut keys = pty.master.take_writer().unwrap();
    let screen = Screen(parser.clone());

    screen.wait("the empty state", |s| s.contains("No events yet"));
    assert!(parser.lock().unwrap().screen().alternate_screen());
    let info: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.path().join("instance.json")).expect("instance.json"),
    )
    .unwrap();
    let addr = info["receiver"].as_str().unwrap().to_owned();
    assert!(
        screen
            .text()
            .contains(&format!("curl -X POST http://{addr}/hello"))
    );

    post(&addr, "/first/hook", r#"{"n":1}"#);
    post(&addr, "/second/hook", r#"{"n":2,"type":"invoice.paid"}"#);
    screen.wait("both events", |s| {
        s.contains("/first/hook") && s.contains("/second/hook")
    });

    let mut press = |bytes: &[u8]| {
        keys.write_all(bytes).unwrap();
        keys.flush().unwrap();
    };
    press(b"/");
    press(b"second -verdict:mismatch");
    press(b"\r");
    screen.wait("the filtered list", |s| {
        s.contains("/second/hook") && !s.contains("/first/hook")
    });
    press(b"\x1b");
    screen.wait("the filter cleared", |s| s.contains("/first/hook"));
    press(b"j"); // the older one
    press(b"\r");
    screen.wait("the overview", |s| {
        s.contains("[Overview]") && s.contains("Dedupe key")
    });
    press(b"2");
    screen.wait("the request tab", |s| {
        s.contains("[Request]") && s.contains("\"n\": 1")
    });
    press(b"\t");
    screen.wait("the signature tab", |s| {
        s.contains("[Signature]") && s.contains("Verdict")
    });
    press(b"?");
    screen.wait("the help overlay", |s| s.contains("Keys — detail"));
    press(b"?");
    press(b"\x1b");
    screen.wait("the help closed", |s| !s.contains("Keys — detail"));
    press(b"q");

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the interface did not quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let p = parser.lock().unwrap();
    assert!(
        !p.screen().alternate_screen(),
        "the alternate screen was left"
    );
    assert!(!p.screen().hide_cursor(), "the cursor is shown again");
    assert!(
        !data.path().join("instance.json").exists(),
        "the instance shut down cleanly"
    );
}

#[cfg(unix)]
#[test]
fn idle_draws_nothing_and_sigterm_restores_the_terminal() {
    let data = tempfile::tempdir().unwrap();
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_hooklens"));
    cmd.args([
        "--data",
        data.path().to_str().unwrap(),
        "listen",
        "--bind",
        "127.0.0.1:0",
    ]);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("HOOKLENS_CONFIG");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZeroU16::new(24).unwrap(),
        std::num::NonZeroU16::new(80).unwrap(),
        0,
    )));
    let mut reader = pty.master.try_clone_reader().unwrap();
    let feed = parser.clone();
    let bytes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = bytes.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            counted.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
            feed.lock().unwrap().process(&buf[..n]);
        }
    });
    let screen = Screen(parser.clone());
    screen.wait("the empty state", |s| s.contains("No events yet"));
    // Idle: two ticks pass and not one byte is drawn.
    std::thread::sleep(Duration::from_millis(300));
    let before = bytes.load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        bytes.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "frames drawn while idle"
    );
    let pid = child.process_id().expect("a pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "SIGTERM did not stop the interface"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let p = parser.lock().unwrap();
    assert!(
        !p.screen().alternate_screen(),
        "the alternate screen was left"
    );
    assert!(!p.screen().hide_cursor(), "the cursor is shown again");
}
