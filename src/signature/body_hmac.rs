//! The schemes that sign the raw body alone (GitHub, Shopify, Zentra): one header holding an
//! optional prefix and the encoded HMAC-SHA256, plus headers for the event type and delivery id.
//! They differ only in names, so each is a [`BodyHmac`] constant in its own file.

use super::Encoding;
use super::rules::{
    Failure, Parsed, Rules, SignContext, Signed, evidence, header, single_signature,
};
use crate::model::Header;
use std::borrow::Cow;

/// One body-HMAC scheme, described by its header names. Plain data, so a constant of it can be
/// handed out as `&'static dyn Rules` without allocating per request.
pub(crate) struct BodyHmac {
    pub name: &'static str,
    /// The header that carries the signature.
    pub signature: &'static str,
    /// Text before the encoded MAC, e.g. `sha256=`; matched without regard to ASCII case.
    pub prefix: &'static str,
    pub encoding: Encoding,
    /// The header that carries the event type (sent when signing; read by `event_facts`).
    pub event: &'static str,
    /// The header that carries the sender's delivery id.
    pub id: &'static str,
    /// Another family of the same headers: (the canonical prefix, the other one), e.g.
    /// Shopify's newer `shopify-*` beside `X-Shopify-*`. Either is read; the canonical one is
    /// written (re-signing adds the other where the sender used it).
    pub family: Option<(&'static str, &'static str)>,
}

impl BodyHmac {
    /// A header by its canonical name, or by its name in the other family.
    pub fn find<'h>(&self, headers: &'h [Header], name: &str) -> Option<&'h [u8]> {
        header(headers, name).or_else(|| {
            let (canonical, other) = self.family?;
            let rest = name
                .get(canonical.len()..)
                .filter(|_| name[..canonical.len()].eq_ignore_ascii_case(canonical))?;
            header(headers, &format!("{other}{rest}"))
        })
    }

    fn encode(&self, mac: &[u8]) -> String {
        format!("{}{}", self.prefix, self.encoding.encode(mac))
    }
}

impl Rules for BodyHmac {
    fn name(&self) -> &'static str {
        self.name
    }

    fn present(&self, headers: &[Header]) -> bool {
        self.find(headers, self.signature).is_some()
    }

    fn parse(&self, headers: &[Header]) -> Result<Parsed, Failure> {
        let raw = self
            .find(headers, self.signature)
            .ok_or_else(|| Failure::missing(None, None))?;
        Ok(Parsed {
            signatures: vec![single_signature(raw, self.prefix, self.encoding)?],
            received: Some(evidence(raw)),
            timestamp: None,
            signed: Signed::body(),
        })
    }

    fn expected(&self, computed: &[u8], _: &Parsed) -> String {
        self.encode(computed)
    }

    fn sign(&self, keys: &[Cow<'_, [u8]>], ctx: &SignContext<'_>) -> Vec<(String, String)> {
        // One signature header, one value: the first active key signs.
        let mac = self.compute(&keys[0], &Signed::body(), ctx.body);
        let mut out = vec![(self.signature.to_owned(), self.encode(&mac))];
        if let Some(event) = ctx.event_type {
            out.push((self.event.to_owned(), event.to_owned()));
        }
        if let Some(id) = ctx.id {
            out.push((self.id.to_owned(), id.to_owned()));
        }
        out
    }
}
