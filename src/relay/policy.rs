//! The retry policy: a pure function from what an attempt got to what happens next.
//!
//! 2xx → succeeded. 3xx → failed (redirects are only followed when the target allows it, before
//! this is reached). 4xx → failed, except 408 and 429, which are retried (429 honouring
//! `Retry-After`, capped at `max_ms`). 5xx, connection errors and timeouts → retried with
//! exponential backoff and full jitter, capped at `max_ms`, until `max_attempts`, then dead.

use crate::config::RetryConfig;
use std::time::Duration;

/// What an attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    /// No response: refused, reset, timed out, ...
    Error,
    /// An answer that says trying again cannot help: this instance's own receiver refusing a
    /// relay loop (508 with its own `Via`).
    Refused,
}

/// What happens to the delivery next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Succeeded,
    Failed,
    Dead,
    RetryAfter(Duration),
}

/// `attempt` is the number of the attempt just made (1 for the first). `jitter` is a number in
/// `[0, 1)` drawn by the caller, so the function stays pure and testable.
pub fn next(
    attempt: u32,
    outcome: Outcome,
    retry_after: Option<Duration>,
    policy: &RetryConfig,
    jitter: f64,
) -> Next {
    let retryable = match outcome {
        Outcome::Status(s) if (200..300).contains(&s) => return Next::Succeeded,
        Outcome::Status(408 | 429) => true,
        Outcome::Status(s) if s >= 500 => true,
        Outcome::Status(_) | Outcome::Refused => return Next::Failed,
        Outcome::Error => true,
    };
    debug_assert!(retryable);
    if attempt >= policy.max_attempts {
        return Next::Dead;
    }
    let cap = Duration::from_millis(policy.max_ms);
    if let Some(wait) = retry_after {
        return Next::RetryAfter(wait.min(cap));
    }
    Next::RetryAfter(backoff(attempt, policy, jitter))
}

/// Full jitter: a uniform draw in `[0, min(max, initial × multiplier^(attempt-1))]`.
fn backoff(attempt: u32, policy: &RetryConfig, jitter: f64) -> Duration {
    let exponent = f64::from(attempt.saturating_sub(1).min(64));
    let ceiling =
        (policy.initial_ms as f64 * policy.multiplier.powf(exponent)).min(policy.max_ms as f64);
    Duration::from_millis((ceiling * jitter.clamp(0.0, 1.0)) as u64)
}

/// `Retry-After` as seconds or an HTTP date, relative to `now` (unix seconds).
pub fn parse_retry_after(value: &str, now_unix: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = date.unix_timestamp() - now_unix;
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryConfig {
        RetryConfig {
            max_attempts: 4,
            initial_ms: 500,
            multiplier: 2.0,
            max_ms: 3_000,
        }
    }

    #[test]
    fn decisions_by_outcome() {
        let p = policy();
        let ms = Duration::from_millis;
        let table: &[(u32, Outcome, Option<Duration>, f64, Next)] = &[
            (1, Outcome::Status(200), None, 0.5, Next::Succeeded),
            (1, Outcome::Status(204), None, 0.5, Next::Succeeded),
            (1, Outcome::Status(301), None, 0.5, Next::Failed),
            (1, Outcome::Status(400), None, 0.5, Next::Failed),
            (1, Outcome::Status(404), None, 0.5, Next::Failed),
            (
                1,
                Outcome::Status(408),
                None,
                1.0,
                Next::RetryAfter(ms(500)),
            ),
            (
                1,
                Outcome::Status(429),
                Some(ms(1_000)),
                0.5,
                Next::RetryAfter(ms(1_000)),
            ),
            // Retry-After is capped at max_ms.
            (
                1,
                Outcome::Status(429),
                Some(ms(60_000)),
                0.5,
                Next::RetryAfter(ms(3_000)),
            ),
            (
                1,
                Outcome::Status(500),
                None,
                1.0,
                Next::RetryAfter(ms(500)),
            ),
            (
                2,
                Outcome::Status(503),
                None,
                1.0,
                Next::RetryAfter(ms(1_000)),
            ),
            (3, Outcome::Error, None, 1.0, Next::RetryAfter(ms(2_000))),
            // Full jitter: anywhere from zero to the ceiling.
            (3, Outcome::Error, None, 0.0, Next::RetryAfter(ms(0))),
            (3, Outcome::Error, None, 0.25, Next::RetryAfter(ms(500))),
            // The last attempt that fails makes the delivery dead; a 4xx never does.
            (4, Outcome::Error, None, 0.5, Next::Dead),
            (4, Outcome::Status(502), None, 0.5, Next::Dead),
            (4, Outcome::Status(429), Some(ms(10)), 0.5, Next::Dead),
            (4, Outcome::Status(422), None, 0.5, Next::Failed),
            (4, Outcome::Status(200), None, 0.5, Next::Succeeded),
        ];
        for &(attempt, outcome, retry_after, jitter, want) in table {
            assert_eq!(
                next(attempt, outcome, retry_after, &p, jitter),
                want,
                "attempt {attempt}, {outcome:?}, retry-after {retry_after:?}"
            );
        }
    }

    #[test]
    fn backoff_grows_by_the_multiplier_and_stops_at_the_cap() {
        let p = RetryConfig {
            max_attempts: 100,
            ..policy()
        };
        let ceilings: Vec<u64> = (1..=6)
            .map(|a| match next(a, Outcome::Error, None, &p, 1.0) {
                Next::RetryAfter(d) => d.as_millis() as u64,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ceilings, [500, 1_000, 2_000, 3_000, 3_000, 3_000]);
        // A huge attempt number neither overflows nor exceeds the cap.
        assert_eq!(
            next(99, Outcome::Error, None, &p, 1.0),
            Next::RetryAfter(Duration::from_millis(3_000))
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("7", 0), Some(Duration::from_secs(7)));
        // RFC 9110's example date, 1994-11-06T08:49:37Z = 784111777.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 - 30),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 + 30),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}
