//! The aarch64 NEON micro-kernel of the fast int8 convolution's pair tiles (`conv_pairs.rs`,
//! compiled as `int8::conv_tiles`).
//!
//! Compiled when the build targets aarch64 with NEON (every aarch64 Linux target and
//! `aarch64-unknown-none`; not the `-softfloat` targets, which take the portable loop). The
//! tiles are the pair tiles' own: per pair of reduction terms and column, the two terms'
//! `x − zp_in` as `i16` side by side; per channel and pair, the two weights as the `i16`
//! halves of one `i32`.
//!
//! Per pair: four 8-lane loads of the input tile (16 columns × 2 terms), two `uzp1`/`uzp2`
//! pairs that split them into the first and the second term's 16 values, then for each of
//! the [`CT`] output channels eight `smlal`/`smlal2` by a scalar (`acc += x_r · w_r`,
//! then `acc += x_r+1 · w_r+1`, four columns each): 32 MACs in 8 instructions, 16 `i32x4`
//! accumulators (of NEON's 32 registers). Each product of two `i16` is exact in `i32`
//! (`|x − zp| ≤ 255`, `|w| ≤ 128`) and the sums are the reference's exact `Σ w · (x − zp_in)`
//! in another order — integer addition being associative and no partial sum overflowing
//! (`conv_fast.rs`) — so the results are bit-identical to the portable loop's.
//!
//! `sdot` (ARMv8.2 dot product, four byte products per lane) would double that, but its
//! `core::arch` intrinsics are unstable in Rust 1.95 (`stdarch_neon_dotprod`), and core
//! builds on stable.
//!
//! # The `unsafe` call
//!
//! A `core::arch::aarch64` intrinsic is a safe function only inside a function compiled with
//! `#[target_feature(enable = "neon")]`, even though the build enables NEON for every
//! function; calling that function from one without the attribute is `unsafe`. So
//! [`micro_kernel`] holds one `unsafe` block: one call, sound because this module is compiled
//! only when the build's `target_feature` set includes `neon` (the `cfg` on its `mod` in
//! `int8`), i.e. every binary containing the call already requires NEON. The callee takes
//! references only; vectors move in and out through `bytemuck` casts of fixed-size arrays
//! (no pointers).

use super::conv_tiles::{Acc, WTile, XTile, CT, TW};
use core::arch::aarch64::{
    int16x8_t, int32x4_t, vget_low_s16, vmlal_high_n_s16, vmlal_n_s16, vuzp1q_s16, vuzp2q_s16,
};

/// `acc[c][j] += Σ_p x[p][2j]·w_lo[c][p] + x[p][2j+1]·w_hi[c][p]` over the first `np` pairs.
#[inline]
#[allow(unsafe_code)]
pub(crate) fn micro_kernel(xt: &XTile, wt: &WTile, np: usize, acc: &mut Acc) {
    // SAFETY: `smlal_tile` only requires the CPU to support NEON. This module is compiled
    // only when the build's target features include it (`cfg(all(target_arch = "aarch64",
    // target_feature = "neon"))` on its `mod` in int8/mod.rs), so every binary containing
    // this call already requires NEON, exactly as for any other instruction the build
    // enables. The callee takes references only and does no pointer arithmetic.
    unsafe { smlal_tile(xt, wt, np, acc) }
}

/// The register tile: [`CT`] channels × 4 vectors of 4 columns.
#[inline]
#[target_feature(enable = "neon")]
fn smlal_tile(xt: &XTile, wt: &WTile, np: usize, acc: &mut Acc) {
    const {
        assert!(
            TW == 16 && CT == 4,
            "the register tile is 4 channels × 4 vectors"
        )
    };
    let mut r: [[int32x4_t; TW / 4]; CT] = bytemuck::cast(*acc);
    for (p, xp) in xt[..np].iter().enumerate() {
        // Columns 0–3, 4–7, 8–11, 12–15, each as [x_r(j), x_r+1(j)] pairs.
        let [q0, q1, q2, q3]: [int16x8_t; 4] = bytemuck::cast(*xp);
        // The first and the second term of the pair, columns 0–7 and 8–15.
        let (first_lo, second_lo) = (vuzp1q_s16(q0, q1), vuzp2q_s16(q0, q1));
        let (first_hi, second_hi) = (vuzp1q_s16(q2, q3), vuzp2q_s16(q2, q3));
        for (rc, wc) in r.iter_mut().zip(wt.iter()) {
            let w = wc[p];
            let (w0, w1) = (w as i16, (w >> 16) as i16);
            rc[0] = vmlal_n_s16(rc[0], vget_low_s16(first_lo), w0);
            rc[0] = vmlal_n_s16(rc[0], vget_low_s16(second_lo), w1);
            rc[1] = vmlal_high_n_s16(rc[1], first_lo, w0);
            rc[1] = vmlal_high_n_s16(rc[1], second_lo, w1);
            rc[2] = vmlal_n_s16(rc[2], vget_low_s16(first_hi), w0);
            rc[2] = vmlal_n_s16(rc[2], vget_low_s16(second_hi), w1);
            rc[3] = vmlal_high_n_s16(rc[3], first_hi, w0);
            rc[3] = vmlal_high_n_s16(rc[3], second_hi, w1);
        }
    }
    *acc = bytemuck::cast(r);
}
