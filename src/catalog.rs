//! The sample events `hooklens send` sends: our source documents' Zentra catalog in its payload
//! shape (`{event, delivery_id, ts, data}`) and provider-shaped samples for signing demos (Stripe,
//! GitHub, Slack, Shopify, Standard Webhooks, Twilio, SendGrid). The files live in
//! `assets/catalog/` and are built into the binary, so `send` works from any directory.
//!
//! A template's `{{id}}`, `{{delivery_id}}`, `{{ts}}` (unix seconds) and `{{iso}}` (RFC 3339) are
//! filled on each send.

use crate::model::Timestamp;

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The event type, as the provider names it (`invoice.paid`, `orders/create`, `push`).
    pub event_type: &'static str,
    /// Who sends it this way: `zentra`, `stripe`, `github`, ...
    pub provider: &'static str,
    /// The signature scheme that provider uses (`None`: it does not sign).
    pub scheme: Option<&'static str>,
    pub content_type: &'static str,
    template: &'static str,
}

macro_rules! sample {
    ($type:literal, $provider:literal, $scheme:expr, $content_type:literal, $file:literal) => {
        Sample {
            event_type: $type,
            provider: $provider,
            scheme: $scheme,
            content_type: $content_type,
            template: include_str!(concat!("../assets/catalog/", $file)),
        }
    };
}

const JSON: &str = "application/json";

/// Every sample, Zentra's first.
pub const CATALOG: &[Sample] = &[
    sample!(
        "ticket.created",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/ticket.created.json"
    ),
    sample!(
        "ticket.updated",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/ticket.updated.json"
    ),
    sample!(
        "ticket.status_changed",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/ticket.status_changed.json"
    ),
    sample!(
        "ticket.resolved",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/ticket.resolved.json"
    ),
    sample!(
        "ticket.sla_breached",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/ticket.sla_breached.json"
    ),
    sample!(
        "change.created",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/change.created.json"
    ),
    sample!(
        "change.approved",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/change.approved.json"
    ),
    sample!(
        "change.rejected",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/change.rejected.json"
    ),
    sample!(
        "change.completed",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/change.completed.json"
    ),
    sample!(
        "problem.created",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/problem.created.json"
    ),
    sample!(
        "problem.resolved",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/problem.resolved.json"
    ),
    sample!(
        "asset.created",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/asset.created.json"
    ),
    sample!(
        "asset.lifecycle_changed",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/asset.lifecycle_changed.json"
    ),
    sample!(
        "transfer.settled",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/transfer.settled.json"
    ),
    sample!(
        "webhook.endpoint.created",
        "zentra",
        Some("zentra"),
        "application/json",
        "zentra/webhook.endpoint.created.json"
    ),
    sample!(
        "payment_intent.succeeded",
        "stripe",
        Some("stripe"),
        "application/json; charset=utf-8",
        "stripe/payment_intent.succeeded.json"
    ),
    sample!(
        "invoice.paid",
        "stripe",
        Some("stripe"),
        "application/json; charset=utf-8",
        "stripe/invoice.paid.json"
    ),
    sample!(
        "push",
        "github",
        Some("github"),
        "application/json",
        "github/push.json"
    ),
    sample!(
        "ping",
        "github",
        Some("github"),
        "application/json",
        "github/ping.json"
    ),
    sample!(
        "event_callback",
        "slack",
        Some("slack"),
        "application/json",
        "slack/event_callback.json"
    ),
    sample!(
        "url_verification",
        "slack",
        Some("slack"),
        "application/json",
        "slack/url_verification.json"
    ),
    sample!(
        "orders/create",
        "shopify",
        Some("shopify"),
        "application/json",
        "shopify/orders-create.json"
    ),
    sample!(
        "invoice.paid",
        "standard-webhooks",
        Some("standard-webhooks"),
        "application/json",
        "standard-webhooks/invoice.paid.json"
    ),
    sample!(
        "sms.received",
        "twilio",
        None,
        "application/x-www-form-urlencoded",
        "twilio/sms.form"
    ),
    sample!(
        "inbound.email",
        "sendgrid",
        None,
        "multipart/form-data; boundary=xYzZY",
        "sendgrid/inbound-parse.multipart"
    ),
];

/// The sample named `event_type` — the one of `scheme`'s provider when several share the name
/// (Stripe's and Standard Webhooks' `invoice.paid`), else the first.
pub fn find(event_type: &str, scheme: Option<&str>) -> Option<&'static Sample> {
    let named = || CATALOG.iter().filter(move |s| s.event_type == event_type);
    named()
        .find(|s| scheme.is_some() && s.scheme == scheme)
        .or_else(|| named().next())
}

impl Sample {
    /// The body to send, its placeholders filled; `id` is this send's unique part.
    pub fn body(&self, id: &str, at: Timestamp) -> String {
        self.template
            .replace("{{delivery_id}}", &format!("dlv_{id}"))
            .replace("{{id}}", id)
            .replace("{{ts}}", &at.unix_secs().to_string())
            .replace("{{iso}}", &at.to_string())
    }

    /// Whether the body is JSON (the others are form-encoded or multipart).
    pub fn is_json(&self) -> bool {
        self.content_type.starts_with(JSON)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each file parses in its content type and names its own event type where the provider
    /// puts it, so a receiver reads the type `send` claims.
    #[test]
    fn every_sample_parses_and_names_its_type() {
        let at = Timestamp::from_unix_millis(1_700_000_000_000);
        for s in CATALOG {
            let body = s.body("0123abcd", at);
            assert!(!body.contains("{{"), "{}: a placeholder left", s.event_type);
            if s.is_json() {
                let v: serde_json::Value = serde_json::from_str(&body)
                    .unwrap_or_else(|e| panic!("{} ({}): {e}", s.event_type, s.provider));
                let named = match s.provider {
                    "zentra" => v["event"].as_str().map(str::to_owned),
                    "stripe" | "standard-webhooks" => v["type"].as_str().map(str::to_owned),
                    "slack" => v["type"].as_str().map(str::to_owned),
                    _ => Some(s.event_type.to_owned()), // GitHub and Shopify: in a header
                };
                assert_eq!(named.as_deref(), Some(s.event_type), "{}", s.provider);
            } else if s
                .content_type
                .starts_with("application/x-www-form-urlencoded")
            {
                let url = reqwest::Url::parse(&format!("http://x/?{body}")).unwrap();
                assert!(url.query_pairs().any(|(k, _)| k == "MessageSid"));
            } else {
                assert!(body.starts_with("--xYzZY\r\n") && body.ends_with("--xYzZY--\r\n"));
            }
        }
        assert_eq!(
            CATALOG.iter().filter(|s| s.provider == "zentra").count(),
            15
        );
    }

    #[test]
    fn a_shared_name_is_found_by_its_scheme() {
        assert_eq!(
            find("invoice.paid", Some("stripe")).unwrap().provider,
            "stripe"
        );
        assert_eq!(
            find("invoice.paid", Some("standard-webhooks"))
                .unwrap()
                .provider,
            "standard-webhooks"
        );
        assert_eq!(
            find("invoice.paid", Some("zentra")).unwrap().provider,
            "stripe"
        );
        assert!(find("invoice.unpaid", None).is_none());
    }
}
