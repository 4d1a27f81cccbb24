//! [`ReportJob`]: one report lifecycle, driven by the host's inputs.

use std::collections::VecDeque;

use crate::action::{Action, Event, PartSummary, Phase, WaitReason};
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ErrorKind, InputError, RestoreError};
use crate::exchange::{Exchange, Ready, MAX_UNREAD_BYTES};
use crate::http::{Header, TransportFailure};
use crate::http::{HttpRequest, RequestId, ResponseLimits};
use crate::input::Input;
use crate::integrity::OpenForeignDecoder;
use crate::provider::Provider;
use crate::providers::registry::{BoundMachine, Credentials, JobSpec};
use crate::providers::{Cx, ExchangeFailure, Outgoing, Reply, Step};
use crate::rate::TokenBucket;
use crate::sign::{SignRequest, MAX_SIGNATURE_BYTES};
use crate::snapshot::{JobState, Snapshot, SnapshotRef, Terminal, FORMAT_VERSION};
use crate::time::Millis;

/// Passes of one `poll` before a machine that never settles is declared a bug.
const DRAIN_PASSES: usize = 8;

/// One report lifecycle as a pure state machine.
///
/// # Run loop
/// 1. Create the job with [`ReportJob::new`] (or [`ReportJob::restore`]).
/// 2. Call [`ReportJob::poll`] until it returns `Wait`, `Done` or `Failed`:
///    perform each `Send` (one at a time; feed its answer with `handle`),
///    deliver each `Event`.
/// 3. On `Wait { until }`, sleep until `until` or until a response arrives,
///    feed what arrived with [`ReportJob::handle`], and go to 2.
/// 4. `Done` and `Failed` are terminal and absorbing.
///
/// Invariants the host can rely on: at most one request is in flight; inputs
/// for any other id are ignored with [`InputError::StaleRequest`]; `now` may
/// jump backwards (the job uses the largest `now` it has seen); `Event::Data`
/// is provisional until `Done`.
#[derive(Debug)]
pub struct ReportJob {
    /// The provider machine with its credentials.
    machine: BoundMachine,
    state: JobState,
    exchange: Option<Exchange>,
    /// A request waiting for the host's signature (`Action::Sign`). Like the
    /// exchange, never persisted: a restored job builds and signs afresh.
    signing: Option<PendingSign>,
    events: VecDeque<Event>,
    /// The parts of the last report body that passed its checks, for the
    /// `Summary` of the `Done` that follows it.
    parts: Vec<PartSummary>,
    /// Charset decoders the host lends (see `with_foreign_charsets`); a
    /// host service like signing, so never persisted.
    foreign_charsets: Option<OpenForeignDecoder>,
}

impl ReportJob {
    /// Creates a job. Nothing is sent until the first `poll`.
    ///
    /// Fails if the spec is invalid or the credentials belong to another
    /// provider.
    pub fn new(
        spec: JobSpec,
        config: JobConfig,
        credentials: Credentials,
        now: Millis,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let machine = BoundMachine::new(spec, &config, credentials, now)?;
        let state = JobState {
            deadline: now.saturating_add(config.deadline_ms),
            config,
            clock: now,
            started_at: now,
            next_request_id: 1,
            requests: 0,
            phase: machine.phase(),
            terminal: None,
        };
        Ok(Self {
            machine,
            state,
            exchange: None,
            signing: None,
            events: VecDeque::new(),
            parts: Vec::new(),
            foreign_charsets: None,
        })
    }

    /// Continues a job from a [`snapshot`](Self::snapshot), with the same
    /// report id and counters. A request that was in flight is sent again (a
    /// download restarts from byte 0).
    ///
    /// A snapshot is untrusted data (it may have been edited or corrupted):
    /// `config` is the host's own, and it is the one the restored job runs
    /// with. The endpoints that receive credentials (`base_url`,
    /// `auth_base_url`) must be the snapshot's, or the restore is refused
    /// with [`RestoreError::EndpointMismatch`] before anything is sent.
    pub fn restore(
        snapshot: Snapshot,
        config: JobConfig,
        credentials: Credentials,
        now: Millis,
    ) -> Result<Self, RestoreError> {
        if snapshot.format_version != FORMAT_VERSION {
            return Err(RestoreError::UnsupportedVersion {
                found: snapshot.format_version,
                supported: FORMAT_VERSION,
            });
        }
        let saved = &snapshot.job.config;
        check_endpoint(
            "baseUrl",
            saved.base_url.as_deref(),
            config.base_url.as_deref(),
        )?;
        check_endpoint(
            "authBaseUrl",
            saved.auth_base_url.as_deref(),
            config.auth_base_url.as_deref(),
        )?;
        config.validate()?;
        let machine = BoundMachine::restore(snapshot.machine, credentials, now)?;
        let mut state = snapshot.job;
        match state.terminal.take() {
            Some(Terminal::Done(summary)) => {
                summary.check_restored(machine.provider(), machine.report_id())?;
                state.terminal = Some(Terminal::Done(summary));
            }
            // Its text is untrusted: printable, one line, bounded.
            Some(Terminal::Failed(error)) => {
                state.terminal = Some(Terminal::Failed(error.sanitized()))
            }
            None => {}
        }
        state.config = config;
        // The host's clock, not the snapshot's: a clock saved in the future
        // (an edited snapshot, a host whose clock was ahead) must not hold
        // every wait and timeout of the restored job.
        state.clock = now;
        Ok(Self {
            machine,
            state,
            exchange: None,
            signing: None,
            events: VecDeque::new(),
            parts: Vec::new(),
            foreign_charsets: None,
        })
    }

    /// Lends the job the host's charset decoders, for a build of the core
    /// without the feature `charsets` (a wasm module that leaves
    /// `encoding_rs` out): a report in Shift_JIS, windows-1252 or UTF-16 is
    /// then decoded by them instead of failing with
    /// [`RecordError::CharsetUnavailable`](crate::records::RecordError::CharsetUnavailable).
    /// A build with `charsets` decodes with its own and ignores them. Not
    /// part of a snapshot: lend them again after [`Self::restore`].
    #[must_use]
    pub fn with_foreign_charsets(mut self, open: OpenForeignDecoder) -> Self {
        self.foreign_charsets = Some(open);
        self
    }

    /// When the job fails with [`Error::DeadlineExceeded`]: `deadline_ms`
    /// after [`Self::new`], carried over by [`Self::restore`].
    pub fn deadline(&self) -> Millis {
        self.state.deadline
    }

    /// Moves the job's deadline to `deadline`, e.g. to give a restored job
    /// more time. A job that failed only because its deadline passed (and
    /// was snapshotted or kept) continues when the new deadline lies ahead
    /// of the job's clock.
    pub fn set_deadline(&mut self, deadline: Millis) {
        self.state.deadline = deadline;
        let expired = matches!(
            self.state.terminal,
            Some(Terminal::Failed(Error::DeadlineExceeded { .. }))
        );
        if expired && deadline > self.state.clock {
            self.state.terminal = None;
            self.state.phase = self.machine.phase();
        }
    }

    /// The configuration the job runs with (the host's: see [`Self::restore`]).
    pub fn config(&self) -> &JobConfig {
        &self.state.config
    }

    /// The job as plain, versioned, secret-free data. Take it after a drain
    /// (when `poll` returned `Wait`) and persist it; [`Self::restore`] picks up
    /// from there.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            format_version: FORMAT_VERSION,
            machine: self.machine.saved(),
            job: self.state.clone(),
        }
    }

    /// [`Self::snapshot`] as JSON text ([`Snapshot::to_json`]), written
    /// from the job without copying it first: for a host that stores the
    /// text after every step.
    pub fn snapshot_json(&self) -> String {
        SnapshotRef {
            format_version: FORMAT_VERSION,
            machine: self.machine.saved_ref(),
            job: &self.state,
        }
        .to_json()
    }

    /// The provider of this job.
    pub fn provider(&self) -> Provider {
        self.machine.provider()
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.state.phase
    }

    /// The provider's report id, once the report was created.
    pub fn report_id(&self) -> Option<&str> {
        self.machine.report_id()
    }

    /// HTTP requests sent so far, all attempts included.
    pub fn requests_sent(&self) -> u32 {
        self.state.requests
    }

    /// Whether the job has ended (`Done` or `Failed`).
    pub fn is_finished(&self) -> bool {
        self.state.terminal.is_some()
    }

    /// The rate buckets the request in flight drew its token from, as this
    /// job sees them (name, capacity, refill, tokens left). A host that
    /// shares one budget between the jobs of an account sizes its shared
    /// bucket by these, so the quota tables live once, in the providers.
    /// Empty when nothing is in flight or no quota counts the request.
    pub fn budgets_in_flight(&self) -> Vec<TokenBucket> {
        self.machine.budgets_in_flight()
    }

    /// This job's own rate bucket named `name` (see
    /// [`Self::budgets_in_flight`]): after an answer it holds what the
    /// provider said (a throttle, a quota header), for the host to share.
    pub fn rate_budget(&self, name: &str) -> Option<&TokenBucket> {
        self.machine.rate_budget(name)
    }

    fn observe(&mut self, now: Millis) -> Millis {
        self.state.clock = self.state.clock.max(now);
        self.state.clock
    }

    /// Feeds an input. Call [`Self::poll`] until it returns `Wait`, `Done` or
    /// `Failed` afterwards.
    ///
    /// Errors are host misuse (stale id, wrong order, input after the end);
    /// they leave the job unchanged and are safe to ignore.
    pub fn handle(&mut self, now: Millis, input: Input<'_>) -> Result<(), InputError> {
        self.observe(now);
        if self.state.terminal.is_some() {
            return Err(InputError::Finished);
        }
        let id = match &input {
            Input::Cancel => {
                self.exchange = None;
                self.signing = None;
                self.events.clear();
                self.finish(Terminal::Failed(Error::Cancelled));
                return Ok(());
            }
            Input::Signature { id, signature } => {
                let (id, clock) = (*id, self.state.clock);
                return match self.signing.as_mut() {
                    Some(pending)
                        if pending.id == id
                            && pending.signature.is_none()
                            && clock < pending.sign_before =>
                    {
                        pending.accept(signature)
                    }
                    _ => Err(InputError::StaleSignature { id }),
                };
            }
            Input::Head { id, .. }
            | Input::Chunk { id, .. }
            | Input::End { id }
            | Input::TransportFailed { id, .. }
            | Input::Deferred { id, .. } => *id,
        };
        let Some(exchange) = self.exchange.as_mut().filter(|exchange| exchange.id == id) else {
            return Err(InputError::StaleRequest { id });
        };
        if let Input::Deferred { until, .. } = input {
            if !exchange.awaiting_head() {
                return Err(InputError::OutOfOrder {
                    id,
                    detail: "Deferred after Head: the request was sent".to_owned(),
                });
            }
            self.exchange = None;
            self.state.requests = self.state.requests.saturating_sub(1);
            self.machine.defer(self.state.clock, until);
            return Ok(());
        }
        if let Input::Chunk { bytes, .. } = &input {
            let unread = exchange.unread_bytes();
            if unread > 0 && unread.saturating_add(bytes.len() as u64) > MAX_UNREAD_BYTES {
                return Err(InputError::Backpressure {
                    id,
                    unread,
                    limit: MAX_UNREAD_BYTES,
                });
            }
        }
        let result = match input {
            Input::Head {
                status, headers, ..
            } => exchange.head(status, headers),
            Input::Chunk { bytes, .. } => exchange.chunk(bytes),
            Input::End { .. } => exchange.end(),
            Input::TransportFailed { failure, .. } => {
                exchange.fail(failure);
                Ok(())
            }
            Input::Cancel | Input::Deferred { .. } | Input::Signature { .. } => return Ok(()),
        };
        result.map_err(|detail| InputError::OutOfOrder {
            id,
            detail: detail.to_owned(),
        })
    }

    /// The next action. See the run loop in the type's documentation.
    pub fn poll(&mut self, now: Millis) -> Action {
        let now = self.observe(now);
        // Each pass either returns or retires the exchange, so two passes
        // suffice; a machine that keeps deciding without acting is a bug,
        // and ends the job loudly below.
        for _ in 0..DRAIN_PASSES {
            // Events first: the last `PhaseChanged` (and a `DataReset`) precede the terminal.
            if let Some(event) = self.events.pop_front() {
                return Action::Event(event);
            }
            if let Some(terminal) = &self.state.terminal {
                return match terminal {
                    Terminal::Done(summary) => Action::Done(summary.clone()),
                    Terminal::Failed(error) => Action::Failed(error.clone()),
                };
            }
            if let Some(exchange) = self.exchange.as_mut() {
                let voids_data = exchange.delivered_data();
                match exchange.advance(self.state.config.data_chunk_bytes as usize) {
                    Ready::Event(event) => return Action::Event(event),
                    Ready::Over(reply) => {
                        let parts = exchange.take_parts();
                        self.exchange = None;
                        if matches!(reply, Reply::Report { .. }) {
                            self.parts = parts;
                        }
                        if voids_data && !matches!(reply, Reply::Report { .. }) {
                            self.events.push_back(Event::DataReset {
                                cause: reply.failure_kind(),
                            });
                        }
                        self.deliver(now, reply);
                        continue;
                    }
                    Ready::Nothing if now >= exchange.deadline => {
                        self.exchange = None;
                        if voids_data {
                            self.events.push_back(Event::DataReset {
                                cause: ErrorKind::Transport,
                            });
                        }
                        self.deliver(now, Reply::Failed(ExchangeFailure::TimedOut));
                        continue;
                    }
                    Ready::Nothing => {
                        return Action::Wait {
                            until: exchange.deadline,
                            reason: WaitReason::AwaitingResponse { id: exchange.id },
                        }
                    }
                }
            }
            if let Some(pending) = self.signing.take() {
                match pending.signature {
                    Some(_) => return self.send(now, pending.into_signed()),
                    // Stale: the machine hears what a host that let a signed
                    // request lapse reports, and builds (and signs) anew.
                    None if now >= pending.sign_before => {
                        self.deliver(
                            now,
                            Reply::Failed(ExchangeFailure::Transport(TransportFailure::Expired)),
                        );
                        continue;
                    }
                    None => {
                        let (until, id) = (pending.sign_before, pending.id);
                        self.signing = Some(pending);
                        return Action::Wait {
                            until,
                            reason: WaitReason::AwaitingSignature { id },
                        };
                    }
                }
            }
            let step = self.step(now);
            match step {
                Step::Send(outgoing) if outgoing.signing.is_some() => {
                    return self.ask_signature(now, outgoing)
                }
                Step::Send(outgoing) => return self.send(now, outgoing),
                Step::Wait { until, reason } => {
                    if until > self.state.deadline {
                        self.finish(Terminal::Failed(Error::DeadlineExceeded {
                            deadline: self.state.deadline,
                        }));
                        continue;
                    }
                    if !self.events.is_empty() {
                        continue;
                    }
                    return Action::Wait {
                        until: until.max(now),
                        reason,
                    };
                }
                Step::Done(mut summary) => {
                    summary.requests = self.state.requests;
                    if summary.parts.is_empty() {
                        summary.parts = std::mem::take(&mut self.parts);
                    }
                    self.finish(Terminal::Done(summary));
                }
                Step::Failed(error) => self.finish(Terminal::Failed(error)),
            }
        }
        self.finish(Terminal::Failed(Error::internal(format!(
            "the {} machine did not settle within {DRAIN_PASSES} passes of one poll",
            self.machine.provider()
        ))));
        self.poll(now)
    }

    fn step(&mut self, now: Millis) -> Step {
        let before = self.state.phase;
        let mut cx = Cx::new(now, &self.state.config, &mut self.events);
        let step = self.machine.next(&mut cx);
        self.note_phase(before);
        step
    }

    fn deliver(&mut self, now: Millis, reply: Reply) {
        let before = self.state.phase;
        let mut cx = Cx::new(now, &self.state.config, &mut self.events);
        self.machine.on_reply(&mut cx, reply);
        self.note_phase(before);
    }

    fn note_phase(&mut self, before: Phase) {
        let after = self.machine.phase();
        if after != before {
            self.state.phase = after;
            self.events.push_back(Event::PhaseChanged {
                from: before,
                to: after,
            });
        }
    }

    /// The next id of the one sequence sign requests and HTTP requests share.
    fn next_id(&mut self) -> RequestId {
        let id = RequestId::new(self.state.next_request_id.min(RequestId::MAX));
        self.state.next_request_id = self.state.next_request_id.saturating_add(1);
        id
    }

    /// Parks a request that lacks its signature and asks the host for it.
    fn ask_signature(&mut self, now: Millis, mut outgoing: Outgoing) -> Action {
        let Some(signing) = outgoing.signing.take() else {
            return self.send(now, outgoing);
        };
        let id = self.next_id();
        let sign_before = outgoing
            .send_before
            .unwrap_or_else(|| now.saturating_add(self.state.config.request_timeout_ms));
        let request = SignRequest {
            id,
            key_id: signing.key_id.clone(),
            algorithm: signing.algorithm,
            message: signing.message.clone(),
            sign_before,
        };
        self.signing = Some(PendingSign {
            id,
            sign_before,
            outgoing,
            header: signing.header,
            prefix: signing.prefix,
            signature: None,
        });
        Action::Sign(request)
    }

    fn send(&mut self, now: Millis, outgoing: Outgoing) -> Action {
        let id = self.next_id();
        let config = &self.state.config;
        self.state.requests = self.state.requests.saturating_add(1);
        let is_report = outgoing.report_body.is_some();
        let timeout_ms = if is_report {
            config.download_timeout_ms
        } else {
            config.request_timeout_ms
        };
        let max_body_bytes = if is_report {
            config.report_limits.max_compressed_bytes
        } else {
            config.max_api_body_bytes
        };
        self.exchange = Some(
            Exchange::new(
                id,
                now.saturating_add(timeout_ms),
                outgoing.endpoint,
                config.max_header_bytes,
                config.max_api_body_bytes,
                outgoing.report_body,
                config.report_limits,
            )
            .with_fingerprint(config.md5_fingerprint)
            .with_foreign_charsets(self.foreign_charsets),
        );
        Action::Send(HttpRequest {
            id,
            method: outgoing.method,
            url: outgoing.url,
            headers: outgoing.headers,
            body: outgoing.body,
            limits: ResponseLimits {
                max_header_bytes: config.max_header_bytes,
                max_body_bytes,
            },
            timeout_ms,
            send_before: outgoing.send_before,
            redirect: outgoing.redirect,
            endpoint: outgoing.endpoint,
        })
    }

    fn finish(&mut self, terminal: Terminal) {
        if self.state.terminal.is_none() {
            let before = self.state.phase;
            self.state.phase = Phase::Finished;
            self.state.terminal = Some(terminal);
            if before != Phase::Finished {
                self.events.push_back(Event::PhaseChanged {
                    from: before,
                    to: Phase::Finished,
                });
            }
        }
    }
}

/// A request parked until the host's signature arrives.
#[derive(Debug)]
struct PendingSign {
    id: RequestId,
    sign_before: Millis,
    outgoing: Outgoing,
    header: &'static str,
    prefix: String,
    /// The signature, base64, once the host answered.
    signature: Option<String>,
}

impl PendingSign {
    /// Takes the host's signature, or refuses one no algorithm produces.
    fn accept(&mut self, signature: &[u8]) -> Result<(), InputError> {
        use base64::Engine as _;
        if signature.is_empty() || signature.len() > MAX_SIGNATURE_BYTES {
            return Err(InputError::Invalid {
                detail: format!(
                    "sign request {}: a signature of {} bytes (expected 1 to {MAX_SIGNATURE_BYTES} raw bytes, not base64 text)",
                    self.id,
                    signature.len()
                ),
            });
        }
        self.signature = Some(base64::engine::general_purpose::STANDARD.encode(signature));
        Ok(())
    }

    /// The request with its signature header, ready to send.
    fn into_signed(mut self) -> Outgoing {
        let value = format!("{}{}", self.prefix, self.signature.unwrap_or_default());
        // A signature authorizes the request (until its date ages): kept out
        // of every `Debug`.
        self.outgoing
            .headers
            .push(Header::secret(self.header, value));
        self.outgoing
    }
}

/// Refuses a snapshot whose endpoint `field` differs from the host's.
fn check_endpoint(
    field: &str,
    snapshot: Option<&str>,
    host: Option<&str>,
) -> Result<(), RestoreError> {
    let normalize = |url: Option<&str>| url.map(|url| url.trim_end_matches('/').to_owned());
    if normalize(snapshot) == normalize(host) {
        return Ok(());
    }
    let describe = |url: Option<&str>| {
        url.map_or_else(|| "the provider's own origin".to_owned(), ToOwned::to_owned)
    };
    Err(RestoreError::EndpointMismatch {
        field: field.to_owned(),
        snapshot: describe(snapshot),
        host: describe(host),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ReportLimit;
    use crate::integrity::{IntegrityError, Md5};
    use crate::providers::amazon_ads::{self, RecordType, Region, ReportSpec, Tactic};

    fn job(now: u64) -> ReportJob {
        let spec = ReportSpec::new(
            Region::Na,
            "42",
            RecordType::Campaigns,
            "20240301",
            Tactic::T00020,
            vec!["clicks".into()],
        );
        let credentials = amazon_ads::Credentials::new("client", "secret", "Atzr|refresh")
            .with_access_token("Atza|token", None);
        ReportJob::new(
            JobSpec::AmazonAds(spec),
            JobConfig::default(),
            Credentials::AmazonAds(credentials),
            Millis(now),
        )
        .unwrap()
    }

    fn next_send(job: &mut ReportJob, now: u64) -> HttpRequest {
        for _ in 0..20 {
            match job.poll(Millis(now)) {
                Action::Send(request) => return request,
                Action::Event(_) => {}
                other => panic!("expected a request, got {other:?}"),
            }
        }
        panic!("no request");
    }

    #[test]
    fn the_request_in_flight_names_the_buckets_a_shared_budget_is_sized_by() {
        let mut job = job(1_000);
        assert!(job.budgets_in_flight().is_empty(), "nothing in flight yet");
        let create = next_send(&mut job, 1_000);
        let buckets = job.budgets_in_flight();
        assert_eq!(buckets.len(), 1, "{buckets:?}");
        let bucket = &buckets[0];
        assert_eq!((bucket.capacity(), bucket.refill_every_ms()), (5, 1_000));
        let own = job.rate_budget(bucket.name()).unwrap();
        assert_eq!(own, bucket, "a clone of the job's own bucket");
        // A 429 empties the job's own bucket: what a fleet shares.
        answer(&mut job, 1_010, create.id, 429, b"{}");
        let _ = drain(&mut job, 1_010);
        let mut own = job.rate_budget(bucket.name()).unwrap().clone();
        assert!(own.ready_at(Millis(1_010)) > Millis(1_010));
        assert!(job.budgets_in_flight().is_empty(), "the answer settled it");
        assert!(job.rate_budget("no-such-bucket").is_none());
    }

    fn drain(job: &mut ReportJob, now: u64) -> (Vec<Event>, Action) {
        let mut events = Vec::new();
        for _ in 0..50 {
            match job.poll(Millis(now)) {
                Action::Event(event) => events.push(event),
                other => return (events, other),
            }
        }
        panic!("poll never settled");
    }

    fn answer(job: &mut ReportJob, now: u64, id: RequestId, status: u16, body: &[u8]) {
        job.handle(
            Millis(now),
            Input::Head {
                id,
                status,
                headers: &[],
            },
        )
        .unwrap();
        job.handle(Millis(now), Input::Chunk { id, bytes: body })
            .unwrap();
        job.handle(Millis(now), Input::End { id }).unwrap();
    }

    /// Drives the Ads job of `job_with` to its S3 download and returns it.
    fn to_download(job: &mut ReportJob) -> (HttpRequest, u64) {
        let create = next_send(job, 0);
        answer(job, 0, create.id, 202, br#"{"reportId":"r-1"}"#);
        let (_, Action::Wait { until, .. }) = drain(job, 0) else {
            panic!("no poll wait")
        };
        let now = until.as_u64();
        let status = next_send(job, now);
        answer(
            job,
            now,
            status.id,
            200,
            br#"{"reportId":"r-1","status":"SUCCESS"}"#,
        );
        let resolve = next_send(job, now);
        let location = vec![(
            "Location".to_owned(),
            "https://s3.example/r-1.json.gz".to_owned(),
        )];
        job.handle(
            Millis(now),
            Input::Head {
                id: resolve.id,
                status: 307,
                headers: &location,
            },
        )
        .unwrap();
        job.handle(Millis(now), Input::End { id: resolve.id })
            .unwrap();
        (next_send(job, now), now)
    }

    fn job_with(config: JobConfig) -> ReportJob {
        let spec = ReportSpec::new(
            Region::Na,
            "42",
            RecordType::Campaigns,
            "20240301",
            Tactic::T00020,
            vec!["clicks".into()],
        );
        let credentials = amazon_ads::Credentials::new("client", "secret", "Atzr|refresh")
            .with_access_token("Atza|token", None);
        ReportJob::new(
            JobSpec::AmazonAds(spec),
            config,
            Credentials::AmazonAds(credentials),
            Millis(0),
        )
        .unwrap()
    }

    #[test]
    fn a_streamed_body_that_contradicts_its_content_md5_ends_in_md5_mismatch() {
        let config = JobConfig {
            max_link_refreshes: 0,
            ..JobConfig::default()
        };
        let mut job = job_with(config);
        let (download, now) = to_download(&mut job);
        let body = br#"[{"campaignId":1,"clicks":2}]"#;
        let published = Md5::digest(b"the report Amazon meant to send");
        let headers = vec![("Content-MD5".to_owned(), published.to_base64())];
        job.handle(
            Millis(now),
            Input::Head {
                id: download.id,
                status: 200,
                headers: &headers,
            },
        )
        .unwrap();
        job.handle(
            Millis(now),
            Input::Chunk {
                id: download.id,
                bytes: body,
            },
        )
        .unwrap();
        job.handle(Millis(now), Input::End { id: download.id })
            .unwrap();
        let (events, action) = drain(&mut job, now);
        assert!(
            events.iter().any(|e| matches!(e, Event::Data(_))),
            "{events:?}"
        );
        assert!(
            events.contains(&Event::DataReset {
                cause: ErrorKind::Md5Mismatch
            }),
            "{events:?}"
        );
        match action {
            Action::Failed(Error::Integrity(IntegrityError::Md5Mismatch { expected, actual })) => {
                assert_eq!(expected, published.to_hex());
                assert_eq!(actual, Md5::digest(body).to_hex());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn amazon_ads_report_over_report_limits_ends_after_one_download() {
        let mut config = JobConfig::default();
        config.report_limits.max_decompressed_bytes = 64;
        let mut job = job_with(config);
        let (download, now) = to_download(&mut job);
        let rows: Vec<String> = (0..50)
            .map(|i| format!(r#"{{"campaignId":{i},"clicks":1}}"#))
            .collect();
        let body = format!("[{}]", rows.join(","));
        answer(&mut job, now, download.id, 200, body.as_bytes());
        let (_, action) = drain(&mut job, now);
        match action {
            Action::Failed(error @ Error::ReportTooLarge { .. }) => {
                assert!(!error.is_retryable());
                assert_eq!(error.kind(), ErrorKind::ReportTooLarge);
                assert!(
                    error.to_string().contains("maxDecompressedBytes"),
                    "{error}"
                );
            }
            other => panic!("{other:?}"),
        }
        // One download: the S3 link was not asked for again.
        assert_eq!(job.requests_sent(), 4);
    }

    #[test]
    fn one_request_in_flight_and_a_wait_until_its_timeout() {
        let mut job = job(1_000);
        let create = next_send(&mut job, 1_000);
        assert!(create.url.ends_with("/sd/campaigns/report"));
        let (_, action) = drain(&mut job, 1_000);
        match action {
            Action::Wait {
                until,
                reason: WaitReason::AwaitingResponse { id },
            } => {
                assert_eq!(id, create.id);
                assert_eq!(
                    until,
                    Millis(1_000 + JobConfig::default().request_timeout_ms)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nothing_is_accepted_for_a_request_after_the_host_ended_it() {
        for first in [
            Input::TransportFailed {
                id: RequestId::new(1),
                failure: TransportFailure::Reset,
            },
            Input::End {
                id: RequestId::new(1),
            },
        ] {
            let mut job = job(0);
            let create = next_send(&mut job, 0);
            assert_eq!(create.id, RequestId::new(1));
            let ending = format!("{first:?}");
            if matches!(first, Input::End { .. }) {
                let headers = [("Content-Type".to_owned(), "application/json".to_owned())];
                let head = Input::Head {
                    id: create.id,
                    status: 202,
                    headers: &headers,
                };
                job.handle(Millis(0), head).unwrap();
            }
            job.handle(Millis(0), first).unwrap();
            // Before the job has polled the ending away, the request is
            // over for the host: a second ending or more bytes are out of
            // order, not taken.
            for late in [
                Input::End { id: create.id },
                Input::Chunk {
                    id: create.id,
                    bytes: b"{}",
                },
            ] {
                assert!(
                    matches!(
                        job.handle(Millis(0), late),
                        Err(InputError::OutOfOrder { .. })
                    ),
                    "{ending}"
                );
            }
        }
    }

    #[test]
    fn stale_and_out_of_order_inputs_are_typed_and_harmless() {
        let mut job = job(0);
        let create = next_send(&mut job, 0);
        let stale = RequestId::new(create.id.get() + 7);
        assert_eq!(
            job.handle(Millis(0), Input::End { id: stale }),
            Err(InputError::StaleRequest { id: stale })
        );
        assert!(matches!(
            job.handle(
                Millis(0),
                Input::Chunk {
                    id: create.id,
                    bytes: b"x"
                }
            ),
            Err(InputError::OutOfOrder { .. })
        ));
        answer(
            &mut job,
            0,
            create.id,
            202,
            br#"{"reportId":"r-1","status":"IN_PROGRESS"}"#,
        );
        let (events, action) = drain(&mut job, 0);
        assert!(
            events.contains(&Event::ReportCreated {
                report_id: "r-1".into()
            }),
            "{events:?}"
        );
        assert!(
            matches!(
                action,
                Action::Wait {
                    reason: WaitReason::PollBackoff,
                    ..
                }
            ),
            "{action:?}"
        );
        // The answered id is now stale.
        assert_eq!(
            job.handle(Millis(0), Input::End { id: create.id }),
            Err(InputError::StaleRequest { id: create.id })
        );
        assert_eq!(job.report_id(), Some("r-1"));
    }

    #[test]
    fn a_silent_create_is_not_repeated_unless_the_config_allows_it() {
        let mut job = job(0);
        let first = next_send(&mut job, 0);
        assert!(first.url.ends_with("/sd/campaigns/report"));
        let timeout = JobConfig::default().request_timeout_ms;
        let (_, action) = drain(&mut job, timeout);
        match action {
            Action::Failed(error @ Error::ReportMayExist { .. }) => {
                assert_eq!(error.kind(), ErrorKind::ReportMayExist);
                assert!(!error.is_retryable());
                let message = error.to_string();
                assert!(message.contains("1970-01-01 00:00:00 UTC"), "{message}");
                assert!(message.contains("allowDuplicateReports"), "{message}");
            }
            other => panic!("{other:?}"),
        }

        let mut job = job_with(JobConfig {
            allow_duplicate_reports: true,
            ..JobConfig::default()
        });
        let first = next_send(&mut job, 0);
        let (events, action) = drain(&mut job, timeout);
        assert!(
            events.iter().any(|e| matches!(
                e,
                Event::Retrying {
                    cause: ErrorKind::Transport,
                    ..
                }
            )),
            "{events:?}"
        );
        let Action::Wait { until, .. } = action else {
            panic!("{action:?}")
        };
        let second = next_send(&mut job, until.as_u64());
        assert!(second.id > first.id);
        assert_eq!(second.url, first.url);
    }

    #[test]
    fn a_create_in_flight_at_a_crash_is_not_sent_again() {
        let mut job = job(0);
        let _create = next_send(&mut job, 0);
        // The host persisted this snapshot before sending, then died.
        let text = job.snapshot().to_json();
        let mut restored = restore_text(&text, JobConfig::default()).unwrap();
        let (_, action) = drain(&mut restored, 5);
        assert!(
            matches!(action, Action::Failed(Error::ReportMayExist { .. })),
            "{action:?}"
        );
        assert_eq!(
            restored.requests_sent(),
            1,
            "nothing sent after the restore"
        );
        // Allowed by the host's config: a second create, after a token.
        let mut allowed = restore_text(
            &text,
            JobConfig {
                allow_duplicate_reports: true,
                ..JobConfig::default()
            },
        )
        .unwrap();
        let token = next_send(&mut allowed, 5);
        assert!(token.url.ends_with("/auth/o2/token"), "{}", token.url);
    }

    #[test]
    fn a_deferred_create_is_forgotten_and_asked_again_at_the_hosts_instant() {
        let mut job = job(0);
        let create = next_send(&mut job, 0);
        assert_eq!(create.endpoint, "POST /sd/{recordType}/report");
        job.handle(
            Millis(10),
            Input::Deferred {
                id: create.id,
                until: Millis(60_000),
            },
        )
        .unwrap();
        assert_eq!(job.requests_sent(), 0, "a deferred request was never sent");
        assert!(
            !job.snapshot().to_json().contains("\"createSent\":0"),
            "no report may exist: the create never went out"
        );
        let (_, action) = drain(&mut job, 10);
        assert!(
            matches!(
                action,
                Action::Wait {
                    until: Millis(60_000),
                    reason: WaitReason::Deferred
                }
            ),
            "{action:?}"
        );
        // A crash now restores to a job that goes on (a token first, as
        // every restored job), not to `ReportMayExist`.
        let mut restored = restore_text(&job.snapshot().to_json(), JobConfig::default()).unwrap();
        let token = next_send(&mut restored, 60_000);
        assert_eq!(token.endpoint, "POST /auth/o2/token");

        let again = next_send(&mut job, 60_000);
        assert_eq!((again.method, again.url), (create.method, create.url));
        assert_ne!(again.id, create.id, "a fresh request");
        assert_eq!(job.requests_sent(), 1);
    }

    #[test]
    fn deferrals_spend_no_attempts() {
        let mut job = job(0);
        let mut now = 0;
        // Far more deferrals than the retry budget allows failures.
        for _ in 0..(JobConfig::default().retry.max_attempts * 3) {
            let request = next_send(&mut job, now);
            now += 1_000;
            job.handle(
                Millis(now),
                Input::Deferred {
                    id: request.id,
                    until: Millis(now),
                },
            )
            .unwrap();
        }
        let create = next_send(&mut job, now);
        answer(
            &mut job,
            now,
            create.id,
            202,
            br#"{"reportId":"r-1","status":"IN_PROGRESS"}"#,
        );
        let (events, _) = drain(&mut job, now);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::ReportCreated { report_id } if report_id == "r-1")),
            "{events:?}"
        );
    }

    #[test]
    fn a_deferral_after_the_answer_began_is_refused() {
        let mut job = job(0);
        let create = next_send(&mut job, 0);
        job.handle(
            Millis(0),
            Input::Head {
                id: create.id,
                status: 202,
                headers: &[],
            },
        )
        .unwrap();
        let late = job.handle(
            Millis(0),
            Input::Deferred {
                id: create.id,
                until: Millis(9),
            },
        );
        assert!(
            matches!(late, Err(InputError::OutOfOrder { .. })),
            "{late:?}"
        );
        let stale = job.handle(
            Millis(0),
            Input::Deferred {
                id: RequestId::new(99),
                until: Millis(9),
            },
        );
        assert!(
            matches!(stale, Err(InputError::StaleRequest { .. })),
            "{stale:?}"
        );
        assert_eq!(job.requests_sent(), 1);
    }

    #[test]
    fn a_refused_connection_is_not_a_lost_create() {
        let mut job = job(0);
        let first = next_send(&mut job, 0);
        job.handle(
            Millis(0),
            Input::TransportFailed {
                id: first.id,
                failure: crate::http::TransportFailure::Connect,
            },
        )
        .unwrap();
        let (_, action) = drain(&mut job, 0);
        let Action::Wait { until, .. } = action else {
            panic!("{action:?}")
        };
        let second = next_send(&mut job, until.as_u64());
        assert_eq!(second.url, first.url);
    }

    #[test]
    fn an_oversized_api_response_is_a_typed_failure_not_a_buffer() {
        let mut job = job(0);
        let create = next_send(&mut job, 0);
        job.handle(
            Millis(0),
            Input::Head {
                id: create.id,
                status: 202,
                headers: &[],
            },
        )
        .unwrap();
        let big = vec![b' '; 1 << 20];
        for _ in 0..8 {
            job.handle(
                Millis(0),
                Input::Chunk {
                    id: create.id,
                    bytes: &big,
                },
            )
            .unwrap();
        }
        job.handle(Millis(0), Input::End { id: create.id }).unwrap();
        let (events, _) = drain(&mut job, 0);
        assert!(
            events.iter().any(|e| matches!(
                e,
                Event::Retrying {
                    cause: ErrorKind::ResponseTooLarge,
                    ..
                }
            )),
            "{events:?}"
        );
    }

    #[test]
    fn huge_headers_are_refused() {
        let mut job = job(0);
        let create = next_send(&mut job, 0);
        let headers = vec![("x-junk".to_owned(), "a".repeat(70_000))];
        job.handle(
            Millis(0),
            Input::Head {
                id: create.id,
                status: 202,
                headers: &headers,
            },
        )
        .unwrap();
        let (events, _) = drain(&mut job, 0);
        assert!(
            events.iter().any(|e| matches!(
                e,
                Event::Retrying {
                    cause: ErrorKind::ResponseTooLarge,
                    ..
                }
            )),
            "{events:?}"
        );
    }

    #[test]
    fn cancel_is_terminal_and_absorbing() {
        let mut job = job(0);
        let _ = next_send(&mut job, 0);
        job.handle(Millis(0), Input::Cancel).unwrap();
        let (_, action) = drain(&mut job, 0);
        assert!(matches!(action, Action::Failed(Error::Cancelled)));
        assert!(matches!(
            job.poll(Millis(5)),
            Action::Failed(Error::Cancelled)
        ));
        assert_eq!(
            job.handle(Millis(5), Input::Cancel),
            Err(InputError::Finished)
        );
    }

    #[test]
    fn the_clock_never_runs_backwards() {
        let start = 7_200_000;
        let mut job = job(start);
        let create = next_send(&mut job, start);
        answer(&mut job, start, create.id, 202, br#"{"reportId":"r-1"}"#);
        let (_, action) = drain(&mut job, start);
        let Action::Wait { until, .. } = action else {
            panic!("{action:?}")
        };
        // A host clock that jumps back an hour still gets a wait no earlier than before.
        let (_, again) = drain(&mut job, start - 3_600_000);
        let Action::Wait {
            until: again_until, ..
        } = again
        else {
            panic!("{again:?}")
        };
        assert_eq!(again_until, until);
    }

    #[test]
    fn rejections_carry_amazons_message() {
        let mut job = job(0);
        let create = next_send(&mut job, 0);
        answer(
            &mut job,
            0,
            create.id,
            422,
            br#"{"code":"422","details":"Invalid metric: clickz"}"#,
        );
        let (_, action) = drain(&mut job, 0);
        match action {
            Action::Failed(error @ Error::Rejected { status: 422, .. }) => {
                assert!(
                    error.to_string().contains("Invalid metric: clickz"),
                    "{error}"
                );
                assert_eq!(error.blame(), crate::error::Blame::Config);
                assert!(!error.is_retryable());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn config_typos_are_refused_not_ignored() {
        let parsed: JobConfig =
            serde_json::from_str(r#"{"seed":7,"reportLimits":{"maxCompressedBytes":9}}"#).unwrap();
        assert_eq!(parsed.seed, 7);
        assert_eq!(parsed.report_limits.max_compressed_bytes, 9);
        let typo = serde_json::from_str::<JobConfig>(r#"{"deadlineMS":1}"#)
            .unwrap_err()
            .to_string();
        assert!(typo.contains("deadlineMS"), "{typo}");
    }

    #[test]
    fn snapshots_are_versioned_and_secret_free() {
        let snapshot = job(0).snapshot();
        assert_eq!(snapshot.format_version(), FORMAT_VERSION);
        let text = snapshot.to_json();
        assert!(
            !text.contains("Atza|token") && !text.contains("secret") && !text.contains("Atzr"),
            "{text}"
        );
        let restored = Snapshot::from_json(&text).unwrap();
        assert_eq!(restored, snapshot);
        let bumped = text.replacen("\"formatVersion\":3", "\"formatVersion\":99", 1);
        assert!(matches!(
            Snapshot::from_json(&bumped),
            Err(RestoreError::UnsupportedVersion { found: 99, .. })
        ));
        assert!(matches!(
            Snapshot::from_json("{]"),
            Err(RestoreError::Malformed { .. })
        ));
    }

    #[test]
    fn a_snapshot_pointing_credentials_elsewhere_is_refused() {
        let config = JobConfig {
            base_url: Some("http://127.0.0.1:9/amazon-ads".into()),
            auth_base_url: Some("http://127.0.0.1:9/amazon-ads".into()),
            ..JobConfig::default()
        };
        let job = job_with(config.clone());
        let text = job.snapshot().to_json();
        let credentials = || {
            Credentials::AmazonAds(amazon_ads::Credentials::new(
                "client",
                "secret",
                "Atzr|refresh",
            ))
        };
        for (field, key) in [("baseUrl", "baseUrl"), ("authBaseUrl", "authBaseUrl")] {
            let edited = text.replacen(
                &format!("\"{key}\":\"http://127.0.0.1:9/amazon-ads\""),
                &format!("\"{key}\":\"https://attacker.example\""),
                1,
            );
            assert_ne!(edited, text);
            let snapshot = Snapshot::from_json(&edited).unwrap();
            match ReportJob::restore(snapshot, config.clone(), credentials(), Millis(0)) {
                Err(error @ RestoreError::EndpointMismatch { .. }) => {
                    let message = error.to_string();
                    assert!(message.contains(field), "{message}");
                    assert!(message.contains("attacker.example"), "{message}");
                    assert!(!message.contains("secret"), "{message}");
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        // A host whose config names the provider's own origins refuses the
        // simulator's snapshot as well: the snapshot never chooses.
        let snapshot = Snapshot::from_json(&text).unwrap();
        assert!(matches!(
            ReportJob::restore(snapshot, JobConfig::default(), credentials(), Millis(0)),
            Err(RestoreError::EndpointMismatch { .. })
        ));
        // The same origin (trailing slash aside) restores, and its first
        // request (the token call: no token survives a snapshot) goes to the
        // host's origin.
        let host = JobConfig {
            auth_base_url: Some("http://127.0.0.1:9/amazon-ads/".into()),
            ..config
        };
        let snapshot = Snapshot::from_json(&text).unwrap();
        let mut restored = ReportJob::restore(snapshot, host, credentials(), Millis(0)).unwrap();
        let first = next_send(&mut restored, 0);
        assert!(
            first
                .url
                .starts_with("http://127.0.0.1:9/amazon-ads/auth/o2/token"),
            "{}",
            first.url
        );
    }

    /// The snapshot of the default Ads job polling report `r-1`, as JSON.
    fn polling_snapshot() -> String {
        let mut job = job(0);
        let create = next_send(&mut job, 0);
        answer(&mut job, 0, create.id, 202, br#"{"reportId":"r-1"}"#);
        let _ = drain(&mut job, 0);
        job.snapshot().to_json()
    }

    fn restore_text(text: &str, config: JobConfig) -> Result<ReportJob, RestoreError> {
        let credentials = amazon_ads::Credentials::new("client", "secret", "Atzr|refresh");
        ReportJob::restore(
            Snapshot::from_json(text)?,
            config,
            Credentials::AmazonAds(credentials),
            Millis(0),
        )
    }

    #[test]
    fn restore_refuses_what_new_would_never_produce() {
        let text = polling_snapshot();
        assert!(restore_text(&text, JobConfig::default()).is_ok());
        // A zero refill period (a division by zero once the bucket refills).
        let zero_refill = text.replacen("\"refillEveryMs\":1000", "\"refillEveryMs\":0", 1);
        assert!(matches!(
            restore_text(&zero_refill, JobConfig::default()),
            Err(RestoreError::Malformed { detail }) if detail.contains("refillEveryMs")
        ));
        // A bucket of another shape than the provider's.
        let wider = text.replacen("\"capacity\":5", "\"capacity\":4000000000", 1);
        assert!(matches!(
            restore_text(&wider, JobConfig::default()),
            Err(RestoreError::Invalid { .. })
        ));
        // A polling stage without a report id.
        let no_id = text.replacen("\"reportId\":\"r-1\"", "\"reportId\":null", 1);
        assert!(matches!(
            restore_text(&no_id, JobConfig::default()),
            Err(RestoreError::Invalid { detail }) if detail.contains("report id")
        ));
        // A spec `new` refuses.
        let bad_spec = text.replacen("\"profileId\":\"42\"", "\"profileId\":\"\"", 1);
        assert!(matches!(
            restore_text(&bad_spec, JobConfig::default()),
            Err(RestoreError::Config(ConfigError::Invalid { .. }))
        ));
        // The host's config is validated as `new` validates it.
        for chunk in [0, u32::MAX] {
            let config = JobConfig {
                data_chunk_bytes: chunk,
                ..JobConfig::default()
            };
            assert!(matches!(
                restore_text(&text, config.clone()),
                Err(RestoreError::Config(ConfigError::Invalid { field, .. })) if field == "dataChunkBytes"
            ));
            let spec = ReportSpec::new(
                Region::Na,
                "42",
                RecordType::Campaigns,
                "20240301",
                Tactic::T00020,
                vec!["clicks".into()],
            );
            let credentials = amazon_ads::Credentials::new("client", "secret", "Atzr|refresh");
            assert!(matches!(
                ReportJob::new(
                    JobSpec::AmazonAds(spec),
                    config,
                    Credentials::AmazonAds(credentials),
                    Millis(0)
                ),
                Err(ConfigError::Invalid { field, .. }) if field == "dataChunkBytes"
            ));
        }
    }

    #[test]
    fn a_restored_done_must_fit_its_job() {
        let text = polling_snapshot();
        let summary = r#"{"type":"done","value":{"provider":"amazon-ads","reportId":"r-1","outcome":"complete","contentType":"application/json","recordFormat":"json_array","rawBytes":3,"bytes":3,"md5":"MD5","gzip":false,"rows":1,"requests":4}}"#;
        let done = |md5: &str, id: &str| {
            text.replacen(
                "\"terminal\":null",
                &format!(
                    "\"terminal\":{}",
                    summary.replace("MD5", md5).replace("r-1", id)
                ),
                1,
            )
        };
        let good = "0123456789abcdef0123456789abcdef";
        let restored = restore_text(&done(good, "r-1"), JobConfig::default());
        assert!(restored.is_ok_and(|job| job.is_finished()));
        for edited in [done("not-a-digest", "r-1"), done(good, "r-2")] {
            assert!(matches!(
                restore_text(&edited, JobConfig::default()),
                Err(RestoreError::Invalid { .. })
            ));
        }
    }

    /// A raw deflate fragment of `zeros` zero bytes that depends on nothing
    /// before it (full flush), so it can be repeated to any length.
    fn zero_fragment(zeros: usize) -> Vec<u8> {
        use flate2::{Compress, Compression, FlushCompress};
        let mut compress = Compress::new(Compression::best(), false);
        let mut out = Vec::with_capacity(zeros / 500 + 1024);
        compress
            .compress_vec(&vec![0u8; zeros], &mut out, FlushCompress::Full)
            .unwrap();
        out
    }

    #[test]
    fn a_gzip_bomb_is_refused_at_the_ratio_limit_long_before_its_size() {
        let mut job = job_with(JobConfig::default());
        let (download, now) = to_download(&mut job);
        let id = download.id;
        job.handle(
            Millis(now),
            Input::Head {
                id,
                status: 200,
                headers: &[],
            },
        )
        .unwrap();
        // A 10 MB gzip that would inflate to 10 GiB: a gzip header, then
        // fragments of 1 MiB of zeros each, streamed (never held whole).
        let fragment = zero_fragment(1 << 20);
        let fragments = 10u64 << 10; // × 1 MiB = 10 GiB
        let size = fragments * fragment.len() as u64;
        assert!((10 << 20..12 << 20).contains(&size), "{size}-byte gzip");
        let header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        job.handle(Millis(now), Input::Chunk { id, bytes: &header })
            .unwrap();
        let mut fed = header.len() as u64;
        let mut decoded = 0u64;
        let mut outcome = None;
        'feed: for _ in 0..fragments {
            if job
                .handle(
                    Millis(now),
                    Input::Chunk {
                        id,
                        bytes: &fragment,
                    },
                )
                .is_err()
            {
                break;
            }
            fed += fragment.len() as u64;
            loop {
                match job.poll(Millis(now)) {
                    Action::Event(Event::Data(chunk)) => decoded += chunk.bytes.len() as u64,
                    Action::Event(_) => {}
                    Action::Wait { .. } => break,
                    other => {
                        outcome = Some(other);
                        break 'feed;
                    }
                }
            }
        }
        match outcome {
            Some(Action::Failed(
                error @ Error::ReportTooLarge {
                    limit: ReportLimit::MaxRatio,
                    ..
                },
            )) => {
                assert!(!error.is_retryable());
                assert!(error.to_string().contains("maxRatio"), "{error}");
            }
            other => panic!("{other:?} after {fed} bytes fed"),
        }
        // Refused within its first megabytes: a few fragments, and little
        // more than the grace decoded.
        assert!(fed < 64 << 10, "{fed} compressed bytes fed");
        assert!(decoded <= 4 << 20, "{decoded} bytes decoded");
        assert_eq!(job.requests_sent(), 4, "not downloaded again");
    }

    #[test]
    fn many_empty_headers_count_against_the_header_limit() {
        let mut job = job(0);
        let create = next_send(&mut job, 0);
        let headers: Vec<(String, String)> = (0..10_000)
            .map(|_| (String::new(), String::new()))
            .collect();
        job.handle(
            Millis(0),
            Input::Head {
                id: create.id,
                status: 202,
                headers: &headers,
            },
        )
        .unwrap();
        job.handle(Millis(0), Input::End { id: create.id }).unwrap();
        let (events, _) = drain(&mut job, 0);
        assert!(
            events.iter().any(|e| matches!(
                e,
                Event::Retrying {
                    cause: ErrorKind::ResponseTooLarge,
                    ..
                }
            )) || job.is_finished(),
            "{events:?}"
        );
    }

    #[test]
    fn chunks_fed_without_draining_poll_are_refused_past_the_backlog() {
        let mut job = job_with(JobConfig::default());
        let (download, now) = to_download(&mut job);
        let id = download.id;
        job.handle(
            Millis(now),
            Input::Head {
                id,
                status: 200,
                headers: &[],
            },
        )
        .unwrap();
        let chunk = vec![b'['; 1 << 20];
        let mut accepted = 0u64;
        let refused = loop {
            match job.handle(Millis(now), Input::Chunk { id, bytes: &chunk }) {
                Ok(()) => accepted += chunk.len() as u64,
                Err(error) => break error,
            }
            assert!(accepted <= 64 << 20, "never refused");
        };
        assert!(
            matches!(refused, InputError::Backpressure { id: got, limit, .. } if got == id && limit == MAX_UNREAD_BYTES),
            "{refused:?}"
        );
        assert!(accepted <= MAX_UNREAD_BYTES + (1 << 20));
        // Draining poll makes room again.
        let _ = job.poll(Millis(now));
        assert!(job
            .handle(
                Millis(now),
                Input::Chunk {
                    id,
                    bytes: &chunk[..1]
                }
            )
            .is_ok());
    }
}
