//! Creates are never silently doubled, for every provider: across a host
//! crash at every step (the host persists before each send, as the run-loop
//! contract asks) and across lost, hung or reset answers, the simulator
//! accepts at most one report per job, unless the host's config allows a
//! second create. A create whose answer was never seen ends the job
//! `ReportMayExist`, except at Amazon Pay, whose create honours an
//! idempotency key: the job repeats it and gets the same report. Where a
//! second create is allowed, Amazon Ads v3 answers it 425 naming the first
//! report while that one is processing, and the job adopts it.

mod common;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use reportflow::providers::Provider;
use reportflow::sim::{
    amazon_ads, amazon_ads_v3, amazon_mws, amazon_pay, lingxing, yandex_market, ChunkPlan, Fault,
    FaultPlan, Harness, Interference, Sandbox, SandboxConfig,
};
use reportflow::{Credentials, Error, JobConfig, JobSpec, Millis, ReportJob, TransportFailure};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const MAX_STEPS: usize = 40_000;
/// Steps a clean run of any provider takes, with room to spare: every step
/// up to here gets its crash.
const CRASH_STEPS: usize = 80;

const PROVIDERS: [Provider; 6] = [
    Provider::AmazonAds,
    Provider::AmazonAdsV3,
    Provider::Lingxing,
    Provider::YandexMarket,
    Provider::AmazonMws,
    Provider::AmazonPay,
];

/// Whether the provider's create honours an idempotency key, so a lost
/// create is repeated safely instead of ending `ReportMayExist`.
fn idempotent(provider: Provider) -> bool {
    provider == Provider::AmazonPay
}

fn cases() -> u32 {
    // Tests may read the environment; the core library may not.
    #[allow(clippy::disallowed_methods)]
    let configured = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    configured.unwrap_or(256)
}

fn spec(provider: Provider) -> JobSpec {
    match provider {
        Provider::AmazonAds => amazon_ads::sample_spec(START),
        Provider::AmazonAdsV3 => amazon_ads_v3::sample_spec(START),
        Provider::Lingxing => lingxing::sample_spec(),
        Provider::AmazonMws => amazon_mws::sample_spec(START),
        Provider::AmazonPay => amazon_pay::sample_spec(START),
        _ => yandex_market::sample_spec(START),
    }
}

fn credentials_for(provider: Provider) -> fn() -> Credentials {
    match provider {
        Provider::AmazonAds => amazon_ads::credentials,
        Provider::AmazonAdsV3 => amazon_ads_v3::credentials,
        Provider::Lingxing => lingxing::credentials,
        Provider::AmazonMws => amazon_mws::credentials,
        Provider::AmazonPay => amazon_pay::credentials,
        _ => yandex_market::credentials,
    }
}

/// Reports the provider's simulator accepted.
fn creates(harness: &Harness, provider: Provider) -> usize {
    let sandbox = harness.sandbox();
    match provider {
        Provider::AmazonAds => sandbox
            .simulator::<amazon_ads::Simulator>()
            .map_or(0, amazon_ads::Simulator::reports_created),
        Provider::AmazonAdsV3 => sandbox
            .simulator::<amazon_ads_v3::Simulator>()
            .map_or(0, amazon_ads_v3::Simulator::reports_created),
        Provider::Lingxing => sandbox
            .simulator::<lingxing::Simulator>()
            .map_or(0, lingxing::Simulator::tasks_created),
        Provider::AmazonMws => sandbox
            .simulator::<amazon_mws::Simulator>()
            .map_or(0, amazon_mws::Simulator::requests_accepted),
        Provider::AmazonPay => sandbox
            .simulator::<amazon_pay::Simulator>()
            .map_or(0, amazon_pay::Simulator::reports_created),
        _ => sandbox
            .simulator::<yandex_market::Simulator>()
            .map_or(0, yandex_market::Simulator::reports_created),
    }
}

fn harness(provider: Provider, seed: u64, allow_duplicates: bool) -> Harness {
    harness_with(provider, seed, allow_duplicates, FaultPlan::none())
}

fn harness_with(
    provider: Provider,
    seed: u64,
    allow_duplicates: bool,
    faults: FaultPlan,
) -> Harness {
    let sandbox = Sandbox::new(
        SandboxConfig::default()
            .with_seed(seed)
            .with_rows(20)
            .with_generation_ms(3_000)
            .with_faults(faults),
    );
    let mut config: JobConfig = sandbox.job_config(provider);
    config.allow_duplicate_reports = allow_duplicates;
    let job = ReportJob::new(spec(provider), config, credentials_for(provider)(), START)
        .expect("a valid job");
    Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(seed, 1, 4_096))
}

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

/// The run's end: `Done` with the ground truth, or `ReportMayExist`.
fn check_end(harness: &mut Harness, provider: Provider) -> Result<bool, TestCaseError> {
    let run = harness.drive_bounded(MAX_STEPS).map_err(fail)?;
    run.check_data_matches(harness.sandbox())
        .map_err(TestCaseError::fail)?;
    match &run.outcome {
        Ok(_) => Ok(true),
        Err(Error::ReportMayExist { .. }) => Ok(false),
        Err(other) => Err(fail(format!("{provider}: {other:?}"))),
    }
}

#[test]
fn a_crash_at_every_step_makes_at_most_one_report() {
    for provider in PROVIDERS {
        let mut may_exist = 0;
        for crash_at in 0..CRASH_STEPS {
            let mut harness = harness(provider, 3, false);
            for _ in 0..crash_at {
                if harness.outcome().is_some() {
                    break;
                }
                harness.step().expect("the contract holds");
            }
            harness
                .crash_and_restore(credentials_for(provider)())
                .expect("the persisted snapshot restores");
            let done = check_end(&mut harness, provider).expect("a typed end");
            may_exist += usize::from(!done);
            assert!(
                creates(&harness, provider) <= 1,
                "{provider}: {} reports after a crash at step {crash_at}",
                creates(&harness, provider)
            );
        }
        if idempotent(provider) {
            assert_eq!(
                may_exist, 0,
                "{provider}: a lost create is repeated with its key"
            );
        } else {
            // Some crash caught the create in flight (and only those end typed).
            assert!(may_exist >= 1, "{provider}: no crash hit the create");
            assert!(may_exist < CRASH_STEPS / 2, "{provider}: {may_exist}");
        }
    }
}

#[test]
fn a_crash_during_the_create_makes_a_second_report_only_when_allowed() {
    for provider in PROVIDERS {
        let mut harness = harness(provider, 5, true);
        // Run to the create's send (the sandbox has made the report), then
        // crash before its answer is seen.
        while creates(&harness, provider) == 0 {
            harness.step().expect("the contract holds");
        }
        harness
            .crash_and_restore(credentials_for(provider)())
            .expect("restores");
        assert!(
            check_end(&mut harness, provider).expect("a typed end"),
            "{provider}: allowed, the job creates again and finishes"
        );
        // Ads v3 answers the allowed second create with 425 naming the
        // first report (still processing), and the job adopts it.
        let adopts_duplicates = provider == Provider::AmazonAdsV3;
        let expected = if idempotent(provider) || adopts_duplicates {
            1
        } else {
            2
        };
        assert_eq!(creates(&harness, provider), expected, "{provider}");
    }
}

/// Host mishaps: the shared ops (lost, hung and reset answers, crashes,
/// clock jumps, stale answers), with more losses and crashes.
fn mishap() -> impl Strategy<Value = common::Op> {
    prop_oneof![
        4 => common::op(vec![TransportFailure::Reset, TransportFailure::Timeout, TransportFailure::Connect]),
        1 => Just(common::Op::Lose),
        1 => Just(common::Op::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// At most one accepted create per job unless the config allows more;
    /// with it allowed, every run finishes `Done`.
    #[test]
    fn lost_answers_and_crashes_never_double_a_create(
        provider in proptest::sample::select(PROVIDERS.to_vec()),
        seed in any::<u64>(),
        ops in proptest::collection::vec(mishap(), 1..12),
        faults in common::fault_plan(&[Fault::ServerError, Fault::Throttle, Fault::ExpiredToken], &[]),
        allow in any::<bool>(),
    ) {
        let mut harness = harness_with(provider, seed, allow, faults);
        common::apply(&mut harness, &ops, None, credentials_for(provider))?;
        let run = harness.drive_bounded(MAX_STEPS).map_err(fail)?;
        run.check_data_matches(harness.sandbox()).map_err(TestCaseError::fail)?;
        if allow {
            // Retries may run out under many mishaps; a second create is
            // allowed, ReportMayExist is not needed.
            prop_assert!(!matches!(run.outcome, Err(Error::ReportMayExist { .. })), "{:?}", run.outcome);
        } else {
            prop_assert!(creates(&harness, provider) <= 1, "{provider}: {} reports", creates(&harness, provider));
        }
        if idempotent(provider) {
            prop_assert!(creates(&harness, provider) <= 1, "{provider}: {} reports", creates(&harness, provider));
            prop_assert!(!matches!(run.outcome, Err(Error::ReportMayExist { .. })), "{:?}", run.outcome);
        }
    }
}

#[test]
fn a_lost_or_hung_create_answer_ends_typed() {
    for provider in PROVIDERS {
        for mishap in [Interference::LoseResponse, Interference::Hang] {
            let mut harness = harness(provider, 9, false);
            // Every request meets the mishap until the create has reached the
            // provider (the token calls before it are retried).
            while creates(&harness, provider) == 0 && harness.outcome().is_none() {
                if harness.in_flight().is_none() {
                    harness.interfere(mishap.clone());
                }
                harness.step().expect("the contract holds");
            }
            let run = harness.drive_bounded(MAX_STEPS).expect("terminal");
            if creates(&harness, provider) == 1 && idempotent(provider) {
                assert!(
                    run.summary().is_some(),
                    "{provider} {mishap:?}: {:?}",
                    run.outcome
                );
            } else if creates(&harness, provider) == 1 {
                assert!(
                    matches!(run.outcome, Err(Error::ReportMayExist { .. })),
                    "{provider} {mishap:?}: {:?}",
                    run.outcome
                );
            }
            assert!(creates(&harness, provider) <= 1, "{provider} {mishap:?}");
        }
    }
}
