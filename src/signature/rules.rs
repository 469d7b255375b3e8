//! The trait every scheme implements, and what the schemes share: header lookup, the signed
//! message, HMAC-SHA256, constant-time comparison and bounded parsing of untrusted header values.

use super::Encoding;
use crate::model::{Header, Verdict, Verification};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::borrow::Cow;
use subtle::ConstantTimeEq;

/// Signatures kept from one header: enough for any rotation window, few enough that a hostile
/// header cannot make us hash the body a thousand times.
pub(crate) const MAX_SIGNATURES: usize = 16;
/// Items scanned in one header before the rest is ignored.
pub(crate) const MAX_ITEMS: usize = 64;
/// Longest encoded signature decoded (a SHA-256 MAC is 64 hex or 44 base64 characters).
pub(crate) const MAX_SIGNATURE_LEN: usize = 256;
/// Longest header text copied into evidence; the full header is stored with the event anyway.
pub(crate) const MAX_EVIDENCE_LEN: usize = 1024;
/// Digits of a unix timestamp we parse; 18 always fit an `i64`.
const MAX_TIMESTAMP_DIGITS: usize = 18;

/// One part of a signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Body,
}

/// A signed message as a sequence of pieces, so the body is hashed in place, never copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signed(pub Vec<Piece>);

impl Signed {
    pub fn body() -> Self {
        Signed(vec![Piece::Body])
    }

    /// `prefix` then the body.
    pub fn after(prefix: String) -> Self {
        Signed(vec![Piece::Text(prefix), Piece::Body])
    }

    /// What was signed, the body written as `{body}`.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Body => "{body}",
            })
            .collect()
    }

    pub fn hmac(&self, key: &[u8], body: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this never fails; an empty MAC would match nothing.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
            return Vec::new();
        };
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => mac.update(t.as_bytes()),
                Piece::Body => mac.update(body),
            }
        }
        mac.finalize().into_bytes().to_vec()
    }
}

/// The sender's timestamp: as sent, and as unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SentTime {
    pub text: String,
    pub secs: i64,
}

/// What a scheme read from a request's headers.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    /// Candidate signatures, decoded; any one may match.
    pub signatures: Vec<Vec<u8>>,
    /// The signature header as received, for evidence.
    pub received: Option<String>,
    pub timestamp: Option<SentTime>,
    pub signed: Signed,
}

impl Parsed {
    pub fn matches(&self, computed: &[u8]) -> bool {
        self.signatures.iter().any(|s| ct_eq(s, computed))
    }
}

/// Why a request's headers could not be read, with what evidence they gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub verdict: Verdict,
    pub received: Option<String>,
    pub timestamp: Option<String>,
}

impl Failure {
    pub fn missing(received: Option<&[u8]>, timestamp: Option<&[u8]>) -> Self {
        Failure {
            verdict: Verdict::Missing,
            received: received.map(evidence),
            timestamp: timestamp.map(evidence),
        }
    }

    pub fn malformed(received: Option<&[u8]>, timestamp: Option<&[u8]>) -> Self {
        Failure {
            verdict: Verdict::Malformed,
            ..Failure::missing(received, timestamp)
        }
    }

    pub fn into_verification(self, rules: &dyn Rules) -> Verification {
        let mut v = Verification::bare(Some(rules.name()), self.verdict);
        if !rules.carries_secret() {
            v.received = self.received;
        }
        v.timestamp = self.timestamp;
        v
    }
}

/// What signing needs besides the keys.
pub(crate) struct SignContext<'a> {
    pub body: &'a [u8],
    pub timestamp: i64,
    pub id: Option<&'a str>,
    pub event_type: Option<&'a str>,
}

/// One signature scheme. Verification ([`super::Verifier`]) and signing ([`super::sign`]) both
/// go through `key`, `compute` and the scheme's own encoding, so they cannot drift apart.
pub(crate) trait Rules {
    fn name(&self) -> &'static str;

    /// Whether the request carries this scheme's signature header (for detection).
    fn present(&self, headers: &[Header]) -> bool;

    /// Reads the request's signature headers; never panics, allocates a bounded amount.
    fn parse(&self, headers: &[Header]) -> Result<Parsed, Failure>;

    /// The MAC key a configured secret stands for.
    fn key<'s>(&self, secret: &'s [u8]) -> Cow<'s, [u8]> {
        Cow::Borrowed(secret)
    }

    /// Whether `key` base64-decodes a `whsec_` secret (Standard Webhooks) rather than using its
    /// bytes (everyone else): the `secret_encoding` diagnosis tries the other convention.
    fn decodes_whsec(&self) -> bool {
        false
    }

    /// What is compared, in constant time, with the received signatures.
    fn compute(&self, key: &[u8], signed: &Signed, body: &[u8]) -> Vec<u8> {
        signed.hmac(key, body)
    }

    /// `computed` written the way this scheme writes it in its header.
    fn expected(&self, computed: &[u8], parsed: &Parsed) -> String;

    /// The headers to send, signed with `keys` (already passed through `key`, at least one).
    fn sign(&self, keys: &[Cow<'_, [u8]>], ctx: &SignContext<'_>) -> Vec<(String, String)>;

    /// The header value is the secret itself: no signature, no signed content, nothing shown.
    fn carries_secret(&self) -> bool {
        false
    }
}

/// The first header called `name`, in any case.
pub(crate) fn header<'h>(headers: &'h [Header], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_bytes())
}

/// A header value as evidence text: lossy for non-UTF-8, cut at [`MAX_EVIDENCE_LEN`] bytes.
pub(crate) fn evidence(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(MAX_EVIDENCE_LEN)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if raw.len() > MAX_EVIDENCE_LEN {
        text.push('…');
    }
    text
}

/// A header value as trimmed text, if it is UTF-8.
pub(crate) fn text(raw: &[u8]) -> Option<&str> {
    std::str::from_utf8(raw).ok().map(str::trim)
}

/// Unix seconds, digits only: anything else (a sign, a fraction, a date) is not a timestamp.
pub(crate) fn parse_timestamp(raw: &[u8]) -> Option<SentTime> {
    let t = text(raw)?;
    if t.is_empty() || t.len() > MAX_TIMESTAMP_DIGITS || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(SentTime {
        text: t.to_owned(),
        secs: t.parse().ok()?,
    })
}

impl Encoding {
    pub(crate) fn encode(self, mac: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(mac),
            Encoding::Base64 => STANDARD.encode(mac),
        }
    }

    /// Bounded and lenient: hex in either case, base64 with or without padding.
    pub(crate) fn decode(self, s: &str) -> Option<Vec<u8>> {
        if s.is_empty() || s.len() > MAX_SIGNATURE_LEN {
            return None;
        }
        match self {
            Encoding::Hex => hex::decode(s).ok(),
            Encoding::Base64 => STANDARD
                .decode(s)
                .or_else(|_| STANDARD_NO_PAD.decode(s))
                .ok(),
        }
    }
}

/// A header holding one signature, `prefix` then the encoded MAC (GitHub, Shopify, Zentra, generic).
pub(crate) fn single_signature(
    raw: &[u8],
    prefix: &str,
    encoding: Encoding,
) -> Result<Vec<u8>, Failure> {
    let malformed = || Failure::malformed(Some(raw), None);
    let t = text(raw).ok_or_else(malformed)?;
    let head = t.get(..prefix.len()).ok_or_else(malformed)?;
    if !head.eq_ignore_ascii_case(prefix) {
        return Err(malformed());
    }
    encoding.decode(&t[prefix.len()..]).ok_or_else(malformed)
}

pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    // Lengths are public (every MAC of a scheme has the same one); contents are compared in
    // constant time.
    a.ct_eq(b).into()
}

/// The key a `whsec_` secret stands for under Standard Webhooks: the base64 after the prefix.
pub(crate) fn whsec_decoded(secret: &[u8]) -> Option<Vec<u8>> {
    let rest = secret.strip_prefix(b"whsec_")?;
    STANDARD
        .decode(rest)
        .or_else(|_| STANDARD_NO_PAD.decode(rest))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_plain_digits_that_fit() {
        assert_eq!(
            parse_timestamp(b" 1700000000 ").unwrap().secs,
            1_700_000_000
        );
        assert_eq!(
            parse_timestamp(b"1700000000123").unwrap().secs,
            1_700_000_000_123
        );
        for bad in [
            &b""[..],
            b"-5",
            b"+5",
            b"17.5",
            b"9999999999999999999",
            b"\xff",
            b"2023-11-14",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn evidence_is_lossy_and_bounded() {
        assert_eq!(evidence(b"v1,abc"), "v1,abc");
        assert_eq!(evidence(b"a\xffb"), "a\u{fffd}b");
        let long = vec![b'a'; MAX_EVIDENCE_LEN * 4];
        assert_eq!(evidence(&long).len(), MAX_EVIDENCE_LEN + '…'.len_utf8());
    }

    #[test]
    fn single_signature_checks_prefix_and_encoding() {
        assert_eq!(
            single_signature(b"SHA256=00ff", "sha256=", Encoding::Hex).unwrap(),
            vec![0, 255]
        );
        assert_eq!(
            single_signature(b"AP8", "", Encoding::Base64).unwrap(),
            vec![0, 255]
        );
        for bad in [
            &b"sha1=00"[..],
            b"sha256=zz",
            b"sha256=",
            b"\xe2\x82",
            b"sh",
        ] {
            let err = single_signature(bad, "sha256=", Encoding::Hex).unwrap_err();
            assert_eq!(err.verdict, Verdict::Malformed);
        }
    }

    #[test]
    fn signed_describes_without_the_body() {
        let s = Signed::after("v0:1:".into());
        assert_eq!(s.describe(), "v0:1:{body}");
        assert_eq!(
            s.hmac(b"k", b"body"),
            Signed::after("v0:1:".into()).hmac(b"k", b"body")
        );
        assert_ne!(s.hmac(b"k", b"body"), Signed::body().hmac(b"k", b"body"));
    }
}
