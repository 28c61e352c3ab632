//! A CT volume and its segmentation, as both NIfTI layouts (LiTS, MSD) list them.

use super::error::DataError;
use super::nifti_read::{read_info, read_labels, read_volume};
use super::volume::{LabeledSlice, Volume};
use super::window::Window;
use std::path::PathBuf;

/// One patient: the CT file and the label file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumePair {
    /// Patient / volume number.
    pub study: u32,
    /// CT in Hounsfield units (`volume-N.nii`, `imagesTr/liver_N.nii.gz`).
    pub image: PathBuf,
    /// Labels 0/1/2 (`segmentation-N.nii`, `labelsTr/liver_N.nii.gz`).
    pub label: PathBuf,
}

impl VolumePair {
    /// Number of axial slices, from the headers only; checks that both files agree in size so a
    /// mismatched pair fails when the dataset is opened, not mid-epoch.
    pub fn depth(&self) -> Result<usize, DataError> {
        let a = read_info(&self.image)?;
        let b = read_info(&self.label)?;
        if a.dims != b.dims {
            return Err(self.mismatch(a.dims, b.dims));
        }
        Ok(a.dims[2])
    }

    fn mismatch(&self, image_dims: [usize; 3], mask_dims: [usize; 3]) -> DataError {
        DataError::SizeMismatch {
            image: self.image.clone(),
            mask: self.label.clone(),
            image_dims,
            mask_dims,
        }
    }

    /// Reads both volumes (CT scaled to HU, labels validated).
    pub fn load(&self) -> Result<(Volume<f32>, Volume<u8>), DataError> {
        let ct = read_volume(&self.image)?;
        let labels = read_labels(&self.label)?;
        if ct.dims() != labels.dims() {
            return Err(self.mismatch(ct.dims(), labels.dims()));
        }
        Ok((ct, labels))
    }
}

/// Axial slice `z` of a loaded pair, windowed to `[0, 1]`.
pub fn windowed_slice(
    ct: &Volume<f32>,
    labels: &Volume<u8>,
    z: usize,
    window: &Window,
) -> LabeledSlice {
    let [w, h, _] = ct.dims();
    LabeledSlice {
        width: w,
        height: h,
        image: ct.slice(z).iter().map(|&v| window.apply(v)).collect(),
        labels: labels.slice(z).to_vec(),
    }
}
