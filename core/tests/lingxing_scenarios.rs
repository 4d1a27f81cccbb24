//! Named stories of a Lingxing job against the Lingxing simulator. Each test
//! pins one behaviour of `providers::lingxing` or `sim::lingxing`.

use reportflow::integrity::Md5;
use reportflow::providers::lingxing::{Credentials, Region, ReportSpec};
use reportflow::providers::Provider;
use reportflow::sim::{
    gzip_compress, lingxing, ActionRecord, ChunkPlan, Harness, Interference, LoggedRequest, Run,
    Sandbox, SandboxConfig, SimRequest,
};
use reportflow::{
    Credentials as JobCredentials, Error, ErrorKind, Event, JobConfig, JobSpec, Method, Millis,
    Outcome, ReportFailure, ReportJob, ReportLimit,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const ROWS: u32 = 1_500;

const TOKEN: &str = "/lingxing/api/auth-server/oauth/access-token";
const REFRESH: &str = "/lingxing/api/auth-server/oauth/refresh";
const CREATE: &str = "/lingxing/basicOpen/report/create/reportExportTask";
const QUERY: &str = "/lingxing/basicOpen/report/query/reportExportTask";
const RENEW: &str = "/lingxing/basicOpen/report/amazonReportExportTask";
const DOCUMENT: &str = "/lingxing/_amazon/";

fn sandbox(faults: &str) -> Sandbox {
    Sandbox::new(
        SandboxConfig::default()
            .with_seed(7)
            .with_rows(ROWS)
            .with_generation_ms(5_000)
            .with_faults(faults.parse().expect("a valid fault plan")),
    )
}

fn job(sandbox: &Sandbox, spec: JobSpec, credentials: JobCredentials) -> ReportJob {
    ReportJob::new(
        spec,
        sandbox.job_config(Provider::Lingxing),
        credentials,
        START,
    )
    .expect("a valid job")
}

fn harness(faults: &str) -> Harness {
    let sandbox = sandbox(faults);
    let job = job(&sandbox, lingxing::sample_spec(), lingxing::credentials());
    Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(3, 1, 24 * 1024))
}

fn run_with(faults: &str) -> (Run, Harness) {
    let mut harness = harness(faults);
    let run = harness
        .drive_bounded(50_000)
        .expect("a terminal within the bound, contract kept");
    (run, harness)
}

fn sim(harness: &Harness) -> &lingxing::Simulator {
    harness
        .sandbox()
        .simulator::<lingxing::Simulator>()
        .expect("the Lingxing simulator")
}

fn log(harness: &Harness) -> &[LoggedRequest] {
    harness.sandbox().requests()
}

fn calls<'a>(harness: &'a Harness, path: &'a str) -> impl Iterator<Item = &'a LoggedRequest> + 'a {
    log(harness)
        .iter()
        .filter(move |r| r.path.starts_with(path))
}

fn truth(harness: &Harness, run: &Run) -> Vec<u8> {
    let summary = run.summary().expect("Done");
    harness
        .sandbox()
        .report_content(&summary.report_id)
        .expect("the sandbox knows the task")
}

fn events(run: &Run) -> impl Iterator<Item = &Event> {
    run.actions.iter().filter_map(|a| match a {
        ActionRecord::Event { event, .. } => Some(event),
        _ => None,
    })
}

#[test]
fn a_clean_run_delivers_the_flat_file() {
    let (run, harness) = run_with("");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    let truth = truth(&harness, &run);
    assert_eq!(run.data, truth);
    assert_eq!(summary.provider, Provider::Lingxing);
    assert_eq!(summary.outcome, Outcome::Complete);
    assert_eq!(summary.rows, u64::from(ROWS));
    assert!(summary.gzip);
    assert_eq!(summary.md5, Md5::digest(&gzip_compress(&truth, 6)).to_hex());
    assert_eq!(summary.content_type, "text/tab-separated-values");
    assert_eq!(sim(&harness).tasks_created(), 1);
    assert_eq!(calls(&harness, CREATE).count(), 1);
    // IN_QUEUE, IN_PROGRESS, DONE were all seen.
    let statuses: Vec<&str> = events(&run)
        .filter_map(|e| match e {
            Event::ReportStatus { status } => Some(status.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.first(), Some(&"IN_QUEUE"));
    assert!(
        statuses.contains(&"IN_PROGRESS") && statuses.last() == Some(&"DONE"),
        "{statuses:?}"
    );
    // The download carries nothing of Lingxing.
    for request in calls(&harness, DOCUMENT) {
        assert!(request.header_names.is_empty(), "{request:?}");
        assert!(!request
            .query
            .as_deref()
            .unwrap_or_default()
            .contains("access_token"));
    }
    // Every report call was signed with the query only, and the log keeps no token or sign.
    for request in log(&harness)
        .iter()
        .filter(|r| r.path.contains("/basicOpen/"))
    {
        let query = request.query.as_deref().unwrap_or_default();
        assert!(
            query.contains("access_token=redacted") && query.contains("sign=redacted"),
            "{query}"
        );
    }
    assert_eq!(
        (
            sim(&harness).rejected_signs(),
            sim(&harness).stale_signs(),
            sim(&harness).bucket_rejections()
        ),
        (0, 0, 0)
    );
}

#[test]
fn a_fatal_task_fails_with_a_typed_report_failure() {
    let (run, harness) = run_with("report-failure");
    match run.error() {
        Some(
            error @ Error::ReportFailed {
                failure: ReportFailure::Fatal,
                provider: Provider::Lingxing,
                status,
                ..
            },
        ) => {
            assert_eq!(status, "FATAL");
            assert_eq!(error.kind(), ErrorKind::ReportFailed);
        }
        other => panic!("expected ReportFailed Fatal, got {other:?}"),
    }
    assert!(run.data.is_empty());
    assert_eq!(calls(&harness, DOCUMENT).count(), 0);
}

#[test]
fn a_cancelled_task_is_done_with_no_data() {
    let (run, harness) = run_with("task-cancelled");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(summary.outcome, Outcome::NoData);
    assert_eq!((summary.raw_bytes, summary.bytes, summary.rows), (0, 0, 0));
    assert!(run.data.is_empty());
    assert_eq!(truth(&harness, &run), Vec::<u8>::new());
    assert_eq!(calls(&harness, DOCUMENT).count(), 0);
}

#[test]
fn faults_end_byte_identical_to_a_clean_run_with_a_renewal_and_no_second_create() {
    let (clean, clean_harness) = run_with("");
    let (run, harness) = run_with("expired-link,throttle,expired-token,corrupt-body");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(run.data, clean.data, "byte-identical to the fault-free run");
    assert_eq!(
        summary.md5,
        clean.summary().map(|s| s.md5.clone()).unwrap_or_default()
    );
    for fault in ["throttle", "expired-token", "expired-link", "corrupt-body"] {
        let fault = fault.parse().expect("a fault");
        assert_eq!(harness.sandbox().fired(fault), 1, "{fault} fired");
    }
    // A throttled create and a refused-token create reached the gateway,
    // but only one task exists: no second create.
    assert_eq!(sim(&harness).tasks_created(), 1);
    assert_eq!(
        calls(&harness, CREATE)
            .filter(|r| r.fault.is_none())
            .count(),
        1
    );
    // The link was renewed, twice (expired, then corrupt), never re-created.
    assert_eq!(calls(&harness, RENEW).count(), 2);
    assert_eq!(sim(&harness).renewals(), 2);
    assert_eq!(
        calls(&harness, DOCUMENT)
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        [403, 200, 200]
    );
    // The expired token was refreshed with its refresh token, once.
    assert_eq!(calls(&harness, REFRESH).count(), 1);
    assert_eq!(sim(&harness).refresh_reuses(), 0);
    assert!(events(&run).any(|e| matches!(e, Event::Throttled { bucket, .. } if bucket.ends_with("create/reportExportTask"))));
    assert_eq!(sim(&clean_harness).renewals(), 0);
}

#[test]
fn the_simulator_rejects_a_wrong_app_id_stale_signs_and_missing_parameters() {
    let mut sandbox = sandbox("");
    let mut form = SimRequest::new(Method::Post, TOKEN);
    form.headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    form.body = format!(
        "appId={}&appSecret={}",
        lingxing::APP_ID,
        lingxing::APP_SECRET
    )
    .into_bytes();
    let answer: serde_json::Value =
        serde_json::from_slice(&sandbox.handle(START, &form).body).expect("JSON");
    assert_eq!(answer["code"], "200");
    let token = answer["data"]["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();

    let signed = |key: &str, now: Millis| -> SimRequest {
        // Sign the same parameters the gateway re-derives, with `key` as the AES key.
        let timestamp = now.as_u64() / 1000;
        let body = r#"{"region":"na","seller_id":"A1MQMW3JWPNCBX","task_id":"nope"}"#;
        let sign = reportflow_sign(key, &token, timestamp, body);
        let mut request = SimRequest::new(
            Method::Post,
            format!(
                "{QUERY}?access_token={token}&app_key={}&timestamp={timestamp}&sign={}",
                lingxing::APP_ID,
                form_urlencoded::byte_serialize(sign.as_bytes()).collect::<String>()
            ),
        );
        request
            .headers
            .push(("Content-Type".into(), "application/json".into()));
        request.body = body.as_bytes().to_vec();
        request
    };
    let code = |sandbox: &mut Sandbox, request: &SimRequest, now: Millis| -> String {
        let answer: serde_json::Value =
            serde_json::from_slice(&sandbox.handle(now, request).body).expect("JSON");
        match &answer["code"] {
            serde_json::Value::String(code) => code.clone(),
            other => other.to_string(),
        }
    };
    // Correctly signed: past the gateway (the task does not exist: business 102).
    assert_eq!(
        code(&mut sandbox, &signed(lingxing::APP_ID, START), START),
        "102"
    );
    // Signed with another AppID as key: 2001006.
    assert_eq!(
        code(&mut sandbox, &signed("ak_wrong01234567", START), START),
        "2001006"
    );
    // Signed three minutes ago: 2001007.
    assert_eq!(
        code(
            &mut sandbox,
            &signed(lingxing::APP_ID, START),
            START.saturating_add(180_000)
        ),
        "2001007"
    );
    // No sign at all: 3001001.
    assert_eq!(
        code(&mut sandbox, &SimRequest::new(Method::Post, QUERY), START),
        "3001001"
    );
    let sim = sandbox.simulator::<lingxing::Simulator>().expect("sim");
    assert_eq!((sim.rejected_signs(), sim.stale_signs()), (1, 1));
}

/// The signing rules, written out independently of the crate's signer:
/// sorted `k=v&…` → upper MD5 → AES-128-ECB(PKCS#7, key) → Base64.
fn reportflow_sign(key: &str, token: &str, timestamp: u64, body: &str) -> String {
    use aes::cipher::{BlockEncrypt, KeyInit};
    use base64::Engine as _;
    let body: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(body).expect("object");
    let mut pairs: Vec<(String, String)> = body
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    pairs.push(("access_token".into(), token.into()));
    pairs.push(("app_key".into(), lingxing::APP_ID.into()));
    pairs.push(("timestamp".into(), timestamp.to_string()));
    pairs.sort();
    let canonical = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let md5 = Md5::digest(canonical.as_bytes())
        .to_hex()
        .to_ascii_uppercase();
    let cipher = aes::Aes128::new_from_slice(key.as_bytes()).expect("16 bytes");
    let mut bytes = md5.into_bytes();
    bytes.extend([16u8; 16]);
    for block in bytes.chunks_mut(16) {
        cipher.encrypt_block(aes::Block::from_mut_slice(block));
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn lingxing_report_over_report_limits_ends_after_one_download() {
    // The shared download policy: a report over `report_limits` is not
    // damage (it used to be renewed and downloaded again); downloading it
    // again gives the same bytes, so the job stops after one download.
    const LIMIT: u64 = 4_096;
    let sandbox = sandbox("");
    let mut config = sandbox.job_config(Provider::Lingxing);
    config.report_limits.max_decompressed_bytes = LIMIT;
    let job = ReportJob::new(
        lingxing::sample_spec(),
        config,
        lingxing::credentials(),
        START,
    )
    .expect("a valid job");
    let mut harness =
        Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(3, 1, 24 * 1024));
    let run = harness.drive_bounded(50_000).expect("terminal");
    match run.error() {
        Some(
            error @ Error::ReportTooLarge {
                limit: ReportLimit::MaxDecompressedBytes,
                bytes,
            },
        ) => {
            assert_eq!(*bytes, LIMIT);
            assert!(!error.is_retryable(), "{error}");
            assert_eq!(error.kind(), ErrorKind::ReportTooLarge);
        }
        other => panic!("expected ReportTooLarge, got {other:?}"),
    }
    let task = events(&run)
        .find_map(|e| match e {
            Event::ReportCreated { report_id } => Some(report_id.clone()),
            _ => None,
        })
        .expect("a task was created");
    let content = harness
        .sandbox()
        .report_content(&task)
        .expect("the sandbox knows the task");
    assert!(content.len() as u64 > LIMIT, "the report is over the limit");
    assert_eq!(calls(&harness, DOCUMENT).count(), 1, "one download");
    assert_eq!(calls(&harness, RENEW).count(), 0, "no link renewal");
    assert_eq!(sim(&harness).tasks_created(), 1);
}

#[test]
fn a_plain_document_is_delivered_as_is() {
    let (run, harness) = run_with("plain-body");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert!(!summary.gzip);
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(summary.raw_bytes, summary.bytes);
    let (clean, _) = run_with("");
    assert_eq!(run.data, clean.data);
}

#[test]
fn a_lost_create_answer_ends_typed_with_one_task() {
    // Fires on the create call: the task exists, the answer is lost.
    // Lingxing has no idempotency key and no way to find the task, so the
    // job stops instead of exporting twice.
    let (run, harness) = run_with("lost-answer");
    match run.error() {
        Some(error @ Error::ReportMayExist { .. }) => {
            assert_eq!(error.kind(), ErrorKind::ReportMayExist);
            assert!(error.to_string().contains("lingxing"), "{error}");
        }
        other => panic!("expected ReportMayExist, got {other:?}"),
    }
    assert_eq!(calls(&harness, CREATE).count(), 1);
    assert_eq!(sim(&harness).tasks_created(), 1);
}

#[test]
fn a_lost_answer_keeps_the_endpoint_busy_for_two_minutes() {
    // With a second create allowed, it waits out the gateway's hold.
    let sandbox = sandbox("lost-answer");
    let mut config = sandbox.job_config(Provider::Lingxing);
    config.allow_duplicate_reports = true;
    let job = ReportJob::new(
        lingxing::sample_spec(),
        config,
        lingxing::credentials(),
        START,
    )
    .expect("a valid job");
    let mut harness =
        Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(3, 1, 24 * 1024));
    let run = harness.drive_bounded(50_000).expect("terminal");
    assert!(run.summary().is_some(), "{:?}", run.outcome);
    assert_eq!(run.data, truth(&harness, &run));
    let creates: Vec<&LoggedRequest> = calls(&harness, CREATE).collect();
    assert_eq!(
        creates.len(),
        2,
        "the lost create is sent again, as the config allows"
    );
    let gap = creates[1].at.saturating_since(creates[0].at);
    assert!(
        gap >= 120_000,
        "the second create came {gap} ms after the lost one"
    );
    assert_eq!(
        sim(&harness).bucket_rejections(),
        0,
        "the job never hit the held bucket"
    );
}

#[test]
fn a_lingxing_throttle_forever_gives_up_typed_and_bounded() {
    let (run, harness) = run_with("throttle:always");
    match run.error() {
        Some(Error::RetriesExhausted { attempts, last }) => {
            assert_eq!(*attempts, JobConfig::default().retry.max_attempts);
            assert!(
                matches!(**last, Error::UnexpectedStatus { status: 200, .. }),
                "{last:?}"
            );
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert_eq!(sim(&harness).tasks_created(), 0);
}

#[test]
fn server_errors_in_both_shapes_are_retried() {
    let (run, harness) = run_with("server-error:2");
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(
        calls(&harness, CREATE)
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        [200, 502, 200]
    );
}

#[test]
fn a_wrong_secret_is_a_config_error_that_says_what_to_fix() {
    let sandbox = sandbox("");
    let credentials =
        JobCredentials::Lingxing(Credentials::new(lingxing::APP_ID, "not-the-secret"));
    let mut harness = Harness::new(
        job(&sandbox, lingxing::sample_spec(), credentials),
        sandbox,
        START,
    );
    let run = harness.drive_bounded(1_000).expect("terminal");
    match run.error() {
        Some(
            error @ Error::Rejected {
                code: Some(code), ..
            },
        ) => {
            assert_eq!(code, "2001002");
            assert!(error.to_string().contains("check appSecret"), "{error}");
            assert!(!error.is_retryable());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(log(&harness).len(), 1);
}

#[test]
fn an_invalid_report_type_is_refused_by_the_api() {
    let sandbox = sandbox("reject-422");
    let spec = JobSpec::Lingxing(ReportSpec::new(
        Region::Eu,
        "A1MQMW3JWPNCBX",
        "GET_AFN_INVENTORY_DATA",
        ["A1PA6795UKMFR9"],
    ));
    let mut harness = Harness::new(job(&sandbox, spec, lingxing::credentials()), sandbox, START);
    let run = harness.drive_bounded(1_000).expect("terminal");
    assert!(
        matches!(run.error(), Some(Error::Rejected { code: Some(code), .. }) if code == "102"),
        "{:?}",
        run.outcome
    );
}

#[test]
fn a_crash_mid_download_renews_the_link_and_keeps_the_task() {
    let mut harness = harness("");
    for _ in 0..20_000 {
        // Part of the document has arrived (so the snapshot after the send is persisted).
        if harness.in_flight().is_some() && !harness.data().is_empty() {
            break;
        }
        harness.step().expect("contract");
    }
    harness.advance(400_000);
    harness
        .crash_and_restore(lingxing::credentials())
        .expect("restorable");
    let run = harness.drive_bounded(50_000).expect("terminal");
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(sim(&harness).tasks_created(), 1);
    assert_eq!(calls(&harness, RENEW).count(), 1);
    // The restored job fetched a new token: secrets are never in snapshots.
    assert_eq!(calls(&harness, TOKEN).count(), 2);
}

#[test]
fn a_hung_query_is_not_followed_by_another_query_within_two_minutes() {
    let mut harness = harness("");
    // token, create, then the first query hangs.
    for _ in 0..20_000 {
        if harness.requests().iter().any(|r| r.url.contains("/query/")) {
            break;
        }
        if harness.requests().len() == 2 && harness.in_flight().is_none() {
            harness.interfere(Interference::Hang);
        }
        harness.step().expect("contract");
    }
    let run = harness.drive_bounded(50_000).expect("terminal");
    assert!(run.summary().is_some(), "{:?}", run.outcome);
    let queries: Vec<&LoggedRequest> = calls(&harness, QUERY).collect();
    assert!(queries.len() >= 2);
    assert!(queries[1].at.saturating_since(queries[0].at) >= 120_000);
}

#[test]
fn secrets_never_reach_snapshots_errors_or_debug_output() {
    let (run, harness) = run_with("expired-token,corrupt-body");
    let tokens: Vec<String> = sim(&harness)
        .issued_tokens()
        .iter()
        .map(|t| t.expose().clone())
        .collect();
    assert!(tokens.len() >= 4);
    let mut printed = format!("{:?}{:?}{:?}", run.actions, run.requests, run.outcome);
    printed.push_str(&run.snapshots.join("\n"));
    printed.push_str(&format!("{:?}", log(&harness)));
    printed.push_str(&serde_json::to_string(log(&harness)).unwrap_or_default());
    assert!(!printed.contains(lingxing::CANARY), "canary leaked");
    for token in tokens {
        // Request URLs carry the access token by protocol; records and Debug must not.
        let leaks = printed.matches(token.as_str()).count();
        let in_urls: usize = run
            .actions
            .iter()
            .filter_map(|a| match a {
                ActionRecord::Send { url, .. } => Some(url.matches(token.as_str()).count()),
                _ => None,
            })
            .sum();
        assert_eq!(leaks, in_urls, "a token leaked outside the request URLs");
    }
}

/// A token call made from outside the job, as another process of the same
/// app would: `(access_token, refresh_token)`.
fn outside_token_call(
    sandbox: &mut Sandbox,
    path: &str,
    fields: &str,
    now: Millis,
) -> (String, String) {
    let mut request = SimRequest::new(Method::Post, path);
    request.headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    request.body = fields.as_bytes().to_vec();
    let answer: serde_json::Value =
        serde_json::from_slice(&sandbox.handle(now, &request).body).expect("JSON");
    assert_eq!(answer["code"], "200", "{answer}");
    let text = |name: &str| {
        answer["data"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} in {answer}"))
            .to_owned()
    };
    (text("access_token"), text("refresh_token"))
}

#[test]
fn an_access_token_replaced_by_a_refresh_is_refused_and_the_job_fetches_a_new_pair() {
    let mut sandbox = sandbox("");
    // Another process holds the app's pair and hands the access token to the job.
    let (shared, refresh) = outside_token_call(
        &mut sandbox,
        TOKEN,
        &format!(
            "appId={}&appSecret={}",
            lingxing::APP_ID,
            lingxing::APP_SECRET
        ),
        START,
    );
    let credentials = JobCredentials::Lingxing(lingxing::provider_credentials().with_tokens(
        shared.clone(),
        None,
        None,
    ));
    let job = job(&sandbox, lingxing::sample_spec(), credentials);
    let mut harness = Harness::new(job, sandbox, START);
    // The job creates its task with the shared token...
    while sim(&harness).tasks_created() == 0 {
        harness.step().expect("contract kept");
    }
    assert_eq!(
        calls(&harness, TOKEN).count(),
        1,
        "only the other process's"
    );
    // ...then the other process refreshes the pair, which replaces that token.
    let now = harness.now();
    let (fresh, _) = outside_token_call(
        harness.sandbox_mut(),
        REFRESH,
        &format!("appId={}&refreshToken={refresh}", lingxing::APP_ID),
        now,
    );
    assert_ne!(fresh, shared);
    let run = harness.drive_bounded(50_000).expect("a terminal");
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(summary.rows, u64::from(ROWS));
    assert_eq!(run.data, truth(&harness, &run));
    // The next query with the replaced token got 2001005; the job then
    // fetched a pair of its own with the AppSecret (a refresh is impossible:
    // it holds no refresh token) and carried on with the same task.
    assert_eq!(sim(&harness).replaced_tokens_refused(), 1);
    let after_refresh: Vec<&str> = log(&harness)
        .iter()
        .skip_while(|r| !r.path.starts_with(REFRESH))
        .map(|r| r.path.as_str())
        .collect();
    assert!(
        after_refresh.get(1).is_some_and(|p| p.starts_with(QUERY))
            && after_refresh.get(2).is_some_and(|p| p.starts_with(TOKEN))
            && after_refresh.get(3).is_some_and(|p| p.starts_with(QUERY)),
        "{after_refresh:?}"
    );
    assert_eq!(calls(&harness, TOKEN).count(), 2);
    assert_eq!(sim(&harness).tasks_created(), 1);
    assert_eq!(sim(&harness).tokens_issued(), 3);
}

#[test]
fn querying_a_task_with_another_sellers_id_is_refused() {
    let mut harness = harness("");
    while sim(&harness).tasks_created() == 0 {
        harness.step().expect("contract kept");
    }
    let task = sim(&harness).task_ids()[0].clone();
    let now = harness.now();
    let sandbox = harness.sandbox_mut();
    let (token, _) = outside_token_call(
        sandbox,
        TOKEN,
        &format!(
            "appId={}&appSecret={}",
            lingxing::APP_ID,
            lingxing::APP_SECRET
        ),
        now,
    );
    let query = |sandbox: &mut Sandbox, seller: &str, region: &str| -> serde_json::Value {
        let body = format!(r#"{{"region":"{region}","seller_id":"{seller}","task_id":"{task}"}}"#);
        let timestamp = now.as_u64() / 1000;
        let sign = reportflow_sign(lingxing::APP_ID, &token, timestamp, &body);
        let mut request = SimRequest::new(
            Method::Post,
            format!(
                "{QUERY}?access_token={token}&app_key={}&timestamp={timestamp}&sign={}",
                lingxing::APP_ID,
                form_urlencoded::byte_serialize(sign.as_bytes()).collect::<String>()
            ),
        );
        request
            .headers
            .push(("Content-Type".into(), "application/json".into()));
        request.body = body.into_bytes();
        serde_json::from_slice(&sandbox.handle(now, &request).body).expect("JSON")
    };
    let other = query(sandbox, "A2OTHERSELLER9", "na");
    assert_eq!(other["code"], 102, "{other}");
    assert_eq!(
        other["data"],
        serde_json::json!([]),
        "nothing of the task leaks"
    );
    assert_eq!(query(sandbox, lingxing::SELLER_ID, "eu")["code"], 102);
    assert_eq!(query(sandbox, lingxing::SELLER_ID, "na")["code"], 0);
    // The job itself, which names its own seller, is not disturbed.
    let run = harness.drive_bounded(50_000).expect("a terminal");
    assert!(run.summary().is_some(), "{:?}", run.outcome);
    assert_eq!(sim(&harness).foreign_refusals(), 2);
}
