//! One DICOM file → one CT slice in Hounsfield units, with the attributes that place it.
//!
//! dicom-rs parses the file (`dicom-object`) and unpacks the stored pixel values
//! (`dicom-pixeldata`: bits allocated/stored, signedness, byte order). The modality LUT is
//! applied here rather than by the decoder, from the file's own RescaleSlope and
//! RescaleIntercept (defaults 1 and 0), so that what reaches the network is exactly
//! `HU = stored · slope + intercept` whatever the decoder's defaults become.

use super::error::{chain, DicomError};
use dicom_dictionary_std::tags;
use dicom_object::{open_file, DefaultDicomObject};
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest slice accepted (pixels per side): beyond any CT scanner, far below what exhausts RAM.
const MAX_SIDE: usize = 8192;

/// A decoded slice and where it lies.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomSlice {
    /// The file.
    pub path: PathBuf,
    /// Rows (height).
    pub rows: usize,
    /// Columns (width).
    pub columns: usize,
    /// Hounsfield units, row-major (x = column fastest).
    pub hu: Vec<f32>,
    /// ImagePositionPatient: centre of the first transmitted pixel, LPS, mm.
    pub position: Option<[f64; 3]>,
    /// ImageOrientationPatient: row direction cosines, then column direction cosines.
    pub orientation: Option<[f64; 6]>,
    /// PixelSpacing: `[row spacing (between rows, along y), column spacing (along x)]`, mm.
    pub pixel_spacing: Option<[f64; 2]>,
    /// InstanceNumber.
    pub instance: Option<i64>,
    /// SliceThickness, mm.
    pub slice_thickness: Option<f64>,
    /// SpacingBetweenSlices, mm.
    pub spacing_between_slices: Option<f64>,
    /// SeriesInstanceUID.
    pub series_uid: Option<String>,
    /// (RescaleSlope, RescaleIntercept) as applied.
    pub rescale: (f64, f64),
}

fn unsupported(path: &Path, detail: impl Into<String>) -> DicomError {
    DicomError::Unsupported {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Checks the Part 10 signature (`DICM` after the 128-byte preamble) so that a stray text or
/// image file is reported as "not DICOM" rather than with a parser's internal message.
fn check_marker(path: &Path) -> Result<(), DicomError> {
    let mut head = [0u8; 132];
    let mut file = std::fs::File::open(path).map_err(|e| DicomError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(DicomError::Io {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        }
    }
    if n < head.len() || &head[128..132] != b"DICM" {
        return Err(DicomError::NotDicom {
            path: path.to_path_buf(),
            detail: "no DICM marker at byte 128 (not a DICOM Part 10 file)".into(),
        });
    }
    Ok(())
}

/// The numbers of a multi-valued decimal attribute, `None` when absent or empty.
fn floats(
    obj: &DefaultDicomObject,
    tag: dicom_object::Tag,
    name: &str,
    path: &Path,
) -> Result<Option<Vec<f64>>, DicomError> {
    let Some(e) = obj.element_opt(tag).ok().flatten() else {
        return Ok(None);
    };
    // Type 2 attributes are often present but empty: treat them as absent.
    if e.to_str().is_ok_and(|s| {
        s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .is_empty()
    }) {
        return Ok(None);
    }
    let v = e
        .to_multi_float64()
        .map_err(|err| unsupported(path, format!("{name}: {}", chain(&err))))?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(unsupported(path, format!("{name} {v:?} is not finite")));
    }
    Ok((!v.is_empty()).then_some(v))
}

/// A fixed number of values of a decimal attribute.
fn floats_n<const K: usize>(
    obj: &DefaultDicomObject,
    tag: dicom_object::Tag,
    name: &str,
    path: &Path,
) -> Result<Option<[f64; K]>, DicomError> {
    match floats(obj, tag, name, path)? {
        None => Ok(None),
        Some(v) => v
            .get(..K)
            .and_then(|s| <[f64; K]>::try_from(s).ok())
            .map(Some)
            .ok_or_else(|| {
                unsupported(path, format!("{name} has {} values, expected {K}", v.len()))
            }),
    }
}

/// An integer attribute, `None` when absent, empty or not an integer.
fn integer(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Option<i64> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_int::<i64>().ok())
}

/// A text attribute, trimmed; `None` when absent or empty.
fn text(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Option<String> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok())
        .map(|s| {
            s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_owned()
        })
        .filter(|s| !s.is_empty())
}

/// Reads one single-frame greyscale DICOM file.
pub fn read_slice(path: &Path) -> Result<DicomSlice, DicomError> {
    check_marker(path)?;
    let bytes = std::fs::read(path).map_err(|e| DicomError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    super::lengths::check(&bytes).map_err(|detail| DicomError::NotDicom {
        path: path.to_path_buf(),
        detail,
    })?;
    let obj = open_file(path).map_err(|e| DicomError::NotDicom {
        path: path.to_path_buf(),
        detail: chain(&e),
    })?;
    if obj.element_opt(tags::PIXEL_DATA).ok().flatten().is_none() {
        return Err(DicomError::NoPixelData {
            path: path.to_path_buf(),
        });
    }
    let samples = integer(&obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if samples != 1 {
        return Err(unsupported(
            path,
            format!("{samples} samples per pixel (colour); CT slices are greyscale"),
        ));
    }
    let frames = integer(&obj, tags::NUMBER_OF_FRAMES).unwrap_or(1);
    if frames != 1 {
        return Err(unsupported(
            path,
            format!("{frames} frames in one file; give a series of single-frame files"),
        ));
    }
    let side = |tag, name: &str| -> Result<usize, DicomError> {
        integer(&obj, tag)
            .and_then(|v| usize::try_from(v).ok())
            .filter(|&v| (1..=MAX_SIDE).contains(&v))
            .ok_or_else(|| unsupported(path, format!("{name} missing or outside 1..={MAX_SIDE}")))
    };
    let rows = side(tags::ROWS, "Rows")?;
    let columns = side(tags::COLUMNS, "Columns")?;

    let decoded = obj.decode_pixel_data().map_err(|e| {
        unsupported(
            path,
            format!(
                "cannot decode pixel data (transfer syntax {}; hepaseg reads uncompressed DICOM): {}",
                obj.meta().transfer_syntax().trim_end_matches('\0'),
                chain(&e)
            ),
        )
    })?;
    let raw: Vec<f64> = decoded
        .to_vec_with_options(&ConvertOptions::new().with_modality_lut(ModalityLutOption::None))
        .map_err(|e| unsupported(path, format!("cannot convert pixel data: {}", chain(&e))))?;
    if raw.len() != rows * columns {
        return Err(unsupported(
            path,
            format!(
                "pixel data holds {} values, Rows × Columns is {}",
                raw.len(),
                rows * columns
            ),
        ));
    }
    let slope =
        floats_n::<1>(&obj, tags::RESCALE_SLOPE, "RescaleSlope", path)?.map_or(1.0, |v| v[0]);
    let intercept = floats_n::<1>(&obj, tags::RESCALE_INTERCEPT, "RescaleIntercept", path)?
        .map_or(0.0, |v| v[0]);
    if slope == 0.0 {
        return Err(unsupported(path, "RescaleSlope is 0"));
    }
    let hu = raw
        .iter()
        .map(|&v| (v * slope + intercept) as f32)
        .collect();

    let pixel_spacing = floats_n::<2>(&obj, tags::PIXEL_SPACING, "PixelSpacing", path)?;
    if let Some(s) = pixel_spacing {
        if s.iter().any(|&v| v <= 0.0) {
            return Err(unsupported(
                path,
                format!("PixelSpacing {s:?} is not positive"),
            ));
        }
    }
    let orientation = floats_n::<6>(
        &obj,
        tags::IMAGE_ORIENTATION_PATIENT,
        "ImageOrientationPatient",
        path,
    )?;
    if let Some(o) = orientation {
        let norm = |a: &[f64]| a.iter().map(|v| v * v).sum::<f64>().sqrt();
        let dot: f64 = (0..3).map(|k| o[k] * o[k + 3]).sum();
        if (norm(&o[..3]) - 1.0).abs() > 1e-3
            || (norm(&o[3..]) - 1.0).abs() > 1e-3
            || dot.abs() > 1e-3
        {
            return Err(unsupported(
                path,
                format!("ImageOrientationPatient {o:?} is not two orthogonal unit vectors"),
            ));
        }
    }
    Ok(DicomSlice {
        path: path.to_path_buf(),
        rows,
        columns,
        hu,
        position: floats_n::<3>(
            &obj,
            tags::IMAGE_POSITION_PATIENT,
            "ImagePositionPatient",
            path,
        )?,
        orientation,
        pixel_spacing,
        instance: integer(&obj, tags::INSTANCE_NUMBER),
        slice_thickness: floats_n::<1>(&obj, tags::SLICE_THICKNESS, "SliceThickness", path)?
            .map(|v| v[0])
            .filter(|&v| v > 0.0),
        spacing_between_slices: floats_n::<1>(
            &obj,
            tags::SPACING_BETWEEN_SLICES,
            "SpacingBetweenSlices",
            path,
        )?
        .map(|v| v[0].abs())
        .filter(|&v| v > 0.0),
        series_uid: text(&obj, tags::SERIES_INSTANCE_UID),
        rescale: (slope, intercept),
    })
}
