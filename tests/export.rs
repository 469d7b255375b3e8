//! `export` as people use it: a curl script that, run by `sh` against a real consumer, sends
//! every request again byte for byte (JSON, form, multipart, binary, empty); a HAR 1.2 file
//! with the request and the consumer's answer; JSONL shaped like `events show --json`; and no
//! secret in any of them unless `--reveal`.

mod common;

use common::Harness;
use common::binary::hooklens;
use common::consumer::Consumer;
use std::time::Duration;

/// A request exactly as a sender wrote it: the head, then the body.
struct Sent {
    head: String,
    body: Vec<u8>,
}

fn requests() -> Vec<Sent> {
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend_from_slice(b"\x00\xff\xfe'$%\\");
    let multipart = b"--XYZ\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nalice@example.com\r\n--XYZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\x02\r\n--XYZ--\r\n".to_vec();
    let with_body = |line: &str, extra: &str, body: &[u8]| Sent {
        head: format!(
            "{line} HTTP/1.1\r\nHost: hooks.example.test\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ),
        body: body.to_vec(),
    };
    vec![
        with_body(
            "POST /json?x=1&y=%41",
            "Content-Type: application/json\r\nX-Note: it's \"quoted\" $PATH `ls` \\ 100%\r\nUser-Agent: Stripe/1.0\r\n",
            b"{\"a\":\"it's $HOME %s \\\\ \\u00e9\",\"n\":1}\n",
        ),
        with_body(
            "PUT /form",
            "Content-Type: application/x-www-form-urlencoded\r\n",
            b"a=1&b=%20x&c=%27",
        ),
        with_body(
            "POST /multipart",
            "Content-Type: multipart/form-data; boundary=XYZ\r\n",
            &multipart,
        ),
        with_body(
            "POST /binary",
            "Content-Type: application/octet-stream\r\n",
            &binary,
        ),
        Sent {
            head: "GET /empty?probe=1 HTTP/1.1\r\nHost: hooks.example.test\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                .into(),
            body: Vec::new(),
        },
    ]
}

async fn send_all(h: &Harness) -> usize {
    let sent = requests();
    for r in &sent {
        let mut bytes = r.head.clone().into_bytes();
        bytes.extend_from_slice(&r.body);
        let answer = common::raw_exchange(h.receiver(), &bytes, Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    sent.len()
}

/// Headers as a consumer compares them: without those that describe the connection.
fn comparable(pairs: impl Iterator<Item = (String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = pairs
        .filter(|(n, _)| !matches!(n.as_str(), "host" | "content-length" | "connection"))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_curl_export_run_by_sh_sends_every_request_again_byte_for_byte() {
    let h = Harness::start("").await;
    let n = send_all(&h).await;
    let script = h.dir.path().join("replay.sh");
    let d = h.dir.path().to_owned();
    let s = script.clone();
    let out = tokio::task::spawn_blocking(move || {
        hooklens(
            &d,
            &["export", "--format", "curl", "-o", s.to_str().unwrap()],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let consumer = Consumer::start(vec![]).await;
    let run = tokio::task::spawn_blocking({
        let url = format!("http://{}", consumer.addr);
        move || {
            std::process::Command::new("sh")
                .arg(&script)
                .env("HOOKLENS_URL", url)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let got = consumer.wait_for(n, Duration::from_secs(10)).await;
    assert_eq!(got.len(), n);

    let (_, page) = h.api_get("/api/v1/events?limit=10").await;
    let mut originals: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    originals.reverse(); // oldest first, the script's order
    for (id, received) in originals.iter().zip(&got) {
        let e = h.event(id).await;
        let target = if e.query.is_empty() {
            e.path.clone()
        } else {
            format!("{}?{}", e.path, e.query)
        };
        assert_eq!(
            (received.method.as_str(), received.uri.as_str()),
            (e.method.as_str(), target.as_str())
        );
        assert_eq!(received.body, e.body(), "{id}: the body, byte for byte");
        let want = comparable(
            e.headers
                .iter()
                .map(|h| (h.name.clone(), h.value.as_bytes().to_vec())),
        );
        let have = comparable(
            received
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec())),
        );
        assert_eq!(have, want, "{id}: the headers");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn har_and_jsonl_exports_hold_each_request_its_answer_and_no_secret() {
    let consumer = Consumer::start(vec![]).await;
    let config = format!(
        "[[routes]]\nname = \"all\"\npath = \"/\"\ntargets = [\"app\"]\n\n\
         [[targets]]\nname = \"app\"\nurl = \"{}\"\n",
        consumer.url("/in")
    );
    let h = Harness::start(&config).await;
    let n = send_all(&h).await;
    // A request with credentials, which exports show redacted.
    let secret = "Cookie: session=EXPORTSECRET\r\nAuthorization: Bearer EXPORTSECRET\r\n";
    let request = format!(
        "POST /cred HTTP/1.1\r\nHost: h\r\n{secret}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    common::raw_exchange(h.receiver(), request.as_bytes(), Duration::from_secs(5)).await;
    consumer.wait_for(n + 1, Duration::from_secs(10)).await;
    for _ in 0..=n {
        h.wait_for("event.delivery.succeeded").await;
    }
    let export = |args: Vec<&'static str>| {
        let d = h.dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let mut all = vec!["export"];
            all.extend(args);
            let out = hooklens(&d, &all);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        })
    };
    let har: serde_json::Value =
        serde_json::from_slice(&export(vec!["--format", "har"]).await.unwrap()).unwrap();
    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert_eq!(log["creator"]["name"], "hooklens");
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), n + 1);
    for entry in entries {
        for key in [
            "startedDateTime",
            "time",
            "request",
            "response",
            "cache",
            "timings",
        ] {
            assert!(entry.get(key).is_some(), "entry lacks {key}: {entry}");
        }
        let request = &entry["request"];
        for key in [
            "method",
            "url",
            "httpVersion",
            "cookies",
            "headers",
            "queryString",
            "headersSize",
            "bodySize",
        ] {
            assert!(request.get(key).is_some(), "request lacks {key}");
        }
        assert_eq!(entry["response"]["status"], 200, "the consumer's answer");
    }
    let json = entries
        .iter()
        .find(|e| e["request"]["url"].as_str().unwrap().contains("/json"))
        .unwrap();
    assert_eq!(
        json["request"]["url"],
        "http://hooks.example.test/json?x=1&y=%41"
    );
    assert_eq!(
        json["request"]["queryString"][1],
        serde_json::json!({"name": "y", "value": "A"})
    );
    assert_eq!(json["request"]["postData"]["mimeType"], "application/json");
    let binary = entries
        .iter()
        .find(|e| e["request"]["url"].as_str().unwrap().ends_with("/binary"))
        .unwrap();
    assert_eq!(binary["request"]["postData"]["encoding"], "base64");
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        binary["request"]["postData"]["text"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(bytes, requests()[3].body);

    let jsonl = export(vec!["--format", "jsonl"]).await.unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(jsonl.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), n + 1);
    let first = h.event(lines[0]["id"].as_str().unwrap()).await;
    assert_eq!(
        lines[0],
        serde_json::to_value(&first).unwrap(),
        "events show --json, exactly"
    );

    let curl = export(vec!["--format", "curl"]).await.unwrap();
    for (what, bytes) in [
        ("har", serde_json::to_vec(&har).unwrap()),
        ("jsonl", jsonl),
        ("curl", curl),
    ] {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("EXPORTSECRET"), "{what} shows a credential");
        assert!(text.contains("[redacted]"), "{what}");
    }
    let revealed = export(vec!["--format", "jsonl", "--reveal"]).await.unwrap();
    assert!(
        String::from_utf8_lossy(&revealed).contains("EXPORTSECRET"),
        "--reveal includes them"
    );
    h.stop().await;
}
