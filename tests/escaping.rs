//! Characters that deceive a terminal — ESC, DEL, C1 (U+009B is an 8-bit CSI), bidi overrides
//! and isolates, zero-width characters — sent through real sockets in paths, header values,
//! bodies, event types, dedupe keys and names, never come back raw: every output (headless
//! lines, `events`, `deliveries`, `targets`, `replay`, `verify`, the control API) is read as
//! bytes and checked, and the JSON ones still round-trip to the original characters.

mod common;

use base64::Engine;
use common::binary::{BIN, Running, hooklens};
use common::consumer::{Consumer, Reply};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;
use std::time::Duration;

/// The Unicode format characters DESIGN.md ("Escaping") names; with every control character but
/// the newline that ends a line, none may appear raw in any output.
const FORMAT: &[char] = &[
    '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}',
    '\u{feff}',
];

/// A route name and a target name carry deceivers too: they are shown in every list.
const ROUTE: &str = "gh\u{202e}";
const TARGET: &str = "app\u{1b}\u{202e}";

/// The GitHub-style request: raw UTF-8 of U+202E and C1 in the path and query (hyper accepts
/// bytes ≥ 0x80 there; a percent-encoded one stays encoded), deceivers in the event and delivery
/// headers and in another header, and a body with ESC, DEL, C1 (as UTF-8 and as a lone byte),
/// U+202E, U+2066, U+200B and U+FEFF. Hyper rejects ESC and DEL in a path or a header value
/// (400), so those arrive through bodies here.
const GH_PATH: &[u8] = b"/gh/%E2%80%AE/\xe2\x80\xae\xc2\x9b";
const GH_QUERY: &[u8] = b"q=\xe2\x81\xa6";
const GH_EVENT: &str = "push\u{202e}\u{2066}\u{9b}";
const GH_DELIVERY: &str = "d-\u{200b}\u{feff}1";
const GH_NOTE: &str = "note\u{202e}\u{9b}\u{2066}";
const GH_BODY: &[u8] =
    b"body \x1b[2J \x7f \xc2\x9b \xe2\x80\xae \xe2\x81\xa6 \xe2\x80\x8b \xef\xbb\xbf \x9b end";

/// A Stripe-shaped body: the event type and dedupe key come from it, as JSON escapes.
const STRIPE_BODY: &str =
    r#"{"id":"evt_\u001b\u007f\u009b\u202e","type":"invoice.\u202e\u2066\u200b\ufeffpaid"}"#;
const STRIPE_ID: &str = "evt_\u{1b}\u{7f}\u{9b}\u{202e}";
const STRIPE_TYPE: &str = "invoice.\u{202e}\u{2066}\u{200b}\u{feff}paid";

/// Standard Webhooks: the dedupe key from `webhook-id`, the type from the body.
const SW_ID: &str = "msg_\u{202e}\u{2066}";
const SW_BODY: &str = r#"{"type":"user.\u001b[31m\u007fcreated"}"#;
const SW_TYPE: &str = "user.\u{1b}[31m\u{7f}created";

/// What the consumer answers: deceivers in a response header and the response body.
const REPLY_NOTE: &str = "fine\u{202e}";
const REPLY_BODY: &[u8] = b"ok \x1b[31m \xe2\x80\xae";

fn config(consumer: &str) -> String {
    format!(
        r#"
[[routes]]
name = "gh\u202E"
path = "/gh"
targets = ["app\u001B\u202E"]
[routes.verify]
scheme = "github"
secrets = ["s3cret"]

[[routes]]
name = "stripe"
path = "/stripe"
targets = ["app\u001B\u202E"]
[routes.verify]
scheme = "stripe"
secrets = ["whsec_test"]

[[routes]]
name = "sw"
path = "/sw"
targets = ["app\u001B\u202E"]
[routes.verify]
scheme = "standard-webhooks"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[targets]]
name = "app\u001B\u202E"
url = "{consumer}"
"#
    )
}

/// Every violation found, so one run shows each output that lets a deceiver through.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    /// No raw control character (but `\n`) and no format character; valid UTF-8 (so no lone
    /// 8-bit CSI either).
    fn inert(&mut self, what: &str, bytes: &[u8]) {
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let lossy = String::from_utf8_lossy(bytes);
                return self.0.push(format!("{what}: not UTF-8 ({e}): {lossy:?}"));
            }
        };
        let raw: Vec<char> = text
            .chars()
            .filter(|&c| (c.is_control() && c != '\n') || FORMAT.contains(&c))
            .collect();
        if !raw.is_empty() {
            self.0.push(format!("{what}: raw {raw:?} in {text:?}"));
        }
    }

    /// Inert, and shows `shown` (an escaped form) somewhere.
    fn shows(&mut self, what: &str, bytes: &[u8], shown: &str) {
        self.inert(what, bytes);
        if !String::from_utf8_lossy(bytes).contains(shown) {
            let text = String::from_utf8_lossy(bytes);
            self.0.push(format!("{what}: no {shown:?} in {text:?}"));
        }
    }

    /// Text output: inert, with the text escape of U+202E.
    fn text(&mut self, what: &str, out: &Output) {
        self.succeeded(what, out);
        self.shows(what, &out.stdout, r"\u{202e}");
    }

    /// Text output, with each of these escaped forms.
    fn text_showing(&mut self, what: &str, out: &Output, shown: &[&str]) {
        self.text(what, out);
        let text = String::from_utf8_lossy(&out.stdout);
        for s in shown.iter().filter(|s| !text.contains(**s)) {
            self.0.push(format!("{what}: no {s:?} in {text:?}"));
        }
    }

    /// JSON output: inert, with the JSON escape of U+202E, one value per line; the values.
    fn json(&mut self, what: &str, out: &Output) -> Vec<Value> {
        self.succeeded(what, out);
        self.json_bytes(what, &out.stdout)
    }

    fn json_bytes(&mut self, what: &str, bytes: &[u8]) -> Vec<Value> {
        self.shows(what, bytes, r"\u202e");
        parse_lines(what, bytes)
    }

    fn succeeded(&mut self, what: &str, out: &Output) {
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            self.0.push(format!("{what}: {}: {stderr}", out.status));
        }
        self.inert(&format!("{what} (stderr)"), &out.stderr);
    }

    fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} finding(s):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// JSON values, one per line: escaping must leave valid JSON.
fn parse_lines(what: &str, bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: {e}: {l}")))
        .collect()
}

/// Sends one request exactly as these bytes on a fresh connection; the status.
fn send(addr: &str, target: &[u8], headers: &[(&str, &[u8])], body: &[u8]) -> u16 {
    let mut request = b"POST ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(format!(" HTTP/1.1\r\nHost: {addr}\r\n").as_bytes());
    for (name, value) in headers {
        request.extend_from_slice(format!("{name}: ").as_bytes());
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(body);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(&request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer[9..12]).parse().unwrap()
}

/// Headless lines, kept, until `received` events and as many successful deliveries are seen.
fn collect_lines(running: &Running, received: usize) -> Vec<String> {
    let (mut events, mut delivered, mut lines) = (0, 0, Vec::new());
    while events < received || delivered < received {
        let line = running
            .lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{events} received, {delivered} delivered: {lines:?}"));
        // Parsed loosely: the checks below say what is wrong with a line.
        let kind = serde_json::from_str::<Value>(&line).map(|v| v["type"].clone());
        match kind.as_ref().ok().and_then(Value::as_str) {
            Some("event.received") => events += 1,
            Some("event.delivery.succeeded") => delivered += 1,
            _ => {}
        }
        lines.push(line);
    }
    lines
}

/// A GET to the control API; the status and the body's bytes.
async fn api(http: &reqwest::Client, base: &str, token: &str, path: &str) -> (u16, Vec<u8>) {
    let response = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a str> {
    headers
        .as_array()?
        .iter()
        .find(|h| h[0] == name)
        .and_then(|h| h[1].as_str())
}

fn base64(text: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text.as_str().unwrap())
        .unwrap()
}

// Multi-threaded: the consumer answers on the workers while this thread blocks on the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deceiving_characters_never_reach_an_output_raw_and_json_keeps_them() {
    let consumer = Consumer::start(
        (0..8)
            .map(|_| {
                Reply::status(200)
                    .header("x-reply", REPLY_NOTE)
                    .body(REPLY_BODY)
            })
            .collect(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("hooklens.toml");
    std::fs::write(&config_path, config(&consumer.url("/in"))).unwrap();
    let cfg = config_path.to_str().unwrap();
    let running = Running::start(dir.path(), &["--config", cfg]);
    let addr = running.receiver.clone();

    let mut gh_target = GH_PATH.to_vec();
    gh_target.push(b'?');
    gh_target.extend_from_slice(GH_QUERY);
    let gh_headers: [(&str, &[u8]); 3] = [
        ("X-GitHub-Event", GH_EVENT.as_bytes()),
        ("X-GitHub-Delivery", GH_DELIVERY.as_bytes()),
        ("X-Note", GH_NOTE.as_bytes()),
    ];
    assert_eq!(send(&addr, &gh_target, &gh_headers, GH_BODY), 200);
    let stripe = [("Content-Type", &b"application/json"[..])];
    assert_eq!(
        send(&addr, b"/stripe", &stripe, STRIPE_BODY.as_bytes()),
        200
    );
    let sw = [("webhook-id", SW_ID.as_bytes())];
    assert_eq!(send(&addr, b"/sw", &sw, SW_BODY.as_bytes()), 200);
    let lines = collect_lines(&running, 3);

    let mut findings = Findings::default();
    let headless = findings.json_bytes("headless output", lines.join("\n").as_bytes());
    let received: Vec<&Value> = headless
        .iter()
        .filter(|v| v["type"] == "event.received")
        .collect();
    let gh_line = received.iter().find(|v| v["route"] == ROUTE).unwrap();
    let gh_path = String::from_utf8(GH_PATH.to_vec()).unwrap();
    assert_eq!(gh_line["path"], gh_path.as_str(), "the path round-trips");
    assert_eq!(gh_line["event_type"], GH_EVENT);
    assert_eq!(gh_line["dedupe_key"], GH_DELIVERY);
    let id_of = |route: &str| {
        received.iter().find(|v| v["route"] == route).unwrap()["event_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (gh, stripe, sw) = (id_of(ROUTE), id_of("stripe"), id_of("sw"));

    // The commands, through the running instance.
    let run = |args: &[&str]| hooklens(dir.path(), args);
    findings.text("events list", &run(&["events", "list"]));
    let listed = findings.json("events list --json", &run(&["events", "list", "--json"]));
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().any(|e| e["event_type"] == STRIPE_TYPE));
    findings.text_showing(
        "events show (github)",
        &run(&["events", "show", &gh]),
        &[
            r"/gh/%E2%80%AE/\u{202e}\u{9b}?q=\u{2066}",
            r"push\u{202e}\u{2066}\u{9b}",
            r"d-\u{200b}\u{feff}1",
            r"x-note: note\u{202e}\u{9b}\u{2066}",
            r"body \x1b[2J \x7f \u{9b} \u{202e} \u{2066} \u{200b} \u{feff} \x9b end",
        ],
    );
    findings.text_showing(
        "events show (stripe)",
        &run(&["events", "show", &stripe]),
        &[
            r"invoice.\u{202e}\u{2066}\u{200b}\u{feff}paid",
            r"evt_\x1b\x7f\u{9b}\u{202e}",
        ],
    );
    findings.text_showing(
        "events show (standard webhooks)",
        &run(&["events", "show", &sw]),
        &[r"msg_\u{202e}\u{2066}", r"user.\x1b[31m\x7fcreated"],
    );

    // JSON keeps every character: the escapes decode to exactly what was sent.
    let detail = &findings.json(
        "events show --json",
        &run(&["events", "show", &gh, "--json"]),
    )[0];
    assert_eq!(detail["path"], gh_path.as_str());
    assert_eq!(detail["query"], std::str::from_utf8(GH_QUERY).unwrap());
    assert_eq!(detail["route"], ROUTE);
    assert_eq!(detail["event_type"], GH_EVENT);
    assert_eq!(detail["dedupe_key"], GH_DELIVERY);
    assert_eq!(header(&detail["headers"], "x-note"), Some(GH_NOTE));
    assert_eq!(base64(&detail["body_base64"]), GH_BODY);
    let delivery = &detail["deliveries"][0];
    assert_eq!(delivery["target"], TARGET);
    let attempt = &delivery["attempts"][0];
    assert_eq!(
        header(&attempt["response_headers"], "x-reply"),
        Some(REPLY_NOTE)
    );
    assert_eq!(base64(&attempt["response_body_base64"]), REPLY_BODY);
    let detail = &findings.json(
        "events show --json",
        &run(&["events", "show", &stripe, "--json"]),
    )[0];
    assert_eq!(
        (&detail["event_type"], &detail["dedupe_key"]),
        (&STRIPE_TYPE.into(), &STRIPE_ID.into())
    );
    let detail = &findings.json(
        "events show --json",
        &run(&["events", "show", &sw, "--json"]),
    )[0];
    assert_eq!(
        (&detail["event_type"], &detail["dedupe_key"]),
        (&SW_TYPE.into(), &SW_ID.into())
    );

    findings.text("deliveries list", &run(&["deliveries", "list"]));
    let deliveries = findings.json(
        "deliveries list --json",
        &run(&["deliveries", "list", "--json"]),
    );
    assert!(deliveries.iter().all(|d| d["target"] == TARGET));
    findings.text("targets list", &run(&["targets", "list"]));
    let targets = findings.json("targets list --json", &run(&["targets", "list", "--json"]));
    assert_eq!(targets[0]["name"], TARGET);
    let replayed = run(&["replay", &stripe]);
    findings.text("replay", &replayed);
    let replayed = findings.json("replay --json", &run(&["replay", &stripe, "--json"]));
    assert_eq!(replayed[0][0]["target"], TARGET);

    // The control API: pages, one event, and an error that quotes what it was sent.
    let base = format!(
        "http://{}",
        serde_json::from_slice::<Value>(
            &std::fs::read(dir.path().join("data/instance.json")).unwrap()
        )
        .unwrap()["api"]
            .as_str()
            .unwrap()
    );
    let token = std::fs::read_to_string(dir.path().join("data/api-token")).unwrap();
    let (http, token) = (reqwest::Client::new(), token.trim());
    for path in [
        "/api/v1/events".to_owned(),
        format!("/api/v1/events/{gh}"),
        "/api/v1/deliveries".to_owned(),
        "/api/v1/endpoints".to_owned(),
    ] {
        let (status, body) = api(&http, &base, token, &path).await;
        assert_eq!(status, 200, "{path}");
        findings.json_bytes(&path, &body);
    }
    let (status, body) = api(&http, &base, token, &format!("/api/v1/events/{gh}")).await;
    assert_eq!(status, 200);
    let detail: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(detail["event_type"], GH_EVENT);
    assert_eq!(base64(&detail["body_base64"]), GH_BODY);
    let (status, body) = api(&http, &base, token, "/api/v1/events?%E2%80%AE=1").await;
    assert_eq!(status, 400);
    let error = &findings.json_bytes("API error", &body)[0];
    assert!(error["message"].as_str().unwrap().contains('\u{202e}'));

    // `verify --json` quotes a received header.
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, b"{}").unwrap();
    let verify = std::process::Command::new(BIN)
        .args(["verify", "--scheme", "hmac", "--secret", "k"])
        .args(["--sig-header", "X-Sig", "--timestamp-header", "X-Ts"])
        .args(["--signed", "{timestamp}.{body}", "--json"])
        .arg("--header=X-Sig: \u{202e}00")
        .arg("--header=X-Ts: 17\u{202e}00")
        .arg(&body_file)
        .output()
        .unwrap();
    findings.inert("verify --json", &verify.stdout);
    findings.json_bytes("verify --json", &verify.stdout);
    let verify = std::process::Command::new(BIN)
        .args(["verify", "--scheme", "hmac", "--secret", "k"])
        .args(["--sig-header", "X-Sig", "--timestamp-header", "X-Ts"])
        .args(["--signed", "{timestamp}.{body}"])
        .arg("--header=X-Sig: \u{202e}00")
        .arg("--header=X-Ts: 17\u{202e}00")
        .arg(&body_file)
        .output()
        .unwrap();
    findings.shows("verify", &verify.stdout, r"\u{202e}");
    findings.inert("verify (stderr)", &verify.stderr);
    running.stop();

    // The same commands on the file, with no instance running.
    findings.text("events list (file)", &run(&["events", "list"]));
    findings.json(
        "events list --json (file)",
        &run(&["events", "list", "--json"]),
    );
    findings.text("events show (file)", &run(&["events", "show", &gh]));
    let detail = &findings.json(
        "events show --json (file)",
        &run(&["events", "show", &gh, "--json"]),
    )[0];
    assert_eq!(header(&detail["headers"], "x-note"), Some(GH_NOTE));
    findings.text("deliveries list (file)", &run(&["deliveries", "list"]));
    findings.json(
        "deliveries list --json (file)",
        &run(&["deliveries", "list", "--json"]),
    );
    findings.assert_none();
}
