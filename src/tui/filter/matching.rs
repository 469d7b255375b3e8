//! Whether one term holds for one candidate row.

use super::{Comparison, Field, Since, StatusPattern, Term, Value};
use crate::model::{DeliveriesState, DeliveryState};
use crate::store::Candidate;

impl Term {
    pub(super) fn matches(&self, c: &Candidate<'_>) -> bool {
        self.values.iter().any(|v| holds(self.field, v, c))
    }
}

fn holds(field: Field, value: &Value, c: &Candidate<'_>) -> bool {
    let row = c.row;
    let s = &row.summary;
    match value {
        Value::Text(v) => match field {
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
            Field::Secret => c.secret.is_some_and(|x| glob(v, &x.to_lowercase())),
            Field::Error => c
                .outcomes
                .iter()
                .filter_map(|o| o.error.as_deref())
                .any(|e| glob(v, &e.to_lowercase())),
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
                "none" => s.deliveries_state == DeliveriesState::None,
                "partial" => s.deliveries_state == DeliveriesState::Partial,
                other => row
                    .delivery_states
                    .iter()
                    .any(|d: &DeliveryState| d.as_str() == other),
            },
            _ => false,
        },
        Value::Count(cmp) => cmp.holds(row.attempts),
        Value::Status(pattern) => {
            c.outcomes
                .iter()
                .filter_map(|o| o.status)
                .any(|status| match pattern {
                    StatusPattern::Class(hundreds) => status / 100 == *hundreds,
                    StatusPattern::Compare(cmp) => cmp.holds(u32::from(status)),
                })
        }
        Value::Since(Since::Time(cutoff)) => s.received_at >= *cutoff,
        Value::Since(Since::After(id)) => s.id > *id,
        Value::Header { name, value } => c.headers.iter().any(|h| {
            glob(name, &h.name.to_lowercase())
                && value.as_deref().is_none_or(|v| {
                    String::from_utf8_lossy(h.value.as_bytes())
                        .to_lowercase()
                        .contains(v)
                })
        }),
        Value::Bytes(needle) => contains(c.body(), needle),
    }
}

impl Comparison {
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

/// `needle` inside `hay`, byte for byte.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(at) = hay[from..].iter().position(|b| *b == first) {
        let start = from + at;
        if hay[start + 1..].starts_with(rest) {
            return true;
        }
        from = start + 1;
    }
    false
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
