//! What the host feeds a job.

use crate::http::{RequestId, TransportFailure};
use crate::time::Millis;

/// An input to [`crate::ReportJob::handle`].
///
/// After every input the host drains [`crate::ReportJob::poll`] until it
/// returns `Wait`, `Done` or `Failed`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input<'a> {
    /// The status line and headers of the response to request `id`.
    /// Feed it once, before any `Chunk`.
    Head {
        /// The request this answers.
        id: RequestId,
        /// HTTP status code.
        status: u16,
        /// Response headers as received (names in any case).
        headers: &'a [(String, String)],
    },
    /// The next piece of the response body, in order. Any size is fine; the
    /// job copies what it needs.
    Chunk {
        /// The request this answers.
        id: RequestId,
        /// Body bytes exactly as received (not decompressed by the host).
        bytes: &'a [u8],
    },
    /// The response body is complete.
    End {
        /// The request this answers.
        id: RequestId,
    },
    /// The exchange failed before `End`; the job decides whether to retry.
    TransportFailed {
        /// The request that failed.
        id: RequestId,
        /// What went wrong.
        failure: TransportFailure,
    },
    /// The host did not send request `id`, and will not: a rate budget it
    /// shares between jobs (one account's quota, see
    /// [`crate::HttpRequest::endpoint`]) has no room before `until`.
    ///
    /// The job forgets the request as if it had never been asked for: it
    /// costs no attempt, is not counted in `Summary::requests`, takes
    /// nothing from the job's own rate view and, for a create, leaves no
    /// report that may exist behind. The job waits until `until`
    /// ([`crate::WaitReason::Deferred`]) and then builds the request afresh
    /// (fresh timestamps and signatures). Only before `Head`.
    Deferred {
        /// The request that was not sent.
        id: RequestId,
        /// When the host expects room for it.
        until: Millis,
    },
    /// The signature asked for by [`crate::Action::Sign`] with this id: the
    /// raw signature bytes (not base64), at most
    /// [`crate::MAX_SIGNATURE_BYTES`]. Refused with
    /// [`crate::InputError::StaleSignature`] when the job no longer waits
    /// for it (late, answered already, or never asked).
    Signature {
        /// The sign request this answers.
        id: RequestId,
        /// The signature as the algorithm produced it.
        signature: &'a [u8],
    },
    /// Stop the job: it ends `Failed` with [`crate::Error::Cancelled`]. The
    /// host should abort any request in flight.
    Cancel,
}
