//! Webhook signatures: verify on the receiver, sign on the relay and in `sign`/`send`, one file per
//! scheme behind the [`rules::Rules`] trait, so that signing and verifying share one code path.
//!
//! - [`Verifier::verify`] (or [`Verifier::verify_with_context`], which also knows the other routes'
//!   secrets for the `other_route_secret` diagnosis) gives a [`Verification`] with its evidence.
//! - [`detect`] names the scheme of a request on a route without a verify rule.
//! - [`sign`] / [`try_sign`] give the headers to send.
//! - [`event_facts`] reads the event type and the sender's delivery id.
//!
//! The generic `hmac` scheme's `signed` template knows two placeholders, `{body}` (the raw body,
//! required by [`Scheme::validate`]) and `{timestamp}` (the value of `timestamp_header`, which it
//! requires); `{{` and `}}` are literal braces. There is no `{id}`: the generic scheme has no id header.

mod body_hmac;
mod diagnosis;
mod facts;
mod github;
mod header_secret;
mod hmac;
mod reserialize;
mod rules;
mod secret;
mod shopify;
mod slack;
mod standard_webhooks;
mod stripe;
mod verify;
mod zentra;

#[cfg(test)]
mod proptests;

pub use facts::event_facts;
pub use secret::{Secret, SecretValue};
pub use verify::Verifier;

use crate::model::{Header, Timestamp, Verdict, Verification};
use rules::Rules;
use serde::{Deserialize, Serialize};

/// Tolerance for a signed timestamp unless the route says otherwise.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
/// The header a `header-secret` route reads unless it names another.
pub const DEFAULT_SECRET_HEADER: &str = "X-Webhook-Secret";

/// A signature scheme, with the settings the parameterised ones need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    Zentra,
    StandardWebhooks,
    Stripe,
    Github,
    Slack,
    Shopify,
    /// The header carries the shared secret itself.
    HeaderSecret {
        header: String,
    },
    Hmac(HmacParams),
}

/// Every signature, timestamp and id header of the known schemes, in each header family
/// (lowercase, as captured). Re-signing removes all of them — a consumer's library may prefer a
/// stale one (svix's reads `svix-*` before `webhook-*`) — and writes its scheme's own afresh.
pub const SCHEME_HEADERS: &[&str] = &[
    "x-zentra-signature",
    "x-zentra-delivery-id",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "stripe-signature",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-github-delivery",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-shopify-hmac-sha256",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
    "shopify-hmac-sha256",
    "shopify-webhook-id",
    "shopify-event-id",
    "shopify-triggered-at",
    "x-twilio-signature",
    "i-twilio-idempotency-token",
];

impl Scheme {
    /// Whether a signature made `skew` seconds before it was received (negative: in the future)
    /// is refused, the way the provider's own library decides: Stripe's refuses only timestamps
    /// older than the tolerance (a clock ahead of ours is accepted); Standard Webhooks', Slack's
    /// and the generic scheme refuse both directions.
    pub fn outside_tolerance(&self, skew: i64, tolerance: i64) -> bool {
        match self {
            Scheme::Stripe => skew > tolerance,
            _ => skew.unsigned_abs() > tolerance.unsigned_abs(),
        }
    }

    /// The headers this scheme reads beyond [`SCHEME_HEADERS`]: a `header-secret` route's
    /// secret header, the generic scheme's signature and timestamp headers.
    pub fn own_headers(&self) -> Vec<&str> {
        match self {
            Scheme::HeaderSecret { header } => vec![header.as_str()],
            Scheme::Hmac(p) => std::iter::once(p.header.as_str())
                .chain(p.timestamp_header.as_deref())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// How the generic `hmac` scheme writes its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
}

/// Settings of the generic `hmac` scheme (HMAC-SHA256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacParams {
    /// The header that carries the signature.
    pub header: String,
    /// Text before the encoded MAC, e.g. `sha256=`; matched without regard to ASCII case.
    pub prefix: String,
    pub encoding: Encoding,
    /// A header carrying unix seconds; when set, the timestamp is checked against the tolerance.
    pub timestamp_header: Option<String>,
    /// What is signed: `{body}`, `{timestamp}`, `{{`/`}}` for literal braces, other text as is.
    pub signed: String,
}

impl Default for HmacParams {
    fn default() -> Self {
        HmacParams {
            header: "X-Signature".to_owned(),
            prefix: String::new(),
            encoding: Encoding::Hex,
            timestamp_header: None,
            signed: "{body}".to_owned(),
        }
    }
}

/// What can go wrong before any request is looked at: settings and signing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("unknown signature scheme {0:?}")]
    UnknownScheme(String),
    #[error("invalid signed template: {0}")]
    Template(String),
    #[error("invalid header name {0:?}")]
    HeaderName(String),
    #[error("no active secret to sign with (none given, or all expired)")]
    NoActiveSecret,
    #[error("the {0} contains characters a header value cannot carry")]
    HeaderValue(&'static str),
}

impl Scheme {
    /// Every scheme name, as configuration and the command line spell them.
    pub const NAMES: [&'static str; 8] = [
        "zentra",
        "standard-webhooks",
        "stripe",
        "github",
        "slack",
        "shopify",
        "header-secret",
        "hmac",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Zentra => "zentra",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Stripe => "stripe",
            Scheme::Github => "github",
            Scheme::Slack => "slack",
            Scheme::Shopify => "shopify",
            Scheme::HeaderSecret { .. } => "header-secret",
            Scheme::Hmac(_) => "hmac",
        }
    }

    /// A scheme by name, with default settings for the parameterised ones
    /// (`header-secret` reads [`DEFAULT_SECRET_HEADER`], `hmac` takes [`HmacParams::default`]).
    pub fn from_name(name: &str) -> Result<Scheme, VerifyError> {
        Ok(match name {
            "zentra" => Scheme::Zentra,
            "standard-webhooks" => Scheme::StandardWebhooks,
            "stripe" => Scheme::Stripe,
            "github" => Scheme::Github,
            "slack" => Scheme::Slack,
            "shopify" => Scheme::Shopify,
            "header-secret" => Scheme::HeaderSecret {
                header: DEFAULT_SECRET_HEADER.to_owned(),
            },
            "hmac" => Scheme::Hmac(HmacParams::default()),
            other => return Err(VerifyError::UnknownScheme(other.to_owned())),
        })
    }

    /// Checks the settings a configuration gave; verifying with settings that fail this still
    /// works (an unknown placeholder is then signed as literal text) but is surely not meant.
    pub fn validate(&self) -> Result<(), VerifyError> {
        match self {
            Scheme::HeaderSecret { header } => check_header_name(header),
            Scheme::Hmac(p) => {
                check_header_name(&p.header)?;
                if let Some(ts) = &p.timestamp_header {
                    check_header_name(ts)?;
                }
                hmac::validate_template(&p.signed, p.timestamp_header.is_some())
            }
            _ => Ok(()),
        }
    }

    /// Called per request: the fixed schemes are constants, so only the parameterised ones are
    /// built (borrowing their settings), and nothing is boxed.
    pub(crate) fn rules(&self) -> SchemeRules<'_> {
        match self {
            Scheme::Zentra => SchemeRules::Fixed(&zentra::ZENTRA),
            Scheme::StandardWebhooks => SchemeRules::Fixed(&standard_webhooks::StandardWebhooks),
            Scheme::Stripe => SchemeRules::Fixed(&stripe::Stripe),
            Scheme::Github => SchemeRules::Fixed(&github::GITHUB),
            Scheme::Slack => SchemeRules::Fixed(&slack::Slack),
            Scheme::Shopify => SchemeRules::Fixed(&shopify::SHOPIFY),
            Scheme::HeaderSecret { header } => {
                SchemeRules::HeaderSecret(header_secret::HeaderSecret { header })
            }
            Scheme::Hmac(p) => SchemeRules::Hmac(hmac::GenericHmac::new(p)),
        }
    }
}

/// A scheme's [`Rules`], used through `Deref` as `&dyn Rules`.
pub(crate) enum SchemeRules<'a> {
    Fixed(&'static dyn Rules),
    HeaderSecret(header_secret::HeaderSecret<'a>),
    Hmac(hmac::GenericHmac<'a>),
}

impl<'a> std::ops::Deref for SchemeRules<'a> {
    type Target = dyn Rules + 'a;

    fn deref(&self) -> &Self::Target {
        match self {
            SchemeRules::Fixed(rules) => *rules,
            SchemeRules::HeaderSecret(rules) => rules,
            SchemeRules::Hmac(rules) => rules,
        }
    }
}

fn check_header_name(name: &str) -> Result<(), VerifyError> {
    // RFC 9110 token characters: anything else could not be sent or received as a header name.
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.is_empty() && name.bytes().all(token) {
        Ok(())
    } else {
        Err(VerifyError::HeaderName(name.to_owned()))
    }
}

/// Schemes recognisable from their headers alone, in the order [`detect`] tries them (the generic
/// `hmac` scheme has no header of its own and is never detected).
fn detectable() -> [Scheme; 7] {
    [
        Scheme::StandardWebhooks,
        Scheme::Stripe,
        Scheme::Github,
        Scheme::Slack,
        Scheme::Shopify,
        Scheme::Zentra,
        Scheme::HeaderSecret {
            header: DEFAULT_SECRET_HEADER.to_owned(),
        },
    ]
}

/// The scheme whose signature header is present, for a route without a verify rule: that scheme
/// with verdict `no_secret` and what evidence the headers give (no skew: there is no clock here),
/// or no scheme and `unsigned`.
pub fn detect(headers: &[Header]) -> Verification {
    for scheme in detectable() {
        let rules = scheme.rules();
        if rules.present(headers) {
            let mut v = match rules.parse(headers) {
                Ok(parsed) => verify::evidence(&*rules, &parsed, None),
                Err(failure) => failure.into_verification(&*rules),
            };
            v.verdict = Verdict::NoSecret;
            return v;
        }
    }
    Verification::bare(None, Verdict::Unsigned)
}

/// The name of the scheme [`detect`] would report, without building evidence.
pub(crate) fn detect_name(headers: &[Header]) -> Option<&'static str> {
    detectable()
        .iter()
        .find(|s| s.rules().present(headers))
        .map(Scheme::name)
}

/// The headers to send, names in their canonical case; empty when no secret is active at
/// `timestamp` or `id`/`event_type` cannot be a header value — [`try_sign`] says which.
pub fn sign(
    scheme: &Scheme,
    secrets: &[Secret],
    body: &[u8],
    timestamp: i64,
    id: Option<&str>,
    event_type: Option<&str>,
) -> Vec<(String, String)> {
    try_sign(scheme, secrets, body, timestamp, id, event_type).unwrap_or_default()
}

/// The headers to send. `timestamp` (unix seconds) is signed where the scheme signs one and is also
/// the instant at which secrets' expiry is judged. Schemes that carry several signatures
/// (standard-webhooks, stripe) sign with every active secret; the others with the first active
/// one. `id` fills the scheme's id header where it has one (standard-webhooks makes a `msg_<ulid>`
/// when none is given, since its id is signed); `event_type` fills its event header where it has one.
pub fn try_sign(
    scheme: &Scheme,
    secrets: &[Secret],
    body: &[u8],
    timestamp: i64,
    id: Option<&str>,
    event_type: Option<&str>,
) -> Result<Vec<(String, String)>, VerifyError> {
    if id.is_some_and(|v| !header_safe(v)) {
        return Err(VerifyError::HeaderValue("id"));
    }
    if event_type.is_some_and(|v| !header_safe(v)) {
        return Err(VerifyError::HeaderValue("event type"));
    }
    let at = Timestamp::from_unix_millis(timestamp.saturating_mul(1000));
    let rules = scheme.rules();
    let keys: Vec<_> = secrets
        .iter()
        .filter(|s| s.is_active(at))
        .map(|s| rules.key(s.value.expose()))
        .collect();
    let Some(first) = keys.first() else {
        return Err(VerifyError::NoActiveSecret);
    };
    if rules.carries_secret() && std::str::from_utf8(first).is_err() {
        return Err(VerifyError::HeaderValue("secret"));
    }
    let ctx = rules::SignContext {
        body,
        timestamp,
        id,
        event_type,
    };
    let mut headers = rules.sign(&keys, &ctx);
    if matches!(scheme, Scheme::Github) {
        // Right after the SHA-256 signature, as GitHub orders them.
        headers.insert(
            1,
            (
                github::LEGACY_HEADER.to_owned(),
                github::legacy_signature(first, body),
            ),
        );
    }
    // A header-secret value is the secret itself: one with a control character cannot be sent.
    if headers.iter().any(|(_, v)| !header_safe(v)) {
        return Err(VerifyError::HeaderValue("secret"));
    }
    Ok(headers)
}

/// Visible ASCII, spaces and tabs, and any non-ASCII UTF-8: what an HTTP client accepts.
pub fn header_safe(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || b >= 0x20 && b != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Header;

    #[test]
    fn names_round_trip_through_from_name() {
        for name in Scheme::NAMES {
            assert_eq!(Scheme::from_name(name).unwrap().name(), name);
        }
        assert_eq!(
            Scheme::from_name("svix"),
            Err(VerifyError::UnknownScheme("svix".into()))
        );
    }

    #[test]
    fn detect_names_the_scheme_of_a_known_signature_header() {
        let cases: &[(&str, &str, &str)] = &[
            ("webhook-signature", "v1,abc", "standard-webhooks"),
            ("svix-signature", "v1,abc", "standard-webhooks"),
            ("stripe-signature", "t=1,v1=00", "stripe"),
            ("x-hub-signature-256", "sha256=00", "github"),
            ("x-slack-signature", "v0=00", "slack"),
            ("x-shopify-hmac-sha256", "AA==", "shopify"),
            ("x-zentra-signature", "00", "zentra"),
            ("X-Webhook-Secret", "s3cret", "header-secret"),
        ];
        for (name, value, scheme) in cases {
            let v = detect(&[Header::new(*name, *value)]);
            assert_eq!(v.scheme.as_deref(), Some(*scheme), "{name}");
            assert_eq!(v.verdict, Verdict::NoSecret, "{name}");
            assert_eq!(v.secret, None);
        }
    }

    #[test]
    fn detect_keeps_evidence_but_never_a_header_secret() {
        let v = detect(&[
            Header::new("stripe-signature", "t=1700000000,v1=abcd"),
            Header::new("content-type", "application/json"),
        ]);
        assert_eq!(v.timestamp.as_deref(), Some("1700000000"));
        assert_eq!(v.received.as_deref(), Some("t=1700000000,v1=abcd"));
        assert_eq!(v.signed_content.as_deref(), Some("1700000000.{body}"));
        assert_eq!(v.skew_secs, None);

        let v = detect(&[Header::new("x-webhook-secret", "hunter2")]);
        assert_eq!(v.received, None);
        assert_eq!(v.expected, None);
        assert!(!format!("{v:?}").contains("hunter2"));
    }

    #[test]
    fn detect_without_a_signature_header_is_unsigned() {
        let v = detect(&[Header::new("content-type", "application/json")]);
        assert_eq!(v, Verification::bare(None, Verdict::Unsigned));
        assert_eq!(detect(&[]).verdict, Verdict::Unsigned);
    }

    #[test]
    fn validate_rejects_bad_settings() {
        let ok = Scheme::Hmac(HmacParams {
            timestamp_header: Some("X-Timestamp".into()),
            signed: "{timestamp}.{body}".into(),
            ..HmacParams::default()
        });
        assert_eq!(ok.validate(), Ok(()));
        let no_ts = Scheme::Hmac(HmacParams {
            signed: "{timestamp}.{body}".into(),
            ..HmacParams::default()
        });
        assert!(matches!(no_ts.validate(), Err(VerifyError::Template(_))));
        let unknown = Scheme::Hmac(HmacParams {
            signed: "{id}.{body}".into(),
            ..HmacParams::default()
        });
        assert!(matches!(unknown.validate(), Err(VerifyError::Template(_))));
        let bad_header = Scheme::HeaderSecret {
            header: "X Secret".into(),
        };
        assert!(matches!(
            bad_header.validate(),
            Err(VerifyError::HeaderName(_))
        ));
    }

    #[test]
    fn sign_needs_an_active_secret_and_header_safe_values() {
        let expired =
            vec![Secret::new("old", "s3cret").expiring(Timestamp::from_unix_millis(1_000_000))];
        assert_eq!(
            try_sign(&Scheme::Github, &expired, b"{}", 1_000, None, None),
            Err(VerifyError::NoActiveSecret)
        );
        assert!(sign(&Scheme::Github, &expired, b"{}", 1_000, None, None).is_empty());
        // Still valid one second before it expires.
        assert!(!sign(&Scheme::Github, &expired, b"{}", 999, None, None).is_empty());

        let secrets = Secret::list(["s3cret"]);
        assert_eq!(
            try_sign(&Scheme::Github, &secrets, b"{}", 1, Some("a\r\nb"), None),
            Err(VerifyError::HeaderValue("id"))
        );
        assert_eq!(
            try_sign(&Scheme::Github, &secrets, b"{}", 1, None, Some("x\ny")),
            Err(VerifyError::HeaderValue("event type"))
        );
        let hs = Scheme::from_name("header-secret").unwrap();
        for bad in [
            Secret::new("a", "line\nbreak"),
            Secret::new("b", vec![0xff]),
        ] {
            assert_eq!(
                try_sign(&hs, &[bad], b"", 1, None, None),
                Err(VerifyError::HeaderValue("secret"))
            );
        }
    }
}
