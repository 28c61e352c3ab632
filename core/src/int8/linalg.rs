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
    let dot = |x_row: &[i8; DI], w_row: &[i8; DI]| -> i32 {
        x_row
            .iter()
            .zip(w_row)
            .map(|(xv, wv)| i32::from(*wv) * (i32::from(*xv) - zp))
            .sum()
    };
    // With AVX-512 VNNI, the whole blocks of eight features through the register tiles of
    // `linear_vnni` (same sums, same output stage); the rest below.
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx512vnni",
        target_feature = "avx512vl"
    ))]
    let done = if DI.is_multiple_of(4) {
        linear_quads(x, w, q, y)
    } else {
        0
    };
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx512vnni",
        target_feature = "avx512vl"
    )))]
    let done = 0;
    // Blocks of eight output features, all tokens per block: with AVX2 the block's output
    // stage runs eight lanes at once (one channel per lane, `RowQuant::lanes`) where that is
    // exactly `PerChannelQuant::output` for all eight; the same sums either way.
    for first in (done..DO).step_by(8) {
        let block = first..DO.min(first + 8);
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
        if block.len() == 8 {
            // |w · (x − zp)| ≤ 128 · 255 per term.
            let bound = 128 * 255 * DI as i64;
            if let Some(rq) = super::requant_avx2::RowQuant::lanes(q, first, bound) {
                let rows = &w[block.clone()];
                for (x_row, y_row) in x.iter().zip(y.iter_mut()) {
                    let acc: [i32; 8] = core::array::from_fn(|k| dot(x_row, &rows[k]));
                    // Outputs are clamped into the int8 range: the narrowing is exact.
                    for (o, v) in y_row[block.clone()].iter_mut().zip(rq.apply(acc)) {
                        *o = v as i8;
                    }
                }
                continue;
            }
        }
        for (x_row, y_row) in x.iter().zip(y.iter_mut()) {
            for j in block.clone() {
                y_row[j] = q.output(j, dot(x_row, &w[j]));
            }
        }
    }
}

/// [`linear`]'s whole blocks of eight features through `linear_vnni`'s tiles of four tokens
/// (`DI` a multiple of 4); returns how many features it wrote (`DO` rounded down to 8).
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx512vnni",
    target_feature = "avx512vl"
))]
fn linear_quads<const N: usize, const DI: usize, const DO: usize>(
    x: &Tokens<N, DI, i8>,
    w: &Mat<DO, DI, i8>,
    q: &PerChannelQuant<'_, DO>,
    y: &mut Tokens<N, DO, i8>,
) -> usize {
    use super::linear_vnni::{pack, tile, TT};
    let nq = DI / 4;
    let full = DO / 8 * 8;
    // |w · (x − zp)| ≤ 128 · 255 per term.
    let bound = 128 * 255 * DI as i64;
    let mut wq = [[0i32; 8]; DI];
    for first in (0..full).step_by(8) {
        let rows = &w[first..first + 8];
        pack(bytemuck::cast_slice(rows.as_flattened()), nq, &mut wq);
        let offsets: [i32; 8] =
            core::array::from_fn(|o| super::conv_tiles::offset(q.input_zp, &rows[o]));
        let stage = super::requant_avx2::RowQuant::lanes(q, first, bound);
        for (xs, ys) in x.chunks(TT).zip(y.chunks_mut(TT)) {
            // A last tile of fewer tokens repeats its last one (results not written).
            let quads: [&[[i8; 4]]; TT] =
                core::array::from_fn(|t| bytemuck::cast_slice(&xs[t.min(xs.len() - 1)][..]));
            for (y_row, acc) in ys.iter_mut().zip(tile(quads, &wq[..nq])) {
                // The exact sums (see `linear_vnni`): the subtraction does not wrap.
                let acc: [i32; 8] = core::array::from_fn(|o| acc[o].wrapping_sub(offsets[o]));
                let out = &mut y_row[first..first + 8];
                match &stage {
                    // Outputs are clamped into the int8 range: the narrowing is exact.
                    Some(stage) => {
                        for (o, v) in out.iter_mut().zip(stage.apply(acc)) {
                            *o = v as i8;
                        }
                    }
                    None => {
                        for (j, (o, a)) in out.iter_mut().zip(acc).enumerate() {
                            *o = q.output(first + j, a);
                        }
                    }
                }
            }
        }
    }
    full
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

/// Columns `first..` of `kv` transposed and offset: `out[j·NK + m] = kv[m][first + j] − z`,
/// as many rows as `out` holds (and `kv` has columns). The attention transposes its keys
/// (columns `0..C`) for [`head_scores`] and its values (`C..2C`) for [`weighted_values`], so
/// that both products run along contiguous rows of `NK` keys.
pub fn transpose_columns<const NK: usize, const C2: usize>(
    kv: &Mat<NK, C2, i8>,
    first: usize,
    z: i8,
    out: &mut [i16],
) {
    if NK == 0 {
        return;
    }
    for (j, row) in (first..C2).zip(out.chunks_exact_mut(NK)) {
        for (t, kvm) in row.iter_mut().zip(kv) {
            *t = i16::from(kvm[j]) - i16::from(z);
        }
    }
}

/// Keys per register block of [`head_scores`] (one 512-bit or two 256-bit `i32` vectors).
const KB: usize = 16;

/// One query against every key of one head: `acc[m] = Σ_j (q[j] − zq) · kt[j][m]`, where `kt`
/// holds the head's `q.len()` rows of `acc.len()` keys from [`transpose_columns`] (missing rows
/// count as 0). Blocks of [`KB`] keys accumulate in registers over all the query's terms. The
/// same integer sum as [`dot_slices`] over the key's row (an exact sum does not depend on its
/// order) for `q.len() ≤ MAX_ACT_DOT_TERMS`, which the caller guarantees at compile time;
/// beyond that the sum wraps instead of saturating.
#[inline]
pub fn head_scores(q: &[i8], zq: i8, kt: &[i16], acc: &mut [i32]) {
    let nk = acc.len();
    let zq = i32::from(zq);
    for (b, out) in acc.chunks_mut(KB).enumerate() {
        let mut a = [0i32; KB];
        let rows = kt.chunks_exact(nk).take(q.len()).map(|r| &r[b * KB..]);
        for (qv, row) in q.iter().zip(rows) {
            let qv = i32::from(*qv) - zq;
            match <&[i16; KB]>::try_from(row.get(..KB).unwrap_or(row)) {
                Ok(k) => {
                    for (x, kv) in a.iter_mut().zip(k) {
                        *x = x.wrapping_add(qv * i32::from(*kv));
                    }
                }
                Err(_) => {
                    for (x, kv) in a.iter_mut().zip(row) {
                        *x = x.wrapping_add(qv * i32::from(*kv));
                    }
                }
            }
        }
        out.copy_from_slice(&a[..out.len()]);
    }
}

/// The attention-weighted sums of one head: `acc[j] = Σ_m vt[j][m] · w[m]` for the head's
/// rows `vt[j] = v[·][j] − zv` of [`transpose_columns`] (`w.len()` keys each; missing rows
/// leave 0) and the weights `w[m] = p[m] + 128` of the softmax outputs `p` (zero point −128):
/// contiguous `i16` dot products. Exact in `i32` when `w.len() ≤ MAX_ACT_DOT_TERMS` (every
/// term is at most 255·256 in magnitude), which the caller guarantees at compile time.
#[inline]
pub fn weighted_values(w: &[i16], vt: &[i16], acc: &mut [i32]) {
    acc.fill(0);
    if w.is_empty() {
        return;
    }
    for (a, row) in acc.iter_mut().zip(vt.chunks_exact(w.len())) {
        *a = row.iter().zip(w).fold(0i32, |s, (v, p)| {
            s.wrapping_add(i32::from(*v) * i32::from(*p))
        });
    }
}

/// `out[i] = q.output(acc[i])` over the common length: eight lanes at a time with the
/// convolution's AVX2 output stage where it is exactly [`TensorQuant::output`] (see
/// `requant_avx2`: no bias, so it accepts any accumulator; it refuses a multiplier ≥ 1 or
/// `i32::MIN`), one at a time otherwise — the attention scores' requantization.
pub fn tensor_outputs(q: &TensorQuant, acc: &[i32], out: &mut [i8]) {
    let n = acc.len().min(out.len());
    let (acc, out) = (&acc[..n], &mut out[..n]);
    #[allow(unused_mut)]
    let mut done = 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        let pq = PerChannelQuant {
            input_zp: 0,
            output_zp: q.output_zp,
            multiplier: &[q.requant.multiplier],
            shift: &[q.requant.shift],
            bias: None,
            clamp: q.clamp,
        };
        if let Some(stage) = super::requant_avx2::RowQuant::new(&pq, 0, 0, 0) {
            for (a, o) in acc.chunks_exact(8).zip(out.chunks_exact_mut(8)) {
                let a: [i32; 8] = core::array::from_fn(|j| a[j]);
                // Outputs are clamped into the int8 range: the narrowing is exact.
                for (o, v) in o.iter_mut().zip(stage.apply(a)) {
                    *o = v as i8;
                }
            }
            done = n / 8 * 8;
        }
    }
    for (o, a) in out[done..].iter_mut().zip(&acc[done..]) {
        *o = q.output(*a);
    }
}

/// The keys of one attention (columns `0..c` of `kv`, `heads` heads of `d = c / heads`
/// columns) laid out once for every query's [`HeadKeys::scores`], in the caller's `buf` of
/// `⌈c·NK / 2⌉` `i32` (the room [`transpose_columns`] needs):
///
/// * with AVX-512 VNNI and `d` a multiple of 4: quad rows of unsigned key bytes
///   (`scores_vnni.rs`) and, per head and key, `init[m] = −zq · Σ_j k_mj`; a query's scores
///   are then `Σ_j (k_mj + 128)·q_j + init[m] + c_q` with `c_q = −(128 + zk)·Σ_j q_j +
///   d·zq·zk`, which is `Σ_j (q_j − zq)(k_mj − zk)` expanded (exact: every step is an
///   integer identity, wrapping additions of terms whose true sum is an `i32`);
/// * otherwise the `i16` rows of [`transpose_columns`] and [`head_scores`].
///
/// Either way the same integer score as [`dot_slices`] over the key's row.
#[derive(Debug)]
pub struct HeadKeys<'s> {
    buf: &'s [i32],
    nk: usize,
    d: usize,
    zq: i8,
    /// Where the quad layout is in use: `c` and `zk` (the `i16` rows hold `k − zk`).
    #[cfg_attr(
        not(all(
            target_arch = "x86_64",
            target_feature = "avx512vnni",
            target_feature = "avx512vl"
        )),
        allow(dead_code)
    )]
    quads: Option<(usize, i8)>,
}

impl<'s> HeadKeys<'s> {
    /// Lays out the keys (columns `0..c`, zero point `zk`) for queries at `zq`.
    pub fn new<const NK: usize, const C2: usize>(
        kv: &Mat<NK, C2, i8>,
        c: usize,
        heads: usize,
        (zq, zk): (i8, i8),
        buf: &'s mut [i32],
    ) -> Self {
        let d = c / heads.max(1);
        let quads = cfg!(all(
            target_arch = "x86_64",
            target_feature = "avx512vnni",
            target_feature = "avx512vl"
        )) && d.is_multiple_of(4)
            && d > 0
            && c <= C2
            && c / 4 * NK + heads * NK <= buf.len();
        if quads {
            let (u, init) = buf.split_at_mut(c / 4 * NK);
            for (k, row) in u.chunks_exact_mut(NK.max(1)).enumerate() {
                for (v, key) in row.iter_mut().zip(kv) {
                    let b: [u8; 4] = core::array::from_fn(|i| key[4 * k + i] as u8 ^ 0x80);
                    *v = i32::from_le_bytes(b);
                }
            }
            for (h, row) in init.chunks_exact_mut(NK.max(1)).take(heads).enumerate() {
                for (v, key) in row.iter_mut().zip(kv) {
                    let s: i32 = key[h * d..(h + 1) * d].iter().map(|&x| i32::from(x)).sum();
                    *v = (-i32::from(zq)).wrapping_mul(s);
                }
            }
        } else {
            transpose_columns(kv, 0, zk, bytemuck::cast_slice_mut(buf));
        }
        Self {
            buf,
            nk: NK,
            d,
            zq,
            quads: quads.then_some((c, zk)),
        }
    }

    /// `acc[m] = Σ_j (q[j] − zq)(k_mj − zk)` over head `h`'s `d` columns for every key `m`
    /// (`q` the query's `d` values of the head, `acc` one per key).
    #[inline]
    pub fn scores(&self, h: usize, q: &[i8], acc: &mut [i32]) {
        let (nk, d) = (self.nk, self.d);
        #[cfg(all(
            target_arch = "x86_64",
            target_feature = "avx512vnni",
            target_feature = "avx512vl"
        ))]
        if let Some((c, zk)) = self.quads {
            let (zq, zk) = (i32::from(self.zq), i32::from(zk));
            let sq: i32 = q.iter().map(|&v| i32::from(v)).sum();
            let cq = (-(128 + zk))
                .wrapping_mul(sq)
                .wrapping_add((d as i32).wrapping_mul(zq).wrapping_mul(zk));
            let (u, init) = self.buf.split_at(self.buf.len().min(c / 4 * nk));
            let u = u.get(h * d / 4 * nk..).unwrap_or(&[]);
            let init = init.get(h * nk..(h + 1) * nk).unwrap_or(&[]);
            let q: &[[i8; 4]] = bytemuck::cast_slice(&q[..q.len() / 4 * 4]);
            super::scores_vnni::scores(&q[..q.len().min(d / 4)], u, init, cq, acc);
            return;
        }
        let kt: &[i16] = bytemuck::cast_slice(self.buf);
        head_scores(q, self.zq, kt.get(h * d * nk..).unwrap_or(&[]), acc);
    }
}
