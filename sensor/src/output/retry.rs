//! When to try again: exponential backoff with jitter, `Retry-After`, and
//! which answers are worth another attempt.

use std::time::{Duration, SystemTime};

use super::config::RetryConfig;

/// Answers worth another attempt: 408, 429 and 5xx. Another 4xx (or a
/// redirect, which is not followed) will not change by retrying.
pub fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// `Retry-After` (RFC 9110 10.2.3): delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff (doubling from `initial_backoff_ms` to
/// `max_backoff_ms`) with "equal jitter": half the step fixed, half random,
/// so senders that failed together do not retry together.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    max_retry_after: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(cfg: &RetryConfig) -> Self {
        Self {
            initial: Duration::from_millis(cfg.initial_backoff_ms.max(1)),
            max: Duration::from_millis(cfg.max_backoff_ms.max(cfg.initial_backoff_ms).max(1)),
            max_retry_after: Duration::from_secs(cfg.max_retry_after_secs),
            attempt: 0,
        }
    }

    /// The wait before the next attempt; a server's `Retry-After` is
    /// honoured as given (up to `max_retry_after_secs`), plus up to 10 %.
    pub fn next(&mut self, retry_after: Option<Duration>) -> Duration {
        let step = self.initial.saturating_mul(1 << self.attempt.min(20)).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        if let Some(ra) = retry_after {
            let ra = ra.min(self.max_retry_after);
            return ra + jitter(ra / 10);
        }
        step / 2 + jitter(step / 2)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// Uniform in `[0, max]`.
fn jitter(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(0..=nanos))
}
