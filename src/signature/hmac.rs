//! The generic `hmac` scheme: HMAC-SHA256 in a header of your choice, with a prefix, hex or
//! base64, an optional timestamp header, and a `signed` template built from `{body}` and
//! `{timestamp}`.

use super::rules::{
    Failure, Parsed, Piece, Rules, SignContext, Signed, evidence, header, parse_timestamp,
    single_signature,
};
use super::{HmacParams, VerifyError};
use crate::model::Header;
use std::borrow::Cow;

/// A template placeholder or literal text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Body,
    Timestamp,
}

pub(crate) struct GenericHmac<'a> {
    params: &'a HmacParams,
    template: Vec<Part>,
}

impl<'a> GenericHmac<'a> {
    pub fn new(params: &'a HmacParams) -> Self {
        let has_ts = params.timestamp_header.is_some();
        GenericHmac {
            params,
            template: parse_template(&params.signed, has_ts, false).unwrap_or_default(),
        }
    }

    fn signed(&self, timestamp: Option<&str>) -> Signed {
        let mut pieces: Vec<Piece> = Vec::with_capacity(self.template.len());
        for part in &self.template {
            let piece = match part {
                Part::Body => Piece::Body,
                Part::Text(t) => Piece::Text(t.clone()),
                Part::Timestamp => Piece::Text(timestamp.unwrap_or_default().to_owned()),
            };
            // Adjacent text joins, so the description reads as one string.
            match (pieces.last_mut(), piece) {
                (Some(Piece::Text(prev)), Piece::Text(t)) => prev.push_str(&t),
                (_, piece) => pieces.push(piece),
            }
        }
        Signed(pieces)
    }

    fn encode(&self, mac: &[u8]) -> String {
        format!("{}{}", self.params.prefix, self.params.encoding.encode(mac))
    }
}

pub(crate) fn validate_template(template: &str, has_timestamp: bool) -> Result<(), VerifyError> {
    let parts = parse_template(template, has_timestamp, true)?;
    match parts.iter().filter(|p| **p == Part::Body).count() {
        1 => Ok(()),
        0 => Err(VerifyError::Template(format!(
            "{template:?} does not sign {{body}}"
        ))),
        _ => Err(VerifyError::Template(format!(
            "{template:?} signs {{body}} more than once"
        ))),
    }
}

/// `strict` refuses what `validate` should report; otherwise an unknown placeholder, a
/// `{timestamp}` without a timestamp header or a lone brace is kept as literal text.
fn parse_template(
    template: &str,
    has_timestamp: bool,
    strict: bool,
) -> Result<Vec<Part>, VerifyError> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        let literal = |what: &str| -> Result<(), VerifyError> {
            if strict {
                Err(VerifyError::Template(format!("{template:?}: {what}")))
            } else {
                Ok(())
            }
        };
        let (part, len) = if rest.starts_with("{{") {
            (Some(Part::Text("{".into())), 2)
        } else if rest.starts_with("}}") {
            (Some(Part::Text("}".into())), 2)
        } else if rest.starts_with("{body}") {
            (Some(Part::Body), 6)
        } else if rest.starts_with("{timestamp}") {
            if has_timestamp {
                (Some(Part::Timestamp), 11)
            } else {
                literal("{timestamp} needs timestamp_header")?;
                (None, 1)
            }
        } else if c == '{' || c == '}' {
            literal("unknown placeholder or lone brace (write {{ or }} for a brace)")?;
            (None, 1)
        } else {
            (None, c.len_utf8())
        };
        match part {
            Some(Part::Text(t)) => text.push_str(&t),
            Some(p) => {
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(p);
            }
            None => text.push_str(&rest[..len]),
        }
        rest = &rest[len..];
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

impl Rules for GenericHmac<'_> {
    fn name(&self) -> &'static str {
        "hmac"
    }

    fn present(&self, headers: &[Header]) -> bool {
        header(headers, &self.params.header).is_some()
    }

    fn parse(&self, headers: &[Header]) -> Result<Parsed, Failure> {
        let sig = header(headers, &self.params.header);
        // `None`: no timestamp header configured; `Some(None)`: configured but absent.
        let ts = self
            .params
            .timestamp_header
            .as_deref()
            .map(|name| header(headers, name));
        let (Some(sig), None | Some(Some(_))) = (sig, ts) else {
            return Err(Failure::missing(sig, ts.flatten()));
        };
        let sent = match ts.flatten() {
            Some(raw) => {
                Some(parse_timestamp(raw).ok_or_else(|| Failure::malformed(Some(sig), Some(raw)))?)
            }
            None => None,
        };
        let signature =
            single_signature(sig, &self.params.prefix, self.params.encoding).map_err(|mut f| {
                f.timestamp = sent.as_ref().map(|s| s.text.clone());
                f
            })?;
        Ok(Parsed {
            signatures: vec![signature],
            received: Some(evidence(sig)),
            signed: self.signed(sent.as_ref().map(|s| s.text.as_str())),
            timestamp: sent,
        })
    }

    fn expected(&self, computed: &[u8], _: &Parsed) -> String {
        self.encode(computed)
    }

    fn sign(&self, keys: &[Cow<'_, [u8]>], ctx: &SignContext<'_>) -> Vec<(String, String)> {
        let ts = ctx.timestamp.to_string();
        let has_ts = self.params.timestamp_header.is_some();
        let mac = self.compute(
            &keys[0],
            &self.signed(has_ts.then_some(ts.as_str())),
            ctx.body,
        );
        let mut out = vec![(self.params.header.clone(), self.encode(&mac))];
        if let Some(name) = &self.params.timestamp_header {
            out.push((name.clone(), ts));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Timestamp, Verdict};
    use crate::signature::{Encoding, Scheme, Secret, Verifier, sign};

    fn params(signed: &str, ts: Option<&str>) -> HmacParams {
        HmacParams {
            header: "X-Signature".into(),
            prefix: "sha256=".into(),
            encoding: Encoding::Hex,
            timestamp_header: ts.map(str::to_owned),
            signed: signed.into(),
        }
    }

    #[test]
    fn templates_parse_into_text_and_placeholders() {
        let parts = parse_template("{{v1}}:{timestamp}.{body}", true, true).unwrap();
        assert_eq!(
            parts,
            vec![
                Part::Text("{v1}:".into()),
                Part::Timestamp,
                Part::Text(".".into()),
                Part::Body
            ]
        );
        assert!(parse_template("{id}.{body}", false, true).is_err());
        assert!(parse_template("{timestamp}.{body}", false, true).is_err());
        // Leniently, the unknown placeholder is text and nothing panics on odd input.
        let lenient = parse_template("{id}.é{body}{", false, false).unwrap();
        assert_eq!(
            lenient,
            vec![
                Part::Text("{id}.é".into()),
                Part::Body,
                Part::Text("{".into())
            ]
        );
        assert!(validate_template("{body}{body}", false).is_err());
        assert!(validate_template("static", false).is_err());
    }

    #[test]
    fn a_timestamped_template_signs_and_verifies() {
        // Independently: python3 -c 'import hmac,hashlib; print(hmac.new(b"k", b"1700000000.hello",
        //   hashlib.sha256).hexdigest())'
        let scheme = Scheme::Hmac(params("{timestamp}.{body}", Some("X-Timestamp")));
        let sent = sign(
            &scheme,
            &Secret::list(["k"]),
            b"hello",
            1_700_000_000,
            None,
            None,
        );
        assert_eq!(sent[1], ("X-Timestamp".to_owned(), "1700000000".to_owned()));
        assert_eq!(sent[0].1, format!("sha256={}", PY_K_TS_HELLO));

        let headers: Vec<_> = sent
            .iter()
            .map(|(n, v)| Header::new(n.to_lowercase(), v.as_str()))
            .collect();
        let verifier = Verifier::new(scheme, Secret::list(["k"]));
        let v = verifier.verify(
            &headers,
            b"hello",
            Timestamp::from_unix_millis(1_700_000_002_000),
        );
        assert_eq!(v.verdict, Verdict::Verified);
        assert_eq!(v.signed_content.as_deref(), Some("1700000000.{body}"));
        assert_eq!(v.skew_secs, Some(2));

        let v = verifier.verify(&headers[..1], b"hello", Timestamp::from_unix_millis(0));
        assert_eq!(v.verdict, Verdict::Missing);
        let stale = verifier.verify(
            &headers,
            b"hello",
            Timestamp::from_unix_millis(1_800_000_000_000),
        );
        assert_eq!(stale.verdict, Verdict::Stale);
    }

    const PY_K_TS_HELLO: &str = "0c511384dbc4c6b6cbe53e5da961410697e51518b6128a9f4b1c0920a2ba5ff5";

    #[test]
    fn base64_without_a_prefix() {
        let p = HmacParams {
            prefix: String::new(),
            encoding: Encoding::Base64,
            ..params("{body}", None)
        };
        let scheme = Scheme::Hmac(p);
        let sent = sign(&scheme, &Secret::list(["k"]), b"x", 0, None, None);
        assert!(sent[0].1.ends_with('='));
        let headers = [Header::new("x-signature", sent[0].1.as_str())];
        let v = Verifier::new(scheme, Secret::list(["k"])).verify(
            &headers,
            b"x",
            Timestamp::from_unix_millis(0),
        );
        assert_eq!(v.verdict, Verdict::Verified);
    }
}
