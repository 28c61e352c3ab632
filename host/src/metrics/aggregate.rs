//! Aggregating many cases (slices or volumes) two ways, as LiTS reports Dice.
//!
//! * **Per case**: the mean (and population standard deviation, numpy's default `ddof = 0`) over
//!   cases of each per-case metric — LiTS's "Dice per case". A metric whose value is `None` for
//!   a case (RVD with an empty ground truth, a surface metric under
//!   [`EmptyPolicy::Skip`](super::EmptyPolicy::Skip)) is left out of that metric's mean; NaN
//!   values (under [`EmptyPolicy::Nan`](super::EmptyPolicy::Nan)) propagate.
//! * **Global (pooled)**: the overlap metrics of the summed confusion counts — LiTS's "Dice
//!   global", exact because every overlap metric is a ratio of counts — and the surface metrics
//!   of the concatenation of all cases' distance sets: pooled ASSD is the sum of all distances
//!   over the total number of surface voxels, pooled Hausdorff the largest distance of any case,
//!   pooled HD95 the 95th percentile of the whole set. Cases where a mask is empty have no
//!   distances and add nothing to the pool; `surface_cases_pooled` says how many did. If none
//!   did, the pooled surface metrics take the [`EmptyPolicy`](super::EmptyPolicy) value.
//!
//! Pooling keeps every distance (8 bytes per surface voxel of every case), a few tens of MB for
//! a LiTS-sized test set.

use super::evaluate::evaluate_with_distances;
use super::percentile::percentile;
use super::{
    CaseMetrics, Confusion, DistanceUnit, EvalOptions, Mask, MetricsError, Scores, SurfaceDistances,
};
use serde::Serialize;

/// Per-case and pooled results over a set of cases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregate {
    /// Number of cases.
    pub cases: usize,
    /// Unit of the surface metrics.
    pub unit: DistanceUnit,
    /// Mean over cases of each metric.
    pub per_case_mean: Scores,
    /// Population standard deviation over cases of each metric.
    pub per_case_std: Scores,
    /// Metrics of the pooled counts and pooled distance sets.
    pub global: Scores,
    /// The summed counts behind `global`.
    pub global_confusion: Confusion,
    /// Cases that contributed surface distances to `global`.
    pub surface_cases_pooled: usize,
}

/// Collects cases one at a time and produces an [`Aggregate`].
#[derive(Debug, Clone)]
pub struct Accumulator {
    options: EvalOptions,
    scores: Vec<Scores>,
    confusion: Confusion,
    distances: Vec<f64>,
    surface_cases: usize,
    unit: Option<DistanceUnit>,
}

impl Accumulator {
    /// An empty accumulator; `options.empty_policy` applies to the pooled surface metrics.
    pub fn new(options: EvalOptions) -> Self {
        Self {
            options,
            scores: Vec::new(),
            confusion: Confusion::default(),
            distances: Vec::new(),
            surface_cases: 0,
            unit: None,
        }
    }

    /// Evaluates `pred` against `gt` with this accumulator's options, adds the case and returns
    /// its metrics.
    pub fn evaluate(&mut self, pred: &Mask, gt: &Mask) -> Result<CaseMetrics, MetricsError> {
        let (case, distances) = evaluate_with_distances(pred, gt, &self.options)?;
        self.add(&case, distances.as_ref())?;
        Ok(case)
    }

    /// Adds an already evaluated case with its distance sets (`None` when a mask was empty).
    /// Errors, adding nothing, when its distance unit differs from the earlier cases'.
    pub fn add(
        &mut self,
        case: &CaseMetrics,
        distances: Option<&SurfaceDistances>,
    ) -> Result<(), MetricsError> {
        if self.unit.is_some_and(|u| u != case.unit) {
            return Err(MetricsError::UnitMismatch);
        }
        self.unit = Some(case.unit);
        self.scores.push(case.scores);
        self.confusion += case.confusion;
        if let Some(d) = distances {
            self.distances.extend(d.all());
            self.surface_cases += 1;
        }
        Ok(())
    }

    /// Number of cases added so far.
    pub fn cases(&self) -> usize {
        self.scores.len()
    }

    /// The aggregate of the cases added so far; `None` before the first case.
    pub fn finish(&self) -> Option<Aggregate> {
        let unit = self.unit?;
        let (mean, std) = field_mean_std(&self.scores);
        let mut global = Scores::new(&self.confusion, None, self.options.empty_policy);
        if !self.distances.is_empty() {
            let n = self.distances.len() as f64;
            global.assd = Some(self.distances.iter().sum::<f64>() / n);
            global.hausdorff = Some(self.distances.iter().copied().fold(0.0, f64::max));
            global.hd95 = percentile(&self.distances, 95.0).ok();
        }
        Some(Aggregate {
            cases: self.scores.len(),
            unit,
            per_case_mean: mean,
            per_case_std: std,
            global,
            global_confusion: self.confusion,
            surface_cases_pooled: self.surface_cases,
        })
    }
}

/// Field-wise mean and population standard deviation over the defined values.
fn field_mean_std(cases: &[Scores]) -> (Scores, Scores) {
    let arrays: Vec<_> = cases.iter().map(|s| s.to_array()).collect();
    let mut mean = [None; Scores::LEN];
    let mut std = [None; Scores::LEN];
    for k in 0..Scores::LEN {
        let values: Vec<f64> = arrays.iter().filter_map(|a| a[k]).collect();
        if values.is_empty() {
            continue;
        }
        let n = values.len() as f64;
        let m = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
        mean[k] = Some(m);
        std[k] = Some(var.sqrt());
    }
    (Scores::from_array(mean), Scores::from_array(std))
}

#[cfg(test)]
mod tests {
    use super::super::EmptyPolicy;
    use super::*;

    #[test]
    fn nothing_added_gives_none() {
        assert_eq!(Accumulator::new(EvalOptions::default()).finish(), None);
    }

    #[test]
    fn units_do_not_mix() {
        let a = Mask::from_fn_2d(4, 4, |y, x| y == 1 && x == 1).unwrap();
        let b = a.clone().with_spacing([1.0, 0.8, 0.8]).unwrap();
        let mut acc = Accumulator::new(EvalOptions::default());
        acc.evaluate(&a, &a).unwrap();
        assert_eq!(acc.evaluate(&b, &b), Err(MetricsError::UnitMismatch));
        assert_eq!(acc.cases(), 1);
    }

    #[test]
    fn none_values_are_skipped_and_nan_propagates() {
        let mut base = Scores::new(&Confusion::default(), None, EmptyPolicy::Skip);
        base.assd = Some(2.0);
        let skipped = Scores { assd: None, ..base };
        let (m, s) = field_mean_std(&[base, skipped]);
        assert_eq!(m.assd, Some(2.0));
        assert_eq!(s.assd, Some(0.0));
        let nan = Scores {
            assd: Some(f64::NAN),
            ..base
        };
        assert!(field_mean_std(&[base, nan]).0.assd.is_some_and(f64::is_nan));
    }
}
