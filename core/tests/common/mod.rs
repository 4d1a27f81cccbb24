//! What the provider property tests share: fault plans and host mishaps as
//! generated transitions (firezone-style: time is a transition too), and
//! how a harness suffers them.

#![allow(dead_code)] // each test file uses its own subset

pub(crate) mod schema;

use proptest::prelude::*;

use reportflow::sim::{ActionRecord, Fault, FaultPlan, Harness, Interference, Times};
use reportflow::{Credentials, Input, Millis, Phase, RequestId, TransportFailure};

/// Plans of up to four faults drawn from `faults` and `once`, each firing a
/// few times or always; the faults in `once` (terminal outcomes) fire at
/// most once.
pub(crate) fn fault_plan(
    faults: &[Fault],
    once: &'static [Fault],
) -> impl Strategy<Value = FaultPlan> {
    let entry = (
        proptest::sample::select([faults, once].concat()),
        prop_oneof![8 => (1u32..=3).prop_map(Times::Count), 1 => Just(Times::Always)],
    );
    proptest::collection::vec(entry, 0..5).prop_map(move |entries| {
        entries
            .into_iter()
            .fold(FaultPlan::none(), |plan, (fault, times)| {
                let times = if once.contains(&fault) {
                    Times::Count(1)
                } else {
                    times
                };
                plan.with(fault, times)
            })
    })
}

/// One thing the host does or suffers between steps.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Let the harness work for a while.
    Steps(u16),
    /// The next request fails with this transport failure.
    Refuse(TransportFailure),
    /// The next request is handled but its answer is lost.
    Lose,
    /// The next request is handled and its answer never comes.
    Hang,
    /// The host crashes and restores from its last snapshot.
    Crash,
    /// The host clock jumps back.
    JumpBack(u64),
    /// The host oversleeps.
    Tick(u64),
    /// An answer for a request id that is not in flight arrives.
    Stale(u64),
    /// The host defers the next request (a shared rate budget is empty).
    Defer(u64),
}

/// Host ops, with the transport failures in `refusals`.
pub(crate) fn op(refusals: Vec<TransportFailure>) -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (1u16..200).prop_map(Op::Steps),
        3 => proptest::sample::select(refusals).prop_map(Op::Refuse),
        2 => Just(Op::Lose),
        1 => Just(Op::Hang),
        2 => Just(Op::Crash),
        1 => (1u64..600_000).prop_map(Op::JumpBack),
        2 => (1u64..900_000).prop_map(Op::Tick),
        2 => (0u64..50).prop_map(Op::Stale),
        2 => (1u64..120_000).prop_map(Op::Defer),
    ]
}

/// What the applied ops did that some final checks must allow for.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Disturbances {
    /// The host clock went backwards at least once.
    pub(crate) clock_jumped_back: bool,
    /// A request may have reached the provider without the job seeing its
    /// answer (anything but a refused connect, a lost or hung answer, time
    /// passing its timeout, a crash), so the provider may have done work twice.
    pub(crate) unseen_requests: bool,
}

/// Applies `ops` in order (cancelling before op `cancel_at`), checking that
/// every stale answer is refused with an error rather than a panic.
pub(crate) fn apply(
    harness: &mut Harness,
    ops: &[Op],
    cancel_at: Option<usize>,
    credentials: fn() -> Credentials,
) -> Result<Disturbances, TestCaseError> {
    let mut seen = Disturbances::default();
    for (i, op) in ops.iter().enumerate() {
        if cancel_at == Some(i) {
            harness.cancel();
        }
        match op {
            Op::Steps(n) => {
                for _ in 0..*n {
                    harness
                        .step()
                        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                }
            }
            Op::Refuse(failure) => {
                seen.unseen_requests |= *failure != TransportFailure::Connect;
                harness.interfere(Interference::Refuse(failure.clone()));
            }
            Op::Lose => {
                seen.unseen_requests = true;
                harness.interfere(Interference::LoseResponse);
            }
            Op::Hang => {
                seen.unseen_requests = true;
                harness.interfere(Interference::Hang);
            }
            Op::Crash => {
                seen.unseen_requests = true;
                harness
                    .crash_and_restore(credentials())
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
            }
            Op::JumpBack(ms) => {
                seen.clock_jumped_back = true;
                harness.set_now(Millis(harness.now().as_u64().saturating_sub(*ms)));
            }
            Op::Tick(ms) => {
                // Time passing a request's timeout while it is in flight
                // is a lost answer too: the job gives up on a request the
                // provider has served.
                let later = harness.now().saturating_add(*ms);
                seen.unseen_requests |= harness
                    .in_flight_deadline()
                    .is_some_and(|deadline| later >= deadline);
                harness.advance(*ms);
            }
            Op::Defer(ms) => harness.interfere(Interference::Defer(*ms)),
            Op::Stale(raw) => {
                let id = RequestId::new(*raw);
                if harness.in_flight() != Some(id) {
                    // Invariant 1: hostile input is a typed error, never a panic.
                    let result = harness.handle(Input::End { id });
                    prop_assert!(result.is_err(), "a stale End for {id} was accepted");
                }
            }
        }
    }
    Ok(seen)
}

/// Invariant 7: a twin restored from a snapshot at a drain point (after
/// `fork_after` steps, then until the job is at rest), while the job holds
/// no link (links are never persisted), continues with the very same trace.
// Each test file compiles this module; not every one forks this way.
#[allow(dead_code)]
pub(crate) fn check_twins(
    harness: Harness,
    fork_after: u16,
    credentials: fn() -> Credentials,
    max_steps: usize,
) -> Result<(), TestCaseError> {
    check_twins_with(harness, fork_after, |_| credentials(), max_steps)
}

/// [`check_twins`] for a provider whose twin gets what a host holds at the
/// fork (a current access token), so the twin needs no token call.
pub(crate) fn check_twins_with(
    mut harness: Harness,
    fork_after: u16,
    credentials: impl Fn(&Harness) -> Credentials,
    max_steps: usize,
) -> Result<(), TestCaseError> {
    let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(e.to_string());
    for _ in 0..fork_after {
        harness.step().map_err(|e| fail(&e))?;
    }
    for _ in 0..500 {
        if harness.at_rest() || harness.outcome().is_some() {
            break;
        }
        harness.step().map_err(|e| fail(&e))?;
    }
    if !harness.at_rest() || matches!(harness.job().phase(), Phase::Downloading) {
        return Ok(());
    }
    let mut twin = harness.fork(credentials(&harness)).map_err(|e| fail(&e))?;
    let seen = harness.actions().len();
    let a = harness.drive_bounded(max_steps).map_err(|e| fail(&e))?;
    let b = twin.drive_bounded(max_steps).map_err(|e| fail(&e))?;
    let rest: Vec<&ActionRecord> = a.actions.iter().skip(seen).collect();
    let twin_actions: Vec<&ActionRecord> = b.actions.iter().collect();
    prop_assert_eq!(rest, twin_actions);
    prop_assert_eq!(
        a.outcome.map(|s| s.report_id),
        b.outcome.map(|s| s.report_id)
    );
    Ok(())
}

/// A generated run of one provider's job: the sandbox's seed, size and
/// speed, how bodies are chunked, the faults it plans and what the host does
/// or suffers (and when it cancels).
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) rows: u32,
    pub(crate) generation_ms: u64,
    pub(crate) chunks: (u64, usize, usize),
    pub(crate) faults: FaultPlan,
    pub(crate) ops: Vec<Op>,
    pub(crate) cancel_at: Option<usize>,
}

/// Worlds with `faults` and host `ops`.
pub(crate) fn world(
    faults: impl Strategy<Value = FaultPlan>,
    ops: impl Strategy<Value = Op>,
) -> impl Strategy<Value = World> {
    (
        any::<u64>(),
        0u32..300,
        0u64..30_000,
        (any::<u64>(), 1usize..64, 64usize..20_000),
        faults,
        proptest::collection::vec(ops, 0..24),
        proptest::option::weighted(0.05, 0usize..24),
    )
        .prop_map(
            |(seed, rows, generation_ms, chunks, faults, ops, cancel_at)| World {
                seed,
                rows,
                generation_ms,
                chunks,
                faults,
                ops,
                cancel_at,
            },
        )
}

impl World {
    /// The world's sandbox, and a harness over `job` (made for it) in it.
    pub(crate) fn harness(
        &self,
        start: Millis,
        job: impl FnOnce(&reportflow::sim::Sandbox) -> reportflow::ReportJob,
    ) -> Harness {
        let sandbox = reportflow::sim::Sandbox::new(
            reportflow::sim::SandboxConfig::default()
                .with_seed(self.seed)
                .with_rows(self.rows)
                .with_generation_ms(self.generation_ms)
                .with_faults(self.faults.clone()),
        );
        let job = job(&sandbox);
        let (seed, min, max) = self.chunks;
        Harness::new(job, sandbox, start)
            .with_chunks(reportflow::sim::ChunkPlan::seeded(seed, min, max))
    }
}

/// Polls until the job sends a request (events skipped).
pub(crate) fn first_send(job: &mut reportflow::ReportJob, now: Millis) -> reportflow::HttpRequest {
    for _ in 0..50 {
        match job.poll(now) {
            reportflow::Action::Send(request) => return request,
            reportflow::Action::Event(_) => {}
            other => panic!("expected a request, got {other:?}"),
        }
    }
    panic!("no request");
}

/// Feeds a complete answer and drains; returns the events and the action
/// that ended the drain.
pub(crate) fn answer(
    job: &mut reportflow::ReportJob,
    now: Millis,
    id: RequestId,
    status: u16,
    body: &serde_json::Value,
) -> (Vec<reportflow::Event>, reportflow::Action) {
    let text = body.to_string();
    job.handle(
        now,
        Input::Head {
            id,
            status,
            headers: &[],
        },
    )
    .expect("head");
    job.handle(
        now,
        Input::Chunk {
            id,
            bytes: text.as_bytes(),
        },
    )
    .expect("chunk");
    job.handle(now, Input::End { id }).expect("end");
    let mut events = Vec::new();
    for _ in 0..50 {
        match job.poll(now) {
            reportflow::Action::Event(event) => events.push(event),
            other => return (events, other),
        }
    }
    panic!("no end of drain");
}
