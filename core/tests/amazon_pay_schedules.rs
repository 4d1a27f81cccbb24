//! Amazon Pay report schedules and "find, don't create", as stories against
//! the simulator in virtual time: every call signed through `Action::Sign`,
//! the result of a schedule task delivered as a JSON array (`Data` + `Done`).

use reportflow::providers::amazon_pay::{Region, ReportSpec, Task};
use reportflow::providers::Provider;
use reportflow::sim::{amazon_pay, Harness, Run, Sandbox, SandboxConfig};
use reportflow::{ErrorKind, JobSpec, Method, Millis, Outcome, ReportFailure, ReportJob};
use serde_json::Value;

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
const ORDERS: &str = "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_ORDER_REFERENCE_DATA_";
const SETTLEMENT: &str = "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_SETTLEMENT_DATA_";

fn spec(report_type: &str, task: Task) -> ReportSpec {
    ReportSpec::for_task(Region::Na, amazon_pay::PUBLIC_KEY_ID, report_type, task)
}

fn ensure(frequency: &str, next: Option<&str>) -> Task {
    Task::EnsureSchedule {
        frequency: frequency.into(),
        next_creation_time: next.map(str::to_owned),
    }
}

/// Runs `spec` at `now` on `sandbox`; the sandbox comes back with the run.
fn run(sandbox: Sandbox, spec: ReportSpec, now: Millis) -> (Run, Sandbox) {
    let config = sandbox.job_config(Provider::AmazonPay);
    let job = ReportJob::new(
        JobSpec::AmazonPay(spec),
        config,
        amazon_pay::credentials(),
        now,
    )
    .expect("a valid job");
    let mut harness = Harness::new(job, sandbox, now);
    let run = harness.drive_bounded(5_000).expect("the job ends");
    (run, harness.sandbox().clone())
}

fn sim(sandbox: &Sandbox) -> &amazon_pay::Simulator {
    sandbox
        .simulator::<amazon_pay::Simulator>()
        .expect("the simulator")
}

/// Schedule writes (POST and DELETE on report-schedules) the simulator saw.
fn writes(sandbox: &Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.path.contains("/report-schedules") && r.method != Method::Get)
        .count()
}

fn document(run: &Run) -> Vec<Value> {
    assert!(run.summary().is_some(), "Done: {:?}", run.error());
    serde_json::from_slice(&run.data).expect("a JSON array")
}

fn statuses(run: &Run) -> Vec<String> {
    run.actions
        .iter()
        .filter_map(|a| match a {
            reportflow::sim::ActionRecord::Event {
                event: reportflow::Event::ReportStatus { status },
                ..
            } => Some(status.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn ensure_writes_once_then_never_again_and_replaces_on_another_frequency() {
    let sandbox = Sandbox::new(SandboxConfig::default());
    let (first, sandbox) = run(sandbox, spec(ORDERS, ensure("P1D", None)), START);
    let schedules = document(&first);
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0]["scheduleFrequency"], "P1D");
    assert_eq!(statuses(&first), ["created"]);
    let summary = first.summary().unwrap();
    assert_eq!(summary.report_id, schedules[0]["reportScheduleId"]);
    assert_eq!(
        (summary.rows, summary.content_type.as_str()),
        (1, "application/json")
    );
    assert_eq!(writes(&sandbox), 1);

    let later = START.saturating_add(HOUR);
    let (second, sandbox) = run(sandbox, spec(ORDERS, ensure("P1D", None)), later);
    assert_eq!(document(&second), schedules, "the same schedule");
    assert_eq!(statuses(&second), ["unchanged"]);
    assert_eq!(writes(&sandbox), 1, "no write the second time");

    let (third, sandbox) = run(sandbox, spec(ORDERS, ensure("P7D", None)), later);
    assert_eq!(statuses(&third), ["replaced"]);
    assert_eq!(document(&third)[0]["scheduleFrequency"], "P7D");
    assert_eq!(writes(&sandbox), 2);

    let (list, sandbox) = run(sandbox, spec(ORDERS, Task::ListSchedules), later);
    let listed = document(&list);
    assert_eq!(listed.len(), 1, "exactly one schedule for the type");
    assert_eq!(listed[0]["scheduleFrequency"], "P7D");
    assert_eq!(sim(&sandbox).schedules().len(), 1);
    assert_eq!(sim(&sandbox).signatures_refused(), 0);
}

#[test]
fn ensure_with_a_next_time_matches_a_schedule_that_has_run_since() {
    let next = "20240301T060000Z";
    let sandbox = Sandbox::new(SandboxConfig::default());
    let (_, sandbox) = run(
        sandbox,
        spec(SETTLEMENT, ensure("PT12H", Some(next))),
        START,
    );
    // Three days on the schedule has produced six reports and moved on.
    let later = START.saturating_add(3 * DAY);
    let (again, sandbox) = run(
        sandbox,
        spec(SETTLEMENT, ensure("PT12H", Some(next))),
        later,
    );
    assert_eq!(statuses(&again), ["unchanged"]);
    assert_eq!(
        document(&again)[0]["nextReportCreationTime"],
        "20240304T060000Z"
    );
    let (moved, sandbox) = run(
        sandbox,
        spec(SETTLEMENT, ensure("PT12H", Some("2024-03-04T07:00:00Z"))),
        later,
    );
    assert_eq!(statuses(&moved), ["replaced"]);
    assert_eq!(writes(&sandbox), 2);
}

#[test]
fn several_schedules_of_one_type_converge_to_one_in_one_write() {
    let mut sandbox = Sandbox::new(SandboxConfig::default());
    let sim_mut = sandbox.simulator_mut::<amazon_pay::Simulator>().unwrap();
    sim_mut.seed_schedule(ORDERS, "P1D", START.saturating_add(HOUR));
    sim_mut.seed_schedule(ORDERS, "P1D", START.saturating_add(2 * HOUR));
    sim_mut.seed_schedule(SETTLEMENT, "P2D", START.saturating_add(HOUR));
    let (ensured, sandbox) = run(sandbox, spec(ORDERS, ensure("P1D", None)), START);
    assert_eq!(statuses(&ensured), ["replaced"]);
    assert_eq!(writes(&sandbox), 1);
    let types: Vec<String> = sim(&sandbox).schedules().into_iter().map(|s| s.1).collect();
    assert_eq!(types.iter().filter(|t| *t == ORDERS).count(), 1);
    assert!(
        types.contains(&SETTLEMENT.to_owned()),
        "other types untouched"
    );
}

#[test]
fn get_reads_the_wrapper_cancel_removes_and_unknown_ids_are_not_found() {
    let sandbox = Sandbox::new(SandboxConfig::default());
    let (created, sandbox) = run(
        sandbox,
        spec(
            ORDERS,
            Task::CreateSchedule {
                frequency: "PT4H".into(),
                next_creation_time: None,
                delete_existing: false,
            },
        ),
        START,
    );
    let id = created.summary().unwrap().report_id.clone();
    let get = |id: &str| {
        spec(
            "",
            Task::GetSchedule {
                schedule_id: id.into(),
            },
        )
    };
    let (got, sandbox) = run(sandbox, get(&id), START);
    assert_eq!(document(&got)[0]["reportScheduleId"], id.as_str());

    // One schedule per type: a create without deleteExistingSchedule is refused.
    let again = Task::CreateSchedule {
        frequency: "P1D".into(),
        next_creation_time: None,
        delete_existing: false,
    };
    let (refused, sandbox) = run(sandbox, spec(ORDERS, again), START);
    let error = refused.error().expect("refused");
    assert_eq!(error.kind(), ErrorKind::Rejected);
    assert!(error.to_string().contains("already exists"), "{error}");

    let (cancelled, sandbox) = run(
        sandbox,
        spec(
            "",
            Task::CancelSchedule {
                schedule_id: id.clone(),
            },
        ),
        START,
    );
    assert!(document(&cancelled).is_empty());
    assert!(sim(&sandbox).schedules().is_empty());
    let (missing, _) = run(sandbox, get(&id), START);
    assert!(matches!(
        missing.error(),
        Some(reportflow::Error::ReportFailed {
            failure: ReportFailure::NotFound,
            ..
        })
    ));
}

#[test]
fn frequencies_and_unschedulable_types_are_refused_before_any_request() {
    let sandbox = Sandbox::new(SandboxConfig::default());
    for (report_type, frequency) in [
        (ORDERS, "P1M"),
        (ORDERS, "1D"),
        (ORDERS, ""),
        (
            "_GET_CSV_CUSTOM_OFFAMAZONPAYMENTS_MULTI_CURRENCY_PAYMENTS_DATA_",
            "P1D",
        ),
    ] {
        let job = ReportJob::new(
            JobSpec::AmazonPay(spec(report_type, ensure(frequency, None))),
            sandbox.job_config(Provider::AmazonPay),
            amazon_pay::credentials(),
            START,
        );
        let error = job.expect_err(frequency).to_string();
        assert!(
            error.contains("frequency") || error.contains("schedule"),
            "{error}"
        );
    }
    let bad_next = ReportJob::new(
        JobSpec::AmazonPay(spec(ORDERS, ensure("P1D", Some("tomorrow")))),
        sandbox.job_config(Provider::AmazonPay),
        amazon_pay::credentials(),
        START,
    );
    assert!(bad_next.is_err());
}

fn find(since: &str, delivered: &[String]) -> ReportSpec {
    spec(
        SETTLEMENT,
        Task::FindReport {
            created_since: since.into(),
            delivered: delivered.to_vec(),
        },
    )
}

#[test]
fn find_pages_through_scheduled_reports_and_a_rerun_delivers_only_new_ones() {
    let sandbox = Sandbox::new(SandboxConfig::default().with_rows(20));
    // Every 5 minutes from 01:00: 288 reports a day, three pages of 100.
    let (_, sandbox) = run(
        sandbox,
        spec(SETTLEMENT, ensure("PT5M", Some("20240301T010000Z"))),
        START,
    );
    let now = START.saturating_add(DAY);
    let (newest, sandbox) = run(sandbox, find("20240301T000000Z", &[]), now);
    let summary = newest.summary().expect("Done").clone();
    newest.check_data_matches(&sandbox).unwrap();
    assert_eq!(summary.rows, 20);
    let pages = sandbox
        .requests()
        .iter()
        .filter(|r| r.method == Method::Get && r.path.ends_with("/reports"))
        .count();
    assert_eq!(pages, 3, "288 reports in pages of 100");
    assert!(
        !newest.requests.iter().any(|r| r.method == Method::Post),
        "found, not created"
    );

    let delivered = vec![summary.report_id.clone()];
    let (next, sandbox) = run(sandbox, find("20240301T000000Z", &delivered), now);
    let next_id = &next.summary().expect("Done").report_id;
    assert_ne!(next_id, &summary.report_id);
    next.check_data_matches(&sandbox).unwrap();

    let (none, _) = run(sandbox, find("2024-03-02T00:00:01Z", &[]), now);
    let empty = none.summary().expect("Done");
    assert_eq!((empty.outcome, empty.bytes), (Outcome::NoData, 0));
    assert_eq!(empty.report_id, SETTLEMENT);
}
