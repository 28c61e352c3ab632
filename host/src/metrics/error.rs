//! The one error type of the metrics library.
//!
//! Every constructor and evaluation function validates its input and returns one of these
//! instead of panicking: masks and spacings come from files written by other tools, so a bad
//! shape or a zero spacing is user data, not a programming error.

use std::fmt;

/// What went wrong when building a mask or evaluating a pair of masks.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsError {
    /// The voxel buffer does not hold `z·y·x` elements.
    DataLength {
        /// `z·y·x` of the requested shape.
        expected: usize,
        /// Length of the buffer that was passed.
        actual: usize,
    },
    /// A dimension is zero: an image without pixels has no metrics.
    EmptyShape([usize; 3]),
    /// A 2D mask was given a depth other than 1.
    SliceDepth(usize),
    /// `z·y·x` does not fit in `usize`.
    ShapeOverflow([usize; 3]),
    /// Prediction and ground truth differ in shape or rank (2D vs 3D).
    ShapeMismatch {
        /// Shape (z, y, x) of the prediction; z is 1 for a 2D mask.
        pred: [usize; 3],
        /// Shape (z, y, x) of the ground truth.
        gt: [usize; 3],
    },
    /// A spacing component is not a finite number greater than zero.
    InvalidSpacing([f64; 3]),
    /// Both masks carry a spacing and the two disagree.
    SpacingMismatch {
        /// Spacing (z, y, x) of the prediction.
        pred: [f64; 3],
        /// Spacing (z, y, x) of the ground truth.
        gt: [f64; 3],
    },
    /// F-beta needs a finite `beta >= 0`.
    InvalidBeta(f64),
    /// A percentile must lie in `[0, 100]`.
    InvalidPercentile(f64),
    /// A percentile of an empty set was asked for.
    EmptyDistanceSet,
    /// A slice index past the depth of the volume.
    SliceOutOfRange {
        /// The requested slice.
        z: usize,
        /// Number of slices in the volume.
        depth: usize,
    },
    /// Cases measured in pixels and in physical units cannot be pooled together.
    UnitMismatch,
}

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DataLength { expected, actual } => write!(
                f,
                "mask buffer holds {actual} voxels, the shape needs {expected}"
            ),
            Self::EmptyShape(d) => write!(
                f,
                "mask shape {}×{}×{} has a zero dimension",
                d[0], d[1], d[2]
            ),
            Self::SliceDepth(z) => write!(f, "a 2D mask has depth 1, not {z}"),
            Self::ShapeOverflow(d) => write!(
                f,
                "mask shape {}×{}×{} is too large to address",
                d[0], d[1], d[2]
            ),
            Self::ShapeMismatch { pred, gt } => write!(
                f,
                "prediction is {}×{}×{} but ground truth is {}×{}×{} (or one is 2D, the other 3D)",
                pred[0], pred[1], pred[2], gt[0], gt[1], gt[2]
            ),
            Self::InvalidSpacing(s) => write!(
                f,
                "voxel spacing {s:?} must be finite and greater than zero on every axis"
            ),
            Self::SpacingMismatch { pred, gt } => write!(
                f,
                "prediction spacing {pred:?} differs from ground-truth spacing {gt:?}"
            ),
            Self::InvalidBeta(b) => write!(f, "F-beta needs a finite beta >= 0, got {b}"),
            Self::InvalidPercentile(q) => write!(f, "percentile {q} is outside [0, 100]"),
            Self::EmptyDistanceSet => write!(f, "percentile of an empty distance set"),
            Self::SliceOutOfRange { z, depth } => {
                write!(
                    f,
                    "slice {z} is out of range for a volume of {depth} slices"
                )
            }
            Self::UnitMismatch => write!(
                f,
                "cannot pool cases measured in pixels with cases measured in physical units"
            ),
        }
    }
}

impl std::error::Error for MetricsError {}
