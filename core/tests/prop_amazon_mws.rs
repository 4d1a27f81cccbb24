//! Property tests of the Amazon MWS machine against its simulator: the
//! eight invariants of STYLE.md §4, plus MWS's own: never more than four
//! GetReport bodies for one report; never a request beyond an operation's
//! quota; never a `Done` whose bytes fail the header's MD5; and the signing
//! properties (any parameter set signs and the simulator accepts it; any
//! single changed byte of a signed parameter is refused).

use proptest::prelude::*;

mod common;
use common::Op;

use reportflow::integrity::Md5Check;
use reportflow::providers::amazon_mws::{Region, ReportSpec};
use reportflow::providers::Provider;
use reportflow::sim::{
    amazon_mws, ActionRecord, ChunkPlan, Fault, FaultPlan, Harness, Run, Sandbox, SandboxConfig,
    SimRequest,
};
use reportflow::{
    Action, Credentials, ErrorKind, Event, JobConfig, JobSpec, Millis, ReportJob, TransportFailure,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const MAX_STEPS: usize = 40_000;

fn fault_plan() -> impl Strategy<Value = FaultPlan> {
    common::fault_plan(
        &[
            Fault::Throttle,
            Fault::ServerError,
            Fault::MalformedEnvelope,
            Fault::CorruptBody,
            Fault::MissingMd5,
            Fault::Disconnect,
        ],
        &[
            Fault::NoData,
            Fault::NoGeneratedId,
            Fault::ReportFailure,
            Fault::Reject406,
        ],
    )
}

fn op() -> impl Strategy<Value = Op> {
    common::op(vec![
        TransportFailure::Reset,
        TransportFailure::Timeout,
        TransportFailure::Connect,
    ])
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    rows: u32,
    generation_ms: u64,
    region: Region,
    chunks: (u64, usize, usize),
    faults: FaultPlan,
    ops: Vec<Op>,
    cancel_at: Option<usize>,
    fork_after: u16,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        0u32..150,
        0u64..200_000,
        proptest::sample::select(vec![Region::Na, Region::Eu, Region::Jp, Region::Cn]),
        (any::<u64>(), 1usize..64, 64usize..20_000),
        fault_plan(),
        (
            proptest::collection::vec(op(), 0..24),
            proptest::option::weighted(0.05, 0usize..24),
            0u16..300,
        ),
    )
        .prop_map(
            |(seed, rows, generation_ms, region, chunks, faults, (ops, cancel_at, fork_after))| {
                Case {
                    seed,
                    rows,
                    generation_ms,
                    region,
                    chunks,
                    faults,
                    ops,
                    cancel_at,
                    fork_after,
                }
            },
        )
}

fn spec(case: &Case) -> JobSpec {
    let spec = ReportSpec::new(case.region, amazon_mws::SAMPLE_REPORT_TYPE);
    let marketplaces: Vec<&str> = case
        .region
        .marketplaces()
        .map(|(_, id)| id)
        .take(1)
        .collect();
    JobSpec::AmazonMws(if case.region == Region::Jp {
        spec
    } else {
        spec.with_marketplaces(marketplaces)
    })
}

fn harness(case: &Case) -> Harness {
    let sandbox = Sandbox::new(
        SandboxConfig::default()
            .with_seed(case.seed)
            .with_rows(case.rows)
            .with_generation_ms(case.generation_ms)
            .with_faults(case.faults.clone()),
    );
    let job = ReportJob::new(
        spec(case),
        sandbox.job_config(Provider::AmazonMws),
        amazon_mws::credentials(),
        START,
    )
    .expect("a valid job");
    let (seed, min, max) = case.chunks;
    Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(seed, min, max))
}

fn sim(harness: &Harness) -> &amazon_mws::Simulator {
    harness
        .sandbox()
        .simulator::<amazon_mws::Simulator>()
        .expect("the MWS simulator")
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let mut harness = harness(case);
    let seen = common::apply(
        &mut harness,
        &case.ops,
        case.cancel_at,
        amazon_mws::credentials,
    )?;
    let disturbed = seen.clock_jumped_back || seen.unseen_requests;
    // 2: bounded; the harness checks 3 (waits, one in flight) on every step.
    let run: Run = harness
        .drive_bounded(MAX_STEPS)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;

    // 5: retries per step within the budget.
    run.check_retry_budget(&JobConfig::default())
        .map_err(TestCaseError::fail)?;
    // 6: Done only with the simulator's bytes, exactly.
    run.check_data_matches(harness.sandbox())
        .map_err(TestCaseError::fail)?;
    // Never a Done whose bytes failed (or skipped) the header's MD5.
    if let Some(summary) = run.summary() {
        if summary.raw_bytes > 0 || summary.rows > 0 {
            prop_assert_eq!(summary.md5_check, Md5Check::Verified);
        }
    }
    // At most four GetReport bodies for one report (the first and three
    // more), whatever corrupts them; a broken connection is not a body, and
    // an answer the host lost (or a crash swallowed) never reached the job.
    let log = harness.sandbox().requests();
    let bodies = log
        .iter()
        .filter(|r| r.operation.as_deref() == Some("GetReport") && r.status == 200)
        .filter(|r| r.fault != Some(Fault::Disconnect))
        .count();
    if !seen.unseen_requests {
        prop_assert!(bodies <= 4, "{bodies} GetReport bodies");
    }
    // The job itself never asks again for a damaged body more than three times.
    let damaged_retries = run
        .actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                ActionRecord::Event {
                    event: Event::Retrying {
                        cause: ErrorKind::Md5Mismatch | ErrorKind::Gzip,
                        ..
                    },
                    ..
                }
            )
        })
        .count();
    // (Counted over the whole run: a crash restores the snapshot taken
    // before the request, so the retry it swallowed is announced again.)
    if harness.restores() == 0 {
        prop_assert!(
            damaged_retries <= 3,
            "{damaged_retries} re-requests of a damaged body"
        );
    }
    // Never a request beyond an operation's quota: the simulator refused
    // none for a spent quota (its own count, faults aside). A restore goes
    // back to the last snapshot, and a clock jumped back makes the host's
    // view stale, so those runs are exempt.
    if !disturbed {
        prop_assert_eq!(sim(&harness).throttled(), 0, "the job exceeded a quota");
    }
    // Every request verified: the job never signed wrongly.
    prop_assert_eq!(sim(&harness).signature_failures(), 0);
    prop_assert!(
        sim(&harness).requests_accepted() <= 1,
        "one report request per job"
    );
    // 8: no secret in any printable or persisted surface.
    run.check_secret_absent(harness.sandbox(), "CANARY")
        .map_err(TestCaseError::fail)?;
    for action in &run.actions {
        if let ActionRecord::Send { url, .. } = action {
            prop_assert!(
                !url.contains("Signature="),
                "the signature travels in the body only"
            );
        }
    }
    Ok(())
}

fn check_twins(case: &Case) -> Result<(), TestCaseError> {
    common::check_twins(
        harness(case),
        case.fork_after,
        amazon_mws::credentials,
        MAX_STEPS,
    )
}

/// The first request of a job for `spec` as the simulator receives it.
fn first_request(spec: ReportSpec, credentials: Credentials, sandbox: &Sandbox) -> SimRequest {
    let mut job = ReportJob::new(
        JobSpec::AmazonMws(spec),
        sandbox.job_config(Provider::AmazonMws),
        credentials,
        START,
    )
    .expect("a valid job");
    match job.poll(START) {
        Action::Send(request) => SimRequest::from_http(&request),
        other => panic!("expected a request, got {other:?}"),
    }
}

/// Any printable text, a space, `+`, `~`, `*`, `/`, `=`, `&` and non-ASCII included.
fn text() -> impl Strategy<Value = String> {
    "[ -~\u{a0}-\u{17f}\u{3040}-\u{30ff}\u{1f600}]{1,40}"
}

proptest! {
    #[test]
    fn amazon_mws_invariants_hold(case in case()) {
        check(&case)?;
    }

    #[test]
    fn amazon_mws_snapshots_restore_to_the_same_trace(case in case()) {
        check_twins(&case)?;
    }

    /// Any parameter set signs and the simulator accepts it; any single
    /// changed byte of a signed name or value is refused.
    #[test]
    fn any_parameters_sign_and_any_changed_byte_is_refused(
        options in text(),
        token in proptest::option::of("[!-~]{1,30}"),
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9 ~*+/=&%-]",
    ) {
        let sandbox = Sandbox::new(SandboxConfig::default());
        let mut credentials = amazon_mws::provider_credentials();
        if let Some(token) = &token {
            credentials = credentials.with_auth_token(token.clone());
        }
        let spec = amazon_mws::sample_report_spec(START).with_report_options(options);
        let request = first_request(spec, Credentials::AmazonMws(credentials), &sandbox);
        let mut accepted = sandbox.clone();
        let answer = accepted.handle(START, &request);
        prop_assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));

        // Change one byte (as one character) of one decoded parameter.
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
        let pair = which.index(pairs.len());
        let (name, value) = pairs[pair].clone();
        let target = if value.is_empty() || at.index(2) == 0 && name != "Signature" { name.clone() } else { value.clone() };
        let chars: Vec<char> = target.chars().collect();
        let i = at.index(chars.len());
        let Some(new) = replacement.chars().next().filter(|c| *c != chars[i]) else {
            return Ok(());
        };
        let mut changed: Vec<char> = chars.clone();
        changed[i] = new;
        let changed: String = changed.into_iter().collect();
        if target == name {
            // A renamed parameter must not collide with another one.
            prop_assume!(pairs.iter().all(|(n, _)| *n != changed));
            pairs[pair].0 = changed;
        } else {
            pairs[pair].1 = changed;
        }
        let mut tampered = request.clone();
        tampered.body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish().into_bytes();
        let mut refused = sandbox.clone();
        let answer = refused.handle(START, &tampered);
        prop_assert_ne!(answer.status, 200, "{} -> accepted", pairs[pair].0);
        let sim = refused.simulator::<amazon_mws::Simulator>().expect("sim");
        prop_assert_eq!(sim.requests_accepted(), 0);
    }

    /// A request signed with any other secret is refused.
    #[test]
    fn any_other_secret_is_refused(secret in "[!-~]{1,40}") {
        prop_assume!(secret != amazon_mws::SECRET_KEY);
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let credentials = reportflow::providers::amazon_mws::Credentials::new(
            amazon_mws::ACCESS_KEY_ID,
            secret,
            amazon_mws::SELLER_ID,
        );
        let request = first_request(amazon_mws::sample_report_spec(START), Credentials::AmazonMws(credentials), &sandbox);
        let answer = sandbox.handle(START, &request);
        prop_assert_eq!(answer.status, 403);
        prop_assert!(String::from_utf8_lossy(&answer.body).contains("SignatureDoesNotMatch"));
    }
}
