//! Streaming ZIP reading.
//!
//! [`ZipReader`] reads an archive front to back as its bytes arrive, split
//! anywhere, from the local file headers — the way a download streams — and
//! hands out each member's decoded bytes in bounded pieces. It never needs
//! the whole archive in memory and never seeks. The central directory at the
//! end is then checked against what was read (names, methods, CRCs, sizes,
//! header offsets, entry count), so an archive whose directory disagrees with
//! its members — the trick behind overlapping-entry zip bombs — is refused.
//!
//! ```text
//!  archive bytes ──► [local header ─► name checks ─► stored copy | raw inflate ─► CRC-32, sizes,
//!                     limits, ratio ─► (data descriptor)]*  ─► central directory ─► end record
//!                         │
//!                         └─► member bytes, one member at a time (ZipProgress::member)
//! ```
//!
//! What is accepted: stored (0) and deflated (8) members, with or without
//! data descriptors (a stored member needs its sizes in the local header,
//! since nothing else marks its end), UTF-8 names. What is refused, each
//! with its own [`ZipError`]: encryption, other methods, zip64, split
//! archives, unsafe member names (absolute paths, `..`, backslashes, control
//! characters, names over the limit), duplicate names, more members or bytes
//! than the [`ZipLimits`] allow, a member that inflates beyond its declared
//! size or beyond `max_ratio` times its compressed size (a zip bomb), CRC
//! and size mismatches, and any byte after the end record.
//!
//! ```
//! use reportflow::integrity::{unzip, ZipLimits, ZipMethod};
//! // The simulators' ZIP writer (`sim` feature); any archive reads the same.
//! use reportflow::sim::{zip_archive, ZipMember};
//!
//! let archive = zip_archive(&[
//!     ZipMember::new("orders.csv", b"ID,SKU\n1,A-1\n", ZipMethod::Deflated),
//!     ZipMember::new("returns.csv", b"ID\n", ZipMethod::Stored),
//! ]);
//! let members = unzip(&archive, ZipLimits::default())?;
//! assert_eq!(members[0].0.name, "orders.csv");
//! assert_eq!(members[1].1, b"ID\n");
//! # Ok::<(), reportflow::integrity::ZipError>(())
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use super::inflate::{self, Flow};
use super::Crc32;
use crate::sticky::StickyError;

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_END: u32 = 0x0605_4b50;
const SIG_DESCRIPTOR: u32 = 0x0807_4b50;
const SIG_ZIP64_END: u32 = 0x0606_4b50;
const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;

/// Fixed part of a local file header after its signature.
const LOCAL_FIXED: usize = 26;
/// Fixed part of a central directory header after its signature.
const CENTRAL_FIXED: usize = 42;
/// "Version made by" high byte of an archive made on Unix: the external
/// attributes' high 16 bits are then a `st_mode`.
const HOST_UNIX: u8 = 3;
/// The file-type bits of a `st_mode`, and the type of a symbolic link.
const UNIX_FILE_TYPE: u32 = 0o170_000;
const UNIX_SYMLINK: u32 = 0o120_000;
/// Fixed part of the end-of-central-directory record after its signature.
const END_FIXED: usize = 18;

const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
const FLAG_MASKED_DIRECTORY: u16 = 1 << 13;

/// History deflate may refer back to.
const WINDOW_BYTES: usize = 32 * 1024;
/// Fresh output per refill of the inflate buffer.
const SPAN_BYTES: usize = 96 * 1024;
const BUF_BYTES: usize = WINDOW_BYTES + SPAN_BYTES;
const MIN_ROOM_BYTES: usize = 4 * 1024;

/// Longest name quoted in an error message.
const NAME_EXCERPT_CHARS: usize = 120;

/// Bounds on what a [`ZipReader`] accepts: the zip-bomb and abuse defence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ZipLimits {
    /// Most members (directories included).
    pub max_entries: u32,
    /// Longest member name, in bytes.
    pub max_name_bytes: u32,
    /// Most decoded bytes of one member.
    pub max_entry_bytes: u64,
    /// Most decoded bytes of all members together.
    pub max_total_bytes: u64,
    /// Most decoded bytes per compressed byte of a member, once it is past
    /// `ratio_grace_bytes`. Deflate cannot exceed about 1032; real reports
    /// stay far below 250.
    pub max_ratio: u32,
    /// Decoded bytes of a member before `max_ratio` applies (tiny members
    /// of repeated bytes compress very well and are harmless).
    pub ratio_grace_bytes: u64,
}

crate::json_fields::deserialize_struct! {
    ZipLimits, fields = Camel, unknown = Ignore, default;
    max_entries, max_name_bytes, max_entry_bytes, max_total_bytes, max_ratio, ratio_grace_bytes
}

impl Default for ZipLimits {
    fn default() -> Self {
        Self {
            max_entries: 4_096,
            max_name_bytes: 1_024,
            max_entry_bytes: 16 << 30,
            max_total_bytes: 16 << 30,
            max_ratio: 250,
            ratio_grace_bytes: 1 << 20,
        }
    }
}

impl ZipLimits {
    /// The default limits with another total and per-member byte limit.
    #[must_use]
    pub const fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_entry_bytes = max_bytes;
        self.max_total_bytes = max_bytes;
        self
    }

    /// The same limits with another ratio limit and grace.
    #[must_use]
    pub const fn with_ratio(mut self, max_ratio: u32, grace_bytes: u64) -> Self {
        self.max_ratio = max_ratio;
        self.ratio_grace_bytes = grace_bytes;
        self
    }
}

/// How a member's data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ZipMethod {
    /// Method 0: the bytes as they are.
    Stored,
    /// Method 8: raw deflate (RFC 1951).
    Deflated,
}

crate::json_fields::deserialize_names! {
    ZipMethod;
    "stored" => Stored,
    "deflated" => Deflated,
}

impl ZipMethod {
    /// The method's number in ZIP headers.
    pub(crate) const fn code(self) -> u16 {
        match self {
            Self::Stored => 0,
            Self::Deflated => 8,
        }
    }
}

/// One member of an archive, as read and verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ZipEntry {
    /// Position in the archive, from 0.
    pub index: u32,
    /// The member's name (a relative path with `/` separators, checked safe).
    pub name: String,
    /// Storage method.
    pub method: ZipMethod,
    /// CRC-32 of the decoded bytes.
    pub crc32: u32,
    /// Bytes of the member's data as stored in the archive.
    pub compressed_size: u64,
    /// Decoded bytes.
    pub size: u64,
    /// Whether the entry is a directory (a name ending in `/`, no data).
    pub is_dir: bool,
}

crate::json_fields::deserialize_struct! {
    ZipEntry, fields = Camel, unknown = Ignore;
    index, name, method, crc32, compressed_size, size, is_dir
}

/// Where in an archive the input ended too early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ZipPart {
    /// A local file header (or the signature before it).
    LocalHeader,
    /// A member's data.
    Data,
    /// A member's data descriptor.
    Descriptor,
    /// The central directory.
    CentralDirectory,
    /// The end-of-central-directory record (or its comment).
    EndRecord,
}

crate::json_fields::deserialize_names! {
    ZipPart;
    "local_header" => LocalHeader,
    "data" => Data,
    "descriptor" => Descriptor,
    "central_directory" => CentralDirectory,
    "end_record" => EndRecord,
}

impl core::fmt::Display for ZipPart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::LocalHeader => "a local file header",
            Self::Data => "member data",
            Self::Descriptor => "a data descriptor",
            Self::CentralDirectory => "the central directory",
            Self::EndRecord => "the end-of-central-directory record",
        })
    }
}

/// Why a ZIP archive was refused.
///
/// Two families: corruption in transit (the archive is cut, a CRC or size
/// does not match, the directory disagrees with the members): download it
/// again — [`is_corruption`](Self::is_corruption) says so; and content that
/// must never be accepted (encryption, unsupported features, unsafe names,
/// zip bombs, limits), where downloading again does not help. Member names
/// in messages are escaped and shortened. [`kind`](Self::kind) is a stable
/// snake_case code (also the serde `kind` tag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ZipError {
    /// The data does not start with a ZIP signature (`PK\x03\x04` or an
    /// empty archive's `PK\x05\x06`).
    #[error("the data is not a ZIP archive (no PK signature at its start); check what the server actually sent")]
    NotZip,
    /// The input ended inside the archive.
    #[error("the ZIP archive ends inside {part}; the download was truncated: discard the data and download again")]
    Truncated {
        /// Where it was cut.
        part: ZipPart,
    },
    /// A header is malformed (an unexpected signature, impossible fields).
    #[error("the ZIP archive is malformed at byte {offset}: {detail}; the download was corrupted: discard it and download again")]
    BadHeader {
        /// Offset in the archive.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A member's deflate data cannot be decoded.
    #[error("member {name} has corrupt compressed data ({detail}); the download was corrupted: discard it and download again")]
    Corrupt {
        /// The member.
        name: String,
        /// What the inflater said.
        detail: String,
    },
    /// A member's CRC-32 differs from the one the archive records.
    #[error("member {name} fails its CRC-32 check (archive says {expected:#010x}, data gives {actual:#010x}); the download was corrupted: discard it and download again")]
    CrcMismatch {
        /// The member.
        name: String,
        /// Recorded CRC-32.
        expected: u32,
        /// CRC-32 of the decoded bytes.
        actual: u32,
    },
    /// A member's size differs from the one the archive records.
    #[error("member {name} has {actual} bytes where the archive records {expected}; the download was corrupted or the archive lies about its sizes: discard it")]
    SizeMismatch {
        /// The member.
        name: String,
        /// Recorded size.
        expected: u64,
        /// Size found.
        actual: u64,
    },
    /// The central directory does not describe the members that were read.
    #[error("the ZIP central directory disagrees with the members: {detail}; the archive is corrupt or crafted: discard it")]
    DirectoryMismatch {
        /// What differs.
        detail: String,
    },
    /// Bytes follow the end record.
    #[error("unexpected bytes follow the ZIP archive at byte {offset}; the download was corrupted or mixed with other data: discard it")]
    TrailingGarbage {
        /// Offset of the first unexpected byte.
        offset: u64,
    },
    /// A member is encrypted.
    #[error("member {name} is encrypted; reportflow does not decrypt archives")]
    Encrypted {
        /// The member.
        name: String,
    },
    /// A member uses a compression method other than stored or deflate.
    #[error("member {name} uses compression method {method}; only stored (0) and deflate (8) are supported")]
    UnsupportedMethod {
        /// The member.
        name: String,
        /// The method code.
        method: u16,
    },
    /// The archive uses a feature the streaming reader does not support.
    #[error("the ZIP archive uses {feature}, which is not supported")]
    Unsupported {
        /// The feature (zip64, split archives, …).
        feature: String,
    },
    /// A member name could escape the output directory or is not a plain
    /// relative path.
    #[error("member name {name} is unsafe ({reason}); the archive was refused so that no file is written outside the output directory")]
    UnsafeName {
        /// The name, escaped and shortened.
        name: String,
        /// Why it is unsafe.
        reason: String,
    },
    /// Two members have the same name.
    #[error("member name {name} occurs twice; the archive was refused so that no member overwrites another")]
    DuplicateName {
        /// The name, escaped and shortened.
        name: String,
    },
    /// Two members would land on one path of a file system: a member under
    /// another member that is a file (`a` and `a/b`), or names that differ
    /// only in letter case (one file on Windows and macOS).
    #[error("member name {name} collides with member {other}; the archive was refused so that no member replaces or hides another")]
    NameConflict {
        /// The later member, escaped and shortened.
        name: String,
        /// The member it collides with, escaped and shortened.
        other: String,
    },
    /// More members than [`ZipLimits::max_entries`].
    #[error("the ZIP archive has more than {limit} members; raise ZipLimits::max_entries if that is expected")]
    TooManyEntries {
        /// The limit.
        limit: u32,
    },
    /// A member decodes to more than [`ZipLimits::max_entry_bytes`].
    #[error("member {name} decodes to more than {limit} bytes; raise the limit if the report is expected to be this large")]
    EntryTooLarge {
        /// The member.
        name: String,
        /// The limit.
        limit: u64,
    },
    /// All members together decode to more than [`ZipLimits::max_total_bytes`].
    #[error("the ZIP archive decodes to more than {limit} bytes; raise the limit if the report is expected to be this large")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// A member inflates far beyond what real data does: a zip bomb.
    #[error("member {name} inflates {ratio} times its compressed size (limit {limit}); refused as a zip bomb")]
    Bomb {
        /// The member.
        name: String,
        /// Decoded bytes per compressed byte when it was stopped.
        ratio: u64,
        /// [`ZipLimits::max_ratio`].
        limit: u32,
    },
}

crate::json_fields::deserialize_tagged! {
    ZipError, tag = "kind", fields = Verbatim;
    "not_zip" => NotZip,
    "truncated" => Truncated { part },
    "bad_header" => BadHeader { offset, detail },
    "corrupt" => Corrupt { name, detail },
    "crc_mismatch" => CrcMismatch { name, expected, actual },
    "size_mismatch" => SizeMismatch { name, expected, actual },
    "directory_mismatch" => DirectoryMismatch { detail },
    "trailing_garbage" => TrailingGarbage { offset },
    "encrypted" => Encrypted { name },
    "unsupported_method" => UnsupportedMethod { name, method },
    "unsupported" => Unsupported { feature },
    "unsafe_name" => UnsafeName { name, reason },
    "duplicate_name" => DuplicateName { name },
    "name_conflict" => NameConflict { name, other },
    "too_many_entries" => TooManyEntries { limit },
    "entry_too_large" => EntryTooLarge { name, limit },
    "too_large" => TooLarge { limit },
    "bomb" => Bomb { name, ratio, limit },
}

impl ZipError {
    /// A stable snake_case code, equal to the serde `kind` tag.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotZip => "not_zip",
            Self::Truncated { .. } => "truncated",
            Self::BadHeader { .. } => "bad_header",
            Self::Corrupt { .. } => "corrupt",
            Self::CrcMismatch { .. } => "crc_mismatch",
            Self::SizeMismatch { .. } => "size_mismatch",
            Self::DirectoryMismatch { .. } => "directory_mismatch",
            Self::TrailingGarbage { .. } => "trailing_garbage",
            Self::Encrypted { .. } => "encrypted",
            Self::UnsupportedMethod { .. } => "unsupported_method",
            Self::Unsupported { .. } => "unsupported",
            Self::UnsafeName { .. } => "unsafe_name",
            Self::DuplicateName { .. } => "duplicate_name",
            Self::NameConflict { .. } => "name_conflict",
            Self::TooManyEntries { .. } => "too_many_entries",
            Self::EntryTooLarge { .. } => "entry_too_large",
            Self::TooLarge { .. } => "too_large",
            Self::Bomb { .. } => "bomb",
        }
    }

    /// Whether the archive was likely damaged in transit, so that
    /// downloading it again may help. The other errors are about the
    /// content itself.
    #[must_use]
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Self::NotZip
                | Self::Truncated { .. }
                | Self::BadHeader { .. }
                | Self::Corrupt { .. }
                | Self::CrcMismatch { .. }
                | Self::SizeMismatch { .. }
                | Self::DirectoryMismatch { .. }
                | Self::TrailingGarbage { .. }
        )
    }
}

/// How much a [`ZipReader::pull`] call did.
///
/// A call writes bytes of at most one member, and returns as soon as a
/// member has ended and passed its checks (`completed`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[must_use]
pub struct ZipProgress {
    /// Archive bytes consumed from the front of the input.
    pub consumed: usize,
    /// Decoded bytes written to the front of the output buffer.
    pub produced: usize,
    /// Index of the member the produced bytes belong to.
    pub member: Option<u32>,
    /// A member whose data ended in this call and passed its checks.
    pub completed: Option<ZipEntry>,
}

impl ZipProgress {
    /// True when the call consumed, produced and completed nothing: feed
    /// more input (or call `finish` at the end of the archive).
    #[must_use]
    pub fn is_stalled(&self) -> bool {
        self.consumed == 0 && self.produced == 0 && self.completed.is_none()
    }
}

/// Totals of a completely read archive, from [`ZipReader::finish`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ZipSummary {
    /// Every member, in archive order.
    pub entries: Vec<ZipEntry>,
    /// Archive bytes read.
    pub archive_bytes: u64,
    /// Decoded bytes of all members.
    pub decoded_bytes: u64,
}

crate::json_fields::deserialize_struct! {
    ZipSummary, fields = Camel, unknown = Ignore;
    entries, archive_bytes, decoded_bytes
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a 4-byte signature.
    Signature,
    LocalHeader,
    LocalName {
        len: usize,
        extra: usize,
    },
    Skip {
        left: u64,
        then: AfterSkip,
    },
    Data,
    Descriptor,
    CentralHeader,
    CentralName {
        len: usize,
        skip: u64,
    },
    End,
    Comment {
        left: u64,
    },
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterSkip {
    Data,
    Signature,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Members,
    Directory,
}

/// The member being read.
#[derive(Debug, Clone)]
struct Member {
    index: usize,
    method: ZipMethod,
    descriptor: bool,
    /// Sizes and CRC from the local header (zero when a descriptor follows).
    declared_crc: u32,
    declared_compressed: u64,
    declared_size: u64,
    sizes_known: bool,
    crc: Crc32,
    read: u64,
    produced: u64,
}

/// Raw-deflate inflater over a fixed buffer (window + fresh output): the
/// gzip decoder's backend (`inflate.rs`), so one inflate serves both.
struct Inflater {
    state: inflate::Inflater,
    buf: Box<[u8]>,
    read: usize,
    write: usize,
    done: bool,
}

impl Inflater {
    fn new() -> Self {
        Self {
            state: inflate::Inflater::default(),
            buf: vec![0u8; BUF_BYTES].into_boxed_slice(),
            read: 0,
            write: 0,
            done: false,
        }
    }

    fn reset(&mut self) {
        self.state.reset();
        self.read = 0;
        self.write = 0;
        self.done = false;
    }

    fn pending(&self) -> bool {
        self.read < self.write
    }

    fn copy_pending(&mut self, dst: &mut [u8]) -> usize {
        let pending = self.buf.get(self.read..self.write).unwrap_or_default();
        let n = pending.len().min(dst.len());
        if let (Some(d), Some(s)) = (dst.get_mut(..n), pending.get(..n)) {
            d.copy_from_slice(s);
        }
        self.read = self.read.saturating_add(n);
        n
    }

    /// Inflates from `input` into the buffer (nothing pending). Returns the
    /// input consumed and the fresh output's range.
    fn inflate(&mut self, input: &[u8]) -> Result<(usize, std::ops::Range<usize>), String> {
        if BUF_BYTES.saturating_sub(self.write) < MIN_ROOM_BYTES && self.write >= WINDOW_BYTES {
            let from = self.write.saturating_sub(WINDOW_BYTES);
            self.buf.copy_within(from..self.write, 0);
            self.read = WINDOW_BYTES;
            self.write = WINDOW_BYTES;
        }
        let (flow, consumed, produced) = self.state.inflate(input, &mut self.buf, self.write)?;
        let start = self.write;
        let end = start.saturating_add(produced).min(self.buf.len());
        self.write = end;
        if flow == Flow::Done {
            self.done = true;
        }
        Ok((consumed, start..end))
    }
}

/// Streaming ZIP reader with integrity checks, name checks and limits.
///
/// Feed the archive's bytes in order, split anywhere, to
/// [`pull`](Self::pull) with an output buffer you own; it returns how much
/// input it used, how many decoded bytes it wrote (all of one member, named
/// by [`ZipProgress::member`] and [`member_name`](Self::member_name)) and,
/// when a member ended, that member's verified [`ZipEntry`]. Call again with
/// the rest of the input until the call [stalls](ZipProgress::is_stalled),
/// then feed the next chunk; at the end call [`finish`](Self::finish).
///
/// Decoded bytes are provisional: a member's CRC-32 is checked when it ends,
/// and the archive as a whole only in `finish`. Memory is bounded (about
/// 170 KiB while inflating: a 128 KiB buffer plus the inflater's own 32 KiB
/// window and tables) whatever the archive's size. After the first
/// error every call returns that error again.
pub struct ZipReader {
    limits: ZipLimits,
    state: State,
    phase: Phase,
    hdr: Vec<u8>,
    /// Offset of the signature being read.
    sig_offset: u64,
    offset: u64,
    entries: Vec<ZipEntry>,
    /// Offsets of the members' local headers.
    header_offsets: Vec<u64>,
    member: Option<Member>,
    inflater: Option<Box<Inflater>>,
    decoded: u64,
    /// Central directory entries read so far, and where the directory began.
    directory_entries: usize,
    directory_start: u64,
    /// A check of the member whose name is not read yet.
    pending: Option<PendingCheck>,
    /// The paths the members so far take on a file system.
    claims: PathClaims,
    failed: StickyError<ZipError>,
}

impl core::fmt::Debug for ZipReader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ZipReader")
            .field("state", &self.state)
            .field("offset", &self.offset)
            .field("entries", &self.entries.len())
            .field("decoded", &self.decoded)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl ZipReader {
    /// A reader that enforces `limits`. Allocates its inflate buffer when
    /// the first deflated member begins.
    #[must_use]
    pub fn new(limits: ZipLimits) -> Self {
        Self {
            limits,
            state: State::Signature,
            phase: Phase::Members,
            hdr: Vec::new(),
            sig_offset: 0,
            offset: 0,
            entries: Vec::new(),
            header_offsets: Vec::new(),
            member: None,
            inflater: None,
            decoded: 0,
            directory_entries: 0,
            directory_start: 0,
            pending: None,
            claims: PathClaims::default(),
            failed: StickyError::default(),
        }
    }

    /// Archive bytes consumed so far.
    #[must_use]
    pub fn archive_bytes(&self) -> u64 {
        self.offset
    }

    /// Decoded bytes produced so far.
    #[must_use]
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded
    }

    /// The name of member `index` (read or being read).
    #[must_use]
    pub fn member_name(&self, index: u32) -> Option<&str> {
        self.entries.get(index as usize).map(|e| e.name.as_str())
    }

    /// The members whose headers were read so far; the last one may still be
    /// in progress (its CRC and sizes are final once it completed).
    #[must_use]
    pub fn entries(&self) -> &[ZipEntry] {
        &self.entries
    }

    /// Reads from the archive chunk `input` into `out`. See the type's docs.
    ///
    /// # Errors
    ///
    /// Any [`ZipError`]; the reader then returns the same error from every
    /// call.
    pub fn pull(&mut self, input: &[u8], out: &mut [u8]) -> Result<ZipProgress, ZipError> {
        self.failed.check()?;
        let r = self.pull_inner(input, out);
        self.failed.record(r)
    }

    /// Ends the archive and returns its members once every check passed.
    ///
    /// # Errors
    ///
    /// [`ZipError::Truncated`] if the archive did not reach its end record
    /// (or [`ZipError::NotZip`] for empty input), or the error that stopped
    /// reading earlier.
    pub fn finish(self) -> Result<ZipSummary, ZipError> {
        self.failed.into_result()?;
        let part = match self.state {
            State::Done => {
                return Ok(ZipSummary {
                    entries: self.entries,
                    archive_bytes: self.offset,
                    decoded_bytes: self.decoded,
                })
            }
            State::Signature if self.offset == 0 && self.hdr.is_empty() => {
                return Err(ZipError::NotZip)
            }
            State::Signature | State::LocalHeader | State::LocalName { .. } => match self.phase {
                Phase::Members => ZipPart::LocalHeader,
                Phase::Directory => ZipPart::CentralDirectory,
            },
            State::Skip {
                then: AfterSkip::Data,
                ..
            } => ZipPart::LocalHeader,
            State::Skip {
                then: AfterSkip::Signature,
                ..
            }
            | State::CentralHeader
            | State::CentralName { .. } => ZipPart::CentralDirectory,
            State::Data => ZipPart::Data,
            State::Descriptor => ZipPart::Descriptor,
            State::End | State::Comment { .. } => ZipPart::EndRecord,
        };
        Err(ZipError::Truncated { part })
    }

    fn eat(&mut self, p: &mut ZipProgress, n: usize) {
        p.consumed = p.consumed.saturating_add(n);
        self.offset = self.offset.saturating_add(n as u64);
    }

    /// Collects header bytes up to `need`; returns whether they are all here.
    fn collect(&mut self, p: &mut ZipProgress, input: &[u8], need: usize) -> bool {
        let rest = input.get(p.consumed..).unwrap_or_default();
        let take = need.saturating_sub(self.hdr.len()).min(rest.len());
        self.hdr
            .extend_from_slice(rest.get(..take).unwrap_or_default());
        self.eat(p, take);
        self.hdr.len() >= need
    }

    fn pull_inner(&mut self, input: &[u8], out: &mut [u8]) -> Result<ZipProgress, ZipError> {
        let mut p = ZipProgress::default();
        loop {
            match self.state {
                State::Signature => {
                    if self.hdr.is_empty() {
                        self.sig_offset = self.offset;
                    }
                    if !self.collect(&mut p, input, 4) {
                        return Ok(p);
                    }
                    let sig = le32(&self.hdr, 0);
                    self.hdr.clear();
                    self.on_signature(sig)?;
                }
                State::LocalHeader => {
                    if !self.collect(&mut p, input, LOCAL_FIXED) {
                        return Ok(p);
                    }
                    self.on_local_header()?;
                }
                State::LocalName { len, extra } => {
                    if !self.collect(&mut p, input, len) {
                        return Ok(p);
                    }
                    let name = self.take_name()?;
                    self.begin_member(name)?;
                    self.state = State::Skip {
                        left: extra as u64,
                        then: AfterSkip::Data,
                    };
                }
                State::Skip { left, then } => {
                    let rest = input.get(p.consumed..).unwrap_or_default();
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    self.eat(&mut p, n);
                    let left = left.saturating_sub(n as u64);
                    if left > 0 {
                        self.state = State::Skip { left, then };
                        return Ok(p);
                    }
                    self.state = match then {
                        AfterSkip::Data => State::Data,
                        AfterSkip::Signature => State::Signature,
                    };
                }
                State::Data => {
                    if self.data(&mut p, input, out)? {
                        continue;
                    }
                    return Ok(p);
                }
                State::Descriptor => {
                    if !self.collect(&mut p, input, 4) {
                        return Ok(p);
                    }
                    let need = if le32(&self.hdr, 0) == SIG_DESCRIPTOR {
                        16
                    } else {
                        12
                    };
                    if !self.collect(&mut p, input, need) {
                        return Ok(p);
                    }
                    let at = need - 12;
                    let (crc, compressed, size) = (
                        le32(&self.hdr, at),
                        le32(&self.hdr, at + 4),
                        le32(&self.hdr, at + 8),
                    );
                    self.hdr.clear();
                    p.completed =
                        Some(self.complete(Some((crc, u64::from(compressed), u64::from(size))))?);
                    self.state = State::Signature;
                    return Ok(p);
                }
                State::CentralHeader => {
                    if !self.collect(&mut p, input, CENTRAL_FIXED) {
                        return Ok(p);
                    }
                    self.on_central_header()?;
                }
                State::CentralName { len, skip } => {
                    if !self.collect(&mut p, input, CENTRAL_FIXED + len) {
                        return Ok(p);
                    }
                    self.check_central_name()?;
                    self.hdr.clear();
                    self.state = State::Skip {
                        left: skip,
                        then: AfterSkip::Signature,
                    };
                }
                State::End => {
                    if !self.collect(&mut p, input, END_FIXED) {
                        return Ok(p);
                    }
                    let comment = self.on_end_record()?;
                    self.hdr.clear();
                    self.state = State::Comment { left: comment };
                }
                State::Comment { left } => {
                    let rest = input.get(p.consumed..).unwrap_or_default();
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    self.eat(&mut p, n);
                    let left = left.saturating_sub(n as u64);
                    if left > 0 {
                        self.state = State::Comment { left };
                        return Ok(p);
                    }
                    self.state = State::Done;
                }
                State::Done => {
                    if input.len() > p.consumed {
                        return Err(ZipError::TrailingGarbage {
                            offset: self.offset,
                        });
                    }
                    return Ok(p);
                }
            }
        }
    }

    fn on_signature(&mut self, sig: u32) -> Result<(), ZipError> {
        match (sig, self.phase) {
            (SIG_LOCAL, Phase::Members) => {
                if self.entries.len() >= self.limits.max_entries as usize {
                    return Err(ZipError::TooManyEntries {
                        limit: self.limits.max_entries,
                    });
                }
                self.header_offsets.push(self.sig_offset);
                self.state = State::LocalHeader;
            }
            (SIG_CENTRAL, _) => {
                if self.phase == Phase::Members {
                    self.phase = Phase::Directory;
                    self.directory_start = self.sig_offset;
                }
                self.state = State::CentralHeader;
            }
            (SIG_END, _) => {
                if self.phase == Phase::Members {
                    self.directory_start = self.sig_offset;
                }
                self.state = State::End;
            }
            (SIG_ZIP64_END | SIG_ZIP64_LOCATOR, _) => {
                return Err(unsupported("zip64 (archives or members over 4 GiB)"))
            }
            (SIG_DESCRIPTOR, _) if self.sig_offset == 0 => {
                return Err(unsupported("split (multi-part) archives"))
            }
            _ if self.sig_offset == 0 => return Err(ZipError::NotZip),
            (other, _) => {
                return Err(ZipError::BadHeader {
                    offset: self.sig_offset,
                    detail: format!("unexpected signature {other:#010x}"),
                })
            }
        }
        Ok(())
    }

    fn on_local_header(&mut self) -> Result<(), ZipError> {
        let h = &self.hdr;
        let flags = le16(h, 2);
        let method = le16(h, 4);
        let crc = le32(h, 10);
        let compressed = le32(h, 14);
        let size = le32(h, 18);
        let name_len = usize::from(le16(h, 22));
        let extra_len = usize::from(le16(h, 24));
        self.hdr.clear();
        if compressed == u32::MAX || size == u32::MAX {
            return Err(unsupported("zip64 (archives or members over 4 GiB)"));
        }
        if name_len > self.limits.max_name_bytes as usize {
            return Err(ZipError::UnsafeName {
                name: format!("({name_len}-byte name)"),
                reason: format!("longer than {} bytes", self.limits.max_name_bytes),
            });
        }
        let method = match method {
            0 => ZipMethod::Stored,
            8 => ZipMethod::Deflated,
            other => {
                // The name is not read yet; say which member by position.
                self.pending = Some(PendingCheck::Method(other));
                ZipMethod::Stored
            }
        };
        if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_DIRECTORY) != 0 {
            self.pending = Some(PendingCheck::Encrypted);
        }
        let descriptor = flags & FLAG_DESCRIPTOR != 0;
        let sizes_known = !descriptor || compressed != 0;
        self.member = Some(Member {
            index: self.entries.len(),
            method,
            descriptor,
            declared_crc: crc,
            declared_compressed: u64::from(compressed),
            declared_size: u64::from(size),
            sizes_known,
            crc: Crc32::new(),
            read: 0,
            produced: 0,
        });
        self.state = State::LocalName {
            len: name_len,
            extra: extra_len,
        };
        Ok(())
    }

    fn take_name(&mut self) -> Result<String, ZipError> {
        let bytes = std::mem::take(&mut self.hdr);
        let name = match String::from_utf8(bytes) {
            Ok(name) => name,
            Err(e) => {
                return Err(ZipError::UnsafeName {
                    name: excerpt(&String::from_utf8_lossy(e.as_bytes())),
                    reason: "not UTF-8".to_owned(),
                })
            }
        };
        Ok(name)
    }

    fn begin_member(&mut self, name: String) -> Result<(), ZipError> {
        let is_dir = check_name(&name)?;
        if self.entries.iter().any(|e| e.name == name) {
            return Err(ZipError::DuplicateName {
                name: excerpt(&name),
            });
        }
        self.claims.claim(&name, is_dir)?;
        match self.pending.take() {
            Some(PendingCheck::Encrypted) => {
                return Err(ZipError::Encrypted {
                    name: excerpt(&name),
                })
            }
            Some(PendingCheck::Method(method)) => {
                return Err(ZipError::UnsupportedMethod {
                    name: excerpt(&name),
                    method,
                })
            }
            None => {}
        }
        let Some(member) = self.member.as_mut() else {
            return Err(ZipError::BadHeader {
                offset: self.offset,
                detail: "member name without a header".to_owned(),
            });
        };
        if member.method == ZipMethod::Stored && member.descriptor && !member.sizes_known {
            return Err(unsupported(
                "a stored member with a data descriptor (its end cannot be found while streaming)",
            ));
        }
        if member.sizes_known {
            if member.method == ZipMethod::Stored
                && member.declared_compressed != member.declared_size
            {
                return Err(ZipError::BadHeader {
                    offset: self.offset,
                    detail: format!("stored member {} declares different sizes", excerpt(&name)),
                });
            }
            if member.declared_size > self.limits.max_entry_bytes {
                return Err(ZipError::EntryTooLarge {
                    name: excerpt(&name),
                    limit: self.limits.max_entry_bytes,
                });
            }
            let ratio = member.declared_size / member.declared_compressed.max(1);
            if member.declared_size > self.limits.ratio_grace_bytes
                && ratio > u64::from(self.limits.max_ratio)
            {
                return Err(ZipError::Bomb {
                    name: excerpt(&name),
                    ratio,
                    limit: self.limits.max_ratio,
                });
            }
        }
        if is_dir && member.sizes_known && member.declared_size != 0 {
            return Err(ZipError::UnsafeName {
                name: excerpt(&name),
                reason: "a directory entry with data".to_owned(),
            });
        }
        if member.method == ZipMethod::Deflated {
            match self.inflater.as_mut() {
                Some(inflater) => inflater.reset(),
                None => self.inflater = Some(Box::new(Inflater::new())),
            }
        }
        self.entries.push(ZipEntry {
            index: u32::try_from(member.index).unwrap_or(u32::MAX),
            name,
            method: member.method,
            crc32: member.declared_crc,
            compressed_size: member.declared_compressed,
            size: member.declared_size,
            is_dir,
        });
        Ok(())
    }

    /// Moves member data. Returns `true` to continue the state loop, `false`
    /// when the call must return (output full or input used up).
    fn data(
        &mut self,
        p: &mut ZipProgress,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<bool, ZipError> {
        let Some(member) = self.member.as_ref() else {
            return Err(ZipError::BadHeader {
                offset: self.offset,
                detail: "member data without a header".to_owned(),
            });
        };
        let index = member.index;
        let known_left = member.declared_compressed.saturating_sub(member.read);
        match member.method {
            ZipMethod::Stored => {
                if known_left == 0 {
                    return self.end_of_data(p);
                }
                let rest = input.get(p.consumed..).unwrap_or_default();
                let dst = out.get_mut(p.produced..).unwrap_or_default();
                let n = usize::try_from(known_left)
                    .unwrap_or(usize::MAX)
                    .min(rest.len())
                    .min(dst.len());
                if n == 0 {
                    return Ok(false);
                }
                let (Some(src), Some(dst)) = (rest.get(..n), dst.get_mut(..n)) else {
                    return Ok(false);
                };
                self.check_limits(n as u64, n as u64)?;
                dst.copy_from_slice(src);
                if let Some(member) = self.member.as_mut() {
                    member.crc.update(src);
                }
                self.eat(p, n);
                p.produced = p.produced.saturating_add(n);
                p.member = u32::try_from(index).ok();
                Ok(true)
            }
            ZipMethod::Deflated => {
                let sizes_known = member.sizes_known;
                let Some(inflater) = self.inflater.as_mut() else {
                    return Err(ZipError::BadHeader {
                        offset: self.offset,
                        detail: "no inflater".to_owned(),
                    });
                };
                let dst = out.get_mut(p.produced..).unwrap_or_default();
                let copied = inflater.copy_pending(dst);
                if copied > 0 {
                    p.produced = p.produced.saturating_add(copied);
                    p.member = u32::try_from(index).ok();
                }
                if inflater.pending() {
                    return Ok(false);
                }
                if inflater.done {
                    return self.end_of_data(p);
                }
                let rest = input.get(p.consumed..).unwrap_or_default();
                let allowed = if sizes_known {
                    rest.get(
                        ..usize::try_from(known_left)
                            .unwrap_or(usize::MAX)
                            .min(rest.len()),
                    )
                    .unwrap_or_default()
                } else {
                    rest
                };
                if allowed.is_empty() {
                    if sizes_known && known_left == 0 {
                        // The declared compressed size is used up but the
                        // deflate stream has not ended.
                        return Err(
                            self.corrupt("the deflate stream runs past the member's declared size")
                        );
                    }
                    return Ok(false);
                }
                let (consumed, fresh) = match inflater.inflate(allowed) {
                    Ok(done) => done,
                    Err(detail) => return Err(self.corrupt(&detail)),
                };
                let fresh_len = (fresh.end - fresh.start) as u64;
                self.check_limits(consumed as u64, fresh_len)?;
                // The CRC is taken while the fresh bytes are still in cache.
                if let (Some(inflater), Some(member)) =
                    (self.inflater.as_ref(), self.member.as_mut())
                {
                    member
                        .crc
                        .update(inflater.buf.get(fresh).unwrap_or_default());
                }
                self.eat(p, consumed);
                if consumed == 0
                    && fresh_len == 0
                    && !self.inflater.as_ref().is_some_and(|i| i.done)
                {
                    return Ok(false);
                }
                Ok(true)
            }
        }
    }

    fn corrupt(&self, detail: &str) -> ZipError {
        ZipError::Corrupt {
            name: self.current_name_excerpt(),
            detail: detail.to_owned(),
        }
    }

    fn current_name_excerpt(&self) -> String {
        self.entries
            .last()
            .map(|e| excerpt(&e.name))
            .unwrap_or_default()
    }

    fn check_limits(&mut self, compressed: u64, produced: u64) -> Result<(), ZipError> {
        let name = self.current_name_excerpt();
        let limits = self.limits;
        let Some(member) = self.member.as_mut() else {
            return Ok(());
        };
        member.read = member.read.saturating_add(compressed);
        member.produced = member.produced.saturating_add(produced);
        self.decoded = self.decoded.saturating_add(produced);
        if member.sizes_known && member.produced > member.declared_size {
            return Err(ZipError::SizeMismatch {
                name,
                expected: member.declared_size,
                actual: member.produced,
            });
        }
        if member.produced > limits.max_entry_bytes {
            return Err(ZipError::EntryTooLarge {
                name,
                limit: limits.max_entry_bytes,
            });
        }
        if self.decoded > limits.max_total_bytes {
            return Err(ZipError::TooLarge {
                limit: limits.max_total_bytes,
            });
        }
        if member.produced > limits.ratio_grace_bytes {
            let ratio = member.produced / member.read.max(1);
            if ratio > u64::from(limits.max_ratio) {
                return Err(ZipError::Bomb {
                    name,
                    ratio,
                    limit: limits.max_ratio,
                });
            }
        }
        Ok(())
    }

    /// The member's data ended: read its descriptor or complete it.
    fn end_of_data(&mut self, p: &mut ZipProgress) -> Result<bool, ZipError> {
        let Some(member) = self.member.as_ref() else {
            return Ok(true);
        };
        if member.descriptor {
            self.state = State::Descriptor;
            return Ok(true);
        }
        p.completed = Some(self.complete(None)?);
        self.state = State::Signature;
        Ok(false)
    }

    /// Verifies a member against its header (or descriptor) and records it.
    fn complete(&mut self, descriptor: Option<(u32, u64, u64)>) -> Result<ZipEntry, ZipError> {
        let name = self.current_name_excerpt();
        let Some(member) = self.member.take() else {
            return Err(ZipError::BadHeader {
                offset: self.offset,
                detail: "no member to complete".to_owned(),
            });
        };
        let actual_crc = member.crc.value();
        let (crc, compressed, size) = match descriptor {
            Some(values) => {
                if member.sizes_known
                    && (values.1 != member.declared_compressed || values.2 != member.declared_size)
                {
                    return Err(ZipError::SizeMismatch {
                        name,
                        expected: member.declared_size,
                        actual: values.2,
                    });
                }
                values
            }
            None => (
                member.declared_crc,
                member.declared_compressed,
                member.declared_size,
            ),
        };
        if compressed != member.read {
            return Err(ZipError::SizeMismatch {
                name,
                expected: compressed,
                actual: member.read,
            });
        }
        if size != member.produced {
            return Err(ZipError::SizeMismatch {
                name,
                expected: size,
                actual: member.produced,
            });
        }
        if crc != actual_crc {
            return Err(ZipError::CrcMismatch {
                name,
                expected: crc,
                actual: actual_crc,
            });
        }
        let Some(entry) = self.entries.get_mut(member.index) else {
            return Err(ZipError::BadHeader {
                offset: self.offset,
                detail: "member index out of range".to_owned(),
            });
        };
        entry.crc32 = actual_crc;
        entry.compressed_size = member.read;
        entry.size = member.produced;
        Ok(entry.clone())
    }

    fn on_central_header(&mut self) -> Result<(), ZipError> {
        let h = &self.hdr;
        let name_len = usize::from(le16(h, 24));
        let skip = u64::from(le16(h, 26)) + u64::from(le16(h, 28));
        if name_len > self.limits.max_name_bytes as usize {
            return Err(mismatch(format!(
                "directory entry {} has a {name_len}-byte name",
                self.directory_entries
            )));
        }
        self.state = State::CentralName {
            len: name_len,
            skip,
        };
        Ok(())
    }

    fn check_central_name(&mut self) -> Result<(), ZipError> {
        let h = &self.hdr;
        let k = self.directory_entries;
        let Some(entry) = self.entries.get(k) else {
            return Err(mismatch(format!(
                "the directory lists more than the {} members read",
                self.entries.len()
            )));
        };
        let flags = le16(h, 4);
        let method = le16(h, 6);
        let crc = le32(h, 12);
        let compressed = le32(h, 16);
        let size = le32(h, 20);
        let disk = le16(h, 30);
        let local_offset = le32(h, 38);
        let name = h.get(CENTRAL_FIXED..).unwrap_or_default();
        if compressed == u32::MAX || size == u32::MAX || local_offset == u32::MAX {
            return Err(unsupported("zip64 (archives or members over 4 GiB)"));
        }
        if disk != 0 {
            return Err(unsupported("split (multi-part) archives"));
        }
        if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
            return Err(ZipError::Encrypted {
                name: excerpt(&entry.name),
            });
        }
        // Only the directory says what a member is on the system that made
        // it: a Unix symbolic link would point the files extracted after it
        // anywhere.
        let made_on_unix = h.get(1) == Some(&HOST_UNIX);
        if made_on_unix && (le32(h, 34) >> 16) & UNIX_FILE_TYPE == UNIX_SYMLINK {
            return Err(ZipError::UnsafeName {
                name: excerpt(&entry.name),
                reason: "a symbolic link".to_owned(),
            });
        }
        let expected_offset = self.header_offsets.get(k).copied().unwrap_or(u64::MAX);
        let problem = if name != entry.name.as_bytes() {
            Some("name")
        } else if method != entry.method.code() {
            Some("method")
        } else if crc != entry.crc32 {
            Some("CRC-32")
        } else if u64::from(compressed) != entry.compressed_size || u64::from(size) != entry.size {
            Some("sizes")
        } else if u64::from(local_offset) != expected_offset {
            Some("header offset")
        } else {
            None
        };
        if let Some(what) = problem {
            return Err(mismatch(format!(
                "entry {k} ({}) differs in its {what}",
                excerpt(&entry.name)
            )));
        }
        self.directory_entries = k.saturating_add(1);
        Ok(())
    }

    /// Checks the end record; returns the comment length.
    fn on_end_record(&mut self) -> Result<u64, ZipError> {
        let h = &self.hdr;
        let (disk, directory_disk) = (le16(h, 0), le16(h, 2));
        let (on_disk, total) = (le16(h, 4), le16(h, 6));
        let (size, start) = (le32(h, 8), le32(h, 12));
        let comment = u64::from(le16(h, 16));
        if total == u16::MAX || size == u32::MAX || start == u32::MAX {
            return Err(unsupported("zip64 (archives or members over 4 GiB)"));
        }
        if disk != 0 || directory_disk != 0 || on_disk != total {
            return Err(unsupported("split (multi-part) archives"));
        }
        let count = self.entries.len();
        if usize::from(total) != count || self.directory_entries != count {
            return Err(mismatch(format!(
                "{count} members were read, the directory lists {} and the end record {total}",
                self.directory_entries
            )));
        }
        let directory_size = self.sig_offset.saturating_sub(self.directory_start);
        if u64::from(start) != self.directory_start || u64::from(size) != directory_size {
            return Err(mismatch(
                "the end record points at another directory".to_owned(),
            ));
        }
        Ok(comment)
    }
}

/// A check that needs the member's name, which follows the fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingCheck {
    Encrypted,
    Method(u16),
}

fn le16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at.saturating_add(2)) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at.saturating_add(4)) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

fn unsupported(feature: &str) -> ZipError {
    ZipError::Unsupported {
        feature: feature.to_owned(),
    }
}

fn mismatch(detail: String) -> ZipError {
    ZipError::DirectoryMismatch { detail }
}

/// A name as it may appear in a message: escaped, at most a few dozen chars.
fn excerpt(name: &str) -> String {
    let escaped: String = name.chars().flat_map(char::escape_debug).collect();
    let mut out: String = escaped.chars().take(NAME_EXCERPT_CHARS).collect();
    if escaped.chars().nth(NAME_EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    format!("\"{out}\"")
}

/// The paths members take once extracted, compared as case-insensitive
/// file systems do, so that no member replaces or hides another.
#[derive(Debug, Clone, Default)]
struct PathClaims {
    /// Lower-cased file paths, with the name each was claimed by.
    files: BTreeMap<String, String>,
    /// Lower-cased directory paths (explicit or implied by a member below
    /// them), with the name that first implied each.
    dirs: BTreeMap<String, String>,
}

impl PathClaims {
    /// Claims the path of a member whose name passed [`check_name`].
    fn claim(&mut self, name: &str, is_dir: bool) -> Result<(), ZipError> {
        let conflict = |other: &String| ZipError::NameConflict {
            name: excerpt(name),
            other: excerpt(other),
        };
        let path = name.strip_suffix('/').unwrap_or(name).to_ascii_lowercase();
        if let Some(other) = self.files.get(&path) {
            return Err(conflict(other));
        }
        if !is_dir {
            if let Some(other) = self.dirs.get(&path) {
                return Err(conflict(other));
            }
        }
        let ancestors = path
            .match_indices('/')
            .map(|(at, _)| path.get(..at).unwrap_or_default());
        for ancestor in ancestors.clone() {
            if let Some(other) = self.files.get(ancestor) {
                return Err(conflict(other));
            }
        }
        for ancestor in ancestors {
            self.dirs
                .entry(ancestor.to_owned())
                .or_insert_with(|| name.to_owned());
        }
        if is_dir {
            self.dirs.entry(path).or_insert_with(|| name.to_owned());
        } else {
            self.files.insert(path, name.to_owned());
        }
        Ok(())
    }
}

/// Checks that a member name is a plain relative path; returns whether it
/// names a directory.
fn check_name(name: &str) -> Result<bool, ZipError> {
    let unsafe_name = |reason: &str| {
        Err(ZipError::UnsafeName {
            name: excerpt(name),
            reason: reason.to_owned(),
        })
    };
    if name.is_empty() {
        return unsafe_name("empty");
    }
    if name.chars().any(|c| c.is_control()) {
        return unsafe_name("control characters");
    }
    if name.contains('\\') {
        return unsafe_name("a backslash (a Windows path separator)");
    }
    if name.starts_with('/') {
        return unsafe_name("an absolute path");
    }
    let bytes = name.as_bytes();
    if bytes.get(1) == Some(&b':') && bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        return unsafe_name("a drive letter");
    }
    let is_dir = name.ends_with('/');
    let path = name.strip_suffix('/').unwrap_or(name);
    for segment in path.split('/') {
        match segment {
            ".." => return unsafe_name("a `..` segment that climbs out of the output directory"),
            "." => return unsafe_name("a `.` segment"),
            "" => return unsafe_name("an empty path segment"),
            _ => {}
        }
    }
    Ok(is_dir)
}

/// Reads a complete archive held in memory into its members (directories
/// included, with no bytes).
///
/// For small archives (tests, fixtures); stream large ones through
/// [`ZipReader`].
///
/// # Errors
///
/// Any [`ZipError`] [`ZipReader`] reports.
pub fn unzip(bytes: &[u8], limits: ZipLimits) -> Result<Vec<(ZipEntry, Vec<u8>)>, ZipError> {
    let mut reader = ZipReader::new(limits);
    let mut out = vec![0u8; 64 * 1024];
    let mut members: Vec<Vec<u8>> = Vec::new();
    let mut rest = bytes;
    loop {
        let p = reader.pull(rest, &mut out)?;
        if let Some(index) = p.member {
            let index = index as usize;
            if members.len() <= index {
                members.resize_with(index + 1, Vec::new);
            }
            if let Some(member) = members.get_mut(index) {
                member.extend_from_slice(out.get(..p.produced).unwrap_or_default());
            }
        }
        rest = rest.get(p.consumed..).unwrap_or_default();
        if p.is_stalled() {
            break;
        }
    }
    let summary = reader.finish()?;
    members.resize_with(summary.entries.len(), Vec::new);
    Ok(summary.entries.into_iter().zip(members).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{zip_archive, ZipMember};

    fn sample() -> Vec<u8> {
        zip_archive(&[
            ZipMember::new("a.csv", b"ID,NAME\n1,x\n2,y\n", ZipMethod::Deflated),
            ZipMember::new("dir/b.csv", &[b'z'; 5000], ZipMethod::Stored),
            ZipMember::new("c.json", b"[{\"a\":1}]", ZipMethod::Deflated).with_descriptor(),
            ZipMember::new("empty.csv", b"", ZipMethod::Deflated).with_descriptor(),
            ZipMember::new("e.csv", b"E\n", ZipMethod::Stored).with_descriptor(),
        ])
    }

    /// Reads `bytes` in chunks of `chunk` with an output buffer of `out`.
    fn read(
        bytes: &[u8],
        chunk: usize,
        out: usize,
        limits: ZipLimits,
    ) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
        let mut reader = ZipReader::new(limits);
        let mut buf = vec![0u8; out];
        let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
        let mut completed = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            let mut rest = piece;
            loop {
                let p = reader.pull(rest, &mut buf)?;
                if let Some(m) = p.member {
                    let name = reader.member_name(m).unwrap().to_owned();
                    if parts.last().map(|(n, _)| n != &name).unwrap_or(true) {
                        parts.push((name, Vec::new()));
                    }
                    parts
                        .last_mut()
                        .unwrap()
                        .1
                        .extend_from_slice(&buf[..p.produced]);
                }
                if let Some(entry) = p.completed.clone() {
                    completed.push(entry.name);
                }
                rest = &rest[p.consumed..];
                if p.is_stalled() {
                    break;
                }
            }
        }
        let summary = reader.finish()?;
        assert_eq!(
            summary
                .entries
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>(),
            completed
        );
        Ok(parts)
    }

    #[test]
    fn reads_every_method_and_descriptor_at_any_chunking() {
        let archive = sample();
        let expected = vec![
            ("a.csv".to_owned(), b"ID,NAME\n1,x\n2,y\n".to_vec()),
            ("dir/b.csv".to_owned(), vec![b'z'; 5000]),
            ("c.json".to_owned(), b"[{\"a\":1}]".to_vec()),
            ("e.csv".to_owned(), b"E\n".to_vec()),
        ];
        for chunk in [1, 2, 3, 7, 64, 1000, archive.len()] {
            for out in [1, 5, 64, 70_000] {
                assert_eq!(
                    read(&archive, chunk, out, ZipLimits::default()).unwrap(),
                    expected,
                    "chunk {chunk} out {out}"
                );
            }
        }
        let all = unzip(&archive, ZipLimits::default()).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[3].0.name, "empty.csv");
        assert!(all[3].1.is_empty());
        assert_eq!(all[1].0.size, 5000);
    }

    #[test]
    fn large_deflated_member_streams_through_the_window() {
        let data: Vec<u8> = (0..600_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let archive =
            zip_archive(&[ZipMember::new("big.bin", &data, ZipMethod::Deflated).with_descriptor()]);
        let parts = read(&archive, 4096, 10_000, ZipLimits::default()).unwrap();
        assert_eq!(parts[0].1, data);
    }

    #[test]
    fn empty_archive_is_fine_and_empty_input_is_not_zip() {
        let archive = zip_archive(&[]);
        assert!(unzip(&archive, ZipLimits::default()).unwrap().is_empty());
        assert_eq!(unzip(b"", ZipLimits::default()), Err(ZipError::NotZip));
        assert_eq!(
            unzip(b"<html>", ZipLimits::default()),
            Err(ZipError::NotZip)
        );
    }

    #[test]
    fn every_cut_is_truncated_and_every_flip_is_caught() {
        let archive = sample();
        for cut in 1..archive.len() {
            let result = unzip(&archive[..cut], ZipLimits::default());
            assert!(
                matches!(result, Err(ZipError::Truncated { .. })),
                "cut at {cut}: {result:?}"
            );
        }
        for at in 0..archive.len() {
            let mut bad = archive.clone();
            bad[at] ^= 0x10;
            // A flip may hit bytes nobody checks (times, version fields); it
            // must never change the members silently.
            if let Ok(members) = unzip(&bad, ZipLimits::default()) {
                let good = unzip(&archive, ZipLimits::default()).unwrap();
                let strip = |v: Vec<(ZipEntry, Vec<u8>)>| {
                    v.into_iter().map(|(e, d)| (e.name, d)).collect::<Vec<_>>()
                };
                assert_eq!(strip(members), strip(good), "flip at {at}");
            }
        }
        let mut extra = archive.clone();
        extra.push(0);
        assert_eq!(
            unzip(&extra, ZipLimits::default()),
            Err(ZipError::TrailingGarbage {
                offset: archive.len() as u64
            })
        );
    }

    #[test]
    fn crc_mismatch_is_reported_for_the_member() {
        let mut archive =
            zip_archive(&[ZipMember::new("a.csv", b"hello world", ZipMethod::Stored)]);
        // Flip a data byte (after the 30-byte header and the 5-byte name).
        archive[30 + 5 + 2] ^= 1;
        assert!(
            matches!(unzip(&archive, ZipLimits::default()), Err(ZipError::CrcMismatch { ref name, .. }) if name == "\"a.csv\"")
        );
    }

    #[test]
    fn unsafe_names_are_refused() {
        for (name, reason) in [
            ("../evil.csv", ".."),
            ("a/../../evil", ".."),
            ("/etc/passwd", "absolute"),
            ("C:evil", "drive"),
            ("a\\..\\b", "backslash"),
            ("a\nb", "control"),
            ("a//b", "empty"),
            ("./a", "`.`"),
            ("", "empty"),
        ] {
            let archive = zip_archive(&[ZipMember::new(name, b"x", ZipMethod::Stored)]);
            match unzip(&archive, ZipLimits::default()) {
                Err(e @ ZipError::UnsafeName { .. }) => {
                    assert!(e.to_string().contains(reason), "{name:?}: {e}");
                    assert!(!e.is_corruption());
                    assert!(!e.to_string().contains('\n'));
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
        let ok = zip_archive(&[
            ZipMember::new("[Content_Types].xml", b"x", ZipMethod::Stored),
            ZipMember::new("xl/worksheets/", b"", ZipMethod::Stored),
            ZipMember::new("отчёт.csv", b"y", ZipMethod::Deflated),
        ]);
        let members = unzip(&ok, ZipLimits::default()).unwrap();
        assert!(members[1].0.is_dir);
        let dup = zip_archive(&[
            ZipMember::new("a", b"1", ZipMethod::Stored),
            ZipMember::new("a", b"2", ZipMethod::Stored),
        ]);
        assert!(matches!(
            unzip(&dup, ZipLimits::default()),
            Err(ZipError::DuplicateName { .. })
        ));
    }

    #[test]
    fn members_that_would_land_on_one_path_are_refused() {
        let stored = |name: &'static str| ZipMember::new(name, b"x", ZipMethod::Stored);
        let dir = |name: &'static str| ZipMember::new(name, b"", ZipMethod::Stored);
        for (members, later) in [
            (vec![stored("a"), stored("a/b.csv")], "a/b.csv"),
            (vec![stored("a/b.csv"), stored("a")], "\"a\""),
            (vec![dir("a/"), stored("A")], "\"A\""),
            (
                vec![stored("Report.csv"), stored("report.CSV")],
                "report.CSV",
            ),
            (vec![stored("x/y"), stored("x/y/z")], "x/y/z"),
        ] {
            let archive = zip_archive(&members);
            match unzip(&archive, ZipLimits::default()) {
                Err(e @ ZipError::NameConflict { .. }) => {
                    assert!(e.to_string().contains(later), "{e}");
                    assert!(!e.is_corruption());
                    assert_eq!(e.kind(), "name_conflict");
                }
                other => panic!("{later}: {other:?}"),
            }
        }
        let fine = zip_archive(&[
            dir("a/"),
            stored("a/b"),
            stored("a/c"),
            dir("a/d/"),
            stored("a/d/e"),
        ]);
        assert_eq!(unzip(&fine, ZipLimits::default()).unwrap().len(), 5);
    }

    #[test]
    fn a_symbolic_link_recorded_by_unix_is_refused() {
        let archive = zip_archive(&[
            ZipMember::new("link", b"/etc", ZipMethod::Stored),
            ZipMember::new("data.csv", b"a,b", ZipMethod::Stored),
        ]);
        let mark = |mode: u32| {
            let mut patched = archive.clone();
            let at = patched
                .windows(4)
                .position(|w| w == SIG_CENTRAL.to_le_bytes())
                .unwrap();
            patched[at + 5] = HOST_UNIX;
            patched[at + 38..at + 42].copy_from_slice(&(mode << 16).to_le_bytes());
            patched
        };
        match unzip(&mark(0o120_777), ZipLimits::default()) {
            Err(e @ ZipError::UnsafeName { .. }) => {
                assert!(e.to_string().contains("symbolic link"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            unzip(&mark(0o100_644), ZipLimits::default()).unwrap().len(),
            2
        );
    }

    #[test]
    fn zip_bombs_are_refused_while_inflating_and_from_headers() {
        let zeros = vec![0u8; 4 << 20];
        let streamed = zip_archive(&[
            ZipMember::new("bomb.csv", &zeros, ZipMethod::Deflated).with_descriptor()
        ]);
        let result = read(&streamed, 1 << 16, 1 << 16, ZipLimits::default());
        assert!(matches!(result, Err(ZipError::Bomb { .. })), "{result:?}");
        let declared = zip_archive(&[ZipMember::new("bomb.csv", &zeros, ZipMethod::Deflated)]);
        let mut reader = ZipReader::new(ZipLimits::default());
        let mut out = [0u8; 16];
        // Refused at the header, before a byte is inflated.
        let err = reader.pull(&declared[..60], &mut out).unwrap_err();
        assert!(matches!(err, ZipError::Bomb { .. }), "{err}");
        assert!(!err.is_corruption());
        // A header that lies about the size is caught as soon as inflating passes it.
        let mut lying = declared.clone();
        lying[22..26].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            unzip(&lying, ZipLimits::default()),
            Err(ZipError::SizeMismatch { .. })
        ));
        // And limits hold whatever the ratio.
        let plain = zip_archive(&[ZipMember::new("big", &zeros[..100_000], ZipMethod::Stored)]);
        assert!(matches!(
            unzip(&plain, ZipLimits::default().with_max_bytes(50_000)),
            Err(ZipError::EntryTooLarge { .. })
        ));
        let many: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
        let members: Vec<ZipMember<'_>> = many
            .iter()
            .map(|n| ZipMember::new(n, b"", ZipMethod::Stored))
            .collect();
        let limits = ZipLimits {
            max_entries: 4,
            ..ZipLimits::default()
        };
        assert_eq!(
            unzip(&zip_archive(&members), limits),
            Err(ZipError::TooManyEntries { limit: 4 })
        );
    }

    #[test]
    fn encrypted_and_unknown_methods_are_refused() {
        let mut archive = zip_archive(&[ZipMember::new("a", b"x", ZipMethod::Stored)]);
        archive[6] |= 1;
        assert!(matches!(
            unzip(&archive, ZipLimits::default()),
            Err(ZipError::Encrypted { .. })
        ));
        let mut archive = zip_archive(&[ZipMember::new("a", b"x", ZipMethod::Stored)]);
        archive[8] = 12; // bzip2
        assert!(matches!(
            unzip(&archive, ZipLimits::default()),
            Err(ZipError::UnsupportedMethod { method: 12, .. })
        ));
        let mut descriptor_only =
            zip_archive(&[ZipMember::new("a", b"x", ZipMethod::Stored).with_descriptor()]);
        descriptor_only[18..26].fill(0);
        assert!(matches!(
            unzip(&descriptor_only, ZipLimits::default()),
            Err(ZipError::Unsupported { .. })
        ));
    }

    #[test]
    fn a_directory_that_disagrees_is_refused() {
        let archive = zip_archive(&[
            ZipMember::new("a", b"x", ZipMethod::Stored),
            ZipMember::new("b", b"y", ZipMethod::Stored),
        ]);
        // Point the second directory entry at the first local header (overlap).
        let directory = archive
            .windows(4)
            .rposition(|w| w == SIG_CENTRAL.to_le_bytes())
            .unwrap();
        let mut overlapping = archive.clone();
        overlapping[directory + 42..directory + 46].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            unzip(&overlapping, ZipLimits::default()),
            Err(ZipError::DirectoryMismatch { .. })
        ));
    }

    #[test]
    fn error_kinds_match_serde_tags() {
        let errors = [
            ZipError::NotZip,
            ZipError::Truncated {
                part: ZipPart::Data,
            },
            ZipError::UnsafeName {
                name: "x".into(),
                reason: "y".into(),
            },
            ZipError::Bomb {
                name: "x".into(),
                ratio: 9,
                limit: 1,
            },
        ];
        for e in errors {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["kind"], e.kind());
            assert_eq!(serde_json::from_value::<ZipError>(v).unwrap(), e);
        }
    }
}
