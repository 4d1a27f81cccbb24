//! Property tests of the Lingxing machine against the Lingxing simulator:
//! the eight invariants of STYLE.md §4, plus Lingxing's own:
//! no request carries a sign older than 2 minutes, no refresh token is used
//! twice, and never two requests in flight per endpoint.
//!
//! Transitions are generated firezone-style (time is a transition): fault
//! plans from a curated table, transport mishaps, crashes with restore,
//! clock jumps back, idle ticks, stale answers and, rarely, a cancel.

use proptest::prelude::*;

mod common;
use common::Op;

use reportflow::providers::Provider;
use reportflow::sim::{
    lingxing, ActionRecord, ChunkPlan, Fault, FaultPlan, Harness, Run, Sandbox, SandboxConfig,
};
use reportflow::{
    Error, Event, JobConfig, Millis, ReportJob, RequestId, TransportFailure, WaitReason,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const MAX_STEPS: usize = 40_000;
/// A Lingxing endpoint's token comes back at the latest this long after its request.
const HOLD_MS: u64 = 120_000;
const SIGN_LIFE_MS: u64 = 120_000;

/// Faults a Lingxing run can meet; terminal outcomes fire at most once.
fn fault_plan() -> impl Strategy<Value = FaultPlan> {
    common::fault_plan(
        &[
            Fault::Throttle,
            Fault::ServerError,
            Fault::ExpiredToken,
            Fault::LostAnswer,
            Fault::PlainBody,
            Fault::ExpiredLink,
            Fault::CorruptBody,
            Fault::TruncatedGzip,
            Fault::Disconnect,
        ],
        &[Fault::ReportFailure, Fault::TaskCancelled, Fault::Reject422],
    )
}

/// Host ops; refusals only of the kinds after which the request may have
/// reached the gateway (the checker cannot tell a refused connect from
/// those; a unit test covers it).
fn op() -> impl Strategy<Value = Op> {
    common::op(vec![TransportFailure::Reset, TransportFailure::Timeout])
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    rows: u32,
    generation_ms: u64,
    chunks: (u64, usize, usize),
    faults: FaultPlan,
    ops: Vec<Op>,
    cancel_at: Option<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        0u32..300,
        0u64..30_000,
        (any::<u64>(), 1usize..64, 64usize..20_000),
        fault_plan(),
        proptest::collection::vec(op(), 0..24),
        proptest::option::weighted(0.05, 0usize..24),
    )
        .prop_map(
            |(seed, rows, generation_ms, chunks, faults, ops, cancel_at)| Case {
                seed,
                rows,
                generation_ms,
                chunks,
                faults,
                ops,
                cancel_at,
            },
        )
}

fn sandbox(case: &Case) -> Sandbox {
    Sandbox::new(
        SandboxConfig::default()
            .with_seed(case.seed)
            .with_rows(case.rows)
            .with_generation_ms(case.generation_ms)
            .with_faults(case.faults.clone()),
    )
}

fn harness(case: &Case) -> Harness {
    let sandbox = sandbox(case);
    let job = ReportJob::new(
        lingxing::sample_spec(),
        sandbox.job_config(Provider::Lingxing),
        lingxing::credentials(),
        START,
    )
    .expect("a valid job");
    let (seed, min, max) = case.chunks;
    Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(seed, min, max))
}

fn sim(harness: &Harness) -> &lingxing::Simulator {
    harness
        .sandbox()
        .simulator::<lingxing::Simulator>()
        .expect("the Lingxing simulator")
}

/// The path of a request URL (no origin, no query).
fn path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').and_then(|at| rest.get(at..)).unwrap_or("/");
    path.split('?').next().unwrap_or(path)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn is_report_endpoint(path: &str) -> bool {
    path.contains("/basicOpen/report/")
}

/// Applies the generated transitions, then drives the job to its end.
fn run(case: &Case) -> Result<(Run, Harness, bool), TestCaseError> {
    let mut harness = harness(case);
    let seen = common::apply(
        &mut harness,
        &case.ops,
        case.cancel_at,
        lingxing::credentials,
    )?;
    let jumped = seen.clock_jumped_back;
    // Invariant 2: bounded, and the harness checked the contract (3) on every step.
    let run = harness
        .drive_bounded(MAX_STEPS)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    Ok((run, harness, jumped))
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let (run, harness, jumped) = run(case)?;
    let config = JobConfig::default();

    // 5: retries per step stay within the configured budget.
    run.check_retry_budget(&config)
        .map_err(TestCaseError::fail)?;

    // 6: Done only with the simulator's bytes, exactly; no data otherwise.
    run.check_data_matches(harness.sandbox())
        .map_err(TestCaseError::fail)?;

    // Lingxing: every signed request leaves with a fresh sign, and the
    // gateway never saw a stale or wrong one.
    for action in &run.actions {
        if let ActionRecord::Send { at, url, .. } = action {
            if !is_report_endpoint(path(url)) {
                prop_assert!(
                    query_param(url, "sign").is_none()
                        && query_param(url, "access_token").is_none(),
                    "{}",
                    path(url)
                );
                continue;
            }
            let timestamp = query_param(url, "timestamp").and_then(|t| t.parse::<u64>().ok());
            prop_assert!(timestamp.is_some(), "unsigned report call {}", path(url));
            let signed_at = Millis(timestamp.unwrap_or_default().saturating_mul(1000));
            prop_assert!(
                at.saturating_since(signed_at) <= SIGN_LIFE_MS,
                "a sign from {signed_at} sent at {at}"
            );
        }
    }
    prop_assert_eq!(sim(&harness).rejected_signs(), 0);
    if !jumped {
        prop_assert_eq!(sim(&harness).stale_signs(), 0);
    }

    // Lingxing: no refresh token twice.
    prop_assert_eq!(sim(&harness).refresh_reuses(), 0);

    // One export task per job, whatever was lost or crashed (a create whose
    // answer was never seen ends the job `ReportMayExist`).
    prop_assert!(
        sim(&harness).tasks_created() <= 1,
        "{} tasks created",
        sim(&harness).tasks_created()
    );

    // 4 for Lingxing: never two requests in flight per endpoint. The job has
    // one request in flight at a time (the harness checks it); a request whose
    // answer never completed may still hold its endpoint on the gateway for
    // 2 minutes, so the next request to that endpoint waits that long
    // (between restores: a crash forgets what the last snapshot did not hold).
    let answered: std::collections::HashSet<RequestId> =
        harness.answered().iter().map(|(id, _)| *id).collect();
    // A deferred request never reached the gateway.
    let deferred: std::collections::HashSet<RequestId> = run
        .actions
        .iter()
        .filter_map(|action| match action {
            ActionRecord::Deferred { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    let mut held: std::collections::HashMap<String, Millis> = std::collections::HashMap::new();
    for action in &run.actions {
        match action {
            ActionRecord::Restored { .. } => held.clear(),
            ActionRecord::Send { at, id, url, .. }
                if is_report_endpoint(path(url)) && !deferred.contains(id) =>
            {
                let endpoint = path(url).to_owned();
                if let Some(until) = held.get(&endpoint) {
                    prop_assert!(
                        at >= until,
                        "{endpoint} called at {at} while an unanswered call held it until {until}"
                    );
                }
                if answered.contains(id) {
                    held.remove(&endpoint);
                } else {
                    held.insert(endpoint, at.saturating_add(HOLD_MS));
                }
            }
            _ => {}
        }
    }
    // A host that crashes between sending and persisting cannot know its
    // request holds the endpoint; the job then meets 3001008 and backs off.
    if harness.restores() == 0 {
        prop_assert_eq!(
            sim(&harness).bucket_rejections(),
            0,
            "the gateway refused a call on a held endpoint"
        );
    }

    // 8: no secret in any printable or persisted surface.
    run.check_secret_absent(harness.sandbox(), lingxing::CANARY)
        .map_err(TestCaseError::fail)?;
    for token in sim(&harness).issued_tokens() {
        run.check_secret_absent(harness.sandbox(), token.expose())
            .map_err(|e| TestCaseError::fail(format!("an issued token: {e}")))?;
    }
    Ok(())
}

/// A run's record with what legitimately differs between twins removed:
/// token calls and link renewals (tokens and links are never in snapshots,
/// so a restored job fetches a token and renews a link it held), request
/// ids, and how data happened to be chunked.
fn normalized(actions: &[ActionRecord]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|action| match action {
            ActionRecord::Send {
                at, method, url, ..
            } => (!path(url).contains("/oauth/")
                && !path(url).ends_with("/amazonReportExportTask"))
            .then(|| format!("send {at} {method:?} {}", path(url))),
            ActionRecord::Event {
                event: Event::LinkObtained { .. },
                ..
            } => None,
            ActionRecord::Wait {
                reason: WaitReason::AwaitingResponse { .. },
                ..
            } => None,
            ActionRecord::Wait { at, until, reason } => {
                Some(format!("wait {at} {until} {reason:?}"))
            }
            ActionRecord::Event {
                event:
                    Event::PhaseChanged { .. }
                    | Event::Data(_)
                    | Event::DataReset { .. }
                    | Event::Progress { .. },
                ..
            }
            | ActionRecord::Data { .. }
            | ActionRecord::Restored { .. } => None,
            ActionRecord::Event { at, event } => Some(format!("event {at} {event:?}")),
            ActionRecord::Done { at, summary } => Some(format!(
                "done {at} {} {} {} {}",
                summary.report_id, summary.md5, summary.bytes, summary.rows
            )),
            ActionRecord::Failed { at, error } => Some(format!("failed {at} {error:?}")),
            other => Some(format!("{other:?}")),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// Invariants 1–6 and 8, and Lingxing's sign, refresh and bucket rules,
    /// under generated faults and host mishaps.
    #[test]
    fn lingxing_invariants_hold_under_faults_and_mishaps(case in case()) {
        check(&case)?;
    }

    /// Invariant 7: a twin restored from the snapshot at any drain point
    /// continues exactly as the original (modulo its token fetch).
    #[test]
    fn a_restored_twin_continues_like_the_original(seed in any::<u64>(), rows in 0u32..200, faults in fault_plan(), steps in 0usize..400) {
        let case = Case { seed, rows, generation_ms: 9_000, chunks: (seed, 1, 4_096), faults, ops: Vec::new(), cancel_at: None };
        let mut original = harness(&case);
        for _ in 0..steps {
            original.step().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        }
        // Move on to the next drain point.
        for _ in 0..10_000 {
            if original.at_rest() || original.outcome().is_some() {
                break;
            }
            original.step().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        }
        if original.outcome().is_some() {
            return Ok(());
        }
        let mut twin = original.fork(lingxing::credentials()).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let before = original.actions().len();
        let ours = original.drive_bounded(MAX_STEPS).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let theirs = twin.drive_bounded(MAX_STEPS).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(normalized(ours.actions.get(before..).unwrap_or_default()), normalized(&theirs.actions));
        prop_assert_eq!(&ours.data, &theirs.data);
        prop_assert_eq!(ours.outcome.as_ref().err(), theirs.outcome.as_ref().err());
        prop_assert_eq!(sim(&twin).tasks_created(), sim(&original).tasks_created(), "the twin created no task of its own");
    }
}

/// A cancel at any point is terminal, typed and absorbing.
#[test]
fn cancel_is_terminal_anywhere() {
    for steps in [0, 3, 10, 40, 200] {
        let case = Case {
            seed: 1,
            rows: 50,
            generation_ms: 5_000,
            chunks: (1, 1, 512),
            faults: FaultPlan::none(),
            ops: vec![Op::Steps(steps)],
            cancel_at: None,
        };
        let mut harness = harness(&case);
        for _ in 0..steps {
            harness.step().expect("contract");
        }
        harness.cancel();
        let run = harness.drive_bounded(100).expect("terminal");
        assert!(
            matches!(run.outcome, Err(Error::Cancelled)) || run.summary().is_some(),
            "{:?}",
            run.outcome
        );
    }
}
