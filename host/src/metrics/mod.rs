//! Segmentation metrics as the LiTS evaluation defines them, for 2D slices and 3D volumes.
//!
//! * [`Mask`]: a binary mask (z, y, x) of rank 2 or 3 with an optional voxel spacing.
//! * [`Confusion`]: voxel counts; Dice, IoU/Jaccard, VOE, RVD, precision, recall/sensitivity,
//!   specificity, F1 and F-beta are ratios of these.
//! * [`SurfaceDistances`]: surface = mask XOR its erosion (4-neighbourhood in 2D,
//!   6-neighbourhood in 3D, outside the image is background — medpy's choice); distances from
//!   each surface voxel of one mask to the nearest of the other by an exact Euclidean distance
//!   transform ([`squared_edt`], Felzenszwalb–Huttenlocher, anisotropic spacing). ASSD (LiTS:
//!   mean of the union of both directed sets), Hausdorff (largest distance), HD95 (medpy: 95th
//!   percentile of the union, numpy's linear interpolation — [`percentile`]).
//! * [`evaluate`] / [`evaluate_slices`]: one [`CaseMetrics`] per volume or per slice.
//! * [`Accumulator`] → [`Aggregate`]: per-case mean and global (pooled) results.
//!
//! # Units
//!
//! Distances are in the unit of the masks' spacing (usually mm) when either mask carries one,
//! else in voxel steps; [`CaseMetrics::unit`] says which.
//!
//! # Conventions for empty masks
//!
//! | metric | both empty | prediction empty, truth not | truth empty, prediction not |
//! |---|---|---|---|
//! | Dice, IoU, F1, F-beta | 1 (medpy) | 0 | 0 |
//! | VOE | 0 | 1 | 1 |
//! | RVD = (\|P\| − \|G\|)/\|G\| | 0 | −1 | `None` (undefined) |
//! | precision | 1 | 0 (medpy) | 0 |
//! | recall | 1 | 0 | 0 (medpy) |
//! | specificity | 1 | 1 | tn/(tn+fp) |
//! | ASSD, Hausdorff, HD95 | per [`EmptyPolicy`]: 0 (LiTS, default), `None` or NaN | same | same |
//!
//! The overlap rows follow one rule — a 0/0 ratio is 1 when prediction equals truth, else 0 —
//! which is medpy's value everywhere medpy defines one except precision/recall of two empty
//! masks (medpy: 0). The same rule settles specificity when the truth fills the whole image.
//! See [`Confusion`], [`Confusion::rvd`] and [`EmptyPolicy`].
//!
//! # RVD sign
//!
//! RVD = (|P| − |G|)/|G|: positive when the prediction is too large. This is the LiTS paper's
//! definition; the LiTS challenge script computes (|G| − |P|)/|P| (see [`Confusion::rvd`]).

mod aggregate;
mod distance;
mod error;
mod evaluate;
mod mask;
mod overlap;
mod percentile;
mod surface;

pub use aggregate::{Accumulator, Aggregate};
pub use distance::squared_edt;
pub use error::MetricsError;
pub use evaluate::{
    evaluate, evaluate_slices, evaluate_with_distances, CaseMetrics, DistanceUnit, EmptyPolicy,
    EvalOptions, Scores,
};
pub use mask::{Mask, Rank};
pub use overlap::Confusion;
pub use percentile::percentile;
pub use surface::{surface, SurfaceDistances};
