//! Reading NIfTI-1 volumes (`.nii`, `.nii.gz`) into [`Volume`]s.
//!
//! The `nifti` crate parses and byte-swaps the 348-byte header (either endianness); this module
//! validates it *before* any voxel memory is reserved (dimensions, datatype, size), streams the
//! voxel bytes (through gzip when the name ends in `.gz`), reports a short file as truncated with
//! both byte counts, and converts every supported datatype to `f32` applying
//! `scl_slope`/`scl_inter`. Geometry (spacing, qform, sform) is kept for export.

use super::error::DataError;
use super::volume::{Geometry, Volume, BACKGROUND, TUMOR};
use flate2::read::MultiGzDecoder;
use nifti::{Endianness, NiftiHeader};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Bytes of a NIfTI-1 header.
const HEADER_BYTES: usize = 348;
/// Largest volume accepted (voxels): 4× the largest LiTS scan, far below what would exhaust RAM.
const MAX_VOXELS: u64 = 1 << 30;
/// Largest extension block skipped between header and data.
const MAX_EXTENSION_BYTES: u64 = 64 << 20;

/// What the header says about a file, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NiftiInfo {
    /// `[width, height, depth]` (a 2-D image has depth 1).
    pub dims: [usize; 3],
    /// NIfTI datatype code (2 = uint8, 4 = int16, 16 = float32, …).
    pub datatype: i16,
    /// Bytes per voxel.
    pub bytes_per_voxel: usize,
    /// `scl_slope` as stored (0 means "no scaling").
    pub scl_slope: f32,
    /// `scl_inter` as stored.
    pub scl_inter: f32,
    /// Byte order of the file.
    pub big_endian: bool,
    /// Offset of the voxel data.
    pub vox_offset: u64,
    /// Spacing and orientation.
    pub geometry: Geometry,
}

impl NiftiInfo {
    /// Bytes of voxel data.
    pub fn data_bytes(&self) -> u64 {
        self.dims.iter().map(|&d| d as u64).product::<u64>() * self.bytes_per_voxel as u64
    }
}

/// Bytes per voxel of the datatypes this reader converts, `None` for the others.
fn datatype_size(code: i16) -> Option<usize> {
    match code {
        2 | 256 => Some(1),          // uint8, int8
        4 | 512 => Some(2),          // int16, uint16
        8 | 16 | 768 => Some(4),     // int32, float32, uint32
        64 | 1024 | 1280 => Some(8), // float64, int64, uint64
        _ => None,
    }
}

/// Opens `path` as a byte stream, through gzip for `.gz` names.
fn open(path: &Path) -> Result<Box<dyn Read>, DataError> {
    let file = File::open(path).map_err(|e| DataError::read(path, e))?;
    let reader = BufReader::new(file);
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        Ok(Box::new(MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Classifies an I/O error met while reading `path` after `found` bytes of `expected`.
fn stream_error(path: &Path, e: std::io::Error, expected: u64, found: u64) -> DataError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::UnexpectedEof => DataError::TruncatedNifti {
            path: path.to_path_buf(),
            expected,
            found,
        },
        ErrorKind::InvalidInput | ErrorKind::InvalidData => DataError::CorruptGzip {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        _ => DataError::read(path, e),
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn not_nifti(path: &Path, detail: impl Into<String>) -> DataError {
    DataError::NotNifti {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// A spacing usable for physical distances: `|pixdim|` when finite and non-zero, else 1.
fn sane_spacing(v: f32) -> f32 {
    if v.is_finite() && v != 0.0 {
        v.abs()
    } else {
        1.0
    }
}

/// Validates a parsed header and extracts what the reader needs.
fn validate(path: &Path, h: &NiftiHeader) -> Result<NiftiInfo, DataError> {
    if h.sizeof_hdr != HEADER_BYTES as i32 {
        return Err(not_nifti(
            path,
            format!("header size field is {}, expected 348", h.sizeof_hdr),
        ));
    }
    if &h.magic != b"n+1\0" {
        return Err(not_nifti(
            path,
            "header-only file (.hdr/.img pair); use a single-file .nii or .nii.gz",
        ));
    }
    let wrong = |detail: String| DataError::WrongDimensions {
        path: path.to_path_buf(),
        detail,
    };
    let ndim = usize::from(h.dim[0]);
    if !(2..=7).contains(&ndim) {
        return Err(wrong(format!(
            "dim[0] = {ndim}; expected a 2-D or 3-D image"
        )));
    }
    let dim = &h.dim[1..=ndim];
    if let Some(i) = dim.iter().position(|&d| d == 0 || d > 32767) {
        return Err(wrong(format!(
            "dim[{}] = {} is not a valid size",
            i + 1,
            dim[i]
        )));
    }
    if dim.len() > 3 && dim[3..].iter().any(|&d| d != 1) {
        return Err(wrong(format!(
            "{ndim}-D array {dim:?}; expected a single 3-D volume"
        )));
    }
    let dims = [
        usize::from(dim[0]),
        usize::from(dim[1]),
        dim.get(2).map_or(1, |&d| usize::from(d)),
    ];
    let voxels = dims.iter().map(|&d| d as u64).product::<u64>();
    if voxels > MAX_VOXELS {
        return Err(wrong(format!(
            "{dims:?} is {voxels} voxels, more than the {MAX_VOXELS} accepted"
        )));
    }
    let Some(bytes_per_voxel) = datatype_size(h.datatype) else {
        let name = h
            .data_type()
            .map(|t| format!("{t:?}"))
            .unwrap_or_else(|_| "unknown".into());
        return Err(DataError::UnsupportedDatatype {
            path: path.to_path_buf(),
            code: h.datatype,
            name,
        });
    };
    if !h.vox_offset.is_finite()
        || h.vox_offset < HEADER_BYTES as f32
        || f64::from(h.vox_offset) > (HEADER_BYTES as u64 + 4 + MAX_EXTENSION_BYTES) as f64
    {
        return Err(not_nifti(
            path,
            format!("vox_offset {} is out of range", h.vox_offset),
        ));
    }
    let has = |i: usize| ndim >= i;
    let spacing = [
        sane_spacing(h.pixdim[1]),
        sane_spacing(h.pixdim[2]),
        if has(3) {
            sane_spacing(h.pixdim[3])
        } else {
            1.0
        },
    ];
    let geometry = Geometry {
        spacing,
        qfac: if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 },
        qform_code: h.qform_code,
        sform_code: h.sform_code,
        quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
        qoffset: [h.quatern_x, h.quatern_y, h.quatern_z],
        srow: [h.srow_x, h.srow_y, h.srow_z],
        xyzt_units: h.xyzt_units,
    };
    Ok(NiftiInfo {
        dims,
        datatype: h.datatype,
        bytes_per_voxel,
        scl_slope: h.scl_slope,
        scl_inter: h.scl_inter,
        big_endian: h.endianness == Endianness::Big,
        vox_offset: h.vox_offset as u64,
        geometry,
    })
}

/// Reads and validates the header of `path` (first 348 bytes; nothing else is decoded).
fn read_header_from(path: &Path, r: &mut dyn Read) -> Result<NiftiInfo, DataError> {
    let mut buf = [0u8; HEADER_BYTES];
    let n = read_full(r, &mut buf).map_err(|e| stream_error(path, e, HEADER_BYTES as u64, 0))?;
    if n < HEADER_BYTES {
        return Err(DataError::TruncatedNifti {
            path: path.to_path_buf(),
            expected: HEADER_BYTES as u64,
            found: n as u64,
        });
    }
    let size_le = i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let size_be = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size_le == 540 || size_be == 540 {
        return Err(not_nifti(path, "NIfTI-2 files are not supported"));
    }
    if size_le != 348 && size_be != 348 {
        return Err(not_nifti(
            path,
            format!("header size field is {size_le}, expected 348"),
        ));
    }
    let header = NiftiHeader::from_reader(&buf[..]).map_err(|e| not_nifti(path, e.to_string()))?;
    validate(path, &header)
}

/// Reads and validates the header of the NIfTI file at `path`.
pub fn read_info(path: &Path) -> Result<NiftiInfo, DataError> {
    let mut r = open(path)?;
    read_header_from(path, r.as_mut())
}

/// Reads the header and the raw voxel bytes.
fn read_raw(path: &Path) -> Result<(NiftiInfo, Vec<u8>), DataError> {
    let mut r = open(path)?;
    let info = read_header_from(path, r.as_mut())?;
    let skip = info.vox_offset - HEADER_BYTES as u64;
    let expected = info.vox_offset + info.data_bytes();
    let skipped = std::io::copy(&mut r.as_mut().take(skip), &mut std::io::sink())
        .map_err(|e| stream_error(path, e, expected, HEADER_BYTES as u64))?;
    let nbytes = info.data_bytes();
    let mut data = Vec::new();
    data.try_reserve_exact(nbytes as usize)
        .map_err(|_| DataError::WrongDimensions {
            path: path.to_path_buf(),
            detail: format!("cannot allocate {nbytes} bytes for the voxel data"),
        })?;
    let got = r
        .as_mut()
        .take(nbytes)
        .read_to_end(&mut data)
        .map_err(|e| stream_error(path, e, expected, HEADER_BYTES as u64 + skipped))?;
    if skipped < skip || (got as u64) < nbytes {
        return Err(DataError::TruncatedNifti {
            path: path.to_path_buf(),
            expected,
            found: HEADER_BYTES as u64 + skipped + got as u64,
        });
    }
    Ok((info, data))
}

/// Decodes every voxel of `raw` (datatype and byte order from `info`) as `f64`.
fn decode_voxels(info: &NiftiInfo, raw: &[u8]) -> Vec<f64> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            raw.chunks_exact($n)
                .map(|c| {
                    let mut b = [0u8; $n];
                    b.copy_from_slice(c);
                    let v = if info.big_endian {
                        <$t>::from_be_bytes(b)
                    } else {
                        <$t>::from_le_bytes(b)
                    };
                    v as f64
                })
                .collect()
        };
    }
    match info.datatype {
        2 => raw.iter().map(|&v| f64::from(v)).collect(),
        256 => raw.iter().map(|&v| f64::from(v as i8)).collect(),
        4 => conv!(i16, 2),
        512 => conv!(u16, 2),
        8 => conv!(i32, 4),
        768 => conv!(u32, 4),
        16 => conv!(f32, 4),
        64 => conv!(f64, 8),
        1024 => conv!(i64, 8),
        1280 => conv!(u64, 8),
        // validate() admits only the codes above.
        _ => Vec::new(),
    }
}

/// The scaling NIfTI prescribes: `v·slope + inter` when `slope` is non-zero and finite.
fn scaling(info: &NiftiInfo) -> Option<(f64, f64)> {
    let slope = f64::from(info.scl_slope);
    let inter = f64::from(info.scl_inter);
    (slope != 0.0 && slope.is_finite())
        .then_some((slope, if inter.is_finite() { inter } else { 0.0 }))
}

/// Reads a scalar volume (e.g. CT in Hounsfield units), scaled by `scl_slope`/`scl_inter`.
pub fn read_volume(path: &Path) -> Result<Volume<f32>, DataError> {
    let (info, raw) = read_raw(path)?;
    let scale = scaling(&info);
    let data: Vec<f32> = decode_voxels(&info, &raw)
        .into_iter()
        .map(|v| match scale {
            Some((s, i)) => (v * s + i) as f32,
            None => v as f32,
        })
        .collect();
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        let [w, h, _] = info.dims;
        let plane = (w * h).max(1);
        return Err(DataError::NonFiniteVoxel {
            path: path.to_path_buf(),
            voxel: [i % w.max(1), i % plane / w.max(1), i / plane],
            value: data[i],
        });
    }
    Volume::new(info.dims, data, info.geometry).ok_or_else(|| DataError::WrongDimensions {
        path: path.to_path_buf(),
        detail: "voxel count does not match the dimensions".into(),
    })
}

/// Reads a label volume (0 background, 1 liver, 2 tumour; any datatype, scaling applied).
/// Any other value, including non-integers, is an [`DataError::InvalidLabel`].
pub fn read_labels(path: &Path) -> Result<Volume<u8>, DataError> {
    let vol = read_volume(path)?;
    let mut labels = Vec::with_capacity(vol.data().len());
    for &v in vol.data() {
        let r = v.round();
        if r != v || !(f32::from(BACKGROUND)..=f32::from(TUMOR)).contains(&r) {
            return Err(DataError::InvalidLabel {
                path: path.to_path_buf(),
                value: f64::from(v),
            });
        }
        labels.push(r as u8);
    }
    Volume::new(vol.dims(), labels, vol.geometry().clone()).ok_or_else(|| {
        DataError::WrongDimensions {
            path: path.to_path_buf(),
            detail: "voxel count does not match the dimensions".into(),
        }
    })
}
