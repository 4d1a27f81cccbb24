//! The state every provider machine shares, kept once: the finished state,
//! pacing and attempt budgets, rate budgets, the download link and its
//! refresh budget, the call in flight and the report id.
//! [`driver`](super::driver) runs the prologue and applies the verdicts.

use serde::Serialize;

use super::pacing::{Attempts, LinkRefreshes, Pacing};
use super::vocabulary::{Cx, Link, Outgoing, ReportBody, Step};
use crate::action::{Event, Summary, WaitReason};
use crate::error::Error;
use crate::rate::TokenBucket;
use crate::time::Millis;

/// How a machine's lifecycle ended. Terminal: every later `next` repeats it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finish", rename_all = "camelCase")]
pub(crate) enum Finish {
    Done { summary: Summary },
    Failed { error: Error },
}

crate::json_fields::deserialize_tagged! {
    Finish, tag = "finish", fields = Verbatim;
    "done" => Done { summary },
    "failed" => Failed { error },
}

impl Finish {
    /// The step that reports this end.
    pub(super) fn step(&self) -> Step {
        match self {
            Self::Done { summary } => Step::Done(summary.clone()),
            // Sanitized again: a finish read from a snapshot is untrusted.
            Self::Failed { error } => Step::Failed(error.clone().sanitized()),
        }
    }
}

/// The request in flight, as the lifecycle remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct InFlight<C> {
    pub(super) call: C,
    pub(super) endpoint: &'static str,
    /// Whether a 2xx answer is the report body.
    pub(super) report: bool,
}

/// What every provider machine keeps besides its own protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub(crate) struct Lifecycle<C> {
    pub(super) report_id: Option<String>,
    pub(super) pacing: Pacing,
    /// Failures of calls that authorize (token calls) count apart, so
    /// fetching a token — as every restored job does — never spends the
    /// budget of the step it serves.
    pub(super) auth_attempts: Attempts,
    pub(super) link_refreshes: LinkRefreshes,
    pub(super) budgets: Vec<TokenBucket>,
    pub(super) finished: Option<Finish>,
    /// When a create request went out whose answer has not been seen. Set
    /// before the request is handed to the host (which persists the
    /// snapshot before sending), so a job restored after a crash, or one
    /// whose create answer was lost, knows the provider may hold a report.
    pub(super) create_sent: Option<Millis>,
    // A link is a short-lived capability: never persisted; a restored job
    // obtains a fresh one. The call in flight is re-sent after a restore.
    #[serde(skip)]
    pub(super) link: Option<Link>,
    #[serde(skip)]
    pub(super) in_flight: Option<InFlight<C>>,
}

crate::json_fields::deserialize_struct! {
    Lifecycle<C>, fields = Camel, unknown = Ignore;
    report_id, pacing, auth_attempts, link_refreshes, budgets, finished, create_sent, link = skip, in_flight = skip
}

impl<C: Copy> Lifecycle<C> {
    pub(super) fn new(now: Millis, budgets: Vec<TokenBucket>) -> Self {
        Self {
            report_id: None,
            pacing: Pacing::new(now),
            auth_attempts: Attempts::default(),
            link_refreshes: LinkRefreshes::default(),
            budgets,
            finished: None,
            create_sent: None,
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

    /// The report `id` exists: record it (and say so), and wait before the
    /// first status poll — `first_poll_in` ms when the provider estimated
    /// the generation, else the poll policy's first delay.
    pub(crate) fn start_polling(
        &mut self,
        cx: &mut Cx<'_>,
        id: String,
        first_poll_in: Option<u64>,
    ) {
        self.report_created(cx, id);
        let delay = first_poll_in.unwrap_or_else(|| cx.config.poll.delay(cx.config.seed, 0));
        self.schedule(cx.now.saturating_add(delay), WaitReason::PollBackoff);
    }

    /// Names what a job that fetches no report delivered (a schedule id, a
    /// report type whose find came back empty), for its summary. No event:
    /// nothing was created.
    pub(crate) fn name_result(&mut self, id: String) {
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

    /// The download of the report from the link held, with nothing of the
    /// provider's API on it: the link is a capability on a storage host,
    /// and tokens, signatures and API headers must not travel there. No
    /// link is a bug in the machine (it asked to download without one).
    pub(crate) fn download(
        &self,
        endpoint: &'static str,
        report_body: ReportBody,
    ) -> Result<Outgoing, Error> {
        let link = self
            .link()
            .ok_or_else(|| Error::internal(format!("{endpoint} without a link")))?;
        Ok(Outgoing::download(endpoint, link, report_body))
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

    pub(super) fn fail(&mut self, error: Error) {
        if self.finished.is_none() {
            // Provider text is data: printable, one line, bounded.
            self.finished = Some(Finish::Failed {
                error: error.sanitized(),
            });
        }
    }

    /// Counts a retryable failure of the current step (or of the token call
    /// when `authorizing`) and holds the machine for its backoff; `None`
    /// once the attempts are spent and the job failed.
    pub(super) fn retry(
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
}
