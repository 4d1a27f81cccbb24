//! Named, deterministic stories of a job against the simulators. Each test
//! pins one behaviour; a property-test failure worth keeping also lands here.

use reportflow::integrity::{IntegrityError, Md5, Md5Check};
use reportflow::providers::Provider;
use reportflow::sim::{
    amazon_ads, gzip_compress, ActionRecord, ChunkPlan, Harness, LoggedRequest, Run, Sandbox,
    SandboxConfig, Stepped,
};
use reportflow::{
    Error, ErrorKind, Event, Input, InputError, JobConfig, JobSpec, Millis, Phase, ReportFailure,
    ReportJob, Snapshot, WaitReason,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const ROWS: u32 = 2_000;

fn sandbox(faults: &str) -> Sandbox {
    sandbox_generating(faults, SandboxConfig::default().generation_ms)
}

fn sandbox_generating(faults: &str, generation_ms: u64) -> Sandbox {
    Sandbox::new(
        SandboxConfig::default()
            .with_seed(42)
            .with_generation_ms(generation_ms)
            .with_faults(faults.parse().expect("a valid fault plan")),
    )
}

fn job_with(sandbox: &Sandbox, spec: JobSpec, tweak: impl FnOnce(&mut JobConfig)) -> ReportJob {
    let mut config = sandbox.job_config(Provider::AmazonAds);
    tweak(&mut config);
    ReportJob::new(spec, config, amazon_ads::credentials(), START).expect("a valid job")
}

fn harness(faults: &str) -> Harness {
    let sandbox = sandbox(faults);
    let job = job_with(&sandbox, amazon_ads::sample_spec(START), |_| {});
    Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(7, 1, 32 * 1024))
}

fn drive(harness: &mut Harness) -> Run {
    harness
        .drive_bounded(50_000)
        .expect("the job reaches a terminal within the bound and keeps the contract")
}

fn run_with(faults: &str) -> (Run, Harness) {
    let mut harness = harness(faults);
    let run = drive(&mut harness);
    (run, harness)
}

fn truth(harness: &Harness, run: &Run) -> Vec<u8> {
    let summary = run.summary().expect("Done");
    harness
        .sandbox()
        .report_content(&summary.report_id)
        .expect("the sandbox knows the report")
}

fn log(harness: &Harness) -> &[LoggedRequest] {
    harness.sandbox().requests()
}

fn is_create(r: &LoggedRequest) -> bool {
    r.path.starts_with("/amazon-ads/sd/")
}

fn is_s3(r: &LoggedRequest) -> bool {
    r.path.starts_with("/amazon-ads/_s3/")
}

fn is_resolve(r: &LoggedRequest) -> bool {
    r.path.starts_with("/amazon-ads/v2/reports/") && r.path.ends_with("/download")
}

/// Calls to the Ads API proper (not LwA, not S3).
fn is_api(r: &LoggedRequest) -> bool {
    r.path.starts_with("/amazon-ads/sd/") || r.path.starts_with("/amazon-ads/v2/")
}

fn created(harness: &Harness) -> usize {
    log(harness)
        .iter()
        .filter(|r| is_create(r) && r.status == 202)
        .count()
}

fn events(run: &Run) -> impl Iterator<Item = &Event> {
    run.actions.iter().filter_map(|a| match a {
        ActionRecord::Event { event, .. } => Some(event),
        _ => None,
    })
}

fn step_until(harness: &mut Harness, what: &str, mut done: impl FnMut(&Harness) -> bool) {
    for _ in 0..20_000 {
        if done(harness) {
            return;
        }
        harness.step().expect("the contract holds");
    }
    panic!("never reached: {what}");
}

#[test]
fn happy_path_delivers_the_ground_truth() {
    let (run, harness) = run_with("");
    let summary = run.summary().expect("Done");
    let truth = truth(&harness, &run);
    assert_eq!(run.data, truth);
    assert_eq!(summary.rows, u64::from(ROWS));
    assert_eq!(summary.bytes, truth.len() as u64);
    assert!(summary.gzip);
    // The MD5 covers the bytes as transferred: the gzip body S3 served.
    assert_eq!(summary.md5, Md5::digest(&gzip_compress(&truth, 6)).to_hex());
    // The simulator publishes no digest: the MD5 is a fingerprint.
    assert_eq!(summary.md5_check, Md5Check::Computed);
    assert_eq!(created(&harness), 1);
    assert_eq!(log(&harness).iter().filter(|r| is_create(r)).count(), 1);
    let s3: Vec<_> = log(&harness).iter().filter(|r| is_s3(r)).collect();
    assert_eq!(s3.len(), 1);
    for request in s3 {
        assert!(!request.has_header("authorization"), "{request:?}");
        assert!(
            !request
                .header_names
                .iter()
                .any(|n| n.starts_with("amazon-advertising")),
            "{request:?}"
        );
    }
    // token, create, polls..., resolve, download: every request got an answer the job used.
    assert_eq!(summary.requests as usize, log(&harness).len());
    assert!(events(&run).any(
        |e| matches!(e, Event::ReportCreated { report_id } if *report_id == summary.report_id)
    ));
}

#[test]
fn the_report_is_json_with_exact_big_ids() {
    let (run, _) = run_with("");
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&run.data).expect("a JSON array");
    assert_eq!(rows.len(), ROWS as usize);
    for row in &rows {
        let id = row
            .get("campaignId")
            .and_then(serde_json::Value::as_u64)
            .expect("an integer campaignId");
        assert!((15..=19).contains(&id.to_string().len()));
        assert!(
            id > 1 << 53,
            "ids exceed 2^53, so they must not pass through f64"
        );
        for metric in amazon_ads::SAMPLE_METRICS {
            assert!(row.contains_key(metric), "{metric} missing in {row:?}");
        }
    }
}

#[test]
fn throttle_honours_retry_after() {
    let (run, harness) = run_with("throttle");
    assert!(run.summary().is_some(), "{:?}", run.outcome);
    let throttled = log(&harness)
        .iter()
        .find(|r| r.status == 429)
        .expect("one 429");
    let not_before = throttled.at.saturating_add(2_000);
    let later_api: Vec<_> = log(&harness)
        .iter()
        .filter(|r| is_api(r) && r.at > throttled.at)
        .collect();
    assert!(!later_api.is_empty());
    for request in later_api {
        assert!(
            request.at >= not_before,
            "{request:?} came before Retry-After passed ({not_before})"
        );
    }
    // No API request at all between the 429 and its Retry-After.
    let index = log(&harness)
        .iter()
        .position(|r| r.status == 429)
        .unwrap_or_default();
    assert!(log(&harness)
        .iter()
        .skip(index + 1)
        .filter(|r| is_api(r))
        .all(|r| r.at >= not_before));
    assert!(
        events(&run).any(|e| matches!(e, Event::Throttled { until, .. } if *until >= not_before))
    );
}

#[test]
fn throttled_forever_gives_up_with_retries_exhausted() {
    let (run, harness) = run_with("throttle:always");
    match run.error() {
        Some(Error::RetriesExhausted { attempts, last }) => {
            assert_eq!(*attempts, JobConfig::default().retry.max_attempts);
            assert!(
                matches!(**last, Error::UnexpectedStatus { status: 429, .. }),
                "{last:?}"
            );
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert_eq!(created(&harness), 0);
    assert!(run.data.is_empty());
}

#[test]
fn expired_link_is_refreshed_without_recreating() {
    let (run, harness) = run_with("expired-link");
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(created(&harness), 1);
    assert_eq!(log(&harness).iter().filter(|r| is_resolve(r)).count(), 2);
    let s3: Vec<_> = log(&harness)
        .iter()
        .filter(|r| is_s3(r))
        .map(|r| r.status)
        .collect();
    assert_eq!(s3, [403, 200]);
}

#[test]
fn links_that_keep_expiring_re_request_the_report_once() {
    // Every fresh link of the first report expires; the one after the
    // budget belongs to a re-requested report and works.
    let refreshes = JobConfig::default().max_link_refreshes;
    let (run, harness) = run_with(&format!("expired-link:{}", refreshes + 1));
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(created(&harness), 2);
    let s3: Vec<_> = log(&harness)
        .iter()
        .filter(|r| is_s3(r))
        .map(|r| r.status)
        .collect();
    assert_eq!(s3.len() as u32, refreshes + 2, "{s3:?}");
    assert_eq!(s3.last(), Some(&200), "{s3:?}");
}

#[test]
fn links_that_always_expire_give_up_after_one_re_request() {
    let (run, harness) = run_with("expired-link:always");
    match run.error() {
        Some(Error::RetriesExhausted { attempts, last }) => {
            assert_eq!(*attempts, JobConfig::default().max_link_refreshes + 1);
            assert!(
                matches!(**last, Error::UnexpectedStatus { status: 403, .. }),
                "{last:?}"
            );
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert!(run.data.is_empty());
    assert_eq!(created(&harness), 2);
}

#[test]
fn crash_mid_download_resolves_a_fresh_link() {
    let mut harness = harness("");
    step_until(&mut harness, "the S3 download is in flight", |h| {
        h.in_flight().is_some() && h.requests().last().is_some_and(|r| r.url.contains("/_s3/"))
    });
    // The host dies and comes back a minute later: the old link is dead, and
    // links are never persisted anyway.
    harness.advance(61_000);
    harness
        .crash_and_restore(amazon_ads::credentials())
        .expect("restorable");
    let run = drive(&mut harness);
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(created(&harness), 1);
    assert_eq!(log(&harness).iter().filter(|r| is_resolve(r)).count(), 2);
}

#[test]
fn server_errors_are_retried() {
    let (run, harness) = run_with("server-error:3");
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(log(&harness).iter().filter(|r| r.status == 500).count(), 3);
    let retries: Vec<_> = events(&run)
        .filter_map(|e| match e {
            Event::Retrying {
                attempt,
                cause: ErrorKind::UnexpectedStatus,
                ..
            } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(retries, [2, 3, 4]);
}

/// `md5_fingerprint: false` with no published digest: no MD5, said so in
/// the summary, and every other check still catches a corrupt body.
#[test]
fn fingerprint_off_skips_the_md5_and_keeps_the_other_checks() {
    for faults in ["", "corrupt-body:always"] {
        let sandbox = sandbox(faults);
        let job = job_with(&sandbox, amazon_ads::sample_spec(START), |config| {
            config.md5_fingerprint = false;
        });
        let mut harness =
            Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(7, 1, 32 * 1024));
        let run = drive(&mut harness);
        if faults.is_empty() {
            let summary = run.summary().expect("Done");
            assert_eq!(run.data, truth(&harness, &run));
            assert_eq!(summary.md5, "");
            assert_eq!(summary.md5_check, Md5Check::Skipped);
        } else {
            assert!(
                matches!(run.error(), Some(Error::Integrity(_))),
                "{:?}",
                run.error()
            );
            assert!(run.data.is_empty());
        }
    }
}

#[test]
fn corrupt_body_on_every_attempt_ends_failed_with_an_integrity_error() {
    let (run, harness) = run_with("corrupt-body:always");
    assert!(!run
        .actions
        .iter()
        .any(|a| matches!(a, ActionRecord::Done { .. })));
    match run.error() {
        Some(error @ Error::Integrity(_)) => assert_eq!(error.kind(), ErrorKind::Gzip, "{error}"),
        other => panic!("expected an integrity error, got {other:?}"),
    }
    assert!(run.data.is_empty());
    // One download per link: the first and max_link_refreshes fresh ones.
    let downloads = log(&harness).iter().filter(|r| is_s3(r)).count();
    assert_eq!(
        downloads as u32,
        1 + JobConfig::default().max_link_refreshes
    );
    assert_eq!(created(&harness), 1);
}

#[test]
fn a_corrupt_body_is_an_integrity_error_even_when_its_garbage_breaks_the_json() {
    // Found by the property tests: a flipped byte can make the inflater emit
    // garbage that the JSON splitter rejects before the CRC-32 is checked.
    // The integrity verdict must win, and with any retry budget.
    for seed in [17_909_048_990_610_020_885, 1, 2, 3, 4, 5, 6, 7] {
        let sandbox = Sandbox::new(
            SandboxConfig::default()
                .with_seed(seed)
                .with_rows(44)
                .with_faults("corrupt-body:always".parse().expect("a plan")),
        );
        let job = job_with(&sandbox, amazon_ads::sample_spec(START), |c| {
            c.retry = reportflow::RetryPolicy::new(1, 2_000, 120_000)
        });
        let mut harness =
            Harness::new(job, sandbox, START).with_chunks(ChunkPlan::seeded(0, 15, 512));
        let run = drive(&mut harness);
        assert!(
            matches!(run.error(), Some(Error::Integrity(_))),
            "seed {seed}: {:?}",
            run.outcome
        );
    }
}

#[test]
fn corrupt_once_then_recovers_byte_identical() {
    let (clean, _) = run_with("");
    let (run, harness) = run_with("corrupt-body");
    assert_eq!(run.data, truth(&harness, &run));
    assert_eq!(
        run.data, clean.data,
        "a faulty run ends with the bytes of a clean one"
    );
    assert_eq!(log(&harness).iter().filter(|r| is_s3(r)).count(), 2);
    assert_eq!(created(&harness), 1);
}

#[test]
fn truncated_gzip_is_never_done() {
    let (run, harness) = run_with("truncated-gzip");
    assert_eq!(
        run.data,
        truth(&harness, &run),
        "one truncated body, then a good one"
    );
    let (run, _) = run_with("truncated-gzip:always");
    match run.error() {
        Some(Error::Integrity(IntegrityError::Truncated { .. })) => {}
        other => panic!("expected a truncation error, got {other:?}"),
    }
}

#[test]
fn failure_status_is_a_typed_report_failure() {
    let (run, harness) = run_with("report-failure");
    match run.error() {
        Some(Error::ReportFailed {
            provider: Provider::AmazonAds,
            failure: ReportFailure::Fatal,
            status,
            detail,
        }) => {
            assert_eq!(status, "FAILURE");
            assert!(detail.contains("Report generation failed"), "{detail}");
        }
        other => panic!("expected ReportFailed, got {other:?}"),
    }
    assert!(!log(&harness).iter().any(is_s3));
}

#[test]
fn a_401_refreshes_the_token_once() {
    let (run, harness) = run_with("expired-token");
    assert_eq!(run.data, truth(&harness, &run));
    let tokens = log(&harness)
        .iter()
        .filter(|r| r.path.ends_with("/auth/o2/token"))
        .count();
    assert_eq!(tokens, 2);
    assert_eq!(created(&harness), 1);

    let (run, harness) = run_with("expired-token:always");
    match run.error() {
        Some(Error::Rejected { status: 401, .. }) => {}
        other => panic!("expected a 401 rejection after one refresh, got {other:?}"),
    }
    let tokens = log(&harness)
        .iter()
        .filter(|r| r.path.ends_with("/auth/o2/token"))
        .count();
    assert_eq!(tokens, 2, "exactly one refresh");
}

#[test]
fn rejections_406_and_422_carry_amazons_message() {
    let (run, _) = run_with("reject-406");
    match run.error() {
        Some(Error::Rejected {
            status: 406,
            detail,
            ..
        }) => {
            assert!(
                detail.starts_with("Report date is too far in the past"),
                "{detail}"
            );
        }
        other => panic!("expected a 406 rejection, got {other:?}"),
    }
    let (run, _) = run_with("reject-422");
    match run.error() {
        Some(
            error @ Error::Rejected {
                status: 422,
                code,
                detail,
                ..
            },
        ) => {
            assert_eq!(code.as_deref(), Some("422"));
            assert!(detail.contains("Invalid parameters"), "{detail}");
            assert!(!error.is_retryable());
        }
        other => panic!("expected a 422 rejection, got {other:?}"),
    }
    // A real 406: a date 90 days back.
    let sandbox = sandbox("");
    let mut spec = amazon_ads::sample_report_spec(START);
    spec.report_date = amazon_ads::report_date(START, 90);
    let job = job_with(&sandbox, JobSpec::AmazonAds(spec), |_| {});
    let run = drive(&mut Harness::new(job, sandbox, START));
    assert!(
        matches!(run.error(), Some(Error::Rejected { status: 406, .. })),
        "{:?}",
        run.outcome
    );
}

#[test]
fn disconnect_mid_body_restarts_with_data_reset() {
    let (run, harness) = run_with("disconnect");
    assert_eq!(run.data, truth(&harness, &run));
    let reset = run.actions.iter().position(|a| {
        matches!(
            a,
            ActionRecord::Event {
                event: Event::DataReset { .. },
                ..
            }
        )
    });
    let first_data = run
        .actions
        .iter()
        .position(|a| matches!(a, ActionRecord::Data { .. }));
    assert!(
        first_data < reset && reset.is_some(),
        "data arrived, then was voided"
    );
    // After the reset, data starts again at offset 0.
    let restart = run
        .actions
        .iter()
        .skip(reset.unwrap_or_default())
        .find_map(|a| match a {
            ActionRecord::Data { offset, .. } => Some(*offset),
            _ => None,
        });
    assert_eq!(restart, Some(0));
    assert_eq!(log(&harness).iter().filter(|r| is_s3(r)).count(), 2);
    assert_eq!(created(&harness), 1);
}

#[test]
fn a_download_that_always_breaks_gives_up() {
    let (run, harness) = run_with("disconnect:always");
    match run.error() {
        Some(Error::RetriesExhausted { attempts, last }) => {
            assert_eq!(*attempts, JobConfig::default().retry.max_attempts);
            assert!(matches!(**last, Error::Transport(_)), "{last:?}");
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    // A fresh link per attempt, but the attempts are counted across them.
    let downloads = log(&harness).iter().filter(|r| is_s3(r)).count() as u32;
    assert_eq!(downloads, JobConfig::default().retry.max_attempts);
}

#[test]
fn restore_after_crash_mid_poll_continues_with_the_same_report() {
    let sandbox = sandbox_generating("", 60_000);
    let job = job_with(&sandbox, amazon_ads::sample_spec(START), |_| {});
    let mut harness = Harness::new(job, sandbox, START);
    step_until(&mut harness, "a status poll in flight", |h| {
        h.job().phase() == Phase::Polling && h.in_flight().is_some() && h.requests().len() >= 4
    });
    let report_id = harness
        .job()
        .report_id()
        .map(str::to_owned)
        .expect("created");
    harness
        .crash_and_restore(amazon_ads::credentials())
        .expect("restorable");
    assert_eq!(harness.job().report_id(), Some(report_id.as_str()));
    let run = drive(&mut harness);
    let summary = run.summary().expect("Done");
    assert_eq!(summary.report_id, report_id);
    assert_eq!(created(&harness), 1);
    assert_eq!(run.data, truth(&harness, &run));
    assert!(run
        .actions
        .iter()
        .any(|a| matches!(a, ActionRecord::Restored { .. })));
}

#[test]
fn snapshots_and_printed_actions_contain_no_secret() {
    for faults in [
        "",
        "expired-token",
        "corrupt-body:always",
        "throttle,disconnect",
    ] {
        let (run, harness) = run_with(faults);
        assert!(run.snapshots.len() > 3);
        for snapshot in &run.snapshots {
            for canary in [amazon_ads::CANARY, "Atza|", "Atzr|", "X-Amz-Signature"] {
                assert!(
                    !snapshot.contains(canary),
                    "{faults}: snapshot leaks {canary}: {snapshot}"
                );
            }
        }
        let printed = format!("{:?}{:?}{:?}", run.actions, run.requests, run.outcome);
        assert!(!printed.contains(amazon_ads::CANARY), "{faults}: {printed}");
        if let Err(error) = &run.outcome {
            assert!(!error.to_string().contains(amazon_ads::CANARY));
        }
        let json = serde_json::to_string(&run.actions).expect("records serialize");
        assert!(!json.contains(amazon_ads::CANARY));
        assert!(!json.contains("X-Amz-Signature=") || json.contains("X-Amz-Signature=redacted"));
        assert!(!format!("{:?}", harness.sandbox().requests()).contains(amazon_ads::CANARY));
    }
}

#[test]
fn deadline_exceeded_is_typed_and_resumable() {
    let sandbox = sandbox_generating("", 3_600_000);
    let job = job_with(&sandbox, amazon_ads::sample_spec(START), |c| {
        c.deadline_ms = 120_000
    });
    let mut harness = Harness::new(job, sandbox, START);
    let run = drive(&mut harness);
    match run.error() {
        Some(error @ Error::DeadlineExceeded { deadline }) => {
            assert_eq!(*deadline, START.saturating_add(120_000));
            assert!(error.is_retryable());
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert!(run.finished_at <= START.saturating_add(120_000));
    assert_eq!(created(&harness), 1);
    let message = run.error().map(ToString::to_string).unwrap_or_default();
    assert!(message.contains("2024-03-01 00:02:00 UTC"), "{message}");
    assert_eq!(run.error().map(Error::blame), Some(reportflow::Blame::Host));

    // The failed job's snapshot, restored two hours later with a new
    // deadline, continues the same report and finishes.
    let snapshot = Snapshot::from_json(&harness.job().snapshot().to_json()).expect("parses");
    let config = harness.job().config().clone();
    let later = START.saturating_add(2 * 3_600_000);
    let mut job =
        ReportJob::restore(snapshot, config, amazon_ads::credentials(), later).expect("restores");
    assert!(job.is_finished(), "restored as it was saved: failed");
    job.set_deadline(later.saturating_add(3_600_000));
    assert!(!job.is_finished(), "a later deadline reopens it");
    let report_id = job.report_id().map(ToOwned::to_owned);
    let mut resumed = Harness::new(job, harness.sandbox().clone(), later);
    let run = drive(&mut resumed);
    let summary = run.summary().unwrap_or_else(|| panic!("{:?}", run.outcome));
    assert_eq!(Some(summary.report_id.clone()), report_id);
    assert_eq!(created(&resumed), 1, "the same report, not a new one");
}

#[test]
fn a_snapshot_clock_in_the_future_does_not_hold_the_restored_job() {
    let mut harness = harness("");
    step_until(&mut harness, "report created", |h| {
        h.job().report_id().is_some() && h.at_rest()
    });
    // A clock a year ahead, as an edited snapshot (or a host whose clock ran
    // ahead) would carry.
    let text = harness.job().snapshot().to_json();
    let year = 365 * 24 * 3_600_000u64;
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let clock = value["job"]["clock"].as_u64().expect("a clock");
    value["job"]["clock"] = serde_json::Value::from(clock + year);
    let edited = value.to_string();
    let now = harness.now();
    let mut job = ReportJob::restore(
        Snapshot::from_json(&edited).expect("parses"),
        harness.job().config().clone(),
        amazon_ads::credentials(),
        now,
    )
    .expect("restores");
    // It acts at the host's time: neither its next poll nor the timeout of
    // the request it sends is a year away.
    let mut waits = 0;
    for _ in 0..40 {
        match job.poll(now) {
            reportflow::Action::Wait { until, .. } => {
                assert!(
                    until.saturating_since(now) < 3_600_000,
                    "waits until {until}"
                );
                waits += 1;
                if waits == 2 {
                    break;
                }
            }
            reportflow::Action::Send(_) | reportflow::Action::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits, 2);
}

#[test]
fn cancel_ends_failed_and_sends_nothing_more() {
    let mut harness = harness("");
    step_until(&mut harness, "report created", |h| {
        h.job().report_id().is_some() && h.at_rest()
    });
    let sent = harness.requests().len();
    harness.cancel();
    let run = drive(&mut harness);
    assert!(
        matches!(run.error(), Some(Error::Cancelled)),
        "{:?}",
        run.outcome
    );
    assert_eq!(harness.requests().len(), sent);
    assert_eq!(harness.handle(Input::Cancel), Err(InputError::Finished));
}

#[test]
fn a_stale_id_is_a_harmless_input_error() {
    let mut harness = harness("");
    step_until(&mut harness, "two requests answered", |h| {
        h.requests().len() >= 2 && h.at_rest()
    });
    let old = harness
        .requests()
        .first()
        .map(|r| r.id)
        .expect("a first request");
    assert_eq!(
        harness.handle(Input::End { id: old }),
        Err(InputError::StaleRequest { id: old })
    );
    assert_eq!(
        harness.handle(Input::Chunk {
            id: old,
            bytes: b"garbage"
        }),
        Err(InputError::StaleRequest { id: old })
    );
    let unknown = reportflow::RequestId::new(9_999);
    assert_eq!(
        harness.handle(Input::Head {
            id: unknown,
            status: 200,
            headers: &[]
        }),
        Err(InputError::StaleRequest { id: unknown })
    );
    let run = drive(&mut harness);
    assert_eq!(run.data, truth(&harness, &run));
}

#[test]
fn clock_jumping_back_does_not_break_waits() {
    let sandbox = sandbox_generating("throttle", 20_000);
    let job = job_with(&sandbox, amazon_ads::sample_spec(START), |_| {});
    let mut harness = Harness::new(job, sandbox, START);
    step_until(&mut harness, "polling", |h| {
        h.job().phase() == Phase::Polling && h.at_rest()
    });
    let ahead = harness.now();
    harness.set_now(Millis(ahead.as_u64() - 600_000));
    // The harness itself checks every Wait against the largest now it handed in.
    match harness.step().expect("the contract holds") {
        Stepped::Polled(reportflow::Action::Wait { until, .. }) => {
            assert!(until >= ahead, "{until} < {ahead}")
        }
        other => panic!("expected a Wait while the clock is behind, got {other:?}"),
    }
    let run = drive(&mut harness);
    assert_eq!(run.data, truth(&harness, &run));
}

#[test]
fn browser_style_followed_redirect_is_accepted() {
    let mut harness = harness("").follow_redirects(true);
    let run = drive(&mut harness);
    assert_eq!(run.data, truth(&harness, &run));
    // The job never sent its own S3 request: the 200 body came back on /download.
    assert!(!run.requests.iter().any(|r| r.url.contains("/_s3/")));
    let resolve = run
        .requests
        .iter()
        .filter(|r| r.url.ends_with("/download"))
        .count();
    assert_eq!(resolve, 1);
    // The followed hop went without the bearer token.
    let s3 = log(&harness)
        .iter()
        .find(|r| is_s3(r))
        .expect("the followed hop");
    assert_eq!(s3.status, 200);
    assert!(!s3.has_header("authorization"));
}

#[test]
fn waits_are_polite_and_explained() {
    let (run, _) = run_with("");
    let waits: Vec<_> = run
        .actions
        .iter()
        .filter_map(|a| match a {
            ActionRecord::Wait { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(waits.iter().any(|r| matches!(r, WaitReason::PollBackoff)));
    assert!(waits
        .iter()
        .any(|r| matches!(r, WaitReason::AwaitingResponse { .. })));
}
