//! Global and adaptive pooling with PyTorch's bins: bin `i` of `out` over `in` spans
//! `[floor(i·in/out), ceil((i+1)·in/out))` (bins may overlap).
//!
//! Both adaptive poolings are separable over a rectangular bin (the mean of a rectangle is
//! the mean of its row means; the maximum is the maximum of row maxima), so each is done one
//! axis at a time:
//! * average: the fixed `out × in` averaging matrix of each axis through
//!   [`super::resize::separable`] (the same two matmuls as bilinear resampling);
//! * maximum: one `gather` per axis collects every bin's elements, each bin padded to the
//!   widest with a `−∞` slot appended to the input (so padding never wins and receives no
//!   gradient), followed by `max` over the bin. dfdx's `max` backward sends the gradient to
//!   *every* element equal to the maximum, where PyTorch picks one; this only differs on exact
//!   ties (in these networks: several zeros after a ReLU, whose gradient the ReLU drops).

use super::cache::{IndexKey, MatrixKey};
use super::resize::separable;
use super::{dev_err, Map, NnError, ParamStore, Real};
use dfdx::shapes::{Axes2, Axes3, Axis, HasShape};
use dfdx::tensor::{Tape, Tensor};
use dfdx::tensor_ops::{Device, GatherTo, MaxTo, MeanTo, PermuteTo, ReshapeTo, TryConcatAlong};
pub use hepaseg_core::ops::pool_bin;

fn check(
    layer: &str,
    shape: (usize, usize, usize, usize),
    out: (usize, usize),
) -> Result<(), NnError> {
    let (n, c, h, w) = shape;
    if n * c == 0 || out.0 == 0 || out.1 == 0 || out.0 > h || out.1 > w {
        return Err(NnError::shape(
            layer,
            format!("a non-empty map of at least {}×{}", out.0, out.1),
            &[n, c, h, w],
        ));
    }
    Ok(())
}

/// The `out × in` averaging matrix of one axis.
pub fn avg_matrix(input: usize, output: usize) -> Vec<f64> {
    let mut m = vec![0.0; output * input];
    for i in 0..output {
        let (a, b) = pool_bin(i, input, output);
        for v in &mut m[i * input + a..i * input + b] {
            *v = 1.0 / (b - a) as f64;
        }
    }
    m
}

/// Gather indices of one axis: `out` bins of `width` slots each; slots past a bin's end point
/// at index `input` (the appended `−∞`).
pub fn max_indices(input: usize, output: usize) -> (Vec<usize>, usize) {
    let width = (0..output)
        .map(|i| {
            let (a, b) = pool_bin(i, input, output);
            b - a
        })
        .max()
        .unwrap_or(1);
    let mut idx = Vec::with_capacity(output * width);
    for i in 0..output {
        let (a, b) = pool_bin(i, input, output);
        idx.extend(a..b);
        idx.extend(std::iter::repeat_n(input, width - (b - a)));
    }
    (idx, width)
}

/// Adaptive average pooling to `out = (HO, WO)` bins.
pub fn adaptive_avg_pool<E: Real, D: Device<E>, T: Tape<E, D>>(
    store: &ParamStore<E, D>,
    x: Map<E, D, T>,
    out: (usize, usize),
) -> Result<Map<E, D, T>, NnError> {
    let (_, _, h, w) = *x.shape();
    check("adaptive_avg_pool", *x.shape(), out)?;
    let (dev, cache) = (store.device(), store.cache());
    let mh = cache.matrix(
        dev,
        MatrixKey::AvgBins {
            input: h,
            output: out.0,
        },
        (out.0, h),
        || avg_matrix(h, out.0),
    )?;
    let mw = cache.matrix(
        dev,
        MatrixKey::AvgBins {
            input: w,
            output: out.1,
        },
        (out.1, w),
        || avg_matrix(w, out.1),
    )?;
    separable(x, mh, mw)
}

/// Max over bins along axis 0 of `rows` (`input × rest`) → `output × rest`.
fn max_axis0<E: Real, D: Device<E>, T: Tape<E, D>>(
    store: &ParamStore<E, D>,
    rows: Tensor<(usize, usize), E, D, T>,
    output: usize,
) -> Result<Tensor<(usize, usize), E, D, T>, NnError> {
    let (input, rest) = *rows.shape();
    let dev = store.device();
    let (_, width) = max_indices(input, output);
    let idx = store
        .cache()
        .index(dev, IndexKey::MaxBins { input, output }, || {
            max_indices(input, output).0
        })?;
    let pad = dev
        .try_tensor_from_vec(vec![E::of_f64(f64::NEG_INFINITY); rest], (1usize, rest))
        .map_err(dev_err)?;
    let padded = (rows, pad).try_concat_along(Axis::<0>).map_err(dev_err)?;
    let bins: Tensor<(usize, usize), E, D, T> = padded.try_gather(idx).map_err(dev_err)?;
    bins.try_reshape_like(&(output, width, rest))
        .map_err(dev_err)?
        .try_max::<(usize, usize), Axis<1>>()
        .map_err(dev_err)
}

/// Adaptive max pooling to `out = (HO, WO)` bins.
pub fn adaptive_max_pool<E: Real, D: Device<E>, T: Tape<E, D>>(
    store: &ParamStore<E, D>,
    x: Map<E, D, T>,
    out: (usize, usize),
) -> Result<Map<E, D, T>, NnError> {
    let shape = *x.shape();
    check("adaptive_max_pool", shape, out)?;
    let (n, c, h, w) = shape;
    let (ho, wo) = out;
    // along W: (W × N·C·H) → (WO × N·C·H)
    let cols = x
        .try_reshape_like(&(n * c * h, w))
        .map_err(dev_err)?
        .try_permute::<_, Axes2<1, 0>>()
        .map_err(dev_err)?;
    let t = max_axis0(store, cols, wo)?; // (wo, n·c, h)
                                         // along H: (H × WO·N·C) → (HO × WO·N·C)
    let rows = t
        .try_reshape_like(&(wo, n * c, h))
        .map_err(dev_err)?
        .try_permute::<_, Axes3<2, 0, 1>>()
        .map_err(dev_err)?
        .try_reshape_like(&(h, wo * n * c))
        .map_err(dev_err)?;
    let t = max_axis0(store, rows, ho)?; // (ho, wo, n·c)
    t.try_reshape_like(&(ho * wo, n * c))
        .map_err(dev_err)?
        .try_permute::<_, Axes2<1, 0>>()
        .map_err(dev_err)?
        .try_reshape_like(&(n, c, ho, wo))
        .map_err(dev_err)
}

/// Global average pooling, `N × C × H × W → N × C × 1 × 1`.
pub fn global_avg_pool<E: Real, D: Device<E>, T: Tape<E, D>>(
    x: Map<E, D, T>,
) -> Result<Map<E, D, T>, NnError> {
    let (n, c, h, w) = *x.shape();
    if n * c * h * w == 0 {
        return Err(NnError::shape(
            "global_avg_pool",
            "a non-empty map",
            &[n, c, h, w],
        ));
    }
    x.try_mean::<(usize, usize), Axes2<2, 3>>()
        .map_err(dev_err)?
        .try_reshape_like(&(n, c, 1usize, 1usize))
        .map_err(dev_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_match_the_spec() {
        // SPEC §5: 32 → 10
        let bins: Vec<_> = (0..10).map(|i| pool_bin(i, 32, 10)).collect();
        assert_eq!(bins[0], (0, 4));
        assert_eq!(bins[5], (16, 20));
        let (idx, width) = max_indices(5, 3);
        // 5 → 3: (0,2) (1,4) (3,5); widest 3
        assert_eq!(width, 3);
        assert_eq!(idx, [0, 1, 5, 1, 2, 3, 3, 4, 5]);
        let m = avg_matrix(5, 3);
        let third = 1.0 / 3.0;
        assert_eq!(&m[5..10], &[0.0, third, third, third, 0.0]);
    }
}
