//! Property tests of the Yandex Market machine against its simulator: the
//! eight invariants of STYLE.md §4, plus Yandex's own: no request is sent
//! while the job's view of a quota says none is left, and after a `420`
//! nothing is sent before `X-RateLimit-Resource-Until`.
//!
//! Transitions are generated firezone-style (time is a transition): fault
//! plans from a curated table, transport mishaps, crashes with restore,
//! clock jumps back, idle ticks, stale answers and, rarely, a cancel.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

mod common;
use common::Op;

use reportflow::providers::yandex_market::{ReportFormat, ReportKind, ReportSpec};
use reportflow::providers::Provider;
use reportflow::sim::{
    yandex_market, ActionRecord, ChunkPlan, Fault, FaultPlan, Harness, Run, Sandbox, SandboxConfig,
};
use reportflow::{
    Error, Event, JobConfig, JobSpec, Millis, ReportJob, RequestId, TransportFailure,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const MAX_STEPS: usize = 40_000;

/// Faults a Yandex run can meet; terminal outcomes fire at most once.
fn fault_plan() -> impl Strategy<Value = FaultPlan> {
    common::fault_plan(
        &[
            Fault::Throttle,
            Fault::ServerError,
            Fault::MalformedEnvelope,
            Fault::WrongEstimate,
            Fault::ExpiredLink,
            Fault::CorruptBody,
            Fault::TruncatedGzip,
            Fault::Disconnect,
        ],
        &[
            Fault::NoData,
            Fault::TooLarge,
            Fault::ReportFailure,
            Fault::ZipBomb,
            Fault::ZipSlip,
            Fault::PartialReport,
            Fault::Reject422,
            Fault::ExpiredToken,
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
    format: ReportFormat,
    kind: ReportKind,
    chunks: (u64, usize, usize),
    faults: FaultPlan,
    ops: Vec<Op>,
    cancel_at: Option<usize>,
    fork_after: u16,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        0u32..200,
        0u64..30_000,
        prop_oneof![
            Just(ReportFormat::Csv),
            Just(ReportFormat::Json),
            Just(ReportFormat::File)
        ],
        prop_oneof![
            6 => Just(ReportKind::UnitedOrders),
            1 => Just(ReportKind::KeyIndicators),
            1 => Just(ReportKind::ClosureDocuments),
            1 => Just(ReportKind::Labels),
        ],
        (any::<u64>(), 1usize..64, 64usize..20_000),
        fault_plan(),
        (
            proptest::collection::vec(op(), 0..24),
            proptest::option::weighted(0.05, 0usize..24),
            0u16..300,
        ),
    )
        .prop_map(
            |(
                seed,
                rows,
                generation_ms,
                format,
                kind,
                chunks,
                faults,
                (ops, cancel_at, fork_after),
            )| Case {
                seed,
                rows,
                generation_ms,
                format,
                kind,
                chunks,
                faults,
                ops,
                cancel_at,
                fork_after,
            },
        )
}

fn spec(case: &Case) -> JobSpec {
    JobSpec::YandexMarket(ReportSpec::new(
        yandex_market::sample_request(case.kind, START),
        if matches!(case.kind, ReportKind::Labels | ReportKind::ClosureDocuments) {
            ReportFormat::File
        } else {
            case.format
        },
    ))
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
        sandbox.job_config(Provider::YandexMarket),
        yandex_market::credentials(),
        START,
    )
    .expect("a valid job");
    let (seed, min, max) = case.chunks;
    Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(seed, min, max))
}

fn sim(harness: &Harness) -> &yandex_market::Simulator {
    harness
        .sandbox()
        .simulator::<yandex_market::Simulator>()
        .expect("the Yandex simulator")
}

fn bucket_of(url: &str) -> Option<&'static str> {
    if url.contains("/generate") {
        Some("yandex-market:generate")
    } else if url.contains("/reports/info/") {
        Some("yandex-market:info")
    } else {
        None
    }
}

struct Outcome {
    run: Run,
    harness: Harness,
    disturbed: bool,
}

fn run(case: &Case) -> Result<Outcome, TestCaseError> {
    let mut harness = harness(case);
    let seen = common::apply(
        &mut harness,
        &case.ops,
        case.cancel_at,
        yandex_market::credentials,
    )?;
    let disturbed = seen.clock_jumped_back || seen.unseen_requests;
    // 2: bounded; the harness checks 3 (waits, one in flight) on every step.
    let run = harness
        .drive_bounded(MAX_STEPS)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    Ok(Outcome {
        run,
        harness,
        disturbed,
    })
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let Outcome {
        run,
        harness,
        disturbed,
    } = run(case)?;
    let config = JobConfig::default();

    // 5: retries per step stay within the configured budget.
    run.check_retry_budget(&config)
        .map_err(TestCaseError::fail)?;

    // 6: Done only with the simulator's bytes, exactly; no data otherwise.
    run.check_data_matches(harness.sandbox())
        .map_err(TestCaseError::fail)?;
    if let Some(summary) = run.summary() {
        let parts: u64 = summary.parts.iter().map(|p| p.bytes).sum();
        prop_assert!(summary.parts.is_empty() || parts == summary.bytes);
    }

    // One report per job, whatever was lost or crashed: a generate whose
    // answer was never seen ends the job `ReportMayExist` instead of being
    // sent again (the config does not allow a second create).
    prop_assert!(
        sim(&harness).reports_created() <= 1,
        "{} reports generated",
        sim(&harness).reports_created()
    );
    if let Some(Error::ReportMayExist { .. }) = run.error() {
        prop_assert!(disturbed, "a create was lost without a disturbance");
    }

    // Yandex: no request while the job's view of its quota says none is
    // left; after a 420, nothing at all before its Until. (A restore goes
    // back to the last snapshot, which may not know the latest view.)
    let answered: HashMap<RequestId, u16> = harness.answered().iter().copied().collect();
    let mut empty_until: HashMap<&'static str, Millis> = HashMap::new();
    let mut silence_until = Millis::ZERO;
    let mut last_420: Option<RequestId> = None;
    for action in &run.actions {
        match action {
            ActionRecord::Restored { .. } => {
                empty_until.clear();
                silence_until = Millis::ZERO;
                last_420 = None;
            }
            ActionRecord::Event {
                event: Event::Throttled { bucket, until },
                ..
            } => {
                let bucket = if bucket.ends_with("generate") {
                    "yandex-market:generate"
                } else {
                    "yandex-market:info"
                };
                empty_until.insert(bucket, *until);
                if last_420.take().is_some() {
                    silence_until = silence_until.max(*until);
                }
            }
            ActionRecord::Send { at, id, url, .. } => {
                prop_assert!(
                    *at >= silence_until,
                    "a request at {at} before the 420's Until {silence_until}"
                );
                // Honoured: a later jump back of the host clock may put
                // `now` before that Until again without any new 420.
                silence_until = Millis::ZERO;
                if let Some(bucket) = bucket_of(url) {
                    if let Some(until) = empty_until.get(bucket) {
                        prop_assert!(
                            at >= until,
                            "{bucket} used at {at} while the job's view said empty until {until}"
                        );
                    }
                    if answered.get(id) == Some(&420) {
                        last_420 = Some(*id);
                    }
                }
            }
            _ => {}
        }
    }
    if !disturbed {
        prop_assert_eq!(sim(&harness).limit_hits(), 0, "the job provoked a 420");
    }

    // The file host never sees the API's credentials.
    for request in &run.requests {
        if request.url.contains("/_files/") {
            prop_assert!(request.headers.is_empty());
        }
    }

    // 8: no secret in any printable or persisted surface.
    run.check_secret_absent(harness.sandbox(), yandex_market::CANARY)
        .map_err(TestCaseError::fail)?;
    for snapshot in &run.snapshots {
        prop_assert!(!snapshot.contains("/_files/"), "a file link was persisted");
    }
    Ok(())
}

fn check_twins(case: &Case) -> Result<(), TestCaseError> {
    common::check_twins(
        harness(case),
        case.fork_after,
        yandex_market::credentials,
        MAX_STEPS,
    )
}

proptest! {
    #[test]
    fn yandex_invariants_hold(case in case()) {
        check(&case)?;
    }

    #[test]
    fn yandex_snapshots_restore_to_the_same_trace(case in case()) {
        check_twins(&case)?;
    }
}

#[test]
fn quota_headers_are_honoured_across_many_jobs() {
    // Ten jobs in a row on one account: each generate after the first finds
    // the kind's quota used, learns the window from the 420's headers and
    // waits it out; nothing is sent early.
    let mut sandbox = Sandbox::new(SandboxConfig::default().with_rows(3));
    let mut now = START;
    let mut ids = HashSet::new();
    for _ in 0..3 {
        let job = ReportJob::new(
            yandex_market::sample_spec(now),
            sandbox.job_config(Provider::YandexMarket),
            yandex_market::credentials(),
            now,
        )
        .expect("a valid job");
        let mut harness = Harness::new(job, sandbox.clone(), now);
        let run = harness.drive_bounded(MAX_STEPS).expect("ends");
        let summary = run.summary().expect("Done");
        ids.insert(summary.report_id.clone());
        now = run.finished_at;
        sandbox = harness.sandbox().clone();
    }
    assert_eq!(ids.len(), 3);
    let hits = sandbox
        .simulator::<yandex_market::Simulator>()
        .expect("sim")
        .limit_hits();
    assert!(
        hits <= 2,
        "at most one 420 per job that started inside a used window: {hits}"
    );
}
