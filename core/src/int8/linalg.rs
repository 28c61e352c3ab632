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

/// Keys of every attention head, transposed and offset for [`head_scores`]: `kt[j·NK + m] =
/// k[m][j] − zk` for the first `C2 / 2` columns of `kv` (the keys; the values follow), so that
/// one query's scores against all keys are `NK`-wide vector steps instead of `NK` short dot
/// products. `kt` must hold `C2 / 2 · NK` values (fewer: only the first rows are written).
pub fn transpose_keys<const NK: usize, const C2: usize>(
    kv: &Mat<NK, C2, i8>,
    zk: i8,
    kt: &mut [i16],
) {
    if NK == 0 {
        return;
    }
    for (j, row) in kt.chunks_exact_mut(NK).take(C2 / 2).enumerate() {
        for (t, kvm) in row.iter_mut().zip(kv) {
            *t = i16::from(kvm[j]) - i16::from(zk);
        }
    }
}

/// One query against every key of one head: `acc[m] = Σ_j (q[j] − zq) · kt[j][m]`, where `kt`
/// holds the head's `q.len()` rows of `acc.len()` keys from [`transpose_keys`] (missing rows
/// count as 0). The same integer sum as [`dot_slices`] over the key's row (an exact sum does
/// not depend on its order) for `q.len() ≤ MAX_ACT_DOT_TERMS`, which the caller guarantees at
/// compile time; beyond that the sum wraps instead of saturating.
#[inline]
pub fn head_scores(q: &[i8], zq: i8, kt: &[i16], acc: &mut [i32]) {
    acc.fill(0);
    let nk = acc.len();
    if nk == 0 {
        return;
    }
    let zq = i32::from(zq);
    let term = |v: &i8| i32::from(*v) - zq;
    // Four query terms per pass over the accumulators (a quarter of the loads and stores).
    let quads = q.chunks_exact(4).zip(kt.chunks_exact(4 * nk));
    for (q4, k4) in quads {
        let (qa, qb, qc, qd) = (term(&q4[0]), term(&q4[1]), term(&q4[2]), term(&q4[3]));
        let (ka, rest) = k4.split_at(nk);
        let (kb, rest) = rest.split_at(nk);
        let (kc, kd) = rest.split_at(nk);
        for m in 0..nk {
            let s = (qa * i32::from(ka[m]))
                .wrapping_add(qb * i32::from(kb[m]))
                .wrapping_add(qc * i32::from(kc[m]))
                .wrapping_add(qd * i32::from(kd[m]));
            acc[m] = acc[m].wrapping_add(s);
        }
    }
    let done = q.len() / 4 * 4;
    for (qv, k) in q[done..]
        .iter()
        .zip(kt.get(done * nk..).unwrap_or(&[]).chunks_exact(nk))
    {
        let qv = term(qv);
        for (a, kv) in acc.iter_mut().zip(k) {
            *a = a.wrapping_add(qv * i32::from(*kv));
        }
    }
}

/// The attention-weighted sum of one head's values: `acc[j] = Σ_m (v[m][j] − zv) · (p[m] +
/// 128)` with `v[m] = kv[m][cols]` (softmax outputs `p`, zero point −128), key by key so each
/// step is one row slice. Exact in `i32` for `NK ≤ MAX_ACT_DOT_TERMS` (checked at compile
/// time); `acc` takes the first `cols.len()` sums.
#[inline]
pub fn weighted_values<const NK: usize, const C2: usize>(
    p: &[i8],
    kv: &Mat<NK, C2, i8>,
    cols: core::ops::Range<usize>,
    zv: i8,
    acc: &mut [i32],
) {
    const {
        assert!(
            NK <= MAX_ACT_DOT_TERMS,
            "too many keys for an exact i32 attention sum"
        )
    };
    acc.fill(0);
    let zv = i32::from(zv);
    for (pm, row) in p.iter().zip(kv) {
        let w = i32::from(*pm) + 128;
        if let Some(v) = row.get(cols.clone()) {
            for (a, x) in acc.iter_mut().zip(v) {
                *a += (i32::from(*x) - zv) * w;
            }
        }
    }
}
