//! The configuration in force and what is derived from it (each route's signature verifier),
//! swapped as one `Arc` on each reload so a request sees one consistent version from start to end.

use crate::config::{Config, RouteMatch, SchemeName, SecretConfig, VerifyConfig};
use crate::identity::Identity;
use crate::model::{Header, Timestamp, Verdict, Verification};
use crate::signature::{self, HmacParams, Scheme, Secret, SecretValue, Verifier};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

pub type LiveRx = watch::Receiver<Arc<Live>>;

pub struct Live {
    pub config: Config,
    pub config_path: Option<PathBuf>,
    /// This instance (kept across reloads).
    pub identity: Identity,
    /// Route name → its verifier, for routes with `[routes.verify]`.
    verifiers: Vec<(String, Verifier)>,
}

/// What the receiver learns from a request before storing it.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub verification: Verification,
    pub event_type: Option<String>,
    pub dedupe_key: Option<String>,
    /// Captured headers that carry a secret on this route (shown redacted).
    pub secret_headers: Vec<String>,
}

impl Live {
    pub fn new(config: Config, config_path: Option<PathBuf>, identity: Identity) -> Self {
        let verifiers = config
            .routes
            .iter()
            .filter_map(|r| Some((r.name.clone(), verifier(r.verify.as_ref()?))))
            .collect();
        Live {
            config,
            config_path,
            identity,
            verifiers,
        }
    }

    pub fn verifier(&self, route: &str) -> Option<&Verifier> {
        self.verifiers
            .iter()
            .find(|(name, _)| name == route)
            .map(|(_, v)| v)
    }

    /// Checks the request's signature by its route's rule, and reads its event facts.
    pub fn inspect(
        &self,
        route: &RouteMatch<'_, '_>,
        headers: &[Header],
        body: &[u8],
        now: Timestamp,
    ) -> Inspection {
        let name = route.name();
        let (verification, secret_headers) = match self.verifier(name) {
            Some(verifier) => {
                let mut v = verifier.verify(headers, body, now);
                if v.verdict == Verdict::Mismatch && v.diagnosis.is_none() {
                    // Only a failure pays for trying the other routes' secrets.
                    let others: Vec<(&str, &Verifier)> = self
                        .verifiers
                        .iter()
                        .filter(|(n, _)| n != name)
                        .map(|(n, v)| (n.as_str(), v))
                        .collect();
                    if !others.is_empty() {
                        v = verifier.verify_with_context(headers, body, now, &others);
                    }
                }
                let secret_headers = match verifier.scheme() {
                    Scheme::HeaderSecret { header } => vec![header.to_ascii_lowercase()],
                    _ => Vec::new(),
                };
                (v, secret_headers)
            }
            None => (signature::detect(headers), Vec::new()),
        };
        let (event_type, dedupe_key) =
            signature::event_facts(verification.scheme.as_deref(), headers, body);
        Inspection {
            verification,
            event_type,
            dedupe_key,
            secret_headers,
        }
    }
}

/// The signature scheme a `[routes.verify]` (or `[targets.sign]`) table describes.
pub fn scheme(
    name: SchemeName,
    header: Option<&str>,
    prefix: Option<&str>,
    encoding: Option<signature::Encoding>,
    timestamp_header: Option<&str>,
    signed: Option<&str>,
) -> Scheme {
    match name {
        SchemeName::Zentra => Scheme::Zentra,
        SchemeName::StandardWebhooks => Scheme::StandardWebhooks,
        SchemeName::Stripe => Scheme::Stripe,
        SchemeName::Github => Scheme::Github,
        SchemeName::Slack => Scheme::Slack,
        SchemeName::Shopify => Scheme::Shopify,
        SchemeName::HeaderSecret => Scheme::HeaderSecret {
            header: header
                .unwrap_or(signature::DEFAULT_SECRET_HEADER)
                .to_owned(),
        },
        SchemeName::Hmac => {
            let defaults = HmacParams::default();
            Scheme::Hmac(HmacParams {
                header: header.map_or(defaults.header, str::to_owned),
                prefix: prefix.map_or(defaults.prefix, str::to_owned),
                encoding: encoding.unwrap_or(defaults.encoding),
                timestamp_header: timestamp_header.map(str::to_owned),
                signed: signed.map_or(defaults.signed, str::to_owned),
            })
        }
    }
}

/// Configured secrets as the signature module holds them, labelled `#1`, `#2`, ... by position
/// when unlabelled.
pub fn secrets(configured: &[SecretConfig]) -> Vec<Secret> {
    configured
        .iter()
        .enumerate()
        .map(|(i, s)| Secret {
            label: s.display_label(i),
            value: SecretValue::new(s.secret().expose().as_bytes()),
            expires: s.expires(),
        })
        .collect()
}

fn verifier(v: &VerifyConfig) -> Verifier {
    let scheme = scheme(
        v.scheme,
        v.header.as_deref(),
        v.prefix.as_deref(),
        v.encoding,
        v.timestamp_header.as_deref(),
        v.signed.as_deref(),
    );
    Verifier::new(scheme, secrets(&v.secrets)).with_tolerance(v.tolerance_secs)
}

/// Whether a target's `events` filter takes an event type. `*` matches any run of characters
/// (so `"*"` also takes events without a type), `?` one character; anything else itself.
pub fn accepts(patterns: &[String], event_type: Option<&str>) -> bool {
    patterns.iter().any(|p| match event_type {
        Some(t) => glob(p.as_bytes(), t.as_bytes()),
        None => p.bytes().all(|b| b == b'*'),
    })
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matching with one backtrack point: linear in practice, no recursion.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn event_filters_are_globs() {
        let p = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(accepts(&p(&["*"]), Some("invoice.paid")));
        assert!(accepts(&p(&["*"]), None));
        assert!(accepts(&p(&["invoice.*"]), Some("invoice.paid")));
        assert!(!accepts(&p(&["invoice.*"]), Some("charge.failed")));
        assert!(!accepts(&p(&["invoice.*"]), None));
        assert!(accepts(&p(&["charge.*", "*.paid"]), Some("invoice.paid")));
        assert!(accepts(&p(&["push"]), Some("push")));
        assert!(!accepts(&p(&["push"]), Some("pushed")));
        assert!(accepts(&p(&["a?c*"]), Some("abcdef")));
        assert!(!accepts(&p(&[]), Some("x")));
    }
}
