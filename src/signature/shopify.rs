//! Shopify: `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the raw body; the topic and
//! webhook id travel in `X-Shopify-Topic` and `X-Shopify-Webhook-Id`.

use super::Encoding;
use super::rules::{
    Failure, Parsed, Rules, SignContext, Signed, evidence, header, single_signature,
};
use crate::model::Header;
use std::borrow::Cow;

const SIGNATURE: &str = "X-Shopify-Hmac-Sha256";
const TOPIC: &str = "X-Shopify-Topic";
const WEBHOOK_ID: &str = "X-Shopify-Webhook-Id";

pub(crate) struct Shopify;

impl Rules for Shopify {
    fn name(&self) -> &'static str {
        "shopify"
    }

    fn present(&self, headers: &[Header]) -> bool {
        header(headers, SIGNATURE).is_some()
    }

    fn parse(&self, headers: &[Header]) -> Result<Parsed, Failure> {
        let raw = header(headers, SIGNATURE).ok_or_else(|| Failure::missing(None, None))?;
        Ok(Parsed {
            signatures: vec![single_signature(raw, "", Encoding::Base64)?],
            received: Some(evidence(raw)),
            timestamp: None,
            signed: Signed::body(),
        })
    }

    fn expected(&self, computed: &[u8], _: &Parsed) -> String {
        Encoding::Base64.encode(computed)
    }

    fn sign(&self, keys: &[Cow<'_, [u8]>], ctx: &SignContext<'_>) -> Vec<(String, String)> {
        let mac = self.compute(&keys[0], &Signed::body(), ctx.body);
        let mut out = vec![(SIGNATURE.to_owned(), Encoding::Base64.encode(&mac))];
        if let Some(topic) = ctx.event_type {
            out.push((TOPIC.to_owned(), topic.to_owned()));
        }
        if let Some(id) = ctx.id {
            out.push((WEBHOOK_ID.to_owned(), id.to_owned()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Header, Timestamp, Verdict};
    use crate::signature::{Scheme, Secret, Verifier, sign};

    // No published vector: computed independently with Python's standard library,
    // python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b"shpss_test_secret",
    //   b"{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}", hashlib.sha256).digest()).decode())'
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    const SIGNATURE: &str = "ji0rV7bSSeMQjwdI+rrMi6bvBATyTNAtmtZ47g/np1Q=";

    #[test]
    fn fixture_in_both_directions() {
        let secrets = Secret::list(["shpss_test_secret"]);
        let sent = sign(
            &Scheme::Shopify,
            &secrets,
            BODY,
            0,
            Some("b54557e4"),
            Some("orders/create"),
        );
        assert_eq!(
            sent,
            vec![
                ("X-Shopify-Hmac-Sha256".to_owned(), SIGNATURE.to_owned()),
                ("X-Shopify-Topic".to_owned(), "orders/create".to_owned()),
                ("X-Shopify-Webhook-Id".to_owned(), "b54557e4".to_owned()),
            ]
        );
        let headers = [Header::new("x-shopify-hmac-sha256", SIGNATURE)];
        let v = Verifier::new(Scheme::Shopify, secrets).verify(
            &headers,
            BODY,
            Timestamp::from_unix_millis(0),
        );
        assert_eq!(v.verdict, Verdict::Verified);
        assert_eq!(v.expected.as_deref(), Some(SIGNATURE));
    }

    #[test]
    fn a_signature_that_is_not_base64_is_malformed() {
        let verifier = Verifier::new(Scheme::Shopify, Secret::list(["s"]));
        let v = verifier.verify(
            &[Header::new("x-shopify-hmac-sha256", "not base64!")],
            BODY,
            Timestamp::from_unix_millis(0),
        );
        assert_eq!(v.verdict, Verdict::Malformed);
    }
}
