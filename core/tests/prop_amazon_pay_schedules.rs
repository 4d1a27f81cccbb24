//! Property tests of Amazon Pay's schedule `ensure` against the simulator:
//! from any starting set of schedules (several of one type included, which
//! Amazon itself would not allow), under faults, crashes and host mishaps,
//! it converges to exactly one schedule of the type as asked, with at most
//! one write that changed anything and at most two accepted write calls;
//! a second ensure writes nothing; every API call is signed and verified.

use proptest::prelude::*;

mod common;
use common::World;

use reportflow::providers::amazon_pay::{Region, ReportSpec, Task, SCHEDULE_FREQUENCIES};
use reportflow::providers::Provider;
use reportflow::sim::{amazon_pay, Fault, Harness, Sandbox};
use reportflow::{JobSpec, Method, Millis, ReportJob, TransportFailure};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const HOUR: u64 = 3_600_000;
const MAX_STEPS: usize = 40_000;
const TYPES: [&str; 3] = [
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_SETTLEMENT_DATA_",
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_ORDER_REFERENCE_DATA_",
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_REFUND_DATA_",
];

/// What the merchant has before ensure runs: (type, frequency, next run
/// in hours after the start).
type Start = Vec<(usize, usize, u64)>;

#[derive(Debug, Clone)]
struct Desired {
    report_type: usize,
    frequency: usize,
    /// Next creation time in hours after the start.
    next: Option<u64>,
}

fn desired() -> impl Strategy<Value = Desired> {
    (
        0..TYPES.len(),
        0..SCHEDULE_FREQUENCIES.len(),
        proptest::option::of(0u64..72),
    )
        .prop_map(|(report_type, frequency, next)| Desired {
            report_type,
            frequency,
            next,
        })
}

fn start() -> impl Strategy<Value = Start> {
    proptest::collection::vec(
        (0..TYPES.len(), 0..SCHEDULE_FREQUENCIES.len(), 0u64..72),
        0..5,
    )
}

fn world() -> impl Strategy<Value = World> {
    common::world(
        common::fault_plan(
            &[Fault::Throttle, Fault::ServerError, Fault::LostAnswer],
            &[],
        ),
        common::op(vec![TransportFailure::Reset, TransportFailure::Timeout]),
    )
}

fn ensure_spec(desired: &Desired) -> JobSpec {
    let next = desired
        .next
        .map(|hours| amazon_pay_time(START.saturating_add(hours * HOUR)));
    JobSpec::AmazonPay(ReportSpec::for_task(
        Region::Na,
        amazon_pay::PUBLIC_KEY_ID,
        TYPES[desired.report_type],
        Task::EnsureSchedule {
            frequency: SCHEDULE_FREQUENCIES[desired.frequency].to_owned(),
            next_creation_time: next,
        },
    ))
}

fn amazon_pay_time(at: Millis) -> String {
    reportflow::providers::amazon_pay::basic_time(at)
}

fn sim(sandbox: &Sandbox) -> &amazon_pay::Simulator {
    sandbox
        .simulator::<amazon_pay::Simulator>()
        .expect("the Amazon Pay simulator")
}

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

/// Schedule creates the simulator answered `201`.
fn accepted_writes(sandbox: &Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.method == Method::Post && r.path.ends_with("/report-schedules"))
        .filter(|r| r.status == 201)
        .count()
}

fn check(world: &World, start: &Start, desired: &Desired) -> Result<(), TestCaseError> {
    let spec = ensure_spec(desired);
    let mut harness: Harness = world.harness(START, |sandbox| {
        ReportJob::new(
            spec.clone(),
            sandbox.job_config(Provider::AmazonPay),
            amazon_pay::credentials(),
            START,
        )
        .expect("a valid job")
    });
    let simulator = harness
        .sandbox_mut()
        .simulator_mut::<amazon_pay::Simulator>()
        .expect("the simulator");
    for (report_type, frequency, hours) in start {
        simulator.seed_schedule(
            TYPES[*report_type],
            SCHEDULE_FREQUENCIES[*frequency],
            START.saturating_add(hours * HOUR),
        );
    }
    let others_before: Vec<_> = sim(harness.sandbox())
        .schedules()
        .into_iter()
        .filter(|s| s.1 != TYPES[desired.report_type])
        .collect();
    let seen = common::apply(&mut harness, &world.ops, None, amazon_pay::credentials)?;
    let run = harness.drive_bounded(MAX_STEPS).map_err(fail)?;

    // Every call that reached the simulator was signed and verified (unless
    // the host clock jumped back past Amazon's skew window: the simulator,
    // on the host's clock, then refuses the dates, as Amazon would).
    let sandbox = harness.sandbox();
    if !seen.clock_jumped_back {
        prop_assert_eq!(sim(sandbox).signatures_refused(), 0);
    }
    // At most one write changed anything, at most two were accepted.
    prop_assert!(
        sim(sandbox).schedule_writes() <= 1,
        "{}",
        sim(sandbox).schedule_writes()
    );
    prop_assert!(accepted_writes(sandbox) <= 2);
    let Some(summary) = run.summary() else {
        // Only a spent retry budget or deadline may stop it.
        let error = run.error().expect("Failed");
        prop_assert!(
            seen.clock_jumped_back
                || error.is_retryable()
                || error.kind() == reportflow::ErrorKind::DeadlineExceeded,
            "{error}"
        );
        return Ok(());
    };
    // Converged: exactly one schedule of the type, as asked; others untouched.
    let frequency = SCHEDULE_FREQUENCIES[desired.frequency];
    let of_type: Vec<_> = sim(sandbox)
        .schedules()
        .into_iter()
        .filter(|s| s.1 == TYPES[desired.report_type])
        .collect();
    prop_assert_eq!(of_type.len(), 1);
    prop_assert_eq!(&of_type[0].2, frequency);
    prop_assert_eq!(&summary.report_id, &of_type[0].0);
    let others_after: Vec<_> = sim(sandbox)
        .schedules()
        .into_iter()
        .filter(|s| s.1 != TYPES[desired.report_type])
        .collect();
    prop_assert_eq!(others_before, others_after);
    let delivered: Vec<serde_json::Value> = serde_json::from_slice(&run.data).map_err(fail)?;
    prop_assert_eq!(delivered.len(), 1);
    prop_assert_eq!(&delivered[0]["reportScheduleId"], of_type[0].0.as_str());

    // Idempotent: the same ensure again (a new job, later) writes nothing.
    let writes = sim(sandbox).schedule_writes();
    let later = harness.now().saturating_add(60_000);
    // Faults left unfired in the plan may still fire: they cost retries,
    // never a write.
    let quiet = sandbox.clone();
    let job = ReportJob::new(
        spec,
        quiet.job_config(Provider::AmazonPay),
        amazon_pay::credentials(),
        later,
    )
    .map_err(fail)?;
    let mut again = Harness::new(job, quiet, later);
    let second = again.drive_bounded(MAX_STEPS).map_err(fail)?;
    prop_assert!(
        second.summary().is_some() || second.error().is_some_and(reportflow::Error::is_retryable),
        "{:?}",
        second.error()
    );
    prop_assert_eq!(sim(again.sandbox()).schedule_writes(), writes);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// Ensure converges whatever the start, faults and mishaps.
    #[test]
    fn ensure_converges_with_at_most_one_effective_write(
        world in world(),
        start in start(),
        desired in desired(),
    ) {
        check(&world, &start, &desired)?;
    }
}

fn find_world() -> impl Strategy<Value = World> {
    common::world(
        common::fault_plan(
            &[
                Fault::Throttle,
                Fault::ServerError,
                Fault::LostAnswer,
                Fault::ExpiredLink,
                Fault::Disconnect,
            ],
            &[],
        ),
        common::op(vec![TransportFailure::Reset, TransportFailure::Timeout]),
    )
}

/// A find under faults and mishaps: never a create, every call verified,
/// and `Done` only with the bytes of a report the schedule produced that
/// was not already delivered.
fn check_find(world: &World, reports: u64, delivered_newest: bool) -> Result<(), TestCaseError> {
    let report_type = TYPES[0];
    let seed_schedule = |sandbox: &mut Sandbox| {
        sandbox
            .simulator_mut::<amazon_pay::Simulator>()
            .expect("the simulator")
            .seed_schedule(report_type, "PT1H", Millis(START.as_u64() - reports * HOUR));
    };
    let find = |delivered: Vec<String>| {
        JobSpec::AmazonPay(ReportSpec::for_task(
            Region::Na,
            amazon_pay::PUBLIC_KEY_ID,
            report_type,
            Task::FindReport {
                created_since: amazon_pay_time(Millis(START.as_u64() - 100 * HOUR)),
                delivered,
            },
        ))
    };
    // The newest report, found fault-free first when it is to be skipped.
    let mut delivered = Vec::new();
    if delivered_newest {
        let mut sandbox =
            Sandbox::new(reportflow::sim::SandboxConfig::default().with_seed(world.seed));
        seed_schedule(&mut sandbox);
        let config = sandbox.job_config(Provider::AmazonPay);
        let job = ReportJob::new(find(Vec::new()), config, amazon_pay::credentials(), START)
            .map_err(fail)?;
        let run = Harness::new(job, sandbox, START)
            .drive_bounded(MAX_STEPS)
            .map_err(fail)?;
        if let Some(summary) = run.summary() {
            delivered.push(summary.report_id.clone());
        }
    }
    let spec = find(delivered.clone());
    let mut harness = world.harness(START, |sandbox| {
        ReportJob::new(
            spec.clone(),
            sandbox.job_config(Provider::AmazonPay),
            amazon_pay::credentials(),
            START,
        )
        .expect("a valid job")
    });
    seed_schedule(harness.sandbox_mut());
    let seen = common::apply(&mut harness, &world.ops, None, amazon_pay::credentials)?;
    let run = harness.drive_bounded(MAX_STEPS).map_err(fail)?;
    let sandbox = harness.sandbox();
    if !seen.clock_jumped_back {
        prop_assert_eq!(sim(sandbox).signatures_refused(), 0);
    }
    prop_assert!(!sandbox.requests().iter().any(|r| r.method == Method::Post));
    if let Some(summary) = run.summary() {
        if summary.outcome == reportflow::Outcome::NoData {
            // The schedule made `reports + 1` by the start (its first at
            // START - reports h, its last at START): all delivered only
            // when that is one, and it was.
            prop_assert!(
                delivered_newest && reports == 0,
                "{} reports, none found",
                reports + 1
            );
        } else {
            run.check_data_matches(sandbox)
                .map_err(TestCaseError::fail)?;
            prop_assert!(!delivered.contains(&summary.report_id));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// Find never creates, and delivers only a report it did not deliver.
    #[test]
    fn find_never_creates_and_skips_what_was_delivered(
        world in find_world(),
        reports in 0u64..30,
        delivered_newest in any::<bool>(),
    ) {
        check_find(&world, reports, delivered_newest)?;
    }
}
