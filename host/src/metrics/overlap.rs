//! Overlap metrics from a confusion count.
//!
//! Every overlap metric is a ratio of the four voxel counts, so they are all computed from a
//! [`Confusion`] rather than from the masks. That makes global (pooled) aggregation exact: sum
//! the counts of all cases, then take the ratio once.
//!
//! # Undefined ratios (0/0)
//!
//! One rule covers every ratio except RVD: **when a denominator is zero the value is 1.0 if the
//! prediction equals the ground truth (no false positive and no false negative), else 0.0.**
//! This reproduces current medpy where medpy defines a value — `dc` and `jc` return 1 for two
//! empty masks, `precision`/`recall`/`specificity` return 0 when their denominator is zero and
//! the masks differ — and departs from medpy only for two empty masks, where medpy's
//! precision/recall give 0 but we give 1, so that a slice without tumour that the model also
//! leaves empty is scored as the perfect answer by every metric alike.
//!
//! RVD has its own convention, see [`Confusion::rvd`].

use super::{Mask, MetricsError};
use serde::Serialize;
use std::ops::{Add, AddAssign};

/// Voxel counts of a prediction against a ground truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Foreground in both.
    pub tp: u64,
    /// Foreground in the prediction only.
    pub fp: u64,
    /// Foreground in the ground truth only.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// Background in both.
    pub tn: u64,
}

impl Confusion {
    /// Counts a prediction against a ground truth of the same rank and shape.
    pub fn from_masks(pred: &Mask, gt: &Mask) -> Result<Self, MetricsError> {
        pred.ensure_same_shape(gt)?;
        let mut c = Self::default();
        for (&p, &g) in pred.data().iter().zip(gt.data()) {
            c.count(p, g);
        }
        Ok(c)
    }

    /// Counts one voxel: predicted `pred`, truly `truth`.
    pub fn count(&mut self, pred: bool, truth: bool) {
        match (pred, truth) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// |prediction| = tp + fp.
    pub fn pred_size(&self) -> u64 {
        self.tp + self.fp
    }

    /// |ground truth| = tp + fn.
    pub fn gt_size(&self) -> u64 {
        self.tp + self.fn_
    }

    /// Whether prediction and ground truth agree on every voxel.
    pub fn is_exact(&self) -> bool {
        self.fp == 0 && self.fn_ == 0
    }

    /// `num / den`, with the module's 0/0 rule.
    fn ratio(&self, num: f64, den: f64) -> f64 {
        if den == 0.0 {
            if self.is_exact() {
                1.0
            } else {
                0.0
            }
        } else {
            num / den
        }
    }

    /// Dice = 2tp / (2tp + fp + fn) = 2|P∩G| / (|P| + |G|); 1 for two empty masks.
    pub fn dice(&self) -> f64 {
        let tp = self.tp as f64;
        self.ratio(2.0 * tp, 2.0 * tp + self.fp as f64 + self.fn_ as f64)
    }

    /// IoU (Jaccard) = tp / (tp + fp + fn) = |P∩G| / |P∪G|; 1 for two empty masks.
    pub fn iou(&self) -> f64 {
        let tp = self.tp as f64;
        self.ratio(tp, tp + self.fp as f64 + self.fn_ as f64)
    }

    /// Volumetric overlap error VOE = 1 − IoU; 0 for two empty masks.
    pub fn voe(&self) -> f64 {
        1.0 - self.iou()
    }

    /// Relative volume difference RVD = (|P| − |G|) / |G|, signed: positive means the
    /// prediction is too large (over-segmentation), negative too small; 0 is ideal.
    ///
    /// This is the definition of the LiTS paper (Bilic et al.) and of medpy's
    /// `ravd(result, reference)`. Note that the LiTS challenge's published evaluation script
    /// calls `ravd(label, pred)`, i.e. (|G| − |P|) / |P| — opposite sign and the other
    /// denominator; compare numbers from that script with care.
    ///
    /// With an empty ground truth: `Some(0.0)` when the prediction is empty too (no volume
    /// difference), `None` otherwise (undefined; medpy raises an error). `None` values are left
    /// out of per-case means.
    pub fn rvd(&self) -> Option<f64> {
        let (p, g) = (self.pred_size(), self.gt_size());
        match (p, g) {
            (0, 0) => Some(0.0),
            (_, 0) => None,
            _ => Some((p as f64 - g as f64) / g as f64),
        }
    }

    /// Precision (positive predictive value) = tp / (tp + fp). Nothing predicted: 1 when the
    /// ground truth is empty too, else 0 (medpy).
    pub fn precision(&self) -> f64 {
        self.ratio(self.tp as f64, self.pred_size() as f64)
    }

    /// Recall (sensitivity, true positive rate) = tp / (tp + fn). Empty ground truth: 1 when
    /// the prediction is empty too, else 0 (medpy).
    pub fn recall(&self) -> f64 {
        self.ratio(self.tp as f64, self.gt_size() as f64)
    }

    /// Sensitivity, the same as [`Self::recall`].
    pub fn sensitivity(&self) -> f64 {
        self.recall()
    }

    /// Specificity (true negative rate) = tn / (tn + fp). No background in the ground truth:
    /// 1 when the prediction equals it, else 0 (medpy).
    pub fn specificity(&self) -> f64 {
        self.ratio(self.tn as f64, (self.tn + self.fp) as f64)
    }

    /// F1 = 2PR / (P + R), computed from counts as 2tp / (2tp + fp + fn), hence equal to
    /// [`Self::dice`] (also for empty masks).
    pub fn f1(&self) -> f64 {
        self.dice()
    }

    /// F-beta = (1 + β²)·P·R / (β²·P + R), computed from counts as
    /// (1 + β²)tp / ((1 + β²)tp + β²fn + fp) so that it has no 0/0 of its own when precision or
    /// recall is undefined; β > 1 weights recall higher, β = 0 gives precision. 1 for two empty
    /// masks. Errors unless β is finite and ≥ 0.
    pub fn f_beta(&self, beta: f64) -> Result<f64, MetricsError> {
        if !beta.is_finite() || beta < 0.0 {
            return Err(MetricsError::InvalidBeta(beta));
        }
        let b2 = beta * beta;
        let tp = (1.0 + b2) * self.tp as f64;
        Ok(self.ratio(tp, tp + b2 * self.fn_ as f64 + self.fp as f64))
    }
}

impl AddAssign for Confusion {
    fn add_assign(&mut self, o: Self) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.tn += o.tn;
    }
}

impl Add for Confusion {
    type Output = Self;
    fn add(mut self, o: Self) -> Self {
        self += o;
        self
    }
}

impl std::iter::Sum for Confusion {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn counts_from_masks() {
        // pred 1 1 0 0, gt 1 0 1 0 → one of each.
        let p = Mask::from_u8_2d(1, 4, &[1, 1, 0, 0]).unwrap();
        let g = Mask::from_u8_2d(1, 4, &[1, 0, 1, 0]).unwrap();
        let c = Confusion::from_masks(&p, &g).unwrap();
        assert_eq!(
            c,
            Confusion {
                tp: 1,
                fp: 1,
                fn_: 1,
                tn: 1
            }
        );
        let v = Mask::from_u8_3d([1, 1, 4], &[1, 1, 0, 0]).unwrap();
        assert!(matches!(
            Confusion::from_masks(&v, &g),
            Err(MetricsError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn f_beta_small_disc_inside_large_disc() {
        // A radius-1 disc (5 px) predicted inside a radius-3 disc (29 px), see the disc test in
        // tests/metrics.rs: tp = 5, fp = 0, fn = 24, so P = 1 and R = 5/29.
        let c = Confusion {
            tp: 5,
            fp: 0,
            fn_: 24,
            tn: 52,
        };
        // F1 = 2·5 / (10 + 24) = 5/17 = Dice.
        close(c.f1(), 5.0 / 17.0);
        close(c.f_beta(1.0).unwrap(), 5.0 / 17.0);
        // F2 = 5·5 / (5·5 + 4·24) = 25/121; check: 5PR/(4P+R) = (25/29)/(121/29).
        close(c.f_beta(2.0).unwrap(), 25.0 / 121.0);
        // F0.5 = 1.25·5 / (1.25·5 + 0.25·24) = 6.25/12.25 = 25/49.
        close(c.f_beta(0.5).unwrap(), 25.0 / 49.0);
        // β = 0 is precision.
        close(c.f_beta(0.0).unwrap(), 1.0);
        assert!(c.f_beta(-1.0).is_err());
        assert!(c.f_beta(f64::NAN).is_err());
    }

    #[test]
    fn sums_pool_counts() {
        let a = Confusion {
            tp: 1,
            fp: 2,
            fn_: 3,
            tn: 4,
        };
        let s: Confusion = [a, a, a].into_iter().sum();
        assert_eq!(
            s,
            Confusion {
                tp: 3,
                fp: 6,
                fn_: 9,
                tn: 12
            }
        );
    }
}
