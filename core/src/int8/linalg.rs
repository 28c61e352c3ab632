//! Int8 matrix products with exact `i32` accumulation: linear layers (int8 weights per output
//! channel, TFLite's `FullyConnected` per-channel) and products of two activations (attention's
//! `Q·Kᵀ` and `A·V`, TFLite's `BatchMatMul` int8), each with one requantization per output.
//!
//! Reduction lengths are checked at compile time against [`MAX_WEIGHT_DOT_TERMS`] /
//! [`MAX_ACT_DOT_TERMS`], so the sums are exact; the requantization is the only rounding:
//! within 1 LSB of "dequantize → f64 product → quantize", equal to it except near ties
//! (TFLite's double rounding, see [`super::quant`]).

use super::quant::{PerChannelQuant, TensorQuant, MAX_ACT_DOT_TERMS, MAX_WEIGHT_DOT_TERMS};
use crate::tensor::{Mat, Tokens};

/// `Σ (a_i − a_zp)(b_i − b_zp)` over two `K`-long int8 vectors (exact; `K` checked at compile
/// time). With `b_zp = 0` it is the weight dot product of a linear layer.
#[inline]
pub fn dot<const K: usize>(a: &[i8; K], a_zp: i8, b: &[i8; K], b_zp: i8) -> i32 {
    const {
        assert!(
            K <= MAX_ACT_DOT_TERMS,
            "int8 dot product too long for an exact i32 accumulator"
        )
    };
    let (za, zb) = (i32::from(a_zp), i32::from(b_zp));
    a.iter()
        .zip(b)
        .map(|(x, y)| (i32::from(*x) - za) * (i32::from(*y) - zb))
        .sum()
}

/// [`dot`] for slices of run-time length (attention heads cut out of a token): pairs up to the
/// shorter length, accumulates in `i64` and saturates to `i32`, so no length can overflow.
pub fn dot_slices(a: &[i8], a_zp: i8, b: &[i8], b_zp: i8) -> i32 {
    let (za, zb) = (i32::from(a_zp), i32::from(b_zp));
    let s: i64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| i64::from((i32::from(*x) - za) * (i32::from(*y) - zb)))
        .sum();
    s.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// A linear layer over tokens, `y = requant(x·wᵀ + bias)`, PyTorch's weight layout `[out][in]`,
/// int8 weights symmetric per output feature ([`PerChannelQuant`]).
pub fn linear<const N: usize, const DI: usize, const DO: usize>(
    x: &Tokens<N, DI, i8>,
    w: &Mat<DO, DI, i8>,
    q: &PerChannelQuant<'_, DO>,
    y: &mut Tokens<N, DO, i8>,
) {
    const {
        assert!(
            DI <= MAX_WEIGHT_DOT_TERMS,
            "int8 linear layer too wide for an exact i32 accumulator"
        )
    };
    let zp = i32::from(q.input_zp);
    for (x_row, y_row) in x.iter().zip(y.iter_mut()) {
        for (j, (o, w_row)) in y_row.iter_mut().zip(w).enumerate() {
            let acc: i32 = x_row
                .iter()
                .zip(w_row)
                .map(|(xv, wv)| i32::from(*wv) * (i32::from(*xv) - zp))
                .sum();
            *o = q.output(j, acc);
        }
    }
}

/// `y = requant(a · b)` for two int8 activations.
pub fn matmul<const M: usize, const K: usize, const N: usize>(
    a: &Mat<M, K, i8>,
    b: &Mat<K, N, i8>,
    q: &TensorQuant,
    y: &mut Mat<M, N, i8>,
) {
    const {
        assert!(
            K <= MAX_ACT_DOT_TERMS,
            "int8 matmul reduction too long for an exact i32 accumulator"
        )
    };
    let (za, zb) = (i32::from(q.a_zp), i32::from(q.b_zp));
    for (a_row, y_row) in a.iter().zip(y.iter_mut()) {
        for (j, o) in y_row.iter_mut().enumerate() {
            let acc: i32 = a_row
                .iter()
                .zip(b)
                .map(|(av, b_row)| (i32::from(*av) - za) * (i32::from(b_row[j]) - zb))
                .sum();
            *o = q.output(acc);
        }
    }
}

/// `y = requant(a · bᵀ)` (rows of `a` against rows of `b`: query–key scores).
pub fn matmul_bt<const M: usize, const K: usize, const N: usize>(
    a: &Mat<M, K, i8>,
    b: &Mat<N, K, i8>,
    q: &TensorQuant,
    y: &mut Mat<M, N, i8>,
) {
    for (a_row, y_row) in a.iter().zip(y.iter_mut()) {
        for (o, b_row) in y_row.iter_mut().zip(b) {
            *o = q.output(dot(a_row, q.a_zp, b_row, q.b_zp));
        }
    }
}

/// `y = requant(aᵀ · b)` (columns of `a` against columns of `b`).
pub fn matmul_at<const K: usize, const M: usize, const N: usize>(
    a: &Mat<K, M, i8>,
    b: &Mat<K, N, i8>,
    q: &TensorQuant,
    y: &mut Mat<M, N, i8>,
) {
    const {
        assert!(
            K <= MAX_ACT_DOT_TERMS,
            "int8 matmul reduction too long for an exact i32 accumulator"
        )
    };
    let (za, zb) = (i32::from(q.a_zp), i32::from(q.b_zp));
    for (i, y_row) in y.iter_mut().enumerate() {
        for (j, o) in y_row.iter_mut().enumerate() {
            let acc: i32 = a
                .iter()
                .zip(b)
                .map(|(a_row, b_row)| (i32::from(a_row[i]) - za) * (i32::from(b_row[j]) - zb))
                .sum();
            *o = q.output(acc);
        }
    }
}
