//! The lifecycle every provider machine shares, written once: the finished
//! state, pacing and attempt budgets, rate budgets, the download link and
//! its refresh budget, the call in flight and the report id; the prologue
//! of every `next` and the one applicator of [`Verdict`]s.

use serde::{Deserialize, Serialize};

use super::contract::{Cx, Protocol, Reply, Step, Verdict};
use super::download::judge_download;
use super::pacing::{Attempts, LinkRefreshes, Pacing};
use super::Link;
use crate::action::{Event, Outcome, Phase, Summary, WaitReason};
use crate::config::JobConfig;
use crate::error::{ConfigError, Error};
use crate::integrity::{Charset, DecodeSummary, Md5};
use crate::rate::TokenBucket;
use crate::time::Millis;

/// How a machine's lifecycle ended. Terminal: every later `next` repeats it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "finish", rename_all = "camelCase")]
pub(crate) enum Finish {
    Done { summary: Summary },
    Failed { error: Error },
}

impl Finish {
    /// The step that reports this end.
    fn step(&self) -> Step {
        match self {
            Self::Done { summary } => Step::Done(summary.clone()),
            Self::Failed { error } => Step::Failed(error.clone()),
        }
    }
}

/// The request in flight, as the lifecycle remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight<C> {
    call: C,
    endpoint: &'static str,
    /// Whether a 2xx answer is the report body.
    report: bool,
}

/// What every provider machine keeps besides its own protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub(crate) struct Lifecycle<C> {
    report_id: Option<String>,
    pacing: Pacing,
    /// Failures of calls that authorize (token calls) count apart, so
    /// fetching a token — as every restored job does — never spends the
    /// budget of the step it serves.
    auth_attempts: Attempts,
    link_refreshes: LinkRefreshes,
    budgets: Vec<TokenBucket>,
    finished: Option<Finish>,
    // A link is a short-lived capability: never persisted; a restored job
    // obtains a fresh one. The call in flight is re-sent after a restore.
    #[serde(skip)]
    link: Option<Link>,
    #[serde(skip)]
    in_flight: Option<InFlight<C>>,
}

impl<C: Copy> Lifecycle<C> {
    fn new(now: Millis, budgets: Vec<TokenBucket>) -> Self {
        Self {
            report_id: None,
            pacing: Pacing::new(now),
            auth_attempts: Attempts::default(),
            link_refreshes: LinkRefreshes::default(),
            budgets,
            finished: None,
            link: None,
            in_flight: None,
        }
    }

    /// The provider's report id, once the report was created.
    pub(crate) fn report_id(&self) -> Option<&str> {
        self.report_id.as_deref()
    }

    /// The report id a call needs. Its absence is a bug in the machine (a
    /// stage that needs the id was entered without one): a typed
    /// [`Error::Internal`] instead of a URL with an empty segment.
    pub(crate) fn require_report_id(&self, endpoint: &str) -> Result<&str, Error> {
        self.report_id
            .as_deref()
            .ok_or_else(|| Error::internal(format!("{endpoint} without a report id")))
    }

    /// The provider accepted the report request under `id`.
    pub(crate) fn report_created(&mut self, cx: &mut Cx<'_>, id: String) {
        cx.emit(Event::ReportCreated {
            report_id: id.clone(),
        });
        self.report_id = Some(id);
    }

    /// Forgets the report (it will be requested again) and restarts the
    /// link budget for the new one.
    pub(crate) fn forget_report(&mut self) {
        self.report_id = None;
        self.link = None;
        self.link_refreshes = LinkRefreshes::default();
    }

    /// The call in flight, if any.
    pub(crate) fn in_flight(&self) -> Option<C> {
        self.in_flight.map(|flight| flight.call)
    }

    /// The current download link, if one is held.
    pub(crate) fn link(&self) -> Option<&Link> {
        self.link.as_ref()
    }

    /// The link, if it has more than `margin_ms` of life left at `now`;
    /// a lapsed link is dropped.
    pub(crate) fn usable_link(&mut self, now: Millis, margin_ms: u64) -> Option<&Link> {
        if !self.link.as_ref().is_some_and(|l| l.usable(now, margin_ms)) {
            self.link = None;
        }
        self.link.as_ref()
    }

    /// A link arrived now that lives `lifetime_ms` (the host is told when it
    /// lapses).
    pub(crate) fn link_obtained(&mut self, cx: &mut Cx<'_>, url: String, lifetime_ms: u64) {
        self.link = Some(Link::obtained(cx, url, lifetime_ms));
    }

    /// Holds the machine until `until` (a poll interval, an estimate).
    pub(crate) fn schedule(&mut self, until: Millis, reason: WaitReason) {
        self.pacing.schedule(until, reason);
    }

    /// The rate budget named `name`.
    pub(crate) fn budget(&mut self, name: &str) -> Option<&mut TokenBucket> {
        self.budgets.iter_mut().find(|bucket| bucket.name() == name)
    }

    /// The error that ends a job whose link refreshes are spent.
    pub(crate) fn link_budget_spent(&self, cause: Error) -> Error {
        self.link_refreshes.exhausted(cause)
    }

    fn fail(&mut self, error: Error) {
        if self.finished.is_none() {
            self.finished = Some(Finish::Failed { error });
        }
    }

    /// Counts a retryable failure of the current step (or of the token call
    /// when `authorizing`) and holds the machine for its backoff; `None`
    /// once the attempts are spent and the job failed.
    fn retry(
        &mut self,
        cx: &mut Cx<'_>,
        authorizing: bool,
        cause: Error,
        at_least: Option<Millis>,
    ) -> Option<Millis> {
        let attempts = if authorizing {
            &mut self.auth_attempts
        } else {
            self.pacing.attempts_mut()
        };
        match attempts.retry(cx, cause, at_least) {
            Ok(until) => {
                self.pacing.schedule(until, WaitReason::RetryBackoff);
                Some(until)
            }
            Err(error) => {
                self.fail(error);
                None
            }
        }
    }

    fn summary<P: Protocol>(
        &self,
        protocol: &P,
        outcome: Outcome,
        decoded: DecodeSummary,
        rows: u64,
        charset: Option<Charset>,
    ) -> Result<Summary, Error> {
        Ok(Summary {
            provider: P::PROVIDER,
            report_id: self.require_report_id("a finished report")?.to_owned(),
            outcome,
            content_type: protocol.content_type(),
            record_format: protocol.report_body().record_format,
            raw_bytes: decoded.raw_bytes,
            bytes: decoded.decoded_bytes,
            md5: decoded.md5.to_hex(),
            gzip: decoded.gzip,
            rows,
            requests: 0,
            parts: Vec::new(),
            charset,
        })
    }
}

/// A provider machine: its protocol and the shared lifecycle, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub(crate) struct Machine<P: Protocol> {
    protocol: P,
    life: Lifecycle<P::Call>,
}

impl<P: Protocol> Machine<P> {
    /// A machine for `spec`; nothing is sent yet.
    pub(crate) fn new(spec: P::Spec, config: &JobConfig, now: Millis) -> Result<Self, ConfigError> {
        let protocol = P::create(spec, config, now)?;
        let life = Lifecycle::new(now, protocol.rate_budgets(now));
        Ok(Self { protocol, life })
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
        let call = self.protocol.next_call(&mut self.life, cx);
        if let Some(name) = P::budget(call) {
            let Some(bucket) = self.life.budget(name) else {
                return self.failed(Error::internal(format!("no rate budget named {name}")));
            };
            if let Err(ready) = bucket.try_take(cx.now) {
                return Step::Wait {
                    until: ready,
                    reason: WaitReason::RateLimit {
                        bucket: name.to_owned(),
                    },
                };
            }
        }
        match self.protocol.request(&self.life, call, cx, credentials) {
            Ok(outgoing) => {
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

    /// Judges the answer to the call in flight and applies the verdict.
    pub(crate) fn on_reply(&mut self, cx: &mut Cx<'_>, reply: Reply) {
        let Some(flight) = self.life.in_flight else {
            self.life
                .fail(Error::internal("an answer arrived with no call in flight"));
            return;
        };
        let verdict = match (flight.report, reply) {
            (
                true,
                Reply::Report {
                    decoded,
                    rows,
                    charset,
                },
            ) => {
                self.life.in_flight = None;
                let summary =
                    self.life
                        .summary(&self.protocol, Outcome::Complete, decoded, rows, charset);
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
            (_, reply) => self
                .protocol
                .on_reply(&mut self.life, cx, flight.call, reply),
        };
        self.life.in_flight = None;
        if flight.report && matches!(verdict, Verdict::Retry { .. }) {
            // A download retried after its backoff starts from a fresh link:
            // links are short-lived, and a job restored during the backoff
            // (which never holds a link) must continue exactly the same way.
            self.life.link = None;
        }
        self.apply(cx, flight.call, verdict);
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
                if self.life.link_refreshes.allow(cx, &cause) {
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
                    md5: Md5::digest(b""),
                    gzip: false,
                    members: 0,
                };
                let summary = self
                    .life
                    .summary(&self.protocol, Outcome::NoData, empty, 0, None);
                self.life.finished = Some(match summary {
                    Ok(summary) => Finish::Done { summary },
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
