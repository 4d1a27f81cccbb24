//! Rate budgets shared by every job of an account: one
//! [`TokenBucket`] per (provider, account, bucket), sized by the jobs' own
//! buckets ([`ReportJob::budgets_in_flight`]), so the quota tables live
//! once, in the provider machines.
//!
//! A bucket is named by the provider's quota (e.g. `amazon-ads:api`), which
//! may cover several operations (Amazon Ads' create, status and link calls
//! draw from one budget); keying by the quota, not by each request's
//! `endpoint`, keeps the account's total within it.

use std::collections::HashMap;

use reportflow::rate::TokenBucket;
use reportflow::{Millis, Provider, ReportJob};

/// What a job's request took from the shared budgets, to settle when its
/// answer is in.
#[derive(Debug, Clone)]
pub(crate) struct Taken {
    /// The job's own buckets right after the job took its token.
    own: Vec<TokenBucket>,
    /// When the request went out.
    at: Millis,
}

/// The shared buckets of every account the fleet runs.
#[derive(Debug, Default)]
pub struct SharedBudgets {
    buckets: HashMap<Key, TokenBucket>,
    /// Requests out whose answer may give their token back (a bucket that
    /// counts requests in flight, as Lingxing's): a job deferred by such a
    /// bucket looks again soon instead of waiting out the whole refill.
    in_flight: HashMap<Key, u32>,
    dirty: bool,
}

type Key = (Provider, String, String);

/// How soon a job deferred by a bucket with requests in flight looks
/// again: their answers usually take milliseconds.
const RECHECK_MS: u64 = 200;

fn key(provider: Provider, account: &str, bucket: &TokenBucket) -> Key {
    (provider, account.to_owned(), bucket.name().to_owned())
}

impl SharedBudgets {
    /// Budgets as a store saved them.
    pub fn from_saved(saved: Vec<(Provider, String, TokenBucket)>) -> Self {
        let buckets = saved
            .into_iter()
            .map(|(provider, account, bucket)| {
                ((provider, account, bucket.name().to_owned()), bucket)
            })
            .collect();
        Self {
            buckets,
            in_flight: HashMap::new(),
            dirty: false,
        }
    }

    /// The buckets changed since the last call, for the store (all of them:
    /// few per account).
    pub fn take_dirty(&mut self) -> Option<Vec<(Provider, String, TokenBucket)>> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        Some(
            self.buckets
                .iter()
                .map(|((provider, account, _), bucket)| {
                    (*provider, account.clone(), bucket.clone())
                })
                .collect(),
        )
    }

    fn shared(
        &mut self,
        account: &str,
        provider: Provider,
        own: &TokenBucket,
        now: Millis,
    ) -> &mut TokenBucket {
        self.buckets
            .entry(key(provider, account, own))
            .or_insert_with(|| {
                TokenBucket::new(own.name(), own.capacity(), own.refill_every_ms(), now)
            })
    }

    /// Takes a token from every shared bucket the job's request in flight
    /// draws from, or none: `Err` with the instant all of them will have
    /// one (the job is deferred until then).
    pub(crate) fn try_take(
        &mut self,
        account: &str,
        job: &ReportJob,
        now: Millis,
    ) -> Result<Taken, Millis> {
        let provider = job.provider();
        let own = job.budgets_in_flight();
        let mut ready = now;
        let mut answers_pending = false;
        for bucket in &own {
            let bucket_ready = self.shared(account, provider, bucket, now).ready_at(now);
            if bucket_ready > now {
                ready = ready.max(bucket_ready);
                answers_pending |= self
                    .in_flight
                    .get(&key(provider, account, bucket))
                    .is_some_and(|count| *count > 0);
            }
        }
        if ready > now {
            return Err(if answers_pending {
                ready.min(now.saturating_add(RECHECK_MS))
            } else {
                ready
            });
        }
        for bucket in &own {
            // Cannot fail: every bucket was ready at `now` above.
            let _ = self.shared(account, provider, bucket, now).try_take(now);
            *self
                .in_flight
                .entry(key(provider, account, bucket))
                .or_default() += 1;
        }
        self.dirty |= !own.is_empty();
        Ok(Taken { own, at: now })
    }

    /// Shares what the answer to a request taught the job: the provider
    /// throttled it or said in a quota header that nothing is left (the
    /// job's own bucket is empty for longer than the shared one: every job
    /// of the account waits as long), or the answer gave the job's token
    /// back (a capacity-1 bucket whose slot frees with the answer: the
    /// shared one frees too).
    pub(crate) fn settle(&mut self, account: &str, job: &ReportJob, taken: &Taken, now: Millis) {
        let provider = job.provider();
        for before in &taken.own {
            if let Some(count) = self.in_flight.get_mut(&key(provider, account, before)) {
                *count = count.saturating_sub(1);
            }
            let Some(after) = job.rate_budget(before.name()) else {
                continue;
            };
            let own_ready = after.clone().ready_at(now);
            let ready_when_taken = before.clone().ready_at(taken.at);
            let shared = self.shared(account, provider, before, now);
            if own_ready > shared.ready_at(now) {
                shared.exhaust_until(now, own_ready);
                self.dirty = true;
            } else if ready_when_taken > now && own_ready <= now {
                shared.give_back(now);
                self.dirty = true;
            }
        }
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

    #[test]
    fn jobs_of_one_account_share_its_budget_and_other_accounts_do_not() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let mut budgets = SharedBudgets::default();
        // Amazon Ads: 5 at once, one more per second, per account.
        let mut taken = 0;
        let mut deferred_until = None;
        for _ in 0..6 {
            let mut job = job(Provider::AmazonAds, &sandbox, 1_000);
            let request = budgeted(&mut sandbox, &mut job, 1_000);
            match budgets.try_take("seller-1", &job, Millis(1_000)) {
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
        assert!(budgets.try_take("seller-2", &other, Millis(1_000)).is_ok());
        assert!(budgets.take_dirty().is_some_and(|saved| saved.len() == 2));
        assert!(budgets.take_dirty().is_none(), "nothing changed since");
    }

    #[test]
    fn a_throttle_seen_by_one_job_holds_every_job_of_the_account() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let mut budgets = SharedBudgets::default();
        let mut first = job(Provider::AmazonAds, &sandbox, 1_000);
        let request = budgeted(&mut sandbox, &mut first, 1_000);
        let taken = budgets.try_take("seller-1", &first, Millis(1_000)).unwrap();
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
        budgets.settle("seller-1", &first, &taken, Millis(1_100));
        let mut second = job(Provider::AmazonAds, &sandbox, 1_100);
        let _ = budgeted(&mut sandbox, &mut second, 1_100);
        let until = budgets
            .try_take("seller-1", &second, Millis(1_100))
            .unwrap_err();
        assert!(
            until >= Millis(31_100),
            "held until the throttle ends: {until:?}"
        );
    }

    #[test]
    fn a_slot_the_answer_frees_is_free_for_every_job_of_the_account() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let mut budgets = SharedBudgets::default();
        // Lingxing: one request in flight per endpoint; the answer frees it.
        let now = 1_000;
        let mut first = job(Provider::Lingxing, &sandbox, now);
        let request = budgeted(&mut sandbox, &mut first, now);
        let taken = budgets.try_take("shop", &first, Millis(now)).unwrap();
        let mut second = job(Provider::Lingxing, &sandbox, now);
        let _ = budgeted(&mut sandbox, &mut second, now);
        assert_eq!(
            budgets.try_take("shop", &second, Millis(now)).unwrap_err(),
            Millis(now + RECHECK_MS),
            "the slot is taken, and its answer will free it: look again soon"
        );
        answer(&mut sandbox, &mut first, &request, now + 5);
        // The job judges the answer when polled; then the fleet settles.
        let _ = first.poll(Millis(now + 5));
        budgets.settle("shop", &first, &taken, Millis(now + 5));
        assert!(budgets.try_take("shop", &second, Millis(now + 5)).is_ok());
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
