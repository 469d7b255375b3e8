//! Untrusted text made safe for a terminal: control characters and escape sequences are shown
//! escaped, never sent raw.

use std::borrow::Cow;
use std::fmt::Write;

/// Escapes C0 and C1 control characters and DEL (`\n`, `\t`, `\x1b`, `\u{9b}`, ...).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Like [`escape`] for bytes that may not be UTF-8: invalid bytes are shown as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// A URL as it may be shown: a password in it becomes `***` (the request itself keeps it).
pub fn redact_url(url: &str) -> Cow<'_, str> {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            Cow::Owned(parsed.to_string())
        }
        _ => Cow::Borrowed(url),
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control()
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 && c.is_control() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_esc_and_csi_become_visible() {
        assert_eq!(
            escape("a\u{0}b\u{1b}[31mc\u{9b}2J"),
            "a\\x00b\\x1b[31mc\\u{9b}2J"
        );
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn invalid_utf8_is_shown_as_hex() {
        assert_eq!(escape_bytes(b"ok\xff\x1b"), "ok\\xff\\x1b");
    }
}
