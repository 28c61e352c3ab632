//! Percentiles of distance sets, as numpy computes them.
//!
//! HD95 is defined by medpy as `numpy.percentile(distances, 95)`, whose default method is
//! "linear" (Hyndman & Fan type 7): for `n` sorted values `v` and percentile `q`, the virtual
//! index is `h = (n − 1)·q/100` and the result is `v[⌊h⌋] + (h − ⌊h⌋)·(v[⌊h⌋+1] − v[⌊h⌋])`. So
//! q = 0 is the minimum, q = 100 the maximum, and the result may lie between two samples.

use super::MetricsError;

/// The `q`-th percentile (0 ≤ q ≤ 100) of `values` by numpy's default linear interpolation.
///
/// Runs in O(n) by selection rather than a full sort, because pooled distance sets over a whole
/// dataset can hold millions of values. NaN sorts above every number (`f64::total_cmp`).
/// Errors on an empty set or a `q` outside [0, 100].
pub fn percentile(values: &[f64], q: f64) -> Result<f64, MetricsError> {
    if !(0.0..=100.0).contains(&q) {
        return Err(MetricsError::InvalidPercentile(q));
    }
    if values.is_empty() {
        return Err(MetricsError::EmptyDistanceSet);
    }
    let h = (values.len() - 1) as f64 * (q / 100.0);
    // h ≤ n − 1, so the cast stays in range; clamp anyway against rounding.
    let lo = (h.floor() as usize).min(values.len() - 1);
    let frac = h - lo as f64;
    let mut v = values.to_vec();
    let (_, &mut a, above) = v.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || above.is_empty() {
        return Ok(a);
    }
    let b = above.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    Ok(a + frac * (b - a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hd95_of_one_to_twenty() {
        // v = 1..=20, n = 20: h = 19·0.95 = 18.05, v[18] = 19, v[19] = 20
        // → 19 + 0.05·(20 − 19) = 19.05 (numpy.percentile(range(1, 21), 95) == 19.05).
        let v: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert!((percentile(&v, 95.0).unwrap() - 19.05).abs() < 1e-12);
        // h = 19·0.5 = 9.5 → 10 + 0.5 = 10.5, the median.
        assert!((percentile(&v, 50.0).unwrap() - 10.5).abs() < 1e-12);
        assert_eq!(percentile(&v, 0.0).unwrap(), 1.0);
        assert_eq!(percentile(&v, 100.0).unwrap(), 20.0);
    }

    #[test]
    fn single_value_and_errors() {
        assert_eq!(percentile(&[3.5], 95.0).unwrap(), 3.5);
        assert_eq!(percentile(&[], 95.0), Err(MetricsError::EmptyDistanceSet));
        assert!(percentile(&[1.0], 100.5).is_err());
        assert!(percentile(&[1.0], -1.0).is_err());
        assert!(percentile(&[1.0], f64::NAN).is_err());
    }
}
