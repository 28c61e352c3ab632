//! The pair tiles of the fast int8 convolution (`int8::conv_fast`) for builds without VNNI:
//! reduction terms taken two at a time as `i16`, multiplied by `vpmaddwd` on AVX2 (in
//! `conv_avx2.rs`), by `smlal` on aarch64 NEON (in `conv_neon.rs`) or by the portable loop
//! here.
//!
//! * **Input tile**: per pair and column, the two terms' `x − zp_in` as `i16` side by side
//!   (`[x_r(ow), x_r+1(ow)]`; a tap in the padding reads `zp_in`, i.e. 0).
//! * **Weight tile**: per output channel of a register tile of [`CT`] channels and per pair,
//!   the two weights as the two `i16` halves of one `i32`.
//! * **Micro-kernel**: `acc[c][j] += x_r·w_r + x_r+1·w_r+1`, on AVX2 one `vpmaddwd` per 8
//!   outputs (16 MACs, exact: `|x − zp| ≤ 255`, `|w| ≤ 128`, far from the instruction's only
//!   overflow case) plus one `vpaddd`. The sums are `Σ w · (x − zp_in)` directly, so no
//!   correction is needed ([`offset`] is 0).

/// Reduction terms per slot of the tiles (a pair).
pub(crate) const N: usize = 2;
/// Output columns per tile (two 8-lane `i32` vectors).
pub(crate) const TW: usize = 16;
/// Reduction terms per chunk (a multiple of [`N`]).
pub(crate) const RC: usize = 128;
/// Pairs per chunk.
pub(crate) const NS: usize = RC / N;
/// Output channels per register tile.
pub(crate) const CT: usize = 4;
/// Output channels per accumulator block.
pub(crate) const CB: usize = 64;

/// One pair of terms for every column of a tile: `[x_r(0), x_r+1(0), x_r(1), …]`.
pub(crate) type Slot = [i16; N * TW];
/// Input tile: one [`Slot`] per pair of the chunk.
pub(crate) type XTile = [Slot; NS];
/// Weight tile: per channel of a register tile, per pair, the two weights as `i16` halves
/// (low half: the pair's first term).
pub(crate) type WTile = [[i32; NS]; CT];
/// Accumulators of one register tile.
pub(crate) type Acc = [[i32; TW]; CT];

/// An empty input tile.
pub(crate) const X0: XTile = [[0; N * TW]; NS];
/// An empty weight tile.
pub(crate) const W0: WTile = [[0; NS]; CT];

/// The constant that turns a channel's accumulator into `Σ_valid w · (x − zp_in)`: none, the
/// tiles hold `x − zp_in` already.
#[inline]
pub(crate) fn offset(_zp: i8, _w: &[i8]) -> i32 {
    0
}

/// Interleaves two runs of [`TW`] input values (padding taps hold `zp`):
/// `dst[2j] = a[j] − zp`, `dst[2j + 1] = b[j] − zp`.
#[inline]
pub(crate) fn pack_run(dst: &mut Slot, [a, b]: [&[i8; TW]; N], zp: i8) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    super::conv_avx2::pack_pair(dst, a, b, i16::from(zp));
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
    for (d, (&va, &vb)) in dst.chunks_exact_mut(2).zip(a.iter().zip(b)) {
        d[0] = i16::from(va) - i16::from(zp);
        d[1] = i16::from(vb) - i16::from(zp);
    }
}

/// Packs two weights as the `i16` halves of one `i32` (what `vpmaddwd` pairs with).
#[inline]
fn pair(lo: i8, hi: i8) -> i32 {
    (u32::from(lo as i16 as u16) | (u32::from(hi as i16 as u16) << 16)) as i32
}

/// `acc += x · w` over the first `np` pairs of the tiles, with `rows[c]` channel `c`'s `rc`
/// weights of the chunk (empty for a channel past the last one), packed into `wt` first.
#[inline]
pub(crate) fn multiply(xt: &XTile, np: usize, rows: [&[i8]; CT], wt: &mut WTile, acc: &mut Acc) {
    for (row, wr) in wt.iter_mut().zip(rows) {
        pack_weights(row, wr, np);
    }
    micro_kernel(xt, wt, np, acc);
}

/// Packs one output channel's weights of a chunk (`wr`, possibly empty for a padding channel)
/// into `np` pairs. A pair is the two weights sign-extended to `i16`, low half first — on a
/// little-endian machine exactly the `i16` sequence of the weights, so whole runs of 16
/// weights (8 pairs) are one sign extension ([`widen16`]).
#[inline]
fn pack_weights(row: &mut [i32; NS], wr: &[i8], np: usize) {
    let whole = wr.len() / 16;
    for (dst, src) in row.chunks_exact_mut(8).zip(wr.chunks_exact(16)).take(whole) {
        if let (Ok(dst), Ok(src)) = (<&mut [i32; 8]>::try_from(dst), <&[i8; 16]>::try_from(src)) {
            widen16(dst, src);
        }
    }
    for (p, slot) in row[..np].iter_mut().enumerate().skip(whole * 8) {
        let lo = wr.get(2 * p).copied().unwrap_or(0);
        let hi = wr.get(2 * p + 1).copied().unwrap_or(0);
        *slot = pair(lo, hi);
    }
}

/// Eight pairs from sixteen weights: `dst[p] = pair(src[2p], src[2p + 1])`.
#[inline]
fn widen16(dst: &mut [i32; 8], src: &[i8; 16]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    super::conv_avx2::widen16(dst, src);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = pair(s[0], s[1]);
    }
}

/// `acc[c][j] += Σ_p x[p][2j]·w_lo[c][p] + x[p][2j+1]·w_hi[c][p]` over the first `np` pairs.
#[inline]
fn micro_kernel(xt: &XTile, wt: &WTile, np: usize, acc: &mut Acc) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    super::conv_avx2::micro_kernel(xt, wt, np, acc);
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    super::conv_neon::micro_kernel(xt, wt, np, acc);
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "avx2"),
        all(target_arch = "aarch64", target_feature = "neon")
    )))]
    micro_kernel_portable(xt, wt, np, acc);
}

/// The portable micro-kernel (the same sums as the AVX2 and NEON ones, in plain Rust).
#[cfg_attr(
    any(
        all(target_arch = "x86_64", target_feature = "avx2"),
        all(target_arch = "aarch64", target_feature = "neon")
    ),
    allow(dead_code)
)]
fn micro_kernel_portable(xt: &XTile, wt: &WTile, np: usize, acc: &mut Acc) {
    for (xp, p) in xt[..np].iter().zip(0..) {
        for (a, wc) in acc.iter_mut().zip(wt.iter()) {
            let w = wc[p];
            let (w0, w1) = (i32::from(w as i16), w >> 16);
            for (aj, xj) in a.iter_mut().zip(xp.chunks_exact(2)) {
                *aj += i32::from(xj[0]) * w0 + i32::from(xj[1]) * w1;
            }
        }
    }
}
