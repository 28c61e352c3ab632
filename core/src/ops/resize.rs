//! Bilinear resampling to a given size, with PyTorch's two `align_corners` conventions.

use crate::tensor::Map;

/// How output pixel centres map onto the input (PyTorch's `align_corners`).
///
/// The two are not interchangeable: AGCAF-Net upsamples with `True`, CAFCT-Net's decoder
/// with `False`, and the host trains with the same choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlignCorners {
    /// `align_corners=True`: corner pixels of input and output coincide;
    /// `src = dst · (in − 1)/(out − 1)`.
    True,
    /// `align_corners=False`: pixel areas align; `src = (dst + ½) · in/out − ½`, clamped at 0.
    False,
}

/// Source index pair and weight of the second one, for output index `dst` along one axis.
fn source(dst: usize, input: usize, out: usize, mode: AlignCorners) -> (usize, usize, f32) {
    let src = match mode {
        AlignCorners::True => {
            if out > 1 {
                ((input - 1) as f32 / (out - 1) as f32) * dst as f32
            } else {
                0.0
            }
        }
        AlignCorners::False => {
            let s = (input as f32 / out as f32) * (dst as f32 + 0.5) - 0.5;
            s.max(0.0)
        }
    };
    // PyTorch truncates (src ≥ 0 here) and clamps the upper neighbour to the edge.
    let i0 = (src as usize).min(input - 1);
    let i1 = if i0 + 1 < input { i0 + 1 } else { i0 };
    let frac = src - i0 as f32;
    (i0, i1, frac)
}

/// Resamples every channel of `x` to `HO × WO` bilinearly.
pub fn resize_bilinear<
    const C: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &Map<C, H, W>,
    y: &mut Map<C, HO, WO>,
    mode: AlignCorners,
) {
    const {
        assert!(
            H >= 1 && W >= 1 && HO >= 1 && WO >= 1,
            "resampling needs non-empty maps"
        )
    };
    // Every output column's source columns and weight, once per call instead of once per
    // pixel (the same values: the same computation).
    let cols: [(usize, usize, f32); WO] = core::array::from_fn(|ow| source(ow, W, WO, mode));
    for (plane_in, plane_out) in x.iter().zip(y.iter_mut()) {
        for (oh, row_out) in plane_out.iter_mut().enumerate() {
            let (h0, h1, fh) = source(oh, H, HO, mode);
            let (r0, r1) = (&plane_in[h0], &plane_in[h1]);
            for (v, &(w0, w1, fw)) in row_out.iter_mut().zip(&cols) {
                let top = (1.0 - fw) * r0[w0] + fw * r0[w1];
                let bottom = (1.0 - fw) * r1[w0] + fw * r1[w1];
                *v = (1.0 - fh) * top + fh * bottom;
            }
        }
    }
}
