//! A virtual-time host that drives a [`ReportJob`] against a [`Sandbox`]:
//! quinn's `Pair` and str0m's `progress` applied to report lifecycles.
//!
//! It is also the reference host loop. Each [`Harness::step`] does one thing
//! a real host does:
//!
//! 1. **poll** the job (while draining) and act on the [`Action`]:
//!    - `Send`: persist a snapshot (a create is on record before it can
//!      reach the provider), hand the request to the sandbox (via
//!      [`SimRequest::from_http`]), keep the answer in an inbox;
//!    - `Sign`: sign with the harness's [`TestSigner`] (the simulated
//!      merchant's key unless [`Harness::with_signer`] says otherwise) and
//!      feed [`Input::Signature`] at once;
//!    - `Event`: record it; `Data` is appended to the output, `DataReset`
//!      truncates it;
//!    - `Wait`: the drain is over; persist a snapshot; if an answer is
//!      arriving, the next step feeds it, else jump the virtual clock to
//!      `until`;
//!    - `Done` / `Failed`: record the outcome;
//! 2. **feed** the next piece of an arriving answer (`Head`, one `Chunk` of
//!    a seeded size, `End` — or `TransportFailed { Reset }` where the
//!    sandbox cut the connection), then drain again.
//!
//! While it runs it checks the host-visible contract and stops with
//! [`HarnessError::Invariant`] on a breach: every `Wait.until` is at least
//! the largest `now` handed in; no `Send` while another request is in
//! flight; `Data` offsets are contiguous; `Done` reports exactly the bytes
//! delivered; terminal actions absorb.
//!
//! Tests that need to interleave crashes, clock jumps, stale inputs or
//! transport failures use [`Harness::step`] with
//! [`crash_and_restore`](Harness::crash_and_restore),
//! [`set_now`](Harness::set_now), [`handle`](Harness::handle) and
//! [`interfere`](Harness::interfere); [`fork`](Harness::fork) builds a twin
//! from the current snapshot for equivalence checks.

use std::collections::VecDeque;

use serde::Serialize;

use super::keys::TestSigner;
use super::{Sandbox, SimRequest, SimResponse};
use crate::action::{Action, Event, Summary, WaitReason};
use crate::error::{Error, InputError, RestoreError};
use crate::http::{HttpRequest, Method, RedirectPolicy, RequestId, TransportFailure};
use crate::input::Input;
use crate::retry::splitmix64;
use crate::snapshot::Snapshot;
use crate::time::Millis;
use crate::{Credentials, JobConfig, ReportJob};

/// Default bound of [`Harness::drive`].
const DEFAULT_MAX_STEPS: usize = 100_000;
/// Most redirects followed in [`Harness::follow_redirects`] mode.
const MAX_REDIRECTS: usize = 5;

/// Seeded chunk sizes for response bodies: log-uniform between `min` and
/// `max` bytes, so both single bytes and large blocks occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Seeds the sizes.
    pub seed: u64,
    /// Smallest chunk (at least 1).
    pub min: usize,
    /// Largest chunk.
    pub max: usize,
}

impl Default for ChunkPlan {
    fn default() -> Self {
        Self {
            seed: 0,
            min: 1,
            max: 16 * 1024,
        }
    }
}

impl ChunkPlan {
    /// Chunks of exactly `size` bytes.
    pub const fn fixed(size: usize) -> Self {
        Self {
            seed: 0,
            min: size,
            max: size,
        }
    }

    /// Seeded log-uniform sizes between `min` and `max`.
    pub const fn seeded(seed: u64, min: usize, max: usize) -> Self {
        Self { seed, min, max }
    }

    /// The size of chunk number `n`.
    pub fn size(&self, n: u64) -> usize {
        let min = self.min.max(1);
        let max = self.max.max(min);
        if min == max {
            return min;
        }
        let r = splitmix64(self.seed ^ n.wrapping_mul(0xA076_1D64_78BD_642F));
        let bits = (usize::BITS - max.leading_zeros()) as u64;
        let ceiling = 1u64 << (r % (bits + 1)).min(62);
        let size = 1 + (splitmix64(r) % ceiling) as usize;
        size.clamp(min, max)
    }
}

/// A transport mishap the harness applies to the next request, instead of
/// or on top of the sandbox's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Interference {
    /// The request never reaches the sandbox; the host reports `failure`.
    Refuse(TransportFailure),
    /// The sandbox handles the request (side effects happen), but the answer
    /// is lost: the host reports [`TransportFailure::Reset`].
    LoseResponse,
    /// The sandbox handles the request and the answer never arrives; the job
    /// times the request out.
    Hang,
    /// The host does not send the request: a rate budget it shares with
    /// other jobs has no room for this many milliseconds
    /// ([`Input::Deferred`]). The request is not recorded as sent.
    Defer(u64),
}

/// A loggable, comparable record of one action (or harness event). Holds no
/// secret: requests are recorded by method, URL (credential query values redacted: they
/// can be signatures or tokens) and header names, and `Data` by offset and
/// length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum ActionRecord {
    /// The job sent a request.
    Send {
        /// Virtual time of the poll.
        at: Millis,
        /// Request id.
        id: RequestId,
        /// HTTP method.
        method: Method,
        /// Absolute URL, credential query values replaced by `redacted`.
        url: String,
        /// Header names, in order.
        #[serde(rename = "headerNames")]
        header_names: Vec<String>,
        /// Body length.
        #[serde(rename = "bodyBytes")]
        body_bytes: usize,
        /// Redirect rule.
        redirect: RedirectPolicy,
        /// Timeout the job set.
        #[serde(rename = "timeoutMs")]
        timeout_ms: u64,
    },
    /// The job asked for a signature (the harness signed at once).
    Sign {
        /// Virtual time of the poll.
        at: Millis,
        /// Sign request id.
        id: RequestId,
        /// The key named.
        #[serde(rename = "keyId")]
        key_id: String,
    },
    /// The job asked to wait.
    Wait {
        /// Virtual time of the poll.
        at: Millis,
        /// Until when.
        until: Millis,
        /// Why.
        reason: WaitReason,
    },
    /// An event other than `Data`.
    Event {
        /// Virtual time of the poll.
        at: Millis,
        /// The event.
        event: Event,
    },
    /// Decoded report bytes.
    Data {
        /// Virtual time of the poll.
        at: Millis,
        /// Offset in the decoded report.
        offset: u64,
        /// Number of bytes.
        len: usize,
    },
    /// The job finished with a verified report.
    Done {
        /// Virtual time of the poll.
        at: Millis,
        /// The summary.
        summary: Summary,
    },
    /// The job failed.
    Failed {
        /// Virtual time of the poll.
        at: Millis,
        /// The error.
        error: Error,
    },
    /// Harness marker: the host crashed and restored the job from its last
    /// persisted snapshot.
    Restored {
        /// Virtual time of the restore.
        at: Millis,
    },
    /// Harness marker: the host did not send the request just recorded
    /// ([`Interference::Defer`]); it never reached the sandbox.
    Deferred {
        /// Virtual time of the deferral.
        at: Millis,
        /// The request not sent.
        id: RequestId,
        /// When the host said there is room again.
        until: Millis,
    },
}

impl ActionRecord {
    /// Virtual time of the record.
    pub const fn at(&self) -> Millis {
        match self {
            Self::Send { at, .. }
            | Self::Sign { at, .. }
            | Self::Wait { at, .. }
            | Self::Event { at, .. }
            | Self::Data { at, .. }
            | Self::Done { at, .. }
            | Self::Failed { at, .. }
            | Self::Restored { at }
            | Self::Deferred { at, .. } => *at,
        }
    }

    fn of(at: Millis, action: &Action) -> Self {
        match action {
            Action::Send(request) => Self::Send {
                at,
                id: request.id,
                method: request.method,
                url: loggable_url(&request.url),
                header_names: request.headers.iter().map(|h| h.name.clone()).collect(),
                body_bytes: request.body.expose().len(),
                redirect: request.redirect,
                timeout_ms: request.timeout_ms,
            },
            Action::Sign(request) => Self::Sign {
                at,
                id: request.id,
                key_id: request.key_id.clone(),
            },
            Action::Wait { until, reason } => Self::Wait {
                at,
                until: *until,
                reason: reason.clone(),
            },
            Action::Event(Event::Data(chunk)) => Self::Data {
                at,
                offset: chunk.offset,
                len: chunk.bytes.len(),
            },
            Action::Event(event) => Self::Event {
                at,
                event: event.clone(),
            },
            Action::Done(summary) => Self::Done {
                at,
                summary: summary.clone(),
            },
            Action::Failed(error) => Self::Failed {
                at,
                error: error.clone(),
            },
        }
    }
}

/// `url` with its credential query values replaced: presigned links and
/// signed requests carry credentials there.
fn loggable_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => format!("{base}?{}", super::redact_query(query)),
        None => url.to_owned(),
    }
}

/// What one [`Harness::step`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stepped {
    /// The job was polled and returned this action, which the harness has
    /// already acted on.
    Polled(Action),
    /// A piece of an answer was fed to the job.
    Fed {
        /// The request answered.
        id: RequestId,
        /// `head`, `chunk`, `end` or `transportFailed`.
        input: &'static str,
        /// Body bytes fed (chunks only).
        bytes: usize,
    },
    /// The job had already finished; nothing happened.
    Finished,
}

/// Why a harness run stopped without an outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The job did not reach `Done` or `Failed` within the step bound.
    #[error("no Done or Failed within {steps} steps; the job loops or waits forever")]
    NoTerminal {
        /// Steps taken.
        steps: usize,
    },
    /// The job broke the host-visible contract.
    #[error("step {step}: contract violated: {detail}")]
    Invariant {
        /// The step at which it happened.
        step: usize,
        /// What was violated.
        detail: String,
    },
    /// The persisted snapshot could not be restored.
    #[error(transparent)]
    Restore(#[from] RestoreError),
}

/// The result of a run that reached `Done` or `Failed`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Run {
    /// `Ok` with the summary of `Done`, or the error of `Failed`.
    pub outcome: Result<Summary, Error>,
    /// The output a host keeps: the `Data` received (after every
    /// `DataReset`), or nothing when the job failed.
    pub data: Vec<u8>,
    /// Every action (and restore marker), in order.
    pub actions: Vec<ActionRecord>,
    /// Every request the job sent, in order (`Debug` redacts credentials).
    pub requests: Vec<HttpRequest>,
    /// Each distinct snapshot the host persisted, as JSON, in order.
    pub snapshots: Vec<String>,
    /// Steps taken.
    pub steps: usize,
    /// Virtual time at the end.
    pub finished_at: Millis,
}

impl Run {
    /// The summary, when the job ended `Done`.
    pub fn summary(&self) -> Option<&Summary> {
        self.outcome.as_ref().ok()
    }

    /// The error, when the job ended `Failed`.
    pub fn error(&self) -> Option<&Error> {
        self.outcome.as_ref().err()
    }

    /// Checks that no `Retrying` event numbers an attempt beyond what
    /// `config` allows one step: its retry policy's attempts, or one more
    /// than its link refreshes where those are more (a link renewal retries
    /// on that budget instead).
    ///
    /// The error says which attempt broke which budget.
    pub fn check_retry_budget(&self, config: &JobConfig) -> Result<(), String> {
        let budget = config
            .retry
            .max_attempts
            .max(config.max_link_refreshes.saturating_add(1));
        for action in &self.actions {
            if let ActionRecord::Event {
                event: Event::Retrying { attempt, .. },
                ..
            } = action
            {
                if *attempt > budget {
                    return Err(format!("retry attempt {attempt} over the budget {budget}"));
                }
            }
        }
        Ok(())
    }

    /// Checks the data a host keeps against `sandbox`'s ground truth: after
    /// `Done`, exactly the bytes of the summary's report, as many as the
    /// summary counts; after `Failed`, nothing.
    ///
    /// The error says how the data differs.
    pub fn check_data_matches(&self, sandbox: &Sandbox) -> Result<(), String> {
        match &self.outcome {
            Ok(summary) => {
                let Some(truth) = sandbox.report_content(&summary.report_id) else {
                    return Err(format!(
                        "Done with report {} that the sandbox does not know",
                        summary.report_id
                    ));
                };
                if self.data != truth {
                    return Err(format!(
                        "Done with {} bytes that are not the report ({} bytes)",
                        self.data.len(),
                        truth.len()
                    ));
                }
                if summary.bytes != truth.len() as u64 {
                    return Err(format!(
                        "Done counts {} bytes of a {}-byte report",
                        summary.bytes,
                        truth.len()
                    ));
                }
                Ok(())
            }
            Err(error) => match self.data.len() {
                0 => Ok(()),
                kept => Err(format!("Failed ({error}) yet {kept} bytes kept")),
            },
        }
    }

    /// Checks that `secret` shows in none of the run's printable or
    /// persisted surfaces: the `Debug` of its requests and outcome, the
    /// error's `Display`, the `Debug` of `sandbox`'s request log and of every
    /// event, and every snapshot. Simulator credentials contain a canary
    /// (e.g. [`amazon_ads::CANARY`](super::amazon_ads::CANARY)) to pass here;
    /// so can a token the simulator issued.
    ///
    /// The error names the surface that leaked, never the secret.
    pub fn check_secret_absent(&self, sandbox: &Sandbox, secret: &str) -> Result<(), String> {
        // An empty needle is in every text: nothing to look for.
        if secret.is_empty() {
            return Ok(());
        }
        let error = self.error().map(ToString::to_string).unwrap_or_default();
        let events = self.actions.iter().filter_map(|action| match action {
            ActionRecord::Event { event, .. } => Some(format!("{event:?}")),
            _ => None,
        });
        let surfaces = [
            ("the requests", format!("{:?}", self.requests)),
            ("the outcome", format!("{:?}", self.outcome)),
            ("the error", error),
            (
                "the sandbox's request log",
                format!("{:?}", sandbox.requests()),
            ),
        ]
        .into_iter()
        .chain(self.snapshots.iter().map(|s| ("a snapshot", s.clone())))
        .chain(events.map(|e| ("an event", e)));
        for (surface, text) in surfaces {
            if text.contains(secret) {
                return Err(format!("a secret leaked into {surface}"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Ending {
    End,
    Fail(TransportFailure),
    /// Nothing more arrives; the job must time the request out.
    Hang,
}

/// An answer arriving for the request in flight.
#[derive(Clone)]
struct Inbox {
    id: RequestId,
    /// When the job gives up on the request.
    deadline: Millis,
    head: Option<(u16, Vec<(String, String)>)>,
    body: Vec<u8>,
    fed: usize,
    /// Body bytes delivered before `ending`.
    limit: usize,
    ending: Option<Ending>,
    /// Whether any input of the answer was fed.
    started: bool,
    /// The status fed with the head.
    status: Option<u16>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies can hold tokens (LwA answers): show their size only.
        f.debug_struct("Inbox")
            .field("id", &self.id)
            .field("deadline", &self.deadline)
            .field("head", &self.head.as_ref().map(|(status, _)| status))
            .field("body_len", &self.body.len())
            .field("fed", &self.fed)
            .field("limit", &self.limit)
            .field("ending", &self.ending)
            .finish()
    }
}

impl Inbox {
    fn refused(id: RequestId, deadline: Millis, ending: Ending) -> Self {
        Self {
            id,
            deadline,
            head: None,
            body: Vec::new(),
            fed: 0,
            limit: 0,
            ending: Some(ending),
            started: false,
            status: None,
        }
    }

    fn answer(id: RequestId, deadline: Millis, response: SimResponse) -> Self {
        let limit = response
            .disconnect_after
            .map_or(response.body.len(), |cut| cut.min(response.body.len()));
        let ending = if response.disconnect_after.is_some() {
            Ending::Fail(TransportFailure::Reset)
        } else {
            Ending::End
        };
        Self {
            id,
            deadline,
            head: Some((response.status, response.headers)),
            body: response.body,
            fed: 0,
            limit,
            ending: Some(ending),
            started: false,
            status: None,
        }
    }

    /// Whether the next step can feed something.
    fn has_input(&self) -> bool {
        self.head.is_some()
            || self.fed < self.limit
            || matches!(self.ending, Some(Ending::End | Ending::Fail(_)))
    }
}

/// Drives a [`ReportJob`] against a [`Sandbox`] in virtual time.
///
/// ```
/// use reportflow::sim::{amazon_ads, Harness, Sandbox, SandboxConfig};
/// use reportflow::{providers::Provider, Millis, ReportJob};
///
/// let start = Millis(1_709_251_200_000);
/// let sandbox = Sandbox::new(SandboxConfig::default().with_rows(10));
/// let job = ReportJob::new(amazon_ads::sample_spec(start), sandbox.job_config(Provider::AmazonAds), amazon_ads::credentials(), start)?;
/// let mut harness = Harness::new(job, sandbox, start);
/// let run = harness.drive_bounded(1_000)?;
/// let summary = run.summary().ok_or("a clean run ends Done")?;
/// assert_eq!(harness.sandbox().report_content(&summary.report_id).as_ref(), Some(&run.data));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Harness {
    job: ReportJob,
    sandbox: Sandbox,
    now: Millis,
    /// Largest `now` handed to the current job (reset on restore).
    max_now: Millis,
    chunks: ChunkPlan,
    chunks_fed: u64,
    interference: VecDeque<Interference>,
    follow_redirects: bool,
    signer: TestSigner,
    inbox: Option<Inbox>,
    draining: bool,
    /// The last poll returned `Wait` with no request in flight, and nothing
    /// was fed since: a drain point.
    settled: bool,
    data: Vec<u8>,
    actions: Vec<ActionRecord>,
    requests: Vec<HttpRequest>,
    snapshots: Vec<String>,
    persisted: String,
    terminal: Option<Result<Summary, Error>>,
    steps: usize,
    restores: u32,
    aborted: u32,
    answered: Vec<(RequestId, u16)>,
}

impl Harness {
    /// A harness at virtual time `start`. The job's initial snapshot counts
    /// as persisted.
    pub fn new(job: ReportJob, sandbox: Sandbox, start: Millis) -> Self {
        let persisted = job.snapshot().to_json();
        Self {
            job,
            sandbox,
            now: start,
            max_now: start,
            chunks: ChunkPlan::default(),
            chunks_fed: 0,
            interference: VecDeque::new(),
            follow_redirects: false,
            signer: TestSigner::merchant(),
            inbox: None,
            draining: true,
            settled: false,
            data: Vec::new(),
            actions: Vec::new(),
            requests: Vec::new(),
            snapshots: vec![persisted.clone()],
            persisted,
            terminal: None,
            steps: 0,
            restores: 0,
            aborted: 0,
            answered: Vec::new(),
        }
    }

    /// Sets how response bodies are split into chunks.
    #[must_use]
    pub fn with_chunks(mut self, chunks: ChunkPlan) -> Self {
        self.chunks = chunks;
        self
    }

    /// Answers `Action::Sign` with this key instead of the simulated
    /// merchant's (e.g. [`TestSigner::other`], which the simulators refuse).
    #[must_use]
    pub fn with_signer(mut self, signer: TestSigner) -> Self {
        self.signer = signer;
        self
    }

    /// Follow redirects the way a browser's `fetch` does even for requests
    /// that ask not to (`RedirectPolicy::Manual`), dropping `Authorization`
    /// on the way: the job then gets the final answer in place of the 3xx.
    #[must_use]
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// Queues a transport mishap for the next request not yet affected by
    /// an earlier one.
    pub fn interfere(&mut self, interference: Interference) {
        self.interference.push_back(interference);
    }

    /// The job.
    pub fn job(&self) -> &ReportJob {
        &self.job
    }

    /// The sandbox.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The sandbox, to act on it between steps as another client of the
    /// same account would (e.g. refresh a shared token).
    pub fn sandbox_mut(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }

    /// The virtual clock.
    pub const fn now(&self) -> Millis {
        self.now
    }

    /// Sets the virtual clock, forwards or backwards (a host clock jump).
    pub fn set_now(&mut self, now: Millis) {
        self.now = now;
    }

    /// Moves the virtual clock forward.
    pub fn advance(&mut self, ms: u64) {
        self.now = self.now.saturating_add(ms);
    }

    /// Actions recorded so far.
    pub fn actions(&self) -> &[ActionRecord] {
        &self.actions
    }

    /// Requests the job sent so far.
    pub fn requests(&self) -> &[HttpRequest] {
        &self.requests
    }

    /// The output so far (provisional until `Done`).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The snapshot JSON persisted last.
    pub fn persisted(&self) -> &str {
        &self.persisted
    }

    /// Steps taken so far.
    pub const fn steps(&self) -> usize {
        self.steps
    }

    /// How often the job was restored after a crash.
    pub const fn restores(&self) -> u32 {
        self.restores
    }

    /// How many transfers the host aborted because the job moved on while
    /// their answer was still arriving.
    pub const fn aborted(&self) -> u32 {
        self.aborted
    }

    /// Requests whose answer was completely delivered (`End` accepted), with
    /// the status of that answer, in order.
    pub fn answered(&self) -> &[(RequestId, u16)] {
        &self.answered
    }

    /// The outcome, once the job finished.
    pub fn outcome(&self) -> Option<&Result<Summary, Error>> {
        self.terminal.as_ref()
    }

    /// Whether a request is in flight (its answer not completely fed).
    pub fn in_flight(&self) -> Option<RequestId> {
        self.inbox.as_ref().map(|inbox| inbox.id)
    }

    /// When the request in flight times out: from then on the job may give
    /// up on it (and on a create, end `ReportMayExist`), although the
    /// simulator has already served it.
    pub fn in_flight_deadline(&self) -> Option<Millis> {
        self.inbox.as_ref().map(|inbox| inbox.deadline)
    }

    /// Whether the harness is at a drain point: the last poll returned
    /// `Wait` and no request is in flight. Snapshots taken here describe
    /// the whole job.
    pub fn at_rest(&self) -> bool {
        self.settled && self.inbox.is_none() && self.terminal.is_none()
    }

    /// Feeds an input directly (e.g. a stale answer or `Cancel`); the next
    /// step drains. Answers the harness is feeding itself are unaffected
    /// unless `input` names the request in flight.
    pub fn handle(&mut self, input: Input<'_>) -> Result<(), InputError> {
        self.max_now = self.max_now.max(self.now);
        self.draining = true;
        self.settled = false;
        self.job.handle(self.now, input)
    }

    /// Cancels the job (feeds [`Input::Cancel`]).
    pub fn cancel(&mut self) {
        // Cancel is accepted in every non-terminal state; after the end it
        // is a harmless `Finished`.
        let _ = self.handle(Input::Cancel);
    }

    /// Simulates a host crash: the job and any answer in flight are lost,
    /// the provisional output is discarded, and the job is restored from the
    /// last persisted snapshot (through its JSON form) at the current time.
    /// Does nothing once the job has finished (a cancel included, even
    /// before a poll reported it).
    pub fn crash_and_restore(&mut self, credentials: Credentials) -> Result<(), HarnessError> {
        if self.terminal.is_some() || self.job.is_finished() {
            return Ok(());
        }
        let snapshot = Snapshot::from_json(&self.persisted)?;
        // The host's config survives the crash (it is the host's, not the
        // snapshot's).
        let config = self.job.config().clone();
        self.job = ReportJob::restore(snapshot, config, credentials, self.now)?;
        self.inbox = None;
        self.data.clear();
        self.draining = true;
        self.settled = false;
        self.max_now = self.now;
        self.restores = self.restores.saturating_add(1);
        self.actions.push(ActionRecord::Restored { at: self.now });
        Ok(())
    }

    /// A twin of this harness whose job is restored from the current
    /// snapshot: same clock, a clone of the sandbox (faults consumed so far
    /// included), same chunking and queued interference, empty records.
    /// Only at a drain point ([`Self::at_rest`]).
    pub fn fork(&self, credentials: Credentials) -> Result<Self, HarnessError> {
        if !self.at_rest() {
            return Err(HarnessError::Invariant {
                step: self.steps,
                detail: "fork needs a drain point with no request in flight".to_owned(),
            });
        }
        let snapshot = Snapshot::from_json(&self.job.snapshot().to_json())?;
        // Restore at the latest instant the job has seen, not at the clock the
        // harness may already have moved on to: the twin must see exactly the
        // times the original sees from here on.
        let job = ReportJob::restore(
            snapshot,
            self.job.config().clone(),
            credentials,
            self.max_now,
        )?;
        let persisted = job.snapshot().to_json();
        Ok(Self {
            job,
            sandbox: self.sandbox.clone(),
            now: self.now,
            max_now: self.max_now,
            chunks: self.chunks,
            chunks_fed: self.chunks_fed,
            interference: self.interference.clone(),
            follow_redirects: self.follow_redirects,
            signer: self.signer.clone(),
            inbox: None,
            draining: true,
            settled: false,
            data: self.data.clone(),
            actions: Vec::new(),
            requests: Vec::new(),
            snapshots: vec![persisted.clone()],
            persisted,
            terminal: None,
            steps: 0,
            restores: 0,
            aborted: 0,
            answered: Vec::new(),
        })
    }

    /// Runs until `Done` or `Failed`, at most 100 000 steps.
    pub fn drive(&mut self) -> Result<Run, HarnessError> {
        self.drive_bounded(DEFAULT_MAX_STEPS)
    }

    /// Runs until `Done` or `Failed`, at most `max_steps` steps from now.
    pub fn drive_bounded(&mut self, max_steps: usize) -> Result<Run, HarnessError> {
        let mut taken = 0;
        loop {
            if let Some(outcome) = &self.terminal {
                return Ok(Run {
                    outcome: outcome.clone(),
                    data: self.data.clone(),
                    actions: self.actions.clone(),
                    requests: self.requests.clone(),
                    snapshots: self.snapshots.clone(),
                    steps: self.steps,
                    finished_at: self.now,
                });
            }
            if taken >= max_steps {
                return Err(HarnessError::NoTerminal { steps: taken });
            }
            self.step()?;
            taken += 1;
        }
    }

    /// Does one unit of host work: feeds the next piece of an arriving
    /// answer, or polls the job once and acts on the action.
    pub fn step(&mut self) -> Result<Stepped, HarnessError> {
        if self.terminal.is_some() {
            return Ok(Stepped::Finished);
        }
        self.steps = self.steps.saturating_add(1);
        if !self.draining {
            self.draining = true;
            if let Some(fed) = self.feed()? {
                return Ok(fed);
            }
        }
        self.max_now = self.max_now.max(self.now);
        let action = self.job.poll(self.now);
        self.act(&action)?;
        Ok(Stepped::Polled(action))
    }

    fn violation(&self, detail: String) -> HarnessError {
        HarnessError::Invariant {
            step: self.steps,
            detail,
        }
    }

    /// Feeds the next piece of the inbox, if any.
    fn feed(&mut self) -> Result<Option<Stepped>, HarnessError> {
        let Some(inbox) = self.inbox.as_mut() else {
            return Ok(None);
        };
        let id = inbox.id;
        inbox.started = true;
        self.settled = false;
        self.max_now = self.max_now.max(self.now);
        let (result, stepped) = if let Some((status, headers)) = inbox.head.take() {
            inbox.status = Some(status);
            let result = self.job.handle(
                self.now,
                Input::Head {
                    id,
                    status,
                    headers: &headers,
                },
            );
            (
                result,
                Stepped::Fed {
                    id,
                    input: "head",
                    bytes: 0,
                },
            )
        } else if inbox.fed < inbox.limit {
            let size = self.chunks.size(self.chunks_fed);
            self.chunks_fed = self.chunks_fed.wrapping_add(1);
            let end = inbox.fed.saturating_add(size).min(inbox.limit);
            let bytes = inbox.body.get(inbox.fed..end).unwrap_or_default();
            let result = self.job.handle(self.now, Input::Chunk { id, bytes });
            let fed = end - inbox.fed;
            inbox.fed = end;
            (
                result,
                Stepped::Fed {
                    id,
                    input: "chunk",
                    bytes: fed,
                },
            )
        } else {
            match inbox.ending.take() {
                Some(Ending::End) => {
                    let status = inbox.status.unwrap_or_default();
                    self.inbox = None;
                    let result = self.job.handle(self.now, Input::End { id });
                    if result.is_ok() {
                        self.answered.push((id, status));
                    }
                    (
                        result,
                        Stepped::Fed {
                            id,
                            input: "end",
                            bytes: 0,
                        },
                    )
                }
                Some(Ending::Fail(failure)) => {
                    self.inbox = None;
                    (
                        self.job
                            .handle(self.now, Input::TransportFailed { id, failure }),
                        Stepped::Fed {
                            id,
                            input: "transportFailed",
                            bytes: 0,
                        },
                    )
                }
                Some(Ending::Hang) | None => {
                    inbox.ending = Some(Ending::Hang);
                    return Ok(None);
                }
            }
        };
        match result {
            Ok(()) => Ok(Some(stepped)),
            // The job gave up on this request (timed out) before its answer
            // arrived: a late answer, harmless.
            Err(InputError::StaleRequest { .. }) => {
                self.inbox = None;
                Ok(Some(stepped))
            }
            Err(error) => Err(self.violation(format!(
                "the job refused the harness's {stepped:?}: {error}"
            ))),
        }
    }

    fn act(&mut self, action: &Action) -> Result<(), HarnessError> {
        let record = ActionRecord::of(self.now, action);
        self.actions.push(record);
        self.settled = matches!(action, Action::Wait { .. }) && self.inbox.is_none();
        match action {
            Action::Send(request) => {
                // A host persists before it sends: a create must be on record
                // before it can reach the provider.
                self.persist()?;
                self.send(request)?;
            }
            Action::Sign(request) => {
                let signature = self.signer.sign(request);
                self.settled = false;
                let input = Input::Signature {
                    id: request.id,
                    signature: &signature,
                };
                if let Err(error) = self.job.handle(self.now, input) {
                    return Err(self.violation(format!(
                        "the job refused the signature it asked for ({}): {error}",
                        request.id
                    )));
                }
            }
            Action::Wait { until, .. } => {
                if *until < self.max_now {
                    return Err(self.violation(format!(
                        "Wait until {until} is before the largest now seen, {}",
                        self.max_now
                    )));
                }
                self.persist()?;
                if self.inbox.as_ref().is_some_and(Inbox::has_input) {
                    self.draining = false;
                } else {
                    self.now = self.now.max(*until);
                }
            }
            Action::Event(Event::Data(chunk)) => {
                if chunk.offset != self.data.len() as u64 {
                    return Err(self.violation(format!(
                        "Data at offset {} but {} bytes delivered",
                        chunk.offset,
                        self.data.len()
                    )));
                }
                self.data.extend_from_slice(&chunk.bytes);
            }
            Action::Event(Event::DataReset { .. }) => self.data.clear(),
            Action::Event(_) => {}
            Action::Done(summary) => {
                if summary.bytes != self.data.len() as u64 {
                    return Err(self.violation(format!(
                        "Done reports {} bytes but {} were delivered",
                        summary.bytes,
                        self.data.len()
                    )));
                }
                match self.job.poll(self.now) {
                    Action::Done(again) if again == *summary => {}
                    other => {
                        return Err(self
                            .violation(format!("Done did not absorb: next poll gave {other:?}")))
                    }
                }
                self.terminal = Some(Ok(summary.clone()));
            }
            Action::Failed(error) => {
                match self.job.poll(self.now) {
                    Action::Failed(again) if again == *error => {}
                    other => {
                        return Err(self
                            .violation(format!("Failed did not absorb: next poll gave {other:?}")))
                    }
                }
                self.data.clear();
                self.terminal = Some(Err(error.clone()));
            }
        }
        Ok(())
    }

    /// Persists the job's snapshot (kept once per distinct content).
    /// Persists the job's snapshot, and checks that the text a host gets
    /// without the copy (`snapshot_json`) is the same.
    fn persist(&mut self) -> Result<(), HarnessError> {
        let persisted = self.job.snapshot().to_json();
        if self.job.snapshot_json() != persisted {
            return Err(self.violation(format!(
                "snapshot_json differs from snapshot().to_json(): {}",
                self.job.snapshot_json()
            )));
        }
        if self.snapshots.last() != Some(&persisted) {
            self.snapshots.push(persisted.clone());
        }
        self.persisted = persisted;
        Ok(())
    }

    fn send(&mut self, request: &HttpRequest) -> Result<(), HarnessError> {
        if let Some(inbox) = &self.inbox {
            // The job may give up on a request whose answer is still arriving:
            // after its deadline, or once it has judged the answer (a report
            // body that failed a check). A host then aborts that transfer.
            // Moving on before any answer arrived is a bug.
            if !inbox.started && self.max_now < inbox.deadline {
                return Err(self.violation(format!(
                    "Send {} while {} is in flight and unanswered",
                    request.id, inbox.id
                )));
            }
            self.aborted = self.aborted.saturating_add(1);
            self.inbox = None;
        }
        if let Some(Interference::Defer(ms)) = self.interference.front() {
            let until = self.now.saturating_add(*ms);
            self.interference.pop_front();
            self.actions.push(ActionRecord::Deferred {
                at: self.now,
                id: request.id,
                until,
            });
            return self
                .job
                .handle(
                    self.now,
                    Input::Deferred {
                        id: request.id,
                        until,
                    },
                )
                .map_err(|error| self.violation(format!("Deferred {}: {error}", request.id)));
        }
        self.requests.push(request.clone());
        let deadline = self.max_now.saturating_add(request.timeout_ms);
        if request.send_before.is_some_and(|before| self.now > before) {
            self.inbox = Some(Inbox::refused(
                request.id,
                deadline,
                Ending::Fail(TransportFailure::Expired),
            ));
            return Ok(());
        }
        let inbox = match self.interference.pop_front() {
            Some(Interference::Refuse(failure)) => {
                Inbox::refused(request.id, deadline, Ending::Fail(failure))
            }
            Some(Interference::LoseResponse) => {
                let _lost = self.exchange(request);
                Inbox::refused(request.id, deadline, Ending::Fail(TransportFailure::Reset))
            }
            Some(Interference::Hang) => {
                let _lost = self.exchange(request);
                Inbox::refused(request.id, deadline, Ending::Hang)
            }
            // Taken above, before the request counts as sent.
            Some(Interference::Defer(_)) => return Ok(()),
            None => {
                let response = self.exchange(request);
                Inbox::answer(request.id, deadline, response)
            }
        };
        self.inbox = Some(inbox);
        Ok(())
    }

    /// One HTTP exchange with the sandbox, following redirects when the
    /// request allows it (or the harness plays a browser).
    fn exchange(&mut self, request: &HttpRequest) -> SimResponse {
        let mut sim = SimRequest::from_http(request);
        let mut response = self.sandbox.handle(self.now, &sim);
        let follow = request.redirect == RedirectPolicy::Follow || self.follow_redirects;
        for _ in 0..MAX_REDIRECTS {
            let location = match response.header("location") {
                Some(location)
                    if follow && matches!(response.status, 301 | 302 | 303 | 307 | 308) =>
                {
                    location.to_owned()
                }
                _ => break,
            };
            let next = SimRequest::from_http(&HttpRequest {
                url: location,
                ..request.clone()
            });
            // Browsers, undici, curl and requests drop Authorization when a
            // redirect leaves the origin, as the download links do.
            if next.origin.is_some() && next.origin != sim.origin {
                sim.headers
                    .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
                sim.origin = next.origin;
            }
            if response.status == 303 {
                sim.method = Method::Get;
                sim.body.clear();
            }
            sim.target = next.target;
            response = self.sandbox.handle(self.now, &sim);
        }
        response
    }
}
