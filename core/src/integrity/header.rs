//! Incremental parser for one RFC 1952 member header.
//!
//! The header may arrive split at any byte, so the parser keeps only a few
//! counters between calls and never buffers a variable-length field: FEXTRA is
//! skipped by count, FNAME/FCOMMENT by scanning for their terminating zero, and
//! every header byte goes through a running CRC-32 for the optional FHCRC check.

use super::{Crc32, IntegrityError};

/// Longest FNAME or FCOMMENT field accepted, terminating zero included.
///
/// Real files carry short names; a longer field is treated as corruption so a
/// hostile stream cannot keep the parser scanning forever.
pub(crate) const MAX_HEADER_FIELD_BYTES: u64 = 64 * 1024;

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;
/// Length of the fixed part: ID1 ID2 CM FLG MTIME(4) XFL OS.
const FIXED_LEN: u8 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Fixed,
    ExtraLen,
    Extra,
    Name,
    Comment,
    Hcrc,
    Done,
}

/// State of one member header being parsed.
#[derive(Debug, Clone)]
pub(crate) struct HeaderParser {
    step: Step,
    flags: u8,
    /// Bytes seen of the current fixed-size field (fixed part, XLEN, CRC16).
    got: u8,
    /// Little-endian accumulator for XLEN or the header CRC16.
    word: u16,
    /// Bytes still to skip in FEXTRA, or bytes seen of FNAME/FCOMMENT.
    count: u64,
    crc: Crc32,
}

impl HeaderParser {
    pub(crate) fn new() -> Self {
        Self {
            step: Step::Fixed,
            flags: 0,
            got: 0,
            word: 0,
            count: 0,
            crc: Crc32::new(),
        }
    }

    /// Consumes header bytes from `input`.
    ///
    /// Returns how many bytes were consumed and whether the header is
    /// complete; when it is not, all of `input` was consumed. `first_member`
    /// selects the error for a wrong magic number ([`IntegrityError::NotGzip`]
    /// for the first member; for later ones [`IntegrityError::TrailingGarbage`]
    /// at `offset`, the member's first byte).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        first_member: bool,
        offset: u64,
    ) -> Result<(usize, bool), IntegrityError> {
        let mut pos = 0usize;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match self.step {
                Step::Done => return Ok((pos, true)),
                _ if rest.is_empty() => return Ok((pos, false)),
                Step::Fixed => {
                    for &b in rest {
                        self.fixed_byte(b, first_member, offset)?;
                        pos = pos.saturating_add(1);
                        if self.got == FIXED_LEN {
                            self.got = 0;
                            self.step = self.after(Step::Fixed);
                            break;
                        }
                    }
                }
                Step::ExtraLen | Step::Hcrc => {
                    let b = rest.first().copied().unwrap_or_default();
                    pos = pos.saturating_add(1);
                    self.word |= u16::from(b) << (8 * u16::from(self.got));
                    self.got = self.got.saturating_add(1);
                    if self.step == Step::ExtraLen {
                        self.crc.update(&[b]);
                    }
                    if self.got == 2 {
                        self.got = 0;
                        if self.step == Step::ExtraLen {
                            self.count = u64::from(self.word);
                            self.word = 0;
                            self.step = Step::Extra;
                        } else {
                            let actual = (self.crc.value() & 0xffff) as u16;
                            if actual != self.word {
                                return Err(IntegrityError::BadHeader {
                                    detail: format!(
                                        "header CRC16 is {:#06x} but the header bytes give {actual:#06x}",
                                        self.word
                                    ),
                                });
                            }
                            self.step = Step::Done;
                        }
                    }
                }
                Step::Extra => {
                    let n = usize::try_from(self.count)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    let (skip, _) = rest.split_at(n);
                    self.crc.update(skip);
                    pos = pos.saturating_add(n);
                    self.count = self.count.saturating_sub(n as u64);
                    if self.count == 0 {
                        self.step = self.after(Step::Extra);
                    }
                }
                Step::Name | Step::Comment => {
                    let (n, complete) = match rest.iter().position(|&b| b == 0) {
                        Some(i) => (i.saturating_add(1), true),
                        None => (rest.len(), false),
                    };
                    self.count = self.count.saturating_add(n as u64);
                    if self.count > MAX_HEADER_FIELD_BYTES {
                        let field = if self.step == Step::Name {
                            "file name (FNAME)"
                        } else {
                            "comment (FCOMMENT)"
                        };
                        return Err(IntegrityError::BadHeader {
                            detail: format!(
                                "the {field} field is longer than {MAX_HEADER_FIELD_BYTES} bytes"
                            ),
                        });
                    }
                    let (field, _) = rest.split_at(n.min(rest.len()));
                    self.crc.update(field);
                    pos = pos.saturating_add(n);
                    if complete {
                        self.count = 0;
                        self.step = self.after(self.step);
                    }
                }
            }
        }
    }

    fn fixed_byte(&mut self, b: u8, first_member: bool, offset: u64) -> Result<(), IntegrityError> {
        let wrong_magic = || {
            if first_member {
                IntegrityError::NotGzip
            } else {
                IntegrityError::TrailingGarbage { offset }
            }
        };
        match self.got {
            0 if b != 0x1f => return Err(wrong_magic()),
            1 if b != 0x8b => return Err(wrong_magic()),
            2 if b != 8 => return Err(IntegrityError::UnsupportedMethod { method: b }),
            3 if b & FRESERVED != 0 => return Err(IntegrityError::ReservedFlags { flags: b }),
            3 => self.flags = b,
            _ => {}
        }
        self.crc.update(&[b]);
        self.got = self.got.saturating_add(1);
        Ok(())
    }

    /// The step that follows `from`, given the member's flags.
    fn after(&self, from: Step) -> Step {
        let order = [
            (Step::ExtraLen, FEXTRA),
            (Step::Name, FNAME),
            (Step::Comment, FCOMMENT),
            (Step::Hcrc, FHCRC),
        ];
        let rank = |s: Step| match s {
            Step::Fixed => 0,
            Step::ExtraLen | Step::Extra => 1,
            Step::Name => 2,
            Step::Comment => 3,
            Step::Hcrc => 4,
            Step::Done => 5,
        };
        let from_rank = rank(from);
        order
            .iter()
            .find(|(s, flag)| rank(*s) > from_rank && self.flags & flag != 0)
            .map_or(Step::Done, |(s, _)| *s)
    }
}
