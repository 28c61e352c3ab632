//! The Medical Segmentation Decathlon Task03_Liver layout: `dataset.json`, `imagesTr/`,
//! `labelsTr/` with `liver_N.nii.gz` files (labels 0 background, 1 liver, 2 cancer).
//!
//! The manifest is the source of truth (MSD archives also carry macOS `._liver_N.nii.gz`
//! resource files that must not be read as volumes). Patient numbers come from the file names
//! (`liver_N` is LiTS volume N), or from the position in the list when a name has no number.

use super::atomic::{create_dir, write_bytes_atomic};
use super::error::DataError;
use super::nifti_write::{write_ct, write_labels};
use super::volume::Volume;
use super::volume_pair::VolumePair;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFEST: &str = "dataset.json";

/// Whether `dir` holds an MSD manifest.
pub fn detect(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

fn bad(path: &Path, detail: impl Into<String>) -> DataError {
    DataError::BadManifest {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// The number in `liver_12.nii.gz`.
fn study_number(path: &str) -> Option<u32> {
    let name = Path::new(path).file_name()?.to_str()?;
    let stem = name.split('.').next()?;
    stem.rsplit('_').next()?.parse().ok()
}

/// Checks that the manifest's label names are the liver task's (when it names them).
fn check_labels(path: &Path, labels: Option<&Value>) -> Result<(), DataError> {
    let Some(labels) = labels else {
        return Ok(());
    };
    let name = |k: &str| {
        labels
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let liver = name("1");
    let lesion = name("2");
    if !liver.contains("liver")
        || !["cancer", "tumor", "tumour", "lesion"]
            .iter()
            .any(|w| lesion.contains(w))
    {
        return Err(bad(
            path,
            format!(
                "labels 1 = `{liver}`, 2 = `{lesion}`; expected the liver task (1 liver, 2 cancer)"
            ),
        ));
    }
    Ok(())
}

/// Lists the training pairs of the MSD folder `dir`.
pub fn scan(dir: &Path) -> Result<Vec<VolumePair>, DataError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| DataError::read(&path, e))?;
    let manifest: Value =
        serde_json::from_str(&text).map_err(|e| bad(&path, format!("invalid JSON: {e}")))?;
    check_labels(&path, manifest.get("labels"))?;
    let training = manifest
        .get("training")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(&path, "no `training` list"))?;
    let mut pairs = Vec::with_capacity(training.len());
    let mut seen = BTreeSet::new();
    for (i, entry) in training.iter().enumerate() {
        let field = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| bad(&path, format!("training[{i}] has no string `{k}`")))
        };
        let (image, label) = (field("image")?, field("label")?);
        let study = study_number(image).unwrap_or(i as u32);
        if !seen.insert(study) {
            return Err(bad(
                &path,
                format!("training[{i}]: patient {study} listed twice"),
            ));
        }
        let resolve = |p: &str| -> Result<PathBuf, DataError> {
            let full = dir.join(p);
            if full.is_file() {
                Ok(full)
            } else {
                Err(DataError::MissingFile {
                    path: full,
                    needed_by: format!("{} training[{i}]", path.display()),
                })
            }
        };
        pairs.push(VolumePair {
            study,
            image: resolve(image)?,
            label: resolve(label)?,
        });
    }
    if pairs.is_empty() {
        return Err(DataError::EmptyDataset {
            path,
            detail: "the `training` list is empty".into(),
        });
    }
    pairs.sort_by_key(|p| p.study);
    Ok(pairs)
}

/// Writes an MSD Task03_Liver folder: `imagesTr/liver_N.nii.gz`, `labelsTr/liver_N.nii.gz` and
/// `dataset.json` (written last, so a folder with a manifest is complete).
pub fn write(
    dir: &Path,
    volumes: &[(u32, &Volume<f32>, &Volume<u8>)],
) -> Result<Vec<VolumePair>, DataError> {
    let (images, labels) = (dir.join("imagesTr"), dir.join("labelsTr"));
    create_dir(&images)?;
    create_dir(&labels)?;
    let mut pairs = Vec::with_capacity(volumes.len());
    let mut training = Vec::with_capacity(volumes.len());
    for &(study, ct, seg) in volumes {
        let name = format!("liver_{study}.nii.gz");
        let pair = VolumePair {
            study,
            image: images.join(&name),
            label: labels.join(&name),
        };
        write_ct(&pair.image, ct, -1024.0)?;
        write_labels(&pair.label, seg)?;
        training.push(json!({
            "image": format!("./imagesTr/{name}"),
            "label": format!("./labelsTr/{name}"),
        }));
        pairs.push(pair);
    }
    let manifest = json!({
        "name": "Liver",
        "description": "hepaseg synthetic CT phantoms in the MSD Task03_Liver layout",
        "tensorImageSize": "3D",
        "reference": "generated by hepaseg synth",
        "licence": "CC0 (synthetic data)",
        "modality": { "0": "CT" },
        "labels": { "0": "background", "1": "liver", "2": "cancer" },
        "numTraining": volumes.len(),
        "numTest": 0,
        "training": training,
        "test": [],
    });
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| DataError::write(&dir.join(MANIFEST), std::io::Error::other(e.to_string())))?;
    write_bytes_atomic(&dir.join(MANIFEST), text.as_bytes())?;
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn study_numbers() {
        assert_eq!(study_number("./imagesTr/liver_12.nii.gz"), Some(12));
        assert_eq!(study_number("./imagesTr/case.nii.gz"), None);
    }

    #[test]
    fn label_names_checked() {
        let p = Path::new("dataset.json");
        assert!(check_labels(p, None).is_ok());
        let ok = json!({"0": "background", "1": "liver", "2": "cancer"});
        assert!(check_labels(p, Some(&ok)).is_ok());
        let spleen = json!({"0": "background", "1": "spleen"});
        let e = check_labels(p, Some(&spleen)).unwrap_err();
        assert!(e.to_string().contains("dataset.json"), "{e}");
    }
}
