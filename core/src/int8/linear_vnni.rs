//! The register tile of the int8 linear layers ([`super::linalg::linear`]) for x86_64 builds
//! with AVX-512 VNNI: [`TT`] tokens × 8 output features per tile, the reduction taken four
//! terms at a time by `vpdpbusd` (unsigned byte × signed byte, four products summed into each
//! `i32` lane), the scheme of the convolution's quads (`conv_vnni.rs`) with the roles fixed
//! for tokens:
//!
//! * **Weights**: per quad `k` of the reduction, one vector of the block's eight features'
//!   four weights `w[o][4k..4k + 4]` as the bytes of one `i32` each ([`pack`]);
//! * **Inputs**: per token and quad, its four input bytes flipped to `u = x + 128`
//!   (`x ^ 0x80`), read straight from the token's row and broadcast to every lane;
//! * **Correction**: the accumulator ends at `Σ w·(x + 128)`; subtracting the convolution's
//!   quad `offset` `= (zp_in + 128)·Σ w` per feature leaves `Σ w·(x − zp_in)`, the reference sum.
//!
//! # No overflow, same bits
//!
//! Every product is `u·w` with `0 ≤ u ≤ 255`, `−128 ≤ w ≤ 127`: `|u·w| ≤ 255·128`, the
//! reference's bound per term, so every partial sum is at most `32 640·DI` in magnitude,
//! which the caller bounds by [`super::quant::MAX_WEIGHT_DOT_TERMS`] at compile time: no lane
//! wraps. The correction is bounded alike, and the difference of the two is the exact
//! reference sum (an `i32`), so the wrapping subtraction is exact and the output stage gets
//! the very integer the scalar path computes.
//!
//! # `unsafe`
//!
//! One call, as in `conv_vnni.rs` and for the same reason: `_mm256_dpbusd_epi32` lives in a
//! `#[target_feature(enable = "avx512vnni,avx512vl")]` function, and calling that from one
//! without the attribute is `unsafe` even when the whole build enables the features. This
//! module is compiled only when the build's target features include both (`cfg` on its `mod`
//! in `int8/mod.rs`), so the binary already requires such a CPU.

use core::arch::x86_64::{__m256i, _mm256_dpbusd_epi32, _mm256_set1_epi32};

/// Tokens per register tile (4 accumulators of 8 features).
pub(crate) const TT: usize = 4;

/// Packs the block of eight features' rows (`rows.len() == 8`, each `4·nq` long) into
/// `wq[..nq]`: `wq[k][o]` holds `rows[o][4k..4k + 4]` as one little-endian `i32`.
#[inline]
pub(crate) fn pack(rows: &[[i8; 4]], nq: usize, wq: &mut [[i32; 8]]) {
    for (k, dst) in wq[..nq].iter_mut().enumerate() {
        for (o, d) in dst.iter_mut().enumerate() {
            *d = i32::from_le_bytes(rows[o * nq + k].map(|b| b as u8));
        }
    }
}

/// `acc[t][o] = Σ_k Σ_b (x[t][4k + b] + 128) · w[o][4k + b]` for the quads `wq` of one block
/// and the rows `x[t]` (quads of input bytes, `wq.len()` each).
#[inline]
#[allow(unsafe_code)]
pub(crate) fn tile(x: [&[[i8; 4]]; TT], wq: &[[i32; 8]]) -> [[i32; 8]; TT] {
    // SAFETY: `dpbusd_tile` only requires the CPU to support AVX-512 VNNI and AVX-512 VL.
    // This module is compiled only when the build's target features include both
    // (`cfg(all(target_arch = "x86_64", target_feature = "avx512vnni", target_feature =
    // "avx512vl"))` on its `mod` in int8/mod.rs), so every binary containing this call already
    // requires such a CPU. The callee takes references only and does no pointer arithmetic.
    unsafe { dpbusd_tile(x, wq) }
}

/// The register tile: per quad, one weight load, [`TT`] broadcasts and [`TT`] `vpdpbusd`.
#[inline]
#[target_feature(enable = "avx512vnni,avx512vl")]
fn dpbusd_tile([x0, x1, x2, x3]: [&[[i8; 4]]; TT], wq: &[[i32; 8]]) -> [[i32; 8]; TT] {
    const { assert!(TT == 4, "the register tile is 4 tokens") };
    let flip = |q: [i8; 4]| {
        _mm256_set1_epi32((u32::from_le_bytes(q.map(|b| b as u8)) ^ 0x8080_8080) as i32)
    };
    let mut r: [__m256i; TT] = bytemuck::cast([[0i32; 8]; TT]);
    for ((((w, &a), &b), &c), &d) in wq.iter().zip(x0).zip(x1).zip(x2).zip(x3) {
        let w: __m256i = bytemuck::cast(*w);
        r[0] = _mm256_dpbusd_epi32(r[0], flip(a), w);
        r[1] = _mm256_dpbusd_epi32(r[1], flip(b), w);
        r[2] = _mm256_dpbusd_epi32(r[2], flip(c), w);
        r[3] = _mm256_dpbusd_epi32(r[3], flip(d), w);
    }
    bytemuck::cast(r)
}
