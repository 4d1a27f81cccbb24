//! Named stories of the SP-API Reports machine against its simulator, in
//! virtual time.

use reportflow::providers::amazon_sp_api::{Region, ReportSpec};
use reportflow::providers::Provider;
use reportflow::sim::{
    amazon_sp_api, ActionRecord, FaultPlan, Harness, Run, Sandbox, SandboxConfig, SimRequest,
};
use reportflow::{
    Error, ErrorKind, JobSpec, Method, Millis, Outcome, ReportFailure, ReportJob, WaitReason,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);

fn sandbox(faults: &str) -> Sandbox {
    Sandbox::new(
        SandboxConfig::default()
            .with_rows(40)
            .with_faults(FaultPlan::parse(faults).expect("a fault plan")),
    )
}

fn job_for(sandbox: &Sandbox, spec: ReportSpec) -> ReportJob {
    ReportJob::new(
        JobSpec::AmazonSpApi(spec),
        sandbox.job_config(Provider::AmazonSpApi),
        amazon_sp_api::credentials(),
        START,
    )
    .expect("a valid job")
}

fn go_with(faults: &str, spec: ReportSpec) -> (Run, Harness) {
    let sandbox = sandbox(faults);
    let mut harness = Harness::new(job_for(&sandbox, spec), sandbox, START);
    let run = harness.drive_bounded(20_000).expect("the job ends");
    (run, harness)
}

fn go(faults: &str) -> (Run, Harness) {
    go_with(faults, amazon_sp_api::sample_report_spec(START))
}

fn sim(harness: &Harness) -> &amazon_sp_api::Simulator {
    harness
        .sandbox()
        .simulator::<amazon_sp_api::Simulator>()
        .expect("the SP-API simulator")
}

/// Requests the simulator saw whose path ends with `suffix` (or contains it).
fn calls(harness: &Harness, method: Method, part: &str) -> usize {
    harness
        .sandbox()
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.contains(part))
        .count()
}

#[test]
fn throttle_expired_link_lying_labels_and_a_broken_download_end_done_with_the_clean_bytes() {
    let (clean, _) = go("");
    for faults in [
        "throttle:2,server-error:2,expired-link,disconnect",
        "mislabelled-gzip,truncated-gzip,expired-token",
        "mislabelled-gzip:2,wrong-estimate",
    ] {
        let (run, harness) = go(faults);
        let summary = run
            .summary()
            .unwrap_or_else(|| panic!("{faults}: {:?}", run.outcome));
        assert_eq!(summary.outcome, Outcome::Complete);
        assert_eq!(
            run.data, clean.data,
            "{faults}: byte-identical to the fault-free run"
        );
        run.check_data_matches(harness.sandbox()).unwrap();
        assert_eq!(sim(&harness).reports_created(), 1, "{faults}");
        assert_eq!(
            sim(&harness).quota_refusals(),
            0,
            "{faults}: no call beyond its bucket"
        );
    }
    let (run, _) = go("throttle");
    let throttled = run.actions.iter().any(|a| {
        matches!(a, ActionRecord::Wait { reason: WaitReason::RateLimit { bucket }, .. } if bucket.starts_with("amazon-sp-api:"))
    });
    assert!(
        throttled,
        "a 429 empties the operation's bucket for a while"
    );
}

#[test]
fn a_report_that_takes_hours_is_polled_to_the_end() {
    let (run, harness) = go("wrong-estimate");
    assert!(run.summary().is_some(), "{:?}", run.outcome);
    assert!(
        run.finished_at.saturating_since(START) >= amazon_sp_api::SLOW_REPORT_MS,
        "done after the three hours of generation"
    );
    assert_eq!(sim(&harness).quota_refusals(), 0);
}

#[test]
fn a_japanese_flat_file_arrives_as_utf8() {
    let (run, _) = go("");
    let summary = run.summary().expect("Done");
    assert!(summary.charset.is_some(), "decoded from Windows-31J");
    let text = String::from_utf8(run.data.clone()).expect("valid UTF-8");
    assert!(
        text.contains("緑茶") || text.contains("マグカップ"),
        "{}",
        &text[..200.min(text.len())]
    );
}

#[test]
fn cancelled_is_no_data_and_fatal_ends_with_the_error_document() {
    let (run, harness) = go("task-cancelled");
    let summary = run.summary().expect("Done");
    assert_eq!((summary.outcome, summary.bytes), (Outcome::NoData, 0));
    run.check_data_matches(harness.sandbox()).unwrap();

    let (run, harness) = go("report-failure");
    match run.error() {
        Some(Error::ReportFailed {
            failure,
            status,
            detail,
            ..
        }) => {
            assert_eq!((*failure, status.as_str()), (ReportFailure::Fatal, "FATAL"));
            assert!(
                detail.contains("not registered in one of the marketplaces"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim(&harness).error_documents_served(), 1);

    // The error document's link breaks: the failure stands, read once.
    let (run, harness) = go("report-failure,disconnect");
    let error = run.error().expect("failed").to_string();
    assert!(error.contains("could not be read"), "{error}");
    assert_eq!(sim(&harness).error_documents_served(), 1);
}

#[test]
fn a_lost_create_answer_is_found_by_listing_and_never_created_twice() {
    let (clean, _) = go("");
    let (run, harness) = go("lost-answer");
    assert!(run.summary().is_some(), "{:?}", run.outcome);
    assert_eq!(sim(&harness).reports_created(), 1);
    let listed = harness
        .sandbox()
        .requests()
        .iter()
        .any(|r| r.method == Method::Get && r.path.ends_with("/2021-06-30/reports"));
    assert!(listed, "the lost create was looked for with getReports");
    assert_eq!(run.data, clean.data);
}

#[test]
fn a_crash_at_every_step_ends_done_with_one_report_with_and_without_adopt() {
    for adopt in [false, true] {
        let spec = || {
            let spec = amazon_sp_api::sample_report_spec(START);
            if adopt {
                spec.adopting_existing()
            } else {
                spec
            }
        };
        let (clean, _) = go_with("", spec());
        let steps = {
            let sandbox = sandbox("");
            let mut harness = Harness::new(job_for(&sandbox, spec()), sandbox, START);
            harness.drive().unwrap();
            harness.steps()
        };
        for crash_at in 1..steps {
            let sandbox = sandbox("throttle");
            let mut harness = Harness::new(job_for(&sandbox, spec()), sandbox, START);
            for _ in 0..crash_at {
                harness.step().unwrap();
            }
            harness
                .crash_and_restore(amazon_sp_api::credentials())
                .unwrap();
            let run = harness.drive_bounded(20_000).unwrap();
            assert!(
                run.summary().is_some(),
                "adopt {adopt}, crash at {crash_at}: {:?}",
                run.outcome
            );
            assert_eq!(run.data, clean.data, "adopt {adopt}, crash at {crash_at}");
            assert_eq!(
                sim(&harness).reports_created(),
                1,
                "adopt {adopt}, crash at {crash_at}"
            );
        }
    }
}

#[test]
fn adopt_before_create_continues_a_matching_report_and_ignores_others() {
    let sandbox = sandbox("");
    let spec = amazon_sp_api::sample_report_spec(START);
    // A first job creates the report…
    let mut first = Harness::new(job_for(&sandbox, spec.clone()), sandbox, START);
    let first_run = first.drive().unwrap();
    let first_id = first_run.summary().expect("Done").report_id.clone();
    // …a second one, with adopt on, finds and continues it.
    let sandbox = first.sandbox().clone();
    let later = START.saturating_add(60_000);
    let job = ReportJob::new(
        JobSpec::AmazonSpApi(spec.clone().adopting_existing()),
        sandbox.job_config(Provider::AmazonSpApi),
        amazon_sp_api::credentials(),
        later,
    )
    .unwrap();
    let mut second = Harness::new(job, sandbox, later);
    let run = second.drive().unwrap();
    assert_eq!(run.summary().expect("Done").report_id, first_id);
    assert_eq!(run.data, first_run.data);
    assert_eq!(sim(&second).reports_created(), 1, "adopted, not created");

    // Another window does not match: created.
    let other = ReportSpec::new(Region::Fe, amazon_sp_api::SAMPLE_REPORT_TYPE, ["JP"])
        .with_window("2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z")
        .adopting_existing();
    let sandbox = second.sandbox().clone();
    let job = ReportJob::new(
        JobSpec::AmazonSpApi(other),
        sandbox.job_config(Provider::AmazonSpApi),
        amazon_sp_api::credentials(),
        later,
    )
    .unwrap();
    let mut third = Harness::new(job, sandbox, later);
    let run = third.drive().unwrap();
    assert!(run.summary().is_some());
    assert_eq!(sim(&third).reports_created(), 2);
}

/// An access token from the simulator's LwA endpoint.
fn access_token(sandbox: &mut Sandbox, now: Millis) -> String {
    let mut grant = SimRequest::new(Method::Post, "/amazon-sp-api/auth/o2/token");
    grant.headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    grant.body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", amazon_sp_api::REFRESH_TOKEN)
        .append_pair("client_id", amazon_sp_api::CLIENT_ID)
        .append_pair("client_secret", amazon_sp_api::CLIENT_SECRET)
        .finish()
        .into_bytes();
    let answer = sandbox.handle(now, &grant);
    assert_eq!(answer.status, 200);
    let token: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

/// Creates a report of the sample type for `window` straight through the
/// simulator's HTTP surface, as another client of the seller would.
fn create_directly(sandbox: &mut Sandbox, now: Millis, window: (&str, &str)) {
    let token = access_token(sandbox, now);
    let mut create = SimRequest::new(Method::Post, "/amazon-sp-api/reports/2021-06-30/reports");
    create.headers = vec![
        ("content-type".into(), "application/json".into()),
        ("x-amz-access-token".into(), token),
    ];
    create.body = serde_json::json!({
        "reportType": amazon_sp_api::SAMPLE_REPORT_TYPE,
        "marketplaceIds": [reportflow::providers::amazon_sp_api::JP_MARKETPLACE],
        "dataStartTime": window.0,
        "dataEndTime": window.1,
    })
    .to_string()
    .into_bytes();
    assert_eq!(sandbox.handle(now, &create).status, 202);
}

#[test]
fn adopt_reads_every_page_of_get_reports_and_resumes_paging_after_a_crash() {
    let sandbox = sandbox("");
    let spec = amazon_sp_api::sample_report_spec(START);
    let mut first = Harness::new(job_for(&sandbox, spec.clone()), sandbox, START);
    let first_run = first.drive().unwrap();
    let first_id = first_run.summary().expect("Done").report_id.clone();
    // 120 newer reports of the same type and marketplace, other windows:
    // the job's report is on the second page of 100.
    let mut sandbox = first.sandbox().clone();
    let mut now = START;
    for day in 0..120 {
        now = now.saturating_add(61_000);
        let start = format!("2023-{:02}-{:02}T00:00:00Z", 1 + day / 28, 1 + day % 28);
        let end = format!("2023-{:02}-{:02}T12:00:00Z", 1 + day / 28, 1 + day % 28);
        create_directly(&mut sandbox, now, (&start, &end));
    }
    assert_eq!(sim_of(&sandbox).reports_created(), 121);
    // The simulator pages as the model says: a token, alone, that it issued.
    {
        let mut sandbox = sandbox.clone();
        let token = access_token(&mut sandbox, now);
        let mut list = |query: &str| {
            let mut request = SimRequest::new(
                Method::Get,
                format!("/amazon-sp-api/reports/2021-06-30/reports?{query}"),
            );
            request
                .headers
                .push(("x-amz-access-token".into(), token.clone()));
            let answer = sandbox.handle(now, &request);
            let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
            (answer.status, body)
        };
        let (status, first) = list("reportTypes=GET_MERCHANT_LISTINGS_ALL_DATA&pageSize=100");
        assert_eq!(
            (status, first["reports"].as_array().map(Vec::len)),
            (200, Some(100))
        );
        let next = first["nextToken"].as_str().unwrap().to_owned();
        let (status, second) = list(&format!("nextToken={next}"));
        assert_eq!(
            (status, second["reports"].as_array().map(Vec::len)),
            (200, Some(21))
        );
        assert!(second.get("nextToken").is_none(), "the last page");
        assert_eq!(list(&format!("nextToken={next}&pageSize=5")).0, 400);
        assert_eq!(list("nextToken=not-a-token").0, 400);
    }

    for crash_after_first_page in [false, true] {
        let job = ReportJob::new(
            JobSpec::AmazonSpApi(spec.clone().adopting_existing()),
            sandbox.job_config(Provider::AmazonSpApi),
            amazon_sp_api::credentials(),
            now,
        )
        .unwrap();
        let mut harness = Harness::new(job, sandbox.clone(), now);
        if crash_after_first_page {
            // Killed once the snapshot on disk says "read the next page".
            while !harness.persisted().contains("\"findPage\"") {
                harness.step().unwrap();
            }
            harness
                .crash_and_restore(amazon_sp_api::credentials())
                .unwrap();
        }
        let run = harness.drive().unwrap();
        let summary = run.summary().expect("Done");
        assert_eq!(
            summary.report_id, first_id,
            "crash {crash_after_first_page}"
        );
        assert_eq!(run.data, first_run.data);
        assert_eq!(sim(&harness).reports_created(), 121, "adopted, not created");
        let lists: Vec<_> = harness
            .sandbox()
            .requests()
            .iter()
            .filter(|r| r.method == Method::Get && r.path.ends_with("/2021-06-30/reports"))
            .collect();
        // The first page once; then the second, by its token alone (twice
        // at most: the crash may catch its request in flight).
        let expected = if crash_after_first_page { 2..=3 } else { 2..=2 };
        assert!(expected.contains(&lists.len()), "{} lists", lists.len());
        assert!(lists[0]
            .query
            .as_deref()
            .unwrap_or_default()
            .contains("reportTypes="));
        for next in &lists[1..] {
            let query = next.query.as_deref().unwrap_or_default();
            assert!(
                query.starts_with("nextToken=") && !query.contains('&'),
                "the token alone reads the next page: {query}"
            );
        }
        assert!(lists.iter().all(|r| r.status == 200));
    }
}

fn sim_of(sandbox: &Sandbox) -> &amazon_sp_api::Simulator {
    sandbox
        .simulator::<amazon_sp_api::Simulator>()
        .expect("the SP-API simulator")
}

#[test]
fn a_rejected_create_is_typed_and_creates_nothing() {
    for fault in ["reject-422", "reject-406"] {
        let (run, harness) = go(fault);
        assert_eq!(
            harness.sandbox().fired(fault.parse().unwrap()),
            1,
            "{fault} fired"
        );
        let error = run.error().expect("rejected");
        assert_eq!(error.kind(), ErrorKind::Rejected, "{fault}");
        assert!(error.to_string().contains("InvalidInput"), "{error}");
        assert_eq!(sim(&harness).reports_created(), 0);
    }
}

#[test]
fn links_that_keep_expiring_end_after_the_refresh_budget_without_a_second_report() {
    let (run, harness) = go("expired-link:always");
    assert!(run.error().is_some());
    assert_eq!(sim(&harness).reports_created(), 1);
    assert_eq!(
        calls(&harness, Method::Get, "/documents/"),
        4,
        "the first document answer and max_link_refreshes (3) fresh ones"
    );
}

#[test]
fn amazon_sp_api_report_over_report_limits_ends_after_one_download() {
    let sandbox = sandbox("");
    let mut config = sandbox.job_config(Provider::AmazonSpApi);
    config.report_limits.max_decompressed_bytes = 1_000;
    let job = ReportJob::new(
        amazon_sp_api::sample_spec(START),
        config,
        amazon_sp_api::credentials(),
        START,
    )
    .expect("a valid job");
    let mut harness = Harness::new(job, sandbox, START);
    let run = harness.drive().unwrap();
    let error = run.error().expect("Failed");
    assert_eq!(error.kind(), ErrorKind::ReportTooLarge, "{error}");
    assert_eq!(calls(&harness, Method::Get, "/_documents/"), 1);
}
