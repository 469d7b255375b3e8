//! Untrusted text made safe for a terminal: control characters, escape sequences and the Unicode
//! format characters that reorder or hide text are shown escaped, never sent raw — in text
//! ([`escape`], [`escape_bytes`]) and in JSON ([`json_safe`], [`to_json_line`]).
//!
//! One set of characters, [`is_deceptive`], decides both, so text and JSON output cannot drift
//! apart.

use std::borrow::Cow;
use std::fmt::Write;

/// Escapes what [`is_deceptive`] names: `\n`, `\r`, `\t` and `\x1b`, `\x7f` for ASCII ones,
/// `\u{9b}`, `\u{202e}` for the others. Other text (`ünïcode`, emoji) is shown as it is.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_deceptive) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Like [`escape`] for bytes that may not be UTF-8: invalid bytes are shown as `\xNN` (a lone
/// 0x9b is an 8-bit CSI to some terminals).
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

/// Serialized JSON made inert for a terminal: every character [`is_deceptive`] names — DEL, C1
/// controls, bidi and zero-width characters, and C0 controls other than JSON's whitespace (which
/// serde_json already escapes) — is rewritten as `\u00XX`/`\u202e` (lowercase hex, four digits).
/// The value is unchanged: a JSON parser reads the same string back.
///
/// The rewrite works on bytes and is exact: outside strings JSON is ASCII punctuation, digits and
/// whitespace, so these characters can only occur inside strings, where a `\u` escape means the
/// same character; and in UTF-8 a character's bytes cannot be mistaken for part of another one.
/// Nothing is copied when nothing needs rewriting, the common case.
pub fn json_safe(json: &[u8]) -> Cow<'_, [u8]> {
    // Plain ASCII without controls is by far the most common output: one fast scan settles it.
    if json
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) || is_json_space(b))
    {
        return Cow::Borrowed(json);
    }
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    for chunk in json.utf8_chunks() {
        for (i, c) in chunk.valid().char_indices() {
            if !is_deceptive(c) || (c.is_ascii() && is_json_space(c as u8)) {
                continue;
            }
            let start = at + i;
            let out = out.get_or_insert_with(|| Vec::with_capacity(json.len() + 16));
            out.extend_from_slice(&json[copied..start]);
            push_json_escape(out, c);
            copied = start + c.len_utf8();
        }
        // Invalid bytes (serde_json never writes any) are left as they are.
        at += chunk.valid().len() + chunk.invalid().len();
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut out) => {
            out.extend_from_slice(&json[copied..]);
            Cow::Owned(out)
        }
    }
}

/// One JSON line for a terminal or a pipe: `value` serialized, made safe by [`json_safe`], and a
/// newline. Every JSON output hooklens prints goes through this or [`json_safe`].
pub fn to_json_line<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let json = serde_json::to_vec(value)?;
    let mut line = match json_safe(&json) {
        Cow::Borrowed(_) => json,
        Cow::Owned(safe) => safe,
    };
    line.push(b'\n');
    Ok(line)
}

/// Writes [`to_json_line`] of `value` to `out`.
pub fn write_json_line<T: serde::Serialize + ?Sized>(
    out: &mut impl std::io::Write,
    value: &T,
) -> std::io::Result<()> {
    out.write_all(&to_json_line(value)?)
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

/// Characters a terminal acts on, or that make text read differently from what it is:
/// - control characters: C0 (ESC starts a sequence), DEL, C1 (U+009B is an 8-bit CSI);
/// - bidi embeddings and overrides U+202A–U+202E and isolates U+2066–U+2069 (`x-amount:
///   \u{202e}0001 USD` reads `x-amount: DSU 1000`), the marks U+200E, U+200F, U+061C;
/// - zero-width characters U+200B–U+200D, U+2060 and U+FEFF, which hide inside names and keys.
pub fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{200b}'..='\u{200d}'
                | '\u{2060}'
                | '\u{feff}'
        )
}

/// JSON's whitespace between tokens (and, in a line of output, its end).
fn is_json_space(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | b'\t')
}

/// `\u202e`: four lowercase hex digits, as serde_json writes `\u001b`.
fn push_json_escape(out: &mut Vec<u8>, c: char) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = c as usize;
    // Every deceptive character is in the Basic Multilingual Plane: no surrogate pair.
    debug_assert!(n <= 0xffff);
    let digit = |shift: usize| HEX[(n >> shift) & 0xf];
    out.extend_from_slice(&[b'\\', b'u', digit(12), digit(8), digit(4), digit(0)]);
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_ascii() && is_deceptive(c) => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if is_deceptive(c) => {
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
        assert_eq!(escape("plain ünïcode ✓"), "plain ünïcode ✓");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn c0_keeps_its_short_names_and_del_is_hex() {
        assert_eq!(escape("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(escape("\u{1}\u{1f}\u{7f}"), "\\x01\\x1f\\x7f");
    }

    #[test]
    fn c1_controls_are_escaped() {
        assert_eq!(escape("\u{80}\u{9b}\u{9f}"), "\\u{80}\\u{9b}\\u{9f}");
        // Just past C1: a printable Latin-1 character.
        assert_eq!(escape("\u{a0}é"), "\u{a0}é");
    }

    #[test]
    fn bidi_overrides_embeddings_and_isolates_are_escaped() {
        assert_eq!(
            escape("x-amount: \u{202e}0001 USD"),
            "x-amount: \\u{202e}0001 USD"
        );
        let all: String = ('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
            .collect();
        assert_eq!(
            escape(&all),
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{202e}\\u{2066}\\u{2067}\\u{2068}\\u{2069}"
        );
        // Neighbours that are ordinary punctuation stay.
        assert_eq!(
            escape("\u{2029}\u{202f}\u{2065}\u{206a}")
                .matches('\\')
                .count(),
            0
        );
    }

    #[test]
    fn bidi_marks_are_escaped() {
        assert_eq!(
            escape("a\u{200e}b\u{200f}c\u{61c}"),
            "a\\u{200e}b\\u{200f}c\\u{61c}"
        );
    }

    #[test]
    fn zero_width_characters_are_escaped() {
        assert_eq!(
            escape("\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}"),
            "\\u{200b}\\u{200c}\\u{200d}\\u{2060}\\u{feff}"
        );
    }

    #[test]
    fn invalid_utf8_is_shown_as_hex() {
        assert_eq!(escape_bytes(b"ok\xff\x1b"), "ok\\xff\\x1b");
        assert_eq!(escape_bytes(b"\x9b\xe2\x80\xae"), "\\x9b\\u{202e}");
    }

    #[test]
    fn json_writes_every_deceiver_as_a_four_digit_escape() {
        let value = "\u{1b}\u{7f}\u{9b}\u{202e}\u{2066}\u{200e}\u{61c}\u{200b}\u{2060}\u{feff}ü";
        let line = to_json_line(&value).unwrap();
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "\"\\u001b\\u007f\\u009b\\u202e\\u2066\\u200e\\u061c\\u200b\\u2060\\ufeffü\"\n"
        );
        let back: String = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, value, "the escapes read back as the same characters");
    }

    #[test]
    fn json_needing_nothing_is_not_copied() {
        let json = r#"{"a":"plain \u001b ascii","b":"ünïcode ✓"}"#;
        assert!(matches!(json_safe(json.as_bytes()), Cow::Borrowed(_)));
        assert!(matches!(json_safe(b"{\n\t\"a\": 1\r\n}"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_escapes_are_placed_exactly() {
        // After an escaped backslash, before an escaped quote, at both ends.
        let value = serde_json::json!({"k\u{202e}": "\u{feff}\\\u{9b}\"\u{7f}"});
        let safe = json_safe(value.to_string().as_bytes()).into_owned();
        assert_eq!(
            std::str::from_utf8(&safe).unwrap(),
            r#"{"k\u202e":"\ufeff\\\u009b\"\u007f"}"#
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&safe).unwrap(),
            value
        );
    }
}
