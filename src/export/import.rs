//! `hooklens import`: a colleague's export read back into events — JSONL (`events show --json`
//! per line, exactly as `export` writes it) or HAR 1.2 (ours, or a browser's). The whole file is
//! checked before anything is written, and the writer stores it in one transaction, so a bad
//! file leaves nothing half-imported; the error names the line or entry that failed.

use super::Format;
use crate::model::{EventDetail, EventMeta, Header, Timestamp, Verdict, Verification};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use ulid::Ulid;

/// Why a file cannot be imported, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ImportError {
    /// `line 3`, `entry 12`, or `the file`.
    pub at: String,
    pub message: String,
}

/// One event to import: its meta (its id proposed, kept when free) and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedEvent {
    pub meta: EventMeta,
    pub body: Vec<u8>,
}

pub fn parse(format: Format, bytes: &[u8]) -> Result<Vec<ImportedEvent>, ImportError> {
    match format {
        Format::Jsonl => jsonl(bytes),
        Format::Har => har(bytes),
        Format::Curl => Err(ImportError {
            at: "the file".into(),
            message: "curl scripts are not imported: export as jsonl or har".into(),
        }),
    }
}

fn jsonl(bytes: &[u8]) -> Result<Vec<ImportedEvent>, ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ImportError {
        at: "the file".into(),
        message: format!("not UTF-8 text: {e}"),
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {}", n + 1);
        let detail: EventDetail = serde_json::from_str(line).map_err(|e| ImportError {
            at: at(),
            message: format!("not an `events show --json` object: {e}"),
        })?;
        let body = STANDARD
            .decode(&detail.body_base64)
            .map_err(|e| ImportError {
                at: at(),
                message: format!("body_base64 is not base64: {e}"),
            })?;
        let sha = hex::encode(Sha256::digest(&body));
        if sha != detail.body_sha256 {
            return Err(ImportError {
                at: at(),
                message: "body_sha256 does not match the body (the line was changed?)".into(),
            });
        }
        out.push(ImportedEvent {
            meta: EventMeta {
                id: detail.id,
                received_at: detail.received_at,
                route: detail.route,
                method: detail.method,
                path: detail.path,
                query: detail.query,
                headers: detail.headers,
                body_sha256: sha,
                body_len: body.len() as u64,
                remote_addr: detail.remote_addr,
                event_type: detail.event_type,
                dedupe_key: detail.dedupe_key,
                duplicate_of: detail.duplicate_of,
                resend_of: detail.resend_of,
                verification: detail.verification,
                secret_headers: Vec::new(),
                imported: true,
            },
            body,
        });
    }
    Ok(out)
}

fn har(bytes: &[u8]) -> Result<Vec<ImportedEvent>, ImportError> {
    let whole = |message: String| ImportError {
        at: "the file".into(),
        message,
    };
    let har: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| whole(format!("not JSON: {e}")))?;
    let entries = har["log"]["entries"]
        .as_array()
        .ok_or_else(|| whole("no log.entries: not a HAR file".into()))?;
    entries
        .iter()
        .enumerate()
        .map(|(n, entry)| {
            har_entry(entry).map_err(|message| ImportError {
                at: format!("entry {}", n + 1),
                message,
            })
        })
        .collect()
}

fn har_entry(entry: &serde_json::Value) -> Result<ImportedEvent, String> {
    let request = &entry["request"];
    let method = request["method"]
        .as_str()
        .ok_or("request.method is missing")?
        .to_owned();
    let url = request["url"].as_str().ok_or("request.url is missing")?;
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("request.url {url:?}: {e}"))?;
    let received_at: Timestamp = serde_json::from_value(entry["startedDateTime"].clone())
        .map_err(|e| format!("startedDateTime: {e}"))?;
    let headers = request["headers"]
        .as_array()
        .ok_or("request.headers is missing")?
        .iter()
        .map(|h| match (h["name"].as_str(), h["value"].as_str()) {
            (Some(name), Some(value)) => Ok(Header::new(name.to_ascii_lowercase(), value)),
            _ => Err("a header without name or value".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let post = &request["postData"];
    let body = match (post["text"].as_str(), post["encoding"].as_str()) {
        (None, _) => Vec::new(),
        (Some(text), Some("base64")) => STANDARD
            .decode(text)
            .map_err(|e| format!("postData.text is not base64: {e}"))?,
        (Some(text), _) => text.as_bytes().to_vec(),
    };
    // Ours carry what the receiver made of it; a browser's HAR does not.
    let ours = &entry["_hooklens"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let verdict = serde_json::from_value(ours["verdict"].clone()).unwrap_or(Verdict::Unsigned);
    Ok(ImportedEvent {
        meta: EventMeta {
            id: text(&ours["event_id"])
                .and_then(|id| Ulid::from_string(&id).ok())
                .unwrap_or(Ulid::nil()),
            received_at,
            route: text(&ours["route"]).unwrap_or_else(|| "imported".into()),
            method,
            path: parsed.path().to_owned(),
            query: parsed.query().unwrap_or_default().to_owned(),
            headers,
            body_sha256: hex::encode(Sha256::digest(&body)),
            body_len: body.len() as u64,
            remote_addr: String::new(),
            event_type: text(&ours["event_type"]),
            dedupe_key: None,
            duplicate_of: None,
            resend_of: None,
            verification: Verification::bare(None, verdict),
            secret_headers: Vec::new(),
            imported: true,
        },
        body,
    })
}
