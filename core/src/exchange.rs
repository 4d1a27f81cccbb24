//! The one request in flight: collects its answer within limits and, for a
//! report body, runs the streaming integrity pipeline as chunks arrive.
//!
//! Memory stays bounded: a buffered answer is capped by
//! `JobConfig::max_api_body_bytes`, and a report body is held only as the
//! last unprocessed chunk plus one output buffer of `data_chunk_bytes`.
//!
//! ZIP containers ([`Container`]) add one stage after the integrity
//! pipeline: the streaming [`ZipReader`]. For an archive of parts (Yandex's
//! CSV/JSON reports) each member's bytes go out as `Data` named by the
//! member, rows counted per member; for a file that is itself a ZIP (XLSX)
//! the bytes go out unchanged while the reader verifies every member's
//! CRC-32 and size. Either way the archive is checked to its end record
//! before the exchange reports success.

use crate::action::{DataChunk, Event, Outcome, PartSummary};
use crate::http::{find_header, RequestId, TransportFailure};
use crate::integrity::{
    Charset, CharsetDecoder, DecodeSummary, Decoder, IntegrityError, Limits, Md5Digest,
    OpenForeignDecoder, ZipError, ZipLimits, ZipReader,
};
use crate::providers::{Container, ExchangeFailure, Reply, ReportBody};
use crate::records::{RecordFormat, RowCounter};
use crate::time::Millis;

/// What each response header costs against `max_header_bytes` besides its
/// name and value (HTTP/2's accounting, RFC 7541 §4.1): bounds the number
/// of headers, not only their bytes.
pub(crate) const HEADER_OVERHEAD_BYTES: u64 = 32;

/// Most report bytes a host may feed ahead of `poll`: `Chunk`s beyond this
/// while earlier bytes wait to be decoded are refused with
/// `InputError::Backpressure` (the job buffers nothing without end).
pub(crate) const MAX_UNREAD_BYTES: u64 = 8 << 20;

/// Progress events go out every this many decoded bytes.
const PROGRESS_EVERY: u64 = 1 << 20;

pub(crate) struct Exchange {
    pub(crate) id: RequestId,
    pub(crate) deadline: Millis,
    pub(crate) endpoint: &'static str,
    max_header_bytes: u64,
    max_body_bytes: u64,
    report_body: Option<ReportBody>,
    limits: Limits,
    /// Compute the MD5 without a published digest (see `with_fingerprint`).
    fingerprint: bool,
    /// The host's charset decoders (see `with_foreign_charsets`).
    foreign_charsets: Option<OpenForeignDecoder>,
    state: State,
    /// Decoded data went out before a transport failure replaced the stream.
    delivered_before_failure: bool,
    /// The host ended the request (`End` or `TransportFailed`): nothing more
    /// may arrive for it, even while the exchange waits to be retired.
    ended_by_host: bool,
    /// The parts of a finished multi-part report.
    parts: Vec<PartSummary>,
}

enum State {
    AwaitingHead,
    Buffering {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        ended: bool,
    },
    Streaming(Box<Stream>),
    Over(Reply),
}

struct Stream {
    bytes_total: Option<u64>,
    decoder: Decoder,
    records: RowCounter,
    pending: Vec<u8>,
    pending_at: usize,
    raw_in: u64,
    out: u64,
    next_progress: u64,
    ended: bool,
    zip: Option<Box<ZipStage>>,
    /// Turns a report in a declared or configured charset into UTF-8
    /// (single-file reports only; ZIP members are delivered as they are).
    charset: Option<CharsetDecoder>,
    /// The charset the body was decoded from, once the stage finished.
    decoded_from: Option<Charset>,
    /// The row format broke; held until the integrity verdict (see `advance`).
    records_failed: Option<crate::records::RecordError>,
}

/// The ZIP stage after the integrity pipeline.
struct ZipStage {
    reader: ZipReader,
    /// Deliver the members as parts; otherwise only verify them.
    parts: bool,
    format: RecordFormat,
    /// Archive bytes decoded but not yet read by the ZIP reader.
    buf: Vec<u8>,
    at: usize,
    current: Option<PartCounter>,
    done: Vec<PartSummary>,
}

/// Bytes and rows of the member being delivered.
struct PartCounter {
    index: u32,
    name: String,
    bytes: u64,
    /// `None` until the first significant byte decides (JSON members that
    /// are not arrays are not counted).
    counter: Option<RowCounter>,
    format: RecordFormat,
}

impl PartCounter {
    fn new(index: u32, name: String, format: RecordFormat) -> Self {
        let counter = (format != RecordFormat::JsonArray).then(|| RowCounter::new(format));
        Self {
            index,
            name,
            bytes: 0,
            counter,
            format,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), Reply> {
        self.bytes = self.bytes.saturating_add(bytes.len() as u64);
        if self.counter.is_none() {
            // A JSON member is counted as an array only if it is one.
            match bytes
                .iter()
                .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF))
            {
                Some(b'[') => self.counter = Some(RowCounter::new(RecordFormat::JsonArray)),
                Some(_) => {
                    self.counter = Some(RowCounter::new(RecordFormat::Opaque));
                    return Ok(());
                }
                None => return Ok(()),
            }
        }
        match self.counter.as_mut() {
            Some(counter) => counter.push(bytes).map_err(records_failure),
            None => Ok(()),
        }
    }

    fn finish(self) -> Result<PartSummary, Reply> {
        let records = match self.counter {
            Some(counter) => counter.finish().map_err(records_failure)?.unwrap_or(0),
            None => 0,
        };
        let rows = match self.format {
            RecordFormat::Csv | RecordFormat::Tsv => records.saturating_sub(1),
            _ => records,
        };
        Ok(PartSummary {
            name: self.name,
            bytes: self.bytes,
            rows,
        })
    }
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// What an exchange has for the job right now.
pub(crate) enum Ready {
    /// Nothing until more input arrives.
    Nothing,
    /// An event for the host (decoded data, progress).
    Event(Event),
    /// The exchange is over.
    Over(Reply),
}

impl Exchange {
    pub(crate) fn new(
        id: RequestId,
        deadline: Millis,
        endpoint: &'static str,
        max_header_bytes: u64,
        max_body_bytes: u64,
        report_body: Option<ReportBody>,
        limits: Limits,
    ) -> Self {
        Self {
            id,
            deadline,
            endpoint,
            max_header_bytes,
            max_body_bytes,
            report_body,
            limits,
            fingerprint: true,
            foreign_charsets: None,
            state: State::AwaitingHead,
            delivered_before_failure: false,
            ended_by_host: false,
            parts: Vec::new(),
        }
    }

    /// Whether a report body's MD5 is computed when there is no published
    /// digest to verify (`JobConfig::md5_fingerprint`; default on).
    pub(crate) fn with_fingerprint(mut self, fingerprint: bool) -> Self {
        self.fingerprint = fingerprint;
        self
    }

    /// Decoders the host lends for reports in a charset, used when the
    /// build has none of its own (`ReportJob::with_foreign_charsets`).
    pub(crate) fn with_foreign_charsets(mut self, open: Option<OpenForeignDecoder>) -> Self {
        self.foreign_charsets = open;
        self
    }

    /// The parts of the report this exchange delivered, once it is over.
    pub(crate) fn take_parts(&mut self) -> Vec<PartSummary> {
        std::mem::take(&mut self.parts)
    }

    /// Whether nothing of the answer has arrived yet.
    pub(crate) const fn awaiting_head(&self) -> bool {
        matches!(self.state, State::AwaitingHead)
    }

    /// Whether decoded data has been handed out (so a failure must void it).
    pub(crate) fn delivered_data(&self) -> bool {
        self.delivered_before_failure
            || matches!(&self.state, State::Streaming(stream) if stream.out > 0)
    }

    pub(crate) fn head(
        &mut self,
        status: u16,
        headers: &[(String, String)],
    ) -> Result<(), &'static str> {
        if !matches!(self.state, State::AwaitingHead) {
            return Err("Head fed twice");
        }
        // Each header costs its overhead as well (as HTTP/2 counts it), so
        // thousands of empty headers are refused like one huge one.
        let header_bytes: u64 = headers
            .iter()
            .map(|(n, v)| (n.len() + v.len()) as u64 + HEADER_OVERHEAD_BYTES)
            .sum();
        if header_bytes > self.max_header_bytes {
            self.state = State::Over(Reply::Failed(ExchangeFailure::TooLarge {
                limit: self.max_header_bytes,
            }));
            return Ok(());
        }
        self.state = match &self.report_body {
            Some(spec) if (200..300).contains(&status) => {
                match expected_digest(spec.expected_md5, headers, spec.require_md5) {
                    Ok(expected) => match charset_stage(spec, headers, self.foreign_charsets) {
                        Ok(charset) => State::Streaming(Box::new(Stream::new(
                            spec,
                            self.limits,
                            expected,
                            charset,
                            self.fingerprint,
                        ))),
                        Err(failure) => State::Over(Reply::Failed(failure)),
                    },
                    Err(error) => State::Over(integrity_failure(error)),
                }
            }
            _ => State::Buffering {
                status,
                headers: headers.to_vec(),
                body: Vec::new(),
                ended: false,
            },
        };
        Ok(())
    }

    /// Body bytes fed but not yet decoded (`poll` decodes them).
    pub(crate) fn unread_bytes(&self) -> u64 {
        match &self.state {
            State::Streaming(stream) => {
                stream.pending.len().saturating_sub(stream.pending_at) as u64
            }
            _ => 0,
        }
    }

    pub(crate) fn chunk(&mut self, bytes: &[u8]) -> Result<(), &'static str> {
        if self.ended_by_host {
            return Err("Chunk fed after the request ended (End or TransportFailed)");
        }
        let max_body = self.max_body_bytes;
        match &mut self.state {
            State::AwaitingHead => Err("Chunk fed before Head"),
            State::Buffering { ended: true, .. } => Err("Chunk fed after End"),
            State::Streaming(stream) if stream.ended => Err("Chunk fed after End"),
            State::Buffering { body, .. } => {
                if (body.len() + bytes.len()) as u64 > max_body {
                    self.state =
                        State::Over(Reply::Failed(ExchangeFailure::TooLarge { limit: max_body }));
                } else {
                    body.extend_from_slice(bytes);
                }
                Ok(())
            }
            State::Streaming(stream) => {
                stream.pending.drain(..stream.pending_at);
                stream.pending_at = 0;
                stream.pending.extend_from_slice(bytes);
                stream.raw_in = stream.raw_in.saturating_add(bytes.len() as u64);
                Ok(())
            }
            // The exchange already failed (e.g. over a limit); the rest of the body is moot.
            State::Over(_) => Ok(()),
        }
    }

    pub(crate) fn end(&mut self) -> Result<(), &'static str> {
        if self.ended_by_host {
            return Err("End fed after the request ended (End or TransportFailed)");
        }
        let ended = match &mut self.state {
            State::AwaitingHead => Err("End fed before Head"),
            State::Buffering { ended, .. } => {
                if *ended {
                    return Err("End fed twice");
                }
                *ended = true;
                Ok(())
            }
            State::Streaming(stream) => {
                if stream.ended {
                    return Err("End fed twice");
                }
                stream.ended = true;
                Ok(())
            }
            // The exchange already failed (e.g. over a limit); the host
            // did not know, and ends the request as sent.
            State::Over(_) => Ok(()),
        };
        self.ended_by_host = ended.is_ok();
        ended
    }

    pub(crate) fn fail(&mut self, failure: TransportFailure) {
        self.ended_by_host = true;
        if !matches!(self.state, State::Over(_)) {
            // Remember that `Data` went out, so the job can void it.
            self.delivered_before_failure = self.delivered_data();
            self.state = State::Over(Reply::Failed(ExchangeFailure::Transport(failure)));
        }
    }

    /// Advances the exchange by at most one output buffer of `chunk_bytes`.
    pub(crate) fn advance(&mut self, chunk_bytes: usize) -> Ready {
        let state = std::mem::replace(&mut self.state, State::AwaitingHead);
        let (next, ready) = match state {
            State::AwaitingHead => (State::AwaitingHead, Ready::Nothing),
            State::Over(reply) => (State::AwaitingHead, Ready::Over(reply)),
            State::Buffering {
                status,
                headers,
                body,
                ended: true,
            } => (
                State::AwaitingHead,
                Ready::Over(Reply::Response {
                    status,
                    headers,
                    body,
                }),
            ),
            buffering @ State::Buffering { .. } => (buffering, Ready::Nothing),
            State::Streaming(mut stream) => match stream.advance(chunk_bytes) {
                Ok(StreamStep::Event(event)) => (State::Streaming(stream), Ready::Event(event)),
                Ok(StreamStep::Idle) => (State::Streaming(stream), Ready::Nothing),
                Ok(StreamStep::Finished(reply, parts)) => {
                    self.parts = parts;
                    (State::AwaitingHead, Ready::Over(reply))
                }
                Err(reply) => (State::AwaitingHead, Ready::Over(reply)),
            },
        };
        self.state = next;
        ready
    }
}

/// The digest the body must match: the one the provider published in an
/// earlier answer, else the download's own `Content-MD5` (base64, RFC 1864).
/// A `Content-MD5` that is not a digest marks the answer as damaged, and so
/// does a missing one where the provider always sends it (`required`).
fn expected_digest(
    published: Option<Md5Digest>,
    headers: &[(String, String)],
    required: bool,
) -> Result<Option<Md5Digest>, IntegrityError> {
    if published.is_some() {
        return Ok(published);
    }
    let expected = find_header(headers, "content-md5")
        .map(|value| Md5Digest::parse(value.trim()))
        .transpose()?;
    if expected.is_none() && required {
        return Err(IntegrityError::MissingContentMd5);
    }
    Ok(expected)
}

/// The charset to decode from: the configured one, else a non-UTF-8
/// charset the download's `Content-Type` declares, else the provider's
/// default for a body that declares none. UTF-8 bodies without
/// configuration are delivered byte for byte.
fn declared_charset(
    configured: Option<Charset>,
    default: Option<Charset>,
    headers: &[(String, String)],
) -> Option<Charset> {
    if configured.is_some() {
        return configured;
    }
    match find_header(headers, "content-type").and_then(Charset::from_content_type) {
        Some(Charset::Utf8) => None,
        Some(declared) => Some(declared),
        None => default,
    }
}

/// The charset stage of a report body: a decoder for the charset it is in,
/// if not UTF-8 (an archive's members are delivered as they are). The
/// build's own decoders come first, the host's are for a build without
/// them.
fn charset_stage(
    spec: &ReportBody,
    headers: &[(String, String)],
    foreign: Option<OpenForeignDecoder>,
) -> Result<Option<CharsetDecoder>, ExchangeFailure> {
    if spec.container != Container::Single {
        return Ok(None);
    }
    let Some(declared) = declared_charset(spec.charset, spec.default_charset, headers) else {
        return Ok(None);
    };
    #[cfg(feature = "charsets")]
    {
        let _built_in_first = foreign;
        Ok(Some(CharsetDecoder::new(declared)))
    }
    // A build with no decoders refuses such a body before any of it goes
    // out, rather than deliver bytes in a charset the host did not ask for.
    #[cfg(not(feature = "charsets"))]
    match foreign {
        Some(open) => Ok(Some(CharsetDecoder::foreign(declared, open))),
        None => Err(charset_unavailable(declared)),
    }
}

fn charset_unavailable(charset: Charset) -> ExchangeFailure {
    ExchangeFailure::Records(crate::records::RecordError::CharsetUnavailable {
        charset: charset.as_str().to_owned(),
    })
}

enum StreamStep {
    Event(Event),
    Idle,
    Finished(Reply, Vec<PartSummary>),
}

impl Stream {
    fn new(
        spec: &ReportBody,
        limits: Limits,
        expected: Option<Md5Digest>,
        charset: Option<CharsetDecoder>,
        fingerprint: bool,
    ) -> Self {
        let zip = match spec.container {
            Container::Single => None,
            container => Some(Box::new(ZipStage {
                reader: ZipReader::new(
                    ZipLimits::default().with_max_bytes(limits.max_decompressed_bytes),
                ),
                parts: container == Container::Zip,
                format: spec.record_format,
                buf: Vec::new(),
                at: 0,
                current: None,
                done: Vec::new(),
            })),
        };
        Self {
            bytes_total: spec.size_hint,
            decoder: Decoder::new(limits, expected)
                .with_compression(spec.compression)
                .with_fingerprint(fingerprint),
            records: RowCounter::new(spec.record_format),
            pending: Vec::new(),
            pending_at: 0,
            raw_in: 0,
            out: 0,
            next_progress: PROGRESS_EVERY,
            ended: false,
            charset,
            decoded_from: None,
            zip,
            records_failed: None,
        }
    }

    /// Passes decoded bytes through the charset stage, if there is one.
    fn transcode(&mut self, bytes: Vec<u8>) -> Result<Vec<u8>, Reply> {
        let Some(charset) = self.charset.as_mut() else {
            return Ok(bytes);
        };
        // UTF-8 of a legacy charset is at most 3 bytes per input byte.
        let mut out = vec![0u8; bytes.len().saturating_mul(3).saturating_add(64)];
        let mut produced = 0;
        let mut rest = bytes.as_slice();
        loop {
            if produced == out.len() {
                out.resize(out.len().saturating_mul(2), 0);
            }
            let progress = charset.pull(rest, out.get_mut(produced..).unwrap_or_default());
            rest = rest.get(progress.consumed..).unwrap_or_default();
            produced += progress.produced;
            // Stalled with room left: everything is in (the decoder keeps
            // an unfinished character for the next chunk).
            if progress.is_stalled() && produced < out.len() {
                break;
            }
        }
        if charset.failed() {
            return Err(Reply::Failed(charset_unavailable(charset.charset())));
        }
        out.truncate(produced);
        Ok(out)
    }

    /// Ends the charset stage: its last bytes, and which charset it was.
    fn finish_charset(&mut self) -> Result<Vec<u8>, Reply> {
        let Some(charset) = self.charset.take() else {
            return Ok(Vec::new());
        };
        let end = charset.finish();
        if end.failed() {
            return Err(Reply::Failed(charset_unavailable(end.summary.charset)));
        }
        self.decoded_from = Some(end.summary.charset);
        Ok(end.tail().to_vec())
    }

    fn advance(&mut self, chunk_bytes: usize) -> Result<StreamStep, Reply> {
        if self.out >= self.next_progress {
            self.next_progress = self.next_progress.saturating_add(PROGRESS_EVERY);
            return Ok(StreamStep::Event(Event::Progress {
                bytes_in: self.raw_in,
                bytes_out: self.out,
                bytes_total: self.bytes_total,
            }));
        }
        if self.zip.as_ref().is_some_and(|zip| zip.parts) {
            return self.advance_parts(chunk_bytes);
        }
        let mut buffer = vec![0u8; chunk_bytes.max(1)];
        // Each pass inflates until the output buffer is full or the input is
        // used up; passes repeat only while a records error discards output.
        loop {
            let mut produced_total = 0;
            loop {
                let input = self.pending.get(self.pending_at..).unwrap_or_default();
                let progress = self
                    .decoder
                    .pull(input, buffer.get_mut(produced_total..).unwrap_or_default())
                    .map_err(integrity_failure)?;
                self.pending_at = self.pending_at.saturating_add(progress.consumed);
                produced_total += progress.produced;
                if produced_total == buffer.len() || progress.is_stalled() {
                    break;
                }
            }
            if produced_total == 0 {
                break;
            }
            buffer.truncate(produced_total);
            let text = self.transcode(std::mem::take(&mut buffer))?;
            if let Some(step) = self.deliver(text)? {
                return Ok(step);
            }
            buffer = vec![0u8; chunk_bytes.max(1)];
        }
        if !self.ended {
            return Ok(StreamStep::Idle);
        }
        if self.charset.is_some() {
            let tail = self.finish_charset()?;
            if let Some(step) = self.deliver(tail)? {
                return Ok(step);
            }
        }
        let decoder = std::mem::replace(&mut self.decoder, Decoder::new(Limits::default(), None));
        let decoded = decoder.finish().map_err(integrity_failure)?;
        if let Some(error) = self.records_failed.take() {
            return Err(Reply::Failed(ExchangeFailure::Records(error)));
        }
        if let Some(zip) = self.zip.take() {
            return zip.finish(decoded, self.out);
        }
        let records = std::mem::replace(&mut self.records, RowCounter::new(RecordFormat::Opaque));
        let format = records.format();
        let records = records
            .finish()
            .map_err(|e| Reply::Failed(ExchangeFailure::Records(e)))?
            .unwrap_or(0);
        // Flat files open with a header line; rows are what follows it.
        let rows = match format {
            RecordFormat::Tsv | RecordFormat::Csv => records.saturating_sub(1),
            _ => records,
        };
        // After a charset stage, what went out is UTF-8, not the decoded bytes.
        let decoded = DecodeSummary {
            decoded_bytes: self.out,
            ..decoded
        };
        Ok(StreamStep::Finished(
            Reply::Report {
                outcome: Outcome::Complete,
                decoded,
                rows,
                charset: self.decoded_from,
            },
            Vec::new(),
        ))
    }

    /// Counts and checks decoded (UTF-8) bytes and hands them out as one
    /// `Data` event; `None` when there is nothing to hand out.
    fn deliver(&mut self, bytes: Vec<u8>) -> Result<Option<StreamStep>, Reply> {
        if bytes.is_empty() {
            return Ok(None);
        }
        if self.records_failed.is_none() {
            if let Err(error) = self.records.push(&bytes) {
                // Garbage from a corrupt body also breaks the row format:
                // let the integrity checks give their verdict first, and
                // report the format only if they pass. Deliver no more.
                self.records_failed = Some(error);
            }
        }
        if self.records_failed.is_some() {
            return Ok(None);
        }
        if let Some(zip) = self.zip.as_mut() {
            zip.verify(&bytes)?;
        }
        let offset = self.out;
        self.out = self.out.saturating_add(bytes.len() as u64);
        Ok(Some(StreamStep::Event(Event::Data(DataChunk {
            offset,
            bytes,
            part: None,
        }))))
    }

    /// Pulls archive bytes out of the decoder into the ZIP stage's buffer.
    /// Returns how many arrived (0: nothing until more input).
    fn refill(&mut self, chunk_bytes: usize) -> Result<usize, Reply> {
        let Some(zip) = self.zip.as_mut() else {
            return Ok(0);
        };
        zip.buf.clear();
        zip.buf.resize(chunk_bytes.max(1), 0);
        zip.at = 0;
        let mut filled = 0;
        loop {
            let input = self.pending.get(self.pending_at..).unwrap_or_default();
            let progress = self
                .decoder
                .pull(input, zip.buf.get_mut(filled..).unwrap_or_default())
                .map_err(integrity_failure)?;
            self.pending_at = self.pending_at.saturating_add(progress.consumed);
            filled += progress.produced;
            if filled == zip.buf.len() || progress.is_stalled() {
                break;
            }
        }
        zip.buf.truncate(filled);
        Ok(filled)
    }

    /// One `Data` event of one member (or nothing until more input).
    fn advance_parts(&mut self, chunk_bytes: usize) -> Result<StreamStep, Reply> {
        let mut out = vec![0u8; chunk_bytes.max(1)];
        // Each pass either delivers bytes, completes a member or runs dry.
        loop {
            let mut produced = 0usize;
            let mut member = None;
            let mut completed = None;
            loop {
                let empty = self
                    .zip
                    .as_ref()
                    .map_or(true, |zip| zip.at >= zip.buf.len());
                if empty && self.refill(chunk_bytes)? == 0 {
                    break;
                }
                let Some(zip) = self.zip.as_mut() else { break };
                let input = zip.buf.get(zip.at..).unwrap_or_default();
                let step = zip
                    .reader
                    .pull(input, out.get_mut(produced..).unwrap_or_default())
                    .map_err(zip_failure)?;
                zip.at = zip.at.saturating_add(step.consumed);
                if step.produced > 0 {
                    member = step.member;
                    produced += step.produced;
                }
                if step.completed.is_some() {
                    completed = step.completed;
                    break;
                }
                if produced == out.len() || (step.is_stalled() && zip.at < zip.buf.len()) {
                    break;
                }
            }
            let Some(zip) = self.zip.as_mut() else {
                return Ok(StreamStep::Idle);
            };
            if let (Some(index), true) = (member, produced > 0) {
                if zip
                    .current
                    .as_ref()
                    .map_or(true, |part| part.index != index)
                {
                    let name = zip.reader.member_name(index).unwrap_or_default().to_owned();
                    zip.current = Some(PartCounter::new(index, name, zip.format));
                }
                if let Some(part) = zip.current.as_mut() {
                    part.push(out.get(..produced).unwrap_or_default())?;
                }
            }
            let any_completed = completed.is_some();
            if let Some(entry) = completed {
                let part = match zip.current.take() {
                    Some(part) if part.index == entry.index => part,
                    other => {
                        zip.current = other;
                        PartCounter::new(entry.index, entry.name.clone(), zip.format)
                    }
                };
                if !entry.is_dir {
                    zip.done.push(part.finish()?);
                }
            }
            if produced > 0 {
                out.truncate(produced);
                let part = member
                    .and_then(|index| zip.reader.member_name(index))
                    .map(str::to_owned);
                let offset = self.out;
                self.out = self.out.saturating_add(produced as u64);
                return Ok(StreamStep::Event(Event::Data(DataChunk {
                    offset,
                    bytes: out,
                    part,
                })));
            }
            if any_completed {
                continue;
            }
            if !self.ended {
                return Ok(StreamStep::Idle);
            }
            let decoder =
                std::mem::replace(&mut self.decoder, Decoder::new(Limits::default(), None));
            let decoded = decoder.finish().map_err(integrity_failure)?;
            return match self.zip.take() {
                Some(zip) => zip.finish(decoded, self.out),
                None => Ok(StreamStep::Idle),
            };
        }
    }
}

impl ZipStage {
    /// Runs bytes that are delivered as they are through the reader.
    fn verify(&mut self, bytes: &[u8]) -> Result<(), Reply> {
        let mut scratch = vec![0u8; 32 * 1024];
        let mut rest = bytes;
        loop {
            let step = self.reader.pull(rest, &mut scratch).map_err(zip_failure)?;
            rest = rest.get(step.consumed..).unwrap_or_default();
            if step.is_stalled() {
                return Ok(());
            }
        }
    }

    /// The archive ended: check it to its end record and total the parts.
    fn finish(self, decoded: DecodeSummary, delivered: u64) -> Result<StreamStep, Reply> {
        let summary = self.reader.finish().map_err(zip_failure)?;
        if !self.parts {
            return Ok(StreamStep::Finished(
                Reply::Report {
                    outcome: Outcome::Complete,
                    decoded,
                    rows: 0,
                    charset: None,
                },
                Vec::new(),
            ));
        }
        let rows = self.done.iter().map(|p| p.rows).sum();
        if summary.decoded_bytes != delivered {
            return Err(zip_failure(ZipError::DirectoryMismatch {
                detail: "delivered bytes differ from the members".to_owned(),
            }));
        }
        let decoded = DecodeSummary {
            decoded_bytes: delivered,
            ..decoded
        };
        // An archive of parts without a single file is the provider saying
        // "nothing to report", not a verified report of zero rows.
        let outcome = if self.done.is_empty() {
            Outcome::NoData
        } else {
            Outcome::Complete
        };
        Ok(StreamStep::Finished(
            Reply::Report {
                outcome,
                decoded,
                rows,
                charset: None,
            },
            self.done,
        ))
    }
}

fn zip_failure(error: ZipError) -> Reply {
    Reply::Failed(ExchangeFailure::Zip(error))
}

fn records_failure(error: crate::records::RecordError) -> Reply {
    Reply::Failed(ExchangeFailure::Records(error))
}

fn integrity_failure(error: IntegrityError) -> Reply {
    Reply::Failed(ExchangeFailure::Integrity(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::{Compression, Md5};
    use proptest::prelude::*;

    /// Streams `body` through an exchange in `chunk`-byte pieces and returns
    /// the `Data` bytes and the reply.
    fn stream(body: &[u8], chunk: usize, spec: ReportBody, content_type: &str) -> (Vec<u8>, Reply) {
        let mut exchange = Exchange::new(
            RequestId::new(1),
            Millis(u64::MAX),
            "GET <link>",
            64 << 10,
            4 << 20,
            Some(spec),
            Limits::default(),
        );
        let headers = vec![("Content-Type".to_owned(), content_type.to_owned())];
        exchange.head(200, &headers).unwrap();
        let mut data = Vec::new();
        let drain = |exchange: &mut Exchange, data: &mut Vec<u8>| loop {
            match exchange.advance(64 << 10) {
                Ready::Event(Event::Data(chunk)) => data.extend_from_slice(&chunk.bytes),
                Ready::Event(_) => {}
                Ready::Nothing => return None,
                Ready::Over(reply) => return Some(reply),
            }
        };
        for piece in body.chunks(chunk.max(1)) {
            exchange.chunk(piece).unwrap();
            assert!(drain(&mut exchange, &mut data).is_none());
        }
        exchange.end().unwrap();
        let reply = drain(&mut exchange, &mut data).expect("the exchange ends");
        (data, reply)
    }

    fn tsv(charset: Option<Charset>) -> ReportBody {
        ReportBody {
            charset,
            ..ReportBody::single(Compression::Auto, RecordFormat::Tsv)
        }
    }

    fn rows_of(reply: &Reply) -> (u64, Option<Charset>) {
        match reply {
            Reply::Report { rows, charset, .. } => (*rows, *charset),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_archive_of_parts_without_a_file_is_no_data_and_one_with_files_is_complete() {
        let parts = || ReportBody {
            container: Container::Zip,
            ..ReportBody::single(Compression::Auto, RecordFormat::Csv)
        };
        let outcome = |reply: &Reply| match reply {
            Reply::Report { outcome, .. } => *outcome,
            other => panic!("{other:?}"),
        };
        let empty = crate::sim::zip_archive(&[]);
        let (data, reply) = stream(&empty, 7, parts(), "application/zip");
        assert!(data.is_empty());
        assert_eq!(outcome(&reply), Outcome::NoData);
        let only_a_folder = crate::sim::zip_archive(&[crate::sim::ZipMember::new(
            "sheets/",
            b"",
            crate::integrity::ZipMethod::Stored,
        )]);
        let (_, reply) = stream(&only_a_folder, 7, parts(), "application/zip");
        assert_eq!(outcome(&reply), Outcome::NoData);
        let one = crate::sim::zip_archive(&[crate::sim::ZipMember::new(
            "a.csv",
            b"x,y\n1,2\n",
            crate::integrity::ZipMethod::Deflated,
        )]);
        let (data, reply) = stream(&one, 7, parts(), "application/zip");
        assert_eq!(data, b"x,y\n1,2\n");
        assert_eq!(outcome(&reply), Outcome::Complete);
    }

    #[test]
    fn a_content_md5_that_does_not_match_is_md5_mismatch_with_both_values() {
        let body = b"sku\tqty\nA-1\t3\n";
        let mut exchange = Exchange::new(
            RequestId::new(1),
            Millis(u64::MAX),
            "GET <link>",
            64 << 10,
            4 << 20,
            Some(tsv(None)),
            Limits::default(),
        );
        let wrong = Md5::digest(b"something else");
        let headers = vec![("Content-MD5".to_owned(), wrong.to_base64())];
        exchange.head(200, &headers).unwrap();
        exchange.chunk(body).unwrap();
        exchange.end().unwrap();
        let reply = loop {
            if let Ready::Over(reply) = exchange.advance(64 << 10) {
                break reply;
            }
        };
        match reply {
            Reply::Failed(ExchangeFailure::Integrity(IntegrityError::Md5Mismatch {
                expected,
                actual,
            })) => {
                assert_eq!(expected, wrong.to_hex());
                assert_eq!(actual, Md5::digest(body).to_hex());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_declared_charset_is_decoded_and_named() {
        let text = "注文番号\t商品名\n123\tテスト商品\n";
        let (encoded, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let (data, reply) = stream(
            &encoded,
            7,
            tsv(None),
            "text/tab-separated-values; charset=Shift_JIS",
        );
        assert_eq!(String::from_utf8(data).unwrap(), text);
        assert_eq!(rows_of(&reply), (1, Some(Charset::ShiftJis)));
        // Without a declaration the bytes go out as sent.
        let (raw, reply) = stream(&encoded, 7, tsv(None), "text/plain");
        assert_eq!(raw, encoded.as_ref());
        assert_eq!(rows_of(&reply).1, None);
    }

    fn report_text() -> impl Strategy<Value = String> {
        // Every cell starts with an ASCII letter, so filtering one script
        // out never leaves an empty line.
        let cell = prop_oneof![
            "x[a-zA-Z0-9 ._-]{0,12}",
            "x[ァ-ヶー注文番号商品名価格数量東京日本]{1,8}",
            "x[éüñ€–Ææ]{1,6}",
        ];
        proptest::collection::vec(proptest::collection::vec(cell, 1..5), 1..40).prop_map(|rows| {
            let mut text = String::from("header\tcolumns\n");
            for row in rows {
                text.push_str(&row.join("\t"));
                text.push('\n');
            }
            text
        })
    }

    proptest! {
        /// Shift_JIS and windows-1252 TSV reports come out as the same UTF-8
        /// text however they are chunked (1 byte, 64 KiB, anything between).
        #[test]
        fn legacy_charset_reports_decode_identically_over_any_chunking(
            text in report_text(),
            chunk in 2usize..4096,
        ) {
            let japanese: String = text.chars().filter(|c| !"éüñ€–Ææ".contains(*c)).collect();
            let western: String = text.chars().filter(|c| c.is_ascii() || "éüñ€–Ææ".contains(*c)).collect();
            for (source, charset, encoding) in [
                (japanese, Charset::ShiftJis, encoding_rs::SHIFT_JIS),
                (western, Charset::Windows1252, encoding_rs::WINDOWS_1252),
            ] {
                let (encoded, _, unmappable) = encoding.encode(&source);
                prop_assert!(!unmappable);
                let rows = source.lines().count() as u64 - 1;
                for size in [1, chunk, 64 << 10] {
                    let (data, reply) = stream(&encoded, size, tsv(Some(charset)), "text/plain");
                    prop_assert_eq!(String::from_utf8(data).unwrap(), source.clone());
                    prop_assert_eq!(rows_of(&reply), (rows, Some(charset)));
                }
            }
        }
    }
}
