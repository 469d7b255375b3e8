//! Property tests: no header value, however odd, makes any scheme panic.

use super::{Encoding, HmacParams, Scheme, Secret, Verifier, detect, event_facts};
use crate::model::{Header, Timestamp};
use proptest::prelude::*;

fn schemes() -> Vec<Scheme> {
    vec![
        Scheme::Zentra,
        Scheme::StandardWebhooks,
        Scheme::Stripe,
        Scheme::Github,
        Scheme::Slack,
        Scheme::Shopify,
        Scheme::HeaderSecret {
            header: "X-Webhook-Secret".into(),
        },
        Scheme::Hmac(HmacParams {
            header: "X-Signature".into(),
            prefix: "sha256=".into(),
            encoding: Encoding::Base64,
            timestamp_header: Some("X-Timestamp".into()),
            signed: "{timestamp}.{body}".into(),
        }),
    ]
}

const NAMES: &[&str] = &[
    "x-zentra-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-signature",
    "stripe-signature",
    "x-hub-signature-256",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-shopify-hmac-sha256",
    "x-webhook-secret",
    "x-signature",
    "x-timestamp",
];

/// Header values: raw bytes, long runs, and near-misses built from the schemes' own syntax.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..8192),
        "[tv0-9a-f=,. é\u{0}\u{202e}]{0,200}".prop_map(String::into_bytes),
        "(v1,[A-Za-z0-9+/=]{0,50} ?){0,40}".prop_map(String::into_bytes),
        "(t=[0-9]{0,25}|v1=[0-9a-f]{0,70}|,|=){0,60}".prop_map(String::into_bytes),
        "(sha256=|v0=)?[0-9a-fA-F]{0,80}".prop_map(String::into_bytes),
    ]
}

fn headers() -> impl Strategy<Value = Vec<Header>> {
    proptest::collection::vec((proptest::sample::select(NAMES), value()), 0..8)
        .prop_map(|pairs| pairs.into_iter().map(|(n, v)| Header::new(n, v)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_header_value_gives_a_verdict(headers in headers(), body in proptest::collection::vec(any::<u8>(), 0..256), now in any::<i64>()) {
        let now = Timestamp::from_unix_millis(now);
        for scheme in schemes() {
            let verifier = Verifier::new(scheme, Secret::list(["whsec_c2VjcmV0", "plain"]));
            let other = verifier.clone();
            let v = verifier.verify_with_context(&headers, &body, now, &[("other", &other)]);
            prop_assert_eq!(v.scheme.as_deref(), Some(verifier.scheme().name()));
        }
        let _ = detect(&headers);
        for hint in [None, Some("stripe"), Some("slack"), Some("standard-webhooks"), Some("github")] {
            let _ = event_facts(hint, &headers, &body);
        }
    }
}
