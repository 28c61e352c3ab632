//! The run-time geometry of a convolution, shared by the f32 and int8 kernels.
//!
//! The typed wrappers check every shape relation at compile time and then describe the
//! convolution with a [`Geometry`]; both kernels iterate only over the output positions whose
//! input taps are inside the image ([`valid_outputs`]), so padding costs no branches in the
//! inner loops.

use super::conv::conv_out;

/// Run-time description of a convolution, already validated by a typed wrapper.
pub(crate) struct Geometry {
    pub(crate) ci: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) co: usize,
    pub(crate) groups: usize,
    pub(crate) k: usize,
    pub(crate) stride: usize,
    pub(crate) pad: usize,
    pub(crate) dilation: usize,
    pub(crate) ho: usize,
    pub(crate) wo: usize,
}

impl Geometry {
    /// The geometry of stride `s`, padding `p`, dilation `d`, `g` groups, `ci × h × w` in,
    /// `co × ho × wo` out, `cig` input channels per group, `k × k` kernel — after asserting every
    /// shape relation. The typed wrappers (f32 and int8, dense and depthwise) call it in a
    /// `const` block, so a wrong wiring is a build error with the failed relation's message.
    #[allow(clippy::too_many_arguments)]
    pub(crate) const fn checked(
        (s, p, d, g): (usize, usize, usize, usize),
        (ci, h, w): (usize, usize, usize),
        (co, ho, wo): (usize, usize, usize),
        cig: usize,
        k: usize,
    ) -> Geometry {
        assert!(
            s >= 1 && d >= 1 && g >= 1 && k >= 1,
            "stride, dilation, groups, kernel >= 1"
        );
        assert!(
            cig * g == ci,
            "weight's input channels x groups must equal the map's channels"
        );
        assert!(
            co.is_multiple_of(g),
            "output channels must be divisible by groups"
        );
        assert!(
            h + 2 * p > d * (k - 1),
            "kernel (dilated) larger than the padded height"
        );
        assert!(
            w + 2 * p > d * (k - 1),
            "kernel (dilated) larger than the padded width"
        );
        assert!(
            ho == conv_out(h, k, s, p, d),
            "conv output height must be (H + 2P - D(K-1) - 1)/S + 1"
        );
        assert!(
            wo == conv_out(w, k, s, p, d),
            "conv output width must be (W + 2P - D(K-1) - 1)/S + 1"
        );
        Geometry {
            ci,
            h,
            w,
            co,
            groups: g,
            k,
            stride: s,
            pad: p,
            dilation: d,
            ho,
            wo,
        }
    }
}

/// Output positions `o` in `0..out` whose input index `o·s + tap − pad` lies in `0..input`.
pub(crate) fn valid_outputs(
    out: usize,
    input: usize,
    s: usize,
    tap: usize,
    pad: usize,
) -> (usize, usize) {
    // o·s + tap ≥ pad  ⇔  o ≥ ceil((pad − tap)/s)
    let lo = if pad > tap {
        (pad - tap).div_ceil(s)
    } else {
        0
    };
    // o·s + tap − pad ≤ input − 1  ⇔  o ≤ (input − 1 + pad − tap)/s
    let hi = if input + pad > tap {
        ((input - 1 + pad - tap) / s + 1).min(out)
    } else {
        0
    };
    (lo, hi.max(lo))
}
