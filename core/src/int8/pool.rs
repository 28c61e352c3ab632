//! Int8 global and adaptive pooling with PyTorch's bin rule ([`pool_bin`]).
//!
//! As in TFLite's int8 `AveragePool`/`MaxPool` (and PyTorch's quantized pooling), the output
//! keeps the input's scale and zero point, so no requantization is needed:
//!
//! * **average**: `y = zp + round(Σ (x − zp) / n)` with an exact `i32` sum and one integer
//!   division rounding half away from zero — the same value as "dequantize → mean → quantize"
//!   (**exact**, 0 LSB). (TFLite rounds `Σ x / n` without removing the zero point first, which
//!   differs at ties whose sign flips; subtracting `zp` makes the rounding that of the real
//!   mean.)
//! * **max**: quantization is monotone, so the max of the int8 values is the quantized max
//!   (**exact**).
//!
//! Bins come from [`pool_bin`], shared with the f32 path, so both pool the same pixels.

use super::quant::{div_round_half_away, saturate_i8};
use crate::ops::pool_bin;
use crate::tensor::{Flat, Map};

/// Largest number of pixels whose `Σ (x − zp)` (each `|·| ≤ 255`) fits in `i32`.
const MAX_POOL_PIXELS: usize = i32::MAX as usize / 255;

/// `zp + round(sum / n)`, saturated.
fn mean_q(sum: i32, n: usize, zp: i32) -> i8 {
    // n ≤ MAX_POOL_PIXELS < 2^31, checked at compile time by the callers.
    let avg = div_round_half_away(i64::from(sum), n as i64);
    saturate_i8((avg + i64::from(zp)).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
}

/// `y[c] = mean over pixels of x[c]` (same quantization in and out; exact).
pub fn global_avg_pool<const C: usize, const H: usize, const W: usize>(
    x: &Map<C, H, W, i8>,
    zero_point: i8,
    y: &mut [i8; C],
) {
    const {
        assert!(H * W > 0, "cannot pool an empty map");
        assert!(
            H * W <= MAX_POOL_PIXELS,
            "map too large for an exact i32 pooling sum"
        );
    };
    let zp = i32::from(zero_point);
    for (plane, out) in x.iter().zip(y.iter_mut()) {
        let sum: i32 = plane.flat().iter().map(|v| i32::from(*v) - zp).sum();
        *out = mean_q(sum, H * W, zp);
    }
}

/// Adaptive average pooling of each channel to `HO × WO` bins (same quantization in and out;
/// exact).
pub fn adaptive_avg_pool<
    const C: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &Map<C, H, W, i8>,
    zero_point: i8,
    y: &mut Map<C, HO, WO, i8>,
) {
    const {
        assert!(
            HO >= 1 && WO >= 1 && HO <= H && WO <= W,
            "adaptive pooling needs 1 <= out <= in"
        );
        assert!(
            H * W <= MAX_POOL_PIXELS,
            "map too large for an exact i32 pooling sum"
        );
    };
    let zp = i32::from(zero_point);
    for (plane, out) in x.iter().zip(y.iter_mut()) {
        for (i, row) in out.iter_mut().enumerate() {
            let (h0, h1) = pool_bin(i, H, HO);
            for (j, v) in row.iter_mut().enumerate() {
                let (w0, w1) = pool_bin(j, W, WO);
                let mut sum = 0i32;
                for r in &plane[h0..h1] {
                    for p in &r[w0..w1] {
                        sum += i32::from(*p) - zp;
                    }
                }
                *v = mean_q(sum, (h1 - h0) * (w1 - w0), zp);
            }
        }
    }
}

/// Adaptive max pooling of each channel to `HO × WO` bins (same quantization in and out;
/// exact). The f32 op is generic over the element type, so this is the same code.
pub fn adaptive_max_pool<
    const C: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &Map<C, H, W, i8>,
    y: &mut Map<C, HO, WO, i8>,
) {
    crate::ops::adaptive_max_pool(x, y);
}
