//! Rate budgets shared by every job of an account: one
//! [`TokenBucket`] per (provider, account, bucket), sized by the jobs' own
//! buckets ([`ReportJob::budgets_in_flight`]), so the quota tables live
//! once, in the provider machines.
//!
//! A bucket is named by the provider's quota (e.g. `amazon-ads:api`), which
//! may cover several operations (Amazon Ads' create, status and link calls
//! draw from one budget); keying by the quota, not by each request's
//! `endpoint`, keeps the account's total within it.
//!
//! **The buckets live in the store**, and every token is taken in a store
//! transaction holding the bucket's row (`Store::with_buckets`), at the
//! time read once the row is held: workers in other processes and on
//! other machines draw from the same bucket, so a quota holds across the
//! whole fleet. Before that, a look without a lock ([`Budgets::ready`])
//! tells a job whose token is not there yet to wait, so waiting costs no
//! write.
//!
//! What an answer teaches (a throttle, a freed slot) is decided from the
//! job's own buckets first; only a lesson to share (or a request that took
//! a bucket's last token, counted out) costs a second transaction.
//!
//! Jobs that find a bucket empty queue for it: each gets the next turn
//! (one refill after the one before), so twenty jobs waiting for a
//! one-a-minute quota sleep — parked in the store — until their own
//! minute, instead of all waking at the next token and all but one going
//! back to sleep.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use reportflow::rate::{Refill, TokenBucket};
use reportflow::{Millis, Provider, ReportJob};

use super::store::{SharedBucket, Store, StoreError};
use crate::Clock;

/// What a job's request took from the shared budgets, to settle when its
/// answer is in.
#[derive(Debug, Clone)]
pub(crate) struct Taken {
    /// The job's own buckets right after the job took its token.
    own: Vec<TokenBucket>,
    /// Per bucket of `own`: the request took the shared bucket's last
    /// token, and is counted in its `in_flight` until its answer.
    counted: Vec<bool>,
    /// When the request went out.
    at: Millis,
}

/// What one answer taught about a shared bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lesson {
    /// Nothing to teach (the answer is only counted out).
    Nothing,
    /// Nothing is left until then (a throttle, a quota header).
    HoldUntil(Millis),
    /// The answer gave the token back (a slot that frees with the answer).
    GiveBack,
}

/// What answers taught, to share with every job of the account.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lessons {
    provider: Option<Provider>,
    buckets: Vec<TokenBucket>,
    /// Per bucket: the lesson, and whether the request is counted out.
    lessons: Vec<(Lesson, bool)>,
}

/// How soon (wall time) a job deferred by a bucket with requests in flight
/// (in any worker) looks again: their answers usually take milliseconds,
/// and may give the token back.
const RECHECK_REAL_MS: u64 = 20;

/// A worker's view of the shared budgets: how it reads, takes from and
/// teaches the store's buckets, and its jobs' turns.
#[derive(Debug)]
pub(crate) struct Budgets {
    clock: Clock,
    /// Added to every shared bucket's refill, on the clock (see
    /// `FleetConfig::send_margin_ms`).
    margin_ms: u64,
    /// Per (provider, account, bucket): the next free turn.
    turns: Mutex<HashMap<(Provider, String, String), Millis>>,
}

/// Why a request cannot go now.
struct Blocked<'a> {
    /// When every bucket will have a token.
    ready: Millis,
    /// The bucket that is ready last.
    last: &'a TokenBucket,
    /// Whether an empty bucket has requests out whose answers may free it.
    answers_pending: bool,
}

/// Whether every one of `shared` has a token at `now`.
fn blocked(shared: &mut [SharedBucket], now: Millis) -> Option<Blocked<'_>> {
    let mut ready = now;
    let mut last = None;
    let mut answers_pending = false;
    for SharedBucket { bucket, in_flight } in shared.iter_mut() {
        let bucket_ready = bucket.ready_at(now);
        if bucket_ready > now {
            answers_pending |= *in_flight > 0;
            if bucket_ready >= ready {
                ready = bucket_ready;
                last = Some(&*bucket);
            }
        }
    }
    last.map(|last| Blocked {
        ready,
        last,
        answers_pending,
    })
}

impl Budgets {
    /// The budgets of a worker on `clock`, its shared buckets refilling
    /// `margin_real_ms` of wall time slower per token than the quotas.
    pub(crate) fn new(clock: Clock, margin_real_ms: u64) -> Self {
        Self {
            clock,
            margin_ms: clock.from_real_ms(margin_real_ms),
            turns: Mutex::new(HashMap::new()),
        }
    }

    /// When the job deferred by `blocked` looks again: its turn in the
    /// bucket's queue. Turns are one refill apart, or — when answers in
    /// flight may free the bucket sooner — one recheck apart (a moment of
    /// wall time: such answers take milliseconds).
    fn defer(
        &self,
        provider: Provider,
        account: &str,
        blocked: &Blocked<'_>,
        now: Millis,
    ) -> Millis {
        let (earliest, spacing) = if blocked.answers_pending {
            let recheck = self.clock.from_real_ms(RECHECK_REAL_MS);
            (blocked.ready.min(now.saturating_add(recheck)), recheck)
        } else {
            match blocked.last.refill_kind() {
                Refill::Steady => (blocked.ready, blocked.last.refill_every_ms()),
                // A window bucket gives every token back at once when its
                // window closes: all its waiters go then.
                Refill::Window => (blocked.ready, 0),
            }
        };
        // A token less than one turn away is this job's: it is the one
        // whose turn came (turns are counted from the turns before, not
        // from the takes, which come a little later) or one that came just
        // in time. Either way no turn is spent waiting for it.
        if earliest.saturating_since(now) < spacing {
            return earliest;
        }
        let key = (provider, account.to_owned(), blocked.last.name().to_owned());
        let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        let next = turns.entry(key).or_insert(Millis(0));
        let turn = earliest.max(*next);
        *next = turn.saturating_add(spacing);
        turn
    }

    /// Whether the shared buckets the job's request in flight draws from
    /// all seem to have a token now (a read, no lock, no write): `Err`
    /// with when the job should look again.
    pub(crate) async fn ready(
        &self,
        store: &Store,
        account: &str,
        job: &ReportJob,
    ) -> Result<Result<(), Millis>, StoreError> {
        let own = job.budgets_in_flight();
        if own.is_empty() {
            return Ok(Ok(()));
        }
        let now = self.clock.now();
        let mut shared = store
            .peek_buckets(job.provider(), account, &own, self.margin_ms, now)
            .await?;
        Ok(match blocked(&mut shared, now) {
            Some(blocked) => Err(self.defer(job.provider(), account, &blocked, now)),
            None => Ok(()),
        })
    }

    /// Takes a token from every shared bucket the job's request in flight
    /// draws from, or none: `Err` with when the job should look again.
    pub(crate) async fn try_take(
        &self,
        store: &Store,
        account: &str,
        job: &ReportJob,
    ) -> Result<Result<Taken, Millis>, StoreError> {
        let provider = job.provider();
        let own = job.budgets_in_flight();
        if own.is_empty() {
            return Ok(Ok(Taken {
                own,
                counted: Vec::new(),
                at: self.clock.now(),
            }));
        }
        let took = store
            .with_buckets(
                provider,
                account,
                &own,
                self.clock,
                self.margin_ms,
                |shared, now| {
                    if let Some(blocked) = blocked(shared, now) {
                        return (Err(self.defer(provider, account, &blocked, now)), false);
                    }
                    let mut counted = Vec::with_capacity(shared.len());
                    for SharedBucket { bucket, in_flight } in shared.iter_mut() {
                        // Cannot fail: every bucket was ready at `now` above.
                        let _ = bucket.try_take(now);
                        let last = bucket.ready_at(now) > now;
                        *in_flight += i64::from(last);
                        counted.push(last);
                    }
                    (Ok((counted, now)), true)
                },
            )
            .await?;
        Ok(took.map(|(counted, at)| Taken { own, counted, at }))
    }

    /// Applies `lessons` to the account's shared buckets in one store
    /// transaction (nothing to do, the common case, costs nothing).
    pub(crate) async fn share(
        &self,
        store: &Store,
        account: &str,
        lessons: Lessons,
    ) -> Result<(), StoreError> {
        let Some(provider) = lessons.provider else {
            return Ok(());
        };
        let taught = lessons.lessons;
        store
            .with_buckets(
                provider,
                account,
                &lessons.buckets,
                self.clock,
                self.margin_ms,
                move |shared, now| {
                    for (SharedBucket { bucket, in_flight }, (lesson, counted)) in
                        shared.iter_mut().zip(taught)
                    {
                        if counted {
                            *in_flight = in_flight.saturating_sub(1).max(0);
                        }
                        match lesson {
                            Lesson::HoldUntil(until) if until > bucket.ready_at(now) => {
                                bucket.exhaust_until(now, until);
                            }
                            Lesson::GiveBack => bucket.give_back(now),
                            Lesson::HoldUntil(_) | Lesson::Nothing => {}
                        }
                    }
                    ((), true)
                },
            )
            .await
    }
}

/// What the answer to a request taught the job, to share: the provider
/// throttled it or said in a quota header that nothing is left (the job's
/// own bucket is empty for longer than the shared one: every job of the
/// account waits as long), or the answer gave the job's token back (a
/// capacity-1 bucket whose slot frees with the answer: the shared one
/// frees too); and the request is no longer out.
pub(crate) fn lessons(job: &ReportJob, taken: &Taken, now: Millis) -> Lessons {
    let provider = job.provider();
    let mut lessons = Lessons::default();
    for (index, before) in taken.own.iter().enumerate() {
        let counted = taken.counted.get(index).copied().unwrap_or(false);
        let lesson = match job.rate_budget(before.name()) {
            Some(after) => {
                let own_ready = after.clone().ready_at(now);
                let ready_when_taken = before.clone().ready_at(taken.at);
                if own_ready > now {
                    Lesson::HoldUntil(own_ready)
                } else if ready_when_taken > now {
                    Lesson::GiveBack
                } else {
                    Lesson::Nothing
                }
            }
            None => Lesson::Nothing,
        };
        if lesson == Lesson::Nothing && !counted {
            continue;
        }
        lessons.provider = Some(provider);
        lessons.buckets.push(before.clone());
        lessons.lessons.push((lesson, counted));
    }
    lessons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use reportflow::sim::{sample_job, Sandbox, SandboxConfig};
    use reportflow::{Action, Input, Provider};

    /// 2026-12-02T10:00:00Z: the sample specs want dates after 1970.
    const T0: u64 = 1_796_205_600_000;

    fn job(provider: Provider, sandbox: &Sandbox, now: u64) -> ReportJob {
        let (spec, credentials) = sample_job(provider, Millis(T0));
        ReportJob::new(spec, sandbox.job_config(provider), credentials, Millis(now)).unwrap()
    }

    fn send(job: &mut ReportJob, now: u64) -> reportflow::HttpRequest {
        for _ in 0..50 {
            match job.poll(Millis(now)) {
                Action::Send(request) => return request,
                Action::Event(_) => {}
                other => panic!("expected a request, got {other:?}"),
            }
        }
        panic!("no request")
    }

    /// A worker's budgets at the instant `ms`, with no send margin.
    fn at(ms: u64) -> Budgets {
        Budgets::new(Clock::frozen(Millis(ms)), 0)
    }

    async fn memory() -> Store {
        Store::open("sqlite::memory:").await.unwrap()
    }

    #[tokio::test]
    async fn jobs_of_one_account_share_its_budget_and_other_accounts_do_not() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let store = memory().await;
        // Amazon Ads: 5 at once, one more per second, per account.
        let mut taken = 0;
        let mut deferred_until = None;
        for _ in 0..6 {
            let mut job = job(Provider::AmazonAds, &sandbox, 1_000);
            let request = budgeted(&mut sandbox, &mut job, 1_000);
            match at(1_000).try_take(&store, "seller-1", &job).await.unwrap() {
                Ok(_) => taken += 1,
                Err(until) => {
                    deferred_until = Some(until);
                    job.handle(
                        Millis(1_000),
                        Input::Deferred {
                            id: request.id,
                            until,
                        },
                    )
                    .unwrap();
                }
            }
        }
        assert_eq!(taken, 5);
        // The bucket refills at 2_000; with answers outstanding (they may
        // give tokens back) the deferred job looks again sooner.
        assert_eq!(deferred_until, Some(Millis(1_000 + RECHECK_REAL_MS)));
        let mut other = job(Provider::AmazonAds, &sandbox, 1_000);
        let _ = budgeted(&mut sandbox, &mut other, 1_000);
        assert!(at(1_000)
            .try_take(&store, "seller-2", &other)
            .await
            .unwrap()
            .is_ok());
        let saved = store.buckets().await.unwrap();
        assert_eq!(saved.len(), 2, "one bucket per account, in the store");
    }

    #[tokio::test]
    async fn workers_of_one_store_draw_from_one_bucket() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("fleet.db").display());
        // Two processes' worth: two stores (two pools) on one file.
        let (one, two) = (
            Store::open(&url).await.unwrap(),
            Store::open(&url).await.unwrap(),
        );
        for n in 0..6 {
            let mut job = job(Provider::AmazonAds, &sandbox, 1_000);
            let _ = budgeted(&mut sandbox, &mut job, 1_000);
            let store = if n % 2 == 0 { &one } else { &two };
            let took = at(1_000).try_take(store, "seller-1", &job).await.unwrap();
            // Amazon Ads: 5 at once per account, whichever worker asks.
            assert_eq!(took.is_ok(), n < 5, "request {n}");
        }
    }

    #[tokio::test]
    async fn a_throttle_seen_by_one_job_holds_every_job_of_the_account() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let store = memory().await;
        let mut first = job(Provider::AmazonAds, &sandbox, 1_000);
        let request = budgeted(&mut sandbox, &mut first, 1_000);
        let taken = at(1_000)
            .try_take(&store, "seller-1", &first)
            .await
            .unwrap()
            .unwrap();
        first
            .handle(
                Millis(1_100),
                Input::Head {
                    id: request.id,
                    status: 429,
                    headers: &[("Retry-After".into(), "30".into())],
                },
            )
            .unwrap();
        first
            .handle(Millis(1_100), Input::End { id: request.id })
            .unwrap();
        while let Action::Event(_) = first.poll(Millis(1_100)) {}
        at(1_100)
            .share(&store, "seller-1", lessons(&first, &taken, Millis(1_100)))
            .await
            .unwrap();
        let mut second = job(Provider::AmazonAds, &sandbox, 1_100);
        let _ = budgeted(&mut sandbox, &mut second, 1_100);
        let until = at(1_100)
            .try_take(&store, "seller-1", &second)
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            until >= Millis(31_100),
            "held until the throttle ends: {until:?}"
        );
    }

    #[tokio::test]
    async fn a_slot_the_answer_frees_is_free_for_every_job_of_the_account() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let store = memory().await;
        // Lingxing: one request in flight per endpoint; the answer frees it.
        let now = 1_000;
        let mut first = job(Provider::Lingxing, &sandbox, now);
        let request = budgeted(&mut sandbox, &mut first, now);
        let taken = at(now)
            .try_take(&store, "shop", &first)
            .await
            .unwrap()
            .unwrap();
        let mut second = job(Provider::Lingxing, &sandbox, now);
        let _ = budgeted(&mut sandbox, &mut second, now);
        assert_eq!(
            at(now)
                .try_take(&store, "shop", &second)
                .await
                .unwrap()
                .unwrap_err(),
            Millis(now + RECHECK_REAL_MS),
            "the slot is taken, and its answer will free it: look again soon"
        );
        answer(&mut sandbox, &mut first, &request, now + 5);
        // The job judges the answer when polled; then the fleet settles.
        let _ = first.poll(Millis(now + 5));
        at(now + 5)
            .share(&store, "shop", lessons(&first, &taken, Millis(now + 5)))
            .await
            .unwrap();
        assert!(at(now + 5)
            .try_take(&store, "shop", &second)
            .await
            .unwrap()
            .is_ok());
    }

    /// The job's first request that draws on a rate budget (earlier
    /// ones, token calls, are answered by the sandbox).
    fn budgeted(sandbox: &mut Sandbox, job: &mut ReportJob, now: u64) -> reportflow::HttpRequest {
        loop {
            let request = send(job, now);
            if !job.budgets_in_flight().is_empty() {
                return request;
            }
            answer(sandbox, job, &request, now);
        }
    }

    fn answer(
        sandbox: &mut Sandbox,
        job: &mut ReportJob,
        request: &reportflow::HttpRequest,
        now: u64,
    ) {
        let response = sandbox.handle(
            Millis(now),
            &reportflow::sim::SimRequest::from_http(request),
        );
        job.handle(
            Millis(now),
            Input::Head {
                id: request.id,
                status: response.status,
                headers: &response.headers,
            },
        )
        .unwrap();
        job.handle(
            Millis(now),
            Input::Chunk {
                id: request.id,
                bytes: &response.body,
            },
        )
        .unwrap();
        job.handle(Millis(now), Input::End { id: request.id })
            .unwrap();
    }
}
