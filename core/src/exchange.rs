//! The one request in flight: collects its answer within limits and, for a
//! report body, runs the streaming integrity pipeline as chunks arrive.
//!
//! Memory stays bounded: a buffered answer is capped by
//! `JobConfig::max_api_body_bytes`, and a report body is held only as the
//! last unprocessed chunk plus one output buffer of `data_chunk_bytes`.

use crate::action::{DataChunk, Event};
use crate::http::{RequestId, TransportFailure};
use crate::integrity::{Decoder, IntegrityError, Limits};
use crate::providers::{ExchangeFailure, ReportBody, Reply};
use crate::records::{RecordFormat, RowCounter};
use crate::time::Millis;

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
    state: State,
    /// Decoded data went out before a transport failure replaced the stream.
    delivered_before_failure: bool,
}

enum State {
    AwaitingHead,
    Buffering { status: u16, headers: Vec<(String, String)>, body: Vec<u8>, ended: bool },
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
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange").field("id", &self.id).field("endpoint", &self.endpoint).field("deadline", &self.deadline).finish()
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
        Self { id, deadline, endpoint, max_header_bytes, max_body_bytes, report_body, limits, state: State::AwaitingHead, delivered_before_failure: false }
    }

    /// Whether decoded data has been handed out (so a failure must void it).
    pub(crate) fn delivered_data(&self) -> bool {
        self.delivered_before_failure || matches!(&self.state, State::Streaming(stream) if stream.out > 0)
    }

    pub(crate) fn head(&mut self, status: u16, headers: &[(String, String)]) -> Result<(), &'static str> {
        if !matches!(self.state, State::AwaitingHead) {
            return Err("Head fed twice");
        }
        let header_bytes: u64 = headers.iter().map(|(n, v)| (n.len() + v.len()) as u64).sum();
        if header_bytes > self.max_header_bytes {
            self.state = State::Over(Reply::Failed(ExchangeFailure::TooLarge { limit: self.max_header_bytes }));
            return Ok(());
        }
        self.state = match &self.report_body {
            Some(spec) if (200..300).contains(&status) => State::Streaming(Box::new(Stream {
                bytes_total: spec.size_hint,
                decoder: Decoder::new(self.limits, None).with_compression(spec.compression),
                records: RowCounter::new(spec.record_format),
                pending: Vec::new(),
                pending_at: 0,
                raw_in: 0,
                out: 0,
                next_progress: PROGRESS_EVERY,
                ended: false,
            })),
            _ => State::Buffering { status, headers: headers.to_vec(), body: Vec::new(), ended: false },
        };
        Ok(())
    }

    pub(crate) fn chunk(&mut self, bytes: &[u8]) -> Result<(), &'static str> {
        let max_body = self.max_body_bytes;
        match &mut self.state {
            State::AwaitingHead => Err("Chunk fed before Head"),
            State::Buffering { ended: true, .. } => Err("Chunk fed after End"),
            State::Streaming(stream) if stream.ended => Err("Chunk fed after End"),
            State::Buffering { body, .. } => {
                if (body.len() + bytes.len()) as u64 > max_body {
                    self.state = State::Over(Reply::Failed(ExchangeFailure::TooLarge { limit: max_body }));
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
        match &mut self.state {
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
            State::Over(_) => Ok(()),
        }
    }

    pub(crate) fn fail(&mut self, failure: TransportFailure) {
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
            State::Buffering { status, headers, body, ended: true } => {
                (State::AwaitingHead, Ready::Over(Reply::Response { status, headers, body }))
            }
            buffering @ State::Buffering { .. } => (buffering, Ready::Nothing),
            State::Streaming(mut stream) => match stream.advance(chunk_bytes) {
                Ok(StreamStep::Event(event)) => (State::Streaming(stream), Ready::Event(event)),
                Ok(StreamStep::Idle) => (State::Streaming(stream), Ready::Nothing),
                Ok(StreamStep::Finished(reply)) | Err(reply) => (State::AwaitingHead, Ready::Over(reply)),
            },
        };
        self.state = next;
        ready
    }
}

enum StreamStep {
    Event(Event),
    Idle,
    Finished(Reply),
}

impl Stream {
    fn advance(&mut self, chunk_bytes: usize) -> Result<StreamStep, Reply> {
        if self.out >= self.next_progress {
            self.next_progress = self.next_progress.saturating_add(PROGRESS_EVERY);
            return Ok(StreamStep::Event(Event::Progress { bytes_in: self.raw_in, bytes_out: self.out, bytes_total: self.bytes_total }));
        }
        let mut buffer = vec![0u8; chunk_bytes.max(1)];
        let mut produced_total = 0;
        // Inflate until the output buffer is full or the input is used up.
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
        if produced_total > 0 {
            buffer.truncate(produced_total);
            self.records.push(&buffer).map_err(|e| Reply::Failed(ExchangeFailure::Records(e)))?;
            let offset = self.out;
            self.out = self.out.saturating_add(produced_total as u64);
            return Ok(StreamStep::Event(Event::Data(DataChunk { offset, bytes: buffer })));
        }
        if !self.ended {
            return Ok(StreamStep::Idle);
        }
        let decoder = std::mem::replace(&mut self.decoder, Decoder::new(Limits::default(), None));
        let decoded = decoder.finish().map_err(integrity_failure)?;
        let records = std::mem::replace(&mut self.records, RowCounter::new(RecordFormat::Opaque));
        let format = records.format();
        let records = records.finish().map_err(|e| Reply::Failed(ExchangeFailure::Records(e)))?.unwrap_or(0);
        // Flat files open with a header line; rows are what follows it.
        let rows = match format {
            RecordFormat::Tsv | RecordFormat::Csv => records.saturating_sub(1),
            _ => records,
        };
        Ok(StreamStep::Finished(Reply::Report { decoded, rows }))
    }
}

fn integrity_failure(error: IntegrityError) -> Reply {
    Reply::Failed(ExchangeFailure::Integrity(error))
}
