//! Slack: `X-Slack-Signature: v0=<hex>` over `v0:<timestamp>:<body>`, the timestamp in
//! `X-Slack-Request-Timestamp`.

use super::Encoding;
use super::rules::{
    Failure, Parsed, Rules, SignContext, Signed, evidence, header, parse_timestamp,
    single_signature,
};
use crate::model::Header;
use std::borrow::Cow;

const SIGNATURE: &str = "X-Slack-Signature";
const TIMESTAMP: &str = "X-Slack-Request-Timestamp";
const PREFIX: &str = "v0=";

pub(crate) struct Slack;

fn signed(timestamp: &str) -> Signed {
    Signed::after(format!("v0:{timestamp}:"))
}

impl Rules for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn present(&self, headers: &[Header]) -> bool {
        header(headers, SIGNATURE).is_some()
    }

    fn parse(&self, headers: &[Header]) -> Result<Parsed, Failure> {
        let sig = header(headers, SIGNATURE);
        let ts = header(headers, TIMESTAMP);
        let (Some(sig), Some(ts)) = (sig, ts) else {
            return Err(Failure::missing(sig, ts));
        };
        let sent = parse_timestamp(ts).ok_or_else(|| Failure::malformed(Some(sig), Some(ts)))?;
        let signature = single_signature(sig, PREFIX, Encoding::Hex).map_err(|mut f| {
            f.timestamp = Some(sent.text.clone());
            f
        })?;
        Ok(Parsed {
            signatures: vec![signature],
            received: Some(evidence(sig)),
            signed: signed(&sent.text),
            timestamp: Some(sent),
        })
    }

    fn expected(&self, computed: &[u8], _: &Parsed) -> String {
        format!("{PREFIX}{}", hex::encode(computed))
    }

    fn sign(&self, keys: &[Cow<'_, [u8]>], ctx: &SignContext<'_>) -> Vec<(String, String)> {
        let ts = ctx.timestamp.to_string();
        let mac = self.compute(&keys[0], &signed(&ts), ctx.body);
        vec![
            (
                SIGNATURE.to_owned(),
                format!("{PREFIX}{}", hex::encode(mac)),
            ),
            (TIMESTAMP.to_owned(), ts),
        ]
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Header, Timestamp, Verdict};
    use crate::signature::{Scheme, Secret, Verifier, sign};

    // Slack API docs, "Verifying requests from Slack", the worked example of a slash command
    // (api.slack.com/authentication/verifying-requests-from-slack). The documented body's command
    // is `%2Fwebhook-collect`; with any other command the documented signature does not match.
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: i64 = 1_531_420_618;
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_millis(secs * 1000)
    }

    #[test]
    fn published_vector_in_both_directions() {
        let secrets = Secret::list([SECRET]);
        let sent = sign(
            &Scheme::Slack,
            &secrets,
            BODY,
            TIMESTAMP,
            Some("ignored"),
            None,
        );
        assert_eq!(
            sent,
            vec![
                ("X-Slack-Signature".to_owned(), SIGNATURE.to_owned()),
                (
                    "X-Slack-Request-Timestamp".to_owned(),
                    TIMESTAMP.to_string()
                ),
            ]
        );
        let headers = [
            Header::new("x-slack-signature", SIGNATURE),
            Header::new("x-slack-request-timestamp", "1531420618"),
        ];
        let v = Verifier::new(Scheme::Slack, secrets).verify(&headers, BODY, at(TIMESTAMP + 42));
        assert_eq!(v.verdict, Verdict::Verified);
        assert_eq!(v.timestamp.as_deref(), Some("1531420618"));
        assert_eq!(v.skew_secs, Some(42));
        assert_eq!(v.signed_content.as_deref(), Some("v0:1531420618:{body}"));
        assert_eq!(v.expected.as_deref(), Some(SIGNATURE));
    }

    #[test]
    fn missing_and_malformed_headers() {
        let verifier = Verifier::new(Scheme::Slack, Secret::list([SECRET]));
        let only_sig = [Header::new("x-slack-signature", SIGNATURE)];
        let v = verifier.verify(&only_sig, BODY, at(TIMESTAMP));
        assert_eq!(v.verdict, Verdict::Missing);
        assert_eq!(v.received.as_deref(), Some(SIGNATURE));

        let bad_ts = [
            Header::new("x-slack-signature", SIGNATURE),
            Header::new("x-slack-request-timestamp", "yesterday"),
        ];
        let v = verifier.verify(&bad_ts, BODY, at(TIMESTAMP));
        assert_eq!(v.verdict, Verdict::Malformed);
        assert_eq!(v.timestamp.as_deref(), Some("yesterday"));

        let bad_sig = [
            Header::new("x-slack-signature", "v1=00"),
            Header::new("x-slack-request-timestamp", "1531420618"),
        ];
        assert_eq!(
            verifier.verify(&bad_sig, BODY, at(TIMESTAMP)).verdict,
            Verdict::Malformed
        );
    }

    #[test]
    fn stale_after_five_minutes() {
        let headers = [
            Header::new("x-slack-signature", SIGNATURE),
            Header::new("x-slack-request-timestamp", "1531420618"),
        ];
        let v = Verifier::new(Scheme::Slack, Secret::list([SECRET])).verify(
            &headers,
            BODY,
            at(TIMESTAMP + 301),
        );
        assert_eq!(v.verdict, Verdict::Stale);
        assert_eq!(v.diagnosis.map(|d| d.code), Some("clock_skew".to_owned()));
    }
}
