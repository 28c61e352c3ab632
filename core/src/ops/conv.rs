//! 2-D convolution (stride, padding, dilation, groups, optional bias) and depthwise convolution.
//!
//! Weights use PyTorch's layout `[CO][CI/G][K][K]`, so host checkpoints load without
//! reordering. The reference kernel accumulates each output pixel from its bias over
//! (input channel, kernel row, kernel column) in that order — a fixed order, so results are
//! bit-reproducible for a given build.

use crate::ops::conv_geometry::{valid_outputs, Geometry};
use crate::tensor::{ConvWeight, Flat, Map};

/// Output length of a convolution along one axis: `(input + 2p − d(k−1) − 1) / s + 1`.
///
/// Usable in `const` items, so networks can name their level sizes with it.
pub const fn conv_out(input: usize, k: usize, s: usize, p: usize, d: usize) -> usize {
    (input + 2 * p - d * (k - 1) - 1) / s + 1
}

/// A convolution's geometry: stride `S`, zero padding `P`, dilation `D`, groups `G`.
///
/// ```
/// use hepaseg_core::{ops::Conv2d, tensor::Map};
/// // 3×3, stride 2, pad 1: 8×8 → 4×4. A `Map<4, 5, 4>` output would not build.
/// let x: Map<2, 8, 8> = [[[1.0; 8]; 8]; 2];
/// let w = [[[[0.5f32; 3]; 3]; 2]; 4];
/// let mut y: Map<4, 4, 4> = [[[0.0; 4]; 4]; 4];
/// Conv2d::<2, 1>::forward(&x, &w, None, &mut y);
/// assert_eq!(y[0][1][1], 9.0); // 2 channels × 9 taps × 0.5, all inside the image
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Conv2d<const S: usize, const P: usize, const D: usize = 1, const G: usize = 1>;

impl<const S: usize, const P: usize, const D: usize, const G: usize> Conv2d<S, P, D, G> {
    /// `y = conv(x, w) + bias`. `CIG` (input channels per group) is read off the weight type.
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
        x: &Map<CI, H, W>,
        w: &ConvWeight<CO, CIG, K>,
        bias: Option<&[f32; CO]>,
        y: &mut Map<CO, HO, WO>,
    ) {
        let geom = const { Geometry::checked((S, P, D, G), (CI, H, W), (CO, HO, WO), CIG, K) };
        // Depthwise convolutions stay on the direct kernel (see `conv_fast::applies`).
        let kernel = if super::conv_fast::applies(&geom) {
            super::conv_fast::conv
        } else {
            conv_kernel
        };
        kernel(
            &geom,
            x.flat(),
            w.flat(),
            bias.map(|b| &b[..]),
            y.flat_mut(),
        );
    }

    /// The same convolution on the reference kernel (direct, one output channel at a time, in
    /// plain scalar Rust). [`Self::forward`] runs the fast kernel (`ops::conv_fast`
    /// (private)): bit-identical to this one in a portable build, within float rounding in an
    /// FMA build (see [`FAST_PATH`]); this one is what the tests compare it with.
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
        x: &Map<CI, H, W>,
        w: &ConvWeight<CO, CIG, K>,
        bias: Option<&[f32; CO]>,
        y: &mut Map<CO, HO, WO>,
    ) {
        conv_kernel(
            &const { Geometry::checked((S, P, D, G), (CI, H, W), (CO, HO, WO), CIG, K) },
            x.flat(),
            w.flat(),
            bias.map(|b| &b[..]),
            y.flat_mut(),
        );
    }
}

/// The micro-kernel of the fast f32 convolution in this build: `"avx2+fma"` (one rounding per
/// term: results within float rounding of the reference kernel) when compiled with AVX2 and
/// FMA on x86_64, else `"portable"` (bit-identical to the reference kernel).
pub const FAST_PATH: &str = if cfg!(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
)) {
    "avx2+fma"
} else {
    "portable"
};

/// Depthwise convolution (one filter per channel, `groups == channels`), stride `S`, padding
/// `P`, dilation `D`. Used by the Mix-FFN of the transformer branch.
#[derive(Debug, Clone, Copy, Default)]
pub struct DepthwiseConv2d<const S: usize, const P: usize, const D: usize = 1>;

impl<const S: usize, const P: usize, const D: usize> DepthwiseConv2d<S, P, D> {
    /// `y[c] = x[c] ⋆ w[c] + bias[c]`.
    pub fn forward<
        const C: usize,
        const H: usize,
        const W: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >(
        x: &Map<C, H, W>,
        w: &ConvWeight<C, 1, K>,
        bias: Option<&[f32; C]>,
        y: &mut Map<C, HO, WO>,
    ) {
        let geom = const { Geometry::checked((S, P, D, C), (C, H, W), (C, HO, WO), 1, K) };
        conv_kernel(
            &geom,
            x.flat(),
            w.flat(),
            bias.map(|b| &b[..]),
            y.flat_mut(),
        );
    }
}

/// Direct convolution over flat slices. Shapes were checked at compile time by the caller.
fn conv_kernel(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    let cig = g.ci / g.groups;
    let cog = g.co / g.groups;
    let (kk, plane_in, plane_out) = (g.k * g.k, g.h * g.w, g.ho * g.wo);
    for co in 0..g.co {
        let group = co / cog;
        let out = &mut y[co * plane_out..(co + 1) * plane_out];
        out.fill(bias.map_or(0.0, |b| b[co]));
        for cl in 0..cig {
            let ci = group * cig + cl;
            let inp = &x[ci * plane_in..(ci + 1) * plane_in];
            let wk = &w[(co * cig + cl) * kk..(co * cig + cl + 1) * kk];
            for kh in 0..g.k {
                let tap_h = kh * g.dilation;
                let (oh0, oh1) = valid_outputs(g.ho, g.h, g.stride, tap_h, g.pad);
                for kw in 0..g.k {
                    let tap_w = kw * g.dilation;
                    let (ow0, ow1) = valid_outputs(g.wo, g.w, g.stride, tap_w, g.pad);
                    if ow0 == ow1 {
                        continue;
                    }
                    let wv = wk[kh * g.k + kw];
                    for oh in oh0..oh1 {
                        let ih = oh * g.stride + tap_h - g.pad;
                        let row_in = &inp[ih * g.w..(ih + 1) * g.w];
                        let row_out = &mut out[oh * g.wo..(oh + 1) * g.wo];
                        // first input column used by output column ow0
                        let iw0 = ow0 * g.stride + tap_w - g.pad;
                        if g.stride == 1 {
                            let n = ow1 - ow0;
                            for (o, i) in row_out[ow0..ow1].iter_mut().zip(&row_in[iw0..iw0 + n]) {
                                *o += wv * *i;
                            }
                        } else {
                            for (j, o) in row_out[ow0..ow1].iter_mut().enumerate() {
                                *o += wv * row_in[iw0 + j * g.stride];
                            }
                        }
                    }
                }
            }
        }
    }
}
