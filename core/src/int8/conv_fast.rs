//! The fast int8 convolution: a blocked implicit GEMM with register tiling, bit-identical to
//! the reference kernel in [`super::conv`].
//!
//! # Why it is bit-identical
//!
//! Both kernels compute, per output, the same exact `i32` sum `Σ w · (x − zp_in)` over the
//! taps inside the image and requantize it with the same [`PerChannelQuant::output`]. Integer
//! addition is associative and no partial sum can overflow (every partial sum is bounded by
//! the sum of the absolute terms, which the callers bound by [`super::quant::MAX_WEIGHT_DOT_TERMS`]
//! at compile time), so summing the terms in another order gives the same bits.
//!
//! # Layout
//!
//! The reduction runs over `R = CI/G · K · K` terms in the weight layout's order
//! `(ci, kh, kw)`, taken two at a time ("pairs"; an odd `R` gets a zero partner). For one
//! output row, a tile of [`TW`] output columns and a chunk of [`RC`] terms:
//!
//! * the **input tile** holds, per pair and column, the two terms' `x − zp_in` as `i16`
//!   side by side (`[x_r(ow), x_r+1(ow)]`, zero where the tap is in the padding) — an im2col
//!   tile, packed once per output-channel block;
//! * the **weight tile** holds, per output channel of a register tile of [`CT`] channels and
//!   per pair, the two weights as two `i16` halves of one `i32`;
//! * the **micro-kernel** multiplies them: `acc[c][j] += x_r·w_r + x_r+1·w_r+1`, which on x86_64
//!   AVX2 is one `vpmaddwd` per 8 outputs (16 MACs, exact: `|x − zp| ≤ 255`, `|w| ≤ 128`, so
//!   the pair sum fits easily and nothing saturates) plus one `vpaddd`.
//!
//! Accumulators live in registers for a whole chunk and in a small per-block buffer
//! ([`CB`] channels × [`TW`] columns) between chunks. Every buffer is a fixed-size stack
//! array (about 9 KiB in all), so the kernel needs no arena and works for any geometry the
//! typed wrappers accept.
//!
//! # SIMD selection
//!
//! The micro-kernel is chosen at compile time: with `target_feature = "avx2"` on x86_64 (build
//! with `RUSTFLAGS="-C target-cpu=native"` or `-C target-feature=+avx2`) it is the `core::arch`
//! version in [`super::conv_avx2`]; otherwise a portable loop over the same tiles. Both run
//! through the same packing code, and the tests compare both against the reference kernel.
//! Runtime detection would need `std` (and an `unsafe` call into a `#[target_feature]`
//! function); core has neither, so the choice is the build's.

use super::quant::PerChannelQuant;
use crate::ops::conv_geometry::{valid_outputs, Geometry};

/// Output columns per tile (two 8-lane `i32` vectors).
pub(crate) const TW: usize = 16;
/// Reduction terms per chunk (even).
pub(crate) const RC: usize = 128;
/// Pairs per chunk.
pub(crate) const NP: usize = RC / 2;
/// Output channels per register tile.
pub(crate) const CT: usize = 4;
/// Output channels per accumulator block.
pub(crate) const CB: usize = 64;

/// Input tile: per pair, `TW` columns × the pair's two terms, as `i16`.
pub(crate) type XTile = [[i16; 2 * TW]; NP];
/// Weight tile: per channel of a register tile, per pair, the two weights as `i16` halves
/// (low half: the pair's first term).
pub(crate) type WTile = [[i32; NP]; CT];
/// Accumulators of one register tile.
pub(crate) type Acc = [[i32; TW]; CT];

/// Packs two weights as the `i16` halves of one `i32` (what `vpmaddwd` pairs with).
#[inline]
fn pair(lo: i8, hi: i8) -> i32 {
    (u32::from(lo as i16 as u16) | (u32::from(hi as i16 as u16) << 16)) as i32
}

/// One reduction term's position: input channel within the group, kernel row and column.
#[derive(Clone, Copy)]
struct Term {
    cl: usize,
    kh: usize,
    kw: usize,
}

impl Term {
    /// The next term in weight order `(ci, kh, kw)`.
    #[inline]
    fn next(self, k: usize) -> Term {
        if self.kw + 1 < k {
            Term {
                kw: self.kw + 1,
                ..self
            }
        } else if self.kh + 1 < k {
            Term {
                kh: self.kh + 1,
                kw: 0,
                ..self
            }
        } else {
            Term {
                cl: self.cl + 1,
                kh: 0,
                kw: 0,
            }
        }
    }
}

/// The fast convolution over flat slices (shapes checked at compile time by the caller).
pub(crate) fn conv<const CO: usize>(
    g: &Geometry,
    x: &[i8],
    w: &[i8],
    q: &PerChannelQuant<'_, CO>,
    cols: &mut [(usize, usize, usize)],
    y: &mut [i8],
) {
    let cig = g.ci / g.groups;
    let cog = g.co / g.groups;
    let kk = g.k * g.k;
    let r_len = cig * kk;
    let (plane_in, plane_out) = (g.h * g.w, g.ho * g.wo);
    let zp = i16::from(q.input_zp);
    // Valid output columns of each kernel column (as in the reference kernel).
    for (kw, c) in cols.iter_mut().enumerate() {
        let (ow0, ow1) = valid_outputs(g.wo, g.w, g.stride, kw * g.dilation, g.pad);
        *c = (ow0, ow1, 0);
    }
    let mut xt: XTile = [[0; 2 * TW]; NP];
    let mut wt: WTile = [[0; NP]; CT];
    let mut acc_block = [[0i32; TW]; CB];
    for group in 0..g.groups {
        let xg = &x[group * cig * plane_in..(group + 1) * cig * plane_in];
        for cb0 in (0..cog).step_by(CB) {
            let cb1 = (cb0 + CB).min(cog);
            for oh in 0..g.ho {
                for ow0 in (0..g.wo).step_by(TW) {
                    let tw = TW.min(g.wo - ow0);
                    let mut term = Term {
                        cl: 0,
                        kh: 0,
                        kw: 0,
                    };
                    for r0 in (0..r_len).step_by(RC) {
                        let rc = RC.min(r_len - r0);
                        term = pack_input(&mut xt, g, xg, cols, (oh, ow0, tw), term, rc, zp);
                        let np = rc.div_ceil(2);
                        for ct0 in (cb0..cb1).step_by(CT) {
                            let nc = CT.min(cb1 - ct0);
                            for (c, row) in wt.iter_mut().enumerate() {
                                let co = group * cog + ct0 + c;
                                let wr = if c < nc {
                                    &w[co * r_len + r0..co * r_len + r0 + rc]
                                } else {
                                    &[]
                                };
                                pack_weights(row, wr, np);
                            }
                            let block = &mut acc_block[ct0 - cb0..ct0 - cb0 + nc];
                            let mut acc: Acc = [[0; TW]; CT];
                            if r0 > 0 {
                                acc[..nc].copy_from_slice(block);
                            }
                            micro_kernel(&xt, &wt, np, &mut acc);
                            block.copy_from_slice(&acc[..nc]);
                        }
                    }
                    for (cl, a) in acc_block[..cb1 - cb0].iter().enumerate() {
                        let co = group * cog + cb0 + cl;
                        let out = &mut y[co * plane_out + oh * g.wo + ow0..][..tw];
                        for (o, &v) in out.iter_mut().zip(a.iter()) {
                            *o = q.output(co, v);
                        }
                    }
                }
            }
        }
    }
}

/// Fills the input tile with `rc` terms starting at `term` for output row `oh`, columns
/// `ow0..ow0 + tw`; returns the term after the chunk. Taps in the padding, columns past `tw`
/// and the zero partner of an odd last term are 0. Pairs whose two taps read 16 whole input
/// columns (stride 1, away from the borders: most of them) take the vectorised
/// [`pack_pair`].
#[allow(clippy::too_many_arguments)]
fn pack_input(
    xt: &mut XTile,
    g: &Geometry,
    xg: &[i8],
    cols: &[(usize, usize, usize)],
    (oh, ow0, tw): (usize, usize, usize),
    mut term: Term,
    rc: usize,
    zp: i16,
) -> Term {
    let at = (oh, ow0, tw);
    for (p, dst) in xt[..rc.div_ceil(2)].iter_mut().enumerate() {
        let a = term;
        term = term.next(g.k);
        let b = if 2 * p + 1 < rc {
            let b = term;
            term = term.next(g.k);
            Some(b)
        } else {
            None
        };
        let whole = |t: Term| whole_run(g, xg, cols, at, t);
        match (whole(a), b.and_then(whole)) {
            (Some(ra), Some(rb)) => pack_pair(dst, ra, rb, zp),
            _ => {
                pack_term(dst, 0, g, xg, cols, at, Some(a), zp);
                pack_term(dst, 1, g, xg, cols, at, b, zp);
            }
        }
    }
    term
}

/// The 16 input values term `t` reads for a whole tile, when they are consecutive and all
/// inside the image (stride 1, full tile, row and columns away from the padding).
#[inline]
fn whole_run<'x>(
    g: &Geometry,
    xg: &'x [i8],
    cols: &[(usize, usize, usize)],
    (oh, ow0, tw): (usize, usize, usize),
    t: Term,
) -> Option<&'x [i8; TW]> {
    let ih = oh * g.stride + t.kh * g.dilation;
    let (lo, hi, _) = cols[t.kw];
    if g.stride != 1 || tw != TW || ih < g.pad || ih >= g.h + g.pad || lo > ow0 || hi < ow0 + TW {
        return None;
    }
    let first = (t.cl * g.h + ih - g.pad) * g.w + ow0 + t.kw * g.dilation - g.pad;
    xg.get(first..first + TW)?.try_into().ok()
}

/// Interleaves two whole runs: `dst[2j] = a[j] − zp`, `dst[2j + 1] = b[j] − zp`.
#[inline]
fn pack_pair(dst: &mut [i16; 2 * TW], a: &[i8; TW], b: &[i8; TW], zp: i16) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    super::conv_avx2::pack_pair(dst, a, b, zp);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
    for (d, (&va, &vb)) in dst.chunks_exact_mut(2).zip(a.iter().zip(b)) {
        d[0] = i16::from(va) - zp;
        d[1] = i16::from(vb) - zp;
    }
}

/// Writes term `t` (or zeros for `None`) into slot `s` (0 or 1) of every column of `dst`.
#[allow(clippy::too_many_arguments)]
fn pack_term(
    dst: &mut [i16; 2 * TW],
    s: usize,
    g: &Geometry,
    xg: &[i8],
    cols: &[(usize, usize, usize)],
    (oh, ow0, tw): (usize, usize, usize),
    t: Option<Term>,
    zp: i16,
) {
    let plane = g.h * g.w;
    let Some(Term { cl, kh, kw }) = t else {
        for j in 0..TW {
            dst[2 * j + s] = 0;
        }
        return;
    };
    let ih = oh * g.stride + kh * g.dilation;
    let (lo, hi, _) = cols[kw];
    // Columns of this tile whose tap is inside the image.
    let ja = lo.saturating_sub(ow0).min(tw);
    let jb = hi.saturating_sub(ow0).min(tw).max(ja);
    if ih < g.pad || ih >= g.h + g.pad || ja == jb {
        for j in 0..TW {
            dst[2 * j + s] = 0;
        }
        return;
    }
    let row = &xg[cl * plane + (ih - g.pad) * g.w..][..g.w];
    for j in 0..ja {
        dst[2 * j + s] = 0;
    }
    let first = (ow0 + ja) * g.stride + kw * g.dilation - g.pad;
    if g.stride == 1 {
        for (j, &v) in (ja..jb).zip(&row[first..first + (jb - ja)]) {
            dst[2 * j + s] = i16::from(v) - zp;
        }
    } else {
        for (n, j) in (ja..jb).enumerate() {
            dst[2 * j + s] = i16::from(row[first + n * g.stride]) - zp;
        }
    }
    for j in jb..TW {
        dst[2 * j + s] = 0;
    }
}

/// Packs one output channel's weights of a chunk (`wr`, possibly empty for a padding channel)
/// into `np` pairs. A pair is the two weights sign-extended to `i16`, low half first — on a
/// little-endian machine exactly the `i16` sequence of the weights, so whole runs of 16
/// weights (8 pairs) are one sign extension ([`widen16`]).
#[inline]
fn pack_weights(row: &mut [i32; NP], wr: &[i8], np: usize) {
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
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
    micro_kernel_portable(xt, wt, np, acc);
}

/// The portable micro-kernel (the same sums as the AVX2 one, in plain Rust).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "avx2"), allow(dead_code))]
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
