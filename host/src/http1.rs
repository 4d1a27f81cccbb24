//! Just enough HTTP/1.1 server-side framing for the loopback simulator.
//!
//! Why not a server crate: a simulated `disconnect` must write part of a body
//! under a `Content-Length` that promises all of it and then *close the
//! socket*, so the client sees a broken body at once. Server crates keep
//! keep-alive sockets to themselves (tiny_http only closes one when the
//! client stops sending requests, so the client would hang until its
//! timeout). Parsing is `httparse`'s; this file only frames bodies
//! (`Content-Length` and chunked), bounds every buffer and writes responses.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

/// Largest request head (request line and headers) accepted.
const MAX_HEAD_BYTES: usize = 64 << 10;
/// Most request headers accepted.
const MAX_HEADERS: usize = 100;
/// Largest request body accepted; the simulators only take small JSON and
/// form bodies.
const MAX_BODY_BYTES: usize = 8 << 20;
/// Longest chunk-size line of a chunked request body.
const MAX_CHUNK_LINE_BYTES: usize = 4 << 10;
/// How much is read from the socket at a time.
const READ_BYTES: usize = 16 << 10;

/// A request as it came off the wire.
#[derive(Debug)]
pub(crate) struct IncomingRequest {
    pub(crate) method: String,
    /// Path and query, exactly as sent (`/v2/reports/1?x=y`).
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Whether the client is willing to send another request on this
    /// connection (HTTP/1.1 without `Connection: close`).
    pub(crate) keep_alive: bool,
}

impl IncomingRequest {
    /// The first header with this name (ASCII case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read. Each maps to the status sent back before
/// the connection is closed (the framing is lost, so it cannot be reused).
#[derive(Debug)]
pub(crate) enum RequestError {
    /// The bytes are not an HTTP/1.x request.
    Malformed(String),
    /// The head or body is larger than this server accepts.
    TooLarge(&'static str),
    /// The socket failed or closed mid-request; nothing can be answered.
    Io(io::Error),
}

impl RequestError {
    /// The status to answer with, if the socket is still usable.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::Malformed(_) => Some(400),
            Self::TooLarge(_) => Some(413),
            Self::Io(_) => None,
        }
    }

    /// A one-line explanation for the response body.
    pub(crate) fn detail(&self) -> String {
        match self {
            Self::Malformed(detail) => format!("malformed request: {detail}"),
            Self::TooLarge(what) => format!("request {what} too large"),
            Self::Io(error) => format!("connection failed: {error}"),
        }
    }
}

impl From<io::Error> for RequestError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// One client connection: the socket and the bytes read past the last
/// request (a pipelining client may already have sent the next one).
pub(crate) struct Connection {
    stream: TcpStream,
    buffered: Vec<u8>,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buffered: Vec::new(),
        }
    }

    /// Reads the next request. `Ok(None)` when the client closed the
    /// connection cleanly between requests.
    pub(crate) fn read_request(&mut self) -> Result<Option<IncomingRequest>, RequestError> {
        let Some(head) = self.read_head()? else {
            return Ok(None);
        };
        let chunked = head.header("transfer-encoding").is_some_and(|value| {
            value
                .split(',')
                .any(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
        });
        let body = if chunked {
            self.read_chunked_body()?
        } else {
            match head.header("content-length") {
                None => Vec::new(),
                Some(value) => {
                    let length: usize = value.trim().parse().map_err(|_| {
                        RequestError::Malformed(format!("Content-Length `{value}` is not a number"))
                    })?;
                    if length > MAX_BODY_BYTES {
                        return Err(RequestError::TooLarge("body"));
                    }
                    self.take_exact(length)?
                }
            }
        };
        Ok(Some(IncomingRequest { body, ..head }))
    }

    /// Reads the request line and headers; the body is left unread.
    fn read_head(&mut self) -> Result<Option<IncomingRequest>, RequestError> {
        loop {
            if !self.buffered.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut parsed = httparse::Request::new(&mut headers);
                match parsed.parse(&self.buffered) {
                    Ok(httparse::Status::Complete(head_len)) => {
                        let request = IncomingRequest {
                            method: parsed.method.unwrap_or_default().to_owned(),
                            target: parsed.path.unwrap_or_default().to_owned(),
                            keep_alive: keeps_alive(parsed.version, parsed.headers),
                            headers: parsed
                                .headers
                                .iter()
                                .map(|h| {
                                    (
                                        h.name.to_owned(),
                                        String::from_utf8_lossy(h.value).into_owned(),
                                    )
                                })
                                .collect(),
                            body: Vec::new(),
                        };
                        self.buffered.drain(..head_len.min(self.buffered.len()));
                        return Ok(Some(request));
                    }
                    Ok(httparse::Status::Partial) if self.buffered.len() > MAX_HEAD_BYTES => {
                        return Err(RequestError::TooLarge("head"))
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(httparse::Error::TooManyHeaders) => {
                        return Err(RequestError::TooLarge("head"))
                    }
                    Err(error) => return Err(RequestError::Malformed(error.to_string())),
                }
            }
            if self.fill()? == 0 {
                return if self.buffered.is_empty() {
                    Ok(None)
                } else {
                    Err(RequestError::Io(io::ErrorKind::UnexpectedEof.into()))
                };
            }
        }
    }

    /// Decodes a `Transfer-Encoding: chunked` body (RFC 9112 §7.1), ignoring
    /// chunk extensions and trailers.
    fn read_chunked_body(&mut self) -> Result<Vec<u8>, RequestError> {
        let mut body = Vec::new();
        loop {
            let line = self.take_line()?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| {
                RequestError::Malformed(format!("chunk size `{size_text}` is not hexadecimal"))
            })?;
            if size == 0 {
                // Trailer fields until the empty line.
                while !self.take_line()?.is_empty() {}
                return Ok(body);
            }
            if body.len().saturating_add(size) > MAX_BODY_BYTES {
                return Err(RequestError::TooLarge("body"));
            }
            body.extend_from_slice(&self.take_exact(size)?);
            if !self.take_line()?.is_empty() {
                return Err(RequestError::Malformed(
                    "chunk data not followed by CRLF".into(),
                ));
            }
        }
    }

    /// The next CRLF-terminated line, without its terminator.
    fn take_line(&mut self) -> Result<String, RequestError> {
        loop {
            if let Some(end) = self.buffered.windows(2).position(|pair| pair == b"\r\n") {
                let line: Vec<u8> = self
                    .buffered
                    .drain(..end.saturating_add(2).min(self.buffered.len()))
                    .collect();
                let text = line.get(..end).unwrap_or_default();
                return Ok(String::from_utf8_lossy(text).into_owned());
            }
            if self.buffered.len() > MAX_CHUNK_LINE_BYTES {
                return Err(RequestError::TooLarge("chunk line"));
            }
            if self.fill()? == 0 {
                return Err(RequestError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    /// Exactly `length` bytes.
    fn take_exact(&mut self, length: usize) -> Result<Vec<u8>, RequestError> {
        while self.buffered.len() < length {
            if self.fill()? == 0 {
                return Err(RequestError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        }
        Ok(self.buffered.drain(..length).collect())
    }

    /// Reads what the socket has; 0 at end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; READ_BYTES];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(read) => {
                    self.buffered
                        .extend_from_slice(chunk.get(..read).unwrap_or_default());
                    return Ok(read);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Writes a response. With `cut_after`, only that many body bytes go out
    /// (under a `Content-Length` announcing the whole body) and the socket is
    /// shut down, so the client sees a body broken mid-way.
    pub(crate) fn write_response(&mut self, response: &OutgoingResponse<'_>) -> io::Result<()> {
        let OutgoingResponse {
            status,
            headers,
            body,
            cut_after,
            keep_alive,
            head_only,
        } = *response;
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
        for (name, value) in headers {
            // Framing is this server's job; a simulator's own framing headers
            // would contradict what is actually written.
            let framing = ["content-length", "transfer-encoding", "connection"]
                .iter()
                .any(|f| name.eq_ignore_ascii_case(f));
            if !framing && !has_line_break(name) && !has_line_break(value) {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        let bodiless = status == 204 || status == 304 || (100..200).contains(&status);
        if !bodiless {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if !keep_alive || cut_after.is_some() {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut wire = head.into_bytes();
        if !bodiless && !head_only {
            let sent = cut_after.map_or(body.len(), |cut| cut.min(body.len()));
            wire.extend_from_slice(body.get(..sent).unwrap_or_default());
        }
        self.stream.write_all(&wire)?;
        self.stream.flush()?;
        if cut_after.is_some() {
            self.stream.shutdown(Shutdown::Both)?;
        }
        Ok(())
    }
}

/// A response to write; see [`Connection::write_response`].
#[derive(Clone, Copy)]
pub(crate) struct OutgoingResponse<'a> {
    pub(crate) status: u16,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: &'a [u8],
    pub(crate) cut_after: Option<usize>,
    pub(crate) keep_alive: bool,
    /// A `HEAD` request: announce the body, send none.
    pub(crate) head_only: bool,
}

fn keeps_alive(version: Option<u8>, headers: &[httparse::Header<'_>]) -> bool {
    let connection = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("connection"))
        .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase());
    match (version, connection) {
        (_, Some(value)) if value.contains("close") => false,
        (Some(1), _) => true,
        (_, Some(value)) => value.contains("keep-alive"),
        (_, None) => false,
    }
}

/// Header names and values with CR or LF would let a simulator response
/// smuggle extra lines into the head.
fn has_line_break(text: &str) -> bool {
    text.contains(['\r', '\n'])
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        413 => "Content Too Large",
        420 => "Enhance Your Calm",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A connected client/server socket pair on loopback.
    fn pair() -> (TcpStream, Connection) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, Connection::new(server))
    }

    #[test]
    fn reads_pipelined_requests_with_both_body_framings() {
        let (mut client, mut connection) = pair();
        client
            .write_all(
                b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello\
                  POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n\
                  GET /c HTTP/1.1\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
        drop(client);
        let first = connection.read_request().unwrap().unwrap();
        assert_eq!(
            (
                first.method.as_str(),
                first.target.as_str(),
                first.body.as_slice()
            ),
            ("POST", "/a?x=1", &b"hello"[..])
        );
        assert!(first.keep_alive);
        let second = connection.read_request().unwrap().unwrap();
        assert_eq!(second.body, b"abcde");
        let third = connection.read_request().unwrap().unwrap();
        assert_eq!(third.target, "/c");
        assert!(!third.keep_alive);
        assert!(connection.read_request().unwrap().is_none());
    }

    #[test]
    fn garbage_and_oversized_requests_are_typed_errors() {
        let (mut client, mut connection) = pair();
        client.write_all(b"\x00\x01 nonsense\r\n\r\n").unwrap();
        assert_eq!(connection.read_request().unwrap_err().status(), Some(400));

        let (mut client, mut connection) = pair();
        client
            .write_all(
                format!(
                    "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
                    MAX_BODY_BYTES + 1
                )
                .as_bytes(),
            )
            .unwrap();
        assert_eq!(connection.read_request().unwrap_err().status(), Some(413));
    }

    #[test]
    fn a_cut_response_announces_the_whole_body_and_closes() {
        let (mut client, mut connection) = pair();
        let headers = vec![
            ("Content-Length".to_owned(), "999".to_owned()),
            ("X-A".to_owned(), "1".to_owned()),
        ];
        connection
            .write_response(&OutgoingResponse {
                status: 200,
                headers: &headers,
                body: b"0123456789",
                cut_after: Some(4),
                keep_alive: true,
                head_only: false,
            })
            .unwrap();
        let mut received = String::new();
        client.read_to_string(&mut received).unwrap();
        assert!(received.starts_with("HTTP/1.1 200 OK\r\n"), "{received}");
        assert!(
            received.contains("Content-Length: 10\r\n") && !received.contains("999"),
            "{received}"
        );
        assert!(received.ends_with("\r\n\r\n0123"), "{received}");
    }
}
