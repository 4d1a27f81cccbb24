//! Property tests of the SP-API Reports machine against its simulator: the
//! eight invariants of STYLE.md §4, plus SP-API's own: one report per job
//! whatever was lost or crashed (with and without adopt-before-create), no
//! request beyond its operation's usage plan, and a FATAL report's error
//! document fetched at most once.

use proptest::prelude::*;

mod common;
use common::World;

use reportflow::providers::Provider;
use reportflow::sim::{amazon_sp_api, ActionRecord, Fault, Harness, Run, Sandbox};
use reportflow::{
    Error, Event, JobConfig, JobSpec, Millis, ReportJob, TransportFailure, WaitReason,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const MAX_STEPS: usize = 40_000;

fn world() -> impl Strategy<Value = World> {
    common::world(
        common::fault_plan(
            &[
                Fault::Throttle,
                Fault::ServerError,
                Fault::ExpiredToken,
                Fault::LostAnswer,
                Fault::ExpiredLink,
                Fault::Disconnect,
                Fault::TruncatedGzip,
                Fault::CorruptBody,
            ],
            &[
                Fault::ReportFailure,
                Fault::TaskCancelled,
                Fault::Reject422,
                Fault::MislabelledGzip,
            ],
        ),
        common::op(vec![TransportFailure::Reset, TransportFailure::Timeout]),
    )
}

fn job(sandbox: &Sandbox) -> ReportJob {
    ReportJob::new(
        amazon_sp_api::sample_spec(START),
        sandbox.job_config(Provider::AmazonSpApi),
        amazon_sp_api::credentials(),
        START,
    )
    .expect("a valid job")
}

fn adopting_job(sandbox: &Sandbox) -> ReportJob {
    ReportJob::new(
        JobSpec::AmazonSpApi(amazon_sp_api::sample_report_spec(START).adopting_existing()),
        sandbox.job_config(Provider::AmazonSpApi),
        amazon_sp_api::credentials(),
        START,
    )
    .expect("a valid job")
}

fn sim(harness: &Harness) -> &amazon_sp_api::Simulator {
    harness
        .sandbox()
        .simulator::<amazon_sp_api::Simulator>()
        .expect("the SP-API simulator")
}

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

fn check(world: &World, job: fn(&Sandbox) -> ReportJob) -> Result<(), TestCaseError> {
    let mut harness = world.harness(START, job);
    // 1 (stale answers are typed errors) and 3 (the harness checks the
    // contract on every step) while the ops apply.
    let seen = common::apply(
        &mut harness,
        &world.ops,
        world.cancel_at,
        amazon_sp_api::credentials,
    )?;
    // 2: bounded.
    let run: Run = harness.drive_bounded(MAX_STEPS).map_err(fail)?;
    // 5: retries per step within the budget.
    run.check_retry_budget(&JobConfig::default())
        .map_err(TestCaseError::fail)?;
    // 6: Done only with the simulator's bytes, exactly.
    run.check_data_matches(harness.sandbox())
        .map_err(TestCaseError::fail)?;
    // One report per job, and a lost create never ends ReportMayExist.
    prop_assert!(sim(&harness).reports_created() <= 1);
    prop_assert!(
        !matches!(run.outcome, Err(Error::ReportMayExist { .. })),
        "{:?}",
        run.outcome
    );
    // No request beyond its operation's bucket: the simulator refused none
    // for a spent quota (faults aside). A restore goes back to the last
    // snapshot, and a clock jumped back makes the host's view stale, so
    // those runs are exempt (as MWS's).
    if !(seen.clock_jumped_back || seen.unseen_requests) {
        prop_assert_eq!(
            sim(&harness).quota_refusals(),
            0,
            "a call exceeded its bucket"
        );
    }
    // The error document is fetched at most once.
    prop_assert!(sim(&harness).error_documents_served() <= 1);
    // Nothing of SP-API went to the download host.
    for request in harness.sandbox().requests() {
        if request.path.contains("/_documents/") {
            prop_assert!(!request.has_header("x-amz-access-token"));
            prop_assert!(!request.has_header("authorization"));
        }
    }
    // 8: no secret anywhere printable or persisted.
    run.check_secret_absent(harness.sandbox(), "CANARY")
        .map_err(TestCaseError::fail)?;
    Ok(())
}

/// A run's record without what legitimately differs between twins:
/// request ids, token and document (link) calls, chunking.
fn normalized(actions: &[ActionRecord]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|action| match action {
            ActionRecord::Send {
                at, method, url, ..
            } if !url.contains("/documents/") && !url.contains("/auth/o2/token") => Some(format!(
                "send {at} {method:?} {}",
                url.split('?').next().unwrap_or(url)
            )),
            ActionRecord::Event {
                at,
                event:
                    event @ (Event::ReportCreated { .. }
                    | Event::ReportStatus { .. }
                    | Event::Throttled { .. }),
            } => Some(format!("event {at} {event:?}")),
            ActionRecord::Done { summary, .. } => Some(format!(
                "done {} {} {} {}",
                summary.report_id, summary.md5, summary.bytes, summary.rows
            )),
            ActionRecord::Failed { error, .. } => Some(format!("failed {error:?}")),
            ActionRecord::Wait {
                reason: WaitReason::PollBackoff,
                at,
                until,
            } => Some(format!("wait {at} {until}")),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// Invariants 1–6 and 8, and SP-API's create, quota and error-document
    /// rules, under generated faults and host mishaps.
    #[test]
    fn amazon_sp_api_invariants_hold_under_faults_and_mishaps(world in world()) {
        check(&world, job)?;
    }

    /// The same with adopt-before-create on: still one report per job.
    #[test]
    fn adopting_jobs_create_at_most_one_report(world in world()) {
        check(&world, adopting_job)?;
    }

    /// Invariant 7: a twin restored from the snapshot at any drain point
    /// continues exactly as the original (modulo a token call and a fresh
    /// document answer).
    #[test]
    fn a_restored_twin_continues_like_the_original(world in world(), steps in 0usize..300) {
        let world = World { ops: Vec::new(), cancel_at: None, generation_ms: 9_000, ..world };
        let mut original = world.harness(START, job);
        for _ in 0..steps {
            original.step().map_err(fail)?;
        }
        for _ in 0..10_000 {
            if original.at_rest() || original.outcome().is_some() {
                break;
            }
            original.step().map_err(fail)?;
        }
        if original.outcome().is_some() {
            return Ok(());
        }
        let mut twin = original.fork(amazon_sp_api::credentials()).map_err(fail)?;
        let before = original.actions().len();
        let ours = original.drive_bounded(MAX_STEPS).map_err(fail)?;
        let theirs = twin.drive_bounded(MAX_STEPS).map_err(fail)?;
        prop_assert_eq!(&ours.data, &theirs.data);
        prop_assert_eq!(ours.outcome.as_ref().err(), theirs.outcome.as_ref().err());
        prop_assert_eq!(sim(&twin).reports_created(), sim(&original).reports_created());
        prop_assert_eq!(
            normalized(ours.actions.get(before..).unwrap_or_default()),
            normalized(&theirs.actions)
        );
    }
}
