//! [`Machine`]: a provider's protocol driven through the shared lifecycle —
//! the prologue of every `next`, the one applicator of [`Verdict`]s, and the
//! summary of a verified report.

use serde::Serialize;

use super::contract::{Protocol, Verdict, MAX_RETUNED_REFILL_MS};
use super::download::judge_download;
use super::lifecycle::{Finish, InFlight, Lifecycle};
use super::vocabulary::{Cx, Reply, Response, Step};
use crate::action::{DataChunk, Event};
use crate::action::{Outcome, Phase, Summary, WaitReason};
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, RestoreError};
use crate::integrity::{Charset, DecodeSummary, Md5, Md5Check};
use crate::rate::TokenBucket;
use crate::time::Millis;

/// Longest report id a snapshot may hold; providers' ids are UUIDs or
/// numbers.
const MAX_REPORT_ID_BYTES: usize = 1024;

/// A provider machine: its protocol and the shared lifecycle, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub(crate) struct Machine<P: Protocol> {
    protocol: P,
    life: Lifecycle<P::Call>,
}

crate::json_fields::deserialize_struct! {
    Machine<P: Protocol>, fields = Camel, unknown = Ignore;
    protocol, life
}

impl<P: Protocol> Machine<P> {
    /// A machine for `spec`; nothing is sent yet.
    pub(crate) fn new(spec: P::Spec, config: &JobConfig, now: Millis) -> Result<Self, ConfigError> {
        let protocol = P::create(spec, config, now)?;
        let life = Lifecycle::new(now, protocol.rate_budgets(now));
        Ok(Self { protocol, life })
    }

    /// Checks a machine read from a snapshot (untrusted data): the
    /// protocol's own checks, rate budgets of the provider's shape (a zero
    /// refill period is refused when the bucket is read), a report id of
    /// sane length, and a finished summary that fits the machine.
    pub(crate) fn check_restored(&self, now: Millis) -> Result<(), RestoreError> {
        self.protocol.check_restored(&self.life)?;
        let expected = self.protocol.rate_budgets(now);
        let same_shape = expected.len() == self.life.budgets.len()
            && expected.iter().zip(&self.life.budgets).all(|(want, got)| {
                want.name() == got.name()
                    && want.capacity() == got.capacity()
                    && (want.refill_every_ms() == got.refill_every_ms()
                        || (P::RETUNES_RATES && got.refill_every_ms() <= MAX_RETUNED_REFILL_MS))
                    && want.refill_kind() == got.refill_kind()
            });
        if !same_shape {
            return Err(RestoreError::invalid(format!(
                "the rate budgets are not the {} provider's",
                P::PROVIDER
            )));
        }
        if let Some(id) = &self.life.report_id {
            if id.is_empty() || id.len() > MAX_REPORT_ID_BYTES {
                return Err(RestoreError::invalid(format!(
                    "a report id must have 1 to {MAX_REPORT_ID_BYTES} bytes"
                )));
            }
        }
        if let Some(Finish::Done { summary }) = &self.life.finished {
            summary.check_restored(P::PROVIDER, self.life.report_id())?;
        }
        Ok(())
    }

    /// Takes the host's extra credentials (a current token) and forgets the
    /// call in flight (a new or restored job sends afresh).
    pub(crate) fn install(&mut self, credentials: &P::Credentials) {
        self.life.in_flight = None;
        self.protocol.install(credentials);
    }

    /// The machine without secrets, links and the call in flight: exactly
    /// what a snapshot holds.
    pub(crate) fn persistable(&self) -> Self {
        let mut machine = self.clone();
        machine.protocol.forget_secrets();
        machine.life.link = None;
        machine.life.in_flight = None;
        machine
    }

    pub(crate) fn report_id(&self) -> Option<&str> {
        self.life.report_id()
    }

    pub(crate) fn phase(&self) -> Phase {
        if self.life.finished.is_some() {
            return Phase::Finished;
        }
        self.protocol.phase(&self.life)
    }

    /// The shared prologue (finished? paced? rate budget?), then the
    /// protocol's call.
    pub(crate) fn next(&mut self, cx: &mut Cx<'_>, credentials: &P::Credentials) -> Step {
        if let Some(finish) = &self.life.finished {
            return finish.step();
        }
        if let Some(wait) = self.life.pacing.gate(cx.now) {
            return wait;
        }
        if let Some(flight) = self.life.in_flight {
            return self.failed(Error::internal(format!(
                "a new call was asked for while {} is in flight",
                flight.endpoint
            )));
        }
        // A create whose answer was never seen (the job was restored while
        // it was in flight): recover it before anything else is sent.
        if let Some(sent_at) = self.life.create_sent {
            if let Err(error) = self.settle_lost_create(cx, sent_at) {
                return self.failed(error);
            }
        }
        let call = self.protocol.next_call(&mut self.life, cx);
        if let Some(step) = self.take_tokens(call, cx.now) {
            return step;
        }
        match self.protocol.request(&self.life, call, cx, credentials) {
            Ok(outgoing) => {
                if P::creates(call) {
                    // In the snapshot before the host sends it.
                    self.life.create_sent = Some(cx.now);
                }
                self.life.in_flight = Some(InFlight {
                    call,
                    endpoint: outgoing.endpoint,
                    report: outgoing.report_body.is_some(),
                });
                Step::Send(outgoing)
            }
            Err(error) => self.failed(error),
        }
    }

    /// Takes a token for `call` from each of its budgets, or none: while
    /// any is empty, the step to return instead waits for the last of them
    /// to refill.
    fn take_tokens(&mut self, call: P::Call, now: Millis) -> Option<Step> {
        let mut latest: Option<(Millis, &str)> = None;
        for name in P::budgets(call) {
            let Some(bucket) = self.life.budget(name) else {
                return Some(self.failed(Error::internal(format!("no rate budget named {name}"))));
            };
            let ready = bucket.ready_at(now);
            if ready > now && latest.map_or(true, |(at, _)| ready > at) {
                latest = Some((ready, name));
            }
        }
        if let Some((until, name)) = latest {
            return Some(Step::Wait {
                until,
                reason: WaitReason::RateLimit {
                    bucket: name.to_owned(),
                },
            });
        }
        for name in P::budgets(call) {
            // Every bucket said it holds a token now.
            if let Some(Err(ready)) = self.life.budget(name).map(|bucket| bucket.try_take(now)) {
                return Some(self.failed(Error::internal(format!(
                    "rate budget {name} was ready at {now} but not when taken from (ready at {ready})"
                ))));
            }
        }
        None
    }

    /// Clones of the job's own buckets the call in flight drew its token
    /// from (empty when nothing is in flight or no quota counts the call).
    pub(crate) fn budgets_in_flight(&self) -> Vec<TokenBucket> {
        let Some(flight) = self.life.in_flight else {
            return Vec::new();
        };
        let names = P::budgets(flight.call);
        self.life
            .budgets
            .iter()
            .filter(|bucket| names.contains(&bucket.name()))
            .cloned()
            .collect()
    }

    /// The job's own bucket named `name`.
    pub(crate) fn rate_budget(&self, name: &str) -> Option<&TokenBucket> {
        self.life
            .budgets
            .iter()
            .find(|bucket| bucket.name() == name)
    }

    /// The host did not send the call in flight (`Input::Deferred`): forget
    /// it as if it had never been asked for — its token goes back to the
    /// job's own bucket, a create leaves no report that may exist — and ask
    /// again at `until`. No attempt is spent: nothing failed.
    pub(crate) fn defer(&mut self, now: Millis, until: Millis) {
        let Some(flight) = self.life.in_flight.take() else {
            self.life
                .fail(Error::internal("a deferral arrived with no call in flight"));
            return;
        };
        if P::creates(flight.call) {
            self.life.create_sent = None;
        }
        for name in P::budgets(flight.call) {
            if let Some(bucket) = self.life.budget(name) {
                bucket.give_back(now);
            }
        }
        self.life.schedule(until.max(now), WaitReason::Deferred);
    }

    /// Judges the answer to the call in flight and applies the verdict.
    pub(crate) fn on_reply(&mut self, cx: &mut Cx<'_>, reply: Reply) {
        let Some(flight) = self.life.in_flight else {
            self.life
                .fail(Error::internal("an answer arrived with no call in flight"));
            return;
        };
        // An answer settles a create; a failure that may have reached the
        // provider leaves it unsettled (the provider may hold a report).
        let lost_create = P::creates(flight.call)
            && matches!(&reply, Reply::Failed(failure) if failure.may_have_reached());
        if P::creates(flight.call) && !lost_create {
            self.life.create_sent = None;
        }
        let verdict = match (flight.report, reply) {
            (
                true,
                Reply::Report {
                    outcome,
                    decoded,
                    rows,
                    charset,
                },
            ) => {
                self.life.in_flight = None;
                let summary = summary(&self.life, &self.protocol, outcome, decoded, rows, charset);
                self.life.finished = Some(match summary {
                    Ok(summary) => Finish::Done { summary },
                    Err(error) => Finish::Failed { error },
                });
                return;
            }
            (true, Reply::Failed(failure)) => {
                judge_download(failure, flight.endpoint, &cx.config.report_limits)
            }
            (false, Reply::Report { .. }) => Verdict::Fatal(Error::internal(format!(
                "{} streamed as a report",
                flight.endpoint
            ))),
            // The protocol may read `in_flight` while it judges.
            (false, Reply::Failed(failure)) => {
                self.protocol
                    .on_failure(&mut self.life, cx, flight.call, failure, flight.endpoint)
            }
            (
                _,
                Reply::Response {
                    status,
                    headers,
                    body,
                },
            ) => self.protocol.on_reply(
                &mut self.life,
                cx,
                flight.call,
                Response {
                    status,
                    headers,
                    body,
                },
            ),
        };
        self.life.in_flight = None;
        if flight.report && matches!(verdict, Verdict::Retry { .. }) {
            // A download retried after its backoff starts from a fresh link:
            // links are short-lived, and a job restored during the backoff
            // (which never holds a link) must continue exactly the same way.
            self.life.link = None;
        }
        self.apply(cx, flight.call, verdict);
        if let (true, None, Some(sent_at)) =
            (lost_create, &self.life.finished, self.life.create_sent)
        {
            if let Err(error) = self.settle_lost_create(cx, sent_at) {
                self.life.fail(error);
            }
        }
    }

    /// A create sent at `sent_at` got no answer: the provider's recovery
    /// (same idempotency key, or finding the report), else a second create
    /// only where the host's config allows it, else
    /// [`Error::ReportMayExist`].
    fn settle_lost_create(&mut self, cx: &mut Cx<'_>, sent_at: Millis) -> Result<(), Error> {
        if self.protocol.recover_create(&mut self.life, cx) {
            return Ok(());
        }
        if cx.config.allow_duplicate_reports {
            self.life.create_sent = None;
            return Ok(());
        }
        Err(Error::ReportMayExist {
            provider: P::PROVIDER,
            sent_at,
        })
    }

    fn apply(&mut self, cx: &mut Cx<'_>, call: P::Call, verdict: Verdict) {
        let authorizing = P::authorizes(call);
        match verdict {
            Verdict::Proceed => {
                if authorizing {
                    self.life.auth_attempts.reset();
                } else {
                    self.life.pacing.succeeded();
                }
            }
            Verdict::Continue | Verdict::Reauthorize => {}
            Verdict::Retry { cause, at_least } => {
                self.life.retry(cx, authorizing, cause, at_least);
            }
            Verdict::Throttled {
                cause,
                budget,
                until,
            } => {
                if let Some(at) = self.life.retry(cx, authorizing, cause, until) {
                    if let Some(bucket) = self.life.budget(budget) {
                        bucket.exhaust_until(cx.now, at);
                    }
                    self.life.pacing.schedule(
                        at,
                        WaitReason::RateLimit {
                            bucket: budget.to_owned(),
                        },
                    );
                    cx.emit(Event::Throttled {
                        bucket: budget.to_owned(),
                        until: at,
                    });
                }
            }
            Verdict::RefreshLink(cause) => {
                self.life.link = None;
                let max = self.protocol.max_link_refreshes(cx.config);
                if self.life.link_refreshes.allow(cx, &cause, max) {
                    self.protocol.relink(&mut self.life);
                } else {
                    match self.protocol.links_exhausted(&mut self.life, cx, cause) {
                        // No second round: a fallback that wants yet another
                        // link has nothing left to get it with.
                        Verdict::RefreshLink(cause) | Verdict::Fatal(cause) => {
                            self.life.fail(cause)
                        }
                        fallback => self.apply(cx, call, fallback),
                    }
                }
            }
            Verdict::NoData => {
                let empty = DecodeSummary {
                    raw_bytes: 0,
                    decoded_bytes: 0,
                    md5: Some(Md5::digest(b"")),
                    md5_check: Md5Check::Computed,
                    gzip: false,
                    members: 0,
                };
                let summary = summary(&self.life, &self.protocol, Outcome::NoData, empty, 0, None);
                self.life.finished = Some(match summary {
                    Ok(summary) => Finish::Done { summary },
                    Err(error) => Finish::Failed { error },
                });
            }
            Verdict::Deliver { bytes, rows } => {
                let delivered = DecodeSummary {
                    raw_bytes: bytes.len() as u64,
                    decoded_bytes: bytes.len() as u64,
                    md5: Some(Md5::digest(&bytes)),
                    md5_check: Md5Check::Computed,
                    gzip: false,
                    members: 0,
                };
                let summary = summary(
                    &self.life,
                    &self.protocol,
                    Outcome::Complete,
                    delivered,
                    rows,
                    None,
                );
                self.life.finished = Some(match summary {
                    Ok(summary) => {
                        cx.emit(Event::Data(DataChunk {
                            offset: 0,
                            bytes,
                            part: None,
                        }));
                        Finish::Done { summary }
                    }
                    Err(error) => Finish::Failed { error },
                });
            }
            Verdict::Fatal(error) => self.life.fail(error),
        }
    }

    fn failed(&mut self, error: Error) -> Step {
        self.life.fail(error);
        match &self.life.finished {
            Some(finish) => finish.step(),
            None => Step::Failed(Error::internal("a failed machine has no finish")),
        }
    }
}

/// The summary of a report the lifecycle verified (or found empty).
fn summary<P: Protocol, C: Copy>(
    life: &Lifecycle<C>,
    protocol: &P,
    outcome: Outcome,
    decoded: DecodeSummary,
    rows: u64,
    charset: Option<Charset>,
) -> Result<Summary, Error> {
    Ok(Summary {
        provider: P::PROVIDER,
        report_id: life.require_report_id("a finished report")?.to_owned(),
        outcome,
        content_type: protocol.content_type(),
        record_format: protocol.report_body().record_format,
        raw_bytes: decoded.raw_bytes,
        bytes: decoded.decoded_bytes,
        md5: decoded.md5.map(|md5| md5.to_hex()).unwrap_or_default(),
        md5_check: decoded.md5_check,
        gzip: decoded.gzip,
        rows,
        requests: 0,
        parts: Vec::new(),
        charset,
        warnings: protocol.warnings(),
    })
}
