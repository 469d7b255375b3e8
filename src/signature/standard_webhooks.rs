//! Standard Webhooks (Svix): `webhook-id`, `webhook-timestamp` and `webhook-signature:
//! v1,<b64> [v1,<b64> ...]` over `<id>.<timestamp>.<body>`; the key is the base64 after
//! `whsec_` (a secret without the prefix is read as base64 too). Svix's own `svix-*` headers are
//! read when the `webhook-*` signature is absent.

use super::Encoding;
use super::rules::{
    Failure, MAX_ITEMS, MAX_SIGNATURES, Parsed, Rules, SignContext, Signed, evidence, header,
    parse_timestamp, text, whsec_decoded,
};
use crate::model::Header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::borrow::Cow;

const ID: &str = "webhook-id";
const TIMESTAMP: &str = "webhook-timestamp";
const SIGNATURE: &str = "webhook-signature";
const SVIX: [&str; 3] = ["svix-id", "svix-timestamp", "svix-signature"];

pub(crate) struct StandardWebhooks;

fn signed(id: &str, timestamp: &str) -> Signed {
    Signed::after(format!("{id}.{timestamp}."))
}

impl Rules for StandardWebhooks {
    fn name(&self) -> &'static str {
        "standard-webhooks"
    }

    fn present(&self, headers: &[Header]) -> bool {
        header(headers, SIGNATURE).is_some() || header(headers, SVIX[2]).is_some()
    }

    fn parse(&self, headers: &[Header]) -> Result<Parsed, Failure> {
        let [id, ts, sig] =
            if header(headers, SIGNATURE).is_none() && header(headers, SVIX[2]).is_some() {
                SVIX
            } else {
                [ID, TIMESTAMP, SIGNATURE]
            };
        let (id, ts, sig) = (
            header(headers, id),
            header(headers, ts),
            header(headers, sig),
        );
        let (Some(id), Some(ts), Some(sig)) = (id, ts, sig) else {
            return Err(Failure::missing(sig, ts));
        };
        let malformed = || Failure::malformed(Some(sig), Some(ts));
        let sent = parse_timestamp(ts).ok_or_else(malformed)?;
        let id = text(id).filter(|id| !id.is_empty()).ok_or_else(malformed)?;
        let value = text(sig).ok_or_else(malformed)?;
        // Other versions (v1a, asymmetric) are skipped: any v1 may match.
        let signatures: Vec<_> = value
            .split(' ')
            .take(MAX_ITEMS)
            .filter_map(|item| item.strip_prefix("v1,"))
            .filter_map(|b64| Encoding::Base64.decode(b64))
            .take(MAX_SIGNATURES)
            .collect();
        if signatures.is_empty() {
            return Err(malformed());
        }
        Ok(Parsed {
            signatures,
            received: Some(evidence(sig)),
            signed: signed(id, &sent.text),
            timestamp: Some(sent),
        })
    }

    fn key<'s>(&self, secret: &'s [u8]) -> Cow<'s, [u8]> {
        // A secret that is not base64 at all is used as its bytes, so it still signs and
        // verifies consistently; the secret_encoding diagnosis covers the usual confusion.
        let decoded = whsec_decoded(secret).or_else(|| {
            (!secret.starts_with(b"whsec_"))
                .then(|| STANDARD.decode(secret).ok())
                .flatten()
        });
        decoded.map_or(Cow::Borrowed(secret), Cow::Owned)
    }

    fn decodes_whsec(&self) -> bool {
        true
    }

    fn expected(&self, computed: &[u8], _: &Parsed) -> String {
        format!("v1,{}", Encoding::Base64.encode(computed))
    }

    fn sign(&self, keys: &[Cow<'_, [u8]>], ctx: &SignContext<'_>) -> Vec<(String, String)> {
        // The id is signed, so one is needed: a fresh one when the caller has none.
        let id = ctx
            .id
            .map_or_else(|| format!("msg_{}", ulid::Ulid::generate()), str::to_owned);
        let ts = ctx.timestamp.to_string();
        let content = signed(&id, &ts);
        let signatures: Vec<_> = keys
            .iter()
            .map(|key| {
                format!(
                    "v1,{}",
                    Encoding::Base64.encode(&self.compute(key, &content, ctx.body))
                )
            })
            .collect();
        vec![
            (ID.to_owned(), id),
            (TIMESTAMP.to_owned(), ts),
            (SIGNATURE.to_owned(), signatures.join(" ")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Header, Timestamp, Verdict, Verification};
    use crate::signature::{Scheme, Secret, Verifier, sign};

    // The Standard Webhooks specification's example (standard-webhooks/standard-webhooks,
    // spec/standard-webhooks.md, and the test vectors of its reference libraries).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_millis(secs * 1000)
    }

    fn headers(id: &str, ts: &str, sig: &str) -> Vec<Header> {
        vec![
            Header::new("webhook-id", id),
            Header::new("webhook-timestamp", ts),
            Header::new("webhook-signature", sig),
        ]
    }

    fn verify(headers: &[Header], secret: &str) -> Verification {
        Verifier::new(Scheme::StandardWebhooks, Secret::list([secret])).verify(
            headers,
            BODY,
            at(TIMESTAMP + 5),
        )
    }

    #[test]
    fn published_vector_in_both_directions() {
        let sent = sign(
            &Scheme::StandardWebhooks,
            &Secret::list([SECRET]),
            BODY,
            TIMESTAMP,
            Some(ID),
            None,
        );
        assert_eq!(
            sent,
            vec![
                ("webhook-id".to_owned(), ID.to_owned()),
                ("webhook-timestamp".to_owned(), "1614265330".to_owned()),
                ("webhook-signature".to_owned(), SIGNATURE.to_owned()),
            ]
        );
        let v = verify(&headers(ID, "1614265330", SIGNATURE), SECRET);
        assert_eq!(v.verdict, Verdict::Verified);
        assert_eq!(v.skew_secs, Some(5));
        assert_eq!(v.expected.as_deref(), Some(SIGNATURE));
        assert_eq!(
            v.signed_content.as_deref(),
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{body}")
        );
        // The same secret without its prefix is read as base64 too.
        let bare = SECRET.trim_start_matches("whsec_");
        assert_eq!(
            verify(&headers(ID, "1614265330", SIGNATURE), bare).verdict,
            Verdict::Verified
        );
    }

    #[test]
    fn any_listed_signature_may_match_and_svix_headers_are_read() {
        let list = format!("v1a,abc v1,AAAA  {SIGNATURE} v2,xyz");
        assert_eq!(
            verify(&headers(ID, "1614265330", &list), SECRET).verdict,
            Verdict::Verified
        );
        let svix = vec![
            Header::new("svix-id", ID),
            Header::new("svix-timestamp", "1614265330"),
            Header::new("svix-signature", SIGNATURE),
        ];
        assert_eq!(verify(&svix, SECRET).verdict, Verdict::Verified);
    }

    #[test]
    fn a_changed_id_or_timestamp_is_a_mismatch() {
        assert_eq!(
            verify(&headers("msg_other", "1614265330", SIGNATURE), SECRET).verdict,
            Verdict::Mismatch
        );
        assert_eq!(
            verify(&headers(ID, "1614265331", SIGNATURE), SECRET).verdict,
            Verdict::Mismatch
        );
    }

    #[test]
    fn missing_and_malformed_headers() {
        let no_id = &headers(ID, "1614265330", SIGNATURE)[1..];
        let v = verify(no_id, SECRET);
        assert_eq!(v.verdict, Verdict::Missing);
        assert_eq!(v.timestamp.as_deref(), Some("1614265330"));
        for (id, ts, sig) in [
            (ID, "1614265330", "v1a,abc"),
            (ID, "1614265330", "v1,@@@"),
            (ID, "1614265330.5", SIGNATURE),
            ("", "1614265330", SIGNATURE),
        ] {
            assert_eq!(
                verify(&headers(id, ts, sig), SECRET).verdict,
                Verdict::Malformed,
                "{id} {ts} {sig}"
            );
        }
    }

    #[test]
    fn signing_without_an_id_makes_one() {
        let sent = sign(
            &Scheme::StandardWebhooks,
            &Secret::list([SECRET]),
            BODY,
            TIMESTAMP,
            None,
            None,
        );
        assert!(
            sent[0].1.starts_with("msg_") && sent[0].1.len() == 30,
            "{:?}",
            sent[0]
        );
    }
}
