//! Named stories of an Amazon MWS job against the MWS simulator. Each test
//! pins one behaviour of `providers::amazon_mws` or `sim::amazon_mws`.

use reportflow::integrity::{Charset, IntegrityError, Md5, Md5Check};
use reportflow::providers::amazon_mws::{Credentials, Region, ReportSpec};
use reportflow::providers::Provider;
use reportflow::sim::{
    amazon_mws, ActionRecord, ChunkPlan, Harness, LoggedRequest, Run, Sandbox, SandboxConfig,
};
use reportflow::{
    Action, Blame, Credentials as JobCredentials, Error, ErrorKind, Event, Input, JobSpec, Millis,
    Outcome, PollPolicy, ReportFailure, ReportJob, WaitReason,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const ROWS: u32 = 800;

fn sandbox(faults: &str) -> Sandbox {
    Sandbox::new(
        SandboxConfig::default()
            .with_seed(11)
            .with_rows(ROWS)
            .with_generation_ms(100_000)
            .with_faults(faults.parse().expect("a valid fault plan")),
    )
}

fn harness_for(faults: &str, spec: ReportSpec, credentials: Credentials) -> Harness {
    let sandbox = sandbox(faults);
    let job = ReportJob::new(
        JobSpec::AmazonMws(spec),
        sandbox.job_config(Provider::AmazonMws),
        JobCredentials::AmazonMws(credentials),
        START,
    )
    .expect("a valid job");
    Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(5, 1, 16 * 1024))
}

fn drive(mut harness: Harness) -> (Run, Harness) {
    let run = harness
        .drive_bounded(50_000)
        .expect("a terminal within the bound, contract kept");
    (run, harness)
}

fn run_with(faults: &str) -> (Run, Harness) {
    drive(harness_for(
        faults,
        amazon_mws::sample_report_spec(START),
        amazon_mws::provider_credentials(),
    ))
}

fn sim(harness: &Harness) -> &amazon_mws::Simulator {
    harness
        .sandbox()
        .simulator::<amazon_mws::Simulator>()
        .expect("the MWS simulator")
}

fn calls<'a>(
    harness: &'a Harness,
    operation: &'a str,
) -> impl Iterator<Item = &'a LoggedRequest> + 'a {
    harness
        .sandbox()
        .requests()
        .iter()
        .filter(move |r| r.operation.as_deref() == Some(operation))
}

fn events(run: &Run) -> impl Iterator<Item = &Event> {
    run.actions.iter().filter_map(|a| match a {
        ActionRecord::Event { event, .. } => Some(event),
        _ => None,
    })
}

fn truth(harness: &Harness, run: &Run) -> Vec<u8> {
    let summary = run.summary().expect("Done");
    harness
        .sandbox()
        .report_content(&summary.report_id)
        .expect("the sandbox knows the report")
}

#[test]
fn a_clean_run_delivers_the_flat_file_verified_against_content_md5() {
    let (run, harness) = run_with("");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(summary.provider, Provider::AmazonMws);
    assert_eq!(summary.outcome, Outcome::Complete);
    assert_eq!(summary.rows, u64::from(ROWS));
    assert_eq!(summary.md5_check, Md5Check::Verified);
    assert_eq!(
        summary.charset,
        Some(Charset::Windows1252),
        "declared Cp1252"
    );
    assert!(String::from_utf8(run.data.clone()).is_ok_and(|text| text.contains('€')));
    let statuses: Vec<&str> = events(&run)
        .filter_map(|e| match e {
            Event::ReportStatus { status } => Some(status.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.first(), Some(&"_SUBMITTED_"));
    assert!(
        statuses.contains(&"_IN_PROGRESS_") && statuses.contains(&"_DONE_"),
        "{statuses:?}"
    );
    assert!(
        statuses.last().is_some_and(|s| s.starts_with("ReportId ")),
        "{statuses:?}"
    );
    // Every request names its operation and sent its parameters as a form.
    for request in harness.sandbox().requests() {
        assert_eq!(request.params_in.as_deref(), Some("form"), "{request:?}");
        assert!(request.operation.is_some(), "{request:?}");
        assert_eq!(request.path, "/amazon-mws/Reports/2009-01-01");
    }
    assert_eq!(calls(&harness, "RequestReport").count(), 1);
    assert_eq!(calls(&harness, "GetReport").count(), 1);
    assert_eq!(calls(&harness, "GetReportList").count(), 0);
    assert_eq!(
        (
            sim(&harness).signature_failures(),
            sim(&harness).throttled()
        ),
        (0, 0)
    );
    // Polls past the burst of 10 come no faster than the restore rate (one
    // per 45 s): the simulator, which keeps the official quota, refused none.
    assert!(calls(&harness, "GetReportRequestList").count() > 1);
}

#[test]
fn corrupt_body_throttle_and_5xx_end_byte_identical_with_one_request_report() {
    let (clean, _) = run_with("");
    let (run, harness) = run_with("corrupt-body,throttle,server-error");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(run.data, clean.data, "byte-identical to the fault-free run");
    assert_eq!(Some(&summary.md5), clean.summary().map(|s| &s.md5));
    for fault in ["corrupt-body", "throttle", "server-error"] {
        assert_eq!(
            harness.sandbox().fired(fault.parse().expect("a fault")),
            1,
            "{fault}"
        );
    }
    let answered: Vec<&LoggedRequest> = calls(&harness, "RequestReport")
        .filter(|r| r.fault.is_none())
        .collect();
    assert_eq!(
        answered.len(),
        1,
        "exactly one RequestReport answered without a fault"
    );
    assert_eq!(sim(&harness).requests_accepted(), 1);
    assert_eq!(
        calls(&harness, "GetReport").count(),
        2,
        "the corrupt body was asked for again"
    );
    assert!(events(&run).any(|e| matches!(e, Event::Throttled { .. })));
    assert!(events(&run).any(|e| matches!(
        e,
        Event::DataReset {
            cause: ErrorKind::Md5Mismatch
        }
    )));
}

#[test]
fn a_body_corrupt_every_time_costs_four_get_reports_then_md5_mismatch() {
    let (run, harness) = run_with("corrupt-body:always");
    let error = run.error().unwrap_or_else(|| panic!("{:?}", run.outcome));
    match error {
        Error::Integrity(IntegrityError::Md5Mismatch { expected, actual }) => {
            assert_ne!(expected, actual);
            let message = error.to_string();
            assert!(
                message.contains(expected.as_str()) && message.contains(actual.as_str()),
                "{message}"
            );
        }
        other => panic!("expected Md5Mismatch, got {other:?}"),
    }
    assert_eq!(error.kind(), ErrorKind::Md5Mismatch);
    assert_eq!(calls(&harness, "GetReport").count(), 4);
    let resets = events(&run)
        .filter(|e| {
            matches!(
                e,
                Event::DataReset {
                    cause: ErrorKind::Md5Mismatch
                }
            )
        })
        .count();
    let retries = events(&run)
        .filter(|e| {
            matches!(
                e,
                Event::Retrying {
                    cause: ErrorKind::Md5Mismatch,
                    ..
                }
            )
        })
        .count();
    assert_eq!(retries, 3, "each corrupted body is announced");
    assert!(resets >= 3, "{resets}");
}

#[test]
fn a_missing_content_md5_is_a_typed_error_unless_unverified_bodies_are_accepted() {
    let (run, harness) = run_with("missing-md5:always");
    assert_eq!(
        run.error(),
        Some(&Error::Integrity(IntegrityError::MissingContentMd5)),
        "{:?}",
        run.outcome
    );
    assert_eq!(calls(&harness, "GetReport").count(), 4);

    let (run, harness) = drive(harness_for(
        "missing-md5:always",
        amazon_mws::sample_report_spec(START).accepting_unverified(),
        amazon_mws::provider_credentials(),
    ));
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(summary.md5_check, Md5Check::Computed);
    assert_eq!(run.data, truth(&harness, &run));
}

#[test]
fn done_no_data_ends_with_no_data_and_no_get_report() {
    let (run, harness) = run_with("no-data");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(summary.outcome, Outcome::NoData);
    assert_eq!((summary.raw_bytes, summary.rows), (0, 0));
    assert_eq!(truth(&harness, &run), Vec::<u8>::new());
    assert_eq!(calls(&harness, "GetReport").count(), 0);
}

#[test]
fn a_cancelled_request_fails_typed_and_names_the_ambiguity() {
    let (run, harness) = run_with("report-failure");
    match run.error() {
        Some(
            error @ Error::ReportFailed {
                failure: ReportFailure::Cancelled,
                status,
                ..
            },
        ) => {
            assert_eq!(status, "_CANCELLED_");
            assert!(error.to_string().contains("too often"), "{error}");
        }
        other => panic!("expected ReportFailed Cancelled, got {other:?}"),
    }
    assert_eq!(calls(&harness, "GetReport").count(), 0);
}

#[test]
fn a_done_request_without_generated_report_id_is_found_with_get_report_list() {
    let (run, harness) = run_with("no-generated-id");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(summary.rows, u64::from(ROWS));
    assert_eq!(calls(&harness, "GetReportList").count(), 1);
}

#[test]
fn a_japanese_report_in_windows_31j_arrives_as_the_same_characters_in_utf8() {
    let (run, harness) = drive(harness_for(
        "",
        ReportSpec::new(Region::Jp, amazon_mws::SAMPLE_REPORT_TYPE),
        amazon_mws::provider_credentials(),
    ));
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    // The body declared no charset: the marketplace's (Windows-31J) applied.
    assert_eq!(summary.charset, Some(Charset::ShiftJis));
    let text = String::from_utf8(run.data.clone()).expect("valid UTF-8");
    assert!(
        text.contains("ギフトセット①") && text.contains("㈱"),
        "NEC extensions survive"
    );
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(summary.rows, u64::from(ROWS));
    assert!(
        summary.raw_bytes < summary.bytes,
        "two bytes per kana became three"
    );
}

#[test]
fn a_wrong_secret_is_refused_by_the_simulator_and_the_job_is_rejected() {
    let (run, harness) = drive(harness_for(
        "",
        amazon_mws::sample_report_spec(START),
        Credentials::new(
            amazon_mws::ACCESS_KEY_ID,
            "wrong-secret",
            amazon_mws::SELLER_ID,
        ),
    ));
    match run.error() {
        Some(
            error @ Error::Rejected {
                status: 403,
                code: Some(code),
                ..
            },
        ) => {
            assert_eq!(code, "SignatureDoesNotMatch");
            assert_eq!(error.blame(), Blame::Config);
            assert!(!error.is_retryable());
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(sim(&harness).signature_failures(), 1);
    assert_eq!(sim(&harness).requests_accepted(), 0);
}

#[test]
fn a_known_report_id_is_only_downloaded() {
    let (first, harness) = run_with("");
    // The job's id is the ReportRequestId; the ReportId comes as a status.
    let report_id = events(&first)
        .find_map(|e| match e {
            Event::ReportStatus { status } => status.strip_prefix("ReportId ").map(str::to_owned),
            _ => None,
        })
        .expect("the ReportId was announced");
    assert_ne!(Some(&report_id), first.summary().map(|s| &s.report_id));
    let sandbox = harness.sandbox().clone();
    let job = ReportJob::new(
        JobSpec::AmazonMws(ReportSpec::existing(Region::Na, report_id.clone())),
        sandbox.job_config(Provider::AmazonMws),
        amazon_mws::credentials(),
        first.finished_at,
    )
    .expect("a valid job");
    let before = sandbox.requests().len();
    let (run, harness) = drive(Harness::new(job, sandbox, first.finished_at));
    assert_eq!(run.data, first.data);
    assert_eq!(
        run.summary().map(|s| s.report_id.as_str()),
        Some(report_id.as_str())
    );
    let operations: Vec<&str> = harness.sandbox().requests()[before..]
        .iter()
        .filter_map(|r| r.operation.as_deref())
        .collect();
    assert_eq!(operations, ["GetReport"]);
}

#[test]
fn internal_errors_retry_and_invalid_parameters_reject() {
    let (run, _) = run_with("server-error:2");
    assert!(run.summary().is_some(), "{:?}", run.outcome);
    let (run, _) = run_with("reject-406");
    match run.error() {
        Some(Error::Rejected {
            status: 400,
            code: Some(code),
            ..
        }) => assert_eq!(code, "InvalidParameterValue"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let (run, _) = run_with("malformed-envelope");
    assert!(
        run.summary().is_some(),
        "a cut XML answer is retried: {:?}",
        run.outcome
    );
}

#[test]
fn amazon_mws_report_over_report_limits_ends_after_one_download() {
    let sandbox = sandbox("");
    let mut config = sandbox.job_config(Provider::AmazonMws);
    config.report_limits.max_decompressed_bytes = 1_000;
    let job = ReportJob::new(
        amazon_mws::sample_spec(START),
        config,
        amazon_mws::credentials(),
        START,
    )
    .expect("a valid job");
    let (run, harness) = drive(Harness::new(job, sandbox, START));
    let error = run.error().expect("Failed");
    assert_eq!(error.kind(), ErrorKind::ReportTooLarge, "{error}");
    assert_eq!(calls(&harness, "GetReport").count(), 1);
}

/// The recorded settlement body (959 bytes) passes the pipeline with the
/// `Content-MD5` it was recorded with, and its rows are counted.
#[test]
fn the_recorded_settlement_body_verifies_with_its_recorded_content_md5() {
    let body = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/amazon-mws/examples/get-report-settlement-body.recorded.tsv"
    ));
    let recorded = |md5: &str| {
        let mut job = ReportJob::new(
            JobSpec::AmazonMws(ReportSpec::existing(Region::Na, "21175694446018424")),
            reportflow::JobConfig::default(),
            amazon_mws::credentials(),
            START,
        )
        .expect("a valid job");
        let Action::Send(request) = job.poll(START) else {
            panic!("a GetReport");
        };
        let headers = vec![
            (
                "Content-Type".to_owned(),
                "text/plain;charset=Cp1252".to_owned(),
            ),
            ("Content-MD5".to_owned(), md5.to_owned()),
        ];
        job.handle(
            START,
            Input::Head {
                id: request.id,
                status: 200,
                headers: &headers,
            },
        )
        .expect("head");
        for chunk in body.chunks(100) {
            job.handle(
                START,
                Input::Chunk {
                    id: request.id,
                    bytes: chunk,
                },
            )
            .expect("chunk");
        }
        job.handle(START, Input::End { id: request.id })
            .expect("end");
        let mut data = Vec::new();
        loop {
            match job.poll(START) {
                Action::Event(Event::Data(chunk)) => data.extend_from_slice(&chunk.bytes),
                Action::Event(_) => {}
                Action::Done(summary) => return (Some(summary), data),
                // A second GetReport (or a wait for it): the body was refused.
                _ => return (None, data),
            }
        }
    };
    let (outcome, data) = recorded("VPyhpBI0FbLNyCCD+fmo/Q==");
    let summary = outcome.expect("verified at once");
    assert_eq!(summary.md5_check, Md5Check::Verified);
    assert_eq!(summary.md5, Md5::digest(body).to_hex());
    let lines = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    assert_eq!(summary.rows, lines - 1, "rows counted, header excluded");
    assert_eq!(data, body.to_vec(), "ASCII decodes to itself");
    let (outcome, _) = recorded("1B2M2Y8AsgTpgAmY7PhCfg==");
    assert!(
        outcome.is_none(),
        "another digest is refused and the report asked for again"
    );
}

/// A report that takes hours, polled as fast as a host may ask: the burst
/// bucket alone would let 10 + 80 GetReportRequestList calls into the first
/// hour; the hourly bucket stops at MWS's 80, and the simulator (which
/// counts the hour from the seller's first call, as MWS does) throttles
/// none.
#[test]
fn the_hourly_quota_holds_polls_that_the_restore_rate_would_allow() {
    const HOUR: u64 = 3_600_000;
    let sandbox = Sandbox::new(
        SandboxConfig::default()
            .with_seed(11)
            .with_rows(ROWS)
            .with_generation_ms(2 * HOUR + HOUR / 2),
    );
    let mut config = sandbox.job_config(Provider::AmazonMws);
    config.poll = PollPolicy::new(1_000, 1_000);
    let job = ReportJob::new(
        JobSpec::AmazonMws(amazon_mws::sample_report_spec(START)),
        config,
        JobCredentials::AmazonMws(amazon_mws::provider_credentials()),
        START,
    )
    .expect("a valid job");
    let (run, harness) = drive(Harness::new(job, sandbox, START));

    assert!(run.summary().is_some(), "{:?}", harness.outcome());
    assert_eq!(sim(&harness).throttled(), 0, "the job went past a quota");
    let polls: Vec<u64> = calls(&harness, "GetReportRequestList")
        .map(|r| r.at.as_u64())
        .collect();
    let first = polls[0];
    let in_first_hour = polls.iter().filter(|at| **at < first + HOUR).count();
    assert_eq!(in_first_hour, 80, "the hourly quota is spent, not exceeded");
    let hourly_waits = run
        .actions
        .iter()
        .filter(|a| {
            matches!(a, ActionRecord::Wait { reason: WaitReason::RateLimit { bucket }, .. }
                if bucket == "amazon-mws:GetReportRequestList:hour")
        })
        .count();
    assert!(
        hourly_waits > 0,
        "the job waited for the hour, not for a refusal"
    );
}
