//! The tensor table: one fixed-size entry per tensor (name hash, name, dtype, shape, payload
//! location, quantization parameters), sorted by name hash so that look-ups are a binary
//! search and duplicates are caught by comparing neighbours — no allocation, no quadratic
//! scan, whatever the tensor count.
//!
//! [`decode_entry`] re-checks an entry every time it is read, so even the accessors used
//! after [`super::Blob::parse`] cannot be led out of bounds.

use super::error::{BlobError, Region};
use super::header::{
    check_zero, is_known_minor, payload_align, to_usize, u16_at, u32_at, u64_at, u8_at, Header,
    ENTRY_LEN,
};

/// Longest tensor name, in bytes (network parameters use at most
/// [`crate::params::NAME_CAP`]; companions and extra tensors may be longer).
pub const NAME_MAX: usize = 255;
/// Highest rank a tensor may have.
pub const MAX_RANK: usize = 4;
/// "No tensor" in a companion reference.
pub const NO_TENSOR: u32 = u32::MAX;
/// Rows of a packed per-channel record ([`Quant::PerChannelPacked`]).
pub const PACKED_ROWS: usize = 4;
/// Row of the weight scales (`f32` bit patterns) in a packed record.
pub const PACKED_ROW_SCALE: usize = 0;
/// Row of the Q31 multipliers in a packed record.
pub const PACKED_ROW_MULTIPLIER: usize = 1;
/// Row of the shifts in a packed record.
pub const PACKED_ROW_SHIFT: usize = 2;
/// Row of the `i32` biases in a packed record.
pub const PACKED_ROW_BIAS: usize = 3;

// Entry field offsets (little-endian).
pub(crate) const E_HASH: usize = 0;
pub(crate) const E_NAME_OFF: usize = 8;
pub(crate) const E_NAME_LEN: usize = 12;
pub(crate) const E_DTYPE: usize = 14;
pub(crate) const E_RANK: usize = 15;
pub(crate) const E_DIMS: usize = 16;
pub(crate) const E_DATA_OFF: usize = 32;
pub(crate) const E_DATA_LEN: usize = 36;
pub(crate) const E_QKIND: usize = 40;
pub(crate) const E_QAXIS: usize = 41;
pub(crate) const E_RESERVED: usize = 42;
pub(crate) const E_SCALE: usize = 44;
pub(crate) const E_ZERO_POINT: usize = 48;
pub(crate) const E_Q_SCALES: usize = 52;
pub(crate) const E_Q_MULTIPLIER: usize = 56;
pub(crate) const E_Q_SHIFT: usize = 60;

/// FNV-1a 64 of a tensor name: the key of the table (the same hash family as
/// [`crate::params::fingerprint`]).
pub const fn name_hash(name: &str) -> u64 {
    let b = name.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h = (h ^ b[i] as u64).wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// Element type of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE 754 binary32, little-endian (code 1).
    F32,
    /// Signed byte (code 2).
    I8,
    /// Signed 32-bit, little-endian (code 3).
    I32,
    /// Unsigned byte (code 4).
    U8,
}

impl Dtype {
    /// The code stored in the entry.
    pub const fn code(self) -> u8 {
        match self {
            Dtype::F32 => 1,
            Dtype::I8 => 2,
            Dtype::I32 => 3,
            Dtype::U8 => 4,
        }
    }

    /// The dtype a code stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Dtype::F32),
            2 => Some(Dtype::I8),
            3 => Some(Dtype::I32),
            4 => Some(Dtype::U8),
            _ => None,
        }
    }

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::I8 | Dtype::U8 => 1,
        }
    }

    /// Lower-case name (`f32`, `i8`, `i32`, `u8`).
    pub const fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::I8 => "i8",
            Dtype::I32 => "i32",
            Dtype::U8 => "u8",
        }
    }
}

/// A tensor's quantization parameters, as stored in its entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quant {
    /// Not quantized (kind 0): `f32` values, or integers that are not real-valued (shifts,
    /// multipliers, tables of integers).
    None,
    /// One scale and zero point for the whole tensor (kind 1): `real = scale · (q − zero_point)`.
    /// Allowed on `i8` (zero point −128..=127), `u8` (0..=255) and `i32` (zero point 0, e.g. a
    /// bias at scale `s_in · s_w`).
    PerTensor {
        /// Finite, positive.
        scale: f32,
        /// Within the dtype's range.
        zero_point: i32,
    },
    /// Symmetric per-channel `i8` weights (kind 2, zero point 0, TFLite's per-channel scheme):
    /// the scales and, optionally, the requantization integers are companion tensors, named by
    /// table index.
    PerChannel {
        /// The channel axis (`< rank`; 0 for `[CO, CI/G, K, K]` convolution weights).
        axis: u8,
        /// Table index of the `f32` scales, one per channel, finite and positive.
        scales: u32,
        /// Table index of the `i32` Q31 multipliers, one per channel, if stored.
        multiplier: Option<u32>,
        /// Table index of the `i32` shifts, one per channel, if stored (with `multiplier`).
        shift: Option<u32>,
    },
    /// Symmetric per-channel `i8` weights whose per-channel numbers sit in one packed record
    /// (kind 3, format 1.1 compact blobs only): an `i32 [4, C]` tensor, named by table index,
    /// whose rows are the scales (`f32` bit patterns), the Q31 multipliers, the shifts and the
    /// biases ([`PACKED_ROWS`] and the `PACKED_ROW_*` constants). One entry instead of four
    /// (scales, multipliers, shifts, bias) per layer; each row is still a contiguous array
    /// the engine uses in place, as with kind 2.
    PerChannelPacked {
        /// The channel axis (`< rank`).
        axis: u8,
        /// Table index of the record.
        record: u32,
    },
}

impl Quant {
    /// The kind code stored in the entry.
    pub const fn kind(&self) -> u8 {
        match self {
            Quant::None => 0,
            Quant::PerTensor { .. } => 1,
            Quant::PerChannel { .. } => 2,
            Quant::PerChannelPacked { .. } => 3,
        }
    }
}

/// One decoded, checked table entry; `name` borrows from the blob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorInfo<'a> {
    /// Position in the table.
    pub index: u32,
    /// Dotted name.
    pub name: &'a str,
    /// FNV-1a 64 of `name`.
    pub name_hash: u64,
    /// Element type.
    pub dtype: Dtype,
    /// Number of dimensions (0 = a scalar).
    pub rank: u8,
    /// Dimensions; only the first `rank` are used, the rest are 0.
    pub dims: [u32; MAX_RANK],
    /// Payload offset from the start of the blob (a multiple of 64, or in a compact blob of
    /// [`super::payload_align`]).
    pub offset: u32,
    /// Payload length in bytes (`numel × dtype size`).
    pub len: u32,
    /// Quantization parameters.
    pub quant: Quant,
}

impl TensorInfo<'_> {
    /// The used dimensions.
    pub fn shape(&self) -> &[u32] {
        self.dims.get(..usize::from(self.rank)).unwrap_or(&[])
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.shape().iter().map(|&d| d as usize).product()
    }

    /// Whether the shape equals `dims` (e.g. a row of a network's parameter table).
    pub fn shape_is(&self, dims: &[usize]) -> bool {
        self.rank as usize == dims.len()
            && self
                .shape()
                .iter()
                .zip(dims)
                .all(|(&a, &b)| a as usize == b)
    }
}

/// Offset of entry `index`'s bytes.
fn entry_bytes<'a>(bytes: &'a [u8], h: &Header, index: usize) -> Result<&'a [u8], BlobError> {
    let start = index
        .checked_mul(h.entry_len)
        .and_then(|o| o.checked_add(h.table_offset))
        .ok_or(BlobError::OutOfBounds {
            region: Region::Table,
        })?;
    let end = start
        .checked_add(h.entry_len)
        .ok_or(BlobError::OutOfBounds {
            region: Region::Table,
        })?;
    if end > h.body_len {
        return Err(BlobError::OutOfBounds {
            region: Region::Table,
        });
    }
    bytes.get(start..end).ok_or(BlobError::OutOfBounds {
        region: Region::Table,
    })
}

/// The name hash of entry `index`, unchecked beyond bounds (for binary search).
pub(crate) fn entry_hash(bytes: &[u8], h: &Header, index: usize) -> Result<u64, BlobError> {
    u64_at(entry_bytes(bytes, h, index)?, E_HASH).ok_or(BlobError::OutOfBounds {
        region: Region::Table,
    })
}

fn companion(raw: u32, count: usize, tensor: u32) -> Result<Option<u32>, BlobError> {
    if raw == NO_TENSOR {
        Ok(None)
    } else if (raw as usize) < count && raw != tensor {
        Ok(Some(raw))
    } else {
        Err(BlobError::BadQuantParams { tensor })
    }
}

/// Decodes entry `index` and checks everything that concerns it alone: name (bounds, printable
/// ASCII, hash), dtype, rank and dimensions, payload length, alignment and bounds, quantization
/// kind and per-tensor values, companion indices in range, reserved bytes zero. What involves
/// other entries (order, companions' contents) is checked by the blob parser.
pub fn decode_entry<'a>(
    bytes: &'a [u8],
    h: &Header,
    index: usize,
) -> Result<TensorInfo<'a>, BlobError> {
    if index >= h.tensor_count {
        return Err(BlobError::NoSuchIndex { index });
    }
    let e = entry_bytes(bytes, h, index)?;
    let tensor = u32::try_from(index).map_err(|_| BlobError::NoSuchIndex { index })?;
    let bad_shape = BlobError::BadShape { tensor };
    let rd32 = |off: usize| u32_at(e, off).unwrap_or(0);

    // Reserved bytes: undefined (so zero) in the minors this reader knows.
    if is_known_minor(h.minor) {
        let base = h.table_offset + index * h.entry_len;
        check_zero(bytes, base + E_RESERVED, base + E_RESERVED + 2)?;
        check_zero(bytes, base + ENTRY_LEN, base + h.entry_len)?;
    }

    // Name.
    let stored_hash = u64_at(e, E_HASH).unwrap_or(0);
    let name_off = to_usize(rd32(E_NAME_OFF))?;
    let name_len = usize::from(u16_at(e, E_NAME_LEN).unwrap_or(0));
    if name_len == 0 || name_len > NAME_MAX || name_off.saturating_add(name_len) > h.names_len {
        return Err(BlobError::BadName { tensor });
    }
    let name_bytes = h
        .names_offset
        .checked_add(name_off)
        .and_then(|start| bytes.get(start..start.checked_add(name_len)?))
        .ok_or(BlobError::BadName { tensor })?;
    if !name_bytes.iter().all(u8::is_ascii_graphic) {
        return Err(BlobError::BadName { tensor });
    }
    let name = core::str::from_utf8(name_bytes).map_err(|_| BlobError::BadName { tensor })?;
    if name_hash(name) != stored_hash {
        return Err(BlobError::NameHashMismatch { tensor });
    }

    // Dtype and shape.
    let code = u8_at(e, E_DTYPE).unwrap_or(0);
    let dtype = Dtype::from_code(code).ok_or(BlobError::BadDtype { tensor, code })?;
    let rank = u8_at(e, E_RANK).unwrap_or(u8::MAX);
    if usize::from(rank) > MAX_RANK {
        return Err(bad_shape);
    }
    let mut dims = [0u32; MAX_RANK];
    let mut numel: usize = 1;
    for (d, slot) in dims.iter_mut().enumerate() {
        let v = rd32(E_DIMS + 4 * d);
        if d < usize::from(rank) {
            if v == 0 {
                return Err(bad_shape);
            }
            numel = numel.checked_mul(to_usize(v)?).ok_or(bad_shape)?;
        } else if v != 0 {
            return Err(bad_shape);
        }
        *slot = v;
    }
    let offset = rd32(E_DATA_OFF);
    let len = rd32(E_DATA_LEN);
    if numel.checked_mul(dtype.size()) != Some(to_usize(len)?) {
        return Err(bad_shape);
    }
    let off = to_usize(offset)?;
    if !off.is_multiple_of(payload_align(h.is_compact(), dtype, to_usize(len)?)) {
        return Err(BlobError::Misaligned { tensor, offset });
    }
    if off
        .checked_add(to_usize(len)?)
        .is_none_or(|end| end > h.body_len)
    {
        return Err(BlobError::OutOfBounds {
            region: Region::Payload(tensor),
        });
    }

    // Quantization.
    let bad_quant = BlobError::BadQuantParams { tensor };
    let kind = u8_at(e, E_QKIND).unwrap_or(u8::MAX);
    let axis = u8_at(e, E_QAXIS).unwrap_or(u8::MAX);
    let scale_bits = rd32(E_SCALE);
    let zero_point = rd32(E_ZERO_POINT) as i32;
    let (q_scales, q_mult, q_shift) = (rd32(E_Q_SCALES), rd32(E_Q_MULTIPLIER), rd32(E_Q_SHIFT));
    let no_companions = q_scales == NO_TENSOR && q_mult == NO_TENSOR && q_shift == NO_TENSOR;
    let quant = match kind {
        0 => {
            if axis != 0 || scale_bits != 0 || zero_point != 0 || !no_companions {
                return Err(bad_quant);
            }
            Quant::None
        }
        1 => {
            let scale = f32::from_bits(scale_bits);
            let zp_ok = match dtype {
                Dtype::I8 => (-128..=127).contains(&zero_point),
                Dtype::U8 => (0..=255).contains(&zero_point),
                Dtype::I32 => zero_point == 0,
                Dtype::F32 => false,
            };
            if !(axis == 0 && no_companions && zp_ok && scale.is_finite() && scale > 0.0) {
                return Err(bad_quant);
            }
            Quant::PerTensor { scale, zero_point }
        }
        2 => {
            if dtype != Dtype::I8 || axis >= rank || scale_bits != 0 || zero_point != 0 {
                return Err(bad_quant);
            }
            let count = h.tensor_count;
            let scales = companion(q_scales, count, tensor)?.ok_or(bad_quant)?;
            let multiplier = companion(q_mult, count, tensor)?;
            let shift = companion(q_shift, count, tensor)?;
            if multiplier.is_some() != shift.is_some() {
                return Err(bad_quant);
            }
            Quant::PerChannel {
                axis,
                scales,
                multiplier,
                shift,
            }
        }
        3 => {
            let packed_ok = h.is_compact()
                && dtype == Dtype::I8
                && axis < rank
                && scale_bits == 0
                && zero_point == 0
                && q_mult == NO_TENSOR
                && q_shift == NO_TENSOR;
            if !packed_ok {
                return Err(bad_quant);
            }
            let record = companion(q_scales, h.tensor_count, tensor)?.ok_or(bad_quant)?;
            Quant::PerChannelPacked { axis, record }
        }
        _ => return Err(bad_quant),
    };

    Ok(TensorInfo {
        index: tensor,
        name,
        name_hash: stored_hash,
        dtype,
        rank,
        dims,
        offset,
        len,
        quant,
    })
}
