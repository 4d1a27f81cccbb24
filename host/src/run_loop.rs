//! What the blocking and the async host loops share: deciding what to do
//! with the job's next action (observing, signing, cancelling) and feeding
//! inputs. Each loop adds only its I/O: sending, reading a body, sleeping.

use std::ops::ControlFlow;

use reportflow::{
    Action, Error, Event, HttpRequest, Input, Millis, ReportJob, RequestId, SignRequest, Summary,
    TransportFailure, WaitReason,
};

use crate::signer::Signer;
use crate::Clock;

/// Redirects followed for a request whose policy is
/// [`reportflow::RedirectPolicy::Follow`].
pub(crate) const MAX_REDIRECTS: u32 = 10;
/// Room for the status line on top of the job's header limit, which counts
/// names and values only.
pub(crate) const STATUS_LINE_SLACK: u64 = 1 << 10;

/// What the host loops ([`crate::blocking::drive`],
/// `nonblocking::drive`) tell their observer.
#[derive(Debug)]
#[non_exhaustive]
pub enum Step<'a> {
    /// The job reported an event (phase change, status, data, progress…).
    /// `Event::Data` is provisional until `drive` returns `Ok`.
    Event(&'a Event),
    /// A request is about to go out (after every earlier step of the job has
    /// been reported). A host that persists the job does so here too: a
    /// request that creates a report is on record in the snapshot before it
    /// can reach the provider. Its `Debug` redacts credentials, but its URL
    /// may be a presigned link: show the method and phase, not the URL.
    Sending(&'a HttpRequest),
    /// The job asked for a signature and the transport's [`Signer`] could
    /// not make it (or the transport has none): the job is cancelled.
    SignFailed {
        /// Why, in one line.
        reason: &'a str,
    },
    /// The job has drained and has nothing to do until `until`; the host is
    /// about to sleep. The right moment to persist [`ReportJob::snapshot`].
    Idle {
        /// When the job wants to be polled again.
        until: Millis,
        /// Why it waits.
        reason: &'a WaitReason,
    },
}

/// The I/O the loop owes the job next.
pub(crate) enum Next {
    /// Send this request (the observer has heard of it). Any response still
    /// being read is abandoned: the job moved on from it.
    Send(HttpRequest),
    /// Feed the next piece of the response being read.
    ReadBody,
    /// Nothing to do before this instant (the observer has heard of it).
    /// Any response still being read is abandoned.
    Sleep(Millis),
    /// Handled here; poll again.
    Continue,
    /// Cancel the job (the observer said stop, a signature could not be
    /// made, or the action is of a kind this host does not know).
    Cancel,
    /// The job ended.
    End(Result<Summary, Error>),
}

/// Polls `job` and does what needs no I/O: tells `observe`, answers a
/// signing request with `signer`. `reading` is the request whose response
/// body the loop is feeding, if any.
pub(crate) fn next<F>(
    job: &mut ReportJob,
    clock: Clock,
    reading: Option<RequestId>,
    signer: Option<&dyn Signer>,
    observe: &mut F,
) -> Next
where
    F: FnMut(&ReportJob, Step<'_>) -> ControlFlow<()>,
{
    let flow = match job.poll(clock.now()) {
        Action::Send(request) => match observe(job, Step::Sending(&request)) {
            ControlFlow::Continue(()) => return Next::Send(request),
            ControlFlow::Break(()) => ControlFlow::Break(()),
        },
        Action::Wait {
            reason: WaitReason::AwaitingResponse { id },
            ..
        } if Some(id) == reading => return Next::ReadBody,
        Action::Wait { until, reason } => match observe(
            job,
            Step::Idle {
                until,
                reason: &reason,
            },
        ) {
            ControlFlow::Continue(()) => return Next::Sleep(until),
            ControlFlow::Break(()) => ControlFlow::Break(()),
        },
        Action::Sign(request) => match sign(signer, &request) {
            Ok(signature) => {
                feed(
                    job,
                    clock,
                    Input::Signature {
                        id: request.id,
                        signature: &signature,
                    },
                );
                ControlFlow::Continue(())
            }
            Err(reason) => {
                let _ = observe(job, Step::SignFailed { reason: &reason });
                ControlFlow::Break(())
            }
        },
        Action::Event(event) => observe(job, Step::Event(&event)),
        Action::Done(summary) => return Next::End(Ok(summary)),
        Action::Failed(error) => return Next::End(Err(error)),
        // A kind of action this host does not know how to perform.
        _ => ControlFlow::Break(()),
    };
    match flow {
        ControlFlow::Continue(()) => Next::Continue,
        ControlFlow::Break(()) => Next::Cancel,
    }
}

/// The signature `request` asks for, from the host's signer.
fn sign(signer: Option<&dyn Signer>, request: &SignRequest) -> Result<Vec<u8>, String> {
    match signer {
        Some(signer) => signer.sign(request),
        None => Err(format!(
            "the job asks for a signature by key {} and this host has no signer (e.g. --private-key-file)",
            request.key_id
        )),
    }
}

/// Feeds the next piece of a response body: bytes, the end (`None`) or a
/// failure. Returns whether the body has more to read.
pub(crate) fn feed_piece(
    job: &mut ReportJob,
    clock: Clock,
    id: RequestId,
    piece: Result<Option<&[u8]>, TransportFailure>,
) -> bool {
    match piece {
        Ok(Some(bytes)) => {
            feed(job, clock, Input::Chunk { id, bytes });
            true
        }
        Ok(None) => {
            feed(job, clock, Input::End { id });
            false
        }
        Err(failure) => {
            feed(job, clock, Input::TransportFailed { id, failure });
            false
        }
    }
}

/// Hands an input to the job at `clock`'s time.
pub(crate) fn feed(job: &mut ReportJob, clock: Clock, input: Input<'_>) {
    // An `InputError` means the job no longer waits for this answer (it timed
    // the request out or finished); it leaves the job unchanged, so the
    // answer is rightly dropped.
    let _ = job.handle(clock.now(), input);
}
