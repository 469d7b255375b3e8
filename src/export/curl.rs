//! The curl form: a POSIX shell script, one command per event, that sends each request again
//! exactly — method, path and query as received, headers in arrival order, the body byte for byte
//! (fed through `printf` with every byte that is not plainly printable written as an octal escape,
//! so NUL, non-UTF-8 and binary bodies survive any shell). The receiver's address is
//! `$HOOKLENS_URL` when set (point it at your consumer), else the address the sender called.

use crate::model::{EventDetail, Header};
use std::io::{self, Write};

/// Headers curl makes itself, or that describe the original connection.
const SKIPPED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "expect",
];

pub fn begin(out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "#!/bin/sh")?;
    writeln!(
        out,
        "# hooklens export: each command sends one captured request again, byte for byte."
    )?;
    writeln!(
        out,
        "# HOOKLENS_URL=http://localhost:3000 sh this-file   sends them to your consumer instead."
    )?;
    writeln!(out, "set -e")
}

pub fn command(out: &mut impl Write, e: &EventDetail) -> io::Result<()> {
    let host = e
        .headers
        .iter()
        .find(|h| h.name == "host")
        .and_then(|h| h.value.to_str())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("127.0.0.1:8989");
    let target = if e.query.is_empty() {
        e.path.clone()
    } else {
        format!("{}?{}", e.path, e.query)
    };
    writeln!(out)?;
    // The comment carries only what we made (ids, times), never untrusted text.
    writeln!(out, "# event {} received {}", e.id, e.received_at)?;
    let body = e.body();
    if !body.is_empty() {
        write!(out, "printf {} | ", printf_format(&body))?;
    }
    write!(
        out,
        "curl -sS -X {} \"${{HOOKLENS_URL:-http://{host}}}\"{}",
        quote(&e.method),
        quote(&target)
    )?;
    for header in e
        .headers
        .iter()
        .filter(|h| !SKIPPED.contains(&h.name.as_str()))
    {
        write!(out, " \\\n  -H {}", header_arg(header))?;
    }
    // Headers curl adds by itself, unless the request had its own: an empty `-H 'Name:'` keeps
    // them out, so the consumer sees what the sender sent.
    let has = |name: &str| e.headers.iter().any(|h| h.name == name);
    for (name, added) in [
        ("user-agent", true),
        ("accept", true),
        ("content-type", !body.is_empty()),
    ] {
        if added && !has(name) {
            write!(out, " -H {}", quote(&format!("{name}:")))?;
        }
    }
    if !body.is_empty() {
        write!(out, " \\\n  --data-binary @-")?;
    } else if has("content-length") {
        // An empty body that was declared (`Content-Length: 0`) is declared again.
        write!(out, " \\\n  --data-binary ''")?;
    }
    writeln!(out)
}

/// A header as one curl `-H` argument. A value that is not plain text (non-UTF-8, controls) is
/// made by `printf`, octal escapes and all.
fn header_arg(h: &Header) -> String {
    match h.value.to_str() {
        Some(v) if !v.chars().any(char::is_control) => quote(&format!("{}: {v}", h.name)),
        _ => {
            let mut line = format!("{}: ", h.name).into_bytes();
            line.extend_from_slice(h.value.as_bytes());
            format!("\"$(printf {})\"", printf_format(&line))
        }
    }
}

/// `text` in single quotes for a POSIX shell: nothing inside is special but the quote itself.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A `printf` format (single-quoted) that prints exactly `bytes`: letters, digits and plain
/// punctuation as they are, everything else — quotes, `\`, `%`, controls, bytes ≥ 0x80 — as
/// `\ooo`.
fn printf_format(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('\'');
    for (i, &b) in bytes.iter().enumerate() {
        // A leading `-` would read as an option of printf.
        let plain = (b.is_ascii_graphic() && !matches!(b, b'\'' | b'\\' | b'%') || b == b' ')
            && !(i == 0 && b == b'-');
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_formats_escape_what_a_shell_or_printf_would_read() {
        assert_eq!(printf_format(b"{\"a\":1}"), "'{\"a\":1}'");
        assert_eq!(printf_format(b"it's 100%\n"), "'it\\047s 100\\045\\012'");
        assert_eq!(printf_format(b"\x00\xff\\"), "'\\000\\377\\134'");
        assert_eq!(printf_format(b"--b\r\n"), "'\\055-b\\015\\012'");
    }

    #[test]
    fn quotes_survive_single_quoting() {
        assert_eq!(quote("a'b $HOME"), r"'a'\''b $HOME'");
    }
}
