//! The async host loop (feature `tokio`): [`drive`] runs a job on a tokio
//! runtime with `reqwest`, so one process can run many jobs over one
//! connection pool, and a web service can embed a single job without
//! blocking a thread.
//!
//! It is the run loop of the `reportflow` crate docs, as
//! [`blocking::drive`](crate::blocking::drive) is, with the same contract:
//! the request goes out exactly as the job built it, the response comes back
//! raw (status codes are not errors, bodies are not decompressed), redirects
//! are followed only when the request's [`RedirectPolicy`] says so — and then
//! without `Authorization` once the origin changes — and the job's `Wait`s are
//! awaited, not slept.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use reportflow::{Event, ReportJob};
//! use reportflow_host::nonblocking::{drive, Step, Transport};
//!
//! # async fn run(mut job: ReportJob) -> Result<(), reportflow::Error> {
//! let transport = Transport::new(); // share it: it is the connection pool
//! let mut report = Vec::new();
//! let summary = drive(&mut job, &transport, |_job, step| {
//!     match step {
//!         Step::Event(Event::Data(chunk)) => report.extend_from_slice(&chunk.bytes),
//!         Step::Event(Event::DataReset { .. }) => report.clear(),
//!         _ => {}
//!     }
//!     ControlFlow::Continue(())
//! })
//! .await?;
//! println!("{} rows, md5 {}", summary.rows, summary.md5);
//! # Ok(()) }
//! ```

use std::error::Error as _;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use reportflow::{
    Body, Error, HttpRequest, Input, Millis, RedirectPolicy, ReportJob, RequestId, Summary,
    TransportFailure,
};
use reqwest::{header, Method, StatusCode, Url};

pub use crate::run_loop::Step;
use crate::run_loop::{self, feed, feed_piece, Next, MAX_REDIRECTS, STATUS_LINE_SLACK};
use crate::signer::Signer;
use crate::Clock;

/// Performs a job's HTTP requests with an async `reqwest` client.
///
/// Cheap to clone: clones share one connection pool, which is the point —
/// create one transport per process and hand it to every job.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    /// Answers `Action::Sign`; `None`: a job that asks is cancelled.
    pub(crate) signer: Option<Arc<dyn Signer>>,
    /// The jobs' time (the wall clock but in simulations).
    clock: Clock,
}

impl Default for Transport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport {
    /// A transport with its own connection pool.
    ///
    /// # Panics
    /// Only if the TLS backend cannot initialise at all (no usable crypto
    /// provider), which is a build problem, not an input.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            // Redirects are followed here, per request, as its policy says.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("reportflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the rustls client configuration is valid");
        Self {
            client,
            signer: None,
            clock: Clock::WALL,
        }
    }

    /// The same transport, answering the jobs' signing requests
    /// (`Action::Sign`) with `signer`. The signer is called on the runtime's
    /// thread: one that waits on a remote KMS should answer from a cache or
    /// be quick, as the blocking host's is.
    #[must_use]
    pub fn with_signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The same transport, giving its jobs `clock`'s time (a compressed
    /// clock shared with simulators on the same clock). Timeouts stay in
    /// wall time: the network is not compressed.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock this transport's jobs run on.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Sends `request` (following redirects when its policy says so) and
    /// returns the final response with its body unread.
    pub(crate) async fn open(
        &self,
        request: &HttpRequest,
    ) -> Result<reqwest::Response, TransportFailure> {
        if request
            .send_before
            .is_some_and(|deadline| self.clock.now() > deadline)
        {
            return Err(TransportFailure::Expired);
        }
        // The job counts its timeout on its clock; the network runs on the wall.
        let timeout = self.clock.real_duration(request.timeout_ms);
        let mut hop = Hop::first(request)?;
        let follow = match request.redirect {
            RedirectPolicy::Follow => MAX_REDIRECTS,
            RedirectPolicy::Manual => 0,
        };
        let mut redirects = 0;
        loop {
            let response = self.send(request, &hop, timeout).await?;
            check_header_size(&response, request.limits.max_header_bytes)?;
            if redirects >= follow || !response.status().is_redirection() {
                return Ok(response);
            }
            match hop.next(&response) {
                Some(next) => {
                    hop = next;
                    redirects += 1;
                }
                // A 3xx without a usable Location is the answer itself.
                None => return Ok(response),
            }
        }
    }

    async fn send(
        &self,
        request: &HttpRequest,
        hop: &Hop,
        timeout: Duration,
    ) -> Result<reqwest::Response, TransportFailure> {
        let mut builder = self
            .client
            .request(hop.method.clone(), hop.url.clone())
            .timeout(timeout);
        for header in &request.headers {
            if hop.drop_authorization && header.name.eq_ignore_ascii_case("authorization") {
                continue;
            }
            // The one place a credential leaves the process: onto the wire.
            builder = builder.header(header.name.as_str(), header.value.expose());
        }
        if hop.with_body && !matches!(request.body, Body::Empty) {
            builder = builder.body(request.body.expose().to_vec());
        }
        builder.send().await.map_err(classify)
    }
}

/// One request of a (possibly redirected) exchange.
#[derive(Debug)]
struct Hop {
    method: Method,
    url: Url,
    with_body: bool,
    drop_authorization: bool,
}

impl Hop {
    fn first(request: &HttpRequest) -> Result<Self, TransportFailure> {
        // The job built the request, so a parse error means a URL or method
        // the HTTP stack refuses; report it instead of guessing a fix.
        let url = Url::parse(&request.url)
            .map_err(|error| TransportFailure::Other(format!("request not sendable: {error}")))?;
        let method = Method::from_bytes(request.method.as_str().as_bytes())
            .map_err(|error| TransportFailure::Other(format!("request not sendable: {error}")))?;
        Ok(Self {
            method,
            url,
            with_body: true,
            drop_authorization: false,
        })
    }

    /// The hop a redirect answer points to, as browsers, curl and undici
    /// follow it: 303 (and 301/302 after a POST) become a GET without body;
    /// 307/308 repeat the request; `Authorization` is dropped for good once
    /// the origin changes.
    fn next(&self, response: &reqwest::Response) -> Option<Self> {
        let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
        let url = self.url.join(location).ok()?;
        let (method, with_body) = match response.status() {
            StatusCode::SEE_OTHER => (Method::GET, false),
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND if self.method == Method::POST => {
                (Method::GET, false)
            }
            StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT => (self.method.clone(), self.with_body),
            // 300, 304, 305 and unknown 3xx are answers, not redirects.
            _ => return None,
        };
        Some(Self {
            drop_authorization: self.drop_authorization || url.origin() != self.url.origin(),
            method,
            url,
            with_body,
        })
    }
}

/// Refuses a response whose header names and values exceed the job's limit
/// (plus room for the status line), as the blocking host's client does
/// before reading them.
fn check_header_size(response: &reqwest::Response, limit: u64) -> Result<(), TransportFailure> {
    let size: u64 = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().len() + value.len()) as u64)
        .sum();
    if size > limit.saturating_add(STATUS_LINE_SLACK) {
        return Err(TransportFailure::Other(format!(
            "response headers are {size} bytes, over the {limit}-byte limit"
        )));
    }
    Ok(())
}

/// The response the loop is feeding to the job, chunk by chunk.
struct Reading {
    id: RequestId,
    body: reqwest::Response,
}

/// Runs `job` to its end over real HTTP on the current tokio runtime: the
/// run loop of the `reportflow` crate docs, one request at a time per job.
///
/// Run many jobs concurrently by spawning one `drive` per job over clones
/// of one [`Transport`]. Body chunks are fed as the connection yields them;
/// the job's `Wait`s are awaited on tokio's timer (wall-clock instants, as
/// the job wants them). `observe` hears every event, every request about to
/// go out and every idle moment (see [`Step`]) and may stop the run by
/// returning `Break`: the job is then cancelled and `drive` returns
/// `Err(Error::Cancelled)`. Signing requests are answered by the
/// transport's [`Signer`] ([`Transport::with_signer`]); one it cannot answer
/// is reported as [`Step::SignFailed`] and cancels the job the same way, as
/// does an action this host does not know.
///
/// Returns the job's own outcome: `Ok` with the verified [`Summary`] on
/// `Done`, `Err` with its typed [`Error`] on `Failed`. Transport failures are
/// not errors here; they go to the job, which retries or gives up.
pub async fn drive<F>(
    job: &mut ReportJob,
    transport: &Transport,
    mut observe: F,
) -> Result<Summary, Error>
where
    F: FnMut(&ReportJob, Step<'_>) -> ControlFlow<()>,
{
    let mut reading: Option<Reading> = None;
    loop {
        let awaited = reading.as_ref().map(|r| r.id);
        match run_loop::next(
            job,
            transport.clock,
            awaited,
            transport.signer.as_deref(),
            &mut observe,
        ) {
            Next::Send(request) => {
                reading = None;
                match transport.open(&request).await {
                    Ok(response) => {
                        let headers = response_headers(&response);
                        let head = Input::Head {
                            id: request.id,
                            status: response.status().as_u16(),
                            headers: &headers,
                        };
                        feed(job, transport.clock, head);
                        reading = Some(Reading {
                            id: request.id,
                            body: response,
                        });
                    }
                    Err(failure) => feed(
                        job,
                        transport.clock,
                        Input::TransportFailed {
                            id: request.id,
                            failure,
                        },
                    ),
                }
            }
            Next::ReadBody => {
                if let Some(current) = reading.as_mut() {
                    let more = match current.body.chunk().await {
                        Ok(chunk) => {
                            feed_piece(job, transport.clock, current.id, Ok(chunk.as_deref()))
                        }
                        Err(error) => {
                            feed_piece(job, transport.clock, current.id, Err(classify(error)))
                        }
                    };
                    if !more {
                        reading = None;
                    }
                }
            }
            Next::Sleep(until) => {
                reading = None;
                sleep_until(transport.clock, until).await;
            }
            Next::Continue => {}
            Next::Cancel => {
                reading = None;
                feed(job, transport.clock, Input::Cancel);
            }
            Next::End(outcome) => return outcome,
        }
    }
}

pub(crate) fn response_headers(response: &reqwest::Response) -> Vec<(String, String)> {
    response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

pub(crate) async fn sleep_until(clock: Clock, until: Millis) {
    let remaining = clock.until(until);
    if !remaining.is_zero() {
        tokio::time::sleep(remaining).await;
    }
}

/// What a `reqwest` failure means to the job. Its text never carries the
/// URL: a download link is a presigned credential.
pub(crate) fn classify(error: reqwest::Error) -> TransportFailure {
    if error.is_timeout() {
        return TransportFailure::Timeout;
    }
    if error.is_connect() {
        // reqwest reports a failed lookup as a connect error; its source
        // chain says which.
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if text.contains("dns error") || text.contains("failed to lookup address") {
                return TransportFailure::Dns;
            }
            source = cause.source();
        }
        return TransportFailure::Connect;
    }
    if error.is_body() || error.is_request() || error.is_decode() {
        // A body cut short of its Content-Length, broken chunked framing or
        // a connection closed mid-exchange.
        return TransportFailure::Reset;
    }
    TransportFailure::Other(error.without_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, location: &str) -> reqwest::Response {
        http::Response::builder()
            .status(status)
            .header("location", location)
            .body(Vec::<u8>::new())
            .unwrap()
            .into()
    }

    fn hop(method: Method, url: &str) -> Hop {
        Hop {
            method,
            url: Url::parse(url).unwrap(),
            with_body: true,
            drop_authorization: false,
        }
    }

    #[test]
    fn redirects_follow_the_fetch_rules() {
        let post = hop(Method::POST, "http://api.test/v2/reports");
        let see_other = post.next(&answer(303, "/v2/reports/1")).unwrap();
        assert_eq!(
            (see_other.method.as_str(), see_other.with_body),
            ("GET", false)
        );
        assert_eq!(see_other.url.as_str(), "http://api.test/v2/reports/1");
        let temporary = post.next(&answer(307, "/again")).unwrap();
        assert_eq!(
            (temporary.method.as_str(), temporary.with_body),
            ("POST", true)
        );
        let found = post.next(&answer(302, "/x")).unwrap();
        assert_eq!(found.method, Method::GET);
        let get = hop(Method::GET, "http://api.test/a");
        assert_eq!(get.next(&answer(301, "/b")).unwrap().method, Method::GET);
        assert!(get.next(&answer(304, "/b")).is_none(), "304 is an answer");
        assert!(get.next(&answer(300, "/b")).is_none());
    }

    #[test]
    fn authorization_is_dropped_for_good_once_the_origin_changes() {
        let api = hop(Method::GET, "http://api.test:8080/report/1/download");
        let same = api
            .next(&answer(307, "http://API.test:8080/other"))
            .unwrap();
        assert!(
            !same.drop_authorization,
            "host names compare case-insensitively"
        );
        let other_port = api.next(&answer(307, "http://api.test:8081/file")).unwrap();
        assert!(other_port.drop_authorization);
        let s3 = api
            .next(&answer(307, "https://bucket.s3.test/file?sig=x"))
            .unwrap();
        assert!(s3.drop_authorization);
        let back = s3.next(&answer(307, "http://api.test:8080/x")).unwrap();
        assert!(back.drop_authorization, "never restored after leaving");
    }

    #[test]
    fn oversized_response_headers_are_a_transport_failure() {
        let big: reqwest::Response = http::Response::builder()
            .header("x-big", "v".repeat(4_000))
            .body(Vec::<u8>::new())
            .unwrap()
            .into();
        assert!(check_header_size(&big, 8_000).is_ok());
        let failure = check_header_size(&big, 1_000).unwrap_err();
        assert!(
            matches!(&failure, TransportFailure::Other(text) if text.contains("1000-byte limit")),
            "{failure:?}"
        );
    }
}
