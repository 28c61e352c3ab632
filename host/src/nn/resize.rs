//! Bilinear resampling to a given size with PyTorch's `align_corners` True *and* False, and
//! the separable matrix product it shares with adaptive average pooling.
//!
//! dfdx's `upscale2d` with `Bilinear` is no substitute: it implements only the
//! `align_corners = True` mapping (and divides by zero for a 1-pixel output), while CAFCT-Net's
//! decoder needs `False`. Bilinear resampling is separable and linear, so it is two matrix
//! products with fixed `out × in` interpolation matrices — `x · Mwᵀ` along rows, then `Mh`
//! along columns. Matmul is fast and differentiable on every device, the weights are exactly
//! PyTorch's (computed in `f32` with the same source-index formula as core and ATen), and the
//! matrices are cached per size.

use super::cache::MatrixKey;
use super::{dev_err, Map, NnError, ParamStore, Real};
use dfdx::shapes::{Axes2, Axes3, HasShape};
use dfdx::tensor::{Tape, Tensor};
use dfdx::tensor_ops::{Device, PermuteTo, ReshapeTo, TryMatMul};
pub use hepaseg_core::ops::AlignCorners;

/// Source index pair and the weight of the second one for output `dst` along one axis, in
/// `f32` exactly as core (and PyTorch's CPU kernel) compute it.
pub fn source_index(
    dst: usize,
    input: usize,
    output: usize,
    mode: AlignCorners,
) -> (usize, usize, f32) {
    let src = match mode {
        AlignCorners::True => {
            if output > 1 {
                ((input - 1) as f32 / (output - 1) as f32) * dst as f32
            } else {
                0.0
            }
        }
        AlignCorners::False => {
            let s = (input as f32 / output as f32) * (dst as f32 + 0.5) - 0.5;
            s.max(0.0)
        }
    };
    let i0 = (src as usize).min(input - 1);
    let i1 = if i0 + 1 < input { i0 + 1 } else { i0 };
    (i0, i1, src - i0 as f32)
}

/// The `output × input` interpolation matrix of one axis (row-major).
pub fn bilinear_matrix(input: usize, output: usize, mode: AlignCorners) -> Vec<f64> {
    let mut m = vec![0.0; output * input];
    for dst in 0..output {
        let (i0, i1, frac) = source_index(dst, input, output, mode);
        m[dst * input + i0] += f64::from(1.0 - frac);
        m[dst * input + i1] += f64::from(frac);
    }
    m
}

/// `y[n, c] = Mh · x[n, c] · Mwᵀ` for an `N × C × H × W` map, `Mh: HO × H`, `Mw: WO × W`.
pub fn separable<E: Real, D: Device<E>, T: Tape<E, D>>(
    x: Map<E, D, T>,
    mh: Tensor<(usize, usize), E, D>,
    mw: Tensor<(usize, usize), E, D>,
) -> Result<Map<E, D, T>, NnError> {
    let (n, c, h, w) = *x.shape();
    let (ho, h2) = *mh.shape();
    let (wo, w2) = *mw.shape();
    if h2 != h || w2 != w {
        return Err(NnError::shape(
            "separable",
            format!("N×C×{h2}×{w2}"),
            &[n, c, h, w],
        ));
    }
    let mwt = mw.try_permute::<_, Axes2<1, 0>>().map_err(dev_err)?;
    let mht = mh.try_permute::<_, Axes2<1, 0>>().map_err(dev_err)?;
    // along rows: (N·C·H × W)·(W × WO)
    let t = x
        .try_reshape_like(&(n * c * h, w))
        .map_err(dev_err)?
        .try_matmul(mwt)
        .map_err(dev_err)?;
    // along columns: (N·C × WO × H)·(H × HO)
    let t = t
        .try_reshape_like(&(n * c, h, wo))
        .map_err(dev_err)?
        .try_permute::<_, Axes3<0, 2, 1>>()
        .map_err(dev_err)?
        .try_matmul(mht)
        .map_err(dev_err)?;
    t.try_permute::<_, Axes3<0, 2, 1>>()
        .map_err(dev_err)?
        .try_reshape_like(&(n, c, ho, wo))
        .map_err(dev_err)
}

/// Resamples every map of `x` to `size = (HO, WO)` bilinearly (PyTorch
/// `F.interpolate(mode="bilinear", align_corners=…)` with an explicit size).
pub fn resize_bilinear<E: Real, D: Device<E>, T: Tape<E, D>>(
    store: &ParamStore<E, D>,
    x: Map<E, D, T>,
    size: (usize, usize),
    mode: AlignCorners,
) -> Result<Map<E, D, T>, NnError> {
    let (n, c, h, w) = *x.shape();
    let (ho, wo) = size;
    if n * c * h * w == 0 || ho == 0 || wo == 0 {
        return Err(NnError::shape(
            "resize_bilinear",
            format!("a non-empty map (to {ho}×{wo})"),
            &[n, c, h, w],
        ));
    }
    let align_corners = mode == AlignCorners::True;
    let dev = store.device();
    let cache = store.cache();
    let mh = cache.matrix(
        dev,
        MatrixKey::Bilinear {
            input: h,
            output: ho,
            align_corners,
        },
        (ho, h),
        || bilinear_matrix(h, ho, mode),
    )?;
    let mw = cache.matrix(
        dev,
        MatrixKey::Bilinear {
            input: w,
            output: wo,
            align_corners,
        },
        (wo, w),
        || bilinear_matrix(w, wo, mode),
    )?;
    separable(x, mh, mw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_match_pytorch() {
        // F.interpolate(arange(4), size=8, mode="linear", align_corners=False) weights
        let m = bilinear_matrix(4, 8, AlignCorners::False);
        assert_eq!(&m[0..4], &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(&m[4..8], &[0.75, 0.25, 0.0, 0.0]);
        assert_eq!(&m[28..32], &[0.0, 0.0, 0.0, 1.0]);
        // align_corners=True, 3 → 5: src = 0, .5, 1, 1.5, 2
        let m = bilinear_matrix(3, 5, AlignCorners::True);
        assert_eq!(&m[3..6], &[0.5, 0.5, 0.0]);
        assert_eq!(&m[12..15], &[0.0, 0.0, 1.0]);
        // one output pixel: align_corners=True reads the first input
        assert_eq!(bilinear_matrix(3, 1, AlignCorners::True), [1.0, 0.0, 0.0]);
        for mode in [AlignCorners::True, AlignCorners::False] {
            for (i, o) in [(5, 3), (7, 16), (16, 7), (1, 4)] {
                let m = bilinear_matrix(i, o, mode);
                for row in m.chunks(i) {
                    assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-6);
                }
            }
        }
    }
}
