//! Zentra: `X-Zentra-Signature`, the hex HMAC-SHA256 of the raw body, with the event type and
//! delivery id in `X-Zentra-Event` and `X-Zentra-Delivery-Id`.

use super::Encoding;
use super::body_hmac::BodyHmac;

pub(crate) const ZENTRA: BodyHmac = BodyHmac {
    name: "zentra",
    signature: "X-Zentra-Signature",
    prefix: "",
    encoding: Encoding::Hex,
    event: "X-Zentra-Event",
    id: "X-Zentra-Delivery-Id",
    family: None,
};

#[cfg(test)]
mod tests {
    use crate::model::{Header, Timestamp, Verdict};
    use crate::signature::{Scheme, Secret, Verifier, sign};

    // No published vector: computed independently with Python's standard library,
    // python3 -c 'import hmac,hashlib; print(hmac.new(b"zentra_test_secret",
    //   b"{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}", hashlib.sha256).hexdigest())'
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    const SIGNATURE: &str = "8e03780fe4901e40bf6204795f716ff769c18da3e423218859192d82bd121431";

    #[test]
    fn fixture_in_both_directions() {
        let secrets = Secret::list(["zentra_test_secret"]);
        let sent = sign(
            &Scheme::Zentra,
            &secrets,
            BODY,
            0,
            Some("dlv_1"),
            Some("invoice.paid"),
        );
        assert_eq!(
            sent,
            vec![
                ("X-Zentra-Signature".to_owned(), SIGNATURE.to_owned()),
                ("X-Zentra-Event".to_owned(), "invoice.paid".to_owned()),
                ("X-Zentra-Delivery-Id".to_owned(), "dlv_1".to_owned()),
            ]
        );
        let headers = [Header::new("x-zentra-signature", SIGNATURE)];
        let v = Verifier::new(Scheme::Zentra, secrets).verify(
            &headers,
            BODY,
            Timestamp::from_unix_millis(0),
        );
        assert_eq!(v.verdict, Verdict::Verified);
        assert_eq!(v.secret.as_deref(), Some("#1"));
        assert_eq!(v.received.as_deref(), Some(SIGNATURE));
        assert_eq!(v.expected.as_deref(), Some(SIGNATURE));
        assert_eq!(v.signed_content.as_deref(), Some("{body}"));
        assert_eq!((v.timestamp, v.skew_secs), (None, None));
    }

    #[test]
    fn a_signature_that_is_not_hex_is_malformed() {
        let verifier = Verifier::new(Scheme::Zentra, Secret::list(["s"]));
        for bad in [&b"sha256=00"[..], b"xyz", b"", b"\xff\xfe"] {
            let v = verifier.verify(
                &[Header::new("x-zentra-signature", bad)],
                BODY,
                Timestamp::from_unix_millis(0),
            );
            assert_eq!(v.verdict, Verdict::Malformed, "{bad:?}");
        }
    }
}
