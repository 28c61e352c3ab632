//! Int8 2-D convolution (stride, padding, dilation, groups) and depthwise convolution with
//! per-output-channel requantization.
//!
//! The arithmetic is TFLite's `reference_integer_ops::ConvPerChannel` /
//! `DepthwiseConvPerChannel`: `acc = Σ w · (x − zp_in)` in `i32` over the taps inside the
//! image, `+ bias[co]`, requantized by `M[co] = s_in · s_w[co] / s_out`
//! ([`PerChannelQuant`]), `+ zp_out`, clamped to the fused activation range. Padding stands for
//! the real value 0, i.e. the input zero point, so a tap outside the image contributes
//! `w · (zp_in − zp_in) = 0` and is skipped — exactly "pad with `zp_in`".
//!
//! The accumulation is exact (the reduction length is checked against
//! [`MAX_WEIGHT_DOT_TERMS`] at compile time) and the only rounding is the requantization:
//! the result is within 1 LSB of "dequantize → f64 conv → quantize" and equal to it except
//! near rounding ties, where TFLite's double rounding (see [`super::quant`]) can step across
//! (≈ 0.1 % of outputs in the tests).
//!
//! Weights use PyTorch's layout `[CO][CI/G][K][K]` like the f32 [`crate::ops::Conv2d`]; each
//! output row is accumulated in a `WO`-long `i32` buffer on the stack (1 KiB at `WO = 256`),
//! with the valid output columns of each kernel column computed once per call (`K` entries).

use super::quant::{PerChannelQuant, MAX_WEIGHT_DOT_TERMS};
use crate::ops::conv_geometry::{valid_outputs, Geometry};
use crate::tensor::{ConvWeight, Flat, Map};

/// The SIMD path of the fast convolution kernel in this build: `"avx512-vnni"` when compiled
/// with AVX-512 VNNI and VL enabled on x86_64 (`-C target-cpu=native` on such a CPU), else
/// `"avx2"` with AVX2 enabled (`-C target-cpu=native` / `-C target-feature=+avx2`), else
/// `"neon"` on aarch64 with NEON (every aarch64 Linux target), else `"portable"` (see
/// `int8::conv_fast` (private)'s module documentation).
pub const SIMD_PATH: &str = if cfg!(all(
    target_arch = "x86_64",
    target_feature = "avx512vnni",
    target_feature = "avx512vl"
)) {
    "avx512-vnni"
} else if cfg!(all(target_arch = "x86_64", target_feature = "avx2")) {
    "avx2"
} else if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
    "neon"
} else {
    "portable"
};

/// An int8 convolution's geometry: stride `S`, padding `P` (with the input zero point),
/// dilation `D`, groups `G` — the int8 twin of [`crate::ops::Conv2d`].
///
/// ```
/// use hepaseg_core::int8::{Clamp, Conv2dQ, PerChannelQuant, Requant};
/// use hepaseg_core::tensor::Map;
/// // 1×1 conv, one channel, weight 2, multiplier ½: y = round(2·(x − zp_in) · ½) + zp_out.
/// let x: Map<1, 2, 2, i8> = [[[10, 11], [12, 13]]];
/// let w = [[[[2i8]]]];
/// let half = Requant::new(1 << 30, 0);
/// let q = PerChannelQuant {
///     input_zp: 10, output_zp: -5,
///     multiplier: &[half.multiplier], shift: &[half.shift],
///     bias: None, clamp: Clamp::NONE,
/// };
/// let mut y: Map<1, 2, 2, i8> = [[[0; 2]; 2]];
/// Conv2dQ::<1, 0>::forward(&x, &w, &q, &mut y);
/// assert_eq!(y, [[[-5, -4], [-3, -2]]]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Conv2dQ<const S: usize, const P: usize, const D: usize = 1, const G: usize = 1>;

impl<const S: usize, const P: usize, const D: usize, const G: usize> Conv2dQ<S, P, D, G> {
    /// The geometry of a checked convolution whose reduction fits an exact `i32` sum.
    const fn checked<
        const CI: usize,
        const H: usize,
        const W: usize,
        const CO: usize,
        const CIG: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >() -> Geometry {
        assert!(
            CIG * K * K <= MAX_WEIGHT_DOT_TERMS,
            "int8 conv reduction too long for an exact i32 accumulator"
        );
        Geometry::checked((S, P, D, G), (CI, H, W), (CO, HO, WO), CIG, K)
    }

    /// `y = requant(conv(x − zp_in, w) + bias)`. `CIG` (input channels per group) is read off
    /// the weight type.
    pub fn forward<
        const CI: usize,
        const H: usize,
        const W: usize,
        const CO: usize,
        const CIG: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >(
        x: &Map<CI, H, W, i8>,
        w: &ConvWeight<CO, CIG, K, i8>,
        q: &PerChannelQuant<'_, CO>,
        y: &mut Map<CO, HO, WO, i8>,
    ) {
        let geom = const { Self::checked::<CI, H, W, CO, CIG, K, HO, WO>() };
        let mut cols = [(0, 0, 0); K];
        super::conv_fast::conv(&geom, x.flat(), w.flat(), q, &mut cols, y.flat_mut());
    }

    /// The same convolution on the reference kernel (direct, one output row at a time, in
    /// plain scalar Rust). [`Self::forward`] runs the fast kernel (`int8::conv_fast` (private)),
    /// which gives the same bits; this one is what the tests compare it with.
    pub fn forward_reference<
        const CI: usize,
        const H: usize,
        const W: usize,
        const CO: usize,
        const CIG: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >(
        x: &Map<CI, H, W, i8>,
        w: &ConvWeight<CO, CIG, K, i8>,
        q: &PerChannelQuant<'_, CO>,
        y: &mut Map<CO, HO, WO, i8>,
    ) {
        let geom = const { Self::checked::<CI, H, W, CO, CIG, K, HO, WO>() };
        let mut acc = [0i32; WO];
        let mut cols = [(0, 0, 0); K];
        conv_kernel(
            &geom,
            x.flat(),
            w.flat(),
            q,
            Output::Scalar,
            &mut acc,
            &mut cols,
            y.flat_mut(),
        );
    }
}

/// Int8 depthwise convolution (`groups == channels`), stride `S`, padding `P` (with the input
/// zero point), dilation `D` — TFLite's `DepthwiseConvPerChannel` with depth multiplier 1.
#[derive(Debug, Clone, Copy, Default)]
pub struct DepthwiseConv2dQ<const S: usize, const P: usize, const D: usize = 1>;

impl<const S: usize, const P: usize, const D: usize> DepthwiseConv2dQ<S, P, D> {
    /// `y[c] = requant((x[c] − zp_in) ⋆ w[c] + bias[c])`.
    pub fn forward<
        const C: usize,
        const H: usize,
        const W: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >(
        x: &Map<C, H, W, i8>,
        w: &ConvWeight<C, 1, K, i8>,
        q: &PerChannelQuant<'_, C>,
        y: &mut Map<C, HO, WO, i8>,
    ) {
        Self::run(x, w, q, y, Output::Vector);
    }

    /// [`Self::forward`] with the scalar output stage (what the tests compare the vectorised
    /// one with).
    pub fn forward_reference<
        const C: usize,
        const H: usize,
        const W: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >(
        x: &Map<C, H, W, i8>,
        w: &ConvWeight<C, 1, K, i8>,
        q: &PerChannelQuant<'_, C>,
        y: &mut Map<C, HO, WO, i8>,
    ) {
        Self::run(x, w, q, y, Output::Scalar);
    }

    fn run<
        const C: usize,
        const H: usize,
        const W: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >(
        x: &Map<C, H, W, i8>,
        w: &ConvWeight<C, 1, K, i8>,
        q: &PerChannelQuant<'_, C>,
        y: &mut Map<C, HO, WO, i8>,
        stage: Output,
    ) {
        let geom = const {
            assert!(
                K * K <= MAX_WEIGHT_DOT_TERMS,
                "int8 conv reduction too long for an exact i32 accumulator"
            );
            Geometry::checked((S, P, D, C), (C, H, W), (C, HO, WO), 1, K)
        };
        let mut acc = [0i32; WO];
        let mut cols = [(0, 0, 0); K];
        conv_kernel(
            &geom,
            x.flat(),
            w.flat(),
            q,
            stage,
            &mut acc,
            &mut cols,
            y.flat_mut(),
        );
    }
}

/// The output stage of [`conv_kernel`]: one [`PerChannelQuant::output`] per value (the
/// reference), or eight lanes at a time with the fast convolution's AVX2 stage where it is
/// exactly that (`requant_avx2`; AVX2 builds only, scalar otherwise). The depthwise
/// convolution's requantization cost more than its nine multiply-adds per output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Scalar,
    Vector,
}

/// Writes one output row of channel `co` from the exact sums `acc` of `r_len`-term
/// reductions (see [`Output`]).
#[inline]
#[cfg_attr(
    not(all(target_arch = "x86_64", target_feature = "avx2")),
    allow(unused_variables)
)]
fn write_row<const CO: usize>(
    q: &PerChannelQuant<'_, CO>,
    co: usize,
    acc: &[i32],
    r_len: usize,
    stage: Output,
    out: &mut [i8],
) {
    let n = out.len().min(acc.len());
    let (acc, out) = (&acc[..n], &mut out[..n]);
    #[allow(unused_mut)]
    let mut done = 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    if stage == Output::Vector {
        // |w · (x − zp_in)| ≤ 128 · 255 per term.
        let bound = 128 * 255 * r_len as i64;
        if let Some(rq) = super::requant_avx2::RowQuant::new(q, co, 0, bound) {
            for (ys, a) in out.chunks_exact_mut(8).zip(acc.chunks_exact(8)) {
                let a: [i32; 8] = core::array::from_fn(|j| a[j]);
                // Outputs are clamped into the int8 range: the narrowing is exact.
                for (y, v) in ys.iter_mut().zip(rq.apply(a)) {
                    *y = v as i8;
                }
            }
            done = n / 8 * 8;
        }
    }
    for (o, a) in out[done..].iter_mut().zip(&acc[done..]) {
        *o = q.output(co, *a);
    }
}

/// Direct convolution over flat slices, one output row at a time into `acc` (`wo` long).
/// Shapes were checked at compile time by the caller, so every index below is in bounds.
#[allow(clippy::too_many_arguments)]
fn conv_kernel<const CO: usize>(
    g: &Geometry,
    x: &[i8],
    w: &[i8],
    q: &PerChannelQuant<'_, CO>,
    stage: Output,
    acc: &mut [i32],
    cols: &mut [(usize, usize, usize)],
    y: &mut [i8],
) {
    let cig = g.ci / g.groups;
    let cog = g.co / g.groups;
    let zp = i32::from(q.input_zp);
    let (kk, plane_in, plane_out) = (g.k * g.k, g.h * g.w, g.ho * g.wo);
    // Per kernel column: the valid output columns and the first input column they read.
    for (kw, c) in cols.iter_mut().enumerate() {
        let tap_w = kw * g.dilation;
        let (ow0, ow1) = valid_outputs(g.wo, g.w, g.stride, tap_w, g.pad);
        let iw0 = if ow0 < ow1 {
            ow0 * g.stride + tap_w - g.pad
        } else {
            0
        };
        *c = (ow0, ow1, iw0);
    }
    for co in 0..g.co {
        let group = co / cog;
        let out = &mut y[co * plane_out..(co + 1) * plane_out];
        for (oh, row_out) in out.chunks_exact_mut(g.wo).enumerate() {
            acc.fill(0);
            for cl in 0..cig {
                let ci = group * cig + cl;
                let inp = &x[ci * plane_in..(ci + 1) * plane_in];
                let wk = &w[(co * cig + cl) * kk..(co * cig + cl + 1) * kk];
                for kh in 0..g.k {
                    // Input row of this tap; rows in the padding contribute nothing.
                    let ih = oh * g.stride + kh * g.dilation;
                    if ih < g.pad || ih >= g.h + g.pad {
                        continue;
                    }
                    let row_in = &inp[(ih - g.pad) * g.w..(ih - g.pad + 1) * g.w];
                    for (&(ow0, ow1, iw0), wv) in cols.iter().zip(&wk[kh * g.k..(kh + 1) * g.k]) {
                        if ow0 == ow1 {
                            continue;
                        }
                        let wv = i32::from(*wv);
                        if g.stride == 1 {
                            let n = ow1 - ow0;
                            for (a, v) in acc[ow0..ow1].iter_mut().zip(&row_in[iw0..iw0 + n]) {
                                *a += wv * (i32::from(*v) - zp);
                            }
                        } else {
                            for (j, a) in acc[ow0..ow1].iter_mut().enumerate() {
                                *a += wv * (i32::from(row_in[iw0 + j * g.stride]) - zp);
                            }
                        }
                    }
                }
            }
            write_row(q, co, acc, cig * kk, stage, row_out);
        }
    }
}
