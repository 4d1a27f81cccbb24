//! Property tests of the report machines against the simulators (STYLE.md §4).
//!
//! Generated transitions (firezone style: time is a transition): fault plans
//! drawn from every [`Fault`] with counts, seeded chunk sizes, clock jumps
//! back and forth, stale answers, transport mishaps, crash + restore at
//! random steps, cancel. After every step the invariants are checked:
//!
//! 1. no panic (a panic fails the case, and proptest shrinks it);
//! 2. bounded: a terminal within `MAX_STEPS`;
//! 3. every `Wait.until` ≥ the largest `now` handed in, and no `Send` while
//!    another request is unanswered (checked by the harness itself);
//! 4. sends in the `amazon-ads:api` bucket never exceed 5 + window/1000 ms
//!    over any window, and none goes out before a `Retry-After` deadline;
//! 5. retries per step ≤ `RetryPolicy::max_attempts`;
//! 6. `Done` only with the sandbox's ground truth, byte-exact (a body
//!    corrupt on every attempt always ends `Failed`);
//! 7. snapshot/restore equivalence (a twin restored at a drain point replays
//!    the same actions) and crash + restore still ends `Done` with one
//!    report;
//! 8. no secret (the simulator's credentials all contain `CANARY`) in any
//!    `Debug`/`Display` of actions, errors, events, input errors, the job,
//!    or snapshot JSON.
//!
//! `PROPTEST_CASES` sets the number of cases (default 256 per property).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use reportflow::providers::Provider;
use reportflow::sim::{
    amazon_ads, ActionRecord, ChunkPlan, Fault, FaultPlan, Harness, Interference, Sandbox,
    SandboxConfig, Stepped, Times,
};
use reportflow::{
    Action, Credentials, Error, Event, Input, InputError, JobConfig, Millis, ReportJob, RequestId,
    RetryPolicy, TransportFailure,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const MAX_STEPS: usize = 40_000;
const BUCKET_CAPACITY: u64 = 5;
const BUCKET_REFILL_MS: u64 = 1_000;
const RETRY_AFTER_MS: u64 = 2_000;

fn cases() -> u32 {
    // Tests may read the environment; the core library may not.
    #[allow(clippy::disallowed_methods)]
    let configured = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    configured.unwrap_or(256)
}

#[derive(Debug, Clone)]
enum Transition {
    /// The host clock jumps back.
    JumpBack(u64),
    /// The host clock jumps forward (a stalled host).
    Tick(u64),
    /// An answer with an id that is not in flight.
    Stale,
    /// The host crashes and restores the last persisted snapshot.
    CrashRestore,
    /// The host cancels the job.
    Cancel,
    /// The next request meets a transport mishap.
    Interfere(Interference),
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    rows: u32,
    generation_ms: u64,
    faults: FaultPlan,
    chunks: ChunkPlan,
    browser: bool,
    max_attempts: u32,
    transitions: Vec<(usize, Transition)>,
}

fn fault_plan() -> impl Strategy<Value = FaultPlan> {
    let times = prop_oneof![4 => (1u32..=3).prop_map(Times::Count), 1 => Just(Times::Always)];
    prop::collection::vec(
        (
            prop::sample::select(
                amazon_ads::FAULT_ANSWERS
                    .iter()
                    .map(|(fault, _)| *fault)
                    .collect::<Vec<_>>(),
            ),
            times,
        ),
        0..=3,
    )
    .prop_map(|entries| {
        entries
            .into_iter()
            .fold(FaultPlan::none(), |plan, (fault, times)| {
                plan.with(fault, times)
            })
    })
}

fn transition() -> impl Strategy<Value = Transition> {
    prop_oneof![
        3 => (1u64..3_600_000).prop_map(Transition::JumpBack),
        2 => (1u64..120_000).prop_map(Transition::Tick),
        3 => Just(Transition::Stale),
        3 => Just(Transition::CrashRestore),
        1 => Just(Transition::Cancel),
        1 => Just(Transition::Interfere(Interference::Refuse(TransportFailure::Connect))),
        1 => Just(Transition::Interfere(Interference::LoseResponse)),
        1 => Just(Transition::Interfere(Interference::Hang)),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        0u32..120,
        0u64..20_000,
        fault_plan(),
        (any::<u64>(), 1usize..64, 64usize..16_384),
        prop::bool::weighted(0.2),
        1u32..=6,
        prop::collection::vec((0usize..400, transition()), 0..6),
    )
        .prop_map(
            |(
                seed,
                rows,
                generation_ms,
                faults,
                (chunk_seed, min, max),
                browser,
                max_attempts,
                mut transitions,
            )| {
                transitions.sort_by_key(|(at, _)| *at);
                Case {
                    seed,
                    rows,
                    generation_ms,
                    faults,
                    chunks: ChunkPlan::seeded(chunk_seed, min, max),
                    browser,
                    max_attempts,
                    transitions,
                }
            },
        )
}

fn setup(case: &Case) -> Harness {
    let sandbox = Sandbox::new(
        SandboxConfig::default()
            .with_seed(case.seed)
            .with_rows(case.rows)
            .with_generation_ms(case.generation_ms)
            .with_faults(case.faults.clone()),
    );
    let mut config = sandbox.job_config(Provider::AmazonAds);
    let default = JobConfig::default().retry;
    config.retry = RetryPolicy::new(
        case.max_attempts,
        default.base_delay_ms,
        default.max_delay_ms,
    );
    let job = ReportJob::new(
        amazon_ads::sample_spec(START),
        config,
        amazon_ads::credentials(),
        START,
    )
    .expect("a valid job");
    Harness::new(job, sandbox, START)
        .with_chunks(case.chunks)
        .follow_redirects(case.browser)
}

fn is_api(url: &str) -> bool {
    url.contains("/amazon-ads/sd/") || url.contains("/amazon-ads/v2/")
}

fn no_canary(what: &str, text: &str) -> Result<(), TestCaseError> {
    for canary in [amazon_ads::CANARY, "Atza|", "Atzr|"] {
        prop_assert!(
            !text.contains(canary),
            "{} leaks `{}`: {}",
            what,
            canary,
            text
        );
    }
    Ok(())
}

/// The per-step checks of one run, per job incarnation where the job's own
/// memory (bucket, Retry-After) is what is being checked.
struct Checker {
    max_retry_attempt: u32,
    max_attempts: u32,
    /// Largest `now` handed to the current incarnation.
    running_max: Millis,
    /// Running-max times of the Ads API sends of this incarnation.
    api_sends: Vec<Millis>,
    throttled_until: Option<Millis>,
}

impl Checker {
    fn new(case: &Case) -> Self {
        let link_refreshes = JobConfig::default().max_link_refreshes;
        Self {
            // Link refreshes and the one re-creation count on their own budgets.
            max_retry_attempt: case.max_attempts.max(link_refreshes + 1).max(2),
            max_attempts: case.max_attempts.max(1),
            running_max: START,
            api_sends: Vec::new(),
            throttled_until: None,
        }
    }

    fn restored(&mut self, now: Millis) {
        self.running_max = now;
        self.api_sends.clear();
        self.throttled_until = None;
    }

    fn before_step(&mut self, now: Millis) {
        self.running_max = self.running_max.max(now);
    }

    fn after_step(&mut self, stepped: &Stepped, sandbox: &Sandbox) -> Result<(), TestCaseError> {
        let Stepped::Polled(action) = stepped else {
            return Ok(());
        };
        no_canary("an action", &format!("{action:?}"))?;
        match action {
            Action::Send(request) if is_api(&request.url) => {
                let t = self.running_max;
                if let Some(until) = self.throttled_until {
                    prop_assert!(
                        t >= until,
                        "API request at {} before Retry-After deadline {}",
                        t,
                        until
                    );
                }
                self.api_sends.push(t);
                let j = self.api_sends.len() - 1;
                for (i, start) in self.api_sends.iter().enumerate() {
                    let window = t.saturating_since(*start);
                    let allowed = BUCKET_CAPACITY + window / BUCKET_REFILL_MS;
                    prop_assert!(
                        (j - i + 1) as u64 <= allowed,
                        "{} API sends within {} ms (bucket allows {})",
                        j - i + 1,
                        window,
                        allowed
                    );
                }
            }
            Action::Event(Event::Throttled { until, .. }) => {
                let answered_at = sandbox
                    .requests()
                    .iter()
                    .rev()
                    .find(|r| r.status == 429)
                    .map(|r| r.at);
                prop_assert!(answered_at.is_some(), "Throttled without a 429");
                let not_before = answered_at
                    .unwrap_or_default()
                    .saturating_add(RETRY_AFTER_MS);
                prop_assert!(
                    *until >= not_before,
                    "throttled until {} but the 429's Retry-After asks for {}",
                    until,
                    not_before
                );
                self.throttled_until = Some(self.throttled_until.map_or(*until, |u| u.max(*until)));
            }
            Action::Event(Event::Retrying { attempt, .. }) => {
                prop_assert!(
                    *attempt <= self.max_retry_attempt,
                    "retry attempt {} > {}",
                    attempt,
                    self.max_retry_attempt
                );
            }
            Action::Failed(error) => {
                no_canary("an error message", &error.to_string())?;
                if let Error::RetriesExhausted { attempts, last } = error {
                    // Link refreshes have their own budget (max_link_refreshes + 1).
                    let bound = if matches!(
                        **last,
                        Error::UnexpectedStatus {
                            status: 400..=499,
                            ..
                        }
                    ) {
                        self.max_retry_attempt
                    } else {
                        self.max_attempts
                    };
                    prop_assert!(
                        *attempts <= bound,
                        "{} attempts > {} ({})",
                        attempts,
                        bound,
                        last
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// What a run did, for the final checks.
struct Ran {
    harness: Harness,
    cancelled: bool,
}

fn apply(
    harness: &mut Harness,
    checker: &mut Checker,
    transition: &Transition,
    cancelled: &mut bool,
) -> Result<(), TestCaseError> {
    match transition {
        Transition::JumpBack(ms) => {
            harness.set_now(Millis(harness.now().as_u64().saturating_sub(*ms)))
        }
        Transition::Tick(ms) => harness.advance(*ms),
        Transition::Stale => {
            // Not the latest request: the job may still hold its answer, unpolled.
            let latest = harness.requests().last().map(|r| r.id);
            let old = harness
                .requests()
                .first()
                .map(|r| r.id)
                .filter(|id| Some(*id) != latest);
            let id = old.unwrap_or(RequestId::new(0));
            let finished = harness.job().is_finished();
            let result = harness.handle(Input::End { id });
            no_canary("an input error", &format!("{result:?}"))?;
            if finished {
                prop_assert_eq!(result, Err(InputError::Finished));
            } else {
                prop_assert_eq!(result, Err(InputError::StaleRequest { id }));
            }
        }
        Transition::CrashRestore => {
            if !harness.job().is_finished() {
                harness
                    .crash_and_restore(amazon_ads::credentials())
                    .map_err(|e| TestCaseError::fail(format!("restore failed: {e}")))?;
                checker.restored(harness.now());
            }
        }
        Transition::Cancel => {
            if harness.outcome().is_none() {
                *cancelled = true;
            }
            harness.cancel();
        }
        Transition::Interfere(interference) => harness.interfere(interference.clone()),
    }
    Ok(())
}

fn run_case(case: &Case) -> Result<Ran, TestCaseError> {
    let mut harness = setup(case);
    let mut checker = Checker::new(case);
    let mut cancelled = false;
    let mut pending = case.transitions.iter().peekable();
    while harness.outcome().is_none() {
        prop_assert!(
            harness.steps() < MAX_STEPS,
            "no terminal within {} steps ({:?})",
            MAX_STEPS,
            case.faults.to_string()
        );
        while let Some((_, transition)) = pending.next_if(|(at, _)| *at <= harness.steps()) {
            apply(&mut harness, &mut checker, transition, &mut cancelled)?;
        }
        checker.before_step(harness.now());
        let stepped = harness
            .step()
            .map_err(|e| TestCaseError::fail(format!("{e} (faults {})", case.faults)))?;
        checker.after_step(&stepped, harness.sandbox())?;
    }
    Ok(Ran { harness, cancelled })
}

fn final_checks(case: &Case, ran: Ran) -> Result<(), TestCaseError> {
    let mut harness = ran.harness;
    let run = harness
        .drive_bounded(0)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for snapshot in run
        .snapshots
        .iter()
        .map(String::as_str)
        .chain([harness.persisted()])
    {
        no_canary("a snapshot", snapshot)?;
    }
    no_canary("the job", &format!("{:?}", harness.job()))?;
    no_canary("the harness", &format!("{harness:?}"))?;
    let harness = &harness;
    no_canary(
        "the action records",
        &serde_json::to_string(&run.actions).unwrap_or_default(),
    )?;
    if ran.cancelled {
        prop_assert!(
            matches!(run.outcome, Err(Error::Cancelled)),
            "cancelled job ended {:?}",
            run.outcome
        );
    }
    let hopeless = [Fault::CorruptBody, Fault::TruncatedGzip]
        .into_iter()
        .any(|f| case.faults.budget(f).is_none());
    match &run.outcome {
        Ok(summary) => {
            prop_assert!(
                !hopeless,
                "Done although every body is broken ({})",
                case.faults
            );
            prop_assert_eq!(summary.rows, u64::from(case.rows));
        }
        Err(error) => no_canary("the final error", &format!("{error:?} {error}"))?,
    }
    run.check_data_matches(harness.sandbox())
        .map_err(TestCaseError::fail)?;
    let done_recorded = run
        .actions
        .iter()
        .any(|a| matches!(a, ActionRecord::Done { .. }));
    prop_assert!(
        !done_recorded || run.outcome.is_ok(),
        "a Done record in a failed run"
    );
    Ok(())
}

/// A model of the job's clock (the largest `now` it has seen), to know the
/// expiry it computed for its access token: `expires_in` after the clock at
/// which it processed the token answer.
#[derive(Default)]
struct ClockModel {
    clock: Millis,
    persisted: Millis,
    /// Token request whose `End` was just fed; its answer is processed at the next poll.
    token_answer_pending: Option<RequestId>,
    token_expires_at: Option<(RequestId, Millis)>,
}

impl ClockModel {
    fn before_step(&mut self, now: Millis) {
        self.clock = self.clock.max(now);
    }

    fn after_step(&mut self, harness: &Harness, stepped: &Stepped) {
        match stepped {
            Stepped::Fed {
                id, input: "end", ..
            } if harness
                .requests()
                .iter()
                .any(|r| r.id == *id && r.url.ends_with("/auth/o2/token")) =>
            {
                self.token_answer_pending = Some(*id);
            }
            Stepped::Polled(action) => {
                if let Some(id) = self.token_answer_pending.take() {
                    self.token_expires_at = Some((
                        id,
                        self.clock
                            .saturating_add(amazon_ads::TOKEN_LIFETIME_S * 1000),
                    ));
                }
                if matches!(action, Action::Wait { .. }) {
                    self.persisted = self.clock;
                }
            }
            _ => {}
        }
    }

    fn restored(&mut self, now: Millis) {
        self.clock = self.persisted.max(now);
        // Tokens are not in snapshots: the restored job has none.
        self.token_answer_pending = None;
        self.token_expires_at = None;
    }

    /// The credentials a host restoring the job right now would hold: the
    /// refresh credentials plus the access token the job last received (and
    /// the expiry the job computed for it), if it holds one.
    fn credentials(&self, harness: &Harness) -> Credentials {
        let last_token_request = harness
            .requests()
            .iter()
            .rev()
            .find(|r| r.url.ends_with("/auth/o2/token"))
            .map(|r| r.id);
        let holds_token =
            last_token_request.is_some_and(|id| harness.answered().contains(&(id, 200)));
        let token = harness
            .sandbox()
            .simulator::<amazon_ads::Simulator>()
            .and_then(amazon_ads::Simulator::latest_token);
        match (token, self.token_expires_at) {
            (Some((token, _)), Some((id, expires_at)))
                if holds_token && Some(id) == last_token_request =>
            {
                Credentials::AmazonAds(
                    amazon_ads::provider_credentials()
                        .with_access_token(token.expose().clone(), Some(expires_at)),
                )
            }
            _ => amazon_ads::credentials(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Invariants 1–6 and 8 under generated faults and host transitions.
    #[test]
    fn machines_keep_their_invariants(case in case()) {
        let ran = run_case(&case)?;
        final_checks(&case, ran)?;
    }

    /// Invariant 7a: a twin restored from the snapshot at a drain point, fed
    /// the same inputs, produces the same actions as the original.
    #[test]
    fn a_restored_twin_replays_the_same_actions(case in case(), fork_at in 0usize..300) {
        let (before, after): (Vec<_>, Vec<_>) = case.transitions.iter().cloned().partition(|(at, _)| *at < fork_at);
        let mut primary = setup(&case);
        let mut checker = Checker::new(&case);
        let mut cancelled = false;
        let mut pending = before.iter().peekable();
        let mut model = ClockModel { clock: START, persisted: START, ..ClockModel::default() };
        while primary.outcome().is_none() && !(primary.steps() >= fork_at && primary.at_rest()) {
            prop_assert!(primary.steps() < MAX_STEPS);
            while let Some((_, transition)) = pending.next_if(|(at, _)| *at <= primary.steps()) {
                let restores = primary.restores();
                apply(&mut primary, &mut checker, transition, &mut cancelled)?;
                if primary.restores() > restores {
                    model.restored(primary.now());
                }
            }
            model.before_step(primary.now());
            let stepped = primary.step().map_err(|e| TestCaseError::fail(e.to_string()))?;
            model.after_step(&primary, &stepped);
        }
        if primary.outcome().is_some() {
            return Ok(());
        }
        let fork_index = primary.actions().len();
        let fork_step = primary.steps();
        let mut twin = primary.fork(model.credentials(&primary)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut twin_checker = Checker::new(&case);
        let mut twin_cancelled = false;
        let mut pending = after.iter().peekable();
        let mut steps = 0usize;
        while primary.outcome().is_none() || twin.outcome().is_none() {
            prop_assert!(steps < MAX_STEPS);
            while let Some((_, transition)) = pending.next_if(|(at, _)| *at - fork_at <= steps) {
                apply(&mut primary, &mut checker, transition, &mut cancelled)?;
                apply(&mut twin, &mut twin_checker, transition, &mut twin_cancelled)?;
            }
            primary.step().map_err(|e| TestCaseError::fail(e.to_string()))?;
            twin.step().map_err(|e| TestCaseError::fail(e.to_string()))?;
            steps += 1;
        }
        let original = primary.actions().get(fork_index..).unwrap_or_default();
        if original != twin.actions() {
            let diverged = original.iter().zip(twin.actions()).position(|(a, b)| a != b);
            prop_assert!(
                false,
                "twin forked at step {} diverged at record {:?}:\noriginal {:?}\ntwin     {:?}",
                fork_step,
                diverged,
                diverged.and_then(|i| original.get(i)),
                diverged.and_then(|i| twin.actions().get(i))
            );
        }
        prop_assert_eq!(primary.data(), twin.data());
    }

    /// Invariant 7b: crashes at random steps (the host restores its last
    /// snapshot, persisted before every send) never make a report the job
    /// does not know of: the job ends `Done` with the ground truth of the
    /// only report, or — when a crash caught the create in flight —
    /// `ReportMayExist` with at most that one report.
    #[test]
    fn crash_and_restore_never_doubles_a_report(
        seed in any::<u64>(),
        crashes in prop::collection::vec(0usize..600, 1..4),
        faults in prop::sample::subsequence(
            vec!["throttle:2", "server-error", "disconnect", "corrupt-body", "expired-link", "expired-token"], 0..=3),
        chunk_seed in any::<u64>(),
    ) {
        let plan: FaultPlan = faults.join(",").parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let case = Case {
            seed,
            rows: 50,
            generation_ms: 5_000,
            faults: plan,
            chunks: ChunkPlan::seeded(chunk_seed, 1, 4_096),
            browser: false,
            max_attempts: JobConfig::default().retry.max_attempts,
            transitions: Vec::new(),
        };
        let mut harness = setup(&case);
        let mut crashes = crashes;
        crashes.sort_unstable();
        let mut crashes = crashes.into_iter().peekable();
        while harness.outcome().is_none() {
            prop_assert!(harness.steps() < MAX_STEPS);
            if crashes.next_if(|at| *at <= harness.steps()).is_some() {
                harness.crash_and_restore(amazon_ads::credentials()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                if let Some(id) = harness.job().report_id() {
                    let ids = harness.sandbox().simulator::<amazon_ads::Simulator>().map(|s| s.report_ids().to_vec()).unwrap_or_default();
                    prop_assert_eq!(ids.last().map(String::as_str), Some(id), "the restored job continues the latest report");
                }
            }
            harness.step().map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let run = harness.drive_bounded(0).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let sim = harness.sandbox().simulator::<amazon_ads::Simulator>().ok_or_else(|| TestCaseError::fail("no Ads simulator"))?;
        // Reports the job learnt of (Amazon Ads re-requests an expired report
        // once, deliberately, and says so with a second `ReportCreated`).
        let known: std::collections::BTreeSet<&str> = run.actions.iter().filter_map(|a| match a {
            ActionRecord::Event { event: Event::ReportCreated { report_id }, .. } => Some(report_id.as_str()),
            _ => None,
        }).collect();
        match &run.outcome {
            Ok(summary) => {
                prop_assert_eq!(sim.reports_created(), known.len(), "every report made is one the job knew of");
                prop_assert_eq!(sim.report_ids().last(), Some(&summary.report_id));
                let truth = harness.sandbox().report_content(&summary.report_id);
                prop_assert!(truth.as_deref() == Some(&run.data[..]));
            }
            Err(Error::ReportMayExist { .. }) => {
                prop_assert!(sim.reports_created() <= known.len() + 1, "{} reports, {} known", sim.reports_created(), known.len());
            }
            Err(other) => return Err(TestCaseError::fail(format!("neither Done nor ReportMayExist: {other:?} ({})", case.faults))),
        }
    }
}
