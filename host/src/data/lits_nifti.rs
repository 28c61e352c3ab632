//! The original LiTS layout: `volume-N.nii` with `segmentation-N.nii` (optionally `.nii.gz`).
//!
//! Files of the LiTS test phase (`test-volume-N.nii`) have no segmentation and are skipped.

use super::error::DataError;
use super::nifti_write::{write_ct, write_labels};
use super::volume::Volume;
use super::volume_pair::VolumePair;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Parses `volume-N.nii` / `volume-N.nii.gz` into `N`.
fn parse_volume_name(name: &str) -> Option<u32> {
    let stem = name.strip_prefix("volume-")?;
    let num = stem
        .strip_suffix(".nii.gz")
        .or_else(|| stem.strip_suffix(".nii"))?;
    num.parse().ok()
}

/// Whether `dir` holds at least one `volume-N.nii[.gz]`.
pub fn detect(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut it| {
        it.any(|e| e.is_ok_and(|e| parse_volume_name(&e.file_name().to_string_lossy()).is_some()))
    })
}

/// The segmentation file that belongs to `volume`: same number and extension.
fn label_path(dir: &Path, study: u32, gz: bool) -> PathBuf {
    dir.join(format!(
        "segmentation-{study}.nii{}",
        if gz { ".gz" } else { "" }
    ))
}

/// Lists the volume pairs of `dir`, sorted by number; a volume without its segmentation is an
/// error naming the missing file.
pub fn scan(dir: &Path) -> Result<Vec<VolumePair>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::read(dir, e))?;
    let mut pairs = BTreeMap::new();
    for e in entries {
        let name = e.map_err(|e| DataError::read(dir, e))?.file_name();
        let name = name.to_string_lossy();
        let Some(study) = parse_volume_name(&name) else {
            continue;
        };
        let image = dir.join(&*name);
        let gz = name.ends_with(".gz");
        let mut label = label_path(dir, study, gz);
        if !label.is_file() {
            // Accept a mixed pair (volume .nii, segmentation .nii.gz or the reverse).
            let other = label_path(dir, study, !gz);
            if other.is_file() {
                label = other;
            } else {
                return Err(DataError::MissingFile {
                    path: label,
                    needed_by: image.display().to_string(),
                });
            }
        }
        pairs.insert(
            study,
            VolumePair {
                study,
                image,
                label,
            },
        );
    }
    if pairs.is_empty() {
        return Err(DataError::EmptyDataset {
            path: dir.to_path_buf(),
            detail: "no LiTS volumes (volume-N.nii or volume-N.nii.gz) found".into(),
        });
    }
    Ok(pairs.into_values().collect())
}

/// Writes one LiTS pair into `dir` (`volume-N.nii[.gz]`, `segmentation-N.nii[.gz]`); CT as int16
/// with `scl_inter = −1024`.
pub fn write_pair(
    dir: &Path,
    study: u32,
    ct: &Volume<f32>,
    labels: &Volume<u8>,
    gz: bool,
) -> Result<VolumePair, DataError> {
    let ext = if gz { ".nii.gz" } else { ".nii" };
    let image = dir.join(format!("volume-{study}{ext}"));
    let label = dir.join(format!("segmentation-{study}{ext}"));
    write_ct(&image, ct, -1024.0)?;
    write_labels(&label, labels)?;
    Ok(VolumePair {
        study,
        image,
        label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!(parse_volume_name("volume-7.nii"), Some(7));
        assert_eq!(parse_volume_name("volume-7.nii.gz"), Some(7));
        assert_eq!(parse_volume_name("test-volume-7.nii"), None);
        assert_eq!(parse_volume_name("volume-7_3.png"), None);
    }
}
