//! Checks a parsed configuration for what serde cannot see: names that must be unique or must
//! exist, URLs, and numbers that would make the receiver or relay misbehave.

use super::routing::{DEFAULT_ROUTE, normalized_prefix};
use super::{Config, ConfigError, Encoding, SchemeName, SecretConfig, SignScheme, TargetConfig};
use std::collections::HashSet;
use std::fmt;

/// hyper panics when its read buffer limit is below this (`MINIMUM_MAX_BUFFER_SIZE`).
const MIN_HEADER_BYTES: u64 = 8192;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// A key path such as `targets[1].url`: printed for people, walked to find the line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct KeyPath(pub(super) Vec<Seg>);

impl KeyPath {
    pub(super) fn key(mut self, k: &str) -> Self {
        self.0.push(Seg::Key(k.to_owned()));
        self
    }
    pub(super) fn index(mut self, i: usize) -> Self {
        self.0.push(Seg::Index(i));
        self
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if n == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

fn at(first: &str) -> KeyPath {
    KeyPath::default().key(first)
}

/// A validation failure before it is tied to a file.
#[derive(Debug)]
pub(super) struct Problem {
    pub(super) key: KeyPath,
    pub(super) message: String,
}

impl Problem {
    pub(super) fn into_error(
        self,
        path: Option<std::path::PathBuf>,
        line: Option<usize>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path,
            line,
            key: self.key.to_string(),
            message: self.message,
        }
    }
}

fn fail<T>(key: KeyPath, message: impl Into<String>) -> Result<T, Problem> {
    Err(Problem {
        key,
        message: message.into(),
    })
}

/// The largest redb cache, in MiB: 64 GiB, far past any laptop, and no overflow in bytes.
const MAX_CACHE_MB: u64 = 65_536;

fn at_least(key: KeyPath, value: u64, min: u64) -> Result<(), Problem> {
    if value < min {
        return fail(key, format!("must be at least {min}, got {value}"));
    }
    Ok(())
}

impl Config {
    /// Checks what parsing cannot; the error names the offending key (no file: see
    /// [`super::parse`], which adds the path and line).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check().map_err(|p| p.into_error(None, None))
    }

    pub(super) fn check(&self) -> Result<(), Problem> {
        let r = &self.receiver;
        let rk = || at("receiver");
        at_least(rk().key("max_body_bytes"), r.max_body_bytes, 1)?;
        at_least(
            rk().key("max_header_bytes"),
            r.max_header_bytes,
            MIN_HEADER_BYTES,
        )?;
        at_least(rk().key("header_timeout_ms"), r.header_timeout_ms, 1)?;
        at_least(rk().key("body_timeout_ms"), r.body_timeout_ms, 1)?;
        at_least(rk().key("max_connections"), r.max_connections.into(), 1)?;
        if r.inflight_body_bytes < r.max_body_bytes {
            return fail(
                rk().key("inflight_body_bytes"),
                format!(
                    "must be at least max_body_bytes ({}), or no body of the largest size could be admitted",
                    r.max_body_bytes
                ),
            );
        }
        at_least(at("storage").key("max_events"), self.storage.max_events, 1)?;
        let cache = at("storage").key("cache_mb");
        at_least(cache.clone(), self.storage.cache_mb, 1)?;
        if self.storage.cache_mb > MAX_CACHE_MB {
            return fail(
                cache,
                format!(
                    "must be at most {MAX_CACHE_MB} (MiB), got {}",
                    self.storage.cache_mb
                ),
            );
        }

        let mut target_names = HashSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            let key = at("targets").index(i);
            if !target_names.insert(t.name.as_str()) {
                return fail(
                    key.key("name"),
                    format!("target name \"{}\" is used twice", t.name),
                );
            }
            check_target(t, key)?;
        }

        let mut route_names = HashSet::new();
        let mut route_paths = HashSet::new();
        for (i, route) in self.routes.iter().enumerate() {
            let key = || at("routes").index(i);
            let named = format!("(route \"{}\")", route.name);
            if route.name.is_empty() {
                return fail(key().key("name"), "must not be empty");
            }
            if route.name == DEFAULT_ROUTE {
                return fail(
                    key().key("name"),
                    "\"default\" is reserved for the implicit catch-all route",
                );
            }
            if !route_names.insert(route.name.as_str()) {
                return fail(
                    key().key("name"),
                    format!("route name \"{}\" is used twice", route.name),
                );
            }
            if !route.path.starts_with('/') || route.path.contains(['?', '#']) {
                return fail(
                    key().key("path"),
                    format!(
                        "\"{}\" must start with \"/\" and hold no query {named}",
                        route.path
                    ),
                );
            }
            if !route_paths.insert(normalized_prefix(&route.path)) {
                return fail(
                    key().key("path"),
                    format!("\"{}\" is already another route's path {named}", route.path),
                );
            }
            for (j, name) in route.targets.iter().enumerate() {
                if !target_names.contains(name.as_str()) {
                    return fail(
                        key().key("targets").index(j),
                        format!("no [[targets]] is named \"{name}\" {named}"),
                    );
                }
                if route.targets[..j].contains(name) {
                    return fail(
                        key().key("targets").index(j),
                        format!("target \"{name}\" is listed twice {named}"),
                    );
                }
            }
            if let Some(v) = &route.verify {
                let vk = || key().key("verify");
                if v.tolerance_secs < 0 {
                    return fail(vk().key("tolerance_secs"), "must not be negative");
                }
                if v.secrets.is_empty() {
                    return fail(
                        vk().key("secrets"),
                        format!("scheme {} needs at least one secret {named}", v.scheme),
                    );
                }
                check_secrets(&v.secrets, vk().key("secrets"))?;
                check_params(
                    v.scheme,
                    &Params {
                        header: v.header.as_deref(),
                        prefix: v.prefix.as_deref(),
                        encoding: v.encoding,
                        timestamp_header: v.timestamp_header.as_deref(),
                        signed: v.signed.as_deref(),
                    },
                    vk(),
                )?;
            }
        }
        if let Err(e) = crate::tui::keymap::Keymap::with_overrides(&self.keys) {
            return fail(at("keys").key(&e.action), e.message);
        }
        Ok(())
    }
}

/// An http(s) URL with a host, as a target needs; the message quotes the URL.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    let ok = url.parse::<http::Uri>().is_ok_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty())
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "url \"{}\" is not an http(s) URL",
            crate::text::redact_url(url)
        ))
    }
}

fn check_target(t: &TargetConfig, key: KeyPath) -> Result<(), Problem> {
    let named = format!("(target \"{}\")", t.name);
    let k = |field: &str| key.clone().key(field);
    if t.name.is_empty() {
        return fail(k("name"), "must not be empty");
    }
    if let Err(message) = check_url(&t.url) {
        return fail(k("url"), format!("{message} {named}"));
    }
    if t.events.is_empty() {
        return fail(
            k("events"),
            format!("an empty list matches no event; [\"*\"] takes all {named}"),
        );
    }
    if let Some(j) = t.events.iter().position(|e| e.is_empty()) {
        return fail(k("events").index(j), format!("must not be empty {named}"));
    }
    at_least(k("timeout_ms"), t.timeout_ms, 1)?;
    at_least(k("concurrency"), t.concurrency.into(), 1)?;

    let rk = || k("retry");
    at_least(rk().key("max_attempts"), t.retry.max_attempts.into(), 1)?;
    let m = t.retry.multiplier;
    if !m.is_finite() || m < 1.0 {
        return fail(
            rk().key("multiplier"),
            format!("must be a number >= 1.0, got {m}"),
        );
    }
    if t.retry.max_ms < t.retry.initial_ms {
        return fail(
            rk().key("max_ms"),
            format!("must be at least initial_ms ({})", t.retry.initial_ms),
        );
    }
    at_least(k("circuit").key("failures"), t.circuit.failures.into(), 1)?;

    let s = &t.sign;
    let params = Params {
        header: s.header.as_deref(),
        prefix: s.prefix.as_deref(),
        encoding: s.encoding,
        timestamp_header: s.timestamp_header.as_deref(),
        signed: s.signed.as_deref(),
    };
    match s.scheme {
        SignScheme::Passthrough => {
            // Settings that would be silently ignored are a mistake worth naming.
            if !s.secrets.is_empty() {
                return fail(
                    k("sign").key("secrets"),
                    format!("unused: scheme is passthrough {named}"),
                );
            }
            if let Some(field) = params.first_set() {
                return fail(
                    k("sign").key(field),
                    format!("unused: scheme is passthrough {named}"),
                );
            }
        }
        SignScheme::Resign(scheme) => {
            if s.secrets.is_empty() {
                return fail(
                    k("sign").key("secrets"),
                    format!("scheme {scheme} needs at least one secret to sign with {named}"),
                );
            }
            check_secrets(&s.secrets, k("sign").key("secrets"))?;
            check_params(scheme, &params, k("sign"))?;
        }
    }
    Ok(())
}

fn check_secrets(secrets: &[SecretConfig], key: KeyPath) -> Result<(), Problem> {
    let mut labels = HashSet::new();
    for (i, s) in secrets.iter().enumerate() {
        if s.secret().expose().is_empty() {
            return fail(key.index(i), "the secret is empty");
        }
        let label = s.display_label(i);
        if !labels.insert(label.clone()) {
            return fail(key.index(i), format!("label \"{label}\" is used twice"));
        }
    }
    Ok(())
}

/// The scheme parameters shared by `[routes.verify]` and `[targets.sign]`.
struct Params<'a> {
    header: Option<&'a str>,
    prefix: Option<&'a str>,
    encoding: Option<Encoding>,
    timestamp_header: Option<&'a str>,
    signed: Option<&'a str>,
}

impl Params<'_> {
    fn first_set(&self) -> Option<&'static str> {
        [
            ("header", self.header.is_some()),
            ("prefix", self.prefix.is_some()),
            ("encoding", self.encoding.is_some()),
            ("timestamp_header", self.timestamp_header.is_some()),
            ("signed", self.signed.is_some()),
        ]
        .into_iter()
        .find_map(|(name, set)| set.then_some(name))
    }
}

fn check_params(scheme: SchemeName, p: &Params<'_>, key: KeyPath) -> Result<(), Problem> {
    let k = |field: &str| key.clone().key(field);
    for (field, value) in [
        ("header", p.header),
        ("timestamp_header", p.timestamp_header),
    ] {
        if let Some(name) = value
            && http::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            return fail(k(field), format!("\"{name}\" is not a valid header name"));
        }
    }
    match scheme {
        SchemeName::Hmac => {
            if p.header.is_none() {
                return fail(k("header"), "scheme hmac needs the signature header's name");
            }
            if p.signed.is_some_and(|s| s.contains("{timestamp}")) && p.timestamp_header.is_none() {
                return fail(
                    k("timestamp_header"),
                    "the signed template uses {timestamp}, so the header that carries it is needed",
                );
            }
        }
        SchemeName::HeaderSecret => {
            let only_hmac = Params { header: None, ..*p };
            if let Some(field) = only_hmac.first_set() {
                return fail(k(field), "only applies to scheme hmac");
            }
        }
        _ => {
            if let Some(field) = p.first_set() {
                let which = if field == "header" {
                    "header-secret or hmac"
                } else {
                    "hmac"
                };
                return fail(
                    k(field),
                    format!("only applies to scheme {which}, not {scheme}"),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> String {
        let cfg: Config = toml::from_str(text).expect("parses");
        match cfg.validate() {
            Err(e) => e.to_string(),
            Ok(()) => panic!("expected a validation error for:\n{text}"),
        }
    }

    const APP: &str = "[[targets]]\nname = \"app\"\nurl = \"http://127.0.0.1:3000/\"\n";

    #[test]
    fn defaults_and_a_small_valid_file_pass() {
        Config::default().validate().unwrap();
        let text = format!(
            "{APP}[[routes]]\nname = \"gh\"\npath = \"/gh\"\ntargets = [\"app\"]\n\
             [routes.verify]\nscheme = \"github\"\nsecrets = [\"s\"]\n"
        );
        toml::from_str::<Config>(&text).unwrap().validate().unwrap();
    }

    #[test]
    fn each_rule_names_its_key() {
        let cases: &[(&str, &str)] = &[
            (
                "[receiver]\nmax_connections = 0",
                "receiver.max_connections: must be at least 1",
            ),
            (
                "[receiver]\nmax_header_bytes = 100",
                "receiver.max_header_bytes: must be at least 8192",
            ),
            (
                "[receiver]\ninflight_body_bytes = 10",
                "receiver.inflight_body_bytes: must be at least max_body_bytes",
            ),
            (
                "[storage]\nmax_events = 0",
                "storage.max_events: must be at least 1",
            ),
            (
                "[storage]\ncache_mb = 18446744073709551615",
                "storage.cache_mb: must be at most 65536",
            ),
            (
                "[storage]\ncache_mb = 0",
                "storage.cache_mb: must be at least 1",
            ),
            (
                "[[targets]]\nname = \"a\"\nurl = \"http://x\"\n[[targets]]\nname = \"app\"\nurl = \"htp:/x\"",
                "targets[1].url: url \"htp:/x\" is not an http(s) URL (target \"app\")",
            ),
            (
                "[[targets]]\nname = \"a\"\nurl = \"http://\"",
                "targets[0].url: url \"http://\" is not",
            ),
            (
                "[[targets]]\nname = \"a\"\nurl = \"/relative\"",
                "targets[0].url: url \"/relative\" is not",
            ),
            (
                "[[targets]]\nname = \"a\"\nurl = \"http://x\"\n[[targets]]\nname = \"a\"\nurl = \"http://y\"",
                "targets[1].name: target name \"a\" is used twice",
            ),
            (
                "[[routes]]\nname = \"default\"\npath = \"/d\"",
                "routes[0].name: \"default\" is reserved",
            ),
            (
                "[[routes]]\nname = \"\"\npath = \"/d\"",
                "routes[0].name: must not be empty",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[[routes]]\nname = \"a\"\npath = \"/b\"",
                "routes[1].name: route name \"a\" is used twice",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"a\"",
                "routes[0].path: \"a\" must start with \"/\"",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[[routes]]\nname = \"b\"\npath = \"/a/\"",
                "routes[1].path: \"/a/\" is already another route's path",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\ntargets = [\"nope\"]",
                "routes[0].targets[0]: no [[targets]] is named \"nope\"",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[routes.verify]\nscheme = \"hmac\"\nsecrets = [\"s\"]",
                "routes[0].verify.header: scheme hmac needs",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[routes.verify]\nscheme = \"stripe\"",
                "routes[0].verify.secrets: scheme stripe needs at least one secret",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[routes.verify]\nscheme = \"stripe\"\nsecrets = [\"s\", \"\"]",
                "routes[0].verify.secrets[1]: the secret is empty",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[routes.verify]\nscheme = \"stripe\"\nsecrets = [\"s\"]\ntolerance_secs = -1",
                "routes[0].verify.tolerance_secs: must not be negative",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[routes.verify]\nscheme = \"stripe\"\nsecrets = [\"s\"]\nprefix = \"v1=\"",
                "routes[0].verify.prefix: only applies to scheme hmac, not stripe",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[routes.verify]\nscheme = \"header-secret\"\nsecrets = [\"s\"]\nheader = \"bad header\"",
                "routes[0].verify.header: \"bad header\" is not a valid header name",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[routes.verify]\nscheme = \"hmac\"\nsecrets = [\"s\"]\nheader = \"X-Sig\"\nsigned = \"{timestamp}.{body}\"",
                "routes[0].verify.timestamp_header: the signed template uses {timestamp}",
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a\"\n[routes.verify]\nscheme = \"zentra\"\nsecrets = [{label = \"x\", secret = \"1\"}, {label = \"x\", secret = \"2\"}]",
                "routes[0].verify.secrets[1]: label \"x\" is used twice",
            ),
        ];
        for (text, want) in cases {
            let got = problem(text);
            assert!(
                got.contains(want),
                "for\n{text}\nwant `{want}`\ngot  `{got}`"
            );
        }
    }

    #[test]
    fn target_numbers_and_signing_are_checked() {
        let cases: &[(&str, &str)] = &[
            (
                "concurrency = 0",
                "targets[0].concurrency: must be at least 1",
            ),
            (
                "timeout_ms = 0",
                "targets[0].timeout_ms: must be at least 1",
            ),
            (
                "events = []",
                "targets[0].events: an empty list matches no event",
            ),
            (
                "[targets.retry]\nmax_attempts = 0",
                "targets[0].retry.max_attempts: must be at least 1",
            ),
            (
                "[targets.retry]\nmultiplier = 0.5",
                "targets[0].retry.multiplier: must be a number >= 1.0",
            ),
            (
                "[targets.retry]\nmultiplier = nan",
                "targets[0].retry.multiplier",
            ),
            (
                "[targets.retry]\ninitial_ms = 10\nmax_ms = 5",
                "targets[0].retry.max_ms: must be at least initial_ms",
            ),
            (
                "[targets.circuit]\nfailures = 0",
                "targets[0].circuit.failures: must be at least 1",
            ),
            (
                "[targets.sign]\nscheme = \"zentra\"",
                "targets[0].sign.secrets: scheme zentra needs at least one secret",
            ),
            (
                "[targets.sign]\nsecrets = [\"s\"]",
                "targets[0].sign.secrets: unused: scheme is passthrough",
            ),
            (
                "[targets.sign]\nheader = \"X-A\"",
                "targets[0].sign.header: unused: scheme is passthrough",
            ),
            (
                "[targets.sign]\nscheme = \"hmac\"\nsecrets = [\"s\"]",
                "targets[0].sign.header: scheme hmac needs",
            ),
        ];
        for (extra, want) in cases {
            let got = problem(&format!("{APP}{extra}"));
            assert!(
                got.contains(want),
                "for `{extra}` want `{want}`, got `{got}`"
            );
        }
    }

    #[test]
    fn url_check() {
        for ok in [
            "http://127.0.0.1:3000",
            "https://example.com/a?b=c",
            "http://[::1]:80/",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "localhost:3000",
            "ftp://x/",
            "htp:/x",
            "http:///x",
            "https://",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
