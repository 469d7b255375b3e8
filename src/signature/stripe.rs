//! Stripe: `Stripe-Signature: t=<ts>,v1=<hex>[,v1=...]` over `<ts>.<body>`; the key is the whole
//! `whsec_...` string as bytes (not base64-decoded, unlike Standard Webhooks).

use super::Encoding;
use super::rules::{
    Failure, MAX_ITEMS, MAX_SIGNATURES, Parsed, Rules, SignContext, Signed, evidence, header,
    parse_timestamp, text,
};
use crate::model::Header;
use std::borrow::Cow;

const SIGNATURE: &str = "Stripe-Signature";

pub(crate) struct Stripe;

fn signed(timestamp: &str) -> Signed {
    Signed::after(format!("{timestamp}."))
}

impl Rules for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn present(&self, headers: &[Header]) -> bool {
        header(headers, SIGNATURE).is_some()
    }

    fn parse(&self, headers: &[Header]) -> Result<Parsed, Failure> {
        let raw = header(headers, SIGNATURE).ok_or_else(|| Failure::missing(None, None))?;
        let malformed = || Failure::malformed(Some(raw), None);
        let value = text(raw).ok_or_else(malformed)?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        // Unknown items (v0=, test-mode extras) are skipped, as Stripe's own libraries do.
        for item in value.split(',').take(MAX_ITEMS) {
            match item.trim().split_once('=') {
                Some(("t", ts)) if timestamp.is_none() => timestamp = Some(ts),
                Some(("v1", sig)) if signatures.len() < MAX_SIGNATURES => {
                    if let Some(sig) = Encoding::Hex.decode(sig) {
                        signatures.push(sig);
                    }
                }
                _ => {}
            }
        }
        let ts = timestamp.ok_or_else(malformed)?;
        let sent = parse_timestamp(ts.as_bytes())
            .ok_or_else(|| Failure::malformed(Some(raw), Some(ts.as_bytes())))?;
        if signatures.is_empty() {
            return Err(Failure::malformed(Some(raw), Some(ts.as_bytes())));
        }
        Ok(Parsed {
            signatures,
            received: Some(evidence(raw)),
            signed: signed(&sent.text),
            timestamp: Some(sent),
        })
    }

    fn expected(&self, computed: &[u8], parsed: &Parsed) -> String {
        let ts = parsed.timestamp.as_ref().map_or("", |t| t.text.as_str());
        format!("t={ts},v1={}", hex::encode(computed))
    }

    fn sign(&self, keys: &[Cow<'_, [u8]>], ctx: &SignContext<'_>) -> Vec<(String, String)> {
        let ts = ctx.timestamp.to_string();
        let content = signed(&ts);
        let mut value = format!("t={ts}");
        for key in keys {
            value.push_str(",v1=");
            value.push_str(&hex::encode(self.compute(key, &content, ctx.body)));
        }
        vec![(SIGNATURE.to_owned(), value)]
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Header, Timestamp, Verdict};
    use crate::signature::{Scheme, Secret, Verifier, sign};

    // No published vector: computed independently with Python's standard library. The key is the
    // whole "whsec_..." string's bytes, as Stripe's libraries use it:
    // python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_test_secret",
    //   b"1700000000.{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}", hashlib.sha256).hexdigest())'
    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    const HEADER: &str =
        "t=1700000000,v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595";

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_millis(secs * 1000)
    }

    fn verify(value: &str) -> crate::model::Verification {
        let headers = [Header::new("stripe-signature", value)];
        Verifier::new(Scheme::Stripe, Secret::list([SECRET])).verify(
            &headers,
            BODY,
            at(1_700_000_100),
        )
    }

    #[test]
    fn fixture_in_both_directions() {
        let sent = sign(
            &Scheme::Stripe,
            &Secret::list([SECRET]),
            BODY,
            1_700_000_000,
            Some("x"),
            None,
        );
        assert_eq!(
            sent,
            vec![("Stripe-Signature".to_owned(), HEADER.to_owned())]
        );
        let v = verify(HEADER);
        assert_eq!(v.verdict, Verdict::Verified);
        assert_eq!(v.timestamp.as_deref(), Some("1700000000"));
        assert_eq!(v.skew_secs, Some(100));
        assert_eq!(v.received.as_deref(), Some(HEADER));
        assert_eq!(v.expected.as_deref(), Some(HEADER));
        assert_eq!(v.signed_content.as_deref(), Some("1700000000.{body}"));
    }

    #[test]
    fn any_v1_may_match_and_other_items_are_skipped() {
        let zeros = "0".repeat(64);
        let mixed = format!("t=1700000000, v0=abc, v1={zeros},v1={}", &HEADER[16..]);
        assert_eq!(verify(&mixed).verdict, Verdict::Verified);
    }

    /// stripe-node's `validateComputedSignature` (and stripe-python's `verify_header`) refuse
    /// only `timestamp < now - tolerance`: a sender's clock ahead of ours is accepted.
    #[test]
    fn the_tolerance_is_one_sided_as_in_stripes_libraries() {
        let headers = [Header::new("stripe-signature", HEADER)];
        let verifier = Verifier::new(Scheme::Stripe, Secret::list([SECRET]));
        let future = verifier.verify(&headers, BODY, at(1_700_000_000 - 600));
        assert_eq!(
            (future.verdict, future.skew_secs),
            (Verdict::Verified, Some(-600))
        );
        let old = verifier.verify(&headers, BODY, at(1_700_000_000 + 301));
        assert_eq!(old.verdict, Verdict::Stale);
        assert_eq!(
            verifier.verify(&headers, BODY, at(1_700_000_300)).verdict,
            Verdict::Verified,
            "exactly the tolerance is still accepted"
        );
        // Standard Webhooks refuses both directions.
        let sw = Scheme::StandardWebhooks;
        assert!(sw.outside_tolerance(-301, 300) && sw.outside_tolerance(301, 300));
        assert!(!Scheme::Stripe.outside_tolerance(-100_000, 300));
    }

    #[test]
    fn malformed_headers() {
        for bad in [
            "",
            "v1=00",
            "t=soon,v1=00",
            "t=1700000000",
            "t=1700000000,v1=xyz",
            ",,,===",
        ] {
            assert_eq!(verify(bad).verdict, Verdict::Malformed, "{bad:?}");
        }
        let v = verify("t=1700000000,v0=00");
        assert_eq!(v.timestamp.as_deref(), Some("1700000000"));
    }

    #[test]
    fn mismatch_reports_the_expected_signature_at_the_sent_timestamp() {
        let wrong = format!("t=1700000000,v1={}", "0".repeat(64));
        let v = verify(&wrong);
        assert_eq!(v.verdict, Verdict::Mismatch);
        assert_eq!(v.expected.as_deref(), Some(HEADER));
        assert_eq!(v.received.as_deref(), Some(wrong.as_str()));
    }
}
