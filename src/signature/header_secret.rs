//! Header secret: a header (by default `X-Webhook-Secret`) carries the shared secret itself,
//! compared in constant time. Nothing of it is ever shown: no received, expected or signed content.

use super::rules::{Failure, Parsed, Rules, SignContext, Signed, header};
use crate::model::Header;
use std::borrow::Cow;

pub(crate) struct HeaderSecret<'a> {
    pub header: &'a str,
}

impl Rules for HeaderSecret<'_> {
    fn name(&self) -> &'static str {
        "header-secret"
    }

    fn present(&self, headers: &[Header]) -> bool {
        header(headers, self.header).is_some()
    }

    fn parse(&self, headers: &[Header]) -> Result<Parsed, Failure> {
        let raw = header(headers, self.header).ok_or_else(|| Failure::missing(None, None))?;
        Ok(Parsed {
            signatures: vec![raw.to_vec()],
            received: None,
            timestamp: None,
            signed: Signed(Vec::new()),
        })
    }

    fn compute(&self, key: &[u8], _: &Signed, _: &[u8]) -> Vec<u8> {
        key.to_vec()
    }

    fn expected(&self, _: &[u8], _: &Parsed) -> String {
        String::new()
    }

    fn sign(&self, keys: &[Cow<'_, [u8]>], _: &SignContext<'_>) -> Vec<(String, String)> {
        // Only one value fits the header. `try_sign` has refused a secret that is not UTF-8, so
        // the lossy conversion never alters what is sent.
        let value = String::from_utf8_lossy(&keys[0]).into_owned();
        vec![(self.header.to_owned(), value)]
    }

    fn carries_secret(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Header, Timestamp, Verdict};
    use crate::signature::{Scheme, Secret, Verifier, sign};

    fn scheme(header: &str) -> Scheme {
        Scheme::HeaderSecret {
            header: header.to_owned(),
        }
    }

    #[test]
    fn the_header_carries_the_secret_and_nothing_is_shown() {
        let secrets = vec![Secret::new("old", "tok-old"), Secret::new("new", "tok-new")];
        let sent = sign(
            &scheme("X-Hook-Token"),
            &secrets,
            b"{}",
            0,
            Some("id"),
            Some("type"),
        );
        assert_eq!(
            sent,
            vec![("X-Hook-Token".to_owned(), "tok-old".to_owned())]
        );

        let verifier = Verifier::new(scheme("X-Hook-Token"), secrets);
        let at = Timestamp::from_unix_millis(0);
        let v = verifier.verify(&[Header::new("x-hook-token", "tok-new")], b"", at);
        assert_eq!(v.verdict, Verdict::Verified);
        assert_eq!(v.secret.as_deref(), Some("new"));
        assert_eq!(
            (v.received, v.expected, v.signed_content),
            (None, None, None)
        );

        let v = verifier.verify(&[Header::new("x-hook-token", "tok-guess")], b"", at);
        assert_eq!(v.verdict, Verdict::Mismatch);
        let shown = format!("{v:?}");
        assert!(!shown.contains("tok-"), "{shown}");

        for value in [&b""[..], b"\xff\x00", b"tok-new "] {
            let v = verifier.verify(&[Header::new("x-hook-token", value)], b"", at);
            assert_eq!(v.verdict, Verdict::Mismatch, "{value:?}");
        }
        assert_eq!(verifier.verify(&[], b"", at).verdict, Verdict::Missing);
    }
}
