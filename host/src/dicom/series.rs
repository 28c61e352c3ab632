//! A directory of single-frame DICOM files → one CT [`Volume`] in Hounsfield units with its
//! NIfTI geometry.
//!
//! Slice order: by ImagePositionPatient projected on the slice normal (the only order that is
//! geometrically right — file names and InstanceNumber are often but not always in step);
//! when a file lacks position or orientation, by InstanceNumber; failing that, by file name.
//! The slice spacing is the mean step between consecutive projected positions; for a single
//! slice (or without positions) SpacingBetweenSlices, then SliceThickness, then 1 mm.

use super::error::DicomError;
use super::geometry::{nifti_geometry, normal};
use super::slice::{read_slice, DicomSlice};
use crate::data::{Geometry, Volume};
use std::path::{Path, PathBuf};

/// A series read into a volume.
#[derive(Debug, Clone)]
pub struct DicomSeries {
    /// HU, `[columns, rows, slices]`, x fastest, slices in patient order.
    pub volume: Volume<f32>,
    /// The files in slice order.
    pub files: Vec<PathBuf>,
    /// Whether PixelSpacing was present (else spacing is 1 and volumes are in voxels).
    pub spacing_known: bool,
    /// How the slices were ordered: `"position"`, `"instance number"` or `"file name"`.
    pub order: &'static str,
    /// Things a user should know (non-uniform spacing, missing attributes).
    pub notes: Vec<String>,
}

fn inconsistent(path: &Path, detail: impl Into<String>) -> DicomError {
    DicomError::Inconsistent {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// The files of `dir` that may be DICOM, by name: hidden files, sub-directories and `DICOMDIR`
/// (an index, not an image) are skipped.
fn candidate_files(dir: &Path) -> Result<Vec<PathBuf>, DicomError> {
    let io = |e| DicomError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.eq_ignore_ascii_case("DICOMDIR") {
            continue;
        }
        let path = entry.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a DICOM series: a directory of single-frame files, or one file (a one-slice series).
pub fn read_series(path: &Path) -> Result<DicomSeries, DicomError> {
    let files = if path.is_dir() {
        candidate_files(path)?
    } else {
        vec![path.to_path_buf()]
    };
    if files.is_empty() {
        return Err(DicomError::EmptySeries {
            path: path.to_path_buf(),
        });
    }
    let slices = files
        .iter()
        .map(|f| read_slice(f))
        .collect::<Result<Vec<_>, _>>()?;
    assemble(path, slices)
}

/// Checks that `slices` form one volume, orders them and builds the volume and its geometry.
pub fn assemble(dir: &Path, mut slices: Vec<DicomSlice>) -> Result<DicomSeries, DicomError> {
    let Some(first) = slices.first() else {
        return Err(DicomError::EmptySeries {
            path: dir.to_path_buf(),
        });
    };
    let (rows, columns) = (first.rows, first.columns);
    let mut notes = Vec::new();
    for s in &slices[1..] {
        if (s.rows, s.columns) != (rows, columns) {
            return Err(inconsistent(
                &s.path,
                format!(
                    "{}×{} pixels, but {} is {}×{}",
                    s.columns,
                    s.rows,
                    first.path.display(),
                    columns,
                    rows
                ),
            ));
        }
        if s.series_uid.is_some() && first.series_uid.is_some() && s.series_uid != first.series_uid
        {
            return Err(inconsistent(
                &s.path,
                format!(
                    "SeriesInstanceUID {} differs from {} of {}; put one series per directory",
                    s.series_uid.as_deref().unwrap_or(""),
                    first.series_uid.as_deref().unwrap_or(""),
                    first.path.display()
                ),
            ));
        }
        if let (Some(a), Some(b)) = (s.orientation, first.orientation) {
            if a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-4) {
                return Err(inconsistent(
                    &s.path,
                    format!(
                        "ImageOrientationPatient {a:?} differs from {b:?} of {}",
                        first.path.display()
                    ),
                ));
            }
        }
    }
    let orientation = first.orientation;
    let n = orientation.map(normal);
    let by_position = n.is_some() && slices.iter().all(|s| s.position.is_some());
    let order;
    let mut keys: Vec<f64> = Vec::new();
    if let (true, Some(n)) = (by_position, n) {
        let project = |s: &DicomSlice| -> f64 {
            let p = s.position.unwrap_or_default();
            p[0] * n[0] + p[1] * n[1] + p[2] * n[2]
        };
        slices.sort_by(|a, b| project(a).total_cmp(&project(b)));
        keys = slices.iter().map(project).collect();
        for (w, k) in slices.windows(2).zip(keys.windows(2)) {
            if (k[1] - k[0]).abs() < 1e-4 {
                return Err(inconsistent(
                    &w[1].path,
                    format!("same slice position as {}", w[0].path.display()),
                ));
            }
        }
        order = "position";
    } else if slices.iter().all(|s| s.instance.is_some()) {
        slices.sort_by_key(|s| s.instance);
        for w in slices.windows(2) {
            if w[0].instance == w[1].instance {
                return Err(inconsistent(
                    &w[1].path,
                    format!(
                        "no ImagePositionPatient to order by, and the same InstanceNumber as {}",
                        w[0].path.display()
                    ),
                ));
            }
        }
        order = "instance number";
    } else {
        order = "file name";
    }
    if slices.len() > 1 && order != "position" {
        notes.push(format!(
            "slices ordered by {order}: ImagePositionPatient/ImageOrientationPatient missing"
        ));
    }

    let first = &slices[0];
    let spacing_known = first.pixel_spacing.is_some();
    if !spacing_known {
        notes.push("PixelSpacing missing: sizes are in voxels".into());
    }
    let [dy, dx] = first.pixel_spacing.unwrap_or([1.0, 1.0]);
    let dz = if keys.len() > 1 {
        let mean = (keys[keys.len() - 1] - keys[0]) / (keys.len() - 1) as f64;
        let worst = keys
            .windows(2)
            .map(|k| ((k[1] - k[0]) - mean).abs())
            .fold(0.0, f64::max);
        if worst > 0.1 * mean {
            notes.push(format!(
                "slice spacing is not uniform (mean {mean:.3} mm, a step differs by {worst:.3} mm); \
                 the volume uses the mean"
            ));
        }
        mean
    } else {
        first
            .spacing_between_slices
            .or(first.slice_thickness)
            .unwrap_or(1.0)
    };
    let geometry = match (orientation, first.position) {
        (Some(o), Some(p)) => nifti_geometry(o, p, [dx, dy, dz]),
        _ => {
            notes.push("no patient position/orientation: identity orientation assumed".into());
            Geometry::with_spacing([dx as f32, dy as f32, dz as f32])
        }
    };
    let depth = slices.len();
    let mut data = Vec::with_capacity(rows * columns * depth);
    let mut files = Vec::with_capacity(depth);
    for s in slices {
        data.extend_from_slice(&s.hu);
        files.push(s.path);
    }
    let volume = Volume::new([columns, rows, depth], data, geometry)
        .ok_or_else(|| inconsistent(dir, "voxel count does not match the dimensions"))?;
    Ok(DicomSeries {
        volume,
        files,
        spacing_known,
        order,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real CT slice shipped in `shared/testdata` (pydicom's `CT_small.dcm`).
    const CT_SMALL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/CT_small.dcm"
    );
    /// Byte offset of the first pixel value (after the (7FE0,0010) OW header) in CT_small.dcm.
    const FIRST_PIXEL: usize = 6300;

    #[test]
    fn real_ct_slice_in_hounsfield_units() {
        let s = read_slice(Path::new(CT_SMALL)).unwrap();
        assert_eq!((s.rows, s.columns), (128, 128));
        assert_eq!(s.rescale, (1.0, -1024.0));
        assert_eq!(s.pixel_spacing, Some([0.661468, 0.661468]));
        assert_eq!(s.position, Some([-158.135803, -179.035797, -75.699997]));
        assert_eq!(s.instance, Some(1));
        // Stored int16 values read independently (pydicom + struct.unpack('<h')), then
        // HU = stored − 1024: (y, x) → stored → HU.
        for ((y, x), hu) in [
            ((0, 0), -849.0),   // 175
            ((64, 64), 904.0),  // 1928
            ((10, 100), 203.0), // 1227
            ((127, 127), -115.0),
            ((50, 20), -12.0),
        ] {
            assert_eq!(s.hu[y * 128 + x], hu, "({y}, {x})");
        }
        let mean = s.hu.iter().map(|&v| f64::from(v)).sum::<f64>() / s.hu.len() as f64;
        assert!((mean - -119.0738525390625).abs() < 1e-9, "{mean}");
    }

    /// Copies of CT_small at other z positions (same-length edits of the DS string) whose
    /// first pixel is marked, named so that file order is not slice order.
    fn fake_series(dir: &Path) {
        let bytes = std::fs::read(CT_SMALL).unwrap();
        let at = bytes.windows(10).position(|w| w == b"-75.699997").unwrap();
        for (name, z, mark) in [
            ("a.dcm", b"-65.699997", 3i16),
            ("b.dcm", b"-75.699997", 1),
            ("c.dcm", b"-70.699997", 2),
        ] {
            let mut b = bytes.clone();
            b[at..at + 10].copy_from_slice(z);
            b[FIRST_PIXEL..FIRST_PIXEL + 2].copy_from_slice(&(1024 + mark).to_le_bytes());
            std::fs::write(dir.join(name), b).unwrap();
        }
    }

    #[test]
    fn series_ordered_by_position_with_geometry() {
        let dir = tempfile::tempdir().unwrap();
        fake_series(dir.path());
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        let s = read_series(dir.path()).unwrap();
        assert_eq!(s.order, "position");
        assert_eq!(s.volume.dims(), [128, 128, 3]);
        let names: Vec<_> = s
            .files
            .iter()
            .map(|f| f.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["b.dcm", "c.dcm", "a.dcm"]);
        for z in 0..3 {
            assert_eq!(s.volume.slice(z)[0], (z + 1) as f32, "slice {z}");
        }
        let g = s.volume.geometry();
        assert!((g.spacing[2] - 5.0).abs() < 1e-4, "{:?}", g.spacing);
        assert_eq!(g.spacing[0], 0.661468);
        // LPS origin (−158.1, −179.0, −75.7) → RAS (158.1, 179.0, −75.7).
        let ras = [158.135803f64, 179.035797, -75.699997].map(|v| v as f32);
        assert_eq!(g.qoffset, ras);
        assert!(s.notes.is_empty(), "{:?}", s.notes);
    }

    #[test]
    fn bad_series_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_series(dir.path()),
            Err(DicomError::EmptySeries { .. })
        ));
        std::fs::copy(CT_SMALL, dir.path().join("one.dcm")).unwrap();
        std::fs::copy(CT_SMALL, dir.path().join("two.dcm")).unwrap();
        let e = read_series(dir.path()).unwrap_err();
        assert!(
            e.to_string().contains("two.dcm") && e.to_string().contains("same slice position"),
            "{e}"
        );
        std::fs::remove_file(dir.path().join("two.dcm")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        let e = read_series(dir.path()).unwrap_err();
        assert!(
            matches!(e, DicomError::NotDicom { .. }) && e.to_string().contains("notes.txt"),
            "{e}"
        );
        // Truncated inside the pixel data.
        std::fs::remove_file(dir.path().join("notes.txt")).unwrap();
        let bytes = std::fs::read(CT_SMALL).unwrap();
        std::fs::write(dir.path().join("cut.dcm"), &bytes[..FIRST_PIXEL + 100]).unwrap();
        let e = read_slice(&dir.path().join("cut.dcm")).unwrap_err();
        assert!(e.to_string().contains("cut.dcm"), "{e}");
    }
}
