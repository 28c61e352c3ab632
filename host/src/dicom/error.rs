//! The error type of the DICOM reader: every variant names the file (or the directory) first,
//! so that a user with a 400-file series finds the one broken slice.

use std::path::PathBuf;

/// What went wrong while reading a DICOM file or series.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DicomError {
    /// The file or directory could not be opened or listed.
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not DICOM Part 10 (no `DICM` marker) or its data set does not parse.
    #[error("{}: not a readable DICOM file: {detail}", .path.display())]
    NotDicom {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The file is DICOM but holds no image (no Pixel Data element, e.g. a structured report
    /// or a DICOMDIR).
    #[error("{}: DICOM file without pixel data", .path.display())]
    NoPixelData {
        /// The file.
        path: PathBuf,
    },
    /// The file holds something this reader does not turn into a CT slice: a compressed
    /// transfer syntax, colour, several frames, a malformed attribute.
    #[error("{}: unsupported DICOM: {detail}", .path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        detail: String,
    },
    /// The files of a directory do not form one volume (sizes, orientations or series differ,
    /// two slices at the same position).
    #[error("{}: inconsistent DICOM series: {detail}", .path.display())]
    Inconsistent {
        /// The file that does not fit (or the directory).
        path: PathBuf,
        /// How it differs.
        detail: String,
    },
    /// The directory holds no DICOM file.
    #[error("{}: no DICOM files in this directory", .path.display())]
    EmptySeries {
        /// The directory.
        path: PathBuf,
    },
}

impl DicomError {
    /// The file or directory the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            DicomError::Io { path, .. }
            | DicomError::NotDicom { path, .. }
            | DicomError::NoPixelData { path }
            | DicomError::Unsupported { path, .. }
            | DicomError::Inconsistent { path, .. }
            | DicomError::EmptySeries { path } => path,
        }
    }
}

/// An error and its chain of causes on one line: dicom-rs reports the useful detail (which
/// tag, which byte offset) in the sources, not in the top-level message.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let next = c.to_string();
        if !s.ends_with(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = c.source();
    }
    s
}
