//! Configuration: the TOML file's sections as plain serde structs, their defaults, and the lookups
//! the receiver and relay make on a loaded configuration (DESIGN.md, "Configuration").
//!
//! Every struct denies unknown keys (a typo must not silently fall back to a default) and every
//! section has a default, so an empty file — or no file at all, see [`Config::default`] — is valid.

mod load;
mod routing;
mod secret;
mod validate;
mod watch;

pub use load::{ConfigError, load, parse};
pub use routing::{DEFAULT_ROUTE, RouteMatch};
pub use secret::{SecretConfig, SecretString};
pub use watch::{Reload, restart_required, watch};

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub receiver: ReceiverConfig,
    pub api: ApiConfig,
    pub storage: StorageConfig,
    pub routes: Vec<RouteConfig>,
    pub targets: Vec<TargetConfig>,
    /// Interface keymap overrides (`action = "key"`); the interface validates them.
    pub keys: BTreeMap<String, String>,
}

/// `[receiver]`: where webhooks arrive and the limits that keep a hostile sender bounded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiverConfig {
    pub bind: SocketAddr,
    pub max_body_bytes: u64,
    /// Larger request heads get 431.
    pub max_header_bytes: u64,
    pub header_timeout_ms: u64,
    pub body_timeout_ms: u64,
    pub max_connections: u32,
    /// Bodies read but not yet committed; beyond this the receiver answers 503.
    pub inflight_body_bytes: u64,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8989)),
            max_body_bytes: 26_214_400,
            max_header_bytes: 65_536,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            max_connections: 1024,
            inflight_body_bytes: 67_108_864,
        }
    }
}

/// `[api]`: the control API listener.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub bind: SocketAddr,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8990)),
        }
    }
}

/// `[storage]`: the redb history. Changes need a restart.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Oldest events (with their deliveries and log records) are pruned beyond this.
    pub max_events: u64,
    /// redb's page cache; its own 1 GiB default costs hundreds of MB of RSS.
    pub cache_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            max_events: 1_000_000,
            cache_mb: 64,
        }
    }
}

/// `[[routes]]`: a path prefix on the receiver. Unmatched paths go to the implicit route
/// [`DEFAULT_ROUTE`], which verifies by detection, answers `ack` and has only `--forward` targets.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub name: String,
    /// Matched on whole path segments: `/gh` takes `/gh` and `/gh/x`, not `/ghost`.
    pub path: String,
    /// Names of `[[targets]]`.
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub respond: Respond,
    /// Answer 401 to `mismatch`, `missing`, `malformed` and `stale` (the event is still recorded).
    #[serde(default)]
    pub reject_invalid: bool,
    #[serde(default)]
    pub dedupe: Dedupe,
    /// `None`: the scheme is detected from the headers and the verdict is `no_secret` or `unsigned`.
    #[serde(default)]
    pub verify: Option<VerifyConfig>,
}

/// What the receiver answers the sender: `"ack"`, `"proxy"`, or a table
/// `{ status, headers, body, delay_ms }` (a static answer).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "RespondForm")]
pub enum Respond {
    /// `200 {"event_id": ...}` as soon as the event is durable.
    #[default]
    Ack,
    /// Pass back the first target's answer to the first attempt.
    Proxy,
    /// The same answer to every request, once its event is durable: what Twilio wants (TwiML),
    /// or a 410 or a slow 200 to see how a provider reacts.
    Static(StaticAnswer),
}

/// A route's static answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticAnswer {
    #[serde(default = "StaticAnswer::ok")]
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: String,
    /// Wait this long before answering (after the event is stored).
    #[serde(default)]
    pub delay_ms: u64,
}

impl StaticAnswer {
    /// Longest `delay_ms`: a slow answer, not a stalled receiver.
    pub const MAX_DELAY_MS: u64 = 120_000;

    fn ok() -> u16 {
        200
    }
}

/// How `respond` is written in the file.
#[derive(Deserialize)]
#[serde(untagged)]
enum RespondForm {
    Name(String),
    Static(StaticAnswer),
}

impl TryFrom<RespondForm> for Respond {
    type Error = String;

    fn try_from(form: RespondForm) -> Result<Self, String> {
        match form {
            RespondForm::Name(name) => match name.as_str() {
                "ack" => Ok(Respond::Ack),
                "proxy" => Ok(Respond::Proxy),
                other => Err(format!(
                    "unknown respond {other:?}: \"ack\", \"proxy\" or {{ status, headers, body, delay_ms }}"
                )),
            },
            RespondForm::Static(answer) if !(100..=599).contains(&answer.status) => Err(format!(
                "status {} is not an HTTP status (100..=599)",
                answer.status
            )),
            RespondForm::Static(answer) if answer.delay_ms > StaticAnswer::MAX_DELAY_MS => {
                Err(format!(
                    "delay_ms {} is over {}",
                    answer.delay_ms,
                    StaticAnswer::MAX_DELAY_MS
                ))
            }
            RespondForm::Static(answer) => {
                for (name, value) in &answer.headers {
                    http::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("header name {name:?} is not a valid HTTP name"))?;
                    http::HeaderValue::from_str(value)
                        .map_err(|_| format!("header {name:?}: the value cannot be sent"))?;
                }
                Ok(Respond::Static(answer))
            }
        }
    }
}

/// What happens to an event whose dedupe key was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dedupe {
    /// Recorded and delivered like any other (still marked `duplicate_of`).
    #[default]
    Off,
    /// Recorded with `duplicate_of` but not delivered.
    Drop,
}

/// The signature schemes hooklens verifies and signs (DESIGN.md, "Signature schemes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemeName {
    Zentra,
    StandardWebhooks,
    Stripe,
    Github,
    Slack,
    Shopify,
    HeaderSecret,
    Hmac,
}

impl SchemeName {
    pub const ALL: [SchemeName; 8] = [
        SchemeName::Zentra,
        SchemeName::StandardWebhooks,
        SchemeName::Stripe,
        SchemeName::Github,
        SchemeName::Slack,
        SchemeName::Shopify,
        SchemeName::HeaderSecret,
        SchemeName::Hmac,
    ];

    /// The name as written in the configuration and the contract's `scheme` fields.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemeName::Zentra => "zentra",
            SchemeName::StandardWebhooks => "standard-webhooks",
            SchemeName::Stripe => "stripe",
            SchemeName::Github => "github",
            SchemeName::Slack => "slack",
            SchemeName::Shopify => "shopify",
            SchemeName::HeaderSecret => "header-secret",
            SchemeName::Hmac => "hmac",
        }
    }
}

impl fmt::Display for SchemeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown scheme name; lists the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheme `{0}`, expected one of {list}", list = scheme_list())]
pub struct UnknownScheme(pub String);

fn scheme_list() -> String {
    let names: Vec<&str> = SchemeName::ALL.iter().map(|s| s.as_str()).collect();
    names.join(", ")
}

impl FromStr for SchemeName {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SchemeName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| UnknownScheme(s.to_owned()))
    }
}

/// How a signature is encoded (generic `hmac` scheme): the signature module's own type.
pub use crate::signature::Encoding;

/// `[routes.verify]`: how the receiver checks a route's signatures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    pub scheme: SchemeName,
    /// Several = a rotation window; any active one is accepted and the match is named.
    #[serde(default)]
    pub secrets: Vec<SecretConfig>,
    #[serde(default = "default_tolerance_secs")]
    pub tolerance_secs: i64,
    /// `header-secret`: the header carrying the secret (default `X-Webhook-Secret`);
    /// `hmac`: the signature header (required).
    #[serde(default)]
    pub header: Option<String>,
    /// `hmac` only, like the rest below.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub encoding: Option<Encoding>,
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// What is signed, e.g. `{timestamp}.{body}`; default `{body}`.
    #[serde(default)]
    pub signed: Option<String>,
}

fn default_tolerance_secs() -> i64 {
    300
}

/// Whether a target gets the request's remaining path and query appended to its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppendPath {
    /// Append when the target URL's path is empty or `/`, use the URL exactly otherwise.
    #[default]
    Auto,
    Always,
    Never,
}

// TOML spells this `"auto" | true | false`, which no derive expresses.
impl<'de> Deserialize<'de> for AppendPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AppendPath;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""auto", true or false"#)
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<AppendPath, E> {
                Ok(if v {
                    AppendPath::Always
                } else {
                    AppendPath::Never
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AppendPath, E> {
                match v {
                    "auto" => Ok(AppendPath::Auto),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `[[targets]]`: a consumer events are delivered to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub name: String,
    /// An http(s) URL with a host (checked by [`Config::validate`]).
    pub url: String,
    /// Event-type filter, globs; `["*"]` takes everything.
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    #[serde(default)]
    pub append_path: AppendPath,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    #[serde(default)]
    pub follow_redirects: bool,
    /// `X-Forwarded-For`, `-Proto` and `-Host` on relayed requests.
    #[serde(default = "yes")]
    pub forwarded_headers: bool,
    /// Response bytes stored per attempt; the full size is recorded anyway.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: u64,
    #[serde(default)]
    pub retry: RetryConfig,
    #[serde(default)]
    pub circuit: CircuitConfig,
    #[serde(default)]
    pub sign: SignConfig,
    /// Made by `--forward`: attached to every route, the implicit `default` one included.
    /// Never read from a file, so a reload cannot drop or forge one.
    #[serde(skip)]
    pub forward: bool,
}

fn yes() -> bool {
    true
}

fn default_events() -> Vec<String> {
    vec!["*".to_owned()]
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_concurrency() -> u32 {
    8
}
fn default_max_response_bytes() -> u64 {
    65_536
}

impl TargetConfig {
    /// A target with every setting at its default (as `--forward` and the control API make them).
    /// The URL is not checked here; [`Config::validate`] does.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        TargetConfig {
            name: name.into(),
            url: url.into(),
            events: default_events(),
            append_path: AppendPath::Auto,
            timeout_ms: default_timeout_ms(),
            concurrency: default_concurrency(),
            follow_redirects: false,
            forwarded_headers: true,
            max_response_bytes: default_max_response_bytes(),
            retry: RetryConfig::default(),
            circuit: CircuitConfig::default(),
            sign: SignConfig::default(),
            forward: false,
        }
    }
}

/// `[targets.retry]`: exponential backoff with full jitter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included; then the delivery is `dead`.
    pub max_attempts: u32,
    pub initial_ms: u64,
    pub multiplier: f64,
    /// Caps both the backoff and a `Retry-After`.
    pub max_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 8,
            initial_ms: 500,
            multiplier: 2.0,
            max_ms: 600_000,
        }
    }
}

/// `[targets.circuit]`: when a failing target stops being tried.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitConfig {
    /// Consecutive failures that open the circuit.
    pub failures: u32,
    /// How long it stays open before one probe.
    pub cooldown_ms: u64,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        CircuitConfig {
            failures: 5,
            cooldown_ms: 30_000,
        }
    }
}

/// How a target's requests are signed: the sender's headers as they came, or a fresh signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignScheme {
    #[default]
    Passthrough,
    Resign(SchemeName),
}

impl SignScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            SignScheme::Passthrough => "passthrough",
            SignScheme::Resign(s) => s.as_str(),
        }
    }
}

impl fmt::Display for SignScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SignScheme {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "passthrough" {
            return Ok(SignScheme::Passthrough);
        }
        s.parse().map(SignScheme::Resign).map_err(|_| {
            serde::de::Error::custom(format_args!(
                "unknown sign scheme `{s}`, expected passthrough or one of {}",
                scheme_list()
            ))
        })
    }
}

/// `[targets.sign]`: re-signing settings; the scheme parameters mean what they mean in
/// [`VerifyConfig`].
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignConfig {
    pub scheme: SignScheme,
    /// Timestamped schemes that carry several signatures sign with every active secret.
    pub secrets: Vec<SecretConfig>,
    pub header: Option<String>,
    pub prefix: Option<String>,
    pub encoding: Option<Encoding>,
    pub timestamp_header: Option<String>,
    pub signed: Option<String>,
}
