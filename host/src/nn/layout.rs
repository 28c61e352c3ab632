//! Layout changes: map ↔ tokens, and crops, channel ranges, splits and concatenation whose
//! gradients are right.
//!
//! **Do not use dfdx's `slice` on a tensor that has other consumers.** In dfdx 0.13 its CPU
//! backward *assigns* the slice's gradient into the input's gradient (`=` instead of `+=`;
//! the CUDA kernel adds), so a tensor that is both sliced and used elsewhere (an AGCB input:
//! patches *and* the residual) silently loses gradient on the CPU. The crops and splits here
//! use `gather`/`select`, whose backward accumulates on every device (a test pins the dfdx
//! behaviour, so a fixed dfdx is noticed).

use super::{dev_err, Map, NnError, ParamStore, Real, Tokens};
use dfdx::shapes::{Axes2, Axes3, Axes4, Axis, HasShape};
use dfdx::tensor::{Tape, Tensor};
use dfdx::tensor_ops::{Device, GatherTo, PermuteTo, ReshapeTo, SelectTo, TryConcatAlong};
use std::ops::Range;

/// `N × C × H × W → N × (H·W) × C` (row-major pixels, as core's `map_to_tokens`).
pub fn map_to_tokens<E: Real, D: Device<E>, T: Tape<E, D>>(
    x: Map<E, D, T>,
) -> Result<Tokens<E, D, T>, NnError> {
    let (n, c, h, w) = *x.shape();
    x.try_reshape_like(&(n, c, h * w))
        .map_err(dev_err)?
        .try_permute::<_, Axes3<0, 2, 1>>()
        .map_err(dev_err)?
        .try_contiguous()
        .map_err(dev_err)
}

/// `N × (H·W) × C → N × C × H × W`.
pub fn tokens_to_map<E: Real, D: Device<E>, T: Tape<E, D>>(
    t: Tokens<E, D, T>,
    h: usize,
    w: usize,
) -> Result<Map<E, D, T>, NnError> {
    let (n, l, c) = *t.shape();
    if l != h * w {
        return Err(NnError::shape(
            "tokens_to_map",
            format!("N×{}×C tokens for a {h}×{w} map", h * w),
            &[n, l, c],
        ));
    }
    t.try_permute::<_, Axes3<0, 2, 1>>()
        .map_err(dev_err)?
        .try_reshape_like(&(n, c, h, w))
        .map_err(dev_err)
}

fn index_tensor<E: Real, D: Device<E>>(
    store: &ParamStore<E, D>,
    idx: Vec<usize>,
) -> Result<Tensor<(usize,), usize, D>, NnError> {
    let n = idx.len();
    store
        .device()
        .try_tensor_from_vec(idx, (n,))
        .map_err(dev_err)
}

/// Channels `range` of `x` (a copy; gradients accumulate into `x`).
pub fn narrow_channels<E: Real, D: Device<E>, T: Tape<E, D>>(
    store: &ParamStore<E, D>,
    x: Map<E, D, T>,
    range: Range<usize>,
) -> Result<Map<E, D, T>, NnError> {
    let (n, c, h, w) = *x.shape();
    if range.start >= range.end || range.end > c {
        return Err(NnError::shape(
            "narrow_channels",
            format!("at least {} channels for {range:?}", range.end),
            &[n, c, h, w],
        ));
    }
    let idx = index_tensor(store, range.collect())?;
    let picked: Map<E, D, T> = x
        .try_permute::<_, Axes4<1, 0, 2, 3>>()
        .map_err(dev_err)?
        .try_gather(idx)
        .map_err(dev_err)?;
    picked
        .try_permute::<_, Axes4<1, 0, 2, 3>>()
        .map_err(dev_err)?
        .try_contiguous()
        .map_err(dev_err)
}

/// The `rows × cols` window of every map (AGCB patches; a copy, gradients accumulate).
pub fn crop<E: Real, D: Device<E>, T: Tape<E, D>>(
    store: &ParamStore<E, D>,
    x: Map<E, D, T>,
    rows: Range<usize>,
    cols: Range<usize>,
) -> Result<Map<E, D, T>, NnError> {
    let (n, c, h, w) = *x.shape();
    if rows.start >= rows.end || rows.end > h || cols.start >= cols.end || cols.end > w {
        return Err(NnError::shape(
            "crop",
            format!("a map containing rows {rows:?} and columns {cols:?}"),
            &[n, c, h, w],
        ));
    }
    let (ph, pw) = (rows.len(), cols.len());
    let idx: Vec<usize> = rows
        .flat_map(|r| cols.clone().map(move |q| r * w + q))
        .collect();
    let idx = index_tensor(store, idx)?;
    let picked: Tensor<(usize, usize), E, D, T> = x
        .try_reshape_like(&(n * c, h * w))
        .map_err(dev_err)?
        .try_permute::<_, Axes2<1, 0>>()
        .map_err(dev_err)?
        .try_gather(idx)
        .map_err(dev_err)?;
    picked
        .try_permute::<_, Axes2<1, 0>>()
        .map_err(dev_err)?
        .try_reshape_like(&(n, c, ph, pw))
        .map_err(dev_err)
}

/// Two token tensors (the halves of a split).
pub type Halves<E, D, T> = (Tokens<E, D, T>, Tokens<E, D, T>);

/// Splits the last axis of `t` (`N × L × 2D`) into its halves `(N × L × D, N × L × D)` — the
/// keys and values of a `kv` projection. Both halves must reach the loss: the second one
/// carries the input's tape.
pub fn split_halves<E: Real, D: Device<E>, T: Tape<E, D>>(
    store: &ParamStore<E, D>,
    t: Tokens<E, D, T>,
) -> Result<Halves<E, D, T>, NnError> {
    let (n, l, d2) = *t.shape();
    if d2 == 0 || d2 % 2 != 0 {
        return Err(NnError::shape("split_halves", "N×L×2D", &[n, l, d2]));
    }
    let d = d2 / 2;
    let parts = t
        .try_reshape_like(&(n, l, 2usize, d))
        .map_err(dev_err)?
        .try_permute::<_, Axes4<2, 0, 1, 3>>()
        .map_err(dev_err)?;
    let dev = store.device();
    let i0 = dev.try_tensor_from_vec(vec![0usize], ()).map_err(dev_err)?;
    let i1 = dev.try_tensor_from_vec(vec![1usize], ()).map_err(dev_err)?;
    // the first half records on a fresh tape, the second keeps the input's tape; both end up
    // in the same graph when the caller combines them
    let first = parts.retaped::<T>().try_select(i0).map_err(dev_err)?;
    let second = parts.try_select(i1).map_err(dev_err)?;
    Ok((first, second))
}

/// `concat` along channels: `N × C₁ × H × W` and `N × C₂ × H × W` → `N × (C₁+C₂) × H × W`.
pub fn concat_channels<E, D, T, R>(
    a: Map<E, D, T>,
    b: Map<E, D, R>,
) -> Result<Map<E, D, T>, NnError>
where
    E: Real,
    D: Device<E>,
    T: Tape<E, D> + dfdx::tensor::Merge<R>,
    R: Tape<E, D>,
{
    let (sa, sb) = (*a.shape(), *b.shape());
    if (sa.0, sa.2, sa.3) != (sb.0, sb.2, sb.3) {
        return Err(NnError::shape(
            "concat_channels",
            format!("N×C×H×W matching {sa:?} except channels"),
            &[sb.0, sb.1, sb.2, sb.3],
        ));
    }
    (a, b).try_concat_along(Axis::<1>).map_err(dev_err)
}
