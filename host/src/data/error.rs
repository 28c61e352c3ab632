//! The one error type of the data pipeline.
//!
//! Every variant that concerns a file carries its path, and every message names the file first
//! and the problem second, so that a user facing 60 000 slices can find the one broken PNG.

use std::path::{Path, PathBuf};

/// What went wrong while reading, preparing or writing data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read (not found, permissions, I/O error).
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Writing an output file failed (nothing half-written is left under the final name).
    #[error("{}: cannot write: {source}", .path.display())]
    Write {
        /// The file (or directory) being written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file that the layout requires is not there (a mask without its image, a CSV row whose
    /// file is gone, a volume without its segmentation).
    #[error("{}: missing file (needed by {needed_by})", .path.display())]
    MissingFile {
        /// The file that was looked for.
        path: PathBuf,
        /// What needed it (another file, a CSV row, a manifest entry).
        needed_by: String,
    },
    /// The PNG decoder rejected the file.
    #[error("{}: corrupt PNG: {detail}", .path.display())]
    CorruptPng {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        detail: String,
    },
    /// The PNG decoded but its pixel format is not one a CT slice or mask can be (e.g. float).
    #[error("{}: unsupported PNG pixel format {format}", .path.display())]
    UnsupportedPng {
        /// The file.
        path: PathBuf,
        /// The colour type found.
        format: String,
    },
    /// The file is not NIfTI-1 (bad header size or magic), or its header is inconsistent.
    #[error("{}: not a valid NIfTI-1 file: {detail}", .path.display())]
    NotNifti {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        detail: String,
    },
    /// The file ends before the header or the voxel data does.
    #[error("{}: truncated NIfTI: expected {expected} bytes, found {found}", .path.display())]
    TruncatedNifti {
        /// The file.
        path: PathBuf,
        /// Bytes the header promises (decompressed for `.nii.gz`).
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
    /// The gzip stream of a `.nii.gz` is damaged.
    #[error("{}: corrupt gzip stream: {detail}", .path.display())]
    CorruptGzip {
        /// The file.
        path: PathBuf,
        /// The decompressor's message.
        detail: String,
    },
    /// The voxel datatype is one this pipeline does not convert (complex, RGB, …).
    #[error("{}: unsupported NIfTI datatype {code} ({name})", .path.display())]
    UnsupportedDatatype {
        /// The file.
        path: PathBuf,
        /// The NIfTI datatype code.
        code: i16,
        /// Its name, when known.
        name: String,
    },
    /// The array has a shape this pipeline cannot use (not 2-D/3-D, zero or absurd sizes).
    #[error("{}: wrong dimensions: {detail}", .path.display())]
    WrongDimensions {
        /// The file.
        path: PathBuf,
        /// What was found and what was expected.
        detail: String,
    },
    /// An image and its mask (or a volume and its segmentation) differ in size.
    #[error(
        "{}: mask size {mask_dims:?} does not match image {} size {image_dims:?}",
        .mask.display(), .image.display()
    )]
    SizeMismatch {
        /// The image or volume file.
        image: PathBuf,
        /// The mask or segmentation file.
        mask: PathBuf,
        /// Image size (width, height, depth).
        image_dims: [usize; 3],
        /// Mask size (width, height, depth).
        mask_dims: [usize; 3],
    },
    /// An image holds NaN or an infinity (after scaling): corrupt data, which windowing would
    /// otherwise turn silently into air or bone.
    #[error(
        "{}: voxel (x {}, y {}, z {}) is {value}; a CT volume must hold finite values",
        .path.display(), .voxel[0], .voxel[1], .voxel[2]
    )]
    NonFiniteVoxel {
        /// The volume file.
        path: PathBuf,
        /// Its position `[x, y, z]` (the first one in file order).
        voxel: [usize; 3],
        /// The value.
        value: f32,
    },
    /// A segmentation contains a value other than 0 (background), 1 (liver) or 2 (tumour).
    #[error(
        "{}: invalid label {value} (expected 0 background, 1 liver, 2 tumour)",
        .path.display()
    )]
    InvalidLabel {
        /// The segmentation file.
        path: PathBuf,
        /// The offending value.
        value: f64,
    },
    /// A CSV index lacks a column the reader needs.
    #[error("{}: missing CSV column `{column}`", .path.display())]
    MissingColumn {
        /// The CSV file.
        path: PathBuf,
        /// The column name.
        column: String,
    },
    /// A CSV row cannot be parsed.
    #[error("{}:{line}: bad CSV row: {detail}", .path.display())]
    BadCsv {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// A `dataset.json` (MSD) cannot be used.
    #[error("{}: bad dataset manifest: {detail}", .path.display())]
    BadManifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The directory holds no recognised dataset layout.
    #[error("{}: unknown dataset layout: {detail}", .path.display())]
    UnknownLayout {
        /// The directory.
        path: PathBuf,
        /// What was looked for.
        detail: String,
    },
    /// The dataset (or a split or filter of it) has no slices.
    #[error("{}: empty dataset: {detail}", .path.display())]
    EmptyDataset {
        /// The dataset directory or index file.
        path: PathBuf,
        /// Why it is empty.
        detail: String,
    },
    /// A parameter is out of range (window, size, batch size, ratios).
    #[error("invalid data configuration: {0}")]
    Config(String),
    /// A background loader thread died (a bug, not a data problem).
    #[error("background data loader stopped: {0}")]
    Loader(String),
}

impl DataError {
    /// An I/O error while reading `path`.
    pub(crate) fn read(path: &Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// An I/O error while writing `path`.
    pub(crate) fn write(path: &Path, source: std::io::Error) -> Self {
        DataError::Write {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The file this error is about, when it is about one file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataError::Io { path, .. }
            | DataError::Write { path, .. }
            | DataError::MissingFile { path, .. }
            | DataError::CorruptPng { path, .. }
            | DataError::UnsupportedPng { path, .. }
            | DataError::NotNifti { path, .. }
            | DataError::TruncatedNifti { path, .. }
            | DataError::CorruptGzip { path, .. }
            | DataError::UnsupportedDatatype { path, .. }
            | DataError::WrongDimensions { path, .. }
            | DataError::InvalidLabel { path, .. }
            | DataError::NonFiniteVoxel { path, .. }
            | DataError::MissingColumn { path, .. }
            | DataError::BadCsv { path, .. }
            | DataError::BadManifest { path, .. }
            | DataError::UnknownLayout { path, .. }
            | DataError::EmptyDataset { path, .. } => Some(path),
            DataError::SizeMismatch { mask, .. } => Some(mask),
            DataError::Config(_) | DataError::Loader(_) => None,
        }
    }
}
