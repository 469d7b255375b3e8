//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body; the event type and
//! delivery id travel in `X-GitHub-Event` and `X-GitHub-Delivery`. GitHub also still sends the
//! legacy `X-Hub-Signature: sha1=<hex>` (HMAC-SHA1), which older consumers check: signing writes
//! it too; verifying reads only the SHA-256 one.

use super::Encoding;
use super::body_hmac::BodyHmac;
use hmac::{Hmac, KeyInit, Mac};

/// The legacy header GitHub sends beside [`GITHUB`]'s.
pub(crate) const LEGACY_HEADER: &str = "X-Hub-Signature";

/// `sha1=<hex>`: HMAC-SHA1 of the body.
pub(crate) fn legacy_signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

pub(crate) const GITHUB: BodyHmac = BodyHmac {
    name: "github",
    signature: "X-Hub-Signature-256",
    prefix: "sha256=",
    encoding: Encoding::Hex,
    event: "X-GitHub-Event",
    id: "X-GitHub-Delivery",
    family: None,
};

#[cfg(test)]
mod tests {
    use crate::model::{Header, Timestamp, Verdict};
    use crate::signature::{Scheme, Secret, Verifier, sign};

    // GitHub Docs, "Validating webhook deliveries", section "Testing the webhook payload
    // validation": secret "It's a Secret to Everybody", payload "Hello, World!".
    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    // Not published: computed independently with Python's standard library,
    // hmac.new(b"It's a Secret to Everybody", b"Hello, World!", hashlib.sha1).hexdigest().
    const SHA1_SIGNATURE: &str = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";

    #[test]
    fn published_vector_in_both_directions() {
        let secrets = Secret::list([SECRET]);
        let sent = sign(
            &Scheme::Github,
            &secrets,
            BODY,
            0,
            Some("72d3162e"),
            Some("push"),
        );
        assert_eq!(
            sent,
            vec![
                ("X-Hub-Signature-256".to_owned(), SIGNATURE.to_owned()),
                ("X-Hub-Signature".to_owned(), SHA1_SIGNATURE.to_owned()),
                ("X-GitHub-Event".to_owned(), "push".to_owned()),
                ("X-GitHub-Delivery".to_owned(), "72d3162e".to_owned()),
            ]
        );
        let headers = [Header::new("x-hub-signature-256", SIGNATURE)];
        let v = Verifier::new(Scheme::Github, secrets).verify(
            &headers,
            BODY,
            Timestamp::from_unix_millis(0),
        );
        assert_eq!(v.verdict, Verdict::Verified);
        assert_eq!(v.expected.as_deref(), Some(SIGNATURE));
        assert_eq!(v.signed_content.as_deref(), Some("{body}"));
    }

    #[test]
    fn a_sha1_signature_alone_is_missing_and_a_bad_prefix_malformed() {
        let verifier = Verifier::new(Scheme::Github, Secret::list([SECRET]));
        let at = Timestamp::from_unix_millis(0);
        let sha1 = [Header::new("x-hub-signature", "sha1=00")];
        assert_eq!(verifier.verify(&sha1, BODY, at).verdict, Verdict::Missing);
        let bad = [Header::new("x-hub-signature-256", "sha1=00")];
        let v = verifier.verify(&bad, BODY, at);
        assert_eq!(v.verdict, Verdict::Malformed);
        assert_eq!(v.received.as_deref(), Some("sha1=00"));
    }
}
