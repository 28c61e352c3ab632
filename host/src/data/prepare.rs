//! From a native-resolution labelled slice to the network's input: resampling and target choice.

use super::resample::{resize_bilinear, resize_nearest};
use super::volume::{LabeledSlice, TUMOR};

/// What the network learns to segment (chosen at training time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// Liver lesions (label 2), the task both papers report.
    #[default]
    Tumor,
    /// The whole liver including its lesions (labels 1 and 2).
    Liver,
}

impl Target {
    /// The binary mask value (0 or 1) of a LiTS label under this target.
    pub fn of(self, label: u8) -> f32 {
        let fg = match self {
            Target::Tumor => label == TUMOR,
            Target::Liver => label != 0,
        };
        if fg {
            1.0
        } else {
            0.0
        }
    }

    /// The binary mask of a label map.
    pub fn mask(self, labels: &[u8]) -> Vec<f32> {
        labels.iter().map(|&l| self.of(l)).collect()
    }
}

/// A slice at the network's input size: `size × size` intensities in `[0, 1]` and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Side length.
    pub size: usize,
    /// Intensities, row-major.
    pub image: Vec<f32>,
    /// Labels 0/1/2, row-major.
    pub labels: Vec<u8>,
}

/// Resamples `slice` to `size × size`: bilinear for the image, nearest for the labels.
pub fn prepare(slice: &LabeledSlice, size: usize) -> Prepared {
    Prepared {
        size,
        image: resize_bilinear(&slice.image, slice.width, slice.height, size, size),
        labels: resize_nearest(&slice.labels, slice.width, slice.height, size, size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_select_labels() {
        assert_eq!(Target::Tumor.mask(&[0, 1, 2]), vec![0.0, 0.0, 1.0]);
        assert_eq!(Target::Liver.mask(&[0, 1, 2]), vec![0.0, 1.0, 1.0]);
    }

    #[test]
    fn prepare_resamples_both() {
        let s = LabeledSlice {
            width: 2,
            height: 2,
            image: vec![0.0, 1.0, 0.0, 1.0],
            labels: vec![0, 2, 0, 1],
        };
        let p = prepare(&s, 4);
        assert_eq!(p.labels[..4], [0, 0, 2, 2]);
        assert_eq!(p.image[..4], [0.0, 0.25, 0.75, 1.0]);
    }
}
