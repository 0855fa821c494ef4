//! When a failed delivery is tried again: capped exponential backoff with
//! jitter, so receivers recovering from an outage are not hit by every
//! retry at once. The jitter is derived from the notification id and the
//! attempt (not a random source), so a schedule can be tested and two
//! notifications still spread apart.

use std::time::Duration;

/// How deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retry {
    /// Attempts before a notification becomes a dead letter (at least 1).
    pub attempts: u32,
    /// The wait after the first failure.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
}

impl Retry {
    /// The wait after failed attempt `attempt` (1-based) of notification
    /// `id`: `base · 2^(attempt-1)`, capped at `max`, then between half of
    /// it and all of it ("equal jitter").
    pub(crate) fn delay(&self, id: &str, attempt: u32) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1));
        let full = self.base.saturating_mul(doubling).min(self.max);
        let hash = blake3::hash(format!("{id}\u{1f}{attempt}").as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        // A fraction in [0, 1) from the hash's first 53 bits.
        let fraction = (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
        full / 2 + full.mul_f64(fraction / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Retry = Retry {
        attempts: 8,
        base: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };

    #[test]
    fn waits_double_within_their_jitter_and_stop_at_the_cap() {
        for attempt in 1..=10u32 {
            let full = (Duration::from_millis(100) * 2u32.pow(attempt - 1)).min(RETRY.max);
            let delay = RETRY.delay("n-1", attempt);
            assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
        }
        assert!(RETRY.delay("n-1", u32::MAX) <= RETRY.max);
    }

    #[test]
    fn jitter_is_stable_per_notification_and_spreads_notifications() {
        assert_eq!(RETRY.delay("n-1", 3), RETRY.delay("n-1", 3));
        let spread: std::collections::BTreeSet<Duration> =
            (0..20).map(|n| RETRY.delay(&format!("n-{n}"), 3)).collect();
        assert!(spread.len() > 10, "{spread:?}");
    }
}
