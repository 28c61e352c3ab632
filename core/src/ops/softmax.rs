//! Softmax, numerically stabilised by subtracting the maximum.

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
pub fn softmax_in_place(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for x in v.iter_mut() {
        *x = libm::expf(*x - max);
        sum += *x;
    }
    let inv = 1.0 / sum;
    for x in v.iter_mut() {
        *x *= inv;
    }
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
                    row[c] = libm::expf(row[c] - max);
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
