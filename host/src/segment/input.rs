//! What `segment` reads: a PNG slice, a directory of PNG slices, a NIfTI volume or a DICOM
//! series, told apart by name and content, each turned into planes of `[0, 1]` intensities.
//!
//! PNG slices are taken as already windowed (as the lits-png slices the networks train on
//! are): grey level / maximum. Volumes are in Hounsfield units and are windowed here.

use crate::data::nifti_read::read_volume;
use crate::data::png_io::read_image;
use crate::data::{Volume, Window};
use crate::dicom;
use std::path::{Path, PathBuf};

/// One PNG slice.
#[derive(Debug, Clone)]
pub struct PngSlice {
    /// The file.
    pub path: PathBuf,
    /// Its file name (the output mask gets the same name).
    pub name: String,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Intensities in `[0, 1]`, row-major.
    pub image: Vec<f32>,
}

/// Where a volume came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeSource {
    /// A `.nii` / `.nii.gz` file.
    Nifti,
    /// A DICOM series (directory) or single DICOM file.
    Dicom,
}

/// A CT volume to segment.
#[derive(Debug, Clone)]
pub struct CtVolume {
    /// HU, `[width, height, depth]`, with the geometry the mask will carry.
    pub ct: Volume<f32>,
    /// NIfTI or DICOM.
    pub source: VolumeSource,
    /// Voxel size (x, y, z) in millimetres, when the input says.
    pub spacing_mm: Option<[f64; 3]>,
    /// Things worth telling the user (from the DICOM reader, unit assumptions).
    pub notes: Vec<String>,
}

/// A loaded input.
#[derive(Debug, Clone)]
pub enum Input {
    /// Independent 2D slices (one file, or every PNG of a directory).
    Slices(Vec<PngSlice>),
    /// A volume.
    Volume(CtVolume),
}

impl Input {
    /// Human description, e.g. "NIfTI volume 64×64×24".
    pub fn describe(&self) -> String {
        match self {
            Input::Slices(s) if s.len() == 1 => {
                format!("PNG slice {}×{}", s[0].width, s[0].height)
            }
            Input::Slices(s) => format!("{} PNG slices", s.len()),
            Input::Volume(v) => {
                let [w, h, d] = v.ct.dims();
                let kind = match v.source {
                    VolumeSource::Nifti => "NIfTI volume",
                    VolumeSource::Dicom => "DICOM series",
                };
                let spacing = v.spacing_mm.map_or(String::new(), |s| {
                    format!(", voxel {:.3}×{:.3}×{:.3} mm", s[0], s[1], s[2])
                });
                format!("{kind} {w}×{h}×{d}{spacing}")
            }
        }
    }
}

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Whether `path` names a NIfTI file (`.nii` or `.nii.gz`).
pub fn is_nifti_name(path: &Path) -> bool {
    let n = lower_name(path);
    n.ends_with(".nii") || n.ends_with(".nii.gz")
}

fn is_png_name(path: &Path) -> bool {
    lower_name(path).ends_with(".png")
}

fn read_png(path: &Path) -> Result<PngSlice, String> {
    let (width, height, image) = read_image(path).map_err(|e| e.to_string())?;
    Ok(PngSlice {
        path: path.to_path_buf(),
        name: path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        width,
        height,
        image,
    })
}

/// The PNG files directly in `dir`, by name.
fn png_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let err = |e: std::io::Error| format!("{}: cannot read: {e}", dir.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let p = entry.map_err(err)?.path();
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden && p.is_file() && is_png_name(&p) {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// NIfTI `xyzt_units` spatial code → millimetres per unit (`None` when unknown).
fn mm_per_unit(xyzt_units: u8) -> Option<f64> {
    match xyzt_units & 0x07 {
        1 => Some(1000.0),
        2 => Some(1.0),
        3 => Some(0.001),
        _ => None,
    }
}

fn load_nifti(path: &Path) -> Result<CtVolume, String> {
    let ct = read_volume(path).map_err(|e| e.to_string())?;
    let g = ct.geometry();
    let mut notes = Vec::new();
    let scale = mm_per_unit(g.xyzt_units).unwrap_or_else(|| {
        notes.push("NIfTI spatial unit not set: spacing taken as millimetres".into());
        1.0
    });
    let spacing_mm = Some(g.spacing.map(|s| f64::from(s) * scale));
    Ok(CtVolume {
        ct,
        source: VolumeSource::Nifti,
        spacing_mm,
        notes,
    })
}

fn load_dicom(path: &Path) -> Result<CtVolume, String> {
    let series = dicom::read_series(path).map_err(|e| e.to_string())?;
    let g = series.volume.geometry();
    let spacing_mm = series.spacing_known.then(|| g.spacing.map(f64::from));
    let mut notes = series.notes;
    if series.files.len() > 1 {
        notes.insert(
            0,
            format!(
                "{} DICOM files ordered by {}",
                series.files.len(),
                series.order
            ),
        );
    }
    Ok(CtVolume {
        ct: series.volume,
        source: VolumeSource::Dicom,
        spacing_mm,
        notes,
    })
}

/// Reads `path`: a `.png` file, a `.nii`/`.nii.gz` file, a DICOM file, a directory of PNG
/// slices, or a DICOM series directory.
pub fn load(path: &Path) -> Result<Input, String> {
    let shown = path.display();
    if path.is_file() {
        if is_png_name(path) {
            return Ok(Input::Slices(vec![read_png(path)?]));
        }
        if is_nifti_name(path) {
            return load_nifti(path).map(Input::Volume);
        }
        if dicom::looks_like_dicom(path) {
            return load_dicom(path).map(Input::Volume);
        }
        return Err(format!(
            "{shown}: unrecognised input: expected a PNG slice (.png), a NIfTI volume \
             (.nii, .nii.gz), a DICOM file, or a directory of PNG slices or DICOM files"
        ));
    }
    if path.is_dir() {
        let pngs = png_files(path)?;
        if !pngs.is_empty() {
            return pngs
                .iter()
                .map(|p| read_png(p))
                .collect::<Result<Vec<_>, _>>()
                .map(Input::Slices);
        }
        if dicom::looks_like_dicom(path) {
            return load_dicom(path).map(Input::Volume);
        }
        let empty = std::fs::read_dir(path).is_ok_and(|mut it| it.next().is_none());
        return Err(if empty {
            format!("{shown}: empty directory: no PNG slices or DICOM files to segment")
        } else {
            format!("{shown}: no PNG slices (.png) or DICOM files in this directory")
        });
    }
    Err(format!("{shown}: no such file or directory"))
}

impl CtVolume {
    /// Slice `z` windowed to `[0, 1]`.
    pub fn plane(&self, z: usize, window: &Window) -> Vec<f32> {
        self.ct.slice(z).iter().map(|&v| window.apply(v)).collect()
    }
}
