//! Everything that can be wrong with a weight blob, as a value.
//!
//! A blob arrives at run time (from flash, a file, a network transfer), so nothing about it is
//! trusted: every check that fails returns one of these variants instead of panicking, and each
//! variant carries enough context (a tensor index, an offset, the found value) for a device log
//! or `hepaseg inspect` to say exactly what is wrong without the blob at hand.

use core::fmt;

use super::header::PresetName;
use crate::nets::Architecture;

/// A region of the blob, for bounds and ordering errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// The fixed header.
    Header,
    /// The tensor table.
    Table,
    /// The names region.
    Names,
    /// The payload of tensor `n` (table index).
    Payload(u32),
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Region::Header => f.write_str("header"),
            Region::Table => f.write_str("tensor table"),
            Region::Names => f.write_str("names region"),
            Region::Payload(i) => write!(f, "payload of tensor #{i}"),
        }
    }
}

/// Why a blob was refused (or, for the encoder, could not be written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobError {
    /// The first four bytes are not `HSEG`.
    BadMagic {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// A major version this reader does not implement.
    UnsupportedVersion {
        /// Major version in the blob.
        major: u16,
        /// Minor version in the blob.
        minor: u16,
    },
    /// The bytes end before a structure the header announces.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// More bytes than the header accounts for (checksum and signature included).
    TrailingBytes {
        /// The blob's length according to its header.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// A header field holds an impossible value (named by `field`).
    BadHeader {
        /// The field.
        field: &'static str,
    },
    /// Must-understand flag bits this reader does not know.
    UnsupportedFlags {
        /// The flag word.
        flags: u32,
    },
    /// An architecture id this reader does not know.
    UnknownArchitecture {
        /// The id found.
        id: u16,
    },
    /// A quantization scheme id this reader does not know.
    UnknownQuantScheme {
        /// The id found.
        id: u8,
    },
    /// CRC-32C over the body differs from the stored value: the bytes were damaged.
    ChecksumMismatch {
        /// The value stored after the body.
        stored: u32,
        /// The value computed over the body.
        computed: u32,
    },
    /// The policy requires a signature and the blob carries none.
    SignatureMissing,
    /// The signature does not verify with the given public key (or is malformed).
    SignatureInvalid,
    /// The 32 bytes given as a public key are not a valid Ed25519 point.
    BadPublicKey,
    /// A region (table, names, a payload) reaches past the end of the body.
    OutOfBounds {
        /// The region.
        region: Region,
    },
    /// A region starts before the previous one ends: regions must follow each other in file
    /// order (header, table, names, payloads in table order) without overlapping.
    Overlap {
        /// The region that starts too early.
        region: Region,
    },
    /// Bytes between regions (or reserved fields) that must be zero are not.
    NonZeroPadding {
        /// Offset of the first non-zero byte.
        offset: usize,
    },
    /// A payload does not start on a 64-byte boundary of the blob (in a compact blob, a payload
    /// shorter than 1 KiB: on a multiple of its element size).
    Misaligned {
        /// Table index.
        tensor: u32,
        /// Its payload offset.
        offset: u32,
    },
    /// The blob is not at an address a typed view needs (4 bytes for `f32`/`i32`), or a
    /// typed view was asked for on a target that is not little-endian.
    BufferMisaligned {
        /// Alignment needed, in bytes.
        required: usize,
    },
    /// Table entries are not sorted by name hash.
    TableNotSorted {
        /// Index of the first entry out of order.
        tensor: u32,
    },
    /// Two tensors with the same name hash.
    DuplicateTensor {
        /// Index of the second one.
        tensor: u32,
    },
    /// A tensor name is empty, too long, outside the names region or not printable ASCII.
    BadName {
        /// Table index.
        tensor: u32,
    },
    /// The stored name hash is not FNV-1a 64 of the stored name.
    NameHashMismatch {
        /// Table index.
        tensor: u32,
    },
    /// An unknown dtype code.
    BadDtype {
        /// Table index.
        tensor: u32,
        /// The code.
        code: u8,
    },
    /// Rank above 4, a zero dimension, a non-zero unused dimension, or a payload length that
    /// is not `numel × dtype size`.
    BadShape {
        /// Table index.
        tensor: u32,
    },
    /// Quantization parameters that are malformed (kind, axis, companion tensors) or out of
    /// range (a scale not finite and positive, a zero point outside the dtype, a multiplier or
    /// shift outside what [`crate::int8::quant::quantize_multiplier`] produces).
    BadQuantParams {
        /// Table index.
        tensor: u32,
    },
    /// An `f32` payload holds NaN or ±∞.
    NonFiniteValue {
        /// Table index.
        tensor: u32,
    },
    /// A tensor's dtype or quantization does not belong to the blob's scheme (e.g. an `i8`
    /// tensor in an `f32` blob).
    SchemeMismatch {
        /// Table index.
        tensor: u32,
    },
    /// The blob is for another architecture.
    WrongNetwork {
        /// The network asked for.
        expected: Architecture,
        /// The blob's.
        found: Architecture,
    },
    /// The blob is for another preset of the same architecture.
    WrongPreset {
        /// The preset asked for.
        expected: &'static str,
        /// The blob's.
        found: PresetName,
    },
    /// Same architecture and preset name, but the parameter names/shapes differ (the wiring
    /// changed since the blob was written).
    FingerprintMismatch {
        /// The network's.
        expected: u64,
        /// The blob's.
        found: u64,
    },
    /// The blob's quantization scheme is not the one asked for.
    WrongScheme {
        /// Scheme id asked for.
        expected: u8,
        /// Scheme id in the blob.
        found: u8,
    },
    /// No tensor with this name (hash) in the blob.
    UnknownTensor {
        /// FNV-1a 64 of the name looked for.
        name_hash: u64,
    },
    /// A table index beyond the tensor count.
    NoSuchIndex {
        /// The index asked for.
        index: usize,
    },
    /// A parameter of the network (row of `N::PARAMS`) is not in the blob.
    MissingTensor {
        /// Row of the network's parameter table.
        param: usize,
    },
    /// A tensor of an `f32` blob that is not a parameter of the network.
    UnexpectedTensor {
        /// Table index.
        tensor: u32,
    },
    /// A tensor's shape differs from the network's parameter of the same name.
    WrongShape {
        /// Row of the network's parameter table.
        param: usize,
    },
    /// A typed view of a tensor of another dtype.
    WrongDtype {
        /// Table index.
        tensor: u32,
    },
    /// (Encoder) the output buffer is too small.
    OutputTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// (Encoder) the blob would exceed the format's 4 GiB limit (offsets are `u32`).
    TooLarge,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use BlobError as E;
        match *self {
            E::BadMagic { found } => write!(
                f,
                "not a hepaseg weight blob (magic {:02x} {:02x} {:02x} {:02x}, expected \"HSEG\")",
                found[0], found[1], found[2], found[3]
            ),
            E::UnsupportedVersion { major, minor } => write!(
                f,
                "unsupported blob format version {major}.{minor} (this reader implements {}.x)",
                super::header::VERSION_MAJOR
            ),
            E::Truncated { needed, available } => write!(
                f,
                "truncated blob: {needed} bytes needed, {available} available"
            ),
            E::TrailingBytes { expected, found } => write!(
                f,
                "{found} bytes given, the header accounts for {expected} (trailing data)"
            ),
            E::BadHeader { field } => write!(f, "invalid header field `{field}`"),
            E::UnsupportedFlags { flags } => {
                write!(f, "unsupported must-understand flags 0x{flags:08x}")
            }
            E::UnknownArchitecture { id } => write!(f, "unknown architecture id {id}"),
            E::UnknownQuantScheme { id } => write!(f, "unknown quantization scheme id {id}"),
            E::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch (stored CRC-32C 0x{stored:08x}, computed 0x{computed:08x}): \
                 the blob is damaged"
            ),
            E::SignatureMissing => write!(f, "a signature is required but the blob is unsigned"),
            E::SignatureInvalid => write!(f, "signature invalid for the given public key"),
            E::BadPublicKey => write!(f, "the public key is not a valid Ed25519 key"),
            E::OutOfBounds { region } => write!(f, "{region} reaches past the end of the body"),
            E::Overlap { region } => {
                write!(
                    f,
                    "{region} overlaps the previous region or is out of order"
                )
            }
            E::NonZeroPadding { offset } => {
                write!(f, "padding or reserved byte at offset {offset} is not zero")
            }
            E::Misaligned { tensor, offset } => write!(
                f,
                "payload of tensor #{tensor} at offset {offset} is not aligned as the format requires \
                 (64 bytes; in a compact blob, its element size below 1 KiB)"
            ),
            E::BufferMisaligned { required } => write!(
                f,
                "blob buffer is not {required}-byte aligned in memory (or the target is not \
                 little-endian)"
            ),
            E::TableNotSorted { tensor } => {
                write!(f, "tensor table not sorted by name hash at entry #{tensor}")
            }
            E::DuplicateTensor { tensor } => {
                write!(f, "tensor #{tensor} duplicates the previous tensor's name")
            }
            E::BadName { tensor } => write!(f, "tensor #{tensor} has an invalid name"),
            E::NameHashMismatch { tensor } => {
                write!(
                    f,
                    "tensor #{tensor}: stored name hash does not match its name"
                )
            }
            E::BadDtype { tensor, code } => {
                write!(f, "tensor #{tensor} has unknown dtype code {code}")
            }
            E::BadShape { tensor } => write!(
                f,
                "tensor #{tensor} has an invalid shape or a payload length that does not match it"
            ),
            E::BadQuantParams { tensor } => {
                write!(f, "tensor #{tensor} has invalid quantization parameters")
            }
            E::NonFiniteValue { tensor } => {
                write!(f, "tensor #{tensor} holds a non-finite value")
            }
            E::SchemeMismatch { tensor } => write!(
                f,
                "tensor #{tensor} does not belong to the blob's quantization scheme"
            ),
            E::WrongNetwork { expected, found } => write!(
                f,
                "blob is for {}, expected {}",
                found.name(),
                expected.name()
            ),
            E::WrongPreset { expected, found } => write!(
                f,
                "blob is for preset `{}`, expected `{expected}`",
                found.as_str()
            ),
            E::FingerprintMismatch { expected, found } => write!(
                f,
                "architecture fingerprint {found:016x} does not match the network's \
                 {expected:016x} (parameter names or shapes changed)"
            ),
            E::WrongScheme { expected, found } => write!(
                f,
                "blob has quantization scheme {found}, expected {expected}"
            ),
            E::UnknownTensor { name_hash } => {
                write!(f, "no tensor with name hash {name_hash:016x}")
            }
            E::NoSuchIndex { index } => write!(f, "no tensor #{index}"),
            E::MissingTensor { param } => {
                write!(f, "parameter #{param} of the network is not in the blob")
            }
            E::UnexpectedTensor { tensor } => {
                write!(f, "tensor #{tensor} is not a parameter of the network")
            }
            E::WrongShape { param } => write!(
                f,
                "parameter #{param} has a different shape in the blob than in the network"
            ),
            E::WrongDtype { tensor } => {
                write!(
                    f,
                    "tensor #{tensor} has another dtype than the one asked for"
                )
            }
            E::OutputTooSmall { needed, available } => write!(
                f,
                "output buffer too small: {needed} bytes needed, {available} available"
            ),
            E::TooLarge => write!(f, "blob would exceed the format's 4 GiB limit"),
        }
    }
}

impl core::error::Error for BlobError {}
