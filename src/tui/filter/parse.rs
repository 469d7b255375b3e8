//! Text to terms: a small scanner (spaces split terms unless quoted, `|` splits alternatives,
//! `"…"` quotes with `\"` and `\\` inside), then each alternative checked and made ready to
//! match. Every error carries the column (in characters) it is about.

use super::{Comparison, Field, FilterError, QUALIFIERS, Since, StatusPattern, Term, Value};
use crate::model::Timestamp;
use crate::text::escape;
use ulid::Ulid;

const VERDICTS: &[&str] = &[
    "verified",
    "mismatch",
    "missing",
    "malformed",
    "stale",
    "no_secret",
    "unsigned",
];
const STATES: &[&str] = &[
    "queued",
    "in_flight",
    "pending",
    "succeeded",
    "retry_scheduled",
    "failed",
    "dead",
    "none",
    "partial",
];
/// `is:` values.
const LINEAGES: &[&str] = &["replay", "duplicate", "resend"];

fn err(column: usize, message: impl Into<String>) -> FilterError {
    FilterError {
        column,
        message: message.into(),
    }
}

/// One alternative as typed: its text with quotes taken off, and where it starts.
struct Alt {
    text: String,
    column: usize,
}

pub(super) fn terms(text: &str, now: Timestamp) -> Result<Vec<Term>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut terms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' {
            i += 1;
            continue;
        }
        let start = i;
        let negate = chars[i] == '-';
        if negate {
            i += 1;
            if chars.get(i).is_none_or(|c| *c == ' ') {
                return Err(err(start, "a lone \"-\" negates nothing"));
            }
        }
        let field = match qualifier(&chars, i) {
            Some((name, end)) => {
                let field = field_of(&name.to_ascii_lowercase()).ok_or_else(|| {
                    err(
                        i,
                        format!(
                            "unknown qualifier \"{}:\" ({})",
                            escape(&name),
                            QUALIFIERS.join(" ")
                        ),
                    )
                })?;
                i = end + 1;
                field
            }
            None => Field::Bare,
        };
        let (alts, end) = alternatives(&chars, i)?;
        i = end;
        let values = alts
            .iter()
            .map(|alt| value(field, alt, now))
            .collect::<Result<_, _>>()?;
        terms.push(Term {
            negate,
            field,
            values,
        });
    }
    Ok(terms)
}

/// A qualifier's name at `at` (letters, digits, `_`, `-`) and the column of its `:`.
fn qualifier(chars: &[char], at: usize) -> Option<(String, usize)> {
    let len = chars[at..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == '-')
        .count();
    (len > 0 && chars.get(at + len) == Some(&':'))
        .then(|| (chars[at..at + len].iter().collect(), at + len))
}

fn field_of(name: &str) -> Option<Field> {
    Some(match name {
        "verdict" => Field::Verdict,
        "route" => Field::Route,
        "method" => Field::Method,
        "type" => Field::Type,
        "state" => Field::State,
        "target" => Field::Target,
        "scheme" => Field::Scheme,
        "secret" => Field::Secret,
        "attempts" => Field::Attempts,
        "is" => Field::Is,
        "since" => Field::Since,
        "status" => Field::Status,
        "error" => Field::Error,
        "header" => Field::Header,
        "body" => Field::Body,
        _ => return None,
    })
}

/// The alternatives from `at` to the end of the term (an unquoted space or the end), and where
/// the term ends.
fn alternatives(chars: &[char], mut i: usize) -> Result<(Vec<Alt>, usize), FilterError> {
    let mut alts = Vec::new();
    let mut alt = Alt {
        text: String::new(),
        column: i,
    };
    let mut quoted = false;
    loop {
        match chars.get(i) {
            None | Some(' ') => break,
            Some('|') => {
                alts.push(finish(alt, quoted)?);
                quoted = false;
                alt = Alt {
                    text: String::new(),
                    column: i + 1,
                };
            }
            Some('"') => {
                let open = i;
                quoted = true;
                loop {
                    i += 1;
                    match chars.get(i) {
                        None => {
                            return Err(err(open, "an unterminated quote: close it with \""));
                        }
                        Some('"') => break,
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\')) => {
                            i += 1;
                            alt.text.push(chars[i]);
                        }
                        Some(c) => alt.text.push(*c),
                    }
                }
            }
            Some(c) => alt.text.push(*c),
        }
        i += 1;
    }
    alts.push(finish(alt, quoted)?);
    Ok((alts, i))
}

fn finish(alt: Alt, quoted: bool) -> Result<Alt, FilterError> {
    if alt.text.is_empty() {
        let what = if quoted {
            "an empty quoted value"
        } else {
            "an empty value"
        };
        return Err(err(alt.column, what));
    }
    Ok(alt)
}

fn value(field: Field, alt: &Alt, now: Timestamp) -> Result<Value, FilterError> {
    let at = alt.column;
    let shown = escape(&alt.text);
    let lower = alt.text.to_lowercase();
    let closed = |allowed: &[&str]| {
        if allowed.contains(&lower.as_str()) {
            Ok(Value::Text(lower.clone()))
        } else {
            Err(err(
                at,
                format!("\"{shown}\" is not one of {}", allowed.join(" ")),
            ))
        }
    };
    match field {
        Field::Verdict => closed(VERDICTS),
        Field::State => closed(STATES),
        Field::Is => closed(LINEAGES),
        Field::Attempts => Comparison::parse(&lower, u32::MAX)
            .map(Value::Count)
            .ok_or_else(|| {
                err(
                    at,
                    format!("\"{shown}\" is not a count: attempts:3, attempts:>=3, attempts:<2"),
                )
            }),
        Field::Status => status(&lower).map(Value::Status).ok_or_else(|| {
            err(
                at,
                format!("\"{shown}\" is not a status: status:500, status:5xx, status:>=400"),
            )
        }),
        Field::Since => since(&alt.text, now).map(Value::Since).ok_or_else(|| {
            err(
                at,
                format!(
                    "\"{shown}\" is not a time: since:30s, since:10m, since:2h, since:1d, \
                     since:<event id> or an RFC 3339 time"
                ),
            )
        }),
        Field::Header => {
            let (name, value) = match lower.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (lower.as_str(), None),
            };
            if name.is_empty() {
                return Err(err(at, "a header's name: header:NAME or header:NAME=VALUE"));
            }
            if value == Some("") {
                let eq = at + name.chars().count() + 1;
                return Err(err(
                    eq,
                    "an empty value after \"=\" (header:NAME alone: the header is present)",
                ));
            }
            Ok(Value::Header {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            })
        }
        // The body as it came: exact bytes, case and all.
        Field::Body => Ok(Value::Bytes(alt.text.as_bytes().to_vec())),
        _ => Ok(Value::Text(lower)),
    }
}

impl Comparison {
    /// `3`, `>=3`, `>3`, `<=3`, `<3`, `=3`, with the number at most `max`.
    pub(super) fn parse(text: &str, max: u32) -> Option<Comparison> {
        let (op, rest) = [">=", "<=", ">", "<", "="]
            .into_iter()
            .find_map(|op| text.strip_prefix(op).map(|rest| (op, rest)))
            .unwrap_or(("=", text));
        if !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n = rest.parse().ok().filter(|n| *n <= max)?;
        Some(Comparison { op, n })
    }
}

/// `500`, `5xx`, `>=400`, `<300`.
fn status(text: &str) -> Option<StatusPattern> {
    if let [digit @ b'1'..=b'9', b'x', b'x'] = text.as_bytes() {
        return Some(StatusPattern::Class(u16::from(digit - b'0')));
    }
    Comparison::parse(text, 999).map(StatusPattern::Compare)
}

/// `30s`, `10m`, `2h`, `1d`, `1w` back from `now`; an event id (strictly newer); or an RFC 3339
/// time.
fn since(text: &str, now: Timestamp) -> Option<Since> {
    let unit_ms: i64 = match text.chars().last()? {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => 0,
    };
    // The units are ASCII, so the last byte is the unit's.
    let digits = &text[..text.len() - usize::from(unit_ms > 0)];
    if unit_ms > 0 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let back = digits.parse::<i64>().ok()?.checked_mul(unit_ms)?;
        return Some(Since::Time(Timestamp::from_unix_millis(
            now.unix_millis().checked_sub(back)?,
        )));
    }
    // 26 Crockford digits make 130 bits: a first digit past 7 does not fit.
    if text.len() == 26
        && text.starts_with(|c: char| ('0'..='7').contains(&c))
        && let Ok(id) = Ulid::from_string(text)
    {
        return Some(Since::After(id));
    }
    Timestamp::parse(text).ok().map(Since::Time)
}
