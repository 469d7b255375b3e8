//! The verifier: one route's scheme, secrets and tolerance, turning a request into a
//! [`Verification`] with its evidence and, when it fails, a diagnosis.

use super::diagnosis::{self, MismatchCase};
use super::rules::{Parsed, Rules};
use super::{DEFAULT_TOLERANCE_SECS, Scheme, Secret};
use crate::model::{Header, Timestamp, Verdict, Verification};

/// A route's verification rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    scheme: Scheme,
    secrets: Vec<Secret>,
    tolerance_secs: i64,
}

impl Verifier {
    /// A verifier with the default tolerance ([`DEFAULT_TOLERANCE_SECS`]).
    pub fn new(scheme: Scheme, secrets: Vec<Secret>) -> Self {
        Verifier {
            scheme,
            secrets,
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        }
    }

    /// How far a signed timestamp may be from `now`, either way; negative counts as zero.
    pub fn with_tolerance(mut self, secs: i64) -> Self {
        self.tolerance_secs = secs.max(0);
        self
    }

    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    pub fn tolerance_secs(&self) -> i64 {
        self.tolerance_secs
    }

    /// Signs with this verifier's scheme and secrets (see [`super::sign`]).
    pub fn sign(
        &self,
        body: &[u8],
        timestamp: i64,
        id: Option<&str>,
        event_type: Option<&str>,
    ) -> Vec<(String, String)> {
        super::sign(&self.scheme, &self.secrets, body, timestamp, id, event_type)
    }

    pub(crate) fn active(&self, now: Timestamp) -> Vec<&Secret> {
        self.secrets.iter().filter(|s| s.is_active(now)).collect()
    }

    /// Checks a request against this route's scheme and secrets.
    pub fn verify(&self, headers: &[Header], body: &[u8], now: Timestamp) -> Verification {
        self.verify_with_context(headers, body, now, &[])
    }

    /// [`Verifier::verify`], also told the other routes' verifiers (by route name), so that a
    /// mismatch made with another route's secret is diagnosed `other_route_secret`. Their secrets
    /// are tried under this route's scheme; an entry that is this very verifier is skipped.
    pub fn verify_with_context(
        &self,
        headers: &[Header],
        body: &[u8],
        now: Timestamp,
        other_routes: &[(&str, &Verifier)],
    ) -> Verification {
        let rules = self.scheme.rules();
        // A missing or broken header is a fact about the request, reported even when no secret
        // is active, so `reject_invalid` still turns away unsigned requests.
        let parsed = match rules.parse(headers) {
            Ok(parsed) => parsed,
            Err(failure) => return failure.into_verification(&*rules),
        };
        let mut v = evidence(&*rules, &parsed, Some(now));
        let active = self.active(now);
        let Some(first) = active.first() else {
            v.verdict = Verdict::NoSecret;
            return v;
        };

        let computed_first = compute(&*rules, first, &parsed, body);
        let (matched, computed) = if parsed.matches(&computed_first) {
            (Some(*first), computed_first)
        } else {
            let hit = active[1..].iter().find_map(|s| {
                let c = compute(&*rules, s, &parsed, body);
                parsed.matches(&c).then_some((*s, c))
            });
            match hit {
                Some((s, c)) => (Some(s), c),
                None => (None, computed_first),
            }
        };
        if !rules.carries_secret() {
            v.expected = Some(rules.expected(&computed, &parsed));
        }

        let Some(secret) = matched else {
            v.verdict = Verdict::Mismatch;
            v.diagnosis = diagnosis::mismatch(&MismatchCase {
                rules: &*rules,
                parsed: &parsed,
                body,
                secrets: &active,
                own: self,
                others: other_routes,
                now,
            });
            return v;
        };
        v.secret = Some(secret.label.clone());
        v.verdict = Verdict::Verified;
        if let (Some(sent), Some(skew)) = (&parsed.timestamp, v.skew_secs)
            && self.scheme().outside_tolerance(skew, self.tolerance_secs)
        {
            v.verdict = Verdict::Stale;
            v.diagnosis = Some(diagnosis::stale(sent, now, skew, self.tolerance_secs));
        }
        v
    }
}

fn compute(rules: &dyn Rules, secret: &Secret, parsed: &Parsed, body: &[u8]) -> Vec<u8> {
    rules.compute(&rules.key(secret.value.expose()), &parsed.signed, body)
}

/// The evidence readable from the headers alone (verdict left `unsigned`, to be set).
pub(crate) fn evidence(rules: &dyn Rules, parsed: &Parsed, now: Option<Timestamp>) -> Verification {
    let mut v = Verification::bare(Some(rules.name()), Verdict::Unsigned);
    if let Some(sent) = &parsed.timestamp {
        v.timestamp = Some(sent.text.clone());
        v.skew_secs = now.map(|n| n.unix_secs().saturating_sub(sent.secs));
    }
    if !rules.carries_secret() {
        v.received = parsed.received.clone();
        v.signed_content = Some(parsed.signed.describe());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{HmacParams, sign};

    const NOW: i64 = 1_700_000_000;

    fn now() -> Timestamp {
        Timestamp::from_unix_millis(NOW * 1000 + 250)
    }

    fn headers(pairs: Vec<(String, String)>) -> Vec<Header> {
        pairs
            .into_iter()
            .map(|(n, v)| Header::new(n.to_ascii_lowercase(), v))
            .collect()
    }

    fn every_scheme() -> Vec<Scheme> {
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
            Scheme::Hmac(HmacParams::default()),
            Scheme::Hmac(HmacParams {
                header: "X-Sig".into(),
                prefix: "sha256=".into(),
                encoding: crate::signature::Encoding::Base64,
                timestamp_header: Some("X-Ts".into()),
                signed: "{timestamp}.{body}".into(),
            }),
        ]
    }

    #[test]
    fn every_scheme_round_trips_and_rotates() {
        let body = br#"{"type":"ping","id":"evt_1"}"#;
        for scheme in every_scheme() {
            let name = scheme.name();
            let old = vec![Secret::new("old", "whsec_b2xkLXNlY3JldA==")];
            let both = vec![
                Secret::new("new", "whsec_bmV3LXNlY3JldA=="),
                Secret::new("old", "whsec_b2xkLXNlY3JldA=="),
            ];
            let sent = headers(sign(&scheme, &old, body, NOW, Some("msg_1"), None));
            assert!(!sent.is_empty(), "{name}");

            let v = Verifier::new(scheme.clone(), old.clone()).verify(&sent, body, now());
            assert_eq!(v.verdict, Verdict::Verified, "{name}: {v:?}");
            assert_eq!(v.secret.as_deref(), Some("old"), "{name}");
            assert_eq!(v.diagnosis, None);

            // Rotation: the second secret matches and is the one reported.
            let v = Verifier::new(scheme.clone(), both.clone()).verify(&sent, body, now());
            assert_eq!(v.verdict, Verdict::Verified, "{name}");
            assert_eq!(v.secret.as_deref(), Some("old"), "{name}");

            // A body changed in transit does not verify.
            let v = Verifier::new(scheme.clone(), old.clone()).verify(&sent, b"{}", now());
            let expect = if matches!(scheme, Scheme::HeaderSecret { .. }) {
                Verdict::Verified // the body is not signed
            } else {
                Verdict::Mismatch
            };
            assert_eq!(v.verdict, expect, "{name}");

            // A wrong secret does not verify, and says nothing about which secret was tried.
            let wrong = vec![Secret::new("wrong", "whsec_d3Jvbmctb25l")];
            let v = Verifier::new(scheme.clone(), wrong).verify(&sent, body, now());
            assert_eq!(v.verdict, Verdict::Mismatch, "{name}");
            assert_eq!(v.secret, None);
            let shown = serde_json::to_string(&v).unwrap();
            assert!(!shown.contains("d3Jvbmctb25l") && !shown.contains("b2xkLXNlY3JldA"));

            // No header at all.
            let v = Verifier::new(scheme.clone(), old.clone()).verify(&[], body, now());
            assert_eq!(v.verdict, Verdict::Missing, "{name}");
        }
    }

    #[test]
    fn signing_with_two_secrets_lets_either_verify_where_a_scheme_carries_several() {
        let body = b"{}";
        let both = Secret::list(["whsec_bmV3LXNlY3JldA==", "whsec_b2xkLXNlY3JldA=="]);
        for scheme in [Scheme::Stripe, Scheme::StandardWebhooks] {
            let sent = headers(sign(&scheme, &both, body, NOW, None, None));
            for (i, only) in both.iter().enumerate() {
                let v =
                    Verifier::new(scheme.clone(), vec![only.clone()]).verify(&sent, body, now());
                assert_eq!(v.verdict, Verdict::Verified, "{} secret {i}", scheme.name());
                assert_eq!(v.secret, Some(only.label.clone()));
            }
        }
    }

    #[test]
    fn an_expired_secret_is_neither_accepted_nor_used_to_sign() {
        let body = b"{}";
        let expired = Secret::new("old", "s-old").expiring(Timestamp::from_unix_millis(NOW * 1000));
        let current = Secret::new("new", "s-new");
        let sent = headers(sign(
            &Scheme::Github,
            std::slice::from_ref(&expired),
            body,
            NOW - 10,
            None,
            None,
        ));
        let v = Verifier::new(Scheme::Github, vec![expired.clone(), current.clone()]).verify(
            &sent,
            body,
            now(),
        );
        assert_eq!(v.verdict, Verdict::Mismatch);
        assert_eq!(v.secret, None);

        // Signing at `NOW` skips the expired one and uses the current one.
        let sent = headers(sign(
            &Scheme::Stripe,
            &[expired, current.clone()],
            body,
            NOW,
            None,
            None,
        ));
        let stripe = sent[0].value.to_str().unwrap();
        assert_eq!(stripe.matches("v1=").count(), 1, "{stripe}");
        let v = Verifier::new(Scheme::Stripe, vec![current]).verify(&sent, body, now());
        assert_eq!(v.verdict, Verdict::Verified);
    }

    #[test]
    fn no_active_secret_is_no_secret_but_a_missing_header_is_still_missing() {
        let expired = vec![Secret::new("x", "s").expiring(Timestamp::from_unix_millis(0))];
        let verifier = Verifier::new(Scheme::Github, expired);
        let sent = [Header::new(
            "x-hub-signature-256",
            format!("sha256={}", "0".repeat(64)),
        )];
        let v = verifier.verify(&sent, b"{}", now());
        assert_eq!(v.verdict, Verdict::NoSecret);
        assert_eq!(v.expected, None);
        assert_eq!(verifier.verify(&[], b"{}", now()).verdict, Verdict::Missing);
        let none = Verifier::new(Scheme::Github, vec![]);
        assert_eq!(none.verify(&sent, b"{}", now()).verdict, Verdict::NoSecret);
    }

    #[test]
    fn the_signature_is_checked_before_the_timestamp() {
        let secrets = Secret::list(["whsec_c2VjcmV0"]);
        let stale = headers(sign(
            &Scheme::Stripe,
            &secrets,
            b"{}",
            NOW - 3600,
            None,
            None,
        ));
        let v = Verifier::new(Scheme::Stripe, secrets.clone()).verify(&stale, b"{}", now());
        assert_eq!(v.verdict, Verdict::Stale);
        assert_eq!(v.secret.as_deref(), Some("#1"));
        assert_eq!(v.skew_secs, Some(3600));
        // A stale timestamp with a wrong signature is a mismatch, not stale.
        let v = Verifier::new(Scheme::Stripe, secrets).verify(&stale, b"{ }", now());
        assert_eq!(v.verdict, Verdict::Mismatch);
        // Within a wider tolerance it verifies.
        let v = Verifier::new(Scheme::Stripe, Secret::list(["whsec_c2VjcmV0"]))
            .with_tolerance(3600)
            .verify(&stale, b"{}", now());
        assert_eq!(v.verdict, Verdict::Verified);
    }

    #[test]
    fn expected_on_mismatch_is_computed_with_the_first_active_secret() {
        let a = Secret::new("a", "secret-a");
        let b = Secret::new("b", "secret-b");
        let sent = headers(sign(
            &Scheme::Github,
            std::slice::from_ref(&b),
            b"x",
            NOW,
            None,
            None,
        ));
        let v = Verifier::new(Scheme::Github, vec![a.clone()]).verify(&sent, b"y", now());
        let with_a = sign(&Scheme::Github, &[a], b"y", NOW, None, None);
        assert_eq!(v.expected.as_deref(), Some(with_a[0].1.as_str()));
    }
}
