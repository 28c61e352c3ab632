//! Saved masks of any tool, paired by file name: listing, pairing and reading them as
//! [`Mask`]s.
//!
//! A directory pair is either all PNG slices (2D cases) or all NIfTI volumes (3D cases, also
//! scored slice by slice). Every ground-truth file needs a prediction of the same name and the
//! other way round; anything else is an error naming the lonely file, because silently
//! scoring a subset is how wrong numbers get published.

use crate::data::nifti_read::read_volume;
use crate::data::png_io::read_mask;
use crate::data::Geometry;
use crate::metrics::{Mask, Rank};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What kind of files a directory pair holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskKind {
    /// PNG slices (any non-zero colour is foreground).
    Png,
    /// NIfTI label volumes.
    Nifti,
}

/// One ground truth and its prediction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The shared file name.
    pub name: String,
    /// The prediction.
    pub pred: PathBuf,
    /// The ground truth.
    pub gt: PathBuf,
}

/// The kind a file name says, if any.
pub fn kind_of(name: &str) -> Option<MaskKind> {
    let n = name.to_ascii_lowercase();
    if n.ends_with(".png") {
        Some(MaskKind::Png)
    } else if n.ends_with(".nii") || n.ends_with(".nii.gz") {
        Some(MaskKind::Nifti)
    } else {
        None
    }
}

/// The mask files directly in `dir` (PNG or NIfTI; hidden files, other files and
/// sub-directories are ignored), by name.
fn mask_files(dir: &Path) -> Result<Vec<(String, MaskKind)>, String> {
    let err = |e: std::io::Error| format!("{}: cannot read directory: {e}", dir.display());
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        if let Some(k) = kind_of(&name) {
            out.push((name, k));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Pairs the files of `pred_dir` and `gt_dir` by name and tells their kind.
pub fn pair_dirs(pred_dir: &Path, gt_dir: &Path) -> Result<(MaskKind, Vec<Pair>), String> {
    for d in [pred_dir, gt_dir] {
        if !d.is_dir() {
            return Err(format!("{}: not a directory", d.display()));
        }
    }
    let gt = mask_files(gt_dir)?;
    let pred = mask_files(pred_dir)?;
    let Some(&(_, kind)) = gt.first() else {
        return Err(format!(
            "{}: no ground-truth masks (.png, .nii, .nii.gz) in this directory",
            gt_dir.display()
        ));
    };
    if let Some((name, _)) = gt.iter().find(|(_, k)| *k != kind) {
        return Err(format!(
            "{}: mixes PNG and NIfTI masks; evaluate one kind per directory",
            gt_dir.join(name).display()
        ));
    }
    let pred_names: BTreeSet<&str> = pred.iter().map(|(n, _)| n.as_str()).collect();
    let gt_names: BTreeSet<&str> = gt.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(n) = gt_names.iter().find(|n| !pred_names.contains(*n)) {
        return Err(format!(
            "{}: missing prediction for ground truth {}",
            pred_dir.join(n).display(),
            gt_dir.join(n).display()
        ));
    }
    if let Some(n) = pred_names.iter().find(|n| !gt_names.contains(*n)) {
        return Err(format!(
            "{}: missing ground truth for prediction {}",
            gt_dir.join(n).display(),
            pred_dir.join(n).display()
        ));
    }
    let pairs = gt
        .into_iter()
        .map(|(name, _)| Pair {
            pred: pred_dir.join(&name),
            gt: gt_dir.join(&name),
            name,
        })
        .collect();
    Ok((kind, pairs))
}

/// Which voxels of a label volume are foreground.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSelect {
    /// Label ≥ 1 (any structure; LiTS: liver including tumour).
    AnyForeground,
    /// Exactly this label (LiTS: 2 = tumour).
    Exactly(i64),
}

impl LabelSelect {
    /// Whether a voxel value is foreground: values are rounded to the nearest integer first,
    /// so float-stored masks (0.0/1.0, or 0.9999 after resampling) read as labels.
    pub fn test(self, v: f32) -> bool {
        let l = f64::from(v).round();
        match self {
            LabelSelect::AnyForeground => l >= 1.0,
            LabelSelect::Exactly(k) => l == k as f64,
        }
    }
}

/// A 2D mask from a PNG (any non-zero colour channel is foreground: 0/1, 0/255, grey, RGB).
pub fn read_png_mask(path: &Path, spacing: Option<[f64; 3]>) -> Result<Mask, String> {
    let (w, h, data) = read_mask(path).map_err(|e| e.to_string())?;
    let m = Mask::from_vec(Rank::D2, [1, h, w], data)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match spacing {
        Some(s) => m.with_spacing(s).map_err(|e| format!("--spacing: {e}")),
        None => Ok(m),
    }
}

/// A 3D mask from a NIfTI label volume, with the header's spacing (or `spacing` when given),
/// and the volume's geometry (to compare orientations).
pub fn read_nifti_mask(
    path: &Path,
    select: LabelSelect,
    spacing: Option<[f64; 3]>,
) -> Result<(Mask, Geometry), String> {
    let vol = read_volume(path).map_err(|e| e.to_string())?;
    let [w, h, d] = vol.dims();
    let data = vol.data().iter().map(|&v| select.test(v)).collect();
    let g = vol.geometry().clone();
    let sp = spacing.unwrap_or([
        f64::from(g.spacing[2]),
        f64::from(g.spacing[1]),
        f64::from(g.spacing[0]),
    ]);
    let m = Mask::from_vec(Rank::D3, [d, h, w], data)
        .and_then(|m| m.with_spacing(sp))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((m, g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_labels() {
        assert_eq!(kind_of("a.PNG"), Some(MaskKind::Png));
        assert_eq!(kind_of("seg-1.nii.gz"), Some(MaskKind::Nifti));
        assert_eq!(kind_of("notes.txt"), None);
        assert!(LabelSelect::AnyForeground.test(2.0));
        assert!(LabelSelect::AnyForeground.test(0.9999));
        assert!(!LabelSelect::AnyForeground.test(0.2));
        assert!(LabelSelect::Exactly(2).test(2.0));
        assert!(!LabelSelect::Exactly(2).test(1.0));
    }

    #[test]
    fn pairing_needs_both_sides() {
        let p = tempfile::tempdir().unwrap();
        let g = tempfile::tempdir().unwrap();
        let e = pair_dirs(p.path(), g.path()).unwrap_err();
        assert!(e.contains("no ground-truth masks"), "{e}");
        std::fs::write(g.path().join("a.png"), b"").unwrap();
        let e = pair_dirs(p.path(), g.path()).unwrap_err();
        assert!(
            e.contains("missing prediction") && e.contains("a.png"),
            "{e}"
        );
        std::fs::write(p.path().join("a.png"), b"").unwrap();
        std::fs::write(p.path().join("b.png"), b"").unwrap();
        let e = pair_dirs(p.path(), g.path()).unwrap_err();
        assert!(
            e.contains("missing ground truth") && e.contains("b.png"),
            "{e}"
        );
        std::fs::remove_file(p.path().join("b.png")).unwrap();
        std::fs::write(p.path().join("readme.txt"), b"").unwrap();
        let (kind, pairs) = pair_dirs(p.path(), g.path()).unwrap();
        assert_eq!(kind, MaskKind::Png);
        assert_eq!(pairs.len(), 1);
        std::fs::write(g.path().join("v.nii"), b"").unwrap();
        assert!(pair_dirs(p.path(), g.path()).unwrap_err().contains("mixes"));
    }
}
