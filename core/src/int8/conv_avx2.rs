//! The x86_64 AVX2 micro-kernel of the fast int8 convolution's pair tiles
//! (`conv_pairs.rs`, compiled as `int8::conv_tiles`).
//!
//! Compiled only when the build enables AVX2 (`-C target-feature=+avx2` or
//! `-C target-cpu=native` on an AVX2 machine) and not AVX-512 VNNI (which takes the quad
//! tiles of `conv_vnni.rs`). The intrinsics come from `safe_arch`, which
//! exposes them as safe functions exactly when the build enables their target feature (a
//! `core::arch` intrinsic called from a function without `#[target_feature]` is `unsafe` even
//! when the whole build enables the feature), so core stays free of `unsafe`. Tiles move in
//! and out of registers through `bytemuck` casts (`[i16; 16]` / `[i32; 8]` ↔ `m256i`, plain
//! old data).
//!
//! Per pair of reduction terms: two loads of the input tile (8 columns × 2 terms each), then
//! for each of the [`CT`] output channels one broadcast of its weight pair and two
//! `vpmaddwd` + `vpaddd` (`acc += x_r·w_r + x_r+1·w_r+1` for 8 columns). `vpmaddwd` multiplies
//! signed 16-bit values into exact 32-bit pair sums; `|x − zp| ≤ 255` and `|w| ≤ 128` keep
//! every product and pair sum far from its only overflow case (`−32768 · −32768 · 2`).

use super::conv_tiles::{Acc, WTile, XTile, CT, TW};
use safe_arch::{
    add_i32_m256i, convert_to_i16_m256i_from_i8_m128i, m128i, m256i, mul_i16_horizontal_add_m256i,
    set_splat_i16_m256i, set_splat_i32_m256i, shuffle_abi_i128z_all_m256i, sub_i16_m256i,
    unpack_high_i16_m256i, unpack_low_i16_m256i,
};

/// `acc[c][j] += Σ_p x[p][2j]·w_lo[c][p] + x[p][2j+1]·w_hi[c][p]` over the first `np` pairs.
#[inline]
pub(crate) fn micro_kernel(xt: &XTile, wt: &WTile, np: usize, acc: &mut Acc) {
    const {
        assert!(
            TW == 16 && CT == 4,
            "the register tile is 4 channels × 2 vectors"
        )
    };
    let mut r: [[m256i; 2]; CT] = bytemuck::cast(*acc);
    for (p, xp) in xt[..np].iter().enumerate() {
        let [x0, x1]: [m256i; 2] = bytemuck::cast(*xp);
        for (rc, wc) in r.iter_mut().zip(wt.iter()) {
            let wb = set_splat_i32_m256i(wc[p]);
            rc[0] = add_i32_m256i(rc[0], mul_i16_horizontal_add_m256i(x0, wb));
            rc[1] = add_i32_m256i(rc[1], mul_i16_horizontal_add_m256i(x1, wb));
        }
    }
    *acc = bytemuck::cast(r);
}

/// `dst[2j] = a[j] − zp`, `dst[2j + 1] = b[j] − zp` for 16 columns: sign-extend both runs to
/// `i16`, subtract the zero point, interleave (`vpunpck{l,h}wd` work within 128-bit lanes, so
/// a `vperm2i128` pair puts the columns back in order).
#[inline]
pub(crate) fn pack_pair(dst: &mut [i16; 2 * TW], a: &[i8; TW], b: &[i8; TW], zp: i16) {
    let z = set_splat_i16_m256i(zp);
    let a16 = sub_i16_m256i(convert_to_i16_m256i_from_i8_m128i(m128i::from(*a)), z);
    let b16 = sub_i16_m256i(convert_to_i16_m256i_from_i8_m128i(m128i::from(*b)), z);
    // lo: columns 0–3 | 8–11, hi: columns 4–7 | 12–15 (as [a, b] pairs).
    let lo = unpack_low_i16_m256i(a16, b16);
    let hi = unpack_high_i16_m256i(a16, b16);
    let first = shuffle_abi_i128z_all_m256i::<0x20>(lo, hi);
    let second = shuffle_abi_i128z_all_m256i::<0x31>(lo, hi);
    *dst = bytemuck::cast([first, second]);
}

/// Eight weight pairs from sixteen weights: `vpmovsxbw` gives the weights as sixteen `i16`,
/// which read as eight `i32` are the pairs (low half first, x86 being little-endian).
#[inline]
pub(crate) fn widen16(dst: &mut [i32; 8], src: &[i8; 16]) {
    *dst = bytemuck::cast(convert_to_i16_m256i_from_i8_m128i(m128i::from(*src)));
}
