//! The flashable weight blob: a zero-copy, validating reader (and, for the host and tests, an
//! allocation-free encoder).
//!
//! A blob is what gets flashed onto a scanner-side device: one little-endian file holding a
//! network's tensors, identified by architecture, preset and architecture fingerprint, with a
//! CRC-32C checksum and an optional Ed25519 signature. The byte-by-byte layout and the version
//! policy are in `docs/blob-format.md`; in short:
//!
//! ```text
//! [header 128 B][tensor table: 64 B per tensor, sorted by name hash][names]
//! [payloads, each at a multiple of 64 B, in table order][CRC-32C of all before it]
//! [Ed25519 signature of all before it — when the SIGNED flag is set]
//! ```
//!
//! [`Blob::parse`] checks **everything** before handing out a single tensor: magic, version,
//! lengths, checksum, signature (per [`SignaturePolicy`]), that every region lies inside the
//! body in file order without overlap and with zero padding, every entry's name, hash, dtype,
//! shape, alignment and quantization parameters (scales finite and positive, zero points in
//! range, companion tensors of the right dtype and length), and that `f32` payloads are
//! finite. Every failure is a [`BlobError`]; nothing here panics or allocates. After that,
//! tensors are borrowed straight from the input bytes ([`Blob::tensor_f32`] and friends), so a
//! blob in memory-mapped flash is used in place.
//!
//! [`Blob::for_network`] adds the checks that tie a blob to one concrete [`Network`]
//! (architecture, preset, fingerprint, and for `f32` blobs every parameter present with its
//! shape), and [`BlobParams`] feeds an `f32` blob to the reference engine:
//!
//! ```ignore
//! let blob = Blob::for_network::<AgcafEdge>(bytes, SignaturePolicy::Required(&KEY))?;
//! let params = BlobParams::new::<AgcafEdge>(blob)?;
//! let logits = AgcafEdge::forward_flat(&params, input, arena)?;
//! ```
//!
//! **Alignment.** Payloads are 64-byte aligned *within* the blob; typed views need the blob
//! itself at a 4-byte aligned address (best: 64-byte, e.g. a `#[repr(align(64))]` static or a
//! flash partition start). A misaligned buffer gives [`BlobError::BufferMisaligned`], never a
//! copy. Typed views also need a little-endian target (every device hepaseg targets is).

mod encode;
mod error;
mod header;
mod table;
mod verify;

pub use encode::{encode, encoded_len, seal, BlobSpec, QuantDesc, TensorDesc};
pub use error::{BlobError, Region};
pub use header::{
    architecture_from_id, architecture_id, payload_align, total_len, Header, PresetName,
    QuantScheme, CHECKSUM_LEN, COMPACT_SMALL_LIMIT, ENTRY_LEN, FLAGS_MUST_UNDERSTAND, FLAG_COMPACT,
    FLAG_SIGNED, HEADER_LEN, KNOWN_FLAGS, MAGIC, PAYLOAD_ALIGN, PRESET_CAP, SIGNATURE_LEN,
    VERSION_MAJOR, VERSION_MINOR,
};
pub use table::{
    name_hash, Dtype, Quant, TensorInfo, MAX_RANK, NAME_MAX, NO_TENSOR, PACKED_ROWS,
    PACKED_ROW_BIAS, PACKED_ROW_MULTIPLIER, PACKED_ROW_SCALE, PACKED_ROW_SHIFT,
};
pub use verify::{checksum, verify_ed25519, SignaturePolicy};

use crate::nets::Network;
use crate::params::{ParamSource, ParamSpec};
use header::{check_zero, u32_at};
use table::{decode_entry, entry_hash};

/// The four rows of a packed per-channel record, borrowed from the blob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackedRows<'a> {
    /// Weight scales `s_w[c]`.
    pub scales: &'a [f32],
    /// Q31 multipliers of `s_in · s_w[c] / s_out`.
    pub multiplier: &'a [i32],
    /// Their shifts.
    pub shift: &'a [i32],
    /// `i32` biases at scale `s_in · s_w[c]`.
    pub bias: &'a [i32],
}

/// A parsed, fully validated blob borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Blob<'a> {
    bytes: &'a [u8],
    header: Header,
}

/// Walks the body's regions in file order, checking that each starts at or after the end of
/// the previous one, ends inside the body, and that the gap before it is zero.
struct RegionWalk<'a> {
    bytes: &'a [u8],
    body_len: usize,
    cursor: usize,
}

impl RegionWalk<'_> {
    fn next(&mut self, region: Region, start: usize, len: usize) -> Result<(), BlobError> {
        if start < self.cursor {
            return Err(BlobError::Overlap { region });
        }
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.body_len)
            .ok_or(BlobError::OutOfBounds { region })?;
        check_zero(self.bytes, self.cursor, start)?;
        self.cursor = end;
        Ok(())
    }
}

/// Little-endian `f32`s of a payload, independent of its address.
fn le_f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Little-endian `i32`s of a payload, independent of its address.
fn le_i32s(bytes: &[u8]) -> impl Iterator<Item = i32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

impl<'a> Blob<'a> {
    /// Parses and validates a blob that is exactly `bytes` long (see [`total_len`] for one
    /// that sits at the start of a larger region).
    ///
    /// Order: the header fields that locate the checksum (magic, version, lengths, flags), the
    /// total length, the checksum, the signature, then the rest of the header (identity
    /// fields, reserved bytes) and the structure. The checksum comes before the structure so that damage
    /// is reported as damage; the structure is still checked in full afterwards, because a
    /// CRC can be recomputed by anyone and must not be the only line of defence.
    pub fn parse(bytes: &'a [u8], policy: SignaturePolicy<'_>) -> Result<Self, BlobError> {
        let lengths = header::Lengths::parse(bytes)?;
        let total = lengths.total_len();
        if bytes.len() < total {
            return Err(BlobError::Truncated {
                needed: total,
                available: bytes.len(),
            });
        }
        if bytes.len() > total {
            return Err(BlobError::TrailingBytes {
                expected: total,
                found: bytes.len(),
            });
        }
        let signed = lengths.flags & FLAG_SIGNED != 0;
        verify::check_checksum(bytes, lengths.body_len)?;
        verify::check_signature(bytes, lengths.body_len, signed, policy)?;
        let header = Header::parse(bytes)?;
        let blob = Blob { bytes, header };
        blob.check_structure()?;
        Ok(blob)
    }

    fn check_structure(&self) -> Result<(), BlobError> {
        let h = &self.header;
        let mut walk = RegionWalk {
            bytes: self.bytes,
            body_len: h.body_len,
            cursor: h.header_len,
        };
        let table_len = h
            .tensor_count
            .checked_mul(h.entry_len)
            .ok_or(BlobError::OutOfBounds {
                region: Region::Table,
            })?;
        walk.next(Region::Table, h.table_offset, table_len)?;
        walk.next(Region::Names, h.names_offset, h.names_len)?;
        // Pass 1: each entry on its own, and the table's order (which also rules out
        // duplicates: a sorted table holds equal hashes next to each other).
        let mut prev_hash = None;
        for i in 0..h.tensor_count {
            let t = decode_entry(self.bytes, h, i)?;
            match prev_hash {
                Some(p) if t.name_hash == p => {
                    return Err(BlobError::DuplicateTensor { tensor: t.index })
                }
                Some(p) if t.name_hash < p => {
                    return Err(BlobError::TableNotSorted { tensor: t.index })
                }
                _ => {}
            }
            prev_hash = Some(t.name_hash);
        }
        // Pass 2: payloads in file order, their scheme and values.
        for i in 0..h.tensor_count {
            let t = decode_entry(self.bytes, h, i)?;
            walk.next(Region::Payload(t.index), t.offset as usize, t.len as usize)?;
            let scheme_ok = match h.scheme {
                QuantScheme::F32 => t.dtype == Dtype::F32 && t.quant == Quant::None,
                QuantScheme::Int8PerChannel => true,
            };
            if !scheme_ok {
                return Err(BlobError::SchemeMismatch { tensor: t.index });
            }
            if t.dtype == Dtype::F32 && !le_f32s(self.payload_of(&t)?).all(f32::is_finite) {
                return Err(BlobError::NonFiniteValue { tensor: t.index });
            }
        }
        if walk.cursor != h.body_len {
            return Err(BlobError::BadHeader { field: "body_len" });
        }
        // Pass 3: per-channel companions (needs every entry checked).
        for i in 0..h.tensor_count {
            let t = decode_entry(self.bytes, h, i)?;
            match t.quant {
                Quant::PerChannel {
                    axis,
                    scales,
                    multiplier,
                    shift,
                } => self.check_per_channel(&t, axis, scales, multiplier, shift)?,
                Quant::PerChannelPacked { axis, record } => self.check_packed(&t, axis, record)?,
                Quant::None | Quant::PerTensor { .. } => {}
            }
        }
        Ok(())
    }

    /// The record of a packed per-channel weight (1.1): an `i32 [4, C]` tensor without
    /// quantization of its own, `C` the weight's channel count, whose rows hold the scales'
    /// `f32` bit patterns (finite, positive), the Q31 multipliers (0 or in `[2^30, 2^31)`),
    /// the shifts (`−31..=30`) and the `i32` biases (any value).
    fn check_packed(&self, t: &TensorInfo<'a>, axis: u8, record: u32) -> Result<(), BlobError> {
        let bad = BlobError::BadQuantParams { tensor: t.index };
        let channels = *t.dims.get(usize::from(axis)).ok_or(bad)?;
        let r = self.tensor(record as usize).map_err(|_| bad)?;
        if r.dtype != Dtype::I32
            || r.shape() != [PACKED_ROWS as u32, channels]
            || r.quant != Quant::None
        {
            return Err(bad);
        }
        let values = self.payload_of(&r).map_err(|_| bad)?;
        let row = |k: usize| {
            let c = channels as usize * 4;
            values.get(k * c..(k + 1) * c).unwrap_or(&[])
        };
        let scales_ok = le_f32s(row(PACKED_ROW_SCALE)).all(|s| s.is_finite() && s > 0.0);
        let mult_ok = le_i32s(row(PACKED_ROW_MULTIPLIER)).all(|m| m == 0 || m >= 1 << 30);
        let shift_ok = le_i32s(row(PACKED_ROW_SHIFT)).all(|s| (-31..=30).contains(&s));
        if scales_ok && mult_ok && shift_ok {
            Ok(())
        } else {
            Err(bad)
        }
    }

    /// The rows of a packed per-channel record (see [`Quant::PerChannelPacked`]), in place:
    /// `(scales, multipliers, shifts, biases)`, each one value per channel. Needs the blob
    /// 4-byte aligned in memory.
    pub fn packed_rows(&self, record: u32) -> Result<PackedRows<'a>, BlobError> {
        let all = self.tensor_i32(record as usize)?;
        let channels = all.len() / PACKED_ROWS;
        let row = |k: usize| {
            all.get(k * channels..(k + 1) * channels)
                .ok_or(BlobError::BadShape { tensor: record })
        };
        let scales: &'a [i32] = row(PACKED_ROW_SCALE)?;
        Ok(PackedRows {
            scales: bytemuck::try_cast_slice(scales)
                .map_err(|_| BlobError::BadShape { tensor: record })?,
            multiplier: row(PACKED_ROW_MULTIPLIER)?,
            shift: row(PACKED_ROW_SHIFT)?,
            bias: row(PACKED_ROW_BIAS)?,
        })
    }

    /// Companions of a per-channel weight: `f32` scales (finite, positive), and optionally
    /// `i32` Q31 multipliers (0 or in `[2^30, 2^31)`) and shifts (`−31..=30`), each a rank-1
    /// tensor with one value per channel and no quantization of its own.
    fn check_per_channel(
        &self,
        t: &TensorInfo<'a>,
        axis: u8,
        scales: u32,
        multiplier: Option<u32>,
        shift: Option<u32>,
    ) -> Result<(), BlobError> {
        let bad = BlobError::BadQuantParams { tensor: t.index };
        let channels = *t.dims.get(usize::from(axis)).ok_or(bad)?;
        let companion = |index: u32, dtype: Dtype| -> Result<&'a [u8], BlobError> {
            let c = self.tensor(index as usize).map_err(|_| bad)?;
            if c.dtype != dtype || c.rank != 1 || c.dims[0] != channels || c.quant != Quant::None {
                return Err(bad);
            }
            self.payload_of(&c).map_err(|_| bad)
        };
        if !le_f32s(companion(scales, Dtype::F32)?).all(|s| s.is_finite() && s > 0.0) {
            return Err(bad);
        }
        if let Some(m) = multiplier {
            if !le_i32s(companion(m, Dtype::I32)?).all(|m| m == 0 || m >= 1 << 30) {
                return Err(bad);
            }
        }
        if let Some(s) = shift {
            if !le_i32s(companion(s, Dtype::I32)?).all(|s| (-31..=30).contains(&s)) {
                return Err(bad);
            }
        }
        Ok(())
    }

    /// Parses `bytes` and checks that the blob is for network `N`: architecture, preset and
    /// fingerprint; for an `f32` blob also that its tensors are exactly `N::PARAMS` with the
    /// same shapes (an int8 blob holds folded, quantized tensors whose list the int8 engine
    /// checks); and that the bytes sit at a 4-byte aligned address, so that the typed views
    /// the engines take cannot fail later.
    pub fn for_network<N: Network>(
        bytes: &'a [u8],
        policy: SignaturePolicy<'_>,
    ) -> Result<Self, BlobError> {
        let blob = Self::parse(bytes, policy)?;
        blob.check_network::<N>()?;
        Ok(blob)
    }

    /// The network checks of [`Blob::for_network`] on an already parsed blob.
    pub fn check_network<N: Network>(&self) -> Result<(), BlobError> {
        let h = &self.header;
        if h.architecture != N::ARCHITECTURE {
            return Err(BlobError::WrongNetwork {
                expected: N::ARCHITECTURE,
                found: h.architecture,
            });
        }
        if h.preset.as_str() != N::PRESET {
            return Err(BlobError::WrongPreset {
                expected: N::PRESET,
                found: h.preset,
            });
        }
        if h.fingerprint != N::FINGERPRINT {
            return Err(BlobError::FingerprintMismatch {
                expected: N::FINGERPRINT,
                found: h.fingerprint,
            });
        }
        if h.scheme == QuantScheme::F32 {
            self.check_params(N::PARAMS)?;
        }
        if !self.bytes.as_ptr().addr().is_multiple_of(4) {
            return Err(BlobError::BufferMisaligned { required: 4 });
        }
        Ok(())
    }

    /// That the blob's tensors are exactly `table`'s rows, each with its shape.
    fn check_params(&self, table: &[ParamSpec]) -> Result<(), BlobError> {
        for (param, p) in table.iter().enumerate() {
            let index = self
                .find(name_hash(p.name.as_str()))
                .map_err(|_| BlobError::MissingTensor { param })?;
            let t = self.tensor(index)?;
            if t.name != p.name.as_str() {
                return Err(BlobError::MissingTensor { param });
            }
            if !t.shape_is(p.shape()) {
                return Err(BlobError::WrongShape { param });
            }
        }
        if self.header.tensor_count != table.len() {
            // Every row is present and names are unique, so there are extra tensors.
            for t in self.tensors() {
                if !table.iter().any(|p| p.name.as_str() == t.name) {
                    return Err(BlobError::UnexpectedTensor { tensor: t.index });
                }
            }
        }
        Ok(())
    }

    /// The header's fields.
    pub const fn header(&self) -> &Header {
        &self.header
    }

    /// All bytes of the blob (header to signature).
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Number of tensors.
    pub const fn tensor_count(&self) -> usize {
        self.header.tensor_count
    }

    /// The CRC-32C stored after the body (already verified by [`Blob::parse`]).
    pub fn stored_checksum(&self) -> u32 {
        u32_at(self.bytes, self.header.body_len).unwrap_or(0)
    }

    /// The signature, if the blob is signed (verified only if the policy said so).
    pub fn signature(&self) -> Option<&'a [u8; SIGNATURE_LEN]> {
        verify::signature_parts(self.bytes, self.header.body_len, self.header.is_signed())
            .ok()
            .flatten()
            .map(|(_, s)| s)
    }

    /// Verifies the signature with `key`: [`BlobError::SignatureMissing`] if unsigned,
    /// [`BlobError::SignatureInvalid`] if it does not verify.
    pub fn verify_signature(&self, key: &[u8; 32]) -> Result<(), BlobError> {
        verify::check_signature(
            self.bytes,
            self.header.body_len,
            self.header.is_signed(),
            SignaturePolicy::Required(key),
        )
    }

    /// Table entry `index`.
    pub fn tensor(&self, index: usize) -> Result<TensorInfo<'a>, BlobError> {
        decode_entry(self.bytes, &self.header, index)
    }

    /// Every entry, in table (name-hash) order.
    pub fn tensors(&self) -> impl Iterator<Item = TensorInfo<'a>> + '_ {
        // Parsing decoded every entry successfully, so `ok()` drops nothing.
        (0..self.header.tensor_count).filter_map(|i| self.tensor(i).ok())
    }

    /// Table index of the tensor whose name hashes to `hash` (binary search).
    pub fn find(&self, hash: u64) -> Result<usize, BlobError> {
        let (mut lo, mut hi) = (0usize, self.header.tensor_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let h = entry_hash(self.bytes, &self.header, mid)?;
            match h.cmp(&hash) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(BlobError::UnknownTensor { name_hash: hash })
    }

    /// The tensor named `name`. The stored name is compared too, so a hash collision with a
    /// name that is not in the blob is still [`BlobError::UnknownTensor`].
    pub fn tensor_by_name(&self, name: &str) -> Result<TensorInfo<'a>, BlobError> {
        let hash = name_hash(name);
        let t = self.tensor(self.find(hash)?)?;
        if t.name == name {
            Ok(t)
        } else {
            Err(BlobError::UnknownTensor { name_hash: hash })
        }
    }

    /// The tensor named `name`, checked to have `dtype` and shape `dims` — for an engine that
    /// knows what it needs (e.g. the int8 engine and its quantized tensors).
    pub fn require(
        &self,
        name: &str,
        dtype: Dtype,
        dims: &[usize],
    ) -> Result<TensorInfo<'a>, BlobError> {
        let t = self.tensor_by_name(name)?;
        if t.dtype != dtype {
            return Err(BlobError::WrongDtype { tensor: t.index });
        }
        if !t.shape_is(dims) {
            return Err(BlobError::BadShape { tensor: t.index });
        }
        Ok(t)
    }

    /// The payload bytes of an entry of this blob.
    pub fn payload_of(&self, t: &TensorInfo<'_>) -> Result<&'a [u8], BlobError> {
        let start = t.offset as usize;
        start
            .checked_add(t.len as usize)
            .filter(|&end| end <= self.header.body_len)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(BlobError::OutOfBounds {
                region: Region::Payload(t.index),
            })
    }

    /// The payload bytes of tensor `index`.
    pub fn payload(&self, index: usize) -> Result<&'a [u8], BlobError> {
        self.payload_of(&self.tensor(index)?)
    }

    fn typed<T: bytemuck::AnyBitPattern>(
        &self,
        index: usize,
        dtype: Dtype,
    ) -> Result<&'a [T], BlobError> {
        let t = self.tensor(index)?;
        if t.dtype != dtype {
            return Err(BlobError::WrongDtype { tensor: t.index });
        }
        if cfg!(target_endian = "big") {
            return Err(BlobError::BufferMisaligned {
                required: core::mem::align_of::<T>(),
            });
        }
        bytemuck::try_cast_slice(self.payload_of(&t)?).map_err(|_| BlobError::BufferMisaligned {
            required: core::mem::align_of::<T>(),
        })
    }

    /// Tensor `index` as `f32`s, in place (needs the blob 4-byte aligned in memory).
    pub fn tensor_f32(&self, index: usize) -> Result<&'a [f32], BlobError> {
        self.typed(index, Dtype::F32)
    }

    /// Tensor `index` as `i8`s, in place.
    pub fn tensor_i8(&self, index: usize) -> Result<&'a [i8], BlobError> {
        self.typed(index, Dtype::I8)
    }

    /// Tensor `index` as `i32`s, in place (needs the blob 4-byte aligned in memory).
    pub fn tensor_i32(&self, index: usize) -> Result<&'a [i32], BlobError> {
        self.typed(index, Dtype::I32)
    }

    /// Tensor `index` as `u8`s, in place.
    pub fn tensor_u8(&self, index: usize) -> Result<&'a [u8], BlobError> {
        self.typed(index, Dtype::U8)
    }
}

/// An `f32` blob as the parameter source of the reference engine: row `i` of the network's
/// table is looked up by its name's hash (binary search) and borrowed in place.
#[derive(Debug, Clone, Copy)]
pub struct BlobParams<'a> {
    blob: Blob<'a>,
    table: &'static [ParamSpec],
}

impl<'a> BlobParams<'a> {
    /// Wraps a parsed blob for network `N`, after [`Blob::check_network`] and a check that
    /// the blob is an `f32` one.
    pub fn new<N: Network>(blob: Blob<'a>) -> Result<Self, BlobError> {
        if blob.header.scheme != QuantScheme::F32 {
            return Err(BlobError::WrongScheme {
                expected: QuantScheme::F32.id(),
                found: blob.header.scheme.id(),
            });
        }
        blob.check_network::<N>()?;
        Ok(Self {
            blob,
            table: N::PARAMS,
        })
    }

    /// [`Blob::parse`] then [`BlobParams::new`].
    pub fn from_bytes<N: Network>(
        bytes: &'a [u8],
        policy: SignaturePolicy<'_>,
    ) -> Result<Self, BlobError> {
        Self::new::<N>(Blob::parse(bytes, policy)?)
    }

    /// The underlying blob.
    pub const fn blob(&self) -> &Blob<'a> {
        &self.blob
    }
}

impl ParamSource for BlobParams<'_> {
    fn tensor(&self, index: usize) -> Option<&[f32]> {
        let p = self.table.get(index)?;
        let i = self.blob.find(name_hash(p.name.as_str())).ok()?;
        self.blob.tensor_f32(i).ok()
    }
}
