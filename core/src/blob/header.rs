//! The fixed 128-byte header: layout constants, the parsed form, and the first checks a
//! reader makes (magic, version, lengths) — everything needed before the checksum can be
//! computed. Offsets and the byte-by-byte layout are documented in `docs/blob-format.md`.

use core::fmt;

use super::error::BlobError;
use crate::nets::Architecture;

/// The four bytes every blob starts with.
pub const MAGIC: [u8; 4] = *b"HSEG";
/// Major format version this reader implements; any other major is refused.
pub const VERSION_MAJOR: u16 = 1;
/// Highest minor format version this crate reads and writes. Readers accept any minor of their
/// major; see the version policy in the format doc. The encoder writes 1.0 unless a blob uses a
/// 1.1 feature (packed per-channel records), and then 1.1 with [`FLAG_COMPACT`].
pub const VERSION_MINOR: u16 = 1;
/// Length of the 1.0 header; later minors may announce a longer one in `header_len`.
pub const HEADER_LEN: usize = 128;
/// Length of a 1.0 table entry; later minors may announce longer ones in `entry_len`.
pub const ENTRY_LEN: usize = 64;
/// Payloads start on multiples of this many bytes (from the start of the blob), so a blob
/// placed at a 64-byte aligned address can be used in place: every `f32`/`i32` view is
/// aligned, and every tensor starts on a cache line (and on a DMA/SIMD-friendly boundary).
/// In a 1.1 compact blob this holds for payloads of at least [`COMPACT_SMALL_LIMIT`] bytes;
/// shorter ones start at a multiple of their element size ([`payload_align`]).
pub const PAYLOAD_ALIGN: usize = 64;
/// In a compact blob ([`FLAG_COMPACT`]), payloads shorter than this many bytes are aligned
/// to their element size only: activation points, op integers and per-channel records are
/// read once per layer, so a cache-line start buys nothing, and 64-byte alignment cost more
/// padding than their own bytes (an activation point is one byte).
pub const COMPACT_SMALL_LIMIT: usize = 1024;
/// Bytes of the CRC-32C that follows the body.
pub const CHECKSUM_LEN: usize = 4;
/// Bytes of the Ed25519 signature that follows the checksum when [`FLAG_SIGNED`] is set.
pub const SIGNATURE_LEN: usize = 64;
/// Longest preset name the header holds.
pub const PRESET_CAP: usize = 32;

/// Flag bit: a signature follows the checksum.
pub const FLAG_SIGNED: u32 = 1;
/// Flag bit (format 1.1): the compact layout — payloads shorter than
/// [`COMPACT_SMALL_LIMIT`] bytes are aligned to their element size, names may share bytes,
/// and per-channel weights may use packed records (quant kind 3). A must-understand bit, so
/// a 1.0 reader refuses such a blob with [`BlobError::UnsupportedFlags`] before it looks at
/// anything it would misread.
pub const FLAG_COMPACT: u32 = 1 << 1;
/// Flag bits 0–15 are "must understand": a reader refuses a blob with one it does not know.
/// Bits 16–31 are "may ignore": a later minor may define them for hints an older reader can
/// safely skip.
pub const FLAGS_MUST_UNDERSTAND: u32 = 0x0000_ffff;
/// The must-understand flags this reader knows.
pub const KNOWN_FLAGS: u32 = FLAG_SIGNED | FLAG_COMPACT;

// Field offsets (all little-endian).
pub(crate) const OFF_MAJOR: usize = 4;
pub(crate) const OFF_MINOR: usize = 6;
pub(crate) const OFF_HEADER_LEN: usize = 8;
pub(crate) const OFF_FLAGS: usize = 12;
pub(crate) const OFF_BODY_LEN: usize = 16;
pub(crate) const OFF_TENSOR_COUNT: usize = 20;
pub(crate) const OFF_TABLE_OFFSET: usize = 24;
pub(crate) const OFF_ENTRY_LEN: usize = 28;
pub(crate) const OFF_NAMES_OFFSET: usize = 32;
pub(crate) const OFF_NAMES_LEN: usize = 36;
pub(crate) const OFF_FINGERPRINT: usize = 40;
pub(crate) const OFF_ARCHITECTURE: usize = 48;
pub(crate) const OFF_SCHEME: usize = 50;
pub(crate) const OFF_PRESET_LEN: usize = 51;
pub(crate) const OFF_PRESET: usize = 52;
/// First reserved header byte (reserved up to [`HEADER_LEN`]).
pub(crate) const OFF_RESERVED: usize = OFF_PRESET + PRESET_CAP;

/// The architecture id stored in the header.
pub const fn architecture_id(a: Architecture) -> u16 {
    match a {
        Architecture::AgcafNet => 1,
        Architecture::CafctNet => 2,
    }
}

/// The architecture an id stands for.
pub const fn architecture_from_id(id: u16) -> Option<Architecture> {
    match id {
        1 => Some(Architecture::AgcafNet),
        2 => Some(Architecture::CafctNet),
        _ => None,
    }
}

/// How the blob's tensors are quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantScheme {
    /// Plain `f32` parameters for the reference engine (id 0): every tensor is `f32`, none
    /// carries quantization parameters; the tensors are exactly the network's `PARAMS`.
    F32,
    /// TFLite-style int8 (id 1): `i8` weights symmetric per output channel, `i32` biases,
    /// per-tensor asymmetric activations, Q31 multipliers and shifts, `u8`/`i8`/`i32` tables.
    Int8PerChannel,
}

impl QuantScheme {
    /// The id stored in the header.
    pub const fn id(self) -> u8 {
        match self {
            QuantScheme::F32 => 0,
            QuantScheme::Int8PerChannel => 1,
        }
    }

    /// The scheme an id stands for.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(QuantScheme::F32),
            1 => Some(QuantScheme::Int8PerChannel),
            _ => None,
        }
    }

    /// A short name (`f32`, `int8-per-channel-tflite`).
    pub const fn name(self) -> &'static str {
        match self {
            QuantScheme::F32 => "f32",
            QuantScheme::Int8PerChannel => "int8-per-channel-tflite",
        }
    }
}

/// A preset name as stored in the header (printable ASCII, at most [`PRESET_CAP`] bytes); a
/// fixed-size value so that errors can carry it without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PresetName {
    bytes: [u8; PRESET_CAP],
    len: u8,
}

impl PresetName {
    /// The name, if it is 1..=32 printable ASCII bytes.
    pub fn new(name: &str) -> Option<Self> {
        let src = name.as_bytes();
        if src.is_empty() || src.len() > PRESET_CAP || !src.iter().all(u8::is_ascii_graphic) {
            return None;
        }
        let mut bytes = [0u8; PRESET_CAP];
        bytes.get_mut(..src.len())?.copy_from_slice(src);
        Some(Self {
            bytes,
            len: src.len() as u8,
        })
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        let used = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        core::str::from_utf8(used).unwrap_or("")
    }

    /// The 32 zero-padded bytes stored in the header.
    pub const fn padded(&self) -> &[u8; PRESET_CAP] {
        &self.bytes
    }
}

impl fmt::Debug for PresetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The header's fields, parsed and range-checked (see [`Header::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Major version (always [`VERSION_MAJOR`] once parsed).
    pub major: u16,
    /// Minor version (any).
    pub minor: u16,
    /// Header length in bytes (≥ [`HEADER_LEN`]).
    pub header_len: usize,
    /// Flag word.
    pub flags: u32,
    /// Bytes covered by the checksum: everything before it.
    pub body_len: usize,
    /// Number of table entries.
    pub tensor_count: usize,
    /// Offset of the tensor table.
    pub table_offset: usize,
    /// Length of one table entry (≥ [`ENTRY_LEN`]).
    pub entry_len: usize,
    /// Offset of the names region.
    pub names_offset: usize,
    /// Length of the names region.
    pub names_len: usize,
    /// Architecture fingerprint of the network the blob was written for.
    pub fingerprint: u64,
    /// The architecture.
    pub architecture: Architecture,
    /// The quantization scheme.
    pub scheme: QuantScheme,
    /// The preset name.
    pub preset: PresetName,
}

/// Little-endian readers that return `None` past the end instead of panicking.
pub(crate) fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}
pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}
pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// `u32` → `usize` (lossless on 32- and 64-bit targets; an impossible value on a 16-bit one
/// is reported as too large to hold).
pub(crate) fn to_usize(v: u32) -> Result<usize, BlobError> {
    usize::try_from(v).map_err(|_| BlobError::Truncated {
        needed: usize::MAX,
        available: 0,
    })
}

fn need(bytes: &[u8], n: usize) -> Result<(), BlobError> {
    if bytes.len() < n {
        Err(BlobError::Truncated {
            needed: n,
            available: bytes.len(),
        })
    } else {
        Ok(())
    }
}

/// The fields needed to find the checksum and the signature (magic, version, header length,
/// flags, body length), checked before anything else so that a blob can be checksummed (and a
/// damaged one reported as damaged) before its other fields are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lengths {
    pub(crate) major: u16,
    pub(crate) minor: u16,
    pub(crate) header_len: usize,
    pub(crate) flags: u32,
    pub(crate) body_len: usize,
}

impl Lengths {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, BlobError> {
        need(bytes, 4)?;
        let mut found = [0u8; 4];
        found.copy_from_slice(bytes.get(..4).unwrap_or(&[0; 4]));
        if found != MAGIC {
            return Err(BlobError::BadMagic { found });
        }
        need(bytes, OFF_HEADER_LEN)?;
        let major = u16_at(bytes, OFF_MAJOR).unwrap_or(0);
        let minor = u16_at(bytes, OFF_MINOR).unwrap_or(0);
        if major != VERSION_MAJOR {
            return Err(BlobError::UnsupportedVersion { major, minor });
        }
        need(bytes, HEADER_LEN)?;
        let header_len = to_usize(u32_at(bytes, OFF_HEADER_LEN).unwrap_or(0))?;
        if header_len < HEADER_LEN || !header_len.is_multiple_of(8) {
            return Err(BlobError::BadHeader {
                field: "header_len",
            });
        }
        need(bytes, header_len)?;
        let flags = u32_at(bytes, OFF_FLAGS).unwrap_or(0);
        if flags & FLAGS_MUST_UNDERSTAND & !KNOWN_FLAGS != 0 {
            return Err(BlobError::UnsupportedFlags { flags });
        }
        if flags & FLAG_COMPACT != 0 && minor < 1 {
            // The compact layout is a 1.1 feature: a 1.0 blob claiming it is damaged or forged.
            return Err(BlobError::BadHeader {
                field: "version_minor",
            });
        }
        let body_len = to_usize(u32_at(bytes, OFF_BODY_LEN).unwrap_or(0))?;
        if body_len < header_len {
            return Err(BlobError::BadHeader { field: "body_len" });
        }
        Ok(Self {
            major,
            minor,
            header_len,
            flags,
            body_len,
        })
    }

    /// Total blob length: body, checksum and (if signed) signature (saturating).
    pub(crate) const fn total_len(&self) -> usize {
        self.body_len.saturating_add(CHECKSUM_LEN).saturating_add(
            if self.flags & FLAG_SIGNED != 0 {
                SIGNATURE_LEN
            } else {
                0
            },
        )
    }
}

impl Header {
    /// Whether a signature follows the checksum.
    pub const fn is_signed(&self) -> bool {
        self.flags & FLAG_SIGNED != 0
    }

    /// Whether the blob uses the 1.1 compact layout ([`FLAG_COMPACT`]).
    pub const fn is_compact(&self) -> bool {
        self.flags & FLAG_COMPACT != 0
    }

    /// Total blob length: body, checksum and (if signed) signature.
    /// Saturates instead of overflowing (a 32-bit target and a body length near 4 GiB), so
    /// such a header reads as a blob longer than any buffer: [`BlobError::Truncated`].
    pub const fn total_len(&self) -> usize {
        self.body_len
            .saturating_add(CHECKSUM_LEN)
            .saturating_add(if self.is_signed() { SIGNATURE_LEN } else { 0 })
    }

    /// Parses and checks the header at the start of `bytes` (which may be longer: only the
    /// header is read). Order of checks, so that the first error is the most telling one:
    /// magic, major version, header length, flags, body length, then the other table and
    /// region fields, the identifying fields (architecture, scheme, preset) and the reserved
    /// bytes. ([`super::Blob::parse`] verifies the checksum between the two groups.)
    ///
    /// The regions the header points to are checked later, by [`super::Blob::parse`].
    pub fn parse(bytes: &[u8]) -> Result<Header, BlobError> {
        let Lengths {
            major,
            minor,
            header_len,
            flags,
            body_len,
        } = Lengths::parse(bytes)?;
        let field = |off: usize| -> Result<usize, BlobError> {
            to_usize(u32_at(bytes, off).ok_or(BlobError::Truncated {
                needed: off + 4,
                available: bytes.len(),
            })?)
        };
        let tensor_count = field(OFF_TENSOR_COUNT)?;
        let table_offset = field(OFF_TABLE_OFFSET)?;
        let entry_len = field(OFF_ENTRY_LEN)?;
        let names_offset = field(OFF_NAMES_OFFSET)?;
        let names_len = field(OFF_NAMES_LEN)?;
        if entry_len < ENTRY_LEN || !entry_len.is_multiple_of(8) {
            return Err(BlobError::BadHeader { field: "entry_len" });
        }
        if !table_offset.is_multiple_of(8) {
            return Err(BlobError::BadHeader {
                field: "table_offset",
            });
        }
        let fingerprint = u64_at(bytes, OFF_FINGERPRINT).unwrap_or(0);
        let arch_id = u16_at(bytes, OFF_ARCHITECTURE).unwrap_or(0);
        let architecture =
            architecture_from_id(arch_id).ok_or(BlobError::UnknownArchitecture { id: arch_id })?;
        let scheme_id = u8_at(bytes, OFF_SCHEME).unwrap_or(u8::MAX);
        let scheme = QuantScheme::from_id(scheme_id)
            .ok_or(BlobError::UnknownQuantScheme { id: scheme_id })?;
        let preset_len = usize::from(u8_at(bytes, OFF_PRESET_LEN).unwrap_or(0));
        let preset_bytes = bytes
            .get(OFF_PRESET..OFF_PRESET + PRESET_CAP)
            .unwrap_or(&[]);
        let preset = preset_bytes
            .get(..preset_len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .and_then(PresetName::new)
            .ok_or(BlobError::BadHeader { field: "preset" })?;
        if let Some(i) = preset_bytes.iter().skip(preset_len).position(|&b| b != 0) {
            return Err(BlobError::NonZeroPadding {
                offset: OFF_PRESET + preset_len + i,
            });
        }
        // Reserved bytes are undefined in the minors this reader knows, so they must be zero;
        // a newer minor may define them, and then this reader ignores them.
        if is_known_minor(minor) {
            check_zero(bytes, OFF_RESERVED, HEADER_LEN)?;
        }
        Ok(Header {
            major,
            minor,
            header_len,
            flags,
            body_len,
            tensor_count,
            table_offset,
            entry_len,
            names_offset,
            names_len,
            fingerprint,
            architecture,
            scheme,
            preset,
        })
    }
}

/// Whether `minor` is one this reader implements (its reserved fields are then undefined and
/// must be zero), as opposed to a newer one that may have defined them.
pub(crate) const fn is_known_minor(minor: u16) -> bool {
    minor <= VERSION_MINOR
}

/// The alignment a payload of `len` bytes of `dtype` needs: [`PAYLOAD_ALIGN`], or in a compact
/// blob, for payloads shorter than [`COMPACT_SMALL_LIMIT`], the element size (so typed views
/// still work at a 4-byte aligned blob address).
pub const fn payload_align(compact: bool, dtype: super::table::Dtype, len: usize) -> usize {
    if compact && len < COMPACT_SMALL_LIMIT {
        dtype.size()
    } else {
        PAYLOAD_ALIGN
    }
}

/// `Ok` if `bytes[from..to]` are all zero (and in bounds).
pub(crate) fn check_zero(bytes: &[u8], from: usize, to: usize) -> Result<(), BlobError> {
    let region = bytes.get(from..to).ok_or(BlobError::Truncated {
        needed: to,
        available: bytes.len(),
    })?;
    match region.iter().position(|&b| b != 0) {
        Some(i) => Err(BlobError::NonZeroPadding { offset: from + i }),
        None => Ok(()),
    }
}

/// The total length of the blob that starts at `bytes`, read from its header alone — for a
/// device that keeps the blob in a flash partition larger than the blob (erased flash after
/// it): `Blob::parse(&partition[..total_len(partition)?], …)`.
pub fn total_len(bytes: &[u8]) -> Result<usize, BlobError> {
    Ok(Lengths::parse(bytes)?.total_len())
}
