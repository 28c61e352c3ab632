//! im2col: the unfold step of every k×k convolution, as a differentiable op.
//!
//! A convolution is `W[CO, CI·k²] × cols[CI·k², HO·WO·N]`; dfdx's `matmul` does the product on
//! every device, and this module builds `cols` (and, backward, scatters its gradient back:
//! col2im). Column `(oh·WO + ow)·N + n` holds output pixel `(oh, ow)` of sample `n` — the batch
//! is the fastest index, so the unfold pattern does not depend on the batch size.
//!
//! Two implementations of the same op (see [`super::backend::Backend`]):
//! * [`unfold_gather`] — dfdx ops only, so it runs on every device (it is what CUDA uses).
//!   The input `N × C × H × W` is viewed as `(C·H·W) × N` (a lazy permute), one zero row is
//!   appended (padding taps point at it, so no padded copy of the input exists), and one
//!   `gather` with a cached index tensor gives `(C·k²·HO·WO) × N` = `cols` without a further
//!   copy. Its backward is dfdx's scatter-add, i.e. exactly col2im. One gather instead of k²
//!   `slice` + `matmul` pairs (strided slices would copy anyway), and the matmul sees the
//!   whole problem at once. dfdx's CPU gather costs ≈ 4 ns per element through its generic
//!   n-d indexing, which made it 80 % of a CPU convolution.
//! * [`unfold_cpu`] — the same op as a custom CPU kernel on dfdx's public tape API: with the
//!   batch fastest, every valid run of output columns is one `copy_from_slice` of the
//!   transposed input (and one add-loop backward), ≈ 10× faster than the gather.

use super::cache::IndexKey;
use super::{dev_err, Map, NnError, ParamStore, Real};
use dfdx::shapes::{Axes2, Axis, HasShape};
use dfdx::tensor::{Cpu, PutTape, SplitTape, Storage, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::{Device, GatherTo, PermuteTo, ReshapeTo, TryConcatAlong};
use std::ops::DerefMut;

/// What an unfold depends on: the input's per-sample shape and the kernel geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    /// Input channels.
    pub channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Square kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
    /// Dilation.
    pub dilation: usize,
}

/// `(input + 2p − d(k−1) − 1)/s + 1`, or `None` when the dilated kernel does not fit.
pub fn conv_out(input: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let span = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
    let padded = input.checked_add(p.checked_mul(2)?)?;
    if s == 0 || padded < span {
        return None;
    }
    Some((padded - span) / s + 1)
}

impl ConvGeometry {
    /// Output height and width, or `None` when the kernel does not fit or a size is zero.
    pub fn output(&self) -> Option<(usize, usize)> {
        if self.channels == 0 || self.height == 0 || self.width == 0 || self.kernel == 0 {
            return None;
        }
        if self.dilation == 0 {
            return None;
        }
        let ho = conv_out(
            self.height,
            self.kernel,
            self.stride,
            self.padding,
            self.dilation,
        )?;
        let wo = conv_out(
            self.width,
            self.kernel,
            self.stride,
            self.padding,
            self.dilation,
        )?;
        Some((ho, wo))
    }

    /// Gather indices into the flattened `C·H·W` input plus one zero slot (index `C·H·W`),
    /// ordered `(c, kh, kw, oh, ow)`. Empty when [`Self::output`] is `None`.
    pub fn indices(&self) -> Vec<usize> {
        let Some((ho, wo)) = self.output() else {
            return Vec::new();
        };
        let (h, w, k) = (self.height, self.width, self.kernel);
        let zero = self.channels * h * w;
        let mut idx = Vec::with_capacity(self.channels * k * k * ho * wo);
        for c in 0..self.channels {
            for kh in 0..k {
                for kw in 0..k {
                    for oh in 0..ho {
                        // input row = oh·s + kh·d − p, outside [0, h) reads the zero slot
                        let ih = (oh * self.stride + kh * self.dilation).checked_sub(self.padding);
                        for ow in 0..wo {
                            let iw =
                                (ow * self.stride + kw * self.dilation).checked_sub(self.padding);
                            idx.push(match (ih, iw) {
                                (Some(ih), Some(iw)) if ih < h && iw < w => (c * h + ih) * w + iw,
                                _ => zero,
                            });
                        }
                    }
                }
            }
        }
        idx
    }
}

/// Checks `x`'s shape against `g`; returns `(N, HO, WO)`.
fn check(shape: [usize; 4], g: &ConvGeometry) -> Result<(usize, usize, usize), NnError> {
    let [n, c, h, w] = shape;
    if (c, h, w) != (g.channels, g.height, g.width) || n == 0 {
        return Err(NnError::shape(
            "unfold",
            format!("N×{}×{}×{} with N ≥ 1", g.channels, g.height, g.width),
            &shape,
        ));
    }
    match g.output() {
        Some((ho, wo)) => Ok((n, ho, wo)),
        None => Err(NnError::shape(
            "unfold",
            format!("an input the dilated {0}×{0} kernel fits", g.kernel),
            &shape,
        )),
    }
}

/// Unfolds `x` (`N × C × H × W`, matching `g`) into the column matrix
/// `(C·k²) × (HO·WO·N)` with dfdx's `gather` (any device). Differentiable in `x`.
pub fn unfold_gather<E: Real, D: Device<E>, T: Tape<E, D>>(
    store: &ParamStore<E, D>,
    x: Map<E, D, T>,
    g: &ConvGeometry,
) -> Result<Tensor<(usize, usize), E, D, T>, NnError> {
    let (n, c, h, w) = *x.shape();
    let (_, ho, wo) = check([n, c, h, w], g)?;
    let dev = store.device().clone();
    let idx = store
        .cache()
        .index(&dev, IndexKey::Unfold(*g), || g.indices())?;
    let plane = c * h * w;
    let rows = x
        .try_reshape_like(&(n, plane))
        .map_err(dev_err)?
        .try_permute::<(usize, usize), Axes2<1, 0>>()
        .map_err(dev_err)?;
    let zero_row = dev.try_zeros_like(&(1usize, n)).map_err(dev_err)?;
    let padded = (rows, zero_row)
        .try_concat_along(Axis::<0>)
        .map_err(dev_err)?;
    let k2 = g.kernel * g.kernel;
    let cols: Tensor<(usize, usize), E, D, T> = padded.try_gather(idx).map_err(dev_err)?;
    cols.try_reshape_like(&(c * k2, ho * wo * n))
        .map_err(dev_err)
}

/// Output positions `o` in `0..out` whose input index `o·s + tap − pad` lies in `0..input`.
fn valid_outputs(out: usize, input: usize, s: usize, tap: usize, pad: usize) -> (usize, usize) {
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
    let lo = lo.min(out);
    (lo, hi.max(lo))
}

/// For each valid run of one unfold row: `(first output column, first input pixel, count)`;
/// within a run, output column `j` reads input pixel `first + j·stride`.
fn runs(
    g: &ConvGeometry,
    ho: usize,
    wo: usize,
    kh: usize,
    kw: usize,
) -> Vec<(usize, usize, usize)> {
    let (tap_h, tap_w) = (kh * g.dilation, kw * g.dilation);
    let (oh0, oh1) = valid_outputs(ho, g.height, g.stride, tap_h, g.padding);
    let (ow0, ow1) = valid_outputs(wo, g.width, g.stride, tap_w, g.padding);
    if ow0 >= ow1 {
        return Vec::new();
    }
    (oh0..oh1)
        .map(|oh| {
            let ih = oh * g.stride + tap_h - g.padding;
            let iw = ow0 * g.stride + tap_w - g.padding;
            (oh * wo + ow0, ih * g.width + iw, ow1 - ow0)
        })
        .collect()
}

/// The same op as [`unfold_gather`] as a custom CPU kernel (see the module docs).
pub fn unfold_cpu<E: Real, T: Tape<E, Cpu>>(
    x: Map<E, Cpu, T>,
    g: &ConvGeometry,
) -> Result<Tensor<(usize, usize), E, Cpu, T>, NnError>
where
    Cpu: Device<E>,
    <Cpu as Storage<E>>::Vec: DerefMut<Target = Vec<E>>,
{
    let (n, c, h, w) = *x.shape();
    let (_, ho, wo) = check([n, c, h, w], g)?;
    let geom = *g;
    let (plane, hw, k2) = (c * h * w, h * w, g.kernel * g.kernel);
    let (rows, width) = (c * k2, ho * wo * n);
    // contiguous, so the gradient buffer's layout is the logical one
    let x = x.try_contiguous().map_err(dev_err)?;
    let (x, mut tape) = x.split_tape();
    let data = x.as_vec();
    // transpose to (C·H·W) × N: the batch of one input pixel is contiguous
    let mut xt = vec![E::default(); plane * n];
    for (b, sample) in data.chunks_exact(plane).enumerate() {
        for (p, v) in sample.iter().enumerate() {
            xt[p * n + b] = *v;
        }
    }
    let mut cols = vec![E::default(); rows * width];
    let s = g.stride;
    for (r, row) in cols.chunks_exact_mut(width).enumerate() {
        let (ch, kh, kw) = (r / k2, r % k2 / g.kernel, r % g.kernel);
        let src = &xt[ch * hw * n..(ch + 1) * hw * n];
        for (o, i, count) in runs(g, ho, wo, kh, kw) {
            if s == 1 {
                row[o * n..(o + count) * n].copy_from_slice(&src[i * n..(i + count) * n]);
            } else {
                for j in 0..count {
                    let (oo, ii) = ((o + j) * n, (i + j * s) * n);
                    row[oo..oo + n].copy_from_slice(&src[ii..ii + n]);
                }
            }
        }
    }
    let dev = x.device().clone();
    let out = dev
        .try_tensor_from_vec(cols, (rows, width))
        .map_err(dev_err)?;
    let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
    drop(x);
    tape.add_backward_op(move |grads| {
        // Borrow the output gradient by moving it out (and back below): copying it would
        // cost a k²-times-the-input allocation per convolution.
        let go = std::mem::take(grads.get_or_alloc_mut(&out_ghost)?.deref_mut());
        // col2im into the transposed layout, then transpose back while accumulating
        let mut gxt = vec![E::default(); plane * n];
        for (r, row) in go.chunks_exact(width).enumerate() {
            let (ch, kh, kw) = (r / k2, r % k2 / geom.kernel, r % geom.kernel);
            let dst = &mut gxt[ch * hw * n..(ch + 1) * hw * n];
            for (o, i, count) in runs(&geom, ho, wo, kh, kw) {
                for j in 0..count {
                    let (oo, ii) = ((o + j) * n, (i + j * geom.stride) * n);
                    for (d, v) in dst[ii..ii + n].iter_mut().zip(&row[oo..oo + n]) {
                        *d += *v;
                    }
                }
            }
        }
        let gx = grads.get_or_alloc_mut(&x_ghost)?.deref_mut();
        for (b, sample) in gx.chunks_exact_mut(plane).enumerate() {
            for (p, v) in sample.iter_mut().enumerate() {
                *v += gxt[p * n + b];
            }
        }
        *grads.get_or_alloc_mut(&out_ghost)?.deref_mut() = go;
        Ok(())
    });
    Ok(out.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_pytorch() {
        assert_eq!(conv_out(8, 3, 2, 1, 1), Some(4));
        assert_eq!(conv_out(64, 7, 1, 3, 1), Some(64));
        assert_eq!(conv_out(8, 3, 1, 6, 6), Some(8));
        assert_eq!(conv_out(2, 3, 1, 0, 1), None);
        assert_eq!(conv_out(5, 3, 0, 0, 1), None);
    }

    #[test]
    fn indices_point_padding_at_the_zero_slot() {
        let g = ConvGeometry {
            channels: 1,
            height: 2,
            width: 2,
            kernel: 3,
            stride: 1,
            padding: 1,
            dilation: 1,
        };
        let idx = g.indices();
        assert_eq!(idx.len(), 9 * 4);
        // tap (1, 1) is the identity
        assert_eq!(&idx[4 * 4..5 * 4], &[0, 1, 2, 3]);
        // tap (0, 0) only reaches pixel 0 from output (1, 1)
        assert_eq!(&idx[0..4], &[4, 4, 4, 0]);
    }
}
