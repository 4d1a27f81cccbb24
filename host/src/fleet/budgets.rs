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
//! transaction holding the bucket's row (`Store::with_buckets`): workers
//! in other processes and on other machines draw from the same bucket, so
//! a quota holds across the whole fleet. What an answer teaches (a
//! throttle, a freed slot) is decided from the job's own buckets first;
//! only a lesson to share (or a request that took a bucket's last token,
//! counted out) costs a second transaction.

use reportflow::rate::TokenBucket;
use reportflow::{Millis, Provider, ReportJob};

use super::store::{SharedBucket, Store, StoreError};

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

/// How soon a job deferred by a bucket with requests in flight (in any
/// worker) looks again: their answers usually take milliseconds, and may
/// give the token back.
const RECHECK_MS: u64 = 200;

/// Takes a token from every shared bucket the job's request in flight
/// draws from, or none: `Err` with the instant all of them will have one
/// (the job is deferred until then; sooner when an empty bucket has
/// requests out whose answers may free it).
pub(crate) async fn try_take(
    store: &Store,
    account: &str,
    job: &ReportJob,
    now: Millis,
) -> Result<Result<Taken, Millis>, StoreError> {
    let provider = job.provider();
    let own = job.budgets_in_flight();
    if own.is_empty() {
        return Ok(Ok(Taken {
            own,
            counted: Vec::new(),
            at: now,
        }));
    }
    let took = store
        .with_buckets(provider, account, &own, now, |shared| {
            let mut ready = now;
            let mut answers_pending = false;
            for SharedBucket { bucket, in_flight } in shared.iter_mut() {
                let bucket_ready = bucket.ready_at(now);
                if bucket_ready > now {
                    ready = ready.max(bucket_ready);
                    answers_pending |= *in_flight > 0;
                }
            }
            if ready > now {
                let recheck = if answers_pending {
                    ready.min(now.saturating_add(RECHECK_MS))
                } else {
                    ready
                };
                return (Err(recheck), false);
            }
            let mut counted = Vec::with_capacity(shared.len());
            for SharedBucket { bucket, in_flight } in shared.iter_mut() {
                // Cannot fail: every bucket was ready at `now` above.
                let _ = bucket.try_take(now);
                let last = bucket.ready_at(now) > now;
                *in_flight += i64::from(last);
                counted.push(last);
            }
            (Ok(counted), true)
        })
        .await?;
    Ok(took.map(|counted| Taken {
        own,
        counted,
        at: now,
    }))
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

impl Lessons {
    /// Applies the lessons to the account's shared buckets in one store
    /// transaction (nothing to do, the common case, costs nothing).
    pub(crate) async fn share(
        self,
        store: &Store,
        account: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let Some(provider) = self.provider else {
            return Ok(());
        };
        let lessons = self.lessons;
        store
            .with_buckets(provider, account, &self.buckets, now, move |shared| {
                for (SharedBucket { bucket, in_flight }, (lesson, counted)) in
                    shared.iter_mut().zip(lessons)
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
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            match try_take(&store, "seller-1", &job, Millis(1_000))
                .await
                .unwrap()
            {
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
        assert_eq!(deferred_until, Some(Millis(1_000 + RECHECK_MS)));
        let mut other = job(Provider::AmazonAds, &sandbox, 1_000);
        let _ = budgeted(&mut sandbox, &mut other, 1_000);
        assert!(try_take(&store, "seller-2", &other, Millis(1_000))
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
            let took = try_take(store, "seller-1", &job, Millis(1_000))
                .await
                .unwrap();
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
        let taken = try_take(&store, "seller-1", &first, Millis(1_000))
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
        lessons(&first, &taken, Millis(1_100))
            .share(&store, "seller-1", Millis(1_100))
            .await
            .unwrap();
        let mut second = job(Provider::AmazonAds, &sandbox, 1_100);
        let _ = budgeted(&mut sandbox, &mut second, 1_100);
        let until = try_take(&store, "seller-1", &second, Millis(1_100))
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
        let taken = try_take(&store, "shop", &first, Millis(now))
            .await
            .unwrap()
            .unwrap();
        let mut second = job(Provider::Lingxing, &sandbox, now);
        let _ = budgeted(&mut sandbox, &mut second, now);
        assert_eq!(
            try_take(&store, "shop", &second, Millis(now))
                .await
                .unwrap()
                .unwrap_err(),
            Millis(now + RECHECK_MS),
            "the slot is taken, and its answer will free it: look again soon"
        );
        answer(&mut sandbox, &mut first, &request, now + 5);
        // The job judges the answer when polled; then the fleet settles.
        let _ = first.poll(Millis(now + 5));
        lessons(&first, &taken, Millis(now + 5))
            .share(&store, "shop", Millis(now + 5))
            .await
            .unwrap();
        assert!(try_take(&store, "shop", &second, Millis(now + 5))
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
