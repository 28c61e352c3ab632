//! Int8 bilinear resampling with fixed-point weights, in both of PyTorch's `align_corners`
//! conventions ([`AlignCorners`], shared with the f32 path).
//!
//! Like TFLite's int8 `ResizeBilinear`, the output keeps the input's scale and zero point.
//! Unlike TFLite's reference kernel (which computes source coordinates in `float`), the source
//! coordinate of every output index is computed **in integers from the sizes alone**, as a Q15
//! fixed-point number rounded to nearest:
//!
//! * `align_corners = True`:  `src = dst · (in − 1) / (out − 1)` (0 when `out == 1`);
//! * `align_corners = False`: `src = ((2·dst + 1) · in − out) / (2·out)`, clamped at 0 —
//!   PyTorch's `(dst + ½)·in/out − ½` over a common denominator.
//!
//! Its integer part picks the two neighbours (the upper one clamped to the edge, as in
//! PyTorch), its 15 fractional bits are the weight. Each output is
//! `zp + round(Σ w_i · (x_i − zp) / 2^30)` with the two separable Q15 weights per axis (an
//! `i64` product), rounded half away from zero. When every source coordinate is a multiple of
//! 2^−15 (e.g. `align_corners = False` with power-of-two size ratios, the decoders' ×2) the
//! weights are exact and so is the result (0 LSB); otherwise the Q15 weights are within 2^−16
//! of the real ones, ≤ 0.008 LSB after interpolation, so the result is within 1 LSB of
//! "dequantize → f64 bilinear → quantize" and almost always equal to it.

use super::quant::{rounding_shift_right_i64, saturate_i8};
pub use crate::ops::AlignCorners;
use crate::tensor::Map;

/// Fractional bits of the source coordinates and interpolation weights.
pub const WEIGHT_FRAC_BITS: u32 = 15;

const ONE: i64 = 1 << WEIGHT_FRAC_BITS;

/// Largest side the Q15 coordinates (`u32`) can address.
const MAX_SIDE: usize = 1 << 16;

/// `round(n / d)` for `d > 0`, non-negative operands (ties up, i.e. away from zero).
const fn div_round_u64(n: u64, d: u64) -> u64 {
    (n + d / 2) / d
}

/// Source coordinate of output index `dst` in Q15, exact but for the final rounding.
const fn source_q15(dst: usize, input: usize, out: usize, mode: AlignCorners) -> u32 {
    let (dst, input, out) = (dst as u64, input as u64, out as u64);
    let q = match mode {
        AlignCorners::True => {
            if out > 1 {
                div_round_u64((dst * (input - 1)) << WEIGHT_FRAC_BITS, out - 1)
            } else {
                0
            }
        }
        AlignCorners::False => {
            let num = (2 * dst + 1) * input;
            if num <= out {
                0
            } else {
                div_round_u64((num - out) << WEIGHT_FRAC_BITS, 2 * out)
            }
        }
    };
    // ≤ (input − 1)·2^15 + rounding for `True`, ≤ input·2^15 for `False`; input ≤ 2^16.
    q as u32
}

/// The two neighbours and the weight of the second one for a Q15 source coordinate.
fn taps(src: u32, input: usize) -> (usize, usize, i64) {
    let i0 = (src >> WEIGHT_FRAC_BITS) as usize;
    if i0 + 1 >= input {
        (input - 1, input - 1, 0)
    } else {
        (i0, i0 + 1, i64::from(src) & (ONE - 1))
    }
}

/// Resamples every channel of `x` to `HO × WO` bilinearly (same quantization in and out).
pub fn resize_bilinear<
    const C: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &Map<C, H, W, i8>,
    zero_point: i8,
    y: &mut Map<C, HO, WO, i8>,
    mode: AlignCorners,
) {
    const {
        assert!(
            H >= 1 && W >= 1 && HO >= 1 && WO >= 1,
            "resampling needs non-empty maps"
        );
        assert!(
            H <= MAX_SIDE && W <= MAX_SIDE && HO <= MAX_SIDE && WO <= MAX_SIDE,
            "int8 resampling supports sides up to 65536"
        );
    };
    // Column taps are the same for every row and channel: 8·WO bytes of stack.
    let mut cols = [(0u16, 0u16, 0i32); WO];
    for (ow, c) in cols.iter_mut().enumerate() {
        let (w0, w1, fw) = taps(source_q15(ow, W, WO, mode), W);
        // W ≤ 2^16 (checked above), so indices fit u16; fw < 2^15.
        *c = (w0 as u16, w1 as u16, fw as i32);
    }
    let zp = i32::from(zero_point);
    // Horizontally interpolated source rows, Q15: `(1 − fw)·(x₀ − zp) + fw·(x₁ − zp)`, at most
    // 255·2^15 < 2^23 in magnitude (exact in i32). Two slots, keyed by source row: consecutive
    // output rows share rows (the lower row of one pair is the upper row of the next), so each
    // source row is interpolated once per channel instead of once per output pixel.
    let mut rows = [[0i32; WO]; 2];
    for (plane_in, plane_out) in x.iter().zip(y.iter_mut()) {
        let mut held = [usize::MAX; 2];
        for (oh, row_out) in plane_out.iter_mut().enumerate() {
            let (h0, h1, fh) = taps(source_q15(oh, H, HO, mode), H);
            let s0 = slot(&mut held, &mut rows, h0, h1, |dst| {
                interpolate(&plane_in[h0], &cols, zp, dst)
            });
            let s1 = slot(&mut held, &mut rows, h1, h0, |dst| {
                interpolate(&plane_in[h1], &cols, zp, dst)
            });
            let (top, bottom) = (&rows[s0], &rows[s1]);
            for ((v, &t), &b) in row_out.iter_mut().zip(top.iter()).zip(bottom.iter()) {
                // Q30 · 255 < 2^38: exact in i64.
                let sum = (ONE - fh) * i64::from(t) + fh * i64::from(b);
                let r = rounding_shift_right_i64(sum, 2 * WEIGHT_FRAC_BITS) + i64::from(zp);
                // |r − zp| ≤ 255, so the narrowing is exact before saturation.
                *v = saturate_i8(r as i32);
            }
        }
    }
}

/// The slot holding source row `want`, filling one (not the one holding `keep`) with `fill`
/// if neither holds it.
fn slot<const WO: usize>(
    held: &mut [usize; 2],
    rows: &mut [[i32; WO]; 2],
    want: usize,
    keep: usize,
    fill: impl FnOnce(&mut [i32; WO]),
) -> usize {
    if let Some(s) = held.iter().position(|&h| h == want) {
        return s;
    }
    let s = usize::from(held[0] == keep);
    fill(&mut rows[s]);
    held[s] = want;
    s
}

/// One source row interpolated at every output column, Q15 relative to the zero point.
fn interpolate<const W: usize, const WO: usize>(
    row: &[i8; W],
    cols: &[(u16, u16, i32); WO],
    zp: i32,
    dst: &mut [i32; WO],
) {
    const ONE32: i32 = 1 << WEIGHT_FRAC_BITS;
    for (d, &(w0, w1, fw)) in dst.iter_mut().zip(cols.iter()) {
        let p0 = i32::from(row[usize::from(w0)]) - zp;
        let p1 = i32::from(row[usize::from(w1)]) - zp;
        *d = (ONE32 - fw) * p0 + fw * p1;
    }
}
