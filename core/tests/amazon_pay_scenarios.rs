//! Named stories of the Amazon Pay machine against its simulator, in
//! virtual time, and of the signing contract (`Action::Sign` /
//! `Input::Signature`) it brings to the job.

use reportflow::providers::Provider;
use reportflow::sim::keys::TestSigner;
use reportflow::sim::{amazon_pay, ActionRecord, FaultPlan, Harness, Run, Sandbox, SandboxConfig};
use reportflow::{
    Action, Error, ErrorKind, Input, InputError, JobSpec, Millis, Outcome, ReportFailure,
    ReportJob, SignRequest, SignatureAlgorithm, WaitReason,
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
        amazon_pay::sample_spec(START),
        sandbox.job_config(Provider::AmazonPay),
        amazon_pay::credentials(),
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

fn sim(harness: &Harness) -> &amazon_pay::Simulator {
    harness
        .sandbox()
        .simulator::<amazon_pay::Simulator>()
        .expect("the Amazon Pay simulator")
}

/// Creates the simulator answered `201` (refused ones — 429, 5xx — excluded).
fn creates(harness: &Harness) -> usize {
    harness
        .sandbox()
        .requests()
        .iter()
        .filter(|r| r.method == reportflow::Method::Post && r.status == 201)
        .count()
}

#[test]
fn throttle_5xx_expired_link_and_a_broken_download_end_done_with_the_clean_bytes() {
    let (clean, _) = go("");
    let (run, harness) = go("throttle:2,server-error:2,expired-link,disconnect");
    let summary = run.summary().expect("Done");
    assert_eq!(summary.outcome, Outcome::Complete);
    assert_eq!(run.data, clean.data, "byte-identical to the fault-free run");
    assert_eq!(summary.md5, clean.summary().unwrap().md5);
    run.check_data_matches(harness.sandbox()).unwrap();
    assert_eq!(sim(&harness).reports_created(), 1);
    assert_eq!(
        creates(&harness),
        1,
        "the refused creates were retried until one was accepted"
    );
    assert_eq!(sim(&harness).signatures_refused(), 0);
    let throttled = run.actions.iter().any(|a| {
        matches!(a, ActionRecord::Wait { reason: WaitReason::RateLimit { bucket }, .. } if bucket == "amazon-pay:api")
    });
    assert!(
        throttled,
        "a 429 empties the job's bucket until Retry-After"
    );
}

#[test]
fn a_lost_create_answer_repeats_the_create_with_its_key_and_gets_the_same_report() {
    let (clean, _) = go("");
    let (run, harness) = go("lost-answer");
    assert!(run.summary().is_some(), "{:?}", run.outcome);
    assert_eq!(creates(&harness), 2, "the create was answered twice…");
    assert_eq!(
        sim(&harness).reports_created(),
        1,
        "…and Amazon holds one report"
    );
    assert_eq!(run.data, clean.data);
}

#[test]
fn a_crash_at_every_step_ends_done_with_one_report() {
    let (clean, _) = go("");
    let steps = {
        let sandbox = sandbox("");
        let mut harness = Harness::new(job(&sandbox), sandbox, START);
        harness.drive().unwrap();
        harness.steps()
    };
    for crash_at in 1..steps {
        let sandbox = sandbox("throttle");
        let mut harness = Harness::new(job(&sandbox), sandbox, START);
        for _ in 0..crash_at {
            harness.step().unwrap();
        }
        harness
            .crash_and_restore(amazon_pay::credentials())
            .unwrap();
        let run = harness.drive_bounded(20_000).unwrap();
        assert!(
            run.summary().is_some(),
            "crash at {crash_at}: {:?}",
            run.outcome
        );
        assert_eq!(run.data, clean.data, "crash at {crash_at}");
        assert_eq!(sim(&harness).reports_created(), 1, "crash at {crash_at}");
    }
}

#[test]
fn cancelled_is_no_data_and_failed_is_a_report_failure() {
    let (run, harness) = go("task-cancelled");
    let summary = run.summary().expect("Done");
    assert_eq!((summary.outcome, summary.bytes), (Outcome::NoData, 0));
    run.check_data_matches(harness.sandbox()).unwrap();

    let (run, _) = go("report-failure");
    match run.error() {
        Some(Error::ReportFailed {
            failure, status, ..
        }) => {
            assert_eq!(
                (*failure, status.as_str()),
                (ReportFailure::Fatal, "FAILED")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_rejected_create_and_a_foreign_signature_are_typed_rejections() {
    let (run, harness) = go("reject-422");
    let error = run.error().expect("rejected");
    assert_eq!(error.kind(), ErrorKind::Rejected);
    assert!(
        error.to_string().contains("InvalidParameterValue"),
        "{error}"
    );
    assert_eq!(sim(&harness).reports_created(), 0);

    let sandbox = sandbox("");
    let mut harness = Harness::new(job(&sandbox), sandbox, START).with_signer(TestSigner::other());
    let run = harness.drive().unwrap();
    let error = run.error().expect("refused");
    assert!(!error.is_retryable());
    assert!(
        error.to_string().contains("InvalidRequestSignature"),
        "{error}"
    );
}

#[test]
fn links_that_keep_expiring_end_after_the_refresh_budget_without_a_second_report() {
    let (run, harness) = go("expired-link:always");
    assert!(run.error().is_some());
    assert_eq!(sim(&harness).reports_created(), 1);
    let documents = harness
        .sandbox()
        .requests()
        .iter()
        .filter(|r| r.path.contains("/report-documents/"))
        .count();
    assert_eq!(
        documents, 4,
        "the first document answer and max_link_refreshes (3) fresh ones"
    );
}

/// Polls until the job asks for a signature.
fn next_sign(job: &mut ReportJob, now: Millis) -> SignRequest {
    for _ in 0..20 {
        match job.poll(now) {
            Action::Sign(request) => return request,
            Action::Event(_) => {}
            other => panic!("expected a Sign, got {other:?}"),
        }
    }
    panic!("no Sign");
}

#[test]
fn the_job_asks_for_a_signature_and_sends_the_request_only_with_it() {
    let sandbox = sandbox("");
    let mut job = job(&sandbox);
    let request = next_sign(&mut job, START);
    assert_eq!(request.key_id, amazon_pay::PUBLIC_KEY_ID);
    assert_eq!(
        request.algorithm,
        SignatureAlgorithm::RsaPssSha256 { salt_length: 32 }
    );
    assert!(request.message.starts_with("AMZN-PAY-RSASSA-PSS-V2\n"));
    assert!(request.sign_before > START);
    // Until the signature arrives, the job waits for it.
    match job.poll(START) {
        Action::Wait {
            until,
            reason: WaitReason::AwaitingSignature { id },
        } => {
            assert_eq!((until, id), (request.sign_before, request.id));
        }
        other => panic!("{other:?}"),
    }
    // Unknown ids and malformed signatures are refused, and change nothing.
    let unknown = reportflow::RequestId::new(request.id.get() + 7);
    assert_eq!(
        job.handle(
            START,
            Input::Signature {
                id: unknown,
                signature: b"x"
            }
        ),
        Err(InputError::StaleSignature { id: unknown })
    );
    assert!(matches!(
        job.handle(
            START,
            Input::Signature {
                id: request.id,
                signature: b""
            }
        ),
        Err(InputError::Invalid { .. })
    ));
    let signature = TestSigner::merchant().sign(&request);
    job.handle(
        START,
        Input::Signature {
            id: request.id,
            signature: &signature,
        },
    )
    .unwrap();
    assert_eq!(
        job.handle(
            START,
            Input::Signature {
                id: request.id,
                signature: &signature
            }
        ),
        Err(InputError::StaleSignature { id: request.id }),
        "answered once"
    );
    let Action::Send(http) = job.poll(START) else {
        panic!("the signed request")
    };
    assert_ne!(http.id, request.id, "one id sequence for both");
    assert_eq!(http.send_before, Some(request.sign_before));
    let authorization = http
        .headers
        .iter()
        .find(|h| h.name == "authorization")
        .unwrap();
    assert!(authorization.value.is_secret());
    assert!(authorization.value.expose().starts_with(&format!(
        "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId={}, SignedHeaders=accept;content-type;x-amz-pay-date;x-amz-pay-host;x-amz-pay-idempotency-key;x-amz-pay-region, Signature=",
        amazon_pay::PUBLIC_KEY_ID
    )));
    assert!(!format!("{http:?}").contains(authorization.value.expose()));
}

#[test]
fn a_late_signature_is_refused_and_the_job_signs_a_fresh_request() {
    let sandbox = sandbox("");
    let mut job = job(&sandbox);
    let first = next_sign(&mut job, START);
    let late = first.sign_before;
    let signature = TestSigner::merchant().sign(&first);
    assert_eq!(
        job.handle(
            late,
            Input::Signature {
                id: first.id,
                signature: &signature
            }
        ),
        Err(InputError::StaleSignature { id: first.id })
    );
    let mut now = late;
    let second = loop {
        match job.poll(now) {
            Action::Sign(request) => break request,
            Action::Wait { until, .. } => now = until,
            Action::Event(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert!(second.id > first.id);
    assert_ne!(
        second.message, first.message,
        "a new x-amz-pay-date, a new string to sign"
    );
    assert!(second.sign_before > late);
    assert_eq!(
        job.handle(
            now,
            Input::Signature {
                id: first.id,
                signature: &signature
            }
        ),
        Err(InputError::StaleSignature { id: first.id })
    );
}

#[test]
fn the_legacy_algorithm_and_a_legacy_key_use_their_salt_and_base_path() {
    let mut spec = amazon_pay::sample_report_spec(START)
        .with_algorithm(reportflow::providers::amazon_pay::SigningAlgorithm::Legacy);
    spec.public_key_id = "AHLEGACYKEY".into();
    let sandbox = sandbox("");
    let mut job = ReportJob::new(
        JobSpec::AmazonPay(spec),
        sandbox.job_config(Provider::AmazonPay),
        amazon_pay::credentials(),
        START,
    )
    .unwrap();
    let request = next_sign(&mut job, START);
    assert_eq!(
        request.algorithm,
        SignatureAlgorithm::RsaPssSha256 { salt_length: 20 }
    );
    assert!(request.message.starts_with("AMZN-PAY-RSASSA-PSS\n"));
    let signature = TestSigner::merchant().sign(&request);
    job.handle(
        START,
        Input::Signature {
            id: request.id,
            signature: &signature,
        },
    )
    .unwrap();
    let Action::Send(http) = job.poll(START) else {
        panic!()
    };
    assert!(
        http.url.ends_with("/amazon-pay/live/v2/reports"),
        "{}",
        http.url
    );
}
