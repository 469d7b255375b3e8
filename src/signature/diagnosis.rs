//! Diagnosis: why a signature failed, found by re-trying the usual mistakes with bounded work.
//!
//! For a `mismatch` the likely mistakes are tried cheapest first: `secret_encoding` (the other
//! `whsec_` convention), then `other_route_secret`, then `body_reserialized` (re-formatted JSON, a
//! trailing newline). For `stale` the signature is right, so only the timestamp is looked at:
//! `timestamp_millis` or else `clock_skew`.

use super::Verifier;
use super::reserialize;
use super::rules::{Parsed, Rules, SentTime, whsec_decoded};
use super::secret::Secret;
use crate::model::{Diagnosis, Timestamp};

/// Bodies larger than this are not re-hashed for a diagnosis.
pub(crate) const MAX_BODY: usize = 1024 * 1024;
/// MACs computed for one diagnosis, over all tries.
const MAX_TRIES: usize = 64;
/// Secrets of one route tried, and routes tried.
const MAX_SECRETS: usize = 8;
const MAX_ROUTES: usize = 16;

/// A request whose signature matched none of the route's active secrets.
pub(crate) struct MismatchCase<'a> {
    pub rules: &'a dyn Rules,
    pub parsed: &'a Parsed,
    pub body: &'a [u8],
    /// The route's active secrets.
    pub secrets: &'a [&'a Secret],
    /// The verifier that failed, so it is not mistaken for another route.
    pub own: &'a Verifier,
    pub others: &'a [(&'a str, &'a Verifier)],
    pub now: Timestamp,
}

/// Counts MAC computations so that a diagnosis costs at most [`MAX_TRIES`] hashes of the body.
struct Budget(usize);

impl Budget {
    fn take(&mut self) -> bool {
        let left = self.0 > 0;
        self.0 = self.0.saturating_sub(1);
        left
    }
}

pub(crate) fn mismatch(case: &MismatchCase<'_>) -> Option<Diagnosis> {
    if !case.rules.carries_secret() && case.body.len() > MAX_BODY {
        return None;
    }
    let mut budget = Budget(MAX_TRIES);
    secret_encoding(case, &mut budget)
        .or_else(|| other_route_secret(case, &mut budget))
        .or_else(|| body_reserialized(case, &mut budget))
}

fn matches_with(case: &MismatchCase<'_>, key: &[u8], body: &[u8], budget: &mut Budget) -> bool {
    budget.take()
        && case
            .parsed
            .matches(&case.rules.compute(key, &case.parsed.signed, body))
}

fn secret_encoding(case: &MismatchCase<'_>, budget: &mut Budget) -> Option<Diagnosis> {
    if case.rules.carries_secret() {
        return None;
    }
    let scheme = case.rules.name();
    for secret in case.secrets.iter().take(MAX_SECRETS) {
        let raw = secret.value.expose();
        let (other_key, message) = if case.rules.decodes_whsec() {
            if case.rules.key(raw).as_ref() == raw {
                continue;
            }
            let message = format!(
                "The signature was made with the whole text of secret \"{}\" as the HMAC key \
                 (Stripe's convention), but {scheme} uses the base64-decoded part after whsec_.",
                secret.label
            );
            (raw.to_vec(), message)
        } else {
            let Some(decoded) = whsec_decoded(raw) else {
                continue;
            };
            let message = format!(
                "The signature was made with the base64-decoded part of secret \"{}\" after \
                 whsec_ (the Standard Webhooks convention), but {scheme} uses the whole secret \
                 text as the HMAC key.",
                secret.label
            );
            (decoded, message)
        };
        if matches_with(case, &other_key, case.body, budget) {
            return Some(diagnosis("secret_encoding", message));
        }
    }
    None
}

fn other_route_secret(case: &MismatchCase<'_>, budget: &mut Budget) -> Option<Diagnosis> {
    let routes = case
        .others
        .iter()
        .filter(|(_, v)| !std::ptr::eq(*v, case.own))
        .take(MAX_ROUTES);
    for (route, verifier) in routes {
        for secret in verifier.active(case.now).into_iter().take(MAX_SECRETS) {
            let key = case.rules.key(secret.value.expose());
            if matches_with(case, &key, case.body, budget) {
                return Some(diagnosis(
                    "other_route_secret",
                    format!(
                        "The signature was made with a secret of route \"{route}\", not with \
                         one of this route's secrets."
                    ),
                ));
            }
        }
    }
    None
}

fn body_reserialized(case: &MismatchCase<'_>, budget: &mut Budget) -> Option<Diagnosis> {
    if case.rules.carries_secret() {
        return None;
    }
    let keys: Vec<_> = case
        .secrets
        .iter()
        .take(MAX_SECRETS)
        .map(|s| case.rules.key(s.value.expose()))
        .collect();
    for variant in reserialize::variants(case.body) {
        let Some(body) = variant.render(case.body) else {
            continue;
        };
        if body == case.body {
            continue;
        }
        for key in &keys {
            if budget.0 == 0 {
                return None;
            }
            if matches_with(case, key, &body, budget) {
                return Some(diagnosis(
                    "body_reserialized",
                    format!(
                        "The signature matches the body {}, not the bytes received: the body was \
                         re-serialized between signing and sending, so sign the exact bytes you send.",
                        variant.describe(case.body)
                    ),
                ));
            }
        }
    }
    None
}

/// The signature is right but the timestamp is outside the tolerance.
pub(crate) fn stale(sent: &SentTime, now: Timestamp, skew: i64, tolerance: i64) -> Diagnosis {
    let now_secs = now.unix_secs();
    // A millisecond timestamp is ~1000x the current seconds; allow a wide margin either way.
    let ratio = if now_secs > 0 {
        i128::from(sent.secs) / i128::from(now_secs)
    } else {
        0
    };
    if (500..2000).contains(&ratio) {
        return diagnosis(
            "timestamp_millis",
            format!(
                "The timestamp {} looks like milliseconds, but this scheme expects unix seconds.",
                sent.text
            ),
        );
    }
    let message = if skew > 0 {
        format!(
            "The signature is right but was made {} ago, beyond the {tolerance} s tolerance: the \
             sender's clock is behind or the delivery was delayed or replayed.",
            span(skew.unsigned_abs())
        )
    } else {
        format!(
            "The signature is right but its timestamp is {} in the future, beyond the {tolerance} s \
             tolerance: the sender's clock is ahead of this machine's.",
            span(skew.unsigned_abs())
        )
    };
    diagnosis("clock_skew", message)
}

/// A duration for a person: exact seconds, with a rounder unit when it helps.
fn span(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{secs} s (about {} min)", (secs + 30) / 60),
        7200..172_800 => format!("{secs} s (about {} h)", (secs + 1800) / 3600),
        _ => format!("{secs} s (about {} days)", (secs + 43_200) / 86_400),
    }
}

fn diagnosis(code: &str, message: String) -> Diagnosis {
    Diagnosis {
        code: code.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Header, Verdict};
    use crate::signature::{Scheme, sign};

    const NOW: i64 = 1_700_000_000;

    fn now() -> Timestamp {
        Timestamp::from_unix_millis(NOW * 1000)
    }

    fn headers(pairs: Vec<(String, String)>) -> Vec<Header> {
        pairs
            .into_iter()
            .map(|(n, v)| Header::new(n.to_ascii_lowercase(), v))
            .collect()
    }

    fn code(v: &crate::model::Verification) -> Option<&str> {
        v.diagnosis.as_ref().map(|d| d.code.as_str())
    }

    #[test]
    fn secret_encoding_both_ways() {
        let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"type":"ping"}"#;
        // A Stripe-style sender (raw key) against a standard-webhooks route (decoded key):
        // sign with the raw string under generic rules by pretending the secret is not whsec_.
        let raw_key = Scheme::StandardWebhooks
            .rules()
            .key(whsec.as_bytes())
            .into_owned();
        assert_ne!(raw_key, whsec.as_bytes());
        let sent_raw = {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(whsec.as_bytes());
            // The base64 of the whole string, used as a standard-webhooks secret, keys the MAC
            // with the whole string's bytes: what a Stripe-convention sender does.
            headers(sign(
                &Scheme::StandardWebhooks,
                &Secret::list([b64]),
                body,
                NOW,
                Some("msg_1"),
                None,
            ))
        };
        let v = Verifier::new(Scheme::StandardWebhooks, Secret::list([whsec])).verify(
            &sent_raw,
            body,
            now(),
        );
        assert_eq!(v.verdict, Verdict::Mismatch);
        assert_eq!(code(&v), Some("secret_encoding"));
        let message = &v.diagnosis.unwrap().message;
        assert!(
            message.contains("\"#1\"") && !message.contains("MfKQ9r8G"),
            "{message}"
        );

        // A Standard-Webhooks-style sender (decoded key) against a stripe route.
        let decoded = whsec_decoded(whsec.as_bytes()).unwrap();
        let sent = headers(sign(
            &Scheme::Stripe,
            &[Secret::new("k", decoded)],
            body,
            NOW,
            None,
            None,
        ));
        let v = Verifier::new(Scheme::Stripe, Secret::list([whsec])).verify(&sent, body, now());
        assert_eq!(code(&v), Some("secret_encoding"), "{v:?}");
    }

    #[test]
    fn other_route_secret_names_the_route_not_the_secret() {
        let body = b"payload";
        let gh = Verifier::new(Scheme::Github, Secret::list(["github-secret"]));
        let zen = Verifier::new(Scheme::Zentra, Secret::list(["zentra-secret"]));
        let sent = headers(sign(&Scheme::Github, zen.secrets(), body, NOW, None, None));
        let v = gh.verify_with_context(&sent, body, now(), &[("github", &gh), ("zentra", &zen)]);
        assert_eq!(v.verdict, Verdict::Mismatch);
        assert_eq!(code(&v), Some("other_route_secret"));
        let message = v.diagnosis.unwrap().message;
        assert!(message.contains("\"zentra\""), "{message}");
        assert!(!message.contains("zentra-secret"));

        // Header-secret: the value is another route's secret.
        let hs = Scheme::from_name("header-secret").unwrap();
        let mine = Verifier::new(hs.clone(), Secret::list(["mine"]));
        let theirs = Verifier::new(hs, Secret::list(["theirs"]));
        let sent = [Header::new("x-webhook-secret", "theirs")];
        let v = mine.verify_with_context(&sent, b"", now(), &[("partner", &theirs)]);
        assert_eq!(code(&v), Some("other_route_secret"));
        assert!(!serde_json::to_string(&v).unwrap().contains("theirs"));
    }

    #[test]
    fn body_reserialized_finds_the_signed_form() {
        let secrets = Secret::list(["s3cret"]);
        let verifier = Verifier::new(Scheme::Github, secrets.clone());
        let cases: &[(&[u8], &[u8], &str)] = &[
            // (signed, received, words in the message)
            (
                br#"{"b":1,"a":[1,2]}"#,
                b"{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}",
                "compact",
            ),
            (
                br#"{"b": 1, "a": [1, 2]}"#,
                br#"{"b":1,"a":[1,2]}"#,
                "Python",
            ),
            (b"{\n  \"b\": 1\n}", br#"{"b":1}"#, "2-space"),
            (br#"{"a":1,"b":2}"#, br#"{"b":2,"a":1}"#, "sorted keys"),
            (b"hello", b"hello\n", "trailing newline removed"),
            (b"hello\n", b"hello", "trailing newline added"),
        ];
        for (signed, received, words) in cases {
            let sent = headers(sign(&Scheme::Github, &secrets, signed, NOW, None, None));
            let v = verifier.verify(&sent, received, now());
            assert_eq!(code(&v), Some("body_reserialized"), "{words}: {v:?}");
            let message = v.diagnosis.unwrap().message;
            assert!(message.contains(words), "{message}");
        }
    }

    #[test]
    fn no_diagnosis_when_nothing_explains_it_or_the_body_is_huge() {
        let verifier = Verifier::new(Scheme::Github, Secret::list(["s3cret"]));
        let sent = headers(sign(
            &Scheme::Github,
            &Secret::list(["other"]),
            b"{}",
            NOW,
            None,
            None,
        ));
        let v = verifier.verify(&sent, b"{}", now());
        assert_eq!((v.verdict, v.diagnosis), (Verdict::Mismatch, None));

        let big = vec![b' '; MAX_BODY + 1];
        let mut signed = big.clone();
        signed.push(b'\n');
        let sent = headers(sign(
            &Scheme::Github,
            &Secret::list(["s3cret"]),
            &signed,
            NOW,
            None,
            None,
        ));
        let v = verifier.verify(&sent, &big, now());
        assert_eq!((v.verdict, v.diagnosis), (Verdict::Mismatch, None));
    }

    #[test]
    fn stale_in_milliseconds_or_by_clock_skew() {
        let secrets = Secret::list(["whsec_c2VjcmV0"]);
        let verifier = Verifier::new(Scheme::Stripe, secrets.clone());
        // Milliseconds read as a timestamp far in the future: Standard Webhooks refuses it
        // (Stripe's libraries accept any future timestamp, so Stripe does here too).
        let two_sided = Verifier::new(Scheme::StandardWebhooks, secrets.clone());
        let millis = headers(sign(
            &Scheme::StandardWebhooks,
            &secrets,
            b"{}",
            NOW * 1000 + 123,
            Some("msg_1"),
            None,
        ));
        let v = two_sided.verify(&millis, b"{}", now());
        assert_eq!(v.verdict, Verdict::Stale);
        assert_eq!(code(&v), Some("timestamp_millis"));
        assert!(v.diagnosis.unwrap().message.contains("1700000000123"));

        let behind = headers(sign(
            &Scheme::Stripe,
            &secrets,
            b"{}",
            NOW - 600,
            None,
            None,
        ));
        let v = verifier.verify(&behind, b"{}", now());
        assert_eq!(code(&v), Some("clock_skew"));
        let message = v.diagnosis.unwrap().message;
        assert!(message.contains("600 s (about 10 min) ago"), "{message}");

        let ahead = headers(sign(
            &Scheme::StandardWebhooks,
            &secrets,
            b"{}",
            NOW + 4000,
            Some("msg_1"),
            None,
        ));
        let v = two_sided.verify(&ahead, b"{}", now());
        assert_eq!(v.skew_secs, Some(-4000));
        let message = v.diagnosis.unwrap().message;
        assert!(message.contains("in the future"), "{message}");
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(5), "5 s");
        assert_eq!(span(600), "600 s (about 10 min)");
        assert_eq!(span(10_800), "10800 s (about 3 h)");
        assert_eq!(span(864_000), "864000 s (about 10 days)");
    }
}
