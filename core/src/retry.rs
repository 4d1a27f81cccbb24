//! Retry and poll pacing: capped exponential backoff with seeded jitter.
//!
//! Jitter is a pure function of `(seed, attempt)`, so there is no RNG state to
//! persist and the same job replays the same waits.

use serde::Serialize;

/// How often a failing step is retried and how long the job waits between
/// tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per step, the first included. At least 1.
    pub max_attempts: u32,
    /// Delay before the first retry, in ms.
    pub base_delay_ms: u64,
    /// No single delay exceeds this, in ms.
    pub max_delay_ms: u64,
}

crate::json_fields::deserialize_struct! {
    RetryPolicy, fields = Camel, unknown = Deny, default;
    max_attempts, base_delay_ms, max_delay_ms
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay_ms: 2_000,
            max_delay_ms: 120_000,
        }
    }
}

impl RetryPolicy {
    /// A policy with the given attempt budget and delays.
    pub const fn new(max_attempts: u32, base_delay_ms: u64, max_delay_ms: u64) -> Self {
        Self {
            max_attempts,
            base_delay_ms,
            max_delay_ms,
        }
    }

    /// The delay before retry number `retry` (1 for the first retry).
    ///
    /// "Equal jitter": half the exponential step plus a seeded random share of
    /// the other half. Each step's range starts where the previous one ended,
    /// so delays never decrease until the cap is reached.
    pub fn delay(&self, seed: u64, retry: u32) -> u64 {
        jittered(self.base_delay_ms, self.max_delay_ms, seed, retry)
    }
}

/// How often the job asks whether a report is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PollPolicy {
    /// Delay before the first status poll, in ms.
    pub initial_delay_ms: u64,
    /// Longest delay between polls, in ms.
    pub max_delay_ms: u64,
}

crate::json_fields::deserialize_struct! {
    PollPolicy, fields = Camel, unknown = Deny, default;
    initial_delay_ms, max_delay_ms
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial_delay_ms: 2_000,
            max_delay_ms: 60_000,
        }
    }
}

impl PollPolicy {
    /// A policy with the given delays.
    pub const fn new(initial_delay_ms: u64, max_delay_ms: u64) -> Self {
        Self {
            initial_delay_ms,
            max_delay_ms,
        }
    }

    /// The delay before status poll number `poll` (0 for the first).
    pub fn delay(&self, seed: u64, poll: u32) -> u64 {
        // A poll salt keeps poll jitter independent of retry jitter.
        jittered(
            self.initial_delay_ms,
            self.max_delay_ms,
            seed ^ 0x706f_6c6c,
            poll,
        )
    }
}

fn jittered(base: u64, cap: u64, seed: u64, step: u32) -> u64 {
    let exponential = base.saturating_mul(1u64.checked_shl(step.min(62)).unwrap_or(u64::MAX));
    let ceiling = exponential.min(cap).max(1);
    let half = ceiling / 2;
    let span = ceiling - half;
    half + splitmix64(seed ^ u64::from(step).wrapping_mul(0x9E37_79B9_7F4A_7C15)) % (span + 1)
}

/// SplitMix64: a tiny, well-known bit mixer; adequate for jitter.
pub(crate) const fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn delays_are_bounded_and_never_decrease_below_the_cap(seed: u64, base in 1u64..10_000, cap in 1u64..1_000_000) {
            let policy = RetryPolicy::new(10, base, cap);
            let mut previous = 0;
            for retry in 0..40 {
                let delay = policy.delay(seed, retry);
                prop_assert!(delay <= cap.max(1));
                let uncapped = base.saturating_mul(1u64.checked_shl(retry).unwrap_or(u64::MAX));
                if uncapped <= cap {
                    prop_assert!(delay >= previous, "retry {retry}: {delay} < {previous}");
                }
                previous = delay;
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let policy = RetryPolicy::default();
        let a: Vec<u64> = (0..8).map(|r| policy.delay(42, r)).collect();
        let b: Vec<u64> = (0..8).map(|r| policy.delay(42, r)).collect();
        let c: Vec<u64> = (0..8).map(|r| policy.delay(43, r)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
