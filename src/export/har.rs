//! HAR 1.2 (<http://www.softwareishard.com/blog/har-12-spec/>): one entry per event — the request
//! as received (headers, query string, body; a body that is not UTF-8 is base64 with `encoding`)
//! and, when the event was delivered, the latest attempt's answer as the response. Written entry
//! by entry inside the `log` object, so the export streams.

use crate::model::{Attempt, EventDetail, Header};
use serde_json::{Value, json};
use std::io::{self, Write};

pub fn begin(out: &mut impl Write) -> io::Result<()> {
    let creator = json!({ "name": "hooklens", "version": env!("CARGO_PKG_VERSION") });
    write!(
        out,
        "{{\"log\":{{\"version\":\"1.2\",\"creator\":{creator},\"pages\":[],\"entries\":["
    )
}

pub fn entry(out: &mut impl Write, e: &EventDetail, first: bool) -> io::Result<()> {
    if !first {
        out.write_all(b",")?;
    }
    out.write_all(b"\n")?;
    let line = crate::text::to_json_line(&har_entry(e))?;
    out.write_all(line.trim_ascii_end())
}

pub fn end(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"\n]}}\n")
}

fn har_entry(e: &EventDetail) -> Value {
    let host = e
        .headers
        .iter()
        .find(|h| h.name == "host")
        .and_then(|h| h.value.to_str())
        .unwrap_or("127.0.0.1");
    let url = if e.query.is_empty() {
        format!("http://{host}{}", e.path)
    } else {
        format!("http://{host}{}?{}", e.path, e.query)
    };
    let body = e.body();
    let content_type = header(&e.headers, "content-type").unwrap_or_default();
    let mut request = json!({
        "method": e.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers(&e.headers),
        "queryString": query_string(&e.query),
        "headersSize": -1,
        "bodySize": body.len(),
    });
    if !body.is_empty() {
        let (text, encoding) = text_of(&body);
        let mut post = json!({ "mimeType": content_type, "text": text });
        if let Some(encoding) = encoding {
            post["encoding"] = encoding.into();
        }
        request["postData"] = post;
    }
    let latest = e
        .deliveries
        .iter()
        .flat_map(|d| d.attempts.iter())
        .max_by_key(|a| a.started_at);
    json!({
        "startedDateTime": e.received_at,
        "time": latest.map_or(0, |a| a.duration_ms),
        "request": request,
        "response": response(latest),
        "cache": {},
        "timings": { "send": 0, "wait": latest.map_or(0, |a| a.duration_ms), "receive": 0 },
        "_hooklens": {
            "event_id": e.id,
            "route": e.route,
            "event_type": e.event_type,
            "verdict": e.verification.verdict,
            "deliveries": e.deliveries.iter().map(|d| json!({
                "id": d.id, "target": d.target, "state": d.state,
            })).collect::<Vec<_>>(),
        },
    })
}

/// The latest attempt's answer; a request nobody answered has status 0 (as devtools shows a
/// request that failed) and says why in `_error`.
fn response(attempt: Option<&Attempt>) -> Value {
    let Some(a) = attempt else {
        return empty_response(None);
    };
    let Some(status) = a.status else {
        return empty_response(a.error.as_deref());
    };
    let body = a
        .response_body_base64
        .as_deref()
        .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok())
        .unwrap_or_default();
    let (text, encoding) = text_of(&body);
    let mut content = json!({
        "size": a.response_size.unwrap_or(body.len() as u64),
        "mimeType": header(&a.response_headers, "content-type").unwrap_or_default(),
        "text": text,
    });
    if let Some(encoding) = encoding {
        content["encoding"] = encoding.into();
    }
    json!({
        "status": status,
        "statusText": "",
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers(&a.response_headers),
        "content": content,
        "redirectURL": header(&a.response_headers, "location").unwrap_or_default(),
        "headersSize": -1,
        "bodySize": body.len(),
    })
}

fn empty_response(error: Option<&str>) -> Value {
    json!({
        "status": 0,
        "statusText": "",
        "httpVersion": "",
        "cookies": [],
        "headers": [],
        "content": { "size": 0, "mimeType": "" },
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": -1,
        "_error": error,
    })
}

/// A body as HAR text: as it is when it is UTF-8, else base64 (with `encoding`).
fn text_of(body: &[u8]) -> (String, Option<&'static str>) {
    match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), None),
        Err(_) => (
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body),
            Some("base64"),
        ),
    }
}

fn headers(headers: &[Header]) -> Vec<Value> {
    headers
        .iter()
        .map(|h| {
            let value = match h.value.to_str() {
                Some(v) => v.to_owned(),
                None => String::from_utf8_lossy(h.value.as_bytes()).into_owned(),
            };
            json!({ "name": h.name, "value": value })
        })
        .collect()
}

fn header<'h>(headers: &'h [Header], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| h.value.to_str())
}

/// The query string's pairs, decoded as browsers show them.
fn query_string(query: &str) -> Vec<Value> {
    if query.is_empty() {
        return Vec::new();
    }
    reqwest::Url::parse(&format!("http://q/?{query}"))
        .map(|url| {
            url.query_pairs()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect()
        })
        .unwrap_or_default()
}
