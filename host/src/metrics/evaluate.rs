//! Evaluating one prediction against one ground truth: a 2D slice, a 3D volume, or a volume
//! slice by slice.

use super::{Confusion, Mask, MetricsError, Rank, SurfaceDistances};
use serde::Serialize;

/// What a surface metric (ASSD, Hausdorff, HD95) reports when the prediction or the ground
/// truth is empty, so that no surface pair exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmptyPolicy {
    /// 0 — the LiTS evaluation script's choice, and the default so that numbers compare with
    /// LiTS results. It scores "no tumour predicted on a tumour case" as a perfect distance;
    /// Dice (0 there) is what penalises that case.
    #[default]
    Zero,
    /// No value (`None`, JSON `null`); the case is left out of the per-case mean of that
    /// metric.
    Skip,
    /// `NaN` (JSON `null`); it propagates into the per-case mean, so the mean shows that some
    /// case had no surface.
    Nan,
}

impl EmptyPolicy {
    /// The value a surface metric takes for a case without a surface pair.
    pub fn value(self) -> Option<f64> {
        match self {
            Self::Zero => Some(0.0),
            Self::Skip => None,
            Self::Nan => Some(f64::NAN),
        }
    }
}

/// Options of an evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EvalOptions {
    /// Surface metrics when a mask is empty.
    pub empty_policy: EmptyPolicy,
}

/// The unit of the surface distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DistanceUnit {
    /// No spacing was known: distances count pixel/voxel steps (spacing 1 on every axis).
    Voxel,
    /// Distances in the unit of the masks' spacing, usually millimetres.
    Physical,
}

/// The metric values of one case, or their per-case mean, standard deviation or pooled value
/// in an [`Aggregate`](super::Aggregate). Conventions for empty masks: see [`Confusion`]
/// (overlap), [`Confusion::rvd`] and [`EmptyPolicy`] (surface distances).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Dice coefficient.
    pub dice: f64,
    /// Intersection over union (Jaccard).
    pub iou: f64,
    /// Volumetric overlap error, 1 − IoU.
    pub voe: f64,
    /// Relative volume difference (|P| − |G|) / |G|; `None` when undefined.
    pub rvd: Option<f64>,
    /// Precision.
    pub precision: f64,
    /// Recall (sensitivity).
    pub recall: f64,
    /// Specificity.
    pub specificity: f64,
    /// F-measure with β = 1 (equal to Dice); other β from [`Confusion::f_beta`].
    pub f1: f64,
    /// Average symmetric surface distance.
    pub assd: Option<f64>,
    /// Maximum symmetric surface distance (Hausdorff distance).
    pub hausdorff: Option<f64>,
    /// 95th percentile of the symmetric surface distances.
    pub hd95: Option<f64>,
}

impl Scores {
    /// Number of metrics, the length of [`Self::to_array`].
    pub(crate) const LEN: usize = 11;

    /// Scores from voxel counts and, when both masks have a surface, their distances.
    pub fn new(c: &Confusion, d: Option<&SurfaceDistances>, policy: EmptyPolicy) -> Self {
        let surf = |f: fn(&SurfaceDistances) -> f64| d.map_or(policy.value(), |d| Some(f(d)));
        Self {
            dice: c.dice(),
            iou: c.iou(),
            voe: c.voe(),
            rvd: c.rvd(),
            precision: c.precision(),
            recall: c.recall(),
            specificity: c.specificity(),
            f1: c.f1(),
            assd: surf(SurfaceDistances::assd),
            hausdorff: surf(SurfaceDistances::hausdorff),
            hd95: surf(SurfaceDistances::hd95),
        }
    }

    /// The fields in declaration order, for field-wise aggregation.
    pub(crate) fn to_array(self) -> [Option<f64>; Self::LEN] {
        [
            Some(self.dice),
            Some(self.iou),
            Some(self.voe),
            self.rvd,
            Some(self.precision),
            Some(self.recall),
            Some(self.specificity),
            Some(self.f1),
            self.assd,
            self.hausdorff,
            self.hd95,
        ]
    }

    /// Inverse of [`Self::to_array`]; a missing always-defined field becomes NaN.
    pub(crate) fn from_array(a: [Option<f64>; Self::LEN]) -> Self {
        let v = |i: usize| a[i].unwrap_or(f64::NAN);
        Self {
            dice: v(0),
            iou: v(1),
            voe: v(2),
            rvd: a[3],
            precision: v(4),
            recall: v(5),
            specificity: v(6),
            f1: v(7),
            assd: a[8],
            hausdorff: a[9],
            hd95: a[10],
        }
    }
}

/// Everything measured on one case (a slice or a volume). Serialises flat: the [`Scores`]
/// fields, then the counts and geometry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseMetrics {
    /// The metric values.
    #[serde(flatten)]
    pub scores: Scores,
    /// Voxel counts.
    pub confusion: Confusion,
    /// 2D slice or 3D volume.
    pub rank: Rank,
    /// Shape (z, y, x).
    pub dims: [usize; 3],
    /// Voxel size (z, y, x) used for the distances; 1.0 when unknown.
    pub spacing: [f64; 3],
    /// Unit of `assd`, `hausdorff` and `hd95`.
    pub unit: DistanceUnit,
    /// Surface voxels of the prediction (0 when a mask is empty and no distances were taken).
    pub pred_surface_voxels: usize,
    /// Surface voxels of the ground truth (0 likewise).
    pub gt_surface_voxels: usize,
}

/// The spacing to measure in: the one the masks carry — the ground truth's when both do and
/// agree to a relative 1e-5 (NIfTI stores spacing as f32, so a re-written file may differ in
/// the last bits) — else 1.0 in voxel steps. The z component is ignored for 2D masks.
fn resolve_spacing(pred: &Mask, gt: &Mask) -> Result<([f64; 3], DistanceUnit), MetricsError> {
    let first_axis = if gt.rank() == Rank::D2 { 1 } else { 0 };
    match (pred.spacing(), gt.spacing()) {
        (None, None) => Ok(([1.0; 3], DistanceUnit::Voxel)),
        (Some(s), None) | (None, Some(s)) => Ok((s, DistanceUnit::Physical)),
        (Some(p), Some(g)) => {
            let agree = (first_axis..3).all(|k| (p[k] - g[k]).abs() <= 1e-5 * g[k]);
            if agree {
                Ok((g, DistanceUnit::Physical))
            } else {
                Err(MetricsError::SpacingMismatch { pred: p, gt: g })
            }
        }
    }
}

/// All metrics of `pred` against `gt` (same rank and shape), together with the surface
/// distance sets that [`Accumulator`](super::Accumulator) pools; the distances are `None` when
/// either mask is empty.
pub fn evaluate_with_distances(
    pred: &Mask,
    gt: &Mask,
    options: &EvalOptions,
) -> Result<(CaseMetrics, Option<SurfaceDistances>), MetricsError> {
    let confusion = Confusion::from_masks(pred, gt)?;
    let (spacing, unit) = resolve_spacing(pred, gt)?;
    let distances = SurfaceDistances::compute(pred, gt, spacing)?;
    let case = CaseMetrics {
        scores: Scores::new(&confusion, distances.as_ref(), options.empty_policy),
        confusion,
        rank: gt.rank(),
        dims: gt.dims(),
        spacing,
        unit,
        pred_surface_voxels: distances.as_ref().map_or(0, |d| d.pred_to_gt().len()),
        gt_surface_voxels: distances.as_ref().map_or(0, |d| d.gt_to_pred().len()),
    };
    Ok((case, distances))
}

/// All metrics of `pred` against `gt`: per slice for 2D masks, per volume for 3D masks.
pub fn evaluate(
    pred: &Mask,
    gt: &Mask,
    options: &EvalOptions,
) -> Result<CaseMetrics, MetricsError> {
    evaluate_with_distances(pred, gt, options).map(|(case, _)| case)
}

/// One [`CaseMetrics`] per slice z = 0, 1, … of two volumes, each slice evaluated as a 2D mask
/// (in-plane surfaces, y/x spacing). A 2D mask gives a single row.
pub fn evaluate_slices(
    pred: &Mask,
    gt: &Mask,
    options: &EvalOptions,
) -> Result<Vec<CaseMetrics>, MetricsError> {
    pred.ensure_same_shape(gt)?;
    (0..gt.dims()[0])
        .map(|z| evaluate(&pred.slice(z)?, &gt.slice(z)?, options))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_resolution() {
        let a = Mask::from_fn_2d(2, 2, |_, _| true).unwrap();
        let (s, u) = resolve_spacing(&a, &a).unwrap();
        assert_eq!((s, u), ([1.0; 3], DistanceUnit::Voxel));
        let b = a.clone().with_spacing([1.0, 0.5, 0.5]).unwrap();
        assert_eq!(resolve_spacing(&a, &b).unwrap().1, DistanceUnit::Physical);
        assert_eq!(resolve_spacing(&b, &a).unwrap().0, [1.0, 0.5, 0.5]);
        // 2D: z is not compared.
        let c = a.clone().with_spacing([3.0, 0.5, 0.5]).unwrap();
        assert!(resolve_spacing(&b, &c).is_ok());
        let d = a.with_spacing([1.0, 0.5, 0.6]).unwrap();
        assert!(matches!(
            resolve_spacing(&b, &d),
            Err(MetricsError::SpacingMismatch { .. })
        ));
    }

    #[test]
    fn policy_values() {
        assert_eq!(EmptyPolicy::default(), EmptyPolicy::Zero);
        assert_eq!(EmptyPolicy::Zero.value(), Some(0.0));
        assert_eq!(EmptyPolicy::Skip.value(), None);
        assert!(EmptyPolicy::Nan.value().is_some_and(f64::is_nan));
    }

    #[test]
    fn scores_array_round_trip() {
        let c = Confusion {
            tp: 3,
            fp: 1,
            fn_: 2,
            tn: 10,
        };
        let s = Scores::new(&c, None, EmptyPolicy::Skip);
        assert_eq!(Scores::from_array(s.to_array()), s);
    }
}
