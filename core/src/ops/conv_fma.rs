//! The x86_64 AVX2 + FMA micro-kernel of the fast f32 convolution (`ops::conv_fast`).
//!
//! Compiled only when the build enables AVX2 and FMA (`-C target-feature=+avx2,+fma` or
//! `-C target-cpu=native` on such a machine); the intrinsics come from `safe_arch`, as in the
//! int8 kernel (see `int8::conv_avx2`), so no `unsafe` is needed.
//!
//! Per term: the two 8-column halves of the input tile row, then per channel one broadcast of
//! its weight and two `vfmadd231ps`. With six channels the twelve accumulators, the two tile
//! vectors and the broadcast use 15 of the 16 `ymm` registers.

use super::conv_fast::TW;
use safe_arch::{fused_mul_add_m256, m256, set_splat_m256};

/// `acc[c][j] = fma(w[c][r], xt[r][j], acc[c][j])` for every term `r` of the chunk, in order.
#[inline]
pub(crate) fn micro_kernel<const NC: usize>(
    xt: &[[f32; TW]],
    w: [&[f32]; NC],
    acc: [&mut [f32; TW]; NC],
) {
    const { assert!(TW == 16, "the register tile is 2 vectors of 8 lanes") };
    let n = xt.len();
    if w.iter().any(|wc| wc.len() != n) {
        return;
    }
    let mut r: [[m256; 2]; NC] = core::array::from_fn(|c| bytemuck::cast(*acc[c]));
    for (t, xr) in xt.iter().enumerate() {
        let [x0, x1]: [m256; 2] = bytemuck::cast(*xr);
        for (rc, wc) in r.iter_mut().zip(w.iter()) {
            let wb = set_splat_m256(wc[t]);
            rc[0] = fused_mul_add_m256(wb, x0, rc[0]);
            rc[1] = fused_mul_add_m256(wb, x1, rc[1]);
        }
    }
    for (dst, src) in acc.into_iter().zip(r.iter()) {
        *dst = bytemuck::cast(*src);
    }
}

/// `acc[i] = fma(w, x[i], acc[i])`: the micro-kernel's rounding for a single term (the tail
/// of the common length goes through one zero-padded vector, so every element rounds alike).
pub(crate) fn mul_add_into(acc: &mut [f32], w: f32, x: &[f32]) {
    let wb = set_splat_m256(w);
    let mut a_chunks = acc.chunks_exact_mut(8);
    let mut x_chunks = x.chunks_exact(8);
    for (a, xv) in (&mut a_chunks).zip(&mut x_chunks) {
        if let (Ok(a), Ok(xv)) = (<&mut [f32; 8]>::try_from(a), <&[f32; 8]>::try_from(xv)) {
            *a = bytemuck::cast(fused_mul_add_m256(
                wb,
                bytemuck::cast(*xv),
                bytemuck::cast(*a),
            ));
        }
    }
    let (a, xv) = (a_chunks.into_remainder(), x_chunks.remainder());
    let n = a.len().min(xv.len());
    let (mut ta, mut tx) = ([0.0f32; 8], [0.0f32; 8]);
    ta[..n].copy_from_slice(&a[..n]);
    tx[..n].copy_from_slice(&xv[..n]);
    let r: [f32; 8] = bytemuck::cast(fused_mul_add_m256(
        wb,
        bytemuck::cast(tx),
        bytemuck::cast(ta),
    ));
    a[..n].copy_from_slice(&r[..n]);
}
