//! Spatial-reduction multi-head attention (PVT-v2's `Attention`), computed one query at a time.
//!
//! On `N = H·W` (already layer-normed) tokens of `C` features with `HEADS` heads of
//! `d = C / HEADS` features:
//! * q = Linear(C, C)(x);
//! * keys/values come from `x` itself when `SR == 1`, else from
//!   LN(Conv(C, C, k = SR, s = SR, bias)(x as a map)) — `NK = (H/SR)·(W/SR)` tokens;
//! * kv = Linear(C, 2C): the first C outputs are the keys, the next C the values; head `h`
//!   uses features `h·d .. (h+1)·d` of each;
//! * per head, softmax(q kᵀ / √d) v; the heads' outputs side by side go through
//!   proj = Linear(C, C).
//!
//! Each query's scores live in one `NK`-long row: neither an `N × N` nor an `N × NK` matrix
//! is ever materialised. Keys and values (`NK × 2C`) are computed once up front.

use super::unit::conv_macs;
use crate::arena::{f32_bytes, map_bytes, max, Scratch};
use crate::error::Error;
use crate::ops::attention_tiles::{self, TILE};
use crate::ops::{self, Conv2d, LN_EPS};
use crate::param_struct;
use crate::params::{ConvBias, Linear, Ln};
use crate::tensor::{mat_ref, Flat, Mat, Tokens};

param_struct! {
    /// Parameters of an SRA on `C` features (`C2 = 2C`); `REDUCE` (= `SR > 1`) says whether it
    /// has the spatial-reduction convolution and its layer norm.
    pub struct SraParams<'a, const C: usize, const C2: usize, const SR: usize, const REDUCE: bool> {
        q: Linear<'a, C, C>,
        sr: if REDUCE ConvBias<'a, C, C, SR>,
        norm: if REDUCE Ln<'a, C>,
        kv: Linear<'a, C2, C>,
        proj: Linear<'a, C, C>,
    }
}

/// Multiply-accumulates of the attention products of one SRA: `QKᵀ` and `AV`, each
/// `N·NK·C` over all heads.
pub const fn sra_attention_macs(n: usize, nk: usize, c: usize) -> u64 {
    (2 * n * nk * c) as u64
}

/// An SRA over the `H × W` tokens of a map, `HEADS` heads, reduction `SR`; keys/values on an
/// `HK × WK` grid of `NK` tokens (`HK = H/SR`, `WK = W/SR`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sra<
    const C: usize,
    const HEADS: usize,
    const SR: usize,
    const H: usize,
    const W: usize,
    const HK: usize,
    const WK: usize,
    const NK: usize,
>;

impl<
        const C: usize,
        const HEADS: usize,
        const SR: usize,
        const H: usize,
        const W: usize,
        const HK: usize,
        const WK: usize,
        const NK: usize,
    > Sra<C, HEADS, SR, H, W, HK, WK, NK>
{
    /// Whether keys/values come from a spatially reduced map.
    pub const REDUCE: bool = SR > 1;
    /// Keys/values, plus the larger of (the map view, reduced map and reduced tokens when
    /// reducing) and (the keys transposed, and a tile of queries, score rows and attention
    /// outputs).
    pub const SCRATCH_BYTES: usize = f32_bytes(NK * 2 * C)
        + max(
            if SR > 1 {
                map_bytes(C, H, W) + map_bytes(C, HK, WK) + f32_bytes(NK * C)
            } else {
                0
            },
            f32_bytes(TILE * (2 * C + NK) + C * NK),
        );
    /// q, the reduction conv, kv, the attention products and proj.
    pub const MACS: u64 = ((H * W * C * C) as u64)
        + if SR > 1 {
            conv_macs(C, C, SR, HK, WK)
        } else {
            0
        }
        + ((NK * C * 2 * C) as u64)
        + sra_attention_macs(H * W, NK, C)
        + ((H * W * C * C) as u64);

    /// `y = proj(attention(q(x), kv(reduce(x))))` for layer-normed tokens `x`.
    pub fn forward<const C2: usize, const N: usize, const REDUCE: bool>(
        p: &SraParams<'_, C, C2, SR, REDUCE>,
        x: &Tokens<N, C>,
        y: &mut Tokens<N, C>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(C2 == 2 * C, "kv has 2C outputs (keys, then values)");
            assert!(N == H * W, "one token per map pixel");
            assert!(
                HEADS >= 1 && C.is_multiple_of(HEADS),
                "channels must be divisible by the number of heads"
            );
            assert!(SR >= 1, "spatial reduction >= 1");
            assert!(
                REDUCE == (SR > 1),
                "an SRA has a reduction conv exactly when SR > 1"
            );
            assert!(
                HK * SR == H && WK * SR == W,
                "the map must be divisible by the spatial reduction"
            );
            assert!(NK == HK * WK, "NK = (H/SR)·(W/SR)");
        };
        let kv = scratch.take_mat::<NK, C2>()?;
        match (&p.sr, &p.norm) {
            (Some(sr), Some(norm)) => {
                let mut s = scratch.reborrow();
                let map = s.take_map::<C, H, W>()?;
                ops::tokens_to_map(x, map);
                let reduced = s.take_map::<C, HK, WK>()?;
                Conv2d::<SR, 0>::forward(map, sr.weight, Some(sr.bias), reduced);
                let tokens = s.take_mat::<NK, C>()?;
                ops::map_to_tokens(reduced, tokens);
                ops::layer_norm(tokens, norm.weight, norm.bias, LN_EPS);
                ops::linear(tokens, p.kv.weight, Some(p.kv.bias), kv);
            }
            _ => {
                // SR == 1: NK == N, keys/values from the tokens themselves.
                let tokens = mat_ref::<f32, NK, C>(x.flat()).ok_or(Error::PlanOverlap)?;
                ops::linear(tokens, p.kv.weight, Some(p.kv.bias), kv);
            }
        }
        let kv: &Tokens<NK, C2> = kv;
        // Keys transposed (feature-major), so that one query's scores against all keys are a
        // run of vector multiply–adds over the keys, one feature at a time: each score still
        // sums its terms strictly in feature order (`0 + q₀k₀ + q₁k₁ + …`).
        let kt = scratch.take_mat::<C, NK>()?;
        for (k, kvm) in kv.iter().enumerate() {
            for (row, &v) in kt.iter_mut().zip(&kvm[..C]) {
                row[k] = v;
            }
        }
        let q = scratch.take_mat::<TILE, C>()?;
        let out = scratch.take_mat::<TILE, C>()?;
        let scores = scratch.take_mat::<TILE, NK>()?;
        let (xs, x_rest) = x.as_chunks::<TILE>();
        let (ys, y_rest) = y.as_chunks_mut::<TILE>();
        for (xt, yt) in xs.iter().zip(ys) {
            Self::attend(p, xt, yt, kt, kv, q, out, scores);
        }
        // The last N mod TILE queries one at a time (same arithmetic).
        let (q, out, scores) = (
            q.first_chunk_mut::<1>().ok_or(Error::PlanOverlap)?,
            out.first_chunk_mut::<1>().ok_or(Error::PlanOverlap)?,
            scores.first_chunk_mut::<1>().ok_or(Error::PlanOverlap)?,
        );
        for (xn, yn) in x_rest.iter().zip(y_rest) {
            Self::attend(
                p,
                core::array::from_ref(xn),
                core::array::from_mut(yn),
                kt,
                kv,
                q,
                out,
                scores,
            );
        }
        Ok(())
    }

    /// Attention of a tile of `T` (layer-normed) tokens: `y = proj(heads(q(x)))`, with `q`,
    /// `out` and `scores` as workspace.
    #[allow(clippy::too_many_arguments)]
    fn attend<const C2: usize, const T: usize, const REDUCE: bool>(
        p: &SraParams<'_, C, C2, SR, REDUCE>,
        x: &[[f32; C]; T],
        y: &mut [[f32; C]; T],
        kt: &Mat<C, NK>,
        kv: &Tokens<NK, C2>,
        q: &mut [[f32; C]; T],
        out: &mut [[f32; C]; T],
        scores: &mut [[f32; NK]; T],
    ) {
        let d = C / HEADS;
        // PyTorch multiplies the f32 scores by the Python float head_dim ** -0.5.
        let scale = (1.0 / libm::sqrt(d as f64)) as f32;
        ops::linear(x, p.q.weight, Some(p.q.bias), q);
        for h in 0..HEADS {
            let heads = h * d..(h + 1) * d;
            attention_tiles::scores(q, heads.clone(), kt, scores);
            for row in scores.iter_mut() {
                for s in row.iter_mut() {
                    *s *= scale;
                }
                ops::softmax_in_place(row);
            }
            attention_tiles::weighted_values(scores, kv, C + h * d..C + (h + 1) * d, h * d, out);
        }
        ops::linear(out, p.proj.weight, Some(p.proj.bias), y);
    }
}
