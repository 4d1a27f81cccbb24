//! Named stories of the Yandex Market machine against its simulator, in
//! virtual time: each pins one behaviour the issue asks for.

use reportflow::integrity::{unzip, ZipError, ZipLimits};
use reportflow::providers::yandex_market::{
    Credentials as YandexCredentials, ReportFormat, ReportKind, ReportSpec, UnitedOrdersRequest,
};
use reportflow::providers::yandex_market::{ReportRequest, SourceType};
use reportflow::providers::Provider;
use reportflow::sim::{
    yandex_market, ActionRecord, FaultPlan, Harness, Run, Sandbox, SandboxConfig,
};
use reportflow::{
    Credentials, Error, ErrorKind, Event, JobConfig, JobSpec, Millis, Outcome, ReportFailure,
    ReportJob, WaitReason, Warning,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);

fn sandbox(faults: &str, rows: u32) -> Sandbox {
    Sandbox::new(
        SandboxConfig::default()
            .with_rows(rows)
            .with_faults(FaultPlan::parse(faults).expect("a fault plan")),
    )
}

fn spec(format: ReportFormat) -> ReportSpec {
    let mut spec = yandex_market::sample_report_spec(START);
    spec.format = format;
    spec
}

fn run_with(spec: ReportSpec, faults: &str, rows: u32, credentials: Credentials) -> (Run, Harness) {
    let sandbox = sandbox(faults, rows);
    let job = ReportJob::new(
        JobSpec::YandexMarket(spec),
        sandbox.job_config(Provider::YandexMarket),
        credentials,
        START,
    )
    .expect("a valid job");
    let mut harness = Harness::new(job, sandbox, START);
    let run = harness.drive_bounded(20_000).expect("the job ends");
    (run, harness)
}

fn go(format: ReportFormat, faults: &str) -> (Run, Harness) {
    run_with(spec(format), faults, 40, yandex_market::credentials())
}

fn sim(harness: &Harness) -> &yandex_market::Simulator {
    harness
        .sandbox()
        .simulator::<yandex_market::Simulator>()
        .expect("the Yandex simulator")
}

fn sends(run: &Run) -> Vec<(Millis, String)> {
    run.actions
        .iter()
        .filter_map(|a| match a {
            ActionRecord::Send { at, url, .. } => Some((*at, url.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn csv_report_arrives_as_named_parts_with_rows_counted() {
    let (run, harness) = go(ReportFormat::Csv, "");
    let summary = run.summary().expect("Done");
    assert_eq!(summary.outcome, Outcome::Complete);
    assert_eq!(summary.content_type, "text/csv");
    assert_eq!(summary.parts.len(), 1);
    assert_eq!(summary.parts[0].name, "united_orders.csv");
    assert_eq!(summary.parts[0].rows, 40);
    assert_eq!(summary.rows, 40);
    assert_eq!(
        Some(run.data.clone()),
        harness.sandbox().report_content(&summary.report_id)
    );
    assert!(summary.raw_bytes > 0 && summary.md5.len() == 32);
    assert_eq!(sim(&harness).reports_created(), 1);
    // Generate, info until DONE, one download; the estimate sets the first poll.
    let sent = sends(&run);
    assert!(
        sent[0]
            .1
            .contains("/v2/reports/united-orders/generate?format=CSV"),
        "{sent:?}"
    );
    assert!(sent[1].1.contains("/v2/reports/info/"), "{sent:?}");
    assert_eq!(
        sent[1].0,
        START.saturating_add(2_000),
        "first poll at the estimate"
    );
}

#[test]
fn json_and_xlsx_formats_verify_and_deliver() {
    let (run, harness) = go(ReportFormat::Json, "");
    let summary = run.summary().expect("Done");
    assert_eq!(summary.parts[0].name, "united_orders.json");
    assert_eq!(summary.rows, 40);
    assert_eq!(
        Some(run.data.clone()),
        harness.sandbox().report_content(&summary.report_id)
    );

    let (run, harness) = run_with(
        spec(ReportFormat::File),
        "",
        10,
        yandex_market::credentials(),
    );
    let summary = run.summary().expect("Done");
    assert!(summary.content_type.contains("spreadsheetml"));
    assert!(summary.parts.is_empty());
    assert_eq!(summary.bytes, summary.raw_bytes);
    let xlsx = harness
        .sandbox()
        .report_content(&summary.report_id)
        .expect("truth");
    assert_eq!(run.data, xlsx);
    assert!(unzip(&run.data, ZipLimits::default())
        .expect("an OOXML container")
        .iter()
        .any(|(e, _)| e.name == "xl/workbook.xml"));
}

#[test]
fn faults_of_the_issue_end_done_identical_to_a_clean_run_with_one_generate() {
    let (clean, _) = go(ReportFormat::Csv, "");
    let (faulty, harness) = go(ReportFormat::Csv, "throttle,wrong-estimate,expired-link,server-error:2,corrupt-body,truncated-gzip,disconnect");
    let (a, b) = (
        clean.summary().expect("clean Done"),
        faulty.summary().expect("faulty Done"),
    );
    assert_eq!(clean.data, faulty.data);
    assert_eq!((a.rows, a.bytes, &a.parts), (b.rows, b.bytes, &b.parts));
    assert_eq!(sim(&harness).reports_created(), 1, "one generate");
    assert_eq!(
        sim(&harness).limit_hits(),
        0,
        "the job never provoked a 420"
    );
    let generates = sends(&faulty)
        .iter()
        .filter(|(_, url)| url.contains("/generate"))
        .count();
    // The API faults hit the first calls, all generates: the 420, two 5xx,
    // then the one that created the report.
    assert_eq!(generates, 4);
}

#[test]
fn a_420_waits_until_the_rate_limit_window_ends() {
    let (run, _) = go(ReportFormat::Csv, "throttle");
    let throttled = run.actions.iter().find_map(|a| match a {
        ActionRecord::Event {
            event: Event::Throttled { bucket, until },
            ..
        } => Some((bucket.clone(), *until)),
        _ => None,
    });
    let (bucket, until) = throttled.expect("a Throttled event");
    assert_eq!(bucket, "yandex-market:generate");
    // `until` is the header's whole second after now + 2 s.
    assert_eq!(until, Millis(START.as_u64() + 2_000));
    let sent = sends(&run);
    assert_eq!(sent[0].0, START);
    assert!(
        sent[1].0 >= until,
        "second generate at {} before {until}",
        sent[1].0
    );
    assert!(run.summary().is_some());
}

#[test]
fn wrong_estimates_fall_back_to_capped_backoff() {
    let (run, harness) = go(ReportFormat::Csv, "wrong-estimate");
    assert!(run.summary().is_some());
    let polls: Vec<Millis> = sends(&run)
        .iter()
        .filter(|(_, u)| u.contains("/info/"))
        .map(|(at, _)| *at)
        .collect();
    // The report takes 7 s; estimates say 2 s: polls keep coming, spaced by
    // the backoff (never hot), and stop once DONE.
    assert!(polls.len() >= 3, "{polls:?}");
    for pair in polls.windows(2) {
        assert!(pair[1].saturating_since(pair[0]) >= 1_000, "{polls:?}");
    }
    assert_eq!(sim(&harness).reports_created(), 1);
}

#[test]
fn an_expired_link_is_replaced_by_the_next_info_call() {
    let (run, harness) = go(ReportFormat::Csv, "expired-link");
    assert!(run.summary().is_some());
    let sent = sends(&run);
    let downloads: Vec<usize> = sent
        .iter()
        .enumerate()
        .filter(|(_, (_, u))| u.contains("/_files/"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(downloads.len(), 2);
    assert!(
        sent[downloads[0] + 1].1.contains("/info/"),
        "a fresh link comes from info"
    );
    assert_eq!(sim(&harness).reports_created(), 1);
    // The file host never saw the API's credentials.
    for request in &run.requests {
        if request.url.contains("/_files/") {
            assert!(
                request.header("api-key").is_none() && request.header("authorization").is_none()
            );
        }
    }
}

#[test]
fn no_data_is_a_typed_outcome() {
    let (run, _) = go(ReportFormat::Csv, "no-data");
    let summary = run.summary().expect("Done");
    assert_eq!(summary.outcome, Outcome::NoData);
    assert_eq!((summary.bytes, summary.rows), (0, 0));
    assert!(run.data.is_empty());
}

#[test]
fn too_large_and_failed_are_typed_failures() {
    let (run, _) = go(ReportFormat::Csv, "too-large");
    match run.error() {
        Some(
            error @ Error::ReportFailed {
                failure: ReportFailure::TooLarge,
                ..
            },
        ) => {
            assert!(error.to_string().contains("shorter period"), "{error}");
            assert!(!error.is_retryable());
        }
        other => panic!("{other:?}"),
    }
    let (run, _) = go(ReportFormat::Csv, "report-failure");
    match run.error() {
        Some(Error::ReportFailed {
            failure: ReportFailure::Fatal,
            status,
            ..
        }) => assert_eq!(status, "FAILED"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn zip_bombs_and_traversal_names_are_refused_with_typed_errors() {
    let (run, harness) = go(ReportFormat::Csv, "zip-bomb");
    match run.error() {
        Some(error @ Error::Zip(ZipError::Bomb { .. })) => {
            assert_eq!(error.kind(), ErrorKind::Zip);
            assert!(!error.is_retryable());
        }
        other => panic!("{other:?}"),
    }
    assert!(run.data.is_empty());
    assert_eq!(
        sim(&harness).downloads(),
        1,
        "a bomb is not downloaded twice"
    );
    let (run, _) = go(ReportFormat::Json, "zip-slip");
    match run.error() {
        Some(error @ Error::Zip(ZipError::UnsafeName { .. })) => {
            assert!(error.to_string().contains(".."), "{error}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_envelopes_become_typed_errors_with_yandex_codes() {
    let (run, _) = run_with(
        spec(ReportFormat::Csv),
        "",
        5,
        Credentials::YandexMarket(YandexCredentials::api_key("ACMA:wrong")),
    );
    match run.error() {
        Some(
            error @ Error::Rejected {
                status: 401,
                code: Some(code),
                ..
            },
        ) => {
            assert_eq!(code, "UNAUTHORIZED");
            assert!(
                error.to_string().contains("Api-Key token is invalid"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    let (run, _) = go(ReportFormat::Csv, "reject-422");
    assert!(
        matches!(run.error(), Some(Error::Rejected { status: 400, code: Some(c), .. }) if c == "BAD_REQUEST")
    );
    // 5xx and malformed envelopes are retried.
    let (run, harness) = go(ReportFormat::Csv, "server-error:3,malformed-envelope:2");
    assert!(run.summary().is_some(), "{:?}", run.error());
    assert_eq!(sim(&harness).reports_created(), 1);
}

#[test]
fn oauth_tokens_go_in_the_authorization_header() {
    let credentials =
        Credentials::YandexMarket(YandexCredentials::oauth(yandex_market::OAUTH_TOKEN));
    let (run, _) = run_with(spec(ReportFormat::Csv), "", 5, credentials);
    assert!(run.summary().is_some());
    let generate = &run.requests[0];
    assert!(generate.header("api-key").is_none());
    assert!(generate
        .header("authorization")
        .is_some_and(|v| v.is_secret()));
    assert!(!format!("{generate:?}").contains(yandex_market::CANARY));
}

#[test]
fn the_path_prefix_is_configurable() {
    let (run, _) = run_with(
        spec(ReportFormat::Csv).with_path_prefix(""),
        "",
        5,
        yandex_market::credentials(),
    );
    assert!(run.summary().is_some());
    let sent = sends(&run);
    assert!(
        sent[0]
            .1
            .contains("/yandex-market/reports/united-orders/generate"),
        "{sent:?}"
    );
    assert!(
        sent[1].1.contains("/yandex-market/reports/info/"),
        "{sent:?}"
    );
}

#[test]
fn a_restored_job_continues_the_same_report_with_a_fresh_link() {
    let sandbox = sandbox("", 30);
    let job = ReportJob::new(
        yandex_market::sample_spec(START),
        sandbox.job_config(Provider::YandexMarket),
        yandex_market::credentials(),
        START,
    )
    .expect("a valid job");
    let mut harness = Harness::new(job, sandbox, START);
    // Step until a link is obtained, then crash.
    for _ in 0..200 {
        harness.step().expect("a step");
        if harness.actions().iter().any(|a| {
            matches!(
                a,
                ActionRecord::Event {
                    event: Event::LinkObtained { .. },
                    ..
                }
            )
        }) && harness.at_rest()
        {
            break;
        }
    }
    harness
        .crash_and_restore(yandex_market::credentials())
        .expect("restore");
    let run = harness.drive_bounded(5_000).expect("ends");
    assert!(run.summary().is_some());
    assert_eq!(sim(&harness).reports_created(), 1);
    for snapshot in &run.snapshots {
        assert!(
            !snapshot.contains("/_files/") && !snapshot.contains(yandex_market::CANARY),
            "{snapshot}"
        );
    }
}

#[test]
fn every_report_kind_runs_end_to_end() {
    for kind in ReportKind::ALL {
        let mut spec = ReportSpec::new(
            yandex_market::sample_request(*kind, START),
            ReportFormat::File,
        );
        if matches!(kind, ReportKind::BoostConsolidated) {
            spec = spec.with_source_type(SourceType::Seller);
        }
        let (run, harness) = run_with(spec, "", 7, yandex_market::credentials());
        let summary = run
            .summary()
            .unwrap_or_else(|| panic!("{}: {:?}", kind.name(), run.error()));
        assert_eq!(
            Some(run.data.clone()),
            harness.sandbox().report_content(&summary.report_id),
            "{}",
            kind.name()
        );
    }
}

#[test]
fn invalid_bodies_never_leave_the_machine() {
    let bad = ReportRequest::UnitedOrders(UnitedOrdersRequest::new(0, "2024-02-01", "2024-01-01"));
    let error = ReportJob::new(
        JobSpec::YandexMarket(ReportSpec::new(bad, ReportFormat::Csv)),
        JobConfig::default(),
        yandex_market::credentials(),
        START,
    )
    .expect_err("refused");
    assert!(error.to_string().contains("businessId"), "{error}");
}

#[test]
fn nothing_is_sent_while_the_quota_view_is_empty() {
    // Two jobs share one sandbox: the second one's generate finds the
    // kind's quota used and gets a 420 whose Until it honours.
    let mut sandbox = sandbox("", 5);
    let job = ReportJob::new(
        yandex_market::sample_spec(START),
        sandbox.job_config(Provider::YandexMarket),
        yandex_market::credentials(),
        START,
    )
    .expect("a valid job");
    let first = Harness::new(job, sandbox.clone(), START)
        .drive_bounded(5_000)
        .expect("ends");
    assert!(first.summary().is_some());
    // Spend the quota directly, then run a job against that sandbox.
    let request = reportflow::sim::SimRequest {
        origin: None,
        method: reportflow::Method::Post,
        target: "/yandex-market/v2/reports/united-orders/generate?format=CSV".into(),
        headers: vec![
            ("Api-Key".into(), yandex_market::API_KEY.into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: yandex_market::sample_request(ReportKind::UnitedOrders, START)
            .body_json()
            .to_string()
            .into_bytes(),
    };
    assert_eq!(sandbox.handle(START, &request).status, 200);
    let job = ReportJob::new(
        yandex_market::sample_spec(START),
        sandbox.job_config(Provider::YandexMarket),
        yandex_market::credentials(),
        START,
    )
    .expect("a valid job");
    let mut harness = Harness::new(job, sandbox, START);
    let run = harness.drive_bounded(5_000).expect("ends");
    assert!(run.summary().is_some());
    let sent = sends(&run);
    assert!(
        sent[1].0 >= Millis(START.as_u64() + ReportKind::UnitedOrders.default_limit().period_ms),
        "{sent:?}"
    );
    assert_eq!(
        sim(&harness).limit_hits(),
        1,
        "the one 420 that taught the job the window"
    );
    let waits_on_quota = run.actions.iter().any(|a| {
        matches!(
            a,
            ActionRecord::Wait {
                reason: WaitReason::RateLimit { .. },
                ..
            }
        )
    });
    assert!(waits_on_quota);
}

#[test]
fn yandex_market_report_over_report_limits_ends_after_one_download() {
    let sandbox = sandbox("", 400);
    let mut config = sandbox.job_config(Provider::YandexMarket);
    config.report_limits.max_decompressed_bytes = 1_000;
    let job = ReportJob::new(
        JobSpec::YandexMarket(spec(ReportFormat::Csv)),
        config,
        yandex_market::credentials(),
        START,
    )
    .expect("a valid job");
    let mut harness = Harness::new(job, sandbox, START);
    let run = harness.drive_bounded(20_000).expect("the job ends");
    let error = run.error().expect("Failed");
    assert!(matches!(error, Error::ReportTooLarge { .. }), "{error}");
    assert_eq!(error.kind(), ErrorKind::ReportTooLarge);
    assert!(!error.is_retryable());
    assert!(
        error.to_string().contains("maxDecompressedBytes"),
        "{error}"
    );
    let downloads = sends(&run)
        .iter()
        .filter(|(_, url)| !url.contains("/reports/"))
        .count();
    assert_eq!(downloads, 1, "{:?}", sends(&run));
}

/// The JSON body of the first generate the job sent.
fn generate_body(harness: &Harness) -> serde_json::Value {
    let request = harness
        .requests()
        .iter()
        .find(|r| r.url.contains("/generate"))
        .expect("a generate");
    serde_json::from_slice(request.body.expose()).expect("a JSON body")
}

#[test]
fn a_generate_with_an_extra_schema_allowed_field_is_sent_and_accepted() {
    // `promoId` is in the spec's GenerateUnitedOrdersRequest; the sample
    // body leaves it out, so it goes as an extra field, unchecked by the job.
    let spec = spec(ReportFormat::Csv).with_body_field("promoId", serde_json::json!("cf-2024-03"));
    let (run, harness) = run_with(spec, "", 40, yandex_market::credentials());
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(summary.rows, 40);
    let body = generate_body(&harness);
    assert_eq!(body["promoId"], "cf-2024-03", "{body}");
    assert_eq!(body["businessId"], yandex_market::BUSINESS_ID, "{body}");
    assert_eq!(sim(&harness).reports_created(), 1);
}

#[test]
fn an_extra_field_the_schema_does_not_declare_is_refused_by_the_simulator() {
    let spec = spec(ReportFormat::Csv).with_body_field("promoCode", serde_json::json!("X"));
    let (run, harness) = run_with(spec, "", 40, yandex_market::credentials());
    match run.error() {
        Some(Error::Rejected { status, detail, .. }) => {
            assert_eq!(*status, 400);
            assert!(detail.contains("promoCode"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(generate_body(&harness)["promoCode"], "X");
    assert_eq!(sim(&harness).reports_created(), 0);
}

#[test]
fn a_done_report_with_resource_not_found_and_a_file_is_done_with_a_warning() {
    let (run, harness) = go(ReportFormat::Csv, "partial-report");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(summary.outcome, Outcome::Complete);
    assert_eq!(summary.rows, 40);
    let truth = harness
        .sandbox()
        .report_content(&summary.report_id)
        .expect("the report");
    assert_eq!(run.data, truth, "what was found is delivered byte-exact");
    match summary.warnings.as_slice() {
        [Warning::PartialReport { status, missing }] => {
            assert_eq!(status, "DONE/RESOURCE_NOT_FOUND");
            assert!(missing.contains("businessId"), "{missing}");
        }
        other => panic!("{other:?}"),
    }
    let json = serde_json::to_value(summary).expect("JSON");
    assert_eq!(json["warnings"][0]["type"], "partialReport", "{json}");
    // A clean report has no warnings, and says nothing of them.
    let (clean, _) = go(ReportFormat::Csv, "");
    let clean = clean.summary().expect("Done");
    assert!(clean.warnings.is_empty());
    assert!(serde_json::to_value(clean)
        .expect("JSON")
        .get("warnings")
        .is_none());
}

#[test]
fn a_second_generate_of_a_one_per_ten_minutes_kind_gets_a_420_and_waits_out_the_window() {
    let shows_sales = || {
        ReportSpec::new(
            yandex_market::sample_request(ReportKind::ShowsSales, START),
            ReportFormat::Csv,
        )
    };
    let (first, harness) = run_with(shows_sales(), "", 10, yandex_market::credentials());
    assert!(first.summary().is_some(), "{:?}", first.outcome);
    // Another job of the same cabinet, a minute later: its generate is refused
    // until the kind's 10-minute window ends, then accepted.
    let later = Millis(START.as_u64() + 60_000);
    let sandbox = harness.sandbox().clone();
    let job = ReportJob::new(
        JobSpec::YandexMarket(shows_sales()),
        sandbox.job_config(Provider::YandexMarket),
        yandex_market::credentials(),
        later,
    )
    .expect("a valid job");
    let mut second = Harness::new(job, sandbox, later);
    let run = second.drive_bounded(20_000).expect("the job ends");
    assert!(run.summary().is_some(), "{:?}", run.outcome);
    assert_eq!(
        sim(&second).limit_hits(),
        1,
        "one 420, for the second job's first generate"
    );
    let generates: Vec<Millis> = sends(&run)
        .into_iter()
        .filter(|(_, url)| url.contains("/generate"))
        .map(|(at, _)| at)
        .collect();
    assert_eq!(generates.len(), 2, "{generates:?}");
    assert!(
        generates[1] >= Millis(START.as_u64() + 10 * 60_000),
        "{generates:?}"
    );
}
