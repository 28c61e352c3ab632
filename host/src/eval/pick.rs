//! Choosing the worst and best cases by Dice for overlay pictures, and finding the CT slice
//! to draw them on.
//!
//! Only slices where the prediction or the ground truth has foreground compete: two empty
//! masks score a perfect Dice of 1 and would crowd out every informative "best" case. The
//! picker keeps only the current N worst and N best (their masks copied), so memory stays
//! bounded however many slices are scored.

use crate::data::nifti_read::read_volume;
use crate::data::png_io::read_image;
use crate::data::{Volume, Window};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where the CT of a picked slice comes from.
#[derive(Debug, Clone)]
pub enum ImageRef {
    /// The CT PNG that goes with this ground-truth PNG.
    Png {
        /// Ground-truth file name.
        gt_name: String,
    },
    /// Slice `z` of the CT volume that goes with this ground-truth volume.
    Volume {
        /// Ground-truth file name.
        gt_name: String,
        /// Slice index.
        z: usize,
    },
    /// The network input itself (dataset evaluation), in `[0, 1]`.
    Inline(Vec<f32>),
}

/// A case kept for a picture.
#[derive(Debug, Clone)]
pub struct Picked {
    /// Its Dice.
    pub dice: f64,
    /// Order of arrival (ties go to the earlier case).
    pub seq: usize,
    /// Name for the picture file: case (and slice).
    pub label: String,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Prediction.
    pub pred: Vec<bool>,
    /// Ground truth.
    pub gt: Vec<bool>,
    /// Where the CT is.
    pub image: ImageRef,
}

/// Keeps the `n` worst and `n` best slices by Dice.
#[derive(Debug, Clone, Default)]
pub struct Picker {
    n_worst: usize,
    n_best: usize,
    seq: usize,
    /// Ascending Dice.
    pub worst: Vec<Picked>,
    /// Descending Dice.
    pub best: Vec<Picked>,
}

/// One candidate slice.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// Its Dice.
    pub dice: f64,
    /// Picture name.
    pub label: &'a str,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Prediction, row-major.
    pub pred: &'a [bool],
    /// Ground truth, row-major.
    pub gt: &'a [bool],
}

impl Picker {
    /// Keeps up to `n_worst` and `n_best` slices.
    pub fn new(n_worst: usize, n_best: usize) -> Self {
        Self {
            n_worst,
            n_best,
            ..Self::default()
        }
    }

    /// Considers one slice; `image` is called only if it is kept.
    pub fn offer(&mut self, o: Offer<'_>, image: impl FnOnce() -> ImageRef) {
        if !o.pred.iter().chain(o.gt).any(|&v| v) || o.dice.is_nan() {
            return;
        }
        let seq = self.seq;
        self.seq += 1;
        let into_worst = self.n_worst > 0
            && (self.worst.len() < self.n_worst
                || self.worst.last().is_some_and(|w| o.dice < w.dice));
        let into_best = self.n_best > 0
            && (self.best.len() < self.n_best || self.best.last().is_some_and(|b| o.dice > b.dice));
        if !into_worst && !into_best {
            return;
        }
        let p = Picked {
            dice: o.dice,
            seq,
            label: o.label.to_owned(),
            width: o.width,
            height: o.height,
            pred: o.pred.to_vec(),
            gt: o.gt.to_vec(),
            image: image(),
        };
        if into_worst {
            self.worst.push(p.clone());
            self.worst
                .sort_by(|a, b| a.dice.total_cmp(&b.dice).then(a.seq.cmp(&b.seq)));
            self.worst.truncate(self.n_worst);
        }
        if into_best {
            self.best.push(p);
            self.best
                .sort_by(|a, b| b.dice.total_cmp(&a.dice).then(a.seq.cmp(&b.seq)));
            self.best.truncate(self.n_best);
        }
    }
}

/// The CT file names that may go with a ground-truth file name: the same name, then the
/// LiTS naming (`segmentation-S_lesionmask_I.png` → `volume-S_I.png`,
/// `segmentation-N.nii[.gz]` → `volume-N.nii[.gz]`).
pub fn ct_names(gt_name: &str) -> Vec<String> {
    let mut names = vec![gt_name.to_owned()];
    if let Some(rest) = gt_name.strip_prefix("segmentation-") {
        for marker in ["_lesionmask_", "_livermask_"] {
            if let Some((study, slice)) = rest.split_once(marker) {
                names.push(format!("volume-{study}_{slice}"));
            }
        }
        if !rest.contains("mask_") {
            names.push(format!("volume-{rest}"));
            if let Some(base) = rest.strip_suffix(".gz") {
                names.push(format!("volume-{base}"));
            }
        }
    }
    names
}

/// Finds and reads CT slices for pictures, caching volumes.
#[derive(Debug)]
pub struct CtSource {
    images: Option<PathBuf>,
    window: Window,
    volumes: HashMap<PathBuf, Volume<f32>>,
}

impl CtSource {
    /// CT from `images` (a directory, or one NIfTI file), windowed with `window`; without
    /// `images` pictures are drawn on black.
    pub fn new(images: Option<&Path>, window: Window) -> Self {
        Self {
            images: images.map(Path::to_path_buf),
            window,
            volumes: HashMap::new(),
        }
    }

    fn find(&self, dir: &Path, gt_name: &str) -> Result<PathBuf, String> {
        if dir.is_file() {
            return Ok(dir.to_path_buf());
        }
        let names = ct_names(gt_name);
        names
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "{}: no CT image for {gt_name} (looked for {})",
                    dir.display(),
                    names.join(", ")
                )
            })
    }

    /// The CT of a picked slice in `[0, 1]`, `None` without `--images`.
    pub fn plane(&mut self, p: &Picked) -> Result<Option<Vec<f32>>, String> {
        let Some(dir) = self.images.clone() else {
            return Ok(match &p.image {
                ImageRef::Inline(v) => Some(v.clone()),
                _ => None,
            });
        };
        let size_err = |path: &Path, w: usize, h: usize| {
            format!(
                "{}: CT is {w}×{h} but the masks of {} are {}×{}",
                path.display(),
                p.label,
                p.width,
                p.height
            )
        };
        match &p.image {
            ImageRef::Inline(v) => Ok(Some(v.clone())),
            ImageRef::Png { gt_name } => {
                let path = self.find(&dir, gt_name)?;
                let (w, h, img) = read_image(&path).map_err(|e| e.to_string())?;
                if (w, h) != (p.width, p.height) {
                    return Err(size_err(&path, w, h));
                }
                Ok(Some(img))
            }
            ImageRef::Volume { gt_name, z } => {
                let path = self.find(&dir, gt_name)?;
                if !self.volumes.contains_key(&path) {
                    let v = read_volume(&path).map_err(|e| e.to_string())?;
                    self.volumes.insert(path.clone(), v);
                }
                let v = &self.volumes[&path];
                let [w, h, d] = v.dims();
                if (w, h) != (p.width, p.height) || *z >= d {
                    return Err(size_err(&path, w, h));
                }
                Ok(Some(
                    v.slice(*z).iter().map(|&x| self.window.apply(x)).collect(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(p: &mut Picker, dice: f64, label: &str) {
        p.offer(
            Offer {
                dice,
                label,
                width: 1,
                height: 1,
                pred: &[true],
                gt: &[true],
            },
            || ImageRef::Inline(vec![0.0]),
        );
    }

    #[test]
    fn keeps_extremes_and_skips_empty() {
        let mut p = Picker::new(2, 1);
        for (d, l) in [(0.5, "a"), (0.9, "b"), (0.1, "c"), (0.9, "d"), (0.3, "e")] {
            offer(&mut p, d, l);
        }
        p.offer(
            Offer {
                dice: 1.0,
                label: "empty",
                width: 1,
                height: 1,
                pred: &[false],
                gt: &[false],
            },
            || unreachable!(),
        );
        let w: Vec<_> = p.worst.iter().map(|x| x.label.as_str()).collect();
        let b: Vec<_> = p.best.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(w, ["c", "e"]);
        assert_eq!(b, ["b"]); // tie 0.9: the earlier case
    }

    #[test]
    fn lits_names() {
        assert_eq!(
            ct_names("segmentation-3_lesionmask_17.png"),
            ["segmentation-3_lesionmask_17.png", "volume-3_17.png"]
        );
        assert_eq!(
            ct_names("segmentation-4.nii.gz"),
            ["segmentation-4.nii.gz", "volume-4.nii.gz", "volume-4.nii"]
        );
        assert_eq!(ct_names("liver_7.nii.gz"), ["liver_7.nii.gz"]);
    }
}
