//! Writer of the lits-png layout: windowed 8-bit slices, 0/255 masks and a Kaggle-style index.
//!
//! The index `lits_df.csv` has the Kaggle columns. Its `liver_mask_empty` / `tumor_mask_empty`
//! flags are written the way the Kaggle files have them — **inverted**: `True` means the mask
//! has foreground — so that tools written against the Kaggle set behave the same on ours. The
//! readers here ignore those flags and read the pixels.

use super::atomic::write_bytes_atomic;
use super::csv::render;
use super::error::DataError;
use super::lits_png::file_names;
use super::png_io::write_grey8;
use super::volume::{Volume, BACKGROUND, TUMOR};
use super::window::Window;
use std::path::Path;

/// The Kaggle index columns, in order.
pub const COLUMNS: [&str; 7] = [
    "filepath",
    "liver_maskpath",
    "tumor_maskpath",
    "study_number",
    "instance_number",
    "liver_mask_empty",
    "tumor_mask_empty",
];

/// One row of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    /// Patient / volume number.
    pub study: u32,
    /// Slice number.
    pub instance: u32,
    /// Whether the liver mask has foreground.
    pub has_liver: bool,
    /// Whether the lesion mask has foreground.
    pub has_tumor: bool,
}

impl IndexRow {
    fn fields(&self) -> Vec<String> {
        let [image, liver, tumor] = file_names(self.study, self.instance);
        // Kaggle's inversion: "empty" is True when the mask is NOT empty.
        let flag = |b: bool| if b { "True" } else { "False" }.to_string();
        vec![
            image,
            liver,
            tumor,
            self.study.to_string(),
            self.instance.to_string(),
            flag(self.has_liver),
            flag(self.has_tumor),
        ]
    }
}

/// Writes every axial slice of one volume into `dir`: the CT windowed with `window` to 8 bits,
/// the liver mask (labels 1 and 2) and the lesion mask (label 2) as 0/255.
pub fn write_volume(
    dir: &Path,
    study: u32,
    ct: &Volume<f32>,
    labels: &Volume<u8>,
    window: &Window,
) -> Result<Vec<IndexRow>, DataError> {
    let [w, h, depth] = ct.dims();
    if labels.dims() != ct.dims() {
        return Err(DataError::SizeMismatch {
            image: dir.join(format!("volume-{study}")),
            mask: dir.join(format!("segmentation-{study}")),
            image_dims: ct.dims(),
            mask_dims: labels.dims(),
        });
    }
    let mut rows = Vec::with_capacity(depth);
    for z in 0..depth {
        let instance = z as u32;
        let [image, liver, tumor] = file_names(study, instance).map(|n| dir.join(n));
        let pixels: Vec<u8> = ct.slice(z).iter().map(|&v| window.to_u8(v)).collect();
        let lab = labels.slice(z);
        let liver_px: Vec<u8> = lab
            .iter()
            .map(|&l| if l != BACKGROUND { 255 } else { 0 })
            .collect();
        let tumor_px: Vec<u8> = lab
            .iter()
            .map(|&l| if l == TUMOR { 255 } else { 0 })
            .collect();
        write_grey8(&image, w, h, &pixels)?;
        write_grey8(&liver, w, h, &liver_px)?;
        write_grey8(&tumor, w, h, &tumor_px)?;
        rows.push(IndexRow {
            study,
            instance,
            has_liver: liver_px.contains(&255),
            has_tumor: tumor_px.contains(&255),
        });
    }
    Ok(rows)
}

/// Writes the index CSV (`lits_df.csv` or a train/test subset) at `path`, atomically.
pub fn write_index(path: &Path, rows: &[IndexRow]) -> Result<(), DataError> {
    let fields: Vec<Vec<String>> = rows.iter().map(IndexRow::fields).collect();
    write_bytes_atomic(path, render(&COLUMNS, &fields).as_bytes())
}
