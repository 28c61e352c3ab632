//! Writing NIfTI-1 volumes (`.nii`, or gzip-compressed `.nii.gz`), atomically.
//!
//! The `nifti` crate's writer needs its `ndarray` API; a single-file NIfTI-1 is a fixed 348-byte
//! header, four zero bytes (no extensions) and the voxels, so this module writes it directly
//! (little-endian, `n+1` magic, data at offset 352) and carries the source [`Geometry`] over.
//! CT is stored as int16 with `scl_inter` (as scanners do: raw = HU − inter); labels as uint8.

use super::atomic::write_atomic;
use super::error::DataError;
use super::volume::{Geometry, Volume};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::Path;

/// Offset of the voxel data: header plus the 4-byte extension flag.
const VOX_OFFSET: usize = 352;

/// A NIfTI-1 header as bytes, for a 3-D volume of `dims` with `datatype`/`bitpix`.
fn header(
    dims: [usize; 3],
    datatype: i16,
    bitpix: i16,
    slope: f32,
    inter: f32,
    g: &Geometry,
) -> Result<[u8; VOX_OFFSET], String> {
    let mut h = [0u8; VOX_OFFSET];
    let mut put = |off: usize, bytes: &[u8]| h[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &348i32.to_le_bytes());
    put(38, b"r"); // "regular", as ANALYZE readers expect
    let mut dim = [0i16; 8];
    dim[0] = 3;
    for (i, &d) in dims.iter().enumerate() {
        dim[i + 1] = i16::try_from(d)
            .ok()
            .filter(|&d| d > 0)
            .ok_or_else(|| format!("dimension {d} does not fit NIfTI-1 (1..=32767)"))?;
    }
    dim[4..].fill(1);
    for (i, d) in dim.iter().enumerate() {
        put(40 + 2 * i, &d.to_le_bytes());
    }
    put(70, &datatype.to_le_bytes());
    put(72, &bitpix.to_le_bytes());
    let pixdim = [
        g.qfac,
        g.spacing[0],
        g.spacing[1],
        g.spacing[2],
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    for (i, p) in pixdim.iter().enumerate() {
        put(76 + 4 * i, &p.to_le_bytes());
    }
    put(108, &(VOX_OFFSET as f32).to_le_bytes());
    put(112, &slope.to_le_bytes());
    put(116, &inter.to_le_bytes());
    put(123, &[g.xyzt_units]);
    put(148, b"hepaseg");
    put(252, &g.qform_code.to_le_bytes());
    put(254, &g.sform_code.to_le_bytes());
    let quat = [
        g.quatern[0],
        g.quatern[1],
        g.quatern[2],
        g.qoffset[0],
        g.qoffset[1],
        g.qoffset[2],
    ];
    for (i, q) in quat.iter().enumerate() {
        put(256 + 4 * i, &q.to_le_bytes());
    }
    for (r, row) in g.srow.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            put(280 + 16 * r + 4 * c, &v.to_le_bytes());
        }
    }
    put(344, b"n+1\0");
    Ok(h)
}

/// Writes header and data to `path`, gzip-compressed when the name ends in `.gz`.
fn write_file(path: &Path, head: &[u8], data: &[u8]) -> Result<(), DataError> {
    let gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    write_atomic(path, |w| {
        if gz {
            let mut enc = GzEncoder::new(w, Compression::fast());
            enc.write_all(head)?;
            enc.write_all(data)?;
            enc.finish()?;
            Ok(())
        } else {
            w.write_all(head)?;
            w.write_all(data)
        }
    })
}

fn config_error(path: &Path, detail: String) -> DataError {
    DataError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, detail),
    }
}

/// Writes a CT volume in Hounsfield units as int16 with `scl_slope = 1`, `scl_inter = inter`
/// (stored value = round(HU − inter), clamped to the int16 range). With `inter = −1024` air
/// is stored as 0, like most scanners' unsigned-looking raw data.
pub fn write_ct(path: &Path, volume: &Volume<f32>, inter: f32) -> Result<(), DataError> {
    let head = header(volume.dims(), 4, 16, 1.0, inter, volume.geometry())
        .map_err(|d| config_error(path, d))?;
    let mut data = Vec::with_capacity(volume.data().len() * 2);
    for &hu in volume.data() {
        let raw = (hu - inter)
            .round()
            .clamp(f32::from(i16::MIN), f32::from(i16::MAX));
        // NaN clamps to NaN; `as` maps it to 0.
        data.extend_from_slice(&(raw as i16).to_le_bytes());
    }
    write_file(path, &head, &data)
}

/// Writes a label volume (0/1/2) as uint8 without scaling.
pub fn write_labels(path: &Path, labels: &Volume<u8>) -> Result<(), DataError> {
    let head = header(labels.dims(), 2, 8, 1.0, 0.0, labels.geometry())
        .map_err(|d| config_error(path, d))?;
    write_file(path, &head, labels.data())
}
