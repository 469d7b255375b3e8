//! Other ways the same body may have been written when it was signed: re-formatted JSON (compact,
//! Python's spaced default, pretty-printed, sorted keys) and a trailing newline added or removed.
//!
//! Order-preserving forms are produced by a small re-formatter over the original bytes rather than
//! through `serde_json::Value`, whose map order depends on a crate feature; only the sorted forms
//! go through `Value`.

use serde_json::Value;

/// A re-formatted body may not grow beyond this (deeply nested JSON pretty-prints large).
const MAX_OUTPUT: usize = 4 * super::diagnosis::MAX_BODY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    ToggleNewline,
    Json { sorted: bool, style: Style },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Compact,
    /// `, ` and `: `, as Python's `json.dumps` writes by default.
    Spaced,
    Pretty {
        indent: usize,
        newline: bool,
    },
}

/// The forms worth trying, most likely first.
pub(crate) fn variants(body: &[u8]) -> Vec<Variant> {
    let mut out = vec![Variant::ToggleNewline];
    if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        let pretty = |indent, newline| Style::Pretty { indent, newline };
        for (sorted, style) in [
            (false, Style::Compact),
            (false, Style::Spaced),
            (false, pretty(2, false)),
            (false, pretty(2, true)),
            (false, pretty(4, false)),
            (true, Style::Compact),
            (true, Style::Spaced),
            (true, pretty(2, false)),
        ] {
            out.push(Variant::Json { sorted, style });
        }
    }
    out
}

impl Variant {
    /// The body in this form; `None` when it does not apply or would be too large.
    pub(crate) fn render(self, body: &[u8]) -> Option<Vec<u8>> {
        match self {
            Variant::ToggleNewline => Some(match body.strip_suffix(b"\n") {
                Some(rest) => rest.strip_suffix(b"\r").unwrap_or(rest).to_vec(),
                None => [body, b"\n"].concat(),
            }),
            Variant::Json {
                sorted: false,
                style,
            } => reformat(body, style),
            Variant::Json {
                sorted: true,
                style,
            } => {
                let value: Value = serde_json::from_slice(body).ok()?;
                let compact = serde_json::to_vec(&sort_keys(value)).ok()?;
                reformat(&compact, style)
            }
        }
    }

    /// How to say which form matched, completing "the signature matches the body ...".
    pub(crate) fn describe(self, body: &[u8]) -> &'static str {
        match self {
            Variant::ToggleNewline if body.ends_with(b"\n") => "with its trailing newline removed",
            Variant::ToggleNewline => "with a trailing newline added",
            Variant::Json { sorted, style } => match (sorted, style) {
                (false, Style::Compact) => "as compact JSON",
                (false, Style::Spaced) => {
                    "as JSON with a space after each , and : (Python's json.dumps default)"
                }
                (
                    false,
                    Style::Pretty {
                        indent: 2,
                        newline: false,
                    },
                ) => "as pretty-printed JSON with a 2-space indent",
                (
                    false,
                    Style::Pretty {
                        indent: 2,
                        newline: true,
                    },
                ) => "as pretty-printed JSON with a 2-space indent and a trailing newline",
                (false, Style::Pretty { .. }) => "as pretty-printed JSON with a 4-space indent",
                (true, Style::Compact) => "as compact JSON with sorted keys",
                (true, Style::Spaced) => "as JSON with sorted keys and a space after each , and :",
                (true, Style::Pretty { .. }) => "as pretty-printed JSON with sorted keys",
            },
        }
    }
}

fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Re-writes valid JSON in `style`, keeping every token (and key order) as it is.
fn reformat(json: &[u8], style: Style) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(json.len());
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        if let Style::Pretty { indent, .. } = style {
            out.push(b'\n');
            out.resize(out.len() + depth * indent, b' ');
        }
    };
    while i < json.len() {
        let b = json[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => {
                let end = string_end(json, i)?;
                out.extend_from_slice(&json[i..end]);
                i = end;
            }
            b'{' | b'[' => {
                let close = if b == b'{' { b'}' } else { b']' };
                let next = skip_space(json, i + 1);
                if json.get(next) == Some(&close) {
                    out.extend_from_slice(&[b, close]);
                    i = next + 1;
                } else {
                    out.push(b);
                    depth += 1;
                    newline(&mut out, depth);
                    i += 1;
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
                i += 1;
            }
            b',' => {
                out.push(b);
                match style {
                    Style::Spaced => out.push(b' '),
                    Style::Pretty { .. } => newline(&mut out, depth),
                    Style::Compact => {}
                }
                i += 1;
            }
            b':' => {
                out.push(b);
                if style != Style::Compact {
                    out.push(b' ');
                }
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
        if out.len() > MAX_OUTPUT {
            return None;
        }
    }
    if let Style::Pretty { newline: true, .. } = style {
        out.push(b'\n');
    }
    Some(out)
}

fn skip_space(json: &[u8], mut i: usize) -> usize {
    while matches!(json.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index just past the string starting at `start` (a `"`).
fn string_end(json: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(body: &str, sorted: bool, style: Style) -> String {
        String::from_utf8(
            Variant::Json { sorted, style }
                .render(body.as_bytes())
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn reformats_like_the_common_serializers() {
        let body = "{ \"b\" : [1, {}, []], \"a\":\"x, \\\"y\\\": z\" }";
        assert_eq!(
            render(body, false, Style::Compact),
            r#"{"b":[1,{},[]],"a":"x, \"y\": z"}"#
        );
        assert_eq!(
            render(body, false, Style::Spaced),
            r#"{"b": [1, {}, []], "a": "x, \"y\": z"}"#
        );
        // serde_json's to_string_pretty, JSON.stringify(v, null, 2) and json.dumps(indent=2) agree.
        let value: Value = serde_json::from_str(r#"{"a":[1,{"c":null}],"b":{}}"#).unwrap();
        let pretty = Style::Pretty {
            indent: 2,
            newline: false,
        };
        assert_eq!(
            render(r#"{"a":[1,{"c":null}],"b":{}}"#, false, pretty),
            serde_json::to_string_pretty(&value).unwrap()
        );
        assert_eq!(
            render(r#"{"b":1,"a":{"d":1,"c":2}}"#, true, Style::Compact),
            r#"{"a":{"c":2,"d":1},"b":1}"#
        );
    }

    #[test]
    fn only_json_gets_json_variants() {
        assert_eq!(variants(b"token=abc&team=T1"), vec![Variant::ToggleNewline]);
        assert_eq!(variants(b"{\"a\":1}").len(), 9);
        assert_eq!(
            Variant::ToggleNewline.render(b"x\r\n").unwrap(),
            b"x".to_vec()
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let pretty = Style::Pretty {
            indent: 4,
            newline: false,
        };
        assert!(
            Variant::Json {
                sorted: false,
                style: pretty
            }
            .render(deep.as_bytes())
            .is_some()
        );
    }
}
