//! Softmax, numerically stabilised by subtracting the maximum.

use super::activation::exp_nonpositive;
use super::linalg::sum_lanes;
use crate::tensor::Mat;

/// Which axis of a matrix a softmax normalises over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Over each row (PyTorch `dim = -1`): every row sums to 1.
    Rows,
    /// Over each column (PyTorch `dim = 0`): every column sums to 1.
    Cols,
}

/// Softmax of one vector in place. An empty slice is left alone.
///
/// The exponentials ([`exp_nonpositive`]: every argument is `x − max ≤ 0`) are one vectorisable
/// pass; their sum is taken in [`crate::ops::linalg`]'s fixed lane order (against ones).
pub fn softmax_in_place(v: &mut [f32]) {
    let max = max_lanes(v);
    for x in v.iter_mut() {
        *x = exp_nonpositive(*x - max);
    }
    let sum = sum_lanes(v);
    let inv = 1.0 / sum;
    for x in v.iter_mut() {
        *x *= inv;
    }
}

/// The largest element (NaNs ignored; −∞ for an empty or all-NaN slice), over 16 lanes: the
/// maximum does not depend on the order it is taken in, so this is the value of a left-to-right
/// fold (up to the sign of a zero maximum, which `x − max` cannot tell apart: `x − 0 = x − (−0)`
/// for every `x` but −0, and `e^±0 = 1`), without its chain of dependent comparisons.
fn max_lanes(v: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; 16];
    let (chunks, tail) = v.as_chunks::<16>();
    for c in chunks {
        for (m, &x) in m.iter_mut().zip(c) {
            *m = m.max(x);
        }
    }
    m.iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, |a, &x| a.max(x))
}

/// Softmax of a matrix over the chosen axis, in place.
pub fn softmax<const R: usize, const C: usize>(m: &mut Mat<R, C>, axis: Axis) {
    match axis {
        Axis::Rows => m.iter_mut().for_each(|row| softmax_in_place(row)),
        Axis::Cols => {
            for c in 0..C {
                let max = m.iter().map(|r| r[c]).fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0f32;
                for row in m.iter_mut() {
                    row[c] = exp_nonpositive(row[c] - max);
                    sum += row[c];
                }
                let inv = 1.0 / sum;
                for row in m.iter_mut() {
                    row[c] *= inv;
                }
            }
        }
    }
}
