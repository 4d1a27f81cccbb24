//! The blocking HTTP host loop shared by the Rust hosts (the CLI, the
//! end-to-end tests): a [`Transport`] that performs a job's requests with
//! `ureq`, and [`drive`], the run loop from the `reportflow` crate docs.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use reportflow::{Event, ReportJob};
//! use reportflow_host::blocking::{drive, Step, Transport};
//!
//! # fn run(mut job: ReportJob) -> Result<(), reportflow::Error> {
//! let mut report = Vec::new();
//! let summary = drive(&mut job, &mut Transport::new(), |_job, step| {
//!     match step {
//!         Step::Event(Event::Data(chunk)) => report.extend_from_slice(&chunk.bytes),
//!         Step::Event(Event::DataReset { .. }) => report.clear(),
//!         _ => {}
//!     }
//!     ControlFlow::Continue(())
//! })?;
//! println!("{} rows, md5 {}", summary.rows, summary.md5);
//! # Ok(()) }
//! ```

use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use reportflow::{
    Body, Error, HttpRequest, Input, Millis, RedirectPolicy, ReportJob, RequestId, Summary,
    TransportFailure,
};
use ureq::http;

use crate::run_loop::{self, feed, feed_piece, Next, MAX_REDIRECTS, STATUS_LINE_SLACK};
use crate::signer::Signer;
use crate::{wall_clock, Clock};

/// Bytes read from a response body per [`Input::Chunk`].
pub const READ_CHUNK_BYTES: usize = 64 << 10;

pub use crate::run_loop::Step;

/// Performs a job's HTTP requests over real sockets with a blocking `ureq`
/// agent (connection pooling included).
///
/// It adds nothing of its own: the request goes out exactly as the job built
/// it, the response comes back raw — status codes are not errors, redirects
/// are followed only when the request's [`RedirectPolicy`] says so (and then
/// without `Authorization` on the next hop), and bodies are not decompressed.
#[derive(Debug, Clone)]
pub struct Transport {
    agent: ureq::Agent,
    /// Answers `Action::Sign`; `None`: a job that asks is cancelled.
    signer: Option<Arc<dyn Signer>>,
}

impl Default for Transport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport {
    /// A transport with its own connection pool.
    pub fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("reportflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self {
            agent,
            signer: None,
        }
    }

    /// The same transport, answering the jobs' signing requests
    /// (`Action::Sign`) with `signer`.
    #[must_use]
    pub fn with_signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Sends `request` and returns its status, headers and unread body.
    fn open(&self, request: &HttpRequest) -> Result<OpenResponse, TransportFailure> {
        if request
            .send_before
            .is_some_and(|deadline| wall_clock() > deadline)
        {
            return Err(TransportFailure::Expired);
        }
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(&request.url);
        for header in &request.headers {
            // The one place a credential leaves the process: onto the wire.
            builder = builder.header(header.name.as_str(), header.value.expose());
        }
        let response = match &request.body {
            Body::Empty => self.run(request, builder.body(())),
            body => self.run(request, builder.body(body.expose())),
        }?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(OpenResponse {
            status,
            headers,
            body: response.into_body().into_reader(),
        })
    }

    fn run<S: ureq::AsSendBody>(
        &self,
        request: &HttpRequest,
        built: Result<http::Request<S>, http::Error>,
    ) -> Result<http::Response<ureq::Body>, TransportFailure> {
        // The job built the request, so a builder error means a URL or header
        // the HTTP stack refuses; report it instead of guessing a fix.
        let built = built
            .map_err(|error| TransportFailure::Other(format!("request not sendable: {error}")))?;
        let redirects = match request.redirect {
            RedirectPolicy::Follow => MAX_REDIRECTS,
            RedirectPolicy::Manual => 0,
        };
        let header_limit = request
            .limits
            .max_header_bytes
            .saturating_add(STATUS_LINE_SLACK);
        let configured = self
            .agent
            .configure_request(built)
            .timeout_global(Some(Duration::from_millis(request.timeout_ms)))
            .max_redirects(redirects)
            .max_redirects_will_error(false)
            .max_response_header_size(usize::try_from(header_limit).unwrap_or(usize::MAX))
            .build();
        self.agent.run(configured).map_err(classify)
    }
}

/// A response whose body has not been read yet.
struct OpenResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: ureq::BodyReader<'static>,
}

/// The response the loop is feeding to the job, chunk by chunk.
struct Reading {
    id: RequestId,
    body: ureq::BodyReader<'static>,
}

/// Runs `job` to its end over real HTTP: the run loop of the `reportflow`
/// crate docs, blocking, one request at a time.
///
/// Each response body is fed in reads of [`READ_CHUNK_BYTES`]; the job's
/// `Wait`s are slept through on the wall clock. `observe` hears every event,
/// every request about to go out and every idle moment (see [`Step`]) and
/// may stop the run by returning
/// `Break`: the job is then cancelled and `drive` returns
/// `Err(Error::Cancelled)`. Signing requests are answered by the
/// transport's [`Signer`] ([`Transport::with_signer`]); one it cannot answer
/// is reported as [`Step::SignFailed`] and cancels the job the same way, as
/// does an action this host does not know (a future kind).
///
/// Returns the job's own outcome: `Ok` with the verified [`Summary`] on
/// `Done`, `Err` with its typed [`Error`] on `Failed`. Transport failures are
/// not errors here; they go to the job, which retries or gives up.
pub fn drive<F>(
    job: &mut ReportJob,
    transport: &mut Transport,
    mut observe: F,
) -> Result<Summary, Error>
where
    F: FnMut(&ReportJob, Step<'_>) -> ControlFlow<()>,
{
    let mut reading: Option<Reading> = None;
    let mut buffer = vec![0u8; READ_CHUNK_BYTES];
    loop {
        let awaited = reading.as_ref().map(|r| r.id);
        match run_loop::next(
            job,
            Clock::WALL,
            awaited,
            transport.signer.as_deref(),
            &mut observe,
        ) {
            Next::Send(request) => {
                reading = None;
                match transport.open(&request) {
                    Ok(response) => {
                        let head = Input::Head {
                            id: request.id,
                            status: response.status,
                            headers: &response.headers,
                        };
                        feed(job, Clock::WALL, head);
                        reading = Some(Reading {
                            id: request.id,
                            body: response.body,
                        });
                    }
                    Err(failure) => feed(
                        job,
                        Clock::WALL,
                        Input::TransportFailed {
                            id: request.id,
                            failure,
                        },
                    ),
                }
            }
            Next::ReadBody => {
                if let Some(current) = reading.as_mut() {
                    let piece = read_piece(&mut current.body, &mut buffer);
                    if !feed_piece(job, Clock::WALL, current.id, piece) {
                        reading = None;
                    }
                }
            }
            Next::Sleep(until) => {
                reading = None;
                sleep_until(until);
            }
            Next::Continue => {}
            Next::Cancel => {
                reading = None;
                feed(job, Clock::WALL, Input::Cancel);
            }
            Next::End(outcome) => return outcome,
        }
    }
}

/// Reads the next piece of a body: bytes, the end (`None`) or a failure.
fn read_piece<'b>(
    body: &mut ureq::BodyReader<'static>,
    buffer: &'b mut [u8],
) -> Result<Option<&'b [u8]>, TransportFailure> {
    loop {
        match body.read(buffer) {
            Ok(0) => return Ok(None),
            Ok(read) => return Ok(Some(buffer.get(..read).unwrap_or_default())),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(classify(ureq::Error::from(error))),
        }
    }
}

fn sleep_until(until: Millis) {
    let remaining = until.saturating_since(wall_clock());
    if remaining > 0 {
        thread::sleep(Duration::from_millis(remaining));
    }
}

/// What a `ureq` failure means to the job.
fn classify(error: ureq::Error) -> TransportFailure {
    match error {
        ureq::Error::Timeout(_) => TransportFailure::Timeout,
        ureq::Error::HostNotFound => TransportFailure::Dns,
        ureq::Error::ConnectionFailed => TransportFailure::Connect,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => TransportFailure::Tls,
        ureq::Error::Io(error) => match error.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::NetworkUnreachable => TransportFailure::Connect,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportFailure::Timeout,
            _ => TransportFailure::Reset,
        },
        // A body cut short of its Content-Length, or broken chunked framing.
        ureq::Error::Protocol(_) => TransportFailure::Reset,
        other => TransportFailure::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_failures_map_to_what_the_job_retries() {
        let refused = ureq::Error::Io(io::ErrorKind::ConnectionRefused.into());
        assert_eq!(classify(refused), TransportFailure::Connect);
        let cut = ureq::Error::from(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert_eq!(classify(cut), TransportFailure::Reset);
        assert_eq!(classify(ureq::Error::HostNotFound), TransportFailure::Dns);
    }
}
