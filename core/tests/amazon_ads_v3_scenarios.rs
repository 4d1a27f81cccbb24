//! Named stories of the Amazon Ads Reporting v3 machine against its
//! simulator, in virtual time.

use reportflow::providers::amazon_ads_v3::ReportSpec;
use reportflow::providers::Provider;
use reportflow::sim::{
    amazon_ads_v3, ActionRecord, FaultPlan, Harness, Run, Sandbox, SandboxConfig,
};
use reportflow::{
    ConfigError, Error, ErrorKind, Event, JobSpec, Method, Millis, Outcome, ReportFailure,
    ReportJob, WaitReason,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);

fn sandbox(faults: &str) -> Sandbox {
    Sandbox::new(
        SandboxConfig::default()
            .with_rows(50)
            .with_faults(FaultPlan::parse(faults).expect("a fault plan")),
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

fn go(faults: &str) -> (Run, Harness) {
    let sandbox = sandbox(faults);
    let mut harness = Harness::new(job(&sandbox), sandbox, START);
    let run = harness.drive_bounded(20_000).expect("the job ends");
    (run, harness)
}

fn sim(harness: &Harness) -> &amazon_ads_v3::Simulator {
    harness
        .sandbox()
        .simulator::<amazon_ads_v3::Simulator>()
        .expect("the Ads v3 simulator")
}

/// Requests of `method` whose path ends with `suffix` and that got `status`.
fn answered(harness: &Harness, method: Method, suffix: &str, status: u16) -> usize {
    harness
        .sandbox()
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(suffix) && r.status == status)
        .count()
}

#[test]
fn throttle_expired_link_lying_gzip_label_and_broken_downloads_end_done_with_the_clean_bytes() {
    let (clean, _) = go("");
    let clean_summary = clean.summary().expect("Done");
    assert_eq!(clean_summary.rows, 50);
    let (run, harness) = go(
        "throttle:2,server-error,expired-token,expired-link,lying-gzip-label,corrupt-body,truncated-gzip,disconnect",
    );
    let summary = run.summary().expect("Done");
    assert_eq!(summary.outcome, Outcome::Complete);
    assert_eq!(run.data, clean.data, "byte-identical to the fault-free run");
    run.check_data_matches(harness.sandbox()).unwrap();
    assert_eq!(sim(&harness).reports_created(), 1, "never a second report");
    let throttled = run.actions.iter().any(|a| {
        matches!(a, ActionRecord::Wait { reason: WaitReason::RateLimit { bucket }, .. } if bucket == "amazon-ads-v3:api")
    });
    assert!(
        throttled,
        "a 429 empties the job's bucket until Retry-After"
    );
    // No download carried the API's credentials.
    for request in harness.sandbox().requests() {
        if request.path.contains("/_s3/") {
            assert!(!request.has_header("authorization"), "{request:?}");
            assert!(!request.has_header("amazon-advertising-api-clientid"));
        }
    }
}

#[test]
fn a_lying_gzip_label_alone_decodes_by_the_bytes() {
    let (clean, _) = go("");
    let (run, _) = go("lying-gzip-label");
    assert_eq!(run.data, clean.data);
    let (summary, clean) = (run.summary().expect("Done"), clean.summary().unwrap());
    assert_eq!(summary.rows, clean.rows);
    // The MD5 is of the bytes as transferred: here the plain JSON.
    assert_ne!(summary.md5, clean.md5);
}

#[test]
fn a_425_duplicate_is_adopted_one_report_no_failure() {
    let (clean, _) = go("");
    let (run, harness) = go("duplicate-425");
    let summary = run.summary().expect("Done");
    assert_eq!(run.data, clean.data);
    assert_eq!(sim(&harness).reports_created(), 1);
    assert_eq!(
        answered(&harness, Method::Post, "/reporting/reports", 425),
        1
    );
    assert_eq!(
        answered(&harness, Method::Post, "/reporting/reports", 200),
        0
    );
    let named = &sim(&harness).report_ids()[0];
    assert_eq!(&summary.report_id, named, "the report the 425 named");
    let created: Vec<_> = run
        .actions
        .iter()
        .filter_map(|a| match a {
            ActionRecord::Event {
                event: Event::ReportCreated { report_id },
                ..
            } => Some(report_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        created,
        std::slice::from_ref(named),
        "the host is told the adopted id"
    );
}

fn job_with(sandbox: &Sandbox, allow_duplicate_reports: bool) -> ReportJob {
    let mut config = sandbox.job_config(Provider::AmazonAdsV3);
    config.allow_duplicate_reports = allow_duplicate_reports;
    ReportJob::new(
        amazon_ads_v3::sample_spec(START),
        config,
        amazon_ads_v3::credentials(),
        START,
    )
    .expect("a valid job")
}

/// A crash at every step: `Done` with the clean bytes and one report, except
/// a crash with the create in flight, which ends `ReportMayExist` — or,
/// when the host allows a second create, repeats it, is answered 425
/// naming the first report, and adopts it: still one report, `Done`.
#[test]
fn a_crash_at_every_step_ends_done_with_one_report_or_report_may_exist() {
    let (clean, _) = go("");
    let steps = {
        let sandbox = sandbox("");
        let mut harness = Harness::new(job(&sandbox), sandbox, START);
        harness.drive().unwrap();
        harness.steps()
    };
    let (mut may_exist, mut adopted) = (0, 0);
    for allow in [false, true] {
        for crash_at in 1..steps {
            let sandbox = sandbox("throttle");
            let mut harness = Harness::new(job_with(&sandbox, allow), sandbox, START);
            for _ in 0..crash_at {
                harness.step().unwrap();
            }
            harness
                .crash_and_restore(amazon_ads_v3::credentials())
                .unwrap();
            let run = harness.drive_bounded(20_000).unwrap();
            let reports = sim(&harness).reports_created();
            assert!(reports <= 1, "crash at {crash_at}: {reports} reports");
            match &run.outcome {
                Err(Error::ReportMayExist { .. }) if !allow => may_exist += 1,
                Ok(_) => {
                    assert_eq!(reports, 1, "crash at {crash_at}");
                    assert_eq!(run.data, clean.data, "crash at {crash_at}");
                }
                other => panic!("crash at {crash_at} (allow {allow}): {other:?}"),
            }
            adopted += answered(&harness, Method::Post, "/reporting/reports", 425);
        }
    }
    assert!(may_exist >= 1, "some crash caught the create in flight");
    assert!(
        adopted >= 1,
        "a repeated create was answered 425 and adopted"
    );
}

#[test]
fn failed_is_a_report_failure_carrying_the_failure_reason() {
    let (run, harness) = go("report-failure");
    match run.error() {
        Some(
            error @ Error::ReportFailed {
                failure, status, ..
            },
        ) => {
            assert_eq!(
                (*failure, status.as_str()),
                (ReportFailure::Fatal, "FAILED")
            );
            assert!(
                error.to_string().contains("internal error. Please retry"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim(&harness).reports_created(), 1);
}

#[test]
fn a_three_hour_generation_is_polled_to_the_end_in_virtual_time() {
    let (clean, _) = go("");
    let (run, harness) = go("slow-report");
    assert_eq!(run.data, clean.data);
    let hours = (run.finished_at.as_u64() - START.as_u64()) / 3_600_000;
    assert!(hours >= 3, "finished after {hours} h");
    let statuses: Vec<String> = run
        .actions
        .iter()
        .filter_map(|a| match a {
            ActionRecord::Event {
                event: Event::ReportStatus { status },
                ..
            } => Some(status.clone()),
            _ => None,
        })
        .collect();
    assert!(statuses.contains(&"PENDING".to_owned()), "{statuses:?}");
    assert!(statuses.contains(&"PROCESSING".to_owned()), "{statuses:?}");
    // The host's poll policy paces the polls: at its cap (60 s, equal
    // jitter) no two polls come closer than 30 s.
    let polls = answered(&harness, Method::Get, "", 200) - 1;
    let max_delay = harness.job().config().poll.max_delay_ms;
    assert!(
        polls as u64 <= 3 * 3_600_000 / (max_delay / 2) + 10,
        "{polls} polls for 3 hours"
    );
}

#[test]
fn links_that_keep_expiring_are_renewed_from_the_status_and_end_without_a_second_report() {
    let (run, harness) = go("expired-link:always");
    let error = run.error().expect("Failed");
    assert!(!error.is_retryable() || error.kind() != ErrorKind::Rejected);
    assert_eq!(sim(&harness).reports_created(), 1);
    let completed_polls = run
        .actions
        .iter()
        .filter(|a| matches!(a, ActionRecord::Event { event: Event::ReportStatus { status }, .. } if status == "COMPLETED"))
        .count();
    assert_eq!(
        completed_polls, 4,
        "the first url and max_link_refreshes (3) fresh ones, each from a status call"
    );
}

#[test]
fn a_range_over_the_report_types_limit_is_refused_before_any_request() {
    let mut spec: ReportSpec = amazon_ads_v3::sample_report_spec(START);
    spec.start_date = "2024-01-01".into();
    spec.end_date = "2024-02-15".into();
    let error = ReportJob::new(
        JobSpec::AmazonAdsV3(spec.clone()),
        sandbox("").job_config(Provider::AmazonAdsV3),
        amazon_ads_v3::credentials(),
        START,
    )
    .expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("at most 31 days"), "{message}");
    assert!(matches!(error, ConfigError::Invalid { .. }));
    assert_eq!(spec.split().unwrap().len(), 2);
}

#[test]
fn a_rejected_create_is_a_typed_rejection_with_amazons_detail() {
    let (run, harness) = go("reject-422");
    let error = run.error().expect("rejected");
    assert_eq!(error.kind(), ErrorKind::Rejected);
    assert!(error.to_string().contains("invalid parameters"), "{error}");
    assert_eq!(sim(&harness).reports_created(), 0);
}

#[test]
fn amazon_ads_v3_report_over_report_limits_ends_after_one_download() {
    let sandbox = sandbox("");
    let mut config = sandbox.job_config(Provider::AmazonAdsV3);
    config.report_limits.max_decompressed_bytes = 1_000;
    let job = ReportJob::new(
        amazon_ads_v3::sample_spec(START),
        config,
        amazon_ads_v3::credentials(),
        START,
    )
    .expect("a valid job");
    let mut harness = Harness::new(job, sandbox, START);
    let run = harness.drive().unwrap();
    let error = run.error().expect("Failed");
    assert_eq!(error.kind(), ErrorKind::ReportTooLarge, "{error}");
    assert_eq!(answered(&harness, Method::Get, ".json.gz", 200), 1);
}
