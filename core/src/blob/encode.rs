//! Writing a blob into a caller-provided buffer, without allocation.
//!
//! The host's `BlobWriter` (which adds signing and atomic file output) and the tests use this
//! one encoder, so the layout is written in exactly one place and read in exactly one place
//! (the parser), and every encoded blob is parsed back before [`encode`] returns: the encoder
//! cannot produce a blob the reader refuses.
//!
//! Tensors may be given in any order; they are written sorted by name hash (the table's
//! order), payloads in the same order, each at the next multiple of 64 bytes.
//!
//! A blob with a packed per-channel weight ([`QuantDesc::PerChannelPacked`]) needs format
//! 1.1, and is written in the compact layout ([`FLAG_COMPACT`]): payloads shorter than
//! [`COMPACT_SMALL_LIMIT`] at their element size, and a name that is a prefix of another
//! stored inside it (`conv.weight` inside `conv.weight.quant`). Any other blob is written as
//! 1.0, byte for byte as before 1.1 existed (writers write the lowest version that holds what
//! they write).

use super::error::BlobError;
#[cfg(doc)]
use super::header::COMPACT_SMALL_LIMIT;
use super::header::{
    architecture_id, payload_align, PresetName, QuantScheme, CHECKSUM_LEN, ENTRY_LEN, FLAG_COMPACT,
    FLAG_SIGNED, HEADER_LEN, MAGIC, OFF_ARCHITECTURE, OFF_BODY_LEN, OFF_ENTRY_LEN, OFF_FINGERPRINT,
    OFF_FLAGS, OFF_HEADER_LEN, OFF_MAJOR, OFF_MINOR, OFF_NAMES_LEN, OFF_NAMES_OFFSET, OFF_PRESET,
    OFF_PRESET_LEN, OFF_SCHEME, OFF_TABLE_OFFSET, OFF_TENSOR_COUNT, SIGNATURE_LEN, VERSION_MAJOR,
};
use super::table::{
    name_hash, Dtype, E_DATA_LEN, E_DATA_OFF, E_DIMS, E_DTYPE, E_HASH, E_NAME_LEN, E_NAME_OFF,
    E_QAXIS, E_QKIND, E_Q_MULTIPLIER, E_Q_SCALES, E_Q_SHIFT, E_RANK, E_SCALE, E_ZERO_POINT,
    MAX_RANK, NAME_MAX, NO_TENSOR,
};
use super::verify::checksum;
use super::{Blob, SignaturePolicy};
use crate::nets::Architecture;

/// What the header says.
#[derive(Debug, Clone, Copy)]
pub struct BlobSpec<'a> {
    /// The architecture.
    pub architecture: Architecture,
    /// Preset name (1–32 printable ASCII bytes).
    pub preset: &'a str,
    /// The network's `FINGERPRINT`.
    pub fingerprint: u64,
    /// Quantization scheme.
    pub scheme: QuantScheme,
    /// Reserve room for a signature and set the SIGNED flag (the signer fills it in).
    pub signed: bool,
}

/// Quantization parameters of a tensor to encode; companions are named, and resolved to
/// table indices by the encoder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QuantDesc<'a> {
    /// Not quantized.
    None,
    /// One scale and zero point.
    PerTensor {
        /// Scale.
        scale: f32,
        /// Zero point.
        zero_point: i32,
    },
    /// Per-channel symmetric `i8` weights; the companions are other tensors of the blob.
    PerChannel {
        /// Channel axis.
        axis: u8,
        /// Name of the `f32` scales tensor.
        scales: &'a str,
        /// Name of the `i32` multipliers tensor, if any.
        multiplier: Option<&'a str>,
        /// Name of the `i32` shifts tensor, if any.
        shift: Option<&'a str>,
    },
    /// Per-channel symmetric `i8` weights with one packed `i32 [4, C]` record (scales' bit
    /// patterns, multipliers, shifts, biases; format 1.1).
    PerChannelPacked {
        /// Channel axis.
        axis: u8,
        /// Name of the record tensor.
        record: &'a str,
    },
}

/// One tensor to encode: `data` is its little-endian payload (`numel × dtype size` bytes).
#[derive(Debug, Clone, Copy)]
pub struct TensorDesc<'a> {
    /// Dotted name.
    pub name: &'a str,
    /// Element type.
    pub dtype: Dtype,
    /// Dimensions (rank ≤ 4).
    pub shape: &'a [usize],
    /// Payload bytes.
    pub data: &'a [u8],
    /// Quantization parameters.
    pub quant: QuantDesc<'a>,
}

const fn align_up(v: usize, a: usize) -> Option<usize> {
    match v.checked_add(a - 1) {
        Some(x) => Some(x / a * a),
        None => None,
    }
}

/// The index of the tensor with the smallest name hash above `prev`: selection in hash
/// order without sorting (no allocation); `sorted` short-cuts input that is already in order.
fn next_in_order(tensors: &[TensorDesc<'_>], k: usize, prev: Option<u64>, sorted: bool) -> usize {
    if sorted {
        return k;
    }
    let mut best: Option<(usize, u64)> = None;
    for (i, t) in tensors.iter().enumerate() {
        let h = name_hash(t.name);
        if prev.is_none_or(|p| h > p) && best.is_none_or(|(_, b)| h < b) {
            best = Some((i, h));
        }
    }
    best.map_or(k, |(i, _)| i)
}

/// Position of the tensor named `name` in hash order (its table index).
fn table_index(tensors: &[TensorDesc<'_>], name: &str) -> Result<u32, BlobError> {
    let h = name_hash(name);
    if !tensors.iter().any(|t| t.name == name) {
        return Err(BlobError::UnknownTensor { name_hash: h });
    }
    let below = tensors.iter().filter(|t| name_hash(t.name) < h).count();
    u32::try_from(below).map_err(|_| BlobError::TooLarge)
}

struct Layout {
    names_offset: usize,
    names_len: usize,
    body_len: usize,
    total: usize,
    sorted: bool,
    compact: bool,
}

/// Whether the blob needs format 1.1's compact layout: it has a packed per-channel weight.
fn needs_compact(tensors: &[TensorDesc<'_>]) -> bool {
    tensors
        .iter()
        .any(|t| matches!(t.quant, QuantDesc::PerChannelPacked { .. }))
}

/// In a compact blob, the longer name whose stored bytes hold `name` (which is a prefix of
/// it), or `None` if `name` is stored itself: the longest name that starts with `name` (the
/// smaller hash among equally long ones), so that a name that is a prefix of another costs no
/// bytes. The longest such name is a prefix of no longer one, so it is stored itself.
fn name_owner<'t>(tensors: &[TensorDesc<'t>], name: &str) -> Option<&'t str> {
    let mut best: Option<&'t str> = None;
    for t in tensors {
        let current = best.unwrap_or(name);
        let wins = t.name.len() > current.len()
            || (t.name.len() == current.len()
                && t.name != current
                && name_hash(t.name) < name_hash(current));
        if wins && t.name.starts_with(name) {
            best = Some(t.name);
        }
    }
    best
}

/// Whether `name`'s bytes are written to the names region (always in a 1.0 blob; in a compact
/// one, unless it is shared with a longer name).
fn name_stored(tensors: &[TensorDesc<'_>], name: &str, compact: bool) -> bool {
    !compact || name_owner(tensors, name).is_none()
}

fn layout(spec: &BlobSpec<'_>, tensors: &[TensorDesc<'_>]) -> Result<Layout, BlobError> {
    let too_large = BlobError::TooLarge;
    let n = tensors.len();
    if u32::try_from(n).is_err() {
        return Err(too_large);
    }
    let mut sorted = true;
    for (i, t) in tensors.iter().enumerate() {
        let tensor = i as u32;
        if t.name.is_empty()
            || t.name.len() > NAME_MAX
            || !t.name.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(BlobError::BadName { tensor });
        }
        let h = name_hash(t.name);
        if tensors.iter().skip(i + 1).any(|u| name_hash(u.name) == h) {
            return Err(BlobError::DuplicateTensor { tensor });
        }
        if i > 0 && tensors.get(i - 1).is_some_and(|p| name_hash(p.name) > h) {
            sorted = false;
        }
        let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if t.shape.len() > MAX_RANK
            || t.shape.iter().any(|&d| d == 0 || u32::try_from(d).is_err())
            || numel.and_then(|n| n.checked_mul(t.dtype.size())) != Some(t.data.len())
        {
            return Err(BlobError::BadShape { tensor });
        }
    }
    let table_len = n.checked_mul(ENTRY_LEN).ok_or(too_large)?;
    let names_offset = HEADER_LEN.checked_add(table_len).ok_or(too_large)?;
    let compact = needs_compact(tensors);
    let names_len = tensors
        .iter()
        .filter(|t| name_stored(tensors, t.name, compact))
        .try_fold(0usize, |a, t| a.checked_add(t.name.len()))
        .ok_or(too_large)?;
    let mut cursor = names_offset.checked_add(names_len).ok_or(too_large)?;
    // Padding depends on the order, so lay the payloads out in the written (hash) order.
    let mut prev = None;
    for k in 0..n {
        let i = next_in_order(tensors, k, prev, sorted);
        let t = tensors.get(i).ok_or(too_large)?;
        prev = Some(name_hash(t.name));
        cursor = align_up(cursor, payload_align(compact, t.dtype, t.data.len()))
            .and_then(|c| c.checked_add(t.data.len()))
            .ok_or(too_large)?;
    }
    let body_len = cursor;
    let total = body_len
        .checked_add(CHECKSUM_LEN)
        .and_then(|t| t.checked_add(if spec.signed { SIGNATURE_LEN } else { 0 }))
        .ok_or(too_large)?;
    if u32::try_from(total).is_err() {
        return Err(too_large);
    }
    Ok(Layout {
        names_offset,
        names_len,
        body_len,
        total,
        sorted,
        compact,
    })
}

/// Bytes [`encode`] will write for these tensors (signature room included when
/// `spec.signed`).
pub fn encoded_len(spec: &BlobSpec<'_>, tensors: &[TensorDesc<'_>]) -> Result<usize, BlobError> {
    Ok(layout(spec, tensors)?.total)
}

fn put(out: &mut [u8], off: usize, bytes: &[u8]) -> Result<(), BlobError> {
    off.checked_add(bytes.len())
        .and_then(|end| out.get_mut(off..end))
        .ok_or(BlobError::TooLarge)?
        .copy_from_slice(bytes);
    Ok(())
}

/// Encodes a blob into `out[..n]` and returns `n` (= [`encoded_len`]). The checksum is
/// written; when `spec.signed`, the 64 signature bytes are left zero for the signer, which
/// signs `out[..n − 64]` (body and checksum) and writes the signature at `out[n − 64..n]`.
///
/// The result is parsed back before returning, so an `Ok` blob is one that
/// [`Blob::parse`] accepts (with [`SignaturePolicy::Optional`] until it is signed).
pub fn encode(
    spec: &BlobSpec<'_>,
    tensors: &[TensorDesc<'_>],
    out: &mut [u8],
) -> Result<usize, BlobError> {
    let l = layout(spec, tensors)?;
    let available = out.len();
    let out = out.get_mut(..l.total).ok_or(BlobError::OutputTooSmall {
        needed: l.total,
        available,
    })?;
    out.fill(0);
    let preset = PresetName::new(spec.preset).ok_or(BlobError::BadHeader { field: "preset" })?;
    let u32_of = |v: usize| u32::try_from(v).map_err(|_| BlobError::TooLarge);

    // Header.
    put(out, 0, &MAGIC)?;
    put(out, OFF_MAJOR, &VERSION_MAJOR.to_le_bytes())?;
    put(out, OFF_MINOR, &u16::from(l.compact).to_le_bytes())?;
    put(out, OFF_HEADER_LEN, &u32_of(HEADER_LEN)?.to_le_bytes())?;
    let signed = if spec.signed { FLAG_SIGNED } else { 0 };
    let flags = signed | if l.compact { FLAG_COMPACT } else { 0 };
    put(out, OFF_FLAGS, &flags.to_le_bytes())?;
    put(out, OFF_BODY_LEN, &u32_of(l.body_len)?.to_le_bytes())?;
    put(out, OFF_TENSOR_COUNT, &u32_of(tensors.len())?.to_le_bytes())?;
    put(out, OFF_TABLE_OFFSET, &u32_of(HEADER_LEN)?.to_le_bytes())?;
    put(out, OFF_ENTRY_LEN, &u32_of(ENTRY_LEN)?.to_le_bytes())?;
    put(
        out,
        OFF_NAMES_OFFSET,
        &u32_of(l.names_offset)?.to_le_bytes(),
    )?;
    put(out, OFF_NAMES_LEN, &u32_of(l.names_len)?.to_le_bytes())?;
    put(out, OFF_FINGERPRINT, &spec.fingerprint.to_le_bytes())?;
    put(
        out,
        OFF_ARCHITECTURE,
        &architecture_id(spec.architecture).to_le_bytes(),
    )?;
    put(out, OFF_SCHEME, &[spec.scheme.id()])?;
    put(out, OFF_PRESET_LEN, &[preset.as_str().len() as u8])?;
    put(out, OFF_PRESET, preset.padded())?;

    // Table, names and payloads, in hash order.
    let mut name_cursor = 0usize;
    let mut data_cursor = l.names_offset + l.names_len;
    let mut prev = None;
    for k in 0..tensors.len() {
        let i = next_in_order(tensors, k, prev, l.sorted);
        let t = tensors.get(i).ok_or(BlobError::TooLarge)?;
        let h = name_hash(t.name);
        prev = Some(h);
        let e = HEADER_LEN + k * ENTRY_LEN;
        data_cursor = align_up(data_cursor, payload_align(l.compact, t.dtype, t.data.len()))
            .ok_or(BlobError::TooLarge)?;
        put(out, e + E_HASH, &h.to_le_bytes())?;
        let stored = name_stored(tensors, t.name, l.compact);
        if stored {
            put(out, e + E_NAME_OFF, &u32_of(name_cursor)?.to_le_bytes())?;
        }
        let name_len = u16::try_from(t.name.len()).map_err(|_| BlobError::TooLarge)?;
        put(out, e + E_NAME_LEN, &name_len.to_le_bytes())?;
        put(out, e + E_DTYPE, &[t.dtype.code()])?;
        put(out, e + E_RANK, &[t.shape.len() as u8])?;
        for (d, &v) in t.shape.iter().enumerate() {
            put(out, e + E_DIMS + 4 * d, &u32_of(v)?.to_le_bytes())?;
        }
        put(out, e + E_DATA_OFF, &u32_of(data_cursor)?.to_le_bytes())?;
        put(out, e + E_DATA_LEN, &u32_of(t.data.len())?.to_le_bytes())?;
        let (kind, axis, scale, zp, companions) = match t.quant {
            QuantDesc::None => (0u8, 0u8, 0.0f32, 0i32, [NO_TENSOR; 3]),
            QuantDesc::PerTensor { scale, zero_point } => (1, 0, scale, zero_point, [NO_TENSOR; 3]),
            QuantDesc::PerChannel {
                axis,
                scales,
                multiplier,
                shift,
            } => {
                let opt = |n: Option<&str>| n.map_or(Ok(NO_TENSOR), |n| table_index(tensors, n));
                (
                    2,
                    axis,
                    0.0,
                    0,
                    [table_index(tensors, scales)?, opt(multiplier)?, opt(shift)?],
                )
            }
            QuantDesc::PerChannelPacked { axis, record } => (
                3,
                axis,
                0.0,
                0,
                [table_index(tensors, record)?, NO_TENSOR, NO_TENSOR],
            ),
        };
        put(out, e + E_QKIND, &[kind])?;
        put(out, e + E_QAXIS, &[axis])?;
        put(out, e + E_SCALE, &scale.to_bits().to_le_bytes())?;
        put(out, e + E_ZERO_POINT, &zp.to_le_bytes())?;
        put(out, e + E_Q_SCALES, &companions[0].to_le_bytes())?;
        put(out, e + E_Q_MULTIPLIER, &companions[1].to_le_bytes())?;
        put(out, e + E_Q_SHIFT, &companions[2].to_le_bytes())?;
        if stored {
            put(out, l.names_offset + name_cursor, t.name.as_bytes())?;
            name_cursor += t.name.len();
        }
        put(out, data_cursor, t.data)?;
        data_cursor += t.data.len();
    }
    if l.compact {
        // Shared names point into their owner's bytes (written above: owners are stored).
        let entry = |name: &str| {
            table_index(tensors, name).map(|k| HEADER_LEN + k as usize * ENTRY_LEN + E_NAME_OFF)
        };
        for t in tensors {
            if let Some(owner) = name_owner(tensors, t.name) {
                let from = entry(owner)?;
                let mut off = [0u8; 4];
                off.copy_from_slice(out.get(from..from + 4).ok_or(BlobError::TooLarge)?);
                put(out, entry(t.name)?, &off)?;
            }
        }
    }
    seal(out)?;
    Blob::parse(out, SignaturePolicy::Optional)?;
    Ok(l.total)
}

/// Recomputes and stores the checksum of a blob whose header is intact (and zeroes nothing
/// else): the last step of [`encode`], and how a tool (or a test crafting a corrupt blob
/// whose damage must get past the checksum) re-seals edited bytes. Any signature is left as
/// it is, and so no longer verifies.
pub fn seal(blob: &mut [u8]) -> Result<(), BlobError> {
    let h = super::header::Lengths::parse(blob)?;
    let body = blob.get(..h.body_len).ok_or(BlobError::Truncated {
        needed: h.body_len,
        available: blob.len(),
    })?;
    let crc = checksum(body);
    let available = blob.len();
    blob.get_mut(h.body_len..h.body_len.saturating_add(CHECKSUM_LEN))
        .ok_or(BlobError::Truncated {
            needed: h.body_len.saturating_add(CHECKSUM_LEN),
            available,
        })?
        .copy_from_slice(&crc.to_le_bytes());
    Ok(())
}
