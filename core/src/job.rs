//! [`ReportJob`]: one report lifecycle, driven by the host's inputs.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::action::{Action, Event, PartSummary, Phase, WaitReason};
use crate::error::{ConfigError, Error, ErrorKind, InputError, RestoreError};
use crate::exchange::{Exchange, Ready};
use crate::http::{HttpRequest, RequestId, ResponseLimits};
use crate::input::Input;
use crate::integrity::Limits;
use crate::providers::{
    amazon_ads, lingxing, yandex_market, Cx, ExchangeFailure, Phased, Provider, Reply, Step,
};
use crate::retry::{PollPolicy, RetryPolicy};
use crate::snapshot::{Snapshot, FORMAT_VERSION};
use crate::time::Millis;

/// Which report to fetch, and from which provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum JobSpec {
    /// An Amazon Ads Sponsored Display v2 report.
    AmazonAds(amazon_ads::ReportSpec),
    /// A Lingxing report-export task (an Amazon SP-API report through Lingxing).
    Lingxing(lingxing::ReportSpec),
    /// A Yandex Market Partner API report.
    YandexMarket(yandex_market::ReportSpec),
}

impl JobSpec {
    /// The provider the spec is for.
    pub const fn provider(&self) -> Provider {
        match self {
            Self::AmazonAds(_) => Provider::AmazonAds,
            Self::Lingxing(_) => Provider::Lingxing,
            Self::YandexMarket(_) => Provider::YandexMarket,
        }
    }
}

/// Credentials for the job's provider. Never serialized; `Debug` redacts.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Credentials {
    /// Login-with-Amazon credentials for the Ads API.
    AmazonAds(amazon_ads::Credentials),
    /// A Lingxing app's AppID and AppSecret (and optionally current tokens).
    Lingxing(lingxing::Credentials),
    /// A Yandex Market Api-Key or OAuth token.
    YandexMarket(yandex_market::Credentials),
}

impl Credentials {
    /// The provider the credentials are for.
    pub const fn provider(&self) -> Provider {
        match self {
            Self::AmazonAds(_) => Provider::AmazonAds,
            Self::Lingxing(_) => Provider::Lingxing,
            Self::YandexMarket(_) => Provider::YandexMarket,
        }
    }
}

/// How a job behaves, independent of the provider. Every field has a
/// sensible default; override what you need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct JobConfig {
    /// Replaces the provider's API origin (scheme, host, optional path
    /// prefix), e.g. a simulator's `http://127.0.0.1:8080/amazon-ads`.
    pub base_url: Option<String>,
    /// Replaces the provider's auth origin (token endpoints).
    pub auth_base_url: Option<String>,
    /// Seeds jitter; the same seed replays the same waits.
    pub seed: u64,
    /// The job fails with `DeadlineExceeded` this long after it started.
    pub deadline_ms: u64,
    /// Timeout of an API request.
    pub request_timeout_ms: u64,
    /// Timeout of a report download.
    pub download_timeout_ms: u64,
    /// Retries of failing steps.
    pub retry: RetryPolicy,
    /// Pacing of status polls.
    pub poll: PollPolicy,
    /// Limits on the report body (raw and decoded).
    pub report_limits: Limits,
    /// Largest API (non-report) response body.
    pub max_api_body_bytes: u64,
    /// Largest response header block.
    pub max_header_bytes: u64,
    /// Fresh download links to fetch after an expired link or a corrupt
    /// download, before the job gives up (or re-requests the report where the
    /// provider allows nothing else).
    pub max_link_refreshes: u32,
    /// Largest `Event::Data` chunk.
    pub data_chunk_bytes: u32,
}

impl Default for JobConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            auth_base_url: None,
            seed: 0,
            deadline_ms: 6 * 60 * 60 * 1000,
            request_timeout_ms: 60_000,
            download_timeout_ms: 30 * 60 * 1000,
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
            report_limits: Limits::default(),
            max_api_body_bytes: 4 << 20,
            max_header_bytes: 64 << 10,
            max_link_refreshes: 3,
            data_chunk_bytes: 64 << 10,
        }
    }
}

/// The provider machine, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "kebab-case")]
enum Machine {
    AmazonAds(amazon_ads::Machine),
    Lingxing(lingxing::Machine),
    YandexMarket(yandex_market::Machine),
}

/// Everything that survives a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct State {
    machine: Machine,
    config: JobConfig,
    clock: Millis,
    started_at: Millis,
    next_request_id: u64,
    requests: u32,
    phase: Phase,
    terminal: Option<Terminal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "camelCase")]
enum Terminal {
    Done(crate::action::Summary),
    Failed(Error),
}

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
    state: State,
    credentials: Credentials,
    exchange: Option<Exchange>,
    events: VecDeque<Event>,
    /// The parts of the last report body that passed its checks, for the
    /// `Summary` of the `Done` that follows it.
    parts: Vec<PartSummary>,
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
        check_credentials(spec.provider(), &credentials)?;
        let machine = match spec {
            JobSpec::AmazonAds(spec) => {
                Machine::AmazonAds(amazon_ads::Machine::new(spec, &config, now)?)
            }
            JobSpec::Lingxing(spec) => {
                Machine::Lingxing(lingxing::Machine::new(spec, &config, now)?)
            }
            JobSpec::YandexMarket(spec) => {
                Machine::YandexMarket(yandex_market::Machine::new(spec, &config, now)?)
            }
        };
        let state = State {
            machine,
            config,
            clock: now,
            started_at: now,
            next_request_id: 1,
            requests: 0,
            phase: Phase::Creating,
            terminal: None,
        };
        let mut job = Self {
            state,
            credentials,
            exchange: None,
            events: VecDeque::new(),
            parts: Vec::new(),
        };
        job.state.phase = job.machine_phase();
        job.install_credentials();
        Ok(job)
    }

    /// Continues a job from a [`snapshot`](Self::snapshot), with the same
    /// report id and counters. A request that was in flight is sent again (a
    /// download restarts from byte 0).
    pub fn restore(
        snapshot: Snapshot,
        credentials: Credentials,
        now: Millis,
    ) -> Result<Self, RestoreError> {
        if snapshot.format_version != FORMAT_VERSION {
            return Err(RestoreError::UnsupportedVersion {
                found: snapshot.format_version,
                supported: FORMAT_VERSION,
            });
        }
        let mut state = snapshot.state;
        let provider = match &state.machine {
            Machine::AmazonAds(_) => Provider::AmazonAds,
            Machine::Lingxing(_) => Provider::Lingxing,
            Machine::YandexMarket(_) => Provider::YandexMarket,
        };
        check_credentials(provider, &credentials)?;
        state.clock = state.clock.max(now);
        let mut job = Self {
            state,
            credentials,
            exchange: None,
            events: VecDeque::new(),
            parts: Vec::new(),
        };
        job.install_credentials();
        Ok(job)
    }

    /// The job as plain, versioned, secret-free data. Take it after a drain
    /// (when `poll` returned `Wait`) and persist it; [`Self::restore`] picks up
    /// from there.
    pub fn snapshot(&self) -> Snapshot {
        let mut state = self.state.clone();
        state.machine = match &self.state.machine {
            Machine::AmazonAds(machine) => Machine::AmazonAds(machine.persistable()),
            Machine::Lingxing(machine) => Machine::Lingxing(machine.persistable()),
            Machine::YandexMarket(machine) => Machine::YandexMarket(machine.persistable()),
        };
        Snapshot {
            format_version: FORMAT_VERSION,
            state,
        }
    }

    /// The provider of this job.
    pub fn provider(&self) -> Provider {
        match &self.state.machine {
            Machine::AmazonAds(_) => Provider::AmazonAds,
            Machine::Lingxing(_) => Provider::Lingxing,
            Machine::YandexMarket(_) => Provider::YandexMarket,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.state.phase
    }

    /// The provider's report id, once the report was created.
    pub fn report_id(&self) -> Option<&str> {
        match &self.state.machine {
            Machine::AmazonAds(machine) => machine.report_id(),
            Machine::Lingxing(machine) => machine.report_id(),
            Machine::YandexMarket(machine) => machine.report_id(),
        }
    }

    /// HTTP requests sent so far, all attempts included.
    pub fn requests_sent(&self) -> u32 {
        self.state.requests
    }

    /// Whether the job has ended (`Done` or `Failed`).
    pub fn is_finished(&self) -> bool {
        self.state.terminal.is_some()
    }

    fn install_credentials(&mut self) {
        match (&mut self.state.machine, &self.credentials) {
            (Machine::AmazonAds(machine), Credentials::AmazonAds(credentials)) => {
                machine.install(credentials)
            }
            (Machine::Lingxing(machine), Credentials::Lingxing(credentials)) => {
                machine.install(credentials)
            }
            (Machine::YandexMarket(machine), Credentials::YandexMarket(credentials)) => {
                machine.install(credentials)
            }
            // `new` and `restore` refuse mismatched credentials.
            _ => {}
        }
    }

    fn machine_phase(&self) -> Phase {
        match &self.state.machine {
            Machine::AmazonAds(machine) => machine.phase(),
            Machine::Lingxing(machine) => machine.phase(),
            Machine::YandexMarket(machine) => machine.phase(),
        }
    }

    fn observe(&mut self, now: Millis) -> Millis {
        self.state.clock = self.state.clock.max(now);
        self.state.clock
    }

    fn deadline(&self) -> Millis {
        self.state
            .started_at
            .saturating_add(self.state.config.deadline_ms)
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
                self.events.clear();
                self.finish(Terminal::Failed(Error::Cancelled));
                return Ok(());
            }
            Input::Head { id, .. }
            | Input::Chunk { id, .. }
            | Input::End { id }
            | Input::TransportFailed { id, .. }
            | Input::Signature { id, .. } => *id,
        };
        let Some(exchange) = self.exchange.as_mut().filter(|exchange| exchange.id == id) else {
            return Err(InputError::StaleRequest { id });
        };
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
            // No provider implemented yet asks the host to sign.
            Input::Signature { .. } | Input::Cancel => return Err(InputError::StaleRequest { id }),
        };
        result.map_err(|detail| InputError::OutOfOrder {
            id,
            detail: detail.to_owned(),
        })
    }

    /// The next action. See the run loop in the type's documentation.
    pub fn poll(&mut self, now: Millis) -> Action {
        let now = self.observe(now);
        // Each pass either returns or retires the exchange, so two passes suffice;
        // the bound is belt and braces against a machine that loops.
        for _ in 0..8 {
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
                                cause: reply_kind(&reply),
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
            let step = self.step(now);
            match step {
                Step::Send(outgoing) => return self.send(now, outgoing),
                Step::Wait { until, reason } => {
                    if until > self.deadline() {
                        self.finish(Terminal::Failed(Error::DeadlineExceeded {
                            deadline: self.deadline(),
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
        Action::Wait {
            until: now.saturating_add(1),
            reason: WaitReason::PollBackoff,
        }
    }

    fn step(&mut self, now: Millis) -> Step {
        let before = self.state.phase;
        let mut cx = Cx::new(now, &self.state.config, &mut self.events);
        let step = match (&mut self.state.machine, &self.credentials) {
            (Machine::AmazonAds(machine), Credentials::AmazonAds(credentials)) => {
                machine.next(&mut cx, credentials)
            }
            (Machine::Lingxing(machine), Credentials::Lingxing(credentials)) => {
                machine.next(&mut cx, credentials)
            }
            (Machine::YandexMarket(machine), Credentials::YandexMarket(credentials)) => {
                machine.next(&mut cx, credentials)
            }
            // `new` and `restore` refuse mismatched credentials; this is a guard, not a path.
            (_, credentials) => Step::Failed(Error::Rejected {
                provider: credentials.provider(),
                endpoint: "credentials".to_owned(),
                status: 0,
                code: None,
                detail: "the credentials are for another provider than the job".to_owned(),
            }),
        };
        self.note_phase(before);
        step
    }

    fn deliver(&mut self, now: Millis, reply: Reply) {
        let before = self.state.phase;
        let mut cx = Cx::new(now, &self.state.config, &mut self.events);
        match &mut self.state.machine {
            Machine::AmazonAds(machine) => machine.on_reply(&mut cx, reply),
            Machine::Lingxing(machine) => machine.on_reply(&mut cx, reply),
            Machine::YandexMarket(machine) => machine.on_reply(&mut cx, reply),
        }
        self.note_phase(before);
    }

    fn note_phase(&mut self, before: Phase) {
        let after = self.machine_phase();
        if after != before {
            self.state.phase = after;
            self.events.push_back(Event::PhaseChanged {
                from: before,
                to: after,
            });
        }
    }

    fn send(&mut self, now: Millis, outgoing: crate::providers::Outgoing) -> Action {
        let config = &self.state.config;
        let id = RequestId::new(self.state.next_request_id.min(RequestId::MAX));
        self.state.next_request_id = self.state.next_request_id.saturating_add(1);
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
        self.exchange = Some(Exchange::new(
            id,
            now.saturating_add(timeout_ms),
            outgoing.endpoint,
            config.max_header_bytes,
            config.max_api_body_bytes,
            outgoing.report_body,
            config.report_limits,
        ));
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

fn reply_kind(reply: &Reply) -> ErrorKind {
    match reply {
        Reply::Failed(failure) => failure.clone().into_error("").kind(),
        Reply::Response { .. } | Reply::Report { .. } => ErrorKind::UnexpectedStatus,
    }
}

fn check_credentials(spec: Provider, credentials: &Credentials) -> Result<(), ConfigError> {
    if credentials.provider() == spec {
        match credentials {
            Credentials::Lingxing(credentials) => credentials.validate(),
            Credentials::YandexMarket(credentials) => credentials.validate(),
            Credentials::AmazonAds(_) => Ok(()),
        }
    } else {
        Err(ConfigError::CredentialsMismatch {
            spec,
            credentials: credentials.provider(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::amazon_ads::{RecordType, Region, ReportSpec, Tactic};

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
    fn a_silent_request_times_out_and_is_retried_with_a_new_id() {
        let mut job = job(0);
        let first = next_send(&mut job, 0);
        let timeout = JobConfig::default().request_timeout_ms;
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
                assert_eq!(error.blame(), crate::Blame::Config);
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
        let bumped = text.replacen("\"formatVersion\":1", "\"formatVersion\":99", 1);
        assert!(matches!(
            Snapshot::from_json(&bumped),
            Err(RestoreError::UnsupportedVersion { found: 99, .. })
        ));
        assert!(matches!(
            Snapshot::from_json("{]"),
            Err(RestoreError::Malformed { .. })
        ));
    }
}
