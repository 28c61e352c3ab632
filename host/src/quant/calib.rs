//! Activation ranges from a calibration set: min/max, or a two-sided percentile (e.g. 99.99 %)
//! from per-point histograms.

use super::graph::Observer;
use std::collections::BTreeMap;

/// How a point's range is chosen from the values it took during calibration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeMode {
    /// The smallest and largest value seen.
    MinMax,
    /// The `(100 − p)`-th and `p`-th percentiles (e.g. `p = 99.99`), from a 4096-bin histogram
    /// over the min/max range (a second calibration pass).
    Percentile(f64),
}

impl std::fmt::Display for RangeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RangeMode::MinMax => f.write_str("min/max"),
            RangeMode::Percentile(p) => write!(f, "{p} % percentile"),
        }
    }
}

/// Running min/max per point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinMax {
    /// `(min, max)` per point.
    pub ranges: BTreeMap<String, (f32, f32)>,
}

impl Observer for MinMax {
    fn observe(&mut self, point: &str, values: &[f32]) {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in values {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        let e = self
            .ranges
            .entry(point.to_owned())
            .or_insert((f32::INFINITY, f32::NEG_INFINITY));
        e.0 = e.0.min(lo);
        e.1 = e.1.max(hi);
    }
}

/// An observer that can be filled in parts — one per calibration thread — and combined: the
/// merged observer equals one that saw every part, in any order (min/max and bin counts do not
/// depend on the order of the values), so the calibration result does not depend on how many
/// threads ran it.
pub trait Mergeable: Observer + Send {
    /// An observer with this one's settings that has seen nothing.
    fn empty_like(&self) -> Self;
    /// Adds what `other` saw.
    fn merge(&mut self, other: Self);
}

impl Mergeable for MinMax {
    fn empty_like(&self) -> Self {
        Self::default()
    }

    fn merge(&mut self, other: Self) {
        for (name, (lo, hi)) in other.ranges {
            let e = self
                .ranges
                .entry(name)
                .or_insert((f32::INFINITY, f32::NEG_INFINITY));
            e.0 = e.0.min(lo);
            e.1 = e.1.max(hi);
        }
    }
}

/// Bins of the percentile histograms.
pub const HIST_BINS: usize = 4096;

/// Histograms per point over known min/max ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct Histograms {
    ranges: BTreeMap<String, (f32, f32)>,
    counts: BTreeMap<String, Vec<u64>>,
}

impl Histograms {
    /// Empty histograms over `ranges` (from a [`MinMax`] pass).
    pub fn new(ranges: &BTreeMap<String, (f32, f32)>) -> Self {
        Self {
            ranges: ranges.clone(),
            counts: BTreeMap::new(),
        }
    }

    /// The `(lo, hi)` percentile range of every point; points never seen keep min/max.
    pub fn percentile_ranges(&self, p: f64) -> BTreeMap<String, (f32, f32)> {
        let q = (p / 100.0).clamp(0.5, 1.0);
        self.ranges
            .iter()
            .map(|(name, &(lo, hi))| {
                let r = match self.counts.get(name) {
                    Some(c) if hi > lo => {
                        let total: u64 = c.iter().sum();
                        let width = f64::from(hi - lo) / HIST_BINS as f64;
                        let below = ((1.0 - q) * total as f64).floor() as u64;
                        let above = ((1.0 - q) * total as f64).floor() as u64;
                        // Lowest bin with more than `below` values at or under it; highest
                        // bin with more than `above` values at or over it.
                        let (mut acc, mut i_lo) = (0u64, 0usize);
                        for (i, &n) in c.iter().enumerate() {
                            acc += n;
                            if acc > below {
                                i_lo = i;
                                break;
                            }
                        }
                        let (mut acc, mut i_hi) = (0u64, HIST_BINS - 1);
                        for (i, &n) in c.iter().enumerate().rev() {
                            acc += n;
                            if acc > above {
                                i_hi = i;
                                break;
                            }
                        }
                        let l = f64::from(lo) + width * i_lo as f64;
                        let h = f64::from(lo) + width * (i_hi + 1) as f64;
                        (l.max(f64::from(lo)) as f32, h.min(f64::from(hi)) as f32)
                    }
                    _ => (lo, hi),
                };
                (name.clone(), r)
            })
            .collect()
    }
}

impl Mergeable for Histograms {
    fn empty_like(&self) -> Self {
        Self::new(&self.ranges)
    }

    fn merge(&mut self, other: Self) {
        for (name, counts) in other.counts {
            match self.counts.get_mut(&name) {
                Some(c) => c.iter_mut().zip(&counts).for_each(|(a, b)| *a += b),
                None => {
                    self.counts.insert(name, counts);
                }
            }
        }
    }
}

impl Observer for Histograms {
    fn observe(&mut self, point: &str, values: &[f32]) {
        let Some(&(lo, hi)) = self.ranges.get(point) else {
            return;
        };
        if hi <= lo {
            return;
        }
        let c = self
            .counts
            .entry(point.to_owned())
            .or_insert_with(|| vec![0; HIST_BINS]);
        let scale = HIST_BINS as f64 / f64::from(hi - lo);
        for &v in values {
            if v.is_finite() {
                let i = ((f64::from(v) - f64::from(lo)) * scale).floor();
                c[(i.max(0.0) as usize).min(HIST_BINS - 1)] += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_observers_equal_one_that_saw_everything() {
        let a: Vec<f32> = (0..5000)
            .map(|i| ((i * 37) % 1001) as f32 / 100.0 - 3.0)
            .collect();
        let b: Vec<f32> = vec![-7.5, f32::NAN, 12.25, 0.0, f32::INFINITY];
        let mut whole = MinMax::default();
        for (p, v) in [("p", &a), ("q", &b), ("p", &b)] {
            whole.observe(p, v);
        }
        let (mut left, mut right) = (whole.empty_like(), whole.empty_like());
        left.observe("p", &a);
        right.observe("q", &b);
        right.observe("p", &b);
        left.merge(right);
        assert_eq!(left, whole);
        assert_eq!(whole.ranges["p"], (-7.5, 12.25));

        let mut h_whole = Histograms::new(&whole.ranges);
        h_whole.observe("p", &a);
        h_whole.observe("p", &b);
        h_whole.observe("q", &b);
        let (mut h1, mut h2) = (h_whole.empty_like(), h_whole.empty_like());
        h1.observe("p", &a);
        h2.observe("p", &b);
        h2.observe("q", &b);
        h1.merge(h2);
        assert_eq!(h1, h_whole);
        assert_eq!(h1.counts["p"].iter().sum::<u64>(), 5003);
    }

    #[test]
    fn percentile_trims_outliers_and_keeps_the_bulk() {
        let mut mm = MinMax::default();
        let mut v: Vec<f32> = (0..100_000).map(|i| (i % 1000) as f32 / 1000.0).collect();
        v.push(50.0);
        v.push(-20.0);
        mm.observe("p", &v);
        assert_eq!(mm.ranges["p"], (-20.0, 50.0));
        let mut h = Histograms::new(&mm.ranges);
        h.observe("p", &v);
        let (lo, hi) = h.percentile_ranges(99.99)["p"];
        assert!((-0.1..=0.05).contains(&lo), "{lo}");
        assert!((0.95..=1.1).contains(&hi), "{hi}");
        let (lo, hi) = h.percentile_ranges(100.0)["p"];
        assert!(lo <= -19.9 && hi >= 49.9, "{lo} {hi}");
    }
}
