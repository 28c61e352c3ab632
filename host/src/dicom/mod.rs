//! DICOM input for `hepaseg segment`: a series directory → a CT volume in Hounsfield units with
//! a NIfTI geometry, so that a mask written for it opens aligned with the scan.
//!
//! * [`read_slice`]: one single-frame greyscale file, decoded by dicom-rs (uncompressed
//!   transfer syntaxes; the codec features stay off to keep the build light), with
//!   `HU = stored · RescaleSlope + RescaleIntercept` applied here.
//! * [`read_series`]: every file of a directory (hidden files and `DICOMDIR` skipped), checked
//!   to be one series of equal size and orientation, ordered by position along the slice
//!   normal (fallback InstanceNumber), spacing from PixelSpacing and the slice positions.
//! * [`geometry`]: DICOM LPS placement → NIfTI RAS qform/sform.
//!
//! Every failure is a [`DicomError`] naming the file.

mod error;
pub mod geometry;
mod lengths;
mod series;
mod slice;

pub use error::DicomError;
pub use series::{assemble, read_series, DicomSeries};
pub use slice::{read_slice, DicomSlice};

/// Whether `path` looks like DICOM input: a directory holding a file with the Part 10 marker,
/// or such a file. Cheap (reads at most one file's first 132 bytes per candidate).
pub fn looks_like_dicom(path: &std::path::Path) -> bool {
    let has_marker = |p: &std::path::Path| -> bool {
        use std::io::Read;
        let mut head = [0u8; 132];
        std::fs::File::open(p)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| &head[128..132] == b"DICM")
    };
    if path.is_dir() {
        std::fs::read_dir(path).is_ok_and(|it| {
            it.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .any(|e| e.path().is_file() && has_marker(&e.path()))
        })
    } else {
        has_marker(path)
    }
}
