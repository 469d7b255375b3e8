//! The filter language of the event list (INTERFACE.md, "Filter syntax"): space is AND, `-`
//! negates a term, `|` in a value is OR; bare words and the qualifiers `verdict:`, `route:`,
//! `method:`, `type:`, `state:`. Parsing is pure; matching runs in the store read.

use crate::model::DeliveryState;
use crate::store::WindowRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Bare,
    Verdict,
    Route,
    Method,
    Type,
    State,
    Target,
    Scheme,
    Attempts,
    Is,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    negate: bool,
    field: Field,
    /// Alternatives (lowercased).
    values: Vec<String>,
}

/// A parsed filter; the empty one keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<Term>,
    pub text: String,
}

/// Where and why a filter does not parse (column in characters, 0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub column: usize,
    pub message: String,
}

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

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let mut terms = Vec::new();
        let mut column = 0;
        for word in text.split(' ') {
            let start = column;
            column += word.chars().count() + 1;
            if word.is_empty() {
                continue;
            }
            let (negate, body, body_at) = match word.strip_prefix('-') {
                Some(rest) => (true, rest, start + 1),
                None => (false, word, start),
            };
            let err = |at: usize, message: String| FilterError {
                column: at,
                message,
            };
            if body.is_empty() {
                return Err(err(start, "a lone \"-\" negates nothing".into()));
            }
            let (field, value, value_at) = match body.split_once(':') {
                Some((name, value)) => {
                    let field = match name.to_ascii_lowercase().as_str() {
                        "verdict" => Field::Verdict,
                        "route" => Field::Route,
                        "method" => Field::Method,
                        "type" => Field::Type,
                        "state" => Field::State,
                        "target" => Field::Target,
                        "scheme" => Field::Scheme,
                        "attempts" => Field::Attempts,
                        "is" => Field::Is,
                        _ => {
                            return Err(err(
                                body_at,
                                format!(
                                    "unknown qualifier \"{}:\" (verdict: route: method: type: \
                                     state: target: scheme: attempts: is:)",
                                    crate::text::escape(name)
                                ),
                            ));
                        }
                    };
                    (field, value, body_at + name.chars().count() + 1)
                }
                None => (Field::Bare, body, body_at),
            };
            let mut values = Vec::new();
            let mut at = value_at;
            for alt in value.split('|') {
                if alt.is_empty() {
                    return Err(err(at, "an empty value".into()));
                }
                let lower = alt.to_lowercase();
                let allowed = match field {
                    Field::Verdict => Some(VERDICTS),
                    Field::State => Some(STATES),
                    Field::Is => Some(LINEAGES),
                    _ => None,
                };
                if field == Field::Attempts && Comparison::parse(&lower).is_none() {
                    return Err(err(
                        at,
                        format!(
                            "\"{}\" is not a count: attempts:3, attempts:>=3, attempts:<2",
                            crate::text::escape(alt)
                        ),
                    ));
                }
                if let Some(allowed) = allowed
                    && !allowed.contains(&lower.as_str())
                {
                    return Err(err(
                        at,
                        format!(
                            "\"{}\" is not one of {}",
                            crate::text::escape(alt),
                            allowed.join(" ")
                        ),
                    ));
                }
                at += alt.chars().count() + 1;
                values.push(lower);
            }
            terms.push(Term {
                negate,
                field,
                values,
            });
        }
        Ok(Filter {
            terms,
            text: text.to_owned(),
        })
    }

    pub fn matches(&self, row: &WindowRow) -> bool {
        self.terms.iter().all(|t| t.matches(row) != t.negate)
    }
}

impl Term {
    fn matches(&self, row: &WindowRow) -> bool {
        let s = &row.summary;
        self.values.iter().any(|v| match self.field {
            Field::Bare => {
                let id = s.id.to_string().to_lowercase();
                [
                    Some(s.path.as_str()),
                    Some(s.route.as_str()),
                    s.event_type.as_deref(),
                    Some(id.as_str()),
                    row.dedupe_key.as_deref(),
                ]
                .into_iter()
                .flatten()
                .any(|hay| hay.to_lowercase().contains(v.as_str()))
            }
            Field::Verdict => s.verdict.as_str() == v,
            Field::Route => glob(v, &s.route.to_lowercase()),
            Field::Method => glob(v, &s.method.to_lowercase()),
            Field::Type => s
                .event_type
                .as_deref()
                .is_some_and(|t| glob(v, &t.to_lowercase())),
            Field::Target => row.targets.iter().any(|t| glob(v, &t.to_lowercase())),
            Field::Scheme => row
                .scheme
                .as_deref()
                .is_some_and(|x| glob(v, &x.to_lowercase())),
            Field::Attempts => Comparison::parse(v).is_some_and(|c| c.holds(row.attempts)),
            Field::Is => {
                let mark = match v.as_str() {
                    "replay" => 'R',
                    "duplicate" => 'D',
                    _ => 'E',
                };
                row.lineage == Some(mark)
            }
            Field::State => match v.as_str() {
                "pending" => row.delivery_states.iter().any(|d| d.is_pending()),
                "none" | "partial" => {
                    serde_plain(s.deliveries_state).as_deref() == Some(v.as_str())
                }
                other => row
                    .delivery_states
                    .iter()
                    .any(|d: &DeliveryState| d.as_str() == other),
            },
        })
    }
}

/// `is:` values.
const LINEAGES: &[&str] = &["replay", "duplicate", "resend"];

/// `attempts:` values: `3`, `>=3`, `>3`, `<=3`, `<3`, `=3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Comparison {
    op: &'static str,
    n: u32,
}

impl Comparison {
    fn parse(text: &str) -> Option<Comparison> {
        let (op, rest) = [">=", "<=", ">", "<", "="]
            .into_iter()
            .find_map(|op| text.strip_prefix(op).map(|rest| (op, rest)))
            .unwrap_or(("=", text));
        Some(Comparison {
            op,
            n: rest.parse().ok()?,
        })
    }

    fn holds(self, value: u32) -> bool {
        match self.op {
            ">=" => value >= self.n,
            "<=" => value <= self.n,
            ">" => value > self.n,
            "<" => value < self.n,
            _ => value == self.n,
        }
    }
}

fn serde_plain(state: crate::model::DeliveriesState) -> Option<String> {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// `*` any run, `?` one character; otherwise equality.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeliveriesState, EventSummary, Timestamp, Verdict};

    fn row(path: &str, ty: Option<&str>, verdict: Verdict, states: &[DeliveryState]) -> WindowRow {
        WindowRow {
            summary: EventSummary {
                id: ulid::Ulid(1),
                received_at: Timestamp::from_unix_millis(0),
                route: "stripe".into(),
                method: "POST".into(),
                path: path.into(),
                event_type: ty.map(str::to_owned),
                verdict,
                deliveries_state: DeliveriesState::of(states.iter().copied()),
            },
            dedupe_key: Some("evt_42".into()),
            body_len: 0,
            delivery_states: states.to_vec(),
            attempts: 3,
            lineage: Some('R'),
            targets: vec!["billing".into()],
            scheme: Some("stripe".into()),
        }
    }

    #[test]
    fn terms_combine() {
        let r = row(
            "/stripe/events",
            Some("invoice.paid"),
            Verdict::Mismatch,
            &[DeliveryState::Dead],
        );
        let ok = |q: &str| Filter::parse(q).unwrap().matches(&r);
        assert!(ok(""));
        assert!(ok("STRIPE"));
        assert!(ok("evt_42"));
        assert!(ok("verdict:mismatch type:invoice.*"));
        assert!(ok("verdict:verified|mismatch"));
        assert!(!ok("-verdict:mismatch"));
        assert!(ok("state:dead|failed method:post"));
        assert!(!ok("state:pending"));
        assert!(ok("route:str*"));
        assert!(!ok("type:charge.*"));
        assert!(!ok("github"));
        assert!(ok("target:bill* scheme:stripe"));
        assert!(!ok("target:audit"));
        assert!(ok("attempts:>=3 attempts:3 -attempts:<3"));
        assert!(!ok("attempts:>3"));
        assert!(ok("is:replay") && !ok("is:duplicate|resend"));
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = Filter::parse("stripe verdict:nope").unwrap_err();
        assert_eq!(e.column, 15);
        let e = Filter::parse("a colour:red").unwrap_err();
        assert_eq!(e.column, 2);
        assert!(e.message.contains("unknown qualifier"));
        let e = Filter::parse("state:dead|").unwrap_err();
        assert_eq!(e.column, 11);
        let e = Filter::parse("attempts:>=x").unwrap_err();
        assert_eq!(e.column, 9);
        assert!(e.message.contains("not a count"));
        assert!(Filter::parse("is:forwarded").is_err());
    }
}
