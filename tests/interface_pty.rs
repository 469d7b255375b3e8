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

/// The real binary in a pseudo-terminal of `rows`×`cols`, its output parsed as a terminal
/// would show it (and counted, to tell when nothing is drawn).
struct Session {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    keys: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    bytes: Arc<std::sync::atomic::AtomicUsize>,
    reader: Option<std::thread::JoinHandle<()>>,
    // Dropped last: the pty stays open while the test reads it.
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Session {
    fn start(data: &std::path::Path, rows: u16, cols: u16, listen: &[&str]) -> Session {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_hooklens"));
        cmd.args(["--data", data.to_str().unwrap(), "listen"]);
        cmd.args(listen);
        cmd.env("TERM", "xterm-256color");
        // The glyphs these screens are read by; a C locale would get the ASCII fallbacks.
        cmd.env("LANG", "C.UTF-8");
        for unset in ["LC_ALL", "LC_CTYPE", "HOOKLENS_ASCII"] {
            cmd.env_remove(unset);
        }
        cmd.env_remove("HOOKLENS_CONFIG");
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(rows).unwrap(),
            std::num::NonZeroU16::new(cols).unwrap(),
            0,
        )));
        let mut output = pty.master.try_clone_reader().unwrap();
        let (feed, bytes) = (
            parser.clone(),
            Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        );
        let counted = bytes.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 {
                    break;
                }
                counted.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
                feed.lock().unwrap().process(&buf[..n]);
            }
        });
        Session {
            child,
            keys: pty.master.take_writer().unwrap(),
            parser,
            bytes,
            reader: Some(reader),
            _master: pty.master,
        }
    }

    fn screen(&self) -> Screen {
        Screen(self.parser.clone())
    }

    fn press(&mut self, bytes: &[u8]) {
        self.keys.write_all(bytes).unwrap();
        self.keys.flush().unwrap();
    }

    fn drawn(&self) -> usize {
        self.bytes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits for the process to end with status 0, then for the last of its output to be
    /// parsed, and checks the terminal is as it was: the alternate screen left, the cursor shown.
    fn ends_restored(&mut self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not stop the interface"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "exit status {status:?}");
        // The reader ends at EOF (no process holds the pty any more): everything is parsed.
        if let Some(reader) = self.reader.take() {
            let (done, finished) = std::sync::mpsc::channel();
            std::thread::spawn(move || done.send(reader.join()));
            let _ = finished.recv_timeout(Duration::from_secs(5));
        }
        let p = self.parser.lock().unwrap();
        assert!(
            !p.screen().alternate_screen(),
            "the alternate screen was left"
        );
        assert!(!p.screen().hide_cursor(), "the cursor is shown again");
    }
}

#[test]
fn the_interface_runs_in_a_terminal_and_restores_it() {
    let data = tempfile::tempdir().unwrap();
    let mut session = Session::start(
        data.path(),
        40,
        120,
        &["--bind", "127.0.0.1:0", "--api-bind", "127.0.0.1:0"],
    );
    let screen = session.screen();

    screen.wait("the empty state", |s| s.contains("No events yet"));
    assert!(session.parser.lock().unwrap().screen().alternate_screen());
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

    session.press(b"/");
    session.press(b"second -verdict:mismatch");
    session.press(b"\r");
    screen.wait("the filtered list", |s| {
        s.contains("/second/hook") && !s.contains("/first/hook")
    });
    session.press(b"\x1b");
    screen.wait("the filter cleared", |s| s.contains("/first/hook"));
    session.press(b"j"); // the older one
    session.press(b"\r");
    screen.wait("the overview", |s| {
        s.contains("[Overview]") && s.contains("Dedupe key")
    });
    session.press(b"2");
    screen.wait("the request tab", |s| {
        s.contains("[Request]") && s.contains("\"n\": 1")
    });
    session.press(b"\t");
    screen.wait("the signature tab", |s| {
        s.contains("[Signature]") && s.contains("Verdict")
    });
    session.press(b"?");
    screen.wait("the help overlay", |s| s.contains("Help — detail"));
    session.press(b"?");
    session.press(b"\x1b");
    screen.wait("the help closed", |s| !s.contains("Help — detail"));
    session.press(b"q");
    session.ends_restored("q");
    assert!(
        !data.path().join("instance.json").exists(),
        "the instance shut down cleanly"
    );
}

#[cfg(unix)]
#[test]
fn idle_draws_nothing_and_sigterm_restores_the_terminal() {
    let data = tempfile::tempdir().unwrap();
    let mut session = Session::start(data.path(), 24, 80, &["--bind", "127.0.0.1:0"]);
    let screen = session.screen();
    screen.wait("the empty state", |s| s.contains("No events yet"));
    // Idle: two ticks pass and not one byte is drawn.
    std::thread::sleep(Duration::from_millis(300));
    let before = session.drawn();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(session.drawn(), before, "frames drawn while idle");
    let pid = session.child.process_id().expect("a pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    session.ends_restored("SIGTERM");
}
