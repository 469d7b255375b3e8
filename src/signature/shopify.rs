//! Shopify: `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the raw body; the topic and
//! webhook id travel in `X-Shopify-Topic` and `X-Shopify-Webhook-Id`.

use super::Encoding;
use super::body_hmac::BodyHmac;

pub(crate) const SHOPIFY: BodyHmac = BodyHmac {
    name: "shopify",
    signature: "X-Shopify-Hmac-Sha256",
    prefix: "",
    encoding: Encoding::Base64,
    event: "X-Shopify-Topic",
    id: "X-Shopify-Webhook-Id",
    family: Some(("X-Shopify-", "shopify-")),
};

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

    /// Shopify's newer unprefixed family (`shopify-hmac-sha256`, `shopify-topic`,
    /// `shopify-webhook-id`), as `@shopify/shopify-api` reads them: verified, with the topic and
    /// webhook id taken from them; a malformed one is `malformed`.
    #[test]
    fn the_newer_unprefixed_headers_verify_and_name_the_event() {
        let secrets = Secret::list(["shpss_test_secret"]);
        let headers = [
            Header::new("shopify-hmac-sha256", SIGNATURE),
            Header::new("shopify-topic", "orders/create"),
            Header::new("shopify-webhook-id", "b54557e4"),
        ];
        let verifier = Verifier::new(Scheme::Shopify, secrets);
        let at = Timestamp::from_unix_millis(0);
        assert_eq!(
            verifier.verify(&headers, BODY, at).verdict,
            Verdict::Verified
        );
        let (event_type, id) = crate::signature::event_facts(Some("shopify"), &headers, BODY);
        assert_eq!(
            (event_type.as_deref(), id.as_deref()),
            (Some("orders/create"), Some("b54557e4"))
        );
        let bad = [Header::new("shopify-hmac-sha256", "not base64!")];
        assert_eq!(verifier.verify(&bad, BODY, at).verdict, Verdict::Malformed);
        // Detected on a route without `verify` too.
        assert_eq!(crate::signature::detect_name(&headers), Some("shopify"));
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
