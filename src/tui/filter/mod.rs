//! The filter language of the event list (INTERFACE.md, "Filter syntax"): space is AND, `-`
//! negates a term, `|` in a value is OR, `"…"` quotes a value with spaces; bare words and the
//! qualifiers in [`QUALIFIERS`]. Parsing is pure (the clock is passed in, so `since:10m` becomes
//! a fixed cutoff); matching runs in the store read, over a [`Candidate`].
//!
//! Most terms look at the row alone. `status:` and `error:` need the attempts (the filter's
//! [`Scope`] asks the scan to read them), `body:` the body (read only when a row gets that far:
//! body terms are checked last), and `since:` bounds the scan's key range.

mod matching;
mod parse;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod update_tests;

use crate::model::Timestamp;
use crate::store::{Candidate, Scope};
use ulid::Ulid;

/// Every qualifier, as the unknown-qualifier message and the help list them.
pub const QUALIFIERS: &[&str] = &[
    "verdict:",
    "scheme:",
    "secret:",
    "route:",
    "method:",
    "type:",
    "target:",
    "state:",
    "status:",
    "error:",
    "attempts:",
    "since:",
    "is:",
    "header:",
    "body:",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Bare,
    Verdict,
    Route,
    Method,
    Type,
    State,
    Target,
    Scheme,
    Secret,
    Attempts,
    Is,
    Since,
    Status,
    Error,
    Header,
    /// Last: the only one that may read more than the row and its record.
    Body,
}

/// One alternative of a term, ready to match.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// Lowercased: bare words, globs and the closed sets (`verdict:`, `state:`, `is:`).
    Text(String),
    Count(Comparison),
    Status(StatusPattern),
    Since(Since),
    /// A header's name (lowercased, a glob) and maybe a value substring (lowercased).
    Header {
        name: String,
        value: Option<String>,
    },
    /// The exact bytes to find in the body.
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    negate: bool,
    field: Field,
    /// Alternatives: the term holds when any does.
    values: Vec<Value>,
}

/// A parsed filter; the empty one keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Cheapest first (see [`Field`]), so a row that fails early never has its body read.
    terms: Vec<Term>,
    pub text: String,
}

/// Where and why a filter does not parse (column in characters, 0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub column: usize,
    pub message: String,
}

/// `attempts:` and `status:` comparisons: `3`, `>=3`, `>3`, `<=3`, `<3`, `=3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Comparison {
    op: &'static str,
    n: u32,
}

/// `status:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusPattern {
    /// `5xx`: the hundreds digit.
    Class(u16),
    Compare(Comparison),
}

/// `since:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    /// Received at or after this time (`since:10m` is now minus ten minutes, fixed at parse).
    Time(Timestamp),
    /// Strictly newer than this event (ids grow with arrival).
    After(Ulid),
}

/// How far an event's id may lag behind its received time (the writer's ids never go back,
/// but a clock stepped back while an event was being captured gives an id older than its
/// `received_at`). Only the key bound of `since:<duration>` uses it; matching uses the time.
const SINCE_SLACK_MS: i64 = 3_600_000;

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Parses `text`; `now` is what relative times (`since:10m`) count back from.
    pub fn parse(text: &str, now: Timestamp) -> Result<Filter, FilterError> {
        let mut terms = parse::terms(text, now)?;
        terms.sort_by_key(|t| t.field);
        Ok(Filter {
            terms,
            text: text.to_owned(),
        })
    }

    pub fn matches(&self, candidate: &Candidate<'_>) -> bool {
        self.terms.iter().all(|t| t.matches(candidate) != t.negate)
    }

    /// What a scan must read for this filter, and the key it may stop at.
    pub fn scope(&self) -> Scope {
        let has = |f: &[Field]| self.terms.iter().any(|t| f.contains(&t.field));
        Scope {
            attempts: has(&[Field::Status, Field::Error]),
            body: has(&[Field::Body]),
            after: self
                .terms
                .iter()
                .filter(|t| t.field == Field::Since && !t.negate)
                .filter_map(Term::floor)
                .max(),
        }
    }

    /// The filter reads more than rows and their records (attempts or bodies): its scans are
    /// slower per row.
    pub fn reads_more(&self) -> bool {
        let scope = self.scope();
        scope.attempts || scope.body
    }
}

impl Term {
    /// For a `since:` term, the key at or below which no event can hold it.
    fn floor(&self) -> Option<Ulid> {
        self.values
            .iter()
            .map(|v| match v {
                Value::Since(Since::After(id)) => Some(*id),
                Value::Since(Since::Time(t)) => {
                    let ms = t.unix_millis().checked_sub(SINCE_SLACK_MS)?;
                    let ms = u64::try_from(ms).ok().filter(|ms| *ms > 0)?;
                    Some(Ulid(Ulid::from_parts(ms, 0).0 - 1))
                }
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .min()
    }
}
