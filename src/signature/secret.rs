//! Secrets: a label to report, a value that never prints, and an optional expiry.

use crate::model::Timestamp;
use std::fmt;

/// A secret's value. Its `Debug` prints `[redacted]`; it has no `Display` and no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        SecretValue(value.into())
    }

    /// The raw bytes, for code that must use them (signing); never for output.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for SecretValue {
    fn from(s: &str) -> Self {
        SecretValue(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for SecretValue {
    fn from(v: Vec<u8>) -> Self {
        SecretValue(v)
    }
}

impl From<String> for SecretValue {
    fn from(s: String) -> Self {
        SecretValue(s.into_bytes())
    }
}

/// One version of a route's or target's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// What verifications report when this secret matched.
    pub label: String,
    pub value: SecretValue,
    /// From this instant on the secret is neither accepted nor used to sign.
    pub expires: Option<Timestamp>,
}

impl Secret {
    pub fn new(label: impl Into<String>, value: impl Into<SecretValue>) -> Self {
        Secret {
            label: label.into(),
            value: value.into(),
            expires: None,
        }
    }

    /// A secret labelled by its 0-based `index` in the configured list: `#1`, `#2`, ...
    pub fn positional(index: usize, value: impl Into<SecretValue>) -> Self {
        Secret::new(Secret::position_label(index), value)
    }

    /// The label an unlabelled secret at 0-based `index` gets.
    pub fn position_label(index: usize) -> String {
        format!("#{}", index.saturating_add(1))
    }

    /// Unlabelled secrets, labelled by position.
    pub fn list<V: Into<SecretValue>>(values: impl IntoIterator<Item = V>) -> Vec<Secret> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| Secret::positional(i, v))
            .collect()
    }

    pub fn expiring(mut self, at: Timestamp) -> Self {
        self.expires = Some(at);
        self
    }

    pub fn is_active(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|at| now < at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("2026-11", "whsec_topsecret");
        let shown = format!("{s:?} {:?} {s:#?}", s.value);
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("[redacted]") && shown.contains("2026-11"));
    }

    #[test]
    fn unlabelled_secrets_are_labelled_by_position() {
        let list = Secret::list(["a", "b"]);
        assert_eq!(list[0].label, "#1");
        assert_eq!(list[1].label, "#2");
        assert_eq!(Secret::positional(2, "c").label, "#3");
    }

    #[test]
    fn a_secret_expires_at_its_instant() {
        let at = Timestamp::from_unix_millis(10_000);
        let s = Secret::new("x", "v").expiring(at);
        assert!(s.is_active(Timestamp::from_unix_millis(9_999)));
        assert!(!s.is_active(at));
        assert!(Secret::new("y", "v").is_active(at));
    }
}
