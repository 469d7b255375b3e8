//! Secrets in the configuration: a string type that never prints itself, and the two ways a
//! secret is written (`"whsec_..."` or `{ label, secret, expires }`).

use crate::model::Timestamp;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// A secret value. `Debug` prints `[redacted]` and there is no `Display`, so a secret cannot reach
/// a log line, an error or the terminal by accident; [`SecretString::expose`] is the one way out.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(secret: impl Into<String>) -> Self {
        SecretString(secret.into())
    }

    /// The secret itself, for signing and verifying only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Rejects any non-string without quoting it: serde's usual "invalid type: integer `123`"
/// would print the would-be secret.
macro_rules! reject_non_strings {
    ($msg:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom($msg))
        }
    };
}

const SECRET_EXPECTED: &str = "a secret must be a string";
const SECRET_ENTRY_EXPECTED: &str =
    "a secret must be a string or a table { label, secret, expires }";

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SECRET_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretString, E> {
                Ok(SecretString::new(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<SecretString, E> {
                Ok(SecretString(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
                Err(de::Error::custom(SECRET_EXPECTED))
            }
            reject_non_strings!(SECRET_EXPECTED);
        }
        d.deserialize_any(V)
    }
}

/// One entry of a `secrets` list.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretConfig {
    /// `"whsec_..."`: labelled by its position (`#1`, `#2`, ...), never expires.
    Plain(SecretString),
    /// `{ label = "2026-11", secret = "...", expires = "2026-12-01T00:00:00Z" }`.
    Labeled {
        label: Option<String>,
        secret: SecretString,
        /// From this instant on the secret is neither accepted nor used to sign.
        expires: Option<Timestamp>,
    },
}

impl SecretConfig {
    pub fn secret(&self) -> &SecretString {
        match self {
            SecretConfig::Plain(s) | SecretConfig::Labeled { secret: s, .. } => s,
        }
    }

    /// The label as written, if any.
    pub fn label(&self) -> Option<&str> {
        match self {
            SecretConfig::Plain(_) => None,
            SecretConfig::Labeled { label, .. } => label.as_deref(),
        }
    }

    pub fn expires(&self) -> Option<Timestamp> {
        match self {
            SecretConfig::Plain(_) => None,
            SecretConfig::Labeled { expires, .. } => *expires,
        }
    }

    /// The label a verification reports: the written one, else `#n` for the 0-based `index`
    /// in its list (so `#1` is the first secret).
    pub fn display_label(&self, index: usize) -> String {
        match self.label() {
            Some(l) => l.to_owned(),
            None => format!("#{}", index + 1),
        }
    }

    /// Not yet expired at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.expires().is_none_or(|e| now < e)
    }
}

/// The secrets of a list that are active at `now`, with their labels (positions count every
/// entry, expired ones too, so a label does not shift when a secret expires).
pub fn active_secrets(secrets: &[SecretConfig], now: Timestamp) -> Vec<(String, &SecretString)> {
    secrets
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_active(now))
        .map(|(i, s)| (s.display_label(i), s.secret()))
        .collect()
}

impl super::VerifyConfig {
    /// See [`active_secrets`].
    pub fn active_secrets(&self, now: Timestamp) -> Vec<(String, &SecretString)> {
        active_secrets(&self.secrets, now)
    }
}

impl super::SignConfig {
    /// See [`active_secrets`].
    pub fn active_secrets(&self, now: Timestamp) -> Vec<(String, &SecretString)> {
        active_secrets(&self.secrets, now)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabeledSecret {
    #[serde(default)]
    label: Option<String>,
    secret: SecretString,
    #[serde(default, deserialize_with = "deserialize_expires")]
    expires: Option<Timestamp>,
}

// Hand-written rather than `#[serde(untagged)]`: untagged reports only "did not match any
// variant", losing the unknown-key and bad-type messages (and their positions).
impl<'de> Deserialize<'de> for SecretConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SECRET_ENTRY_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretConfig, E> {
                Ok(SecretConfig::Plain(SecretString::new(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SecretConfig, A::Error> {
                let l = LabeledSecret::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(SecretConfig::Labeled {
                    label: l.label,
                    secret: l.secret,
                    expires: l.expires,
                })
            }
            reject_non_strings!(SECRET_ENTRY_EXPECTED);
        }
        d.deserialize_any(V)
    }
}

/// `expires` as a quoted RFC 3339 string or a bare TOML offset date-time.
fn deserialize_expires<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Timestamp;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 time with an offset, e.g. \"2026-12-01T00:00:00Z\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
            Timestamp::parse(v).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Timestamp, A::Error> {
            let dt =
                toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
            self.visit_str(&dt.to_string())
        }
    }
    d.deserialize_any(V).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        secrets: Vec<SecretConfig>,
    }

    fn doc(text: &str) -> Result<Doc, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn both_forms_parse_and_label_by_position() {
        let d = doc(r#"secrets = [
            "whsec_plain",
            { label = "2026-11", secret = "s2", expires = "2026-12-01T00:00:00Z" },
            { secret = "s3", expires = 2026-12-01T01:00:00+01:00 },
        ]"#)
        .unwrap();
        assert_eq!(
            d.secrets[0],
            SecretConfig::Plain(SecretString::new("whsec_plain"))
        );
        assert_eq!(d.secrets[1].label(), Some("2026-11"));
        assert_eq!(d.secrets[1].secret().expose(), "s2");
        let dec_first = Timestamp::parse("2026-12-01T00:00:00Z").unwrap();
        assert_eq!(d.secrets[1].expires(), Some(dec_first));
        assert_eq!(d.secrets[2].expires(), Some(dec_first));
        assert_eq!(d.secrets[2].display_label(2), "#3");

        let before = Timestamp::parse("2026-11-30T23:59:59Z").unwrap();
        let labels: Vec<String> = active_secrets(&d.secrets, before)
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        assert_eq!(labels, ["#1", "2026-11", "#3"]);
        let active = active_secrets(&d.secrets, dec_first);
        assert_eq!(active.len(), 1, "expired secrets are dropped");
        assert_eq!(active[0].0, "#1");
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let d = doc(r#"secrets = ["hunter2", { label = "x", secret = "swordfish" }]"#).unwrap();
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("swordfish"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn wrong_types_are_errors_that_do_not_quote_the_value() {
        let e = doc("secrets = [123456789]").unwrap_err();
        assert!(e.message().contains("must be a string"), "{}", e.message());
        assert!(!e.message().contains("123456789"));
        let e = doc("secrets = [{ secret = 987654321 }]").unwrap_err();
        assert!(!e.message().contains("987654321"), "{}", e.message());
        let e = doc(r#"secrets = [{ secret = "x", lable = "typo" }]"#).unwrap_err();
        assert!(
            e.message().contains("unknown field `lable`"),
            "{}",
            e.message()
        );
        let e = doc(r#"secrets = [{ secret = "x", expires = "next week" }]"#).unwrap_err();
        assert!(e.message().contains("RFC 3339"), "{}", e.message());
    }
}
