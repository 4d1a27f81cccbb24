//! The provider contract: what a provider machine implements
//! ([`Protocol`]) and how it judges an answer ([`Verdict`]). The words it
//! shares with the job are in [`vocabulary`](super::vocabulary).
//!
//! A provider's `machine.rs` reads as its protocol: the request it builds for
//! each call ([`Protocol::request`]) and a classification of each answer
//! ([`Protocol::on_reply`] → [`Verdict`]). Everything every provider repeats
//! — the finished state, pacing and retry budgets, rate budgets, the download
//! link and its refresh budget, the call in flight, the report id, the
//! download policy and the summary — lives once in
//! [`lifecycle`](super::lifecycle) and [`driver`](super::driver).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::lifecycle::Lifecycle;
use super::vocabulary::{Cx, ExchangeFailure, Outgoing, ReportBody, Response};
use crate::action::{Phase, Warning};
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, RestoreError};
use crate::provider::Provider;
use crate::rate::TokenBucket;
use crate::time::Millis;

/// What every provider machine implements. The job drives it through
/// [`Machine`](super::driver::Machine), which runs the shared prologue
/// and applies the verdicts.
pub(crate) trait Protocol:
    Sized + Clone + PartialEq + Eq + fmt::Debug + Serialize + DeserializeOwned
{
    /// The provider this machine speaks to.
    const PROVIDER: Provider;
    /// Which report to fetch.
    type Spec;
    /// How the machine authenticates. Held beside the machine, never
    /// persisted; a machine can only be paired with its own credentials.
    type Credentials: Clone + fmt::Debug;
    /// The requests the machine makes. Not persisted: a restored job
    /// re-sends the request that was in flight.
    type Call: Copy + Eq + fmt::Debug;

    /// A machine for `spec`, validated; nothing is sent yet.
    fn create(spec: Self::Spec, config: &JobConfig, now: Millis) -> Result<Self, ConfigError>;

    /// The rate budgets the machine's calls draw from (see
    /// [`budget`](Self::budget)), full at `now`.
    fn rate_budgets(&self, now: Millis) -> Vec<TokenBucket>;

    /// Checks a machine read from a snapshot (untrusted data): the spec as
    /// [`create`](Self::create) checks it, and that the protocol state fits
    /// the lifecycle (a stage past the create has a report id).
    fn check_restored(&self, life: &Lifecycle<Self::Call>) -> Result<(), RestoreError>;

    /// Refuses credentials that cannot work, before anything is sent.
    fn check_credentials(credentials: &Self::Credentials) -> Result<(), ConfigError>;

    /// Takes what the host supplied beside the long-lived credentials (a
    /// current access token), when the job is created or restored.
    fn install(&mut self, credentials: &Self::Credentials);

    /// Drops secrets and short-lived capabilities (tokens, links): what is
    /// left is exactly what a snapshot holds.
    fn forget_secrets(&mut self);

    /// The phase of an unfinished machine.
    fn phase(&self, life: &Lifecycle<Self::Call>) -> Phase;

    /// The call to make now. Runs after the shared prologue: the machine is
    /// not finished, not paced, and nothing is in flight.
    fn next_call(&mut self, life: &mut Lifecycle<Self::Call>, cx: &mut Cx<'_>) -> Self::Call;

    /// Whether the provider's answers retune its buckets' rates (SP-API's
    /// `x-amzn-RateLimit-Limit`): a restored bucket may then refill at any
    /// period up to [`MAX_RETUNED_REFILL_MS`], not only the documented one.
    const RETUNES_RATES: bool = false;

    /// The rate budgets (by [`TokenBucket::name`]) `call` draws a token
    /// from: one from each, or none while any is empty (MWS counts a call
    /// against its burst quota and its hourly quota). Empty for calls no
    /// quota counts.
    fn budgets(call: Self::Call) -> &'static [&'static str];

    /// The complete request for `call`. An `Err` ends the job (a request
    /// that cannot be built will not build later).
    fn request(
        &mut self,
        life: &Lifecycle<Self::Call>,
        call: Self::Call,
        cx: &Cx<'_>,
        credentials: &Self::Credentials,
    ) -> Result<Outgoing, Error>;

    /// Judges the answer to `call`. A report body that streamed (verified
    /// or failed) is judged by the shared download policy and never reaches
    /// this method; a non-2xx answer of a download call does.
    fn on_reply(
        &mut self,
        life: &mut Lifecycle<Self::Call>,
        cx: &mut Cx<'_>,
        call: Self::Call,
        response: Response,
    ) -> Verdict;

    /// `call` (not a report download) got no usable answer. By default the
    /// step is retried with the failure as its cause; a provider overrides
    /// this when a failure says more (e.g. a rate token to give back).
    fn on_failure(
        &mut self,
        _life: &mut Lifecycle<Self::Call>,
        _cx: &mut Cx<'_>,
        _call: Self::Call,
        failure: ExchangeFailure,
        endpoint: &str,
    ) -> Verdict {
        Verdict::retry_failure(failure, endpoint)
    }

    /// How many fresh links (or repeated downloads) a report may take after
    /// the first: the job's `max_link_refreshes`, unless the provider
    /// documents a lower bound of its own.
    fn max_link_refreshes(&self, config: &JobConfig) -> u32 {
        config.max_link_refreshes
    }

    /// A fresh download link is wanted (and the budget allows it): move to
    /// the call that obtains one.
    fn relink(&mut self, life: &mut Lifecycle<Self::Call>);

    /// The link budget is spent. By default the job fails with the cause;
    /// a provider with a costlier fallback (request the report again) takes
    /// it here.
    fn links_exhausted(
        &mut self,
        life: &mut Lifecycle<Self::Call>,
        cx: &mut Cx<'_>,
        cause: Error,
    ) -> Verdict {
        let _ = cx;
        Verdict::Fatal(life.link_budget_spent(cause))
    }

    /// Whether `call` obtains credentials (a token call): its failures
    /// count apart, and the machine is `Authorizing` while it is in flight.
    fn authorizes(call: Self::Call) -> bool;

    /// Whether `call` creates a report at the provider. The lifecycle
    /// records such a call in the snapshot before it is sent, and a create
    /// whose answer was lost is recovered through
    /// [`recover_create`](Self::recover_create) instead of being repeated.
    fn creates(call: Self::Call) -> bool;

    /// A create went out and its answer was lost (or the job was restored
    /// while it was in flight): the provider may hold a report already.
    /// A provider that can make this safe does so here and returns `true`:
    /// one whose create honours an idempotency key keeps the key (kept in
    /// its persisted state from the first send) so the next create repeats
    /// it; one that can list recent reports or names the duplicate moves to
    /// the call that finds it. By default nothing is safe: the job fails
    /// with [`Error::ReportMayExist`] unless the host's config allows a
    /// second create.
    fn recover_create(&mut self, life: &mut Lifecycle<Self::Call>, cx: &mut Cx<'_>) -> bool {
        let _ = (life, cx);
        false
    }

    /// How the machine's report body is verified and decoded.
    fn report_body(&self) -> ReportBody;

    /// The media type of the decoded report, for the summary.
    fn content_type(&self) -> String;

    /// What the summary must warn about (a partial report), for the summary.
    fn warnings(&self) -> Vec<Warning> {
        Vec::new()
    }
}

/// The slowest refill a provider's answers may retune a bucket to (one
/// request an hour).
pub(crate) const MAX_RETUNED_REFILL_MS: u64 = 3_600_000;

/// How a reply is to be handled: the one vocabulary every provider
/// classifies its answers into; [`Machine`](super::driver::Machine)
/// applies it.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The step succeeded and the machine moved on: the next failure starts
    /// a fresh attempt budget.
    Proceed,
    /// The machine moved on, but the step it serves is not over (a download
    /// link was obtained; the download may still fail): the attempt budget
    /// carries on, so a link that fails every time is not retried forever.
    Continue,
    /// The access token was refused; the machine dropped it and replays the
    /// call after fetching a new one (the machine bounds how often).
    Reauthorize,
    /// A transient failure: try the same step again after the backoff, and
    /// not before `at_least` (a provider hint); fails the job once the
    /// attempts are spent.
    Retry {
        /// What failed.
        cause: Error,
        /// The provider's earliest retry instant, if it named one.
        at_least: Option<Millis>,
    },
    /// The provider throttled the call: its rate budget is empty until
    /// `until` (or the backoff, if later), and the host is told.
    Throttled {
        /// The refusal.
        cause: Error,
        /// The budget the refused call drew from.
        budget: &'static str,
        /// When the provider said its quota returns.
        until: Option<Millis>,
    },
    /// The link expired or its body was damaged: fetch a fresh link within
    /// the job's `max_link_refreshes`.
    RefreshLink(Error),
    /// The provider says there is no report data: `Done` with
    /// `Outcome::NoData` and zero bytes.
    NoData,
    /// The answer itself is the job's result (a document the machine built
    /// from API answers, not a report download: Amazon Pay's schedules):
    /// `bytes` go out as one `Event::Data` and the job is `Done`, the
    /// summary counting `rows` records, under the report id the lifecycle
    /// holds.
    Deliver {
        /// The document, as delivered.
        bytes: Vec<u8>,
        /// Its records.
        rows: u64,
    },
    /// Only the host can fix it (or it will not get better): the job fails.
    Fatal(Error),
}

impl Verdict {
    /// A retry of a failed exchange (transport, timeout, oversized answer).
    pub(crate) fn retry_failure(failure: ExchangeFailure, endpoint: &str) -> Self {
        Self::Retry {
            cause: failure.into_error(endpoint),
            at_least: None,
        }
    }
}
