//! Event facts: the event type and the sender's delivery id (the dedupe key), read where each
//! scheme puts them — a header, or a field of a JSON body.

use super::body_hmac::BodyHmac;
use super::github::GITHUB;
use super::rules::{header, text};
use super::shopify::SHOPIFY;
use super::zentra::ZENTRA;
use crate::model::Header;
use serde::Deserialize;
use serde_json::Value;

/// Bodies larger than this are not parsed for facts.
const MAX_BODY: usize = 1024 * 1024;
/// Longer values are not a plausible event type or id, and are not kept.
const MAX_FACT_LEN: usize = 512;

/// `(event_type, dedupe_key)` for a request. `scheme_hint` is the route's scheme name; without one
/// the scheme is detected from the headers. Schemes without such facts (`header-secret`, `hmac`)
/// give `(None, None)`. Body fields are only parsed for schemes that keep them there, and only for
/// a JSON object up to 1 MiB. Slack's type is `event.type`, falling back to the top-level `type`
/// (so a `url_verification` has one).
pub fn event_facts(
    scheme_hint: Option<&str>,
    headers: &[Header],
    body: &[u8],
) -> (Option<String>, Option<String>) {
    let Some(scheme) = scheme_hint.or_else(|| super::detect_name(headers)) else {
        return (None, None);
    };
    let from_header = |name| header(headers, name).and_then(text).and_then(fact);
    // The same header names the scheme signs with, so reading and sending cannot drift apart.
    let from_headers = |s: &BodyHmac| {
        let read = |name| s.find(headers, name).and_then(text).and_then(fact);
        (read(s.event), read(s.id))
    };
    match scheme {
        "zentra" => from_headers(&ZENTRA),
        "github" => from_headers(&GITHUB),
        "shopify" => from_headers(&SHOPIFY),
        "standard-webhooks" => (
            body_fields(body).and_then(|b| value_fact(b.kind.as_ref())),
            from_header("webhook-id").or_else(|| from_header("svix-id")),
        ),
        "stripe" => match body_fields(body) {
            Some(b) => (value_fact(b.kind.as_ref()), value_fact(b.id.as_ref())),
            None => (None, None),
        },
        "slack" => match body_fields(body) {
            Some(b) => {
                let nested = b.event.as_ref().and_then(|e| e.get("type"));
                (
                    value_fact(nested).or_else(|| value_fact(b.kind.as_ref())),
                    value_fact(b.event_id.as_ref()),
                )
            }
            None => (None, None),
        },
        _ => (None, None),
    }
}

/// The few body fields any scheme reads; everything else is skipped by the parser.
#[derive(Deserialize)]
struct BodyFields {
    #[serde(rename = "type")]
    kind: Option<Value>,
    id: Option<Value>,
    event_id: Option<Value>,
    event: Option<Value>,
}

fn body_fields(body: &[u8]) -> Option<BodyFields> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' || body.len() > MAX_BODY {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// A string (or a number, which some senders use for ids) as a fact.
fn value_fact(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => fact(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn fact(s: &str) -> Option<String> {
    (!s.is_empty() && s.len() <= MAX_FACT_LEN).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(
        hint: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (Option<String>, Option<String>) {
        let headers: Vec<_> = headers.iter().map(|(n, v)| Header::new(*n, *v)).collect();
        event_facts(hint, &headers, body.as_bytes())
    }

    fn pair(t: &str, k: &str) -> (Option<String>, Option<String>) {
        (Some(t.to_owned()), Some(k.to_owned()))
    }

    #[test]
    fn each_scheme_reads_its_facts_where_it_keeps_them() {
        let h = [
            ("x-zentra-event", "order.created"),
            ("x-zentra-delivery-id", "dlv_1"),
            ("x-github-event", "push"),
            ("x-github-delivery", "72d3162e"),
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-webhook-id", "b54557e4"),
            ("webhook-id", "msg_1"),
        ];
        let body = r#"{"id":"evt_1","type":"invoice.paid","event_id":"Ev1","event":{"type":"app_mention"}}"#;
        assert_eq!(
            facts(Some("zentra"), &h, body),
            pair("order.created", "dlv_1")
        );
        assert_eq!(facts(Some("github"), &h, body), pair("push", "72d3162e"));
        assert_eq!(
            facts(Some("shopify"), &h, body),
            pair("orders/create", "b54557e4")
        );
        assert_eq!(
            facts(Some("standard-webhooks"), &h, body),
            pair("invoice.paid", "msg_1")
        );
        assert_eq!(
            facts(Some("stripe"), &h, body),
            pair("invoice.paid", "evt_1")
        );
        assert_eq!(facts(Some("slack"), &h, body), pair("app_mention", "Ev1"));
        assert_eq!(facts(Some("hmac"), &h, body), (None, None));
        assert_eq!(facts(Some("header-secret"), &h, body), (None, None));
    }

    #[test]
    fn without_a_hint_the_scheme_is_detected() {
        let h = [
            ("x-hub-signature-256", "sha256=00"),
            ("x-github-event", "issues"),
            ("x-github-delivery", "d-1"),
        ];
        assert_eq!(facts(None, &h, ""), pair("issues", "d-1"));
        assert_eq!(
            facts(None, &[("x-github-event", "issues")], ""),
            (None, None)
        );
    }

    #[test]
    fn bodies_that_are_not_json_objects_give_nothing() {
        for body in [
            "",
            "token=x&type=y",
            "[1,2]",
            "{\"type\":",
            "{\"type\":{\"a\":1}}",
        ] {
            assert_eq!(facts(Some("stripe"), &[], body), (None, None), "{body}");
        }
        // Slack's URL verification has only a top-level type.
        let v = facts(
            Some("slack"),
            &[],
            r#"{"type":"url_verification","challenge":"c"}"#,
        );
        assert_eq!(v, (Some("url_verification".into()), None));
    }

    #[test]
    fn non_utf8_or_huge_header_facts_are_dropped() {
        let huge = "x".repeat(MAX_FACT_LEN + 1);
        let headers = vec![
            Header::new("x-github-event", vec![0xff, 0xfe]),
            Header::new("x-github-delivery", huge),
        ];
        assert_eq!(event_facts(Some("github"), &headers, b""), (None, None));
    }
}
