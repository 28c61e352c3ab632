//! [`BlobWriter`]: collects named tensors, encodes them with core's encoder, signs the result
//! and writes it atomically.
//!
//! **Atomic output.** The blob is written to a temporary file in the destination directory,
//! flushed to disk, and renamed over the destination. A crash, a full disk or a refused
//! signature leaves either the old file or none — never a half-written blob that a flashing
//! tool could pick up.

use ed25519_dalek::{Signer, SigningKey};
use hepaseg_core::blob::{
    self, BlobError, BlobSpec, Dtype, QuantDesc, QuantScheme, TensorDesc, SIGNATURE_LEN,
};
use hepaseg_core::nets::{Architecture, Network};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a blob could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A tensor was refused when it was added.
    #[error("tensor `{name}`: {problem}")]
    Tensor {
        /// Its name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The encoder refused the blob.
    #[error("cannot encode the blob: {0}")]
    Blob(#[from] BlobError),
    /// The output could not be written.
    #[error("{path}: {problem}")]
    Io {
        /// The destination.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
}

#[derive(Debug, Clone)]
enum OwnedQuant {
    None,
    PerTensor { scale: f32, zero_point: i32 },
    PerChannel { axis: u8, companions: bool },
    PerChannelPacked { axis: u8 },
}

#[derive(Debug, Clone)]
struct OwnedTensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
    quant: OwnedQuant,
}

/// What [`BlobWriter::write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// The destination.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: usize,
    /// Tensors in the table.
    pub tensors: usize,
    /// The stored CRC-32C.
    pub checksum: u32,
    /// Whether a signature was appended.
    pub signed: bool,
}

impl fmt::Display for WriteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {}: {} bytes, {} tensors, crc32c 0x{:08x}, {}",
            self.path.display(),
            self.bytes,
            self.tensors,
            self.checksum,
            if self.signed { "signed" } else { "unsigned" }
        )
    }
}

/// Builds a blob from named tensors.
///
/// ```ignore
/// let mut w = BlobWriter::for_network::<AgcafEdge>(QuantScheme::Int8PerChannel);
/// w.add_i8_per_channel("stem.conv.weight", &[16, 1, 7, 7], 0, &q, &scales, Some((&m, &s)))?;
/// w.add_i32("stem.conv.bias", &[16], &bias, Some((s_in * s_w, 0)))?;
/// w.write(Path::new("model.hseg"), Some(&key))?;
/// ```
#[derive(Debug, Clone)]
pub struct BlobWriter {
    architecture: Architecture,
    preset: String,
    fingerprint: u64,
    scheme: QuantScheme,
    tensors: Vec<OwnedTensor>,
}

fn le_bytes<const N: usize, T: Copy>(values: &[T], to: fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

impl BlobWriter {
    /// A writer for the given header fields.
    pub fn new(
        architecture: Architecture,
        preset: &str,
        fingerprint: u64,
        scheme: QuantScheme,
    ) -> Self {
        Self {
            architecture,
            preset: preset.to_owned(),
            fingerprint,
            scheme,
            tensors: Vec::new(),
        }
    }

    /// A writer whose header names network `N`.
    pub fn for_network<N: Network>(scheme: QuantScheme) -> Self {
        Self::new(N::ARCHITECTURE, N::PRESET, N::FINGERPRINT, scheme)
    }

    /// Tensors added so far (companions included).
    pub fn tensor_count(&self) -> usize {
        self.tensors.len()
    }

    fn push(
        &mut self,
        name: &str,
        dtype: Dtype,
        shape: &[usize],
        data: Vec<u8>,
        quant: OwnedQuant,
    ) -> Result<&mut Self, WriteError> {
        let bad = |problem: String| WriteError::Tensor {
            name: name.to_owned(),
            problem,
        };
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(bad("added twice".into()));
        }
        let numel = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if shape.len() > blob::MAX_RANK || shape.contains(&0) {
            return Err(bad(format!("unsupported shape {shape:?}")));
        }
        if numel.and_then(|n| n.checked_mul(dtype.size())) != Some(data.len()) {
            return Err(bad(format!(
                "{} values do not fill shape {shape:?}",
                data.len() / dtype.size()
            )));
        }
        self.tensors.push(OwnedTensor {
            name: name.to_owned(),
            dtype,
            shape: shape.to_vec(),
            data,
            quant,
        });
        Ok(self)
    }

    /// Adds an `f32` tensor.
    pub fn add_f32(
        &mut self,
        name: &str,
        shape: &[usize],
        values: &[f32],
    ) -> Result<&mut Self, WriteError> {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(WriteError::Tensor {
                name: name.to_owned(),
                problem: format!("value #{i} is {}", values[i]),
            });
        }
        let data = le_bytes(values, f32::to_le_bytes);
        self.push(name, Dtype::F32, shape, data, OwnedQuant::None)
    }

    fn quant(q: Option<(f32, i32)>) -> OwnedQuant {
        match q {
            Some((scale, zero_point)) => OwnedQuant::PerTensor { scale, zero_point },
            None => OwnedQuant::None,
        }
    }

    /// Adds an `i8` tensor, with a per-tensor `(scale, zero point)` if it stands for reals
    /// (an activation point, a per-tensor weight) or `None` (a lookup table).
    pub fn add_i8(
        &mut self,
        name: &str,
        shape: &[usize],
        values: &[i8],
        quant: Option<(f32, i32)>,
    ) -> Result<&mut Self, WriteError> {
        let data = values.iter().map(|&v| v as u8).collect();
        self.push(name, Dtype::I8, shape, data, Self::quant(quant))
    }

    /// Adds an `i32` tensor (a bias at scale `s_in · s_w` with zero point 0, or plain integers
    /// such as an exp table with `None`).
    pub fn add_i32(
        &mut self,
        name: &str,
        shape: &[usize],
        values: &[i32],
        quant: Option<(f32, i32)>,
    ) -> Result<&mut Self, WriteError> {
        let data = le_bytes(values, i32::to_le_bytes);
        self.push(name, Dtype::I32, shape, data, Self::quant(quant))
    }

    /// Adds a `u8` tensor.
    pub fn add_u8(
        &mut self,
        name: &str,
        shape: &[usize],
        values: &[u8],
        quant: Option<(f32, i32)>,
    ) -> Result<&mut Self, WriteError> {
        self.push(name, Dtype::U8, shape, values.to_vec(), Self::quant(quant))
    }

    /// Checks a per-channel weight (axis inside the shape, every per-channel array in `lens`
    /// one value per channel) and adds it with quantization `quant(axis)`; returns the channel
    /// count.
    fn push_per_channel(
        &mut self,
        name: &str,
        shape: &[usize],
        axis: usize,
        values: &[i8],
        lens: &[usize],
        quant: impl FnOnce(u8) -> OwnedQuant,
    ) -> Result<usize, WriteError> {
        let bad = |problem: String| WriteError::Tensor {
            name: name.to_owned(),
            problem,
        };
        let channels = *shape
            .get(axis)
            .ok_or_else(|| bad(format!("axis {axis} outside shape {shape:?}")))?;
        if lens.iter().any(|&n| n != channels) {
            return Err(bad(format!(
                "per-channel arrays of {lens:?} values for {channels} channels"
            )));
        }
        let axis = u8::try_from(axis).map_err(|_| bad("axis too large".into()))?;
        let data = values.iter().map(|&v| v as u8).collect();
        self.push(name, Dtype::I8, shape, data, quant(axis))?;
        Ok(channels)
    }

    /// Adds symmetric per-channel `i8` weights with their companions: `NAME.scale` (`f32`, one
    /// per channel along `axis`) and, when `requant` is given, `NAME.multiplier` and
    /// `NAME.shift` (`i32` Q31 multipliers and shifts of `s_in · s_w[c] / s_out`, as
    /// `hepaseg_core::int8::quant::quantize_multiplier` makes them).
    pub fn add_i8_per_channel(
        &mut self,
        name: &str,
        shape: &[usize],
        axis: usize,
        values: &[i8],
        scales: &[f32],
        requant: Option<(&[i32], &[i32])>,
    ) -> Result<&mut Self, WriteError> {
        let channels =
            self.push_per_channel(name, shape, axis, values, &[scales.len()], |axis| {
                OwnedQuant::PerChannel {
                    axis,
                    companions: requant.is_some(),
                }
            })?;
        self.push(
            &format!("{name}.scale"),
            Dtype::F32,
            &[channels],
            le_bytes(scales, f32::to_le_bytes),
            OwnedQuant::None,
        )?;
        if let Some((multiplier, shift)) = requant {
            self.add_i32(&format!("{name}.multiplier"), &[channels], multiplier, None)?;
            self.add_i32(&format!("{name}.shift"), &[channels], shift, None)?;
        }
        Ok(self)
    }

    /// Adds symmetric per-channel `i8` weights with their packed record `NAME.quant` (format
    /// 1.1): an `i32 [4, C]` tensor whose rows are the scales' `f32` bit patterns, the Q31
    /// multipliers and shifts of `s_in · s_w[c] / s_out`, and the `i32` biases at scale
    /// `s_in · s_w[c]` — one table entry for what 1.0 spreads over four (`NAME.scale`,
    /// `.multiplier`, `.shift` and the layer's `.bias`). A blob with such a weight is written
    /// in the 1.1 compact layout.
    #[allow(clippy::too_many_arguments)]
    pub fn add_i8_per_channel_packed(
        &mut self,
        name: &str,
        shape: &[usize],
        axis: usize,
        values: &[i8],
        scales: &[f32],
        multiplier: &[i32],
        shift: &[i32],
        bias: &[i32],
    ) -> Result<&mut Self, WriteError> {
        let lens = [scales.len(), multiplier.len(), shift.len(), bias.len()];
        let channels = self.push_per_channel(name, shape, axis, values, &lens, |axis| {
            OwnedQuant::PerChannelPacked { axis }
        })?;
        let record: Vec<i32> = scales
            .iter()
            .map(|s| s.to_bits() as i32)
            .chain(multiplier.iter().copied())
            .chain(shift.iter().copied())
            .chain(bias.iter().copied())
            .collect();
        self.add_i32(
            &format!("{name}.quant"),
            &[blob::PACKED_ROWS, channels],
            &record,
            None,
        )
    }

    /// The encoded blob, signed with `signer` if given. Core's encoder lays it out and parses
    /// it back; a signature is verified after signing.
    pub fn to_bytes(&self, signer: Option<&SigningKey>) -> Result<Vec<u8>, WriteError> {
        let names: Vec<[String; 4]> = self
            .tensors
            .iter()
            .map(|t| {
                ["scale", "multiplier", "shift", "quant"]
                    .map(|suffix| format!("{}.{suffix}", t.name))
            })
            .collect();
        let descs: Vec<TensorDesc<'_>> = self
            .tensors
            .iter()
            .zip(&names)
            .map(|(t, [scale, multiplier, shift, record])| TensorDesc {
                name: &t.name,
                dtype: t.dtype,
                shape: &t.shape,
                data: &t.data,
                quant: match t.quant {
                    OwnedQuant::None => QuantDesc::None,
                    OwnedQuant::PerTensor { scale, zero_point } => {
                        QuantDesc::PerTensor { scale, zero_point }
                    }
                    OwnedQuant::PerChannel { axis, companions } => QuantDesc::PerChannel {
                        axis,
                        scales: scale,
                        multiplier: companions.then_some(multiplier.as_str()),
                        shift: companions.then_some(shift.as_str()),
                    },
                    OwnedQuant::PerChannelPacked { axis } => {
                        QuantDesc::PerChannelPacked { axis, record }
                    }
                },
            })
            .collect();
        let spec = BlobSpec {
            architecture: self.architecture,
            preset: &self.preset,
            fingerprint: self.fingerprint,
            scheme: self.scheme,
            signed: signer.is_some(),
        };
        let n = blob::encoded_len(&spec, &descs)?;
        let mut out = vec![0u8; n];
        blob::encode(&spec, &descs, &mut out)?;
        if let Some(key) = signer {
            let (message, sig) = out.split_at_mut(n - SIGNATURE_LEN);
            sig.copy_from_slice(&key.sign(message).to_bytes());
            let public = key.verifying_key().to_bytes();
            blob::Blob::parse(&out, blob::SignaturePolicy::Required(&public))?;
        }
        Ok(out)
    }

    /// Encodes (and signs) the blob and writes it to `path` atomically.
    pub fn write(
        &self,
        path: &Path,
        signer: Option<&SigningKey>,
    ) -> Result<WriteReport, WriteError> {
        let bytes = self.to_bytes(signer)?;
        write_atomic(path, &bytes, 0o644)?;
        let parsed = blob::Blob::parse(&bytes, blob::SignaturePolicy::Optional)?;
        Ok(WriteReport {
            path: path.to_owned(),
            bytes: bytes.len(),
            tensors: parsed.tensor_count(),
            checksum: parsed.stored_checksum(),
            signed: signer.is_some(),
        })
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// `path` holds either its old contents or all of `bytes`. `mode` is the new file's Unix
/// permission bits.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), WriteError> {
    let io = |problem: String| WriteError::Io {
        path: path.to_owned(),
        problem,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(io(format!(
            "output directory {} does not exist",
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(io("is a directory".into()));
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            io(format!(
                "cannot create a temporary file in {}: {e}",
                dir.display()
            ))
        })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| io(format!("cannot write: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .map_err(|e| io(format!("cannot set permissions: {e}")))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.persist(path)
        .map_err(|e| io(format!("cannot rename into place: {}", e.error)))?;
    // Make the rename itself durable (best effort: not every platform can sync a directory).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hepaseg_core::blob::{Blob, Quant, SignaturePolicy};
    use hepaseg_core::nets::agcaf::AgcafTiny;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn int8_writer() -> BlobWriter {
        let mut w = BlobWriter::for_network::<AgcafTiny>(QuantScheme::Int8PerChannel);
        let q: Vec<i8> = (0..2 * 3).map(|i| i as i8 - 3).collect();
        w.add_i8_per_channel(
            "head.weight",
            &[2, 3],
            0,
            &q,
            &[0.5, 0.25],
            Some((&[1 << 30, 1 << 30], &[-2, -3])),
        )
        .unwrap()
        .add_i32("head.bias", &[2], &[5, -5], Some((0.125, 0)))
        .unwrap()
        .add_i8("act.head", &[], &[7], Some((0.1, 7)))
        .unwrap()
        .add_u8("table", &[4], &[1, 2, 3, 4], None)
        .unwrap()
        .add_f32("extra", &[1], &[1.5])
        .unwrap();
        w
    }

    #[test]
    fn int8_tensors_and_companions_round_trip() {
        let w = int8_writer();
        assert_eq!(w.tensor_count(), 8);
        let bytes = w.to_bytes(None).unwrap();
        let aligned: Vec<u32> = bytes
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let b = bytemuck::cast_slice::<u32, u8>(&aligned);
        let blob = Blob::for_network::<AgcafTiny>(b, SignaturePolicy::Optional).unwrap();
        let wt = blob.tensor_by_name("head.weight").unwrap();
        let Quant::PerChannel {
            axis: 0,
            scales,
            multiplier: Some(m),
            shift: Some(s),
        } = wt.quant
        else {
            panic!("{:?}", wt.quant)
        };
        assert_eq!(blob.tensor_f32(scales as usize).unwrap(), &[0.5, 0.25]);
        assert_eq!(blob.tensor_i32(m as usize).unwrap(), &[1 << 30, 1 << 30]);
        assert_eq!(blob.tensor_i32(s as usize).unwrap(), &[-2, -3]);
        assert_eq!(
            blob.tensor_i8(wt.index as usize).unwrap(),
            &[-3, -2, -1, 0, 1, 2]
        );
        let act = blob.tensor_by_name("act.head").unwrap();
        assert_eq!(
            act.quant,
            Quant::PerTensor {
                scale: 0.1,
                zero_point: 7
            }
        );
    }

    #[test]
    fn packed_weights_write_a_compact_blob() {
        let mut w = BlobWriter::for_network::<AgcafTiny>(QuantScheme::Int8PerChannel);
        let q: Vec<i8> = (0..2 * 3).map(|i| i as i8 - 3).collect();
        w.add_i8_per_channel_packed(
            "head.weight",
            &[2, 3],
            0,
            &q,
            &[0.5, 0.25],
            &[1 << 30, 1 << 30],
            &[-2, -3],
            &[5, -5],
        )
        .unwrap()
        .add_i8("act.head", &[], &[7], Some((0.1, 7)))
        .unwrap();
        assert_eq!(w.tensor_count(), 3);
        let bytes = w.to_bytes(None).unwrap();
        let aligned: Vec<u32> = bytes
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let b = bytemuck::cast_slice::<u32, u8>(&aligned);
        let blob = Blob::for_network::<AgcafTiny>(b, SignaturePolicy::Optional).unwrap();
        assert_eq!(blob.header().minor, 1);
        assert!(blob.header().is_compact());
        let wt = blob.tensor_by_name("head.weight").unwrap();
        let Quant::PerChannelPacked { axis: 0, record } = wt.quant else {
            panic!("{:?}", wt.quant)
        };
        assert_eq!(
            blob.tensor(record as usize).unwrap().name,
            "head.weight.quant"
        );
        let rows = blob.packed_rows(record).unwrap();
        assert_eq!(rows.scales, &[0.5, 0.25]);
        assert_eq!(rows.multiplier, &[1 << 30, 1 << 30]);
        assert_eq!(rows.shift, &[-2, -3]);
        assert_eq!(rows.bias, &[5, -5]);
    }

    #[test]
    fn bad_tensors_are_refused_by_name() {
        let mut w = BlobWriter::for_network::<AgcafTiny>(QuantScheme::F32);
        let e = w.add_f32("x", &[3], &[1.0, 2.0]).unwrap_err().to_string();
        assert!(e.contains("`x`") && e.contains("do not fill"), "{e}");
        let e = w.add_f32("y", &[1], &[f32::NAN]).unwrap_err().to_string();
        assert!(e.contains("`y`") && e.contains("NaN"), "{e}");
        w.add_f32("z", &[1], &[0.0]).unwrap();
        let e = w.add_f32("z", &[1], &[0.0]).unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
        let e = w
            .add_i8_per_channel("w", &[2, 2], 0, &[0; 4], &[1.0], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[1] values for 2 channels"), "{e}");
        let e = w
            .add_i8_per_channel_packed("p", &[2, 2], 0, &[0; 4], &[1.0; 2], &[0; 2], &[0], &[0; 2])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`p`") && e.contains("[2, 2, 1, 2] values for 2 channels"),
            "{e}"
        );
        // Invalid quantization parameters are caught by core's encoder.
        let mut w = BlobWriter::for_network::<AgcafTiny>(QuantScheme::Int8PerChannel);
        w.add_i8("a", &[1], &[0], Some((0.0, 0))).unwrap();
        assert!(matches!(
            w.to_bytes(None),
            Err(WriteError::Blob(BlobError::BadQuantParams { .. }))
        ));
    }

    #[test]
    fn signatures_valid_tampered_missing_and_wrong_key() {
        let w = int8_writer();
        let k = key(1);
        let public = k.verifying_key().to_bytes();
        let other = key(2).verifying_key().to_bytes();
        let signed = w.to_bytes(Some(&k)).unwrap();
        let unsigned = w.to_bytes(None).unwrap();
        assert_eq!(signed.len(), unsigned.len() + SIGNATURE_LEN);

        let required = |key| SignaturePolicy::Required(key);
        assert!(Blob::parse(&signed, required(&public)).is_ok());
        assert_eq!(
            Blob::parse(&signed, required(&other)).unwrap_err(),
            BlobError::SignatureInvalid
        );
        assert_eq!(
            Blob::parse(&unsigned, required(&public)).unwrap_err(),
            BlobError::SignatureMissing
        );
        // One bit anywhere in the signature.
        for bit in [0, 7, 255, 256, 511] {
            let mut t = signed.clone();
            let at = t.len() - SIGNATURE_LEN + bit / 8;
            t[at] ^= 1 << (bit % 8);
            assert_eq!(
                Blob::parse(&t, required(&public)).unwrap_err(),
                BlobError::SignatureInvalid,
                "bit {bit}"
            );
        }
        // One bit in the body, with the checksum re-computed (a deliberate forgery): the
        // checksum passes, the signature does not.
        let mut t = signed.clone();
        t[200] ^= 0x01;
        blob::seal(&mut t).unwrap();
        assert_eq!(
            Blob::parse(&t, required(&public)).unwrap_err(),
            BlobError::SignatureInvalid
        );
        // Signing is deterministic (Ed25519), so is the whole blob.
        assert_eq!(w.to_bytes(Some(&k)).unwrap(), signed);
    }

    #[test]
    fn write_is_atomic_and_names_the_path_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.hseg");
        std::fs::write(&path, b"old").unwrap();
        let r = int8_writer().write(&path, None).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), r.bytes);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");

        let missing = dir.path().join("no/such/dir/m.hseg");
        let e = int8_writer().write(&missing, None).unwrap_err().to_string();
        assert!(
            e.contains("no/such/dir") && e.contains("does not exist"),
            "{e}"
        );
        let e = int8_writer()
            .write(dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a directory"), "{e}");
    }
}
