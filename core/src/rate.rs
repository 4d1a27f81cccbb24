//! Client-side rate limits as token buckets: plain data, serializable, driven
//! by the host's clock.

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// A token bucket: `capacity` requests at once, one more every
/// `refill_every_ms`.
///
/// Tokens are counted in thousandths so refills stay exact in integers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBucket {
    name: String,
    capacity: u32,
    refill_every_ms: u64,
    milli_tokens: u64,
    updated_at: Millis,
}

const MILLI: u64 = 1_000;

impl TokenBucket {
    /// A full bucket named `name` (e.g. `amazon-ads:status`).
    pub fn new(name: &str, capacity: u32, refill_every_ms: u64, now: Millis) -> Self {
        let capacity = capacity.max(1);
        Self {
            name: name.to_owned(),
            capacity,
            refill_every_ms: refill_every_ms.max(1),
            milli_tokens: u64::from(capacity) * MILLI,
            updated_at: now,
        }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Most requests the bucket allows at once.
    pub const fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Milliseconds for one token to come back.
    pub const fn refill_every_ms(&self) -> u64 {
        self.refill_every_ms
    }

    fn refill(&mut self, now: Millis) {
        // `updated_at` may lie ahead of `now` after `exhaust_until`: no tokens accrue before it.
        let elapsed = now.saturating_since(self.updated_at);
        if elapsed == 0 {
            return;
        }
        let gained = elapsed.saturating_mul(MILLI) / self.refill_every_ms;
        let full = u64::from(self.capacity) * MILLI;
        self.milli_tokens = self.milli_tokens.saturating_add(gained).min(full);
        self.updated_at = now;
    }

    /// When a token will be available (`now` if one is available now).
    pub fn ready_at(&mut self, now: Millis) -> Millis {
        self.refill(now);
        let accrual_starts = self.updated_at.max(now);
        if self.milli_tokens >= MILLI && accrual_starts == now {
            return now;
        }
        let missing = MILLI.saturating_sub(self.milli_tokens);
        let wait = missing.saturating_mul(self.refill_every_ms).div_ceil(MILLI);
        accrual_starts.saturating_add(wait)
    }

    /// Takes a token if one is available now; otherwise returns when one will be.
    pub fn try_take(&mut self, now: Millis) -> Result<(), Millis> {
        let ready = self.ready_at(now);
        if ready > now {
            return Err(ready);
        }
        self.milli_tokens = self.milli_tokens.saturating_sub(MILLI);
        Ok(())
    }

    /// Empties the bucket until `until`: the provider said we are over its
    /// limit, so the job's view must agree.
    pub fn exhaust_until(&mut self, now: Millis, until: Millis) {
        self.refill(now);
        self.milli_tokens = 0;
        // Tokens accrue from `until - refill` so the first one appears at `until`.
        self.updated_at = Millis(until.as_u64().saturating_sub(self.refill_every_ms)).max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_empty_bucket_says_when_it_refills() {
        let mut bucket = TokenBucket::new("t", 2, 1_000, Millis(0));
        assert!(bucket.try_take(Millis(0)).is_ok());
        assert!(bucket.try_take(Millis(0)).is_ok());
        assert_eq!(bucket.try_take(Millis(10)), Err(Millis(1_000)));
        assert!(bucket.try_take(Millis(1_000)).is_ok());
    }

    #[test]
    fn exhausting_holds_requests_until_the_given_instant() {
        let mut bucket = TokenBucket::new("t", 5, 1_000, Millis(0));
        bucket.exhaust_until(Millis(0), Millis(30_000));
        assert_eq!(bucket.ready_at(Millis(100)), Millis(30_000));
        assert!(bucket.try_take(Millis(30_000)).is_ok());
    }

    proptest! {
        /// Over any window of length w, at most capacity + w / refill tokens are taken.
        #[test]
        fn takes_never_exceed_the_rate(capacity in 1u32..20, refill in 1u64..5_000, steps in proptest::collection::vec(0u64..3_000, 1..200)) {
            let mut bucket = TokenBucket::new("t", capacity, refill, Millis(0));
            let mut now = Millis(0);
            let mut taken = Vec::new();
            for step in steps {
                now = now.saturating_add(step);
                if bucket.try_take(now).is_ok() {
                    taken.push(now.as_u64());
                }
            }
            for (i, start) in taken.iter().enumerate() {
                for (j, end) in taken.iter().enumerate().skip(i) {
                    let window = end - start;
                    let allowed = u64::from(capacity) + window / refill;
                    prop_assert!((j - i + 1) as u64 <= allowed);
                }
            }
        }
    }
}
