//! Property tests of the Amazon Ads Reporting v3 machine against its
//! simulator: the eight invariants of STYLE.md §4 (through
//! `tests/common`), plus v3's own: at most one report per job whatever
//! crashed or was lost, a 425 duplicate is adopted and never creates a
//! second report, no download carries the API's credentials, and a lying
//! gzip label never changes the bytes delivered.

use proptest::prelude::*;

mod common;
use common::World;

use reportflow::providers::Provider;
use reportflow::sim::{amazon_ads_v3, Fault, Harness, Run, Sandbox};
use reportflow::{Credentials, Error, JobConfig, Millis, ReportJob, TransportFailure};

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
                Fault::ExpiredLink,
                Fault::LyingGzipLabel,
                Fault::CorruptBody,
                Fault::TruncatedGzip,
                Fault::Disconnect,
            ],
            &[
                Fault::Duplicate425,
                Fault::ReportFailure,
                Fault::Reject422,
                Fault::SlowReport,
            ],
        ),
        common::op(vec![
            TransportFailure::Reset,
            TransportFailure::Timeout,
            TransportFailure::Connect,
        ]),
    )
}

fn job(sandbox: &Sandbox) -> ReportJob {
    ReportJob::new(
        amazon_ads_v3::sample_spec(START),
        sandbox.job_config(Provider::AmazonAdsV3),
        amazon_ads_v3::credentials(),
        START,
    )
    .expect("a valid job")
}

fn sim(harness: &Harness) -> &amazon_ads_v3::Simulator {
    harness
        .sandbox()
        .simulator::<amazon_ads_v3::Simulator>()
        .expect("the Ads v3 simulator")
}

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

fn check(world: &World) -> Result<(), TestCaseError> {
    let mut harness = world.harness(START, job);
    // 1 (stale answers are typed errors) and 3 (the harness checks the
    // contract on every step) while the ops apply.
    common::apply(
        &mut harness,
        &world.ops,
        world.cancel_at,
        amazon_ads_v3::credentials,
    )?;
    // 2: bounded.
    let run: Run = harness.drive_bounded(MAX_STEPS).map_err(fail)?;
    // 5: retries per step within the budget.
    run.check_retry_budget(&JobConfig::default())
        .map_err(TestCaseError::fail)?;
    // 6: Done only with the simulator's bytes, exactly (a lying label or
    // not).
    run.check_data_matches(harness.sandbox())
        .map_err(TestCaseError::fail)?;
    // One report per job: crashes, lost answers and 425s never make a
    // second one; a lost create ends ReportMayExist instead.
    prop_assert!(
        sim(&harness).reports_created() <= 1,
        "{} reports",
        sim(&harness).reports_created()
    );
    if let Some(summary) = run.summary() {
        prop_assert_eq!(
            Some(&summary.report_id),
            sim(&harness).report_ids().first(),
            "the summary names the one report (created or adopted)"
        );
    }
    if world
        .faults
        .entries()
        .iter()
        .any(|(f, _)| *f == Fault::Duplicate425)
    {
        prop_assert!(
            !matches!(run.outcome, Err(Error::Rejected { status: 425, .. })),
            "an adopted duplicate never fails as a duplicate: {:?}",
            run.outcome
        );
    }
    // Nothing of the API went to the download host.
    for request in harness.sandbox().requests() {
        if request.path.contains("/_s3/") {
            prop_assert!(!request.has_header("authorization"));
            prop_assert!(!request.has_header("amazon-advertising-api-clientid"));
            prop_assert!(!request.has_header("amazon-advertising-api-scope"));
        }
    }
    // 8: no secret in anything printable or persisted.
    run.check_secret_absent(harness.sandbox(), amazon_ads_v3::CANARY)
        .map_err(TestCaseError::fail)?;
    Ok(())
}

/// What a host holds at a fork: the credentials and the access token
/// issued last (so the twin, like the original, needs no token call).
fn held_credentials(harness: &Harness) -> Credentials {
    match sim(harness).latest_token() {
        Some((token, expires_at)) => Credentials::AmazonAdsV3(
            amazon_ads_v3::provider_credentials()
                .with_access_token(token.expose().clone(), Some(expires_at)),
        ),
        None => amazon_ads_v3::credentials(),
    }
}

proptest! {
    #[test]
    fn amazon_ads_v3_invariants_hold(world in world()) {
        check(&world)?;
    }

    #[test]
    fn amazon_ads_v3_snapshots_restore_to_the_same_trace(world in world(), fork_after in 0u16..300) {
        common::check_twins_with(world.harness(START, job), fork_after, held_credentials, MAX_STEPS)?;
    }
}
