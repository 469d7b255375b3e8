//! The built `hooklens` binary as a user runs it: a headless instance whose lines a test waits
//! on, and one-shot commands.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_hooklens");

pub struct Running {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub receiver: String,
}

impl Running {
    /// `hooklens --data DIR [global...] listen --headless --bind 127.0.0.1:0`, once it is ready.
    pub fn start(dir: &Path, global: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(dir.join("data"))
            .args(global)
            .args(["listen", "--headless", "--bind", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready: serde_json::Value = serde_json::from_str(
            &lines
                .recv_timeout(Duration::from_secs(20))
                .expect("ready line"),
        )
        .unwrap();
        assert_eq!(ready["type"], "ready");
        Running {
            child,
            lines,
            receiver: ready["receiver"].as_str().unwrap().to_owned(),
        }
    }

    /// Waits for `n` headless lines of this type (ten seconds at most each).
    pub fn wait_for(&self, kind: &str, n: usize) {
        let mut seen = 0;
        while seen < n {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("only {seen} of {n} {kind} lines"));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["type"] == kind {
                seen += 1;
            }
        }
    }

    /// The next headless line of this type (ten seconds at most).
    pub fn line_of(&self, kind: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("no {kind} line"));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["type"] == kind {
                return line;
            }
        }
    }

    /// POSTs to the receiver; the status and the JSON answer.
    pub fn post(&self, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
        let mut stream = TcpStream::connect(&self.receiver).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.receiver,
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

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    // A failing assertion must not leave an instance running behind the test.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hooklens --data DIR args...`, run to its end.
pub fn hooklens(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(dir.join("data"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The JSON lines a command printed.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}
