//! Reading a configuration file: TOML parsing, validation, and errors that name the file, the
//! line and the key (`hooklens.toml:12:9: receiver.bind: ...`).

use super::Config;
use super::validate::{KeyPath, Seg};
use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// Why a configuration could not be used. Never holds a secret: secret values are not quoted by
/// the parser (see `secret.rs`) nor by validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    Read {
        path: PathBuf,
        kind: io::ErrorKind,
        message: String,
    },
    /// Not TOML, or not the shape of a configuration (unknown key, wrong type).
    Parse {
        path: PathBuf,
        /// 1-based, where the parser pointed.
        line: Option<usize>,
        column: Option<usize>,
        /// The dotted key the error is at, such as `routes[0].verify.scheme`, when known.
        key: Option<String>,
        message: String,
    },
    /// The file's directory could not be watched for changes.
    Watch { path: PathBuf, message: String },
    /// Well-formed but invalid (see [`Config::validate`]).
    Invalid {
        /// `None` when the configuration did not come from a file (e.g. `--forward`).
        path: Option<PathBuf>,
        line: Option<usize>,
        key: String,
        message: String,
    },
}

impl ConfigError {
    pub(super) fn read(path: &Path, err: &io::Error) -> Self {
        let message = match err.kind() {
            io::ErrorKind::NotFound => "config file not found".to_owned(),
            io::ErrorKind::InvalidData => "config file is not UTF-8 text".to_owned(),
            _ => format!("cannot read config file: {err}"),
        };
        ConfigError::Read {
            path: path.to_owned(),
            kind: err.kind(),
            message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, message, .. } => write!(f, "{}: {message}", path.display()),
            ConfigError::Watch { path, message } => {
                write!(f, "{}: cannot watch for changes: {message}", path.display())
            }
            ConfigError::Parse {
                path,
                line,
                column,
                key,
                message,
            } => {
                write!(f, "{}", path.display())?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                    if let Some(column) = column {
                        write!(f, ":{column}")?;
                    }
                }
                if let Some(key) = key {
                    write!(f, ": {key}")?;
                }
                write!(f, ": {message}")
            }
            ConfigError::Invalid {
                path,
                line,
                key,
                message,
            } => {
                if let Some(path) = path {
                    write!(f, "{}", path.display())?;
                    if let Some(line) = line {
                        write!(f, ":{line}")?;
                    }
                    f.write_str(": ")?;
                }
                write!(f, "{key}: {message}")
            }
        }
    }
}

/// Reads, parses and validates the file at `path`. A missing file is an error: use
/// [`Config::default`] when no file was named.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::read(path, &e))?;
    parse(&text, path)
}

/// Parses and validates `text`; `path` is only used to name the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| position(text, s.start));
        let key = e.span().and_then(|s| key_at(text, s.start));
        // `message()` rather than `Display`: the latter quotes the source line, which may hold
        // a secret.
        let message = parse_message(key.as_ref(), e.message().trim_end());
        ConfigError::Parse {
            path: path.to_owned(),
            line: at.map(|(l, _)| l),
            column: at.map(|(_, c)| c),
            key: key.map(|k| k.to_string()),
            message,
        }
    })?;
    config.check().map_err(|problem| {
        let line = span_of_key(text, &problem.key).map(|s| position(text, s.start).0);
        problem.into_error(Some(path.to_owned()), line)
    })?;
    Ok(config)
}

/// The parser's message, made safe to show: serde quotes the value it refused (`invalid type:
/// string "whsec_...", expected a sequence`), which at a `secret`/`secrets` key is the secret
/// itself. There the parser's message gives way to the expected type; where the
/// key is not known, every quoted value is left out.
fn parse_message(key: Option<&KeyPath>, message: &str) -> String {
    let Some(key) = key else {
        return without_quoted(message);
    };
    let last_key = key.0.iter().rev().find_map(|seg| match seg {
        Seg::Key(name) => Some(name.as_str()),
        Seg::Index(_) => None,
    });
    let in_list = matches!(key.0.last(), Some(Seg::Index(_)));
    // Messages that carry no value: a misspelt key, and secret.rs's own.
    if message.starts_with("unknown field") || message.starts_with("a secret must") {
        return message.to_owned();
    }
    match last_key {
        Some("secrets") if !in_list => {
            "expected an array of secrets: strings, or tables { label, secret, expires }".into()
        }
        Some("secrets") => {
            "expected a secret: a string, or a table { label, secret, expires }".into()
        }
        Some("secret") => "expected a string".into(),
        _ => message.to_owned(),
    }
}

/// `message` without its double-quoted parts.
fn without_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match c {
            '"' => quoted = !quoted,
            c if !quoted => out.push(c),
            _ => {}
        }
    }
    out.replace("  ", " ").replace(" ,", ",")
}

/// 1-based line and column (in characters) of byte offset `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The deepest key whose key or value holds byte offset `at`. Re-parses the text into spanned
/// values, which only happens on the error path.
fn key_at(text: &str, at: usize) -> Option<KeyPath> {
    fn table(t: &DeTable<'_>, at: usize, cur: &mut KeyPath, best: &mut Option<KeyPath>) {
        for (k, v) in t.iter() {
            cur.0.push(Seg::Key(k.get_ref().to_string()));
            if k.span().contains(&at) || v.span().contains(&at) {
                consider(cur, best);
            }
            value(v.get_ref(), at, cur, best);
            cur.0.pop();
        }
    }
    fn value(v: &DeValue<'_>, at: usize, cur: &mut KeyPath, best: &mut Option<KeyPath>) {
        match v {
            DeValue::Table(t) => table(t, at, cur, best),
            DeValue::Array(a) => {
                for (i, el) in a.iter().enumerate() {
                    cur.0.push(Seg::Index(i));
                    if el.span().contains(&at) {
                        consider(cur, best);
                    }
                    value(el.get_ref(), at, cur, best);
                    cur.0.pop();
                }
            }
            _ => {}
        }
    }
    fn consider(cur: &KeyPath, best: &mut Option<KeyPath>) {
        if best.as_ref().is_none_or(|b| cur.0.len() > b.0.len()) {
            *best = Some(cur.clone());
        }
    }
    let doc = DeTable::parse(text).ok()?;
    let mut best = None;
    table(doc.get_ref(), at, &mut KeyPath::default(), &mut best);
    best
}

/// Where the deepest existing part of `key` is written (a validation error may name a key that
/// was left at its default; then its table is the best place to point at).
fn span_of_key(text: &str, key: &KeyPath) -> Option<Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    let root = DeValue::Table(doc.into_inner());
    let mut here = &root;
    let mut found = None;
    for seg in &key.0 {
        match (seg, here) {
            (Seg::Key(k), DeValue::Table(t)) => {
                let Some((key, value)) = t.iter().find(|(key, _)| key.get_ref() == k) else {
                    break;
                };
                found = Some(key.span());
                here = value.get_ref();
            }
            (Seg::Index(i), DeValue::Array(a)) => {
                let Some(el) = a.get(*i) else { break };
                found = Some(el.span());
                here = el.get_ref();
            }
            _ => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::{AppendPath, Dedupe, Encoding, Respond, SchemeName, SignScheme};
    use super::*;
    use std::net::SocketAddr;

    fn parse_err(text: &str) -> ConfigError {
        parse(text, Path::new("hooklens.toml")).unwrap_err()
    }

    /// Every way of giving a secret the wrong type: the error names the key and what was
    /// expected, never the value.
    #[test]
    fn a_secret_of_the_wrong_type_is_never_quoted() {
        let cases = [
            (
                "[[routes]]\nname = \"s\"\npath = \"/s\"\n[routes.verify]\nscheme = \"stripe\"\n\
              secrets = \"whsec_TOPSECRET\"\n",
                "routes[0].verify.secrets",
                "expected an array",
            ),
            (
                "[[routes]]\nname = \"s\"\npath = \"/s\"\n[routes.verify]\nscheme = \"stripe\"\n\
              secrets = [{ label = \"a\", secret = [\"TOPSECRET\"] }]\n",
                "routes[0].verify.secrets[0].secret",
                "must be a string",
            ),
            (
                "[[targets]]\nname = \"t\"\nurl = \"http://x/\"\n[targets.sign]\nscheme = \"zentra\"\n\
              secrets = { TOPSECRET = 1 }\n",
                "targets[0].sign.secrets",
                "expected an array",
            ),
            (
                "[[targets]]\nname = \"t\"\nurl = \"http://x/\"\n[targets.sign]\nscheme = \"zentra\"\n\
              secrets = [[\"TOPSECRET\"]]\n",
                "targets[0].sign.secrets[0]",
                "a string or a table",
            ),
        ];
        for (text, key, expected) in cases {
            let shown = parse_err(text).to_string();
            assert!(!shown.contains("TOPSECRET"), "{shown}");
            assert!(shown.contains(key) && shown.contains(expected), "{shown}");
        }
    }

    #[test]
    fn respond_is_ack_proxy_or_a_static_answer_checked_at_load() {
        let route = |respond: &str| {
            format!("[[routes]]\nname = \"r\"\npath = \"/r\"\nrespond = {respond}\n")
        };
        let c = parse(
            &route(r#"{ status = 410, headers = { "X-A" = "1" }, body = "gone", delay_ms = 5 }"#),
            Path::new("x.toml"),
        )
        .unwrap();
        let Respond::Static(answer) = &c.routes[0].respond else {
            panic!("{:?}", c.routes[0].respond);
        };
        assert_eq!(
            (answer.status, answer.body.as_str(), answer.delay_ms),
            (410, "gone", 5)
        );
        for (bad, says) in [
            (r#""nope""#, "unknown respond"),
            ("{ status = 42 }", "not an HTTP status"),
            (
                r#"{ headers = { "bad name" = "x" } }"#,
                "not a valid HTTP name",
            ),
            ("{ delay_ms = 999999 }", "is over"),
        ] {
            let shown = parse_err(&route(bad)).to_string();
            assert!(
                shown.contains("routes[0].respond") && shown.contains(says),
                "{bad}: {shown}"
            );
        }
    }

    #[test]
    fn an_empty_file_gives_the_documented_defaults() {
        let c = parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(
            c.receiver.bind,
            "127.0.0.1:8989".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(c.receiver.max_body_bytes, 26_214_400);
        assert_eq!(c.receiver.max_header_bytes, 65_536);
        assert_eq!(c.receiver.header_timeout_ms, 10_000);
        assert_eq!(c.receiver.body_timeout_ms, 30_000);
        assert_eq!(c.receiver.max_connections, 1024);
        assert_eq!(c.receiver.inflight_body_bytes, 67_108_864);
        assert_eq!(c.api.bind, "127.0.0.1:8990".parse::<SocketAddr>().unwrap());
        assert_eq!((c.storage.max_events, c.storage.cache_mb), (1_000_000, 64));
        assert!(c.routes.is_empty() && c.targets.is_empty() && c.keys.is_empty());
    }

    #[test]
    fn a_minimal_route_and_target_get_their_defaults() {
        let c = parse(
            "[[targets]]\nname = \"app\"\nurl = \"http://x\"\n\
             [[routes]]\nname = \"r\"\npath = \"/r\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let t = &c.targets[0];
        assert_eq!(t.events, ["*"]);
        assert_eq!(t.append_path, AppendPath::Auto);
        assert_eq!(
            (t.timeout_ms, t.concurrency, t.max_response_bytes),
            (10_000, 8, 65_536)
        );
        assert!(!t.follow_redirects && !t.forward);
        assert_eq!(t.retry.max_attempts, 8);
        assert_eq!((t.retry.initial_ms, t.retry.max_ms), (500, 600_000));
        assert_eq!(t.retry.multiplier, 2.0);
        assert_eq!((t.circuit.failures, t.circuit.cooldown_ms), (5, 30_000));
        assert_eq!(t.sign.scheme, SignScheme::Passthrough);
        let r = &c.routes[0];
        assert_eq!(
            (r.respond.clone(), r.dedupe, r.reject_invalid),
            (Respond::Ack, Dedupe::Off, false)
        );
        assert!(r.targets.is_empty() && r.verify.is_none());
    }

    #[test]
    fn the_example_file_parses_and_validates() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"));
        let c = load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.routes.is_empty() && !c.targets.is_empty());
        let v = c.routes[0]
            .verify
            .as_ref()
            .expect("the example route verifies");
        assert!(!v.secrets.is_empty());
        assert!(!c.keys.is_empty());
        // Every default in the example is the real default.
        assert_eq!(c.receiver, Config::default().receiver);
        assert_eq!(
            (&c.api, &c.storage),
            (&Config::default().api, &Config::default().storage)
        );
    }

    #[test]
    fn enum_spellings() {
        let c = parse(
            r#"
            [[targets]]
            name = "a"
            url = "http://x"
            append_path = true
            [targets.sign]
            scheme = "hmac"
            secrets = ["s"]
            header = "X-Sig"
            encoding = "base64"
            [[targets]]
            name = "b"
            url = "http://x"
            append_path = false
            [[targets]]
            name = "c"
            url = "http://x"
            append_path = "auto"
            [[routes]]
            name = "r"
            path = "/r"
            respond = "proxy"
            dedupe = "drop"
            [routes.verify]
            scheme = "standard-webhooks"
            secrets = ["whsec_x"]
            "#,
            Path::new("x.toml"),
        )
        .unwrap();
        let ap: Vec<AppendPath> = c.targets.iter().map(|t| t.append_path).collect();
        assert_eq!(
            ap,
            [AppendPath::Always, AppendPath::Never, AppendPath::Auto]
        );
        assert_eq!(
            c.targets[0].sign.scheme,
            SignScheme::Resign(SchemeName::Hmac)
        );
        assert_eq!(c.targets[0].sign.encoding, Some(Encoding::Base64));
        assert_eq!(
            (c.routes[0].respond.clone(), c.routes[0].dedupe),
            (Respond::Proxy, Dedupe::Drop)
        );
        let scheme = c.routes[0].verify.as_ref().unwrap().scheme;
        assert_eq!(scheme, SchemeName::StandardWebhooks);
        for s in SchemeName::ALL {
            assert_eq!(s.as_str().parse::<SchemeName>(), Ok(s));
        }
    }

    #[test]
    fn unknown_key_names_the_key_and_its_line() {
        let e = parse_err("[receiver]\nbind = \"127.0.0.1:1\"\nmax_bodyy_bytes = 5\n");
        let shown = e.to_string();
        assert!(
            shown.starts_with(
                "hooklens.toml:3:1: receiver.max_bodyy_bytes: unknown field `max_bodyy_bytes`"
            ),
            "{shown}"
        );
        let e = parse_err(
            "[[routes]]\nname = \"a\"\npath = \"/a\"\n\n[[routes]]\nname = \"b\"\npath = \"/b\"\n[routes.verify]\nscheme = \"github\"\nsecret = \"x\"\n",
        );
        let shown = e.to_string();
        assert!(
            shown
                .starts_with("hooklens.toml:10:1: routes[1].verify.secret: unknown field `secret`"),
            "{shown}"
        );
        let e = parse_err("[recevier]\n");
        assert!(
            e.to_string()
                .starts_with("hooklens.toml:1:2: recevier: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn bad_type_and_bad_value_errors_point_at_the_value() {
        let e = parse_err("# comment\n[receiver]\nmax_body_bytes = \"big\"\n");
        assert_eq!(
            e,
            ConfigError::Parse {
                path: "hooklens.toml".into(),
                line: Some(3),
                column: Some(18),
                key: Some("receiver.max_body_bytes".into()),
                message: "invalid type: string \"big\", expected u64".into(),
            }
        );
        let e = parse_err("[api]\nbind = \"localhost\"\n");
        assert!(
            e.to_string().starts_with("hooklens.toml:2:8: api.bind: "),
            "{e}"
        );
        let e = parse_err("[[targets]]\nname = \"a\"\nurl = \"http://x\"\nappend_path = \"yes\"\n");
        assert!(e.to_string().contains("targets[0].append_path: "), "{e}");
        assert!(e.to_string().contains(r#""auto", true or false"#), "{e}");
        let e = parse_err(
            "[[targets]]\nname = \"a\"\nurl = \"http://x\"\n[targets.sign]\nscheme = \"pass\"\n",
        );
        assert!(
            e.to_string()
                .contains("unknown sign scheme `pass`, expected passthrough or"),
            "{e}"
        );
        let e = parse_err("[[routes]]\nname = \"a\"\n");
        assert!(e.to_string().contains("missing field `path`"), "{e}");
    }

    #[test]
    fn syntax_errors_have_a_line_and_column() {
        let e = parse_err("[receiver]\nbind = \"127.0.0.1:1\n");
        match &e {
            ConfigError::Parse { line, column, .. } => {
                assert_eq!(*line, Some(2), "{e}");
                assert!(column.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().starts_with("hooklens.toml:2:"), "{e}");
    }

    #[test]
    fn a_bad_secret_line_is_not_quoted() {
        let e = parse_err(
            "[[routes]]\nname = \"a\"\npath = \"/a\"\n[routes.verify]\nscheme = \"github\"\nsecrets = [\"topsecret\", 42]\n",
        );
        let shown = e.to_string();
        assert!(
            shown.contains("routes[0].verify.secrets[1]: a secret must be a string"),
            "{shown}"
        );
        assert!(
            !shown.contains("topsecret") && !shown.contains("42"),
            "{shown}"
        );
    }

    #[test]
    fn validation_errors_name_file_line_and_key() {
        let e = parse_err(
            "[[targets]]\nname = \"a\"\nurl = \"http://x\"\n\n[[targets]]\nname = \"app\"\nurl = \"htp:/x\"\n",
        );
        assert_eq!(
            e.to_string(),
            "hooklens.toml:7: targets[1].url: url \"htp:/x\" is not an http(s) URL (target \"app\")"
        );
        // A key left at its default points at its table.
        let e = parse_err("[receiver]\nmax_body_bytes = 100000000\n");
        assert!(
            e.to_string()
                .starts_with("hooklens.toml:1: receiver.inflight_body_bytes: "),
            "{e}"
        );
        let e = parse_err("[[routes]]\nname = \"a\"\npath = \"/a\"\ntargets = [\"x\", \"nope\"]\n");
        assert!(
            e.to_string()
                .starts_with("hooklens.toml:4: routes[0].targets[0]: "),
            "{e}"
        );
    }

    #[test]
    fn load_reads_real_files_and_names_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hooklens.toml");
        let e = load(&path).unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Read {
                kind: io::ErrorKind::NotFound,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            format!("{}: config file not found", path.display())
        );

        std::fs::write(&path, "[storage]\ncache_mb = 8\n").unwrap();
        assert_eq!(load(&path).unwrap().storage.cache_mb, 8);

        std::fs::write(&path, b"[storage]\ncache_mb = 8 # \xff\n").unwrap();
        let e = load(&path).unwrap_err();
        assert!(
            e.to_string().ends_with(": config file is not UTF-8 text"),
            "{e}"
        );
    }

    #[test]
    fn positions_count_characters_from_one() {
        assert_eq!(position("abc", 0), (1, 1));
        assert_eq!(position("a\nbc", 3), (2, 2));
        assert_eq!(position("é\né=1", 5), (2, 2));
        assert_eq!(position("ab", 99), (1, 3));
    }
}
