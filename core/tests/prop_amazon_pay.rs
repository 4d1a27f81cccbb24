//! Property tests of the Amazon Pay machine against its simulator: the
//! eight invariants of STYLE.md §4, plus Amazon Pay's own: every request
//! that reaches the simulator carries a valid signature, a `Signature` for
//! a stale or unknown sign request is refused, and never two reports per
//! job whatever was lost or crashed (the create's idempotency key).

use proptest::prelude::*;

mod common;
use common::World;

use reportflow::providers::Provider;
use reportflow::sim::keys::TestSigner;
use reportflow::sim::{amazon_pay, ActionRecord, Fault, Harness, Run};
use reportflow::{
    Action, Error, Event, Input, InputError, JobConfig, Millis, ReportJob, RequestId,
    TransportFailure, WaitReason,
};

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);
const MAX_STEPS: usize = 40_000;

fn world() -> impl Strategy<Value = World> {
    common::world(
        common::fault_plan(
            &[
                Fault::Throttle,
                Fault::ServerError,
                Fault::LostAnswer,
                Fault::ExpiredLink,
                Fault::Disconnect,
            ],
            &[Fault::ReportFailure, Fault::TaskCancelled, Fault::Reject422],
        ),
        common::op(vec![TransportFailure::Reset, TransportFailure::Timeout]),
    )
}

fn job(sandbox: &reportflow::sim::Sandbox) -> ReportJob {
    ReportJob::new(
        amazon_pay::sample_spec(START),
        sandbox.job_config(Provider::AmazonPay),
        amazon_pay::credentials(),
        START,
    )
    .expect("a valid job")
}

fn sim(harness: &Harness) -> &amazon_pay::Simulator {
    harness
        .sandbox()
        .simulator::<amazon_pay::Simulator>()
        .expect("the Amazon Pay simulator")
}

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

fn check(world: &World) -> Result<(), TestCaseError> {
    let mut harness = world.harness(START, job);
    // 1 (stale answers are typed errors) and 3 (the harness checks the
    // contract on every step) while the ops apply.
    common::apply(
        &mut harness,
        &world.ops,
        world.cancel_at,
        amazon_pay::credentials,
    )?;
    // 2: bounded.
    let run: Run = harness.drive_bounded(MAX_STEPS).map_err(fail)?;
    // 5: retries per step within the budget.
    run.check_retry_budget(&JobConfig::default())
        .map_err(TestCaseError::fail)?;
    // 6: Done only with the simulator's bytes, exactly.
    run.check_data_matches(harness.sandbox())
        .map_err(TestCaseError::fail)?;
    // Amazon Pay: every API call that reached the simulator was signed by
    // the merchant's key, over exactly what arrived.
    prop_assert_eq!(sim(&harness).signatures_refused(), 0);
    let api_calls = harness
        .sandbox()
        .requests()
        .iter()
        .filter(|r| r.provider == Some(Provider::AmazonPay) && !r.path.contains("/_documents/"))
        .count();
    prop_assert_eq!(api_calls as u32, sim(&harness).signatures_verified());
    // …and nothing of Amazon Pay went to the download host.
    for request in harness.sandbox().requests() {
        if request.path.contains("/_documents/") {
            prop_assert!(!request.has_header("authorization"));
            prop_assert!(request
                .header_names
                .iter()
                .all(|n| !n.starts_with("x-amz-pay-")));
        }
    }
    // One report per job, and a lost create never ends ReportMayExist.
    prop_assert!(sim(&harness).reports_created() <= 1);
    prop_assert!(
        !matches!(run.outcome, Err(Error::ReportMayExist { .. })),
        "{:?}",
        run.outcome
    );
    // Every API request went out right after the Sign that covers it
    // (a crash may drop a signed request before it is sent: never the
    // other way round).
    let mut signed = false;
    for action in &run.actions {
        match action {
            ActionRecord::Sign { .. } => signed = true,
            ActionRecord::Restored { .. } => signed = false,
            ActionRecord::Send { url, .. } if !url.contains("/_documents/") => {
                prop_assert!(signed, "{} went out unsigned", url);
                signed = false;
            }
            _ => {}
        }
    }
    // 8: the test key's PEM never shows up anywhere printable or persisted.
    run.check_secret_absent(harness.sandbox(), "PRIVATE KEY")
        .map_err(TestCaseError::fail)?;
    Ok(())
}

/// A run's record without what legitimately differs between twins:
/// request and sign ids, document (link) calls, chunking.
fn normalized(actions: &[ActionRecord]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|action| match action {
            ActionRecord::Send {
                at, method, url, ..
            } if !url.contains("/report-documents/") => Some(format!(
                "send {at} {method:?} {}",
                url.split('?').next().unwrap_or(url)
            )),
            ActionRecord::Wait { at, until, reason }
                if !matches!(
                    reason,
                    WaitReason::AwaitingResponse { .. } | WaitReason::AwaitingSignature { .. }
                ) =>
            {
                Some(format!("wait {at} {until} {reason:?}"))
            }
            ActionRecord::Event {
                at,
                event:
                    event @ (Event::ReportCreated { .. }
                    | Event::ReportStatus { .. }
                    | Event::Retrying { .. }
                    | Event::Throttled { .. }),
            } => Some(format!("event {at} {event:?}")),
            ActionRecord::Done { summary, .. } => Some(format!(
                "done {} {} {} {}",
                summary.report_id, summary.md5, summary.bytes, summary.rows
            )),
            ActionRecord::Failed { error, .. } => Some(format!("failed {error:?}")),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// Invariants 1–6 and 8, and Amazon Pay's signature and create rules,
    /// under generated faults and host mishaps.
    #[test]
    fn amazon_pay_invariants_hold_under_faults_and_mishaps(world in world()) {
        check(&world)?;
    }

    /// Invariant 7: a twin restored from the snapshot at any drain point
    /// continues exactly as the original (modulo a fresh document answer).
    #[test]
    fn a_restored_twin_continues_like_the_original(world in world(), steps in 0usize..300) {
        let world = World { ops: Vec::new(), cancel_at: None, generation_ms: 9_000, ..world };
        let mut original = world.harness(START, job);
        for _ in 0..steps {
            original.step().map_err(fail)?;
        }
        for _ in 0..10_000 {
            if original.at_rest() || original.outcome().is_some() {
                break;
            }
            original.step().map_err(fail)?;
        }
        if original.outcome().is_some() {
            return Ok(());
        }
        let mut twin = original.fork(amazon_pay::credentials()).map_err(fail)?;
        let before = original.actions().len();
        let ours = original.drive_bounded(MAX_STEPS).map_err(fail)?;
        let theirs = twin.drive_bounded(MAX_STEPS).map_err(fail)?;
        prop_assert_eq!(normalized(ours.actions.get(before..).unwrap_or_default()), normalized(&theirs.actions));
        prop_assert_eq!(&ours.data, &theirs.data);
        prop_assert_eq!(ours.outcome.as_ref().err(), theirs.outcome.as_ref().err());
        prop_assert_eq!(sim(&twin).reports_created(), sim(&original).reports_created());
    }

    /// A `Signature` is taken only for the pending sign request, before its
    /// `sign_before`; any other id, a late one, or a second answer is
    /// refused with `StaleSignature` and leaves the job waiting as before.
    #[test]
    fn signatures_for_stale_or_unknown_sign_requests_are_refused(
        offset in prop_oneof![Just(0u64), 1u64..5, (1u64 << 40)..(1u64 << 52)],
        delay in prop_oneof![Just(0u64), 0u64..400_000, 299_000u64..301_000],
        answer_twice in any::<bool>(),
    ) {
        let sandbox = reportflow::sim::Sandbox::new(reportflow::sim::SandboxConfig::default());
        let mut job = job(&sandbox);
        let request = loop {
            match job.poll(START) {
                Action::Sign(request) => break request,
                Action::Event(_) => {}
                other => return Err(fail(format!("{other:?}"))),
            }
        };
        let signature = TestSigner::merchant().sign(&request);
        let id = RequestId::new(request.id.get().wrapping_add(offset));
        let at = START.saturating_add(delay);
        let result = job.handle(at, Input::Signature { id, signature: &signature });
        let accepted = offset == 0 && at < request.sign_before;
        if accepted {
            prop_assert_eq!(result, Ok(()));
            if answer_twice {
                let again = job.handle(at, Input::Signature { id, signature: &signature });
                prop_assert_eq!(again, Err(InputError::StaleSignature { id }));
            }
            prop_assert!(matches!(job.poll(at), Action::Send(_)));
        } else {
            prop_assert_eq!(result, Err(InputError::StaleSignature { id }));
            let next = job.poll(at);
            let waits_or_resigns = matches!(
                &next,
                Action::Wait { .. } | Action::Sign(_) | Action::Event(_)
            );
            prop_assert!(waits_or_resigns, "{:?}", next);
        }
    }
}
