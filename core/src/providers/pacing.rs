//! When a machine may act next, and the retry budget of the step it is on.
//!
//! Every machine persists this (a restored job keeps its backoff and its
//! budget), so a retry storm cannot be restarted by snapshot and restore.

use serde::{Deserialize, Serialize};

use super::vocabulary::{Cx, Step};
use crate::action::{Event, WaitReason};
use crate::error::Error;
use crate::time::Millis;

/// Counts attempts of one step and schedules its retries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Attempts {
    failures: u32,
}

crate::json_fields::deserialize_struct! {
    Attempts, fields = Verbatim, unknown = Ignore;
    failures
}

impl Attempts {
    /// Records a retryable failure. Returns when to try again (per the job's
    /// `RetryPolicy`), or the terminal error once its attempts are spent.
    /// `at_least` is a provider hint (e.g. `Retry-After`) the delay never
    /// undercuts.
    pub(crate) fn retry(
        &mut self,
        cx: &mut Cx<'_>,
        cause: Error,
        at_least: Option<Millis>,
    ) -> Result<Millis, Error> {
        let policy = cx.config.retry;
        self.failures = self.failures.saturating_add(1);
        if self.failures >= policy.max_attempts.max(1) {
            return Err(Error::RetriesExhausted {
                attempts: self.failures,
                last: Box::new(cause),
            });
        }
        let backoff = cx
            .now
            .saturating_add(policy.delay(cx.config.seed, self.failures - 1));
        let until = at_least.map_or(backoff, |hint| hint.max(backoff));
        cx.emit(Event::Retrying {
            attempt: self.failures.saturating_add(1),
            after_ms: until.saturating_since(cx.now),
            cause: cause.kind(),
        });
        Ok(until)
    }

    /// The step succeeded: the next failure starts a fresh budget.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The earliest instant a machine may send again, why it waits until then,
/// and the attempt budget of its current step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pacing {
    not_before: Millis,
    waiting: WaitReason,
    attempts: Attempts,
}

crate::json_fields::deserialize_struct! {
    Pacing, fields = Camel, unknown = Ignore;
    not_before, waiting, attempts
}

impl Pacing {
    /// Free to act at `now`, with a fresh budget.
    pub(crate) fn new(now: Millis) -> Self {
        Self {
            not_before: now,
            waiting: WaitReason::PollBackoff,
            attempts: Attempts::default(),
        }
    }

    /// `Step::Wait` while the machine must not act yet.
    pub(crate) fn gate(&self, now: Millis) -> Option<Step> {
        (now < self.not_before).then(|| Step::Wait {
            until: self.not_before,
            reason: self.waiting.clone(),
        })
    }

    /// Holds the machine until `until`, for `reason`.
    pub(crate) fn schedule(&mut self, until: Millis, reason: WaitReason) {
        self.not_before = until;
        self.waiting = reason;
    }

    /// The current step succeeded: the next failure starts a fresh budget.
    pub(crate) fn succeeded(&mut self) {
        self.attempts.reset();
    }

    /// The attempt budget of the current step.
    pub(crate) fn attempts_mut(&mut self) -> &mut Attempts {
        &mut self.attempts
    }
}

/// How many fresh download links a job asked for.
///
/// Download links are short-lived and may point at a damaged body; each
/// provider replaces a link a bounded number of times (the job's
/// `max_link_refreshes`) before giving up, whatever way it gets a new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct LinkRefreshes(u32);

impl LinkRefreshes {
    /// Counts a refresh wanted because of `cause`, `max` in all. `true` (and the retry
    /// announced) while the budget lasts; `false` once it is spent, when
    /// the caller ends the job with [`exhausted`](Self::exhausted) or falls
    /// back to something costlier.
    pub(crate) fn allow(&mut self, cx: &mut Cx<'_>, cause: &Error, max: u32) -> bool {
        self.0 = self.0.saturating_add(1);
        if self.0 > max {
            return false;
        }
        cx.emit(Event::Retrying {
            attempt: self.0.saturating_add(1),
            after_ms: 0,
            cause: cause.kind(),
        });
        true
    }

    /// The error that ends a job whose refreshes are spent: a body that
    /// failed its checks behind every fresh link will not get better, so
    /// that check's own error; anything else as retries exhausted.
    pub(crate) fn exhausted(self, cause: Error) -> Error {
        if is_damaged_body(&cause) {
            return cause;
        }
        Error::RetriesExhausted {
            attempts: self.0,
            last: Box::new(cause),
        }
    }
}

/// Whether `cause` says the bytes behind a link were damaged (as opposed to
/// the link being unusable).
pub(crate) fn is_damaged_body(cause: &Error) -> bool {
    matches!(cause, Error::Integrity(_) | Error::Zip(_))
}
