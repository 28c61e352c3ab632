//! Matrix products and linear (fully connected) layers.
//!
//! Each output element is a dot product accumulated in index order, so results are
//! reproducible for a given build.

use crate::tensor::{Mat, Tokens};

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `y = a · b`.
pub fn matmul<const M: usize, const K: usize, const N: usize>(
    a: &Mat<M, K>,
    b: &Mat<K, N>,
    y: &mut Mat<M, N>,
) {
    for (a_row, y_row) in a.iter().zip(y.iter_mut()) {
        y_row.fill(0.0);
        for (av, b_row) in a_row.iter().zip(b) {
            for (o, bv) in y_row.iter_mut().zip(b_row) {
                *o += av * bv;
            }
        }
    }
}

/// `y = a · bᵀ` (rows of `a` against rows of `b`: query–key scores).
pub fn matmul_bt<const M: usize, const K: usize, const N: usize>(
    a: &Mat<M, K>,
    b: &Mat<N, K>,
    y: &mut Mat<M, N>,
) {
    for (a_row, y_row) in a.iter().zip(y.iter_mut()) {
        for (o, b_row) in y_row.iter_mut().zip(b) {
            *o = dot(a_row, b_row);
        }
    }
}

/// `y = aᵀ · b` (columns of `a` against columns of `b`).
pub fn matmul_at<const K: usize, const M: usize, const N: usize>(
    a: &Mat<K, M>,
    b: &Mat<K, N>,
    y: &mut Mat<M, N>,
) {
    for row in y.iter_mut() {
        row.fill(0.0);
    }
    for (a_row, b_row) in a.iter().zip(b) {
        for (av, y_row) in a_row.iter().zip(y.iter_mut()) {
            for (o, bv) in y_row.iter_mut().zip(b_row) {
                *o += av * bv;
            }
        }
    }
}

/// A linear layer over tokens, `y = x · wᵀ + b`, with PyTorch's weight layout `[out][in]`.
pub fn linear<const N: usize, const DI: usize, const DO: usize>(
    x: &Tokens<N, DI>,
    w: &Mat<DO, DI>,
    bias: Option<&[f32; DO]>,
    y: &mut Tokens<N, DO>,
) {
    for (x_row, y_row) in x.iter().zip(y.iter_mut()) {
        for (o, (w_row, j)) in y_row.iter_mut().zip(w.iter().zip(0..)) {
            *o = dot(x_row, w_row) + bias.map_or(0.0, |b| b[j]);
        }
    }
}
