//! `import` as an on-call engineer uses it: the export a colleague handed over becomes events
//! here — exact bodies, ids kept when free, marked imported — through the file or a running
//! instance; a bad file is refused with the line that failed, and nothing half-imported stays.

mod common;

use common::Harness;
use common::binary::{Running, hooklens, json_lines};
use std::path::Path;

fn export(dir: &Path, format: &str) -> Vec<u8> {
    let out = hooklens(dir, &["export", "--format", format]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_elsewhere_gives_back_the_same_events_marked_imported() {
    // A colleague's history: a JSON event and a binary one.
    let theirs = Harness::start("").await;
    theirs
        .post(
            "/stripe/events",
            "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}",
        )
        .await;
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    theirs.post("/bin", binary.clone()).await;
    let d = theirs.dir.path().to_owned();
    let (jsonl, har) = blocking(move || (export(&d, "jsonl"), export(&d, "har"))).await;
    let originals: Vec<serde_json::Value> = String::from_utf8(jsonl.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    theirs.stop().await;

    // Ours, with no instance running: imported from the file.
    let ours = tempfile::tempdir().unwrap();
    let file = ours.path().join("theirs.jsonl");
    std::fs::write(&file, &jsonl).unwrap();
    let o = ours.path().to_owned();
    let f = file.clone();
    let out =
        blocking(move || hooklens(&o, &["import", "--format", "jsonl", f.to_str().unwrap()])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for original in &originals {
        let id = original["id"].as_str().unwrap().to_owned();
        let o = ours.path().to_owned();
        let out = blocking(move || hooklens(&o, &["events", "show", &id, "--json"])).await;
        let mut shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(shown["imported"], true);
        let mut want = original.clone();
        want["deliveries"] = serde_json::json!([]);
        shown["imported"] = want["imported"].clone();
        assert_eq!(shown, want, "the same event, id and body included");
    }

    // Imported again: the ids are taken now, so they get new ones; HAR through a running
    // instance.
    let running = Running::start(ours.path(), &[]);
    let har_file = ours.path().join("theirs.har");
    std::fs::write(&har_file, &har).unwrap();
    let o = ours.path().to_owned();
    let out = blocking(move || {
        hooklens(
            &o,
            &["import", "--format", "har", har_file.to_str().unwrap()],
        )
    })
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = ours.path().to_owned();
    let listed = blocking(move || json_lines(&hooklens(&o, &["events", "list", "--json"]))).await;
    assert_eq!(listed.len(), 4, "{listed:?}");
    let o = ours.path().to_owned();
    let newest = listed[0]["id"].as_str().unwrap().to_owned();
    let shown = blocking(move || hooklens(&o, &["events", "show", &newest, "--json"])).await;
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["imported"], true);
    assert!(
        originals.iter().all(|o| o["id"] != shown["id"]),
        "a taken id is not reused"
    );
    running.stop();
}

#[test]
fn a_bad_file_is_refused_with_its_line_and_nothing_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"id":"01KAB3000000000000000000AA","received_at":"2026-12-02T12:00:00.000Z","route":"default","method":"POST","path":"/x","query":"","headers":[],"body_base64":"e30=","body_sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","remote_addr":"","event_type":null,"dedupe_key":null,"duplicate_of":null,"resend_of":null,"verification":{"scheme":null,"verdict":"unsigned","secret":null,"timestamp":null,"skew_secs":null,"received":null,"expected":null,"signed_content":null,"diagnosis":null},"deliveries":[]}"#;
    let tampered = good.replace("e30=", "W10="); // `[]`, whose hash is not the one given
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, format!("{good}\n{good}\nnot json\n")).unwrap();
    let out = hooklens(
        dir.path(),
        &["import", "--format", "jsonl", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    std::fs::write(&file, format!("{good}\n{tampered}\n")).unwrap();
    let out = hooklens(
        dir.path(),
        &["import", "--format", "jsonl", file.to_str().unwrap()],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2: body_sha256"),
        "{out:?}"
    );
    let listed = json_lines(&hooklens(dir.path(), &["events", "list", "--json"]));
    assert!(listed.is_empty(), "nothing half-imported: {listed:?}");
    std::fs::write(&file, format!("{good}\n")).unwrap();
    let out = hooklens(
        dir.path(),
        &["import", "--format", "jsonl", file.to_str().unwrap()],
    );
    assert!(out.status.success());
    let listed = json_lines(&hooklens(dir.path(), &["events", "list", "--json"]));
    assert_eq!(listed[0]["id"], "01KAB3000000000000000000AA");
}
