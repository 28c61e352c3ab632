//! Global and adaptive pooling with PyTorch's bin rule.

use crate::tensor::{Flat, Map};

/// Bin `i` of `out` bins over `input` positions: `[floor(i·in/out), ceil((i+1)·in/out))`.
///
/// This is PyTorch's adaptive-pooling rule; bins may overlap (32 → 10 gives (0,4), (3,7), …).
pub const fn pool_bin(i: usize, input: usize, out: usize) -> (usize, usize) {
    let start = (i * input) / out;
    let end = ((i + 1) * input).div_ceil(out);
    (start, end)
}

/// `y[c] = mean over pixels of x[c]` (sum in row-major order, then one division).
pub fn global_avg_pool<const C: usize, const H: usize, const W: usize>(
    x: &Map<C, H, W>,
    y: &mut [f32; C],
) {
    const { assert!(H * W > 0, "cannot pool an empty map") };
    for (plane, out) in x.iter().zip(y.iter_mut()) {
        let sum: f32 = plane.flat().iter().sum();
        *out = sum / (H * W) as f32;
    }
}

/// Adaptive average pooling of each channel to `HO × WO` bins.
pub fn adaptive_avg_pool<
    const C: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &Map<C, H, W>,
    y: &mut Map<C, HO, WO>,
) {
    const {
        assert!(
            HO >= 1 && WO >= 1 && HO <= H && WO <= W,
            "adaptive pooling needs 1 <= out <= in"
        )
    };
    for (plane, out) in x.iter().zip(y.iter_mut()) {
        for (i, row) in out.iter_mut().enumerate() {
            let (h0, h1) = pool_bin(i, H, HO);
            for (j, v) in row.iter_mut().enumerate() {
                let (w0, w1) = pool_bin(j, W, WO);
                let mut sum = 0.0f32;
                for r in &plane[h0..h1] {
                    for p in &r[w0..w1] {
                        sum += *p;
                    }
                }
                *v = sum / ((h1 - h0) * (w1 - w0)) as f32;
            }
        }
    }
}

/// Adaptive max pooling of each channel to `HO × WO` bins. A NaN in a bin propagates, as in
/// PyTorch.
pub fn adaptive_max_pool<
    T: Copy + PartialOrd,
    const C: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &Map<C, H, W, T>,
    y: &mut Map<C, HO, WO, T>,
) {
    const {
        assert!(
            HO >= 1 && WO >= 1 && HO <= H && WO <= W,
            "adaptive pooling needs 1 <= out <= in"
        )
    };
    for (plane, out) in x.iter().zip(y.iter_mut()) {
        for (i, row) in out.iter_mut().enumerate() {
            let (h0, h1) = pool_bin(i, H, HO);
            for (j, v) in row.iter_mut().enumerate() {
                let (w0, w1) = pool_bin(j, W, WO);
                let mut best = plane[h0][w0];
                for r in &plane[h0..h1] {
                    for p in &r[w0..w1] {
                        // PyTorch's rule: a larger value or a NaN wins, and a NaN, once
                        // taken, is never replaced (nothing compares greater than it).
                        if *p > best || p.partial_cmp(p).is_none() {
                            best = *p;
                        }
                    }
                }
                *v = best;
            }
        }
    }
}
