//! Client-side rate limits as token buckets: plain data, serializable, driven
//! by the host's clock. One primitive serves every quota shape the
//! providers have:
//!
//! - burst + restore rate (Amazon Ads' polite pacing, MWS's 15 burst / 1
//!   per minute): [`TokenBucket::new`] and [`TokenBucket::try_take`];
//! - a throttled answer (`429`, `420`): [`TokenBucket::exhaust_until`];
//! - the provider's own count in rate-limit headers (Yandex's
//!   `X-RateLimit-Resource-*`): [`TokenBucket::observe`];
//! - one request in flight per endpoint (Lingxing's capacity-1 buckets,
//!   whose token returns with the answer or after the gateway's timeout):
//!   capacity 1 with the timeout as refill, and [`TokenBucket::give_back`]
//!   when the answer arrives;
//! - a quota per window (MWS's hourly request quota, which comes back whole
//!   when the hour that the first counted call opened is over):
//!   [`TokenBucket::per_window`], corrected by [`TokenBucket::observe`].
//!
//! A call that several quotas count (an MWS call spends from its burst
//! bucket and its hourly one) takes a token from each bucket or from none.

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// A token bucket: `capacity` requests at once, and spent tokens come back
/// as its [`Refill`] says — one every `refill_every_ms`, or all of them when
/// a window of `refill_every_ms` closes.
///
/// Tokens are counted in thousandths so refills stay exact in integers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "SavedBucket")]
pub struct TokenBucket {
    name: String,
    capacity: u32,
    refill_every_ms: u64,
    milli_tokens: u64,
    updated_at: Millis,
    #[serde(default, skip_serializing_if = "Refill::is_steady")]
    refill: Refill,
    /// When the open window closes and the bucket is full again; `None`
    /// while no window is open (always so for a steady bucket). A window
    /// bucket holding less than its capacity always has one open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window_closes_at: Option<Millis>,
}

/// How a bucket's spent tokens come back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Refill {
    /// One token every `refill_every_ms`, continuously: a burst quota with
    /// a restore rate.
    #[default]
    Steady,
    /// Every token at once when the window closes. The first token spent
    /// from a full bucket opens a window of `refill_every_ms`; the
    /// provider's own count (`observe`) may move its end. MWS's answers show
    /// its hour counted this way: `resetsOn` is not on the clock hour.
    Window,
}

crate::json_fields::deserialize_names! {
    Refill;
    "steady" => Steady,
    "window" => Window,
}

impl Refill {
    const fn is_steady(&self) -> bool {
        matches!(self, Self::Steady)
    }
}

const MILLI: u64 = 1_000;

/// A bucket as a snapshot holds it, before its values are checked: a
/// snapshot is untrusted, and a zero refill period would divide by zero.
#[derive()]
struct SavedBucket {
    name: String,
    capacity: u32,
    refill_every_ms: u64,
    milli_tokens: u64,
    updated_at: Millis,
    refill: Refill,
    window_closes_at: Option<Millis>,
}

crate::json_fields::deserialize_struct! {
    SavedBucket, fields = Camel, unknown = Deny;
    name, capacity, refill_every_ms, milli_tokens, updated_at, refill = default, window_closes_at
}

impl TryFrom<SavedBucket> for TokenBucket {
    type Error = String;

    fn try_from(saved: SavedBucket) -> Result<Self, String> {
        let name = &saved.name;
        if saved.capacity == 0 {
            return Err(format!("rate bucket {name}: capacity must be at least 1"));
        }
        if saved.refill_every_ms == 0 {
            return Err(format!(
                "rate bucket {name}: refillEveryMs must be at least 1"
            ));
        }
        if saved.milli_tokens > u64::from(saved.capacity) * MILLI {
            return Err(format!(
                "rate bucket {name}: holds more tokens than its capacity"
            ));
        }
        let full = saved.milli_tokens == u64::from(saved.capacity) * MILLI;
        let window_ok = match saved.refill {
            Refill::Steady => saved.window_closes_at.is_none(),
            Refill::Window => full || saved.window_closes_at.is_some(),
        };
        if !window_ok {
            return Err(format!(
                "rate bucket {name}: windowClosesAt does not fit its refill"
            ));
        }
        Ok(Self {
            name: saved.name,
            capacity: saved.capacity,
            refill_every_ms: saved.refill_every_ms,
            milli_tokens: saved.milli_tokens,
            updated_at: saved.updated_at,
            refill: saved.refill,
            window_closes_at: saved.window_closes_at,
        })
    }
}

impl TokenBucket {
    /// A full bucket named `name` (e.g. `amazon-ads:status`) that gets one
    /// token back every `refill_every_ms`.
    pub fn new(name: &str, capacity: u32, refill_every_ms: u64, now: Millis) -> Self {
        let capacity = capacity.max(1);
        Self {
            name: name.to_owned(),
            capacity,
            refill_every_ms: refill_every_ms.max(1),
            milli_tokens: u64::from(capacity) * MILLI,
            updated_at: now,
            refill: Refill::Steady,
            window_closes_at: None,
        }
    }

    /// A full bucket named `name` allowing `quota` requests per window of
    /// `window_ms` (e.g. MWS's 60 RequestReport calls per hour).
    pub fn per_window(name: &str, quota: u32, window_ms: u64, now: Millis) -> Self {
        Self {
            refill: Refill::Window,
            ..Self::new(name, quota, window_ms, now)
        }
    }

    /// A full bucket like this one (name, capacity, kind of refill) whose
    /// tokens take `extra_refill_ms` longer to come back: the copy a host
    /// shares between jobs, slowed by the jitter between taking a token and
    /// the request reaching the provider. A window quota stays a window
    /// quota (as a steady bucket it would give back one token per window).
    pub fn fresh_copy(&self, now: Millis, extra_refill_ms: u64) -> Self {
        Self {
            name: self.name.clone(),
            capacity: self.capacity,
            refill_every_ms: self.refill_every_ms.saturating_add(extra_refill_ms),
            milli_tokens: u64::from(self.capacity) * MILLI,
            updated_at: now,
            refill: self.refill,
            window_closes_at: None,
        }
    }

    /// How the bucket's spent tokens come back.
    pub const fn refill_kind(&self) -> Refill {
        self.refill
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
        if self.refill == Refill::Window {
            if self.window_closes_at.is_some_and(|closes| now >= closes) {
                self.milli_tokens = u64::from(self.capacity) * MILLI;
                self.window_closes_at = None;
            }
            return;
        }
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
        if self.refill == Refill::Window {
            return match self.window_closes_at {
                Some(closes) if self.milli_tokens < MILLI => closes,
                _ => now,
            };
        }
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
        self.open_window(now);
        Ok(())
    }

    /// A window bucket that is no longer full counts down to its refill
    /// from now, unless a window is already open.
    fn open_window(&mut self, now: Millis) {
        let full = u64::from(self.capacity) * MILLI;
        if self.refill == Refill::Window
            && self.milli_tokens < full
            && self.window_closes_at.is_none()
        {
            self.window_closes_at = Some(now.saturating_add(self.refill_every_ms));
        }
    }

    /// Returns the token a request took: the provider answered it, and its
    /// own bucket (a concurrency slot) is free again.
    pub fn give_back(&mut self, now: Millis) {
        self.refill(now);
        let full = u64::from(self.capacity) * MILLI;
        self.milli_tokens = self.milli_tokens.saturating_add(MILLI).min(full);
        if self.milli_tokens == full {
            // No counted call is left in the window.
            self.window_closes_at = None;
        }
    }

    /// Takes the provider's own account of the quota: `remaining` requests
    /// are left in a window that ends at `until`. None left means none until
    /// `until`; otherwise the bucket holds what the provider says is left.
    /// A window bucket takes `until` as its window's end.
    pub fn observe(&mut self, now: Millis, remaining: u64, until: Millis) {
        if remaining == 0 {
            if until > now {
                self.exhaust_until(now, until);
            }
            return;
        }
        self.refill(now);
        let full = u64::from(self.capacity) * MILLI;
        self.milli_tokens = remaining.saturating_mul(MILLI).min(full);
        if self.refill == Refill::Window && until > now {
            self.window_closes_at = Some(until);
        }
        self.open_window(now);
    }

    /// Lowers the bucket to at most `remaining` tokens (never raises it):
    /// the provider's count of a longer window (MWS's hourly quota in
    /// `x-mws-quota-remaining`) that is tighter than the burst view.
    pub fn at_most(&mut self, now: Millis, remaining: u64) {
        self.refill(now);
        self.milli_tokens = self.milli_tokens.min(remaining.saturating_mul(MILLI));
        self.open_window(now);
    }

    /// Takes the provider's own word for the rate it applies (SP-API's
    /// `x-amzn-RateLimit-Limit`, requests per second): one token every
    /// `refill_every_ms` from now on; what accrued so far is kept.
    pub fn set_refill_every_ms(&mut self, now: Millis, refill_every_ms: u64) {
        self.refill(now);
        self.refill_every_ms = refill_every_ms.max(1);
    }

    /// Empties the bucket until `until`: the provider said we are over its
    /// limit, so the job's view must agree.
    pub fn exhaust_until(&mut self, now: Millis, until: Millis) {
        self.refill(now);
        self.milli_tokens = 0;
        if self.refill == Refill::Window {
            self.window_closes_at = Some(until.max(now));
            return;
        }
        // Tokens accrue from `until - refill` so the first one appears at
        // `until`, also when that start lies before `now` (a throttle nearer
        // than one refill: Lingxing's 2-minute slot after a 5-second backoff).
        self.updated_at = Millis(until.as_u64().saturating_sub(self.refill_every_ms));
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
    fn a_fresh_copy_is_full_slower_by_the_margin_and_keeps_its_kind_of_refill() {
        let mut steady = TokenBucket::new("s", 2, 1_000, Millis(0));
        let mut window = TokenBucket::per_window("w", 2, 60_000, Millis(0));
        for bucket in [&mut steady, &mut window] {
            assert!(bucket.try_take(Millis(0)).is_ok());
            assert!(bucket.try_take(Millis(0)).is_ok());
        }
        let mut steady = steady.fresh_copy(Millis(5_000), 20);
        assert_eq!(
            (steady.name(), steady.capacity(), steady.refill_every_ms()),
            ("s", 2, 1_020)
        );
        assert_eq!(steady.refill_kind(), Refill::Steady);
        assert!(steady.try_take(Millis(5_000)).is_ok());
        assert!(steady.try_take(Millis(5_000)).is_ok());
        assert_eq!(steady.try_take(Millis(5_000)), Err(Millis(6_020)));

        let mut window = window.fresh_copy(Millis(5_000), 20);
        assert_eq!(window.refill_kind(), Refill::Window);
        assert!(window.try_take(Millis(5_000)).is_ok());
        assert!(window.try_take(Millis(5_000)).is_ok());
        // The whole quota comes back when the window (60 s + 20 ms) closes.
        assert_eq!(window.try_take(Millis(6_020)), Err(Millis(65_020)));
        assert!(window.try_take(Millis(65_020)).is_ok());
    }

    #[test]
    fn exhausting_holds_requests_until_the_given_instant() {
        let mut bucket = TokenBucket::new("t", 5, 1_000, Millis(0));
        bucket.exhaust_until(Millis(0), Millis(30_000));
        assert_eq!(bucket.ready_at(Millis(100)), Millis(30_000));
        assert!(bucket.try_take(Millis(30_000)).is_ok());
    }

    #[test]
    fn a_throttle_nearer_than_one_refill_ends_at_its_instant() {
        let mut bucket = TokenBucket::new("slot", 1, 120_000, Millis(0));
        bucket.exhaust_until(Millis(1_000_000), Millis(1_005_000));
        assert!(bucket.clone().try_take(Millis(1_000_000)).is_err());
        assert!(bucket.try_take(Millis(1_005_000)).is_ok());
    }

    #[test]
    fn a_capacity_one_bucket_is_free_again_when_the_answer_returns_its_token() {
        let mut bucket = TokenBucket::new("slot", 1, 120_000, Millis(0));
        assert!(bucket.try_take(Millis(0)).is_ok());
        assert_eq!(bucket.try_take(Millis(0)), Err(Millis(120_000)));
        bucket.give_back(Millis(10));
        assert!(bucket.try_take(Millis(10)).is_ok());
        // An answer that never came: the slot returns after the hold.
        assert_eq!(bucket.ready_at(Millis(10)), Millis(120_010));
    }

    #[test]
    fn the_providers_count_decides_once_seen() {
        let mut bucket = TokenBucket::new("quota", 10, 6_000, Millis(0));
        bucket.observe(Millis(0), 0, Millis(60_000));
        assert_eq!(bucket.ready_at(Millis(1)), Millis(60_000));
        bucket.observe(Millis(60_000), 2, Millis(120_000));
        assert!(bucket.try_take(Millis(60_000)).is_ok());
        assert!(bucket.try_take(Millis(60_000)).is_ok());
        assert!(bucket.try_take(Millis(60_000)).is_err());
    }

    #[test]
    fn burst_and_restore_rate_quotas_need_nothing_else() {
        // MWS RequestReport: 15 at once, then one per minute.
        let mut bucket = TokenBucket::new("mws:RequestReport", 15, 60_000, Millis(0));
        for _ in 0..15 {
            assert!(bucket.try_take(Millis(0)).is_ok());
        }
        assert_eq!(bucket.try_take(Millis(0)), Err(Millis(60_000)));
    }

    #[test]
    fn a_window_quota_comes_back_whole_when_the_window_its_first_call_opened_closes() {
        // MWS GetReport: 60 per hour, the hour counted from the first call.
        let mut hour = TokenBucket::per_window("mws:GetReport:hour", 60, 3_600_000, Millis(0));
        assert!(hour.try_take(Millis(10_000)).is_ok());
        for minute in 1..60 {
            assert!(hour.try_take(Millis(minute * 60_000)).is_ok());
        }
        // A steady bucket would have refilled by now; the window has not closed.
        assert_eq!(hour.try_take(Millis(3_599_999)), Err(Millis(3_610_000)));
        assert!(hour.try_take(Millis(3_610_000)).is_ok());
        assert_eq!(hour.ready_at(Millis(3_610_000)), Millis(3_610_000));
    }

    #[test]
    fn the_providers_count_moves_a_windows_end() {
        let mut hour = TokenBucket::per_window("h", 60, 3_600_000, Millis(0));
        hour.observe(Millis(5_000), 2, Millis(900_000));
        assert!(hour.try_take(Millis(5_000)).is_ok());
        assert!(hour.try_take(Millis(5_000)).is_ok());
        assert_eq!(hour.try_take(Millis(5_000)), Err(Millis(900_000)));
        hour.observe(Millis(900_000), 0, Millis(1_000_000));
        assert_eq!(hour.ready_at(Millis(900_000)), Millis(1_000_000));
        // Lowered with no reset named: the window counts from now.
        let mut fresh = TokenBucket::per_window("h", 60, 3_600_000, Millis(0));
        fresh.at_most(Millis(7), 0);
        assert_eq!(fresh.ready_at(Millis(7)), Millis(3_600_007));
    }

    #[test]
    fn a_saved_window_bucket_round_trips_and_a_steady_one_is_unchanged_on_the_wire() {
        let mut hour = TokenBucket::per_window("h", 3, 1_000, Millis(0));
        assert!(hour.try_take(Millis(5)).is_ok());
        let text = serde_json::to_string(&hour).unwrap();
        assert!(
            text.contains("\"refill\":\"window\"") && text.contains("\"windowClosesAt\":1005"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<TokenBucket>(&text).unwrap(), hour);
        let without_end = text.replacen(",\"windowClosesAt\":1005", "", 1);
        assert_ne!(without_end, text);
        assert!(serde_json::from_str::<TokenBucket>(&without_end).is_err());
        let steady = serde_json::to_string(&TokenBucket::new("s", 1, 1, Millis(0))).unwrap();
        assert!(
            !steady.contains("refill\"") && !steady.contains("window"),
            "{steady}"
        );
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

    proptest! {
        /// A window bucket never lets more than its quota through in one
        /// window, however takes and give-backs of unsent calls interleave
        /// (the provider's corrections are its own to make: unit tests).
        #[test]
        fn a_window_never_passes_more_than_its_quota(quota in 1u32..10, window in 1u64..10_000, steps in proptest::collection::vec((0u64..3_000, 1u8..10), 1..200)) {
            let mut bucket = TokenBucket::per_window("w", quota, window, Millis(0));
            let mut now = Millis(0);
            let mut taken: Vec<u64> = Vec::new();
            let mut just_took = false;
            for (step, op) in steps {
                now = now.saturating_add(step);
                match op {
                    // The call just taken for was deferred, never sent.
                    1 if just_took => {
                        bucket.give_back(now);
                        taken.pop();
                    }
                    _ => {
                        let ready = bucket.ready_at(now);
                        match bucket.try_take(now) {
                            Ok(()) => { prop_assert_eq!(ready, now); taken.push(now.as_u64()); }
                            Err(at) => prop_assert!(at > now),
                        }
                    }
                }
                just_took = op >= 2 && taken.last() == Some(&now.as_u64());
            }
            // Counted as the provider counts: a window opens with the first
            // call after the last one closed.
            let mut window_opened = None;
            let mut in_window = 0;
            for at in taken {
                if window_opened.map_or(true, |opened| at >= opened + window) {
                    window_opened = Some(at);
                    in_window = 0;
                }
                in_window += 1;
                prop_assert!(in_window <= quota, "{} calls in the window opened at {:?}", in_window, window_opened);
            }
        }
    }

    #[test]
    fn a_saved_bucket_with_impossible_values_is_refused_not_divided_by() {
        let bucket = TokenBucket::new("b", 2, 1_000, Millis(0));
        let text = serde_json::to_string(&bucket).unwrap();
        assert_eq!(serde_json::from_str::<TokenBucket>(&text).unwrap(), bucket);
        for (from, to) in [
            ("\"refillEveryMs\":1000", "\"refillEveryMs\":0"),
            ("\"capacity\":2", "\"capacity\":0"),
            ("\"milliTokens\":2000", "\"milliTokens\":2001"),
        ] {
            let edited = text.replacen(from, to, 1);
            assert_ne!(edited, text);
            let error = serde_json::from_str::<TokenBucket>(&edited).unwrap_err();
            assert!(error.to_string().contains("rate bucket b"), "{error}");
        }
    }
}
