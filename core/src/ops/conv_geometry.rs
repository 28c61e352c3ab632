//! The run-time geometry of a convolution, shared by the f32 and int8 kernels.
//!
//! The typed wrappers check every shape relation at compile time and then describe the
//! convolution with a [`Geometry`]; both kernels iterate only over the output positions whose
//! input taps are inside the image ([`valid_outputs`]), so padding costs no branches in the
//! inner loops.

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
