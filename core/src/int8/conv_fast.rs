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
//! The correction of the VNNI tiles (which hold `x + 128`, not `x − zp_in`) is exact too:
//! see `conv_vnni.rs`.
//!
//! # Layout
//!
//! The reduction runs over `R = CI/G · K · K` terms in the weight layout's order
//! `(ci, kh, kw)`, taken `N` at a time ("slots": pairs or quads; the last slot of a reduction
//! whose length is not a multiple of `N` gets zero weight partners). For one output row, a
//! tile of `TW` output columns and a chunk of `RC` terms:
//!
//! * the **input tile** holds, per slot and column, the slot's `N` input values side by side
//!   — an im2col tile, packed once per output-channel block. Each term's run of `TW` columns
//!   is read straight from the input when it is whole: for a tile whose taps are all inside
//!   the image (stride 1) through a table of the terms' offsets built once per call
//!   ([`pack_interior`]), else term by term ([`whole_run`]); a run that reaches into the
//!   padding is cut from a padded copy of its input row ([`Window`], stride 1) or gathered
//!   ([`gather_run`]), the padding taps reading `zp_in` (the real zero). The scheme then
//!   interleaves the `N` runs in its element form;
//! * the **weight tile** holds, per output channel of a register tile of `CT` channels and
//!   per slot, the slot's `N` weights packed in one `i32` (for quads: the weights' own bytes,
//!   read in place);
//! * the **micro-kernel** multiplies them into `CT × TW` `i32` accumulators;
//! * the **output stage** requantizes a tile row of one channel at a time, eight lanes at
//!   once with AVX2 (`requant_avx2.rs`, bit-identical to [`PerChannelQuant::output`]).
//!
//! Accumulators live in registers for a whole chunk and in a small per-block buffer
//! (`CB` channels × `TW` columns) between chunks. Every buffer is a fixed-size stack
//! array (about 20 KiB in all with the quads), so the kernel needs no arena and works for any
//! geometry the typed wrappers accept.
//!
//! # SIMD selection
//!
//! The tile scheme is chosen at compile time:
//!
//! * x86_64 with `target_feature`s `avx512vnni` and `avx512vl` (`-C target-cpu=native` on
//!   such a CPU): quads of unsigned bytes × signed bytes, `vpdpbusd` (`conv_vnni.rs`);
//! * else pairs of `i16` (`conv_pairs.rs`): with `avx2` on x86_64 the `vpmaddwd`
//!   micro-kernel of `conv_avx2.rs`, on aarch64 with `neon` the `smlal` micro-kernel of
//!   `conv_neon.rs`, otherwise a portable loop over the same tiles.
//!
//! `int8/mod.rs` compiles the chosen scheme as the module `conv_tiles`.
//!
//! All run through the same driver and packing code below, and the tests compare each build
//! against the reference kernel. Runtime detection would need `std` (and an `unsafe` call
//! into a `#[target_feature]` function per kernel call); core has neither, so the choice is
//! the build's.

use super::quant::PerChannelQuant;
use crate::ops::conv_geometry::{valid_outputs, Geometry};

use super::conv_tiles as tiles;
use tiles::{Acc, WTile, XTile, CB, CT, N, RC, TW};

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
    let zp = q.input_zp;
    // Valid output columns of each kernel column (as in the reference kernel).
    for (kw, c) in cols.iter_mut().enumerate() {
        let (ow0, ow1) = valid_outputs(g.wo, g.w, g.stride, kw * g.dilation, g.pad);
        *c = (ow0, ow1, 0);
    }
    let mut xt: XTile = tiles::X0;
    let mut wt: WTile = tiles::W0;
    let mut acc_block = [[0i32; TW]; CB];
    let mut offsets = [0i32; CB];
    // Stride 1: each term's input offset from the tile's top-left tap, once per call.
    let mut term_offsets = [0u32; TERM_OFFSETS];
    let interior_path = g.stride == 1 && r_len <= TERM_OFFSETS && x.len() <= u32::MAX as usize;
    if interior_path {
        let mut t = Term {
            cl: 0,
            kh: 0,
            kw: 0,
        };
        for o in &mut term_offsets[..r_len] {
            *o = ((t.cl * g.h + t.kh * g.dilation) * g.w + t.kw * g.dilation) as u32;
            t = t.next(g.k);
        }
    }
    let reach = (g.k - 1) * g.dilation;
    for group in 0..g.groups {
        let xg = &x[group * cig * plane_in..(group + 1) * cig * plane_in];
        for cb0 in (0..cog).step_by(CB) {
            let cb1 = (cb0 + CB).min(cog);
            for (cl, o) in offsets[..cb1 - cb0].iter_mut().enumerate() {
                let co = group * cog + cb0 + cl;
                *o = tiles::offset(zp, &w[co * r_len..(co + 1) * r_len]);
            }
            for oh in 0..g.ho {
                for ow0 in (0..g.wo).step_by(TW) {
                    let tw = TW.min(g.wo - ow0);
                    // Every tap of the tile inside the image: runs straight from the input.
                    let interior = interior_path
                        && tw == TW
                        && oh >= g.pad
                        && oh + reach < g.h + g.pad
                        && ow0 >= g.pad
                        && ow0 + TW + reach <= g.w + g.pad;
                    let base = if interior {
                        (oh - g.pad) * g.w + ow0 - g.pad
                    } else {
                        0
                    };
                    let mut term = Term {
                        cl: 0,
                        kh: 0,
                        kw: 0,
                    };
                    for r0 in (0..r_len).step_by(RC) {
                        let rc = RC.min(r_len - r0);
                        if interior {
                            pack_interior(&mut xt, xg, &term_offsets[r0..r0 + rc], base, zp);
                        } else {
                            term = pack_input(&mut xt, g, xg, cols, (oh, ow0, tw), term, rc, zp);
                        }
                        let ns = rc.div_ceil(N);
                        for ct0 in (cb0..cb1).step_by(CT) {
                            let nc = CT.min(cb1 - ct0);
                            let rows: [&[i8]; CT] = core::array::from_fn(|c| {
                                let co = group * cog + ct0 + c;
                                if c < nc {
                                    &w[co * r_len + r0..co * r_len + r0 + rc]
                                } else {
                                    &[]
                                }
                            });
                            let block = &mut acc_block[ct0 - cb0..ct0 - cb0 + nc];
                            let mut acc: Acc = [[0; TW]; CT];
                            if r0 > 0 {
                                acc[..nc].copy_from_slice(block);
                            }
                            tiles::multiply(&xt, ns, rows, &mut wt, &mut acc);
                            block.copy_from_slice(&acc[..nc]);
                        }
                    }
                    for (cl, (a, &o)) in acc_block[..cb1 - cb0].iter().zip(&offsets).enumerate() {
                        let co = group * cog + cb0 + cl;
                        let out = &mut y[co * plane_out + oh * g.wo + ow0..][..tw];
                        requantize_row(q, co, a, o, r_len, out);
                    }
                }
            }
        }
    }
}

/// Writes the outputs of one tile row of channel `co`: `q.output(co, acc[j] − offset)`, the
/// exact sums of an `r_len`-term reduction. With AVX2, eight at a time where the channel's
/// parameters allow it (`requant_avx2.rs`, bit-identical).
#[inline]
#[cfg_attr(
    not(all(target_arch = "x86_64", target_feature = "avx2")),
    allow(unused_variables)
)]
fn requantize_row<const CO: usize>(
    q: &PerChannelQuant<'_, CO>,
    co: usize,
    acc: &[i32; TW],
    offset: i32,
    r_len: usize,
    out: &mut [i8],
) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        // |w · (x − zp_in)| ≤ 128 · 255 per term.
        let bound = 128 * 255 * r_len as i64;
        if let Some(rq) = super::requant_avx2::RowQuant::new(q, co, offset, bound) {
            for (ys, a) in out.chunks_mut(8).zip(acc.chunks_exact(8)) {
                if let Ok(a) = <[i32; 8]>::try_from(a) {
                    for (y, v) in ys.iter_mut().zip(rq.apply(a)) {
                        *y = v as i8;
                    }
                }
            }
            return;
        }
    }
    for (y, &v) in out.iter_mut().zip(acc.iter()) {
        *y = q.output(co, v - offset);
    }
}

/// Longest reduction whose term offsets [`conv`] tabulates (4.5 KiB of stack): the 3×3
/// convolutions up to 128 input channels.
const TERM_OFFSETS: usize = 1152;

/// Fills the input tile for a tile whose taps are all inside the image (stride 1): term `r`'s
/// run starts at `base + offsets[r]`; the zero weight partners after the last term read `zp`.
#[inline]
fn pack_interior(xt: &mut XTile, xg: &[i8], offsets: &[u32], base: usize, zp: i8) {
    let pad_run = [zp; TW];
    for (dst, slot) in xt.iter_mut().zip(offsets.chunks(N)) {
        let runs: [&[i8; TW]; N] = core::array::from_fn(|i| {
            slot.get(i)
                .and_then(|&o| xg.get(base + o as usize..)?.first_chunk::<TW>())
                .unwrap_or(&pad_run)
        });
        tiles::pack_run(dst, runs, zp);
    }
}

/// Fills the input tile with `rc` terms starting at `term` for output row `oh`, columns
/// `ow0..ow0 + tw`; returns the term after the chunk. Each slot's `N` runs are whole input
/// runs where possible ([`whole_run`]), else gathered by [`gather_run`] (padding taps, columns
/// past `tw` and the terms after the last one read `zp`, the real zero).
#[allow(clippy::too_many_arguments)]
fn pack_input(
    xt: &mut XTile,
    g: &Geometry,
    xg: &[i8],
    cols: &[(usize, usize, usize)],
    (oh, ow0, tw): (usize, usize, usize),
    mut term: Term,
    rc: usize,
    zp: i8,
) -> Term {
    let at = (oh, ow0, tw);
    let mut gathered = [[zp; TW]; N];
    let mut window = Window::new(g, zp);
    for (s, dst) in xt[..rc.div_ceil(N)].iter_mut().enumerate() {
        let mut whole: [Option<&[i8; TW]>; N] = [None; N];
        for (i, (run, tmp)) in whole.iter_mut().zip(gathered.iter_mut()).enumerate() {
            if N * s + i < rc {
                *run = whole_run(g, xg, cols, at, term);
                if run.is_none() && !window.run(tmp, g, xg, at, term) {
                    gather_run(tmp, g, xg, cols, at, Some(term), zp);
                }
                term = term.next(g.k);
            } else {
                gather_run(tmp, g, xg, cols, at, None, zp);
            }
        }
        let mut runs: [&[i8; TW]; N] = [&gathered[0]; N];
        for ((r, wr), tmp) in runs.iter_mut().zip(whole).zip(&gathered) {
            *r = wr.unwrap_or(tmp);
        }
        tiles::pack_run(dst, runs, zp);
    }
    term
}

/// Longest padded input row segment a [`Window`] holds.
const WINDOW: usize = 2 * TW + 64;

/// One input row segment around a tile with its padding written out (`zp`), for stride-1
/// terms whose runs reach into the padding: the `K` terms of one input channel and kernel row
/// read `TW` columns of it at offsets `kw · D`, so the row is copied once per `K` terms, and
/// each run is a fixed-size copy out of it instead of a gather.
struct Window {
    /// `(input channel, input row)` held, if any.
    key: Option<(usize, usize)>,
    /// Whether the geometry fits (stride 1, `TW + (K − 1)·D ≤ WINDOW`).
    usable: bool,
    zp: i8,
    buf: [i8; WINDOW],
}

impl Window {
    fn new(g: &Geometry, zp: i8) -> Window {
        Window {
            key: None,
            usable: g.stride == 1 && TW + (g.k - 1) * g.dilation <= WINDOW,
            zp,
            buf: [zp; WINDOW],
        }
    }

    /// Writes term `t`'s run for the tile into `dst`; false where the window does not apply
    /// (the caller gathers instead).
    fn run(
        &mut self,
        dst: &mut [i8; TW],
        g: &Geometry,
        xg: &[i8],
        (oh, ow0, _): (usize, usize, usize),
        t: Term,
    ) -> bool {
        if !self.usable {
            return false;
        }
        let ih = oh + t.kh * g.dilation;
        if self.key != Some((t.cl, ih)) {
            self.key = Some((t.cl, ih));
            self.buf.fill(self.zp);
            if ih >= g.pad && ih < g.h + g.pad {
                // Window column i is input column ow0 + i − pad.
                let row = &xg[(t.cl * g.h + ih - g.pad) * g.w..][..g.w];
                let i0 = g.pad.saturating_sub(ow0);
                let c0 = (ow0 + i0) - g.pad;
                let n = (WINDOW - i0).min(g.w.saturating_sub(c0));
                if n > 0 {
                    self.buf[i0..i0 + n].copy_from_slice(&row[c0..c0 + n]);
                }
            }
        }
        match self.buf.get(t.kw * g.dilation..t.kw * g.dilation + TW) {
            Some(src) => dst.copy_from_slice(src),
            None => return false,
        }
        true
    }
}

/// The `TW` input values term `t` reads for a whole tile, when they are consecutive and all
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

/// Gathers the `TW` input values term `t` reads (`zp` for padding taps, columns past `tw` and
/// `None`, a zero weight partner).
fn gather_run(
    dst: &mut [i8; TW],
    g: &Geometry,
    xg: &[i8],
    cols: &[(usize, usize, usize)],
    (oh, ow0, tw): (usize, usize, usize),
    t: Option<Term>,
    zp: i8,
) {
    dst.fill(zp);
    let Some(Term { cl, kh, kw }) = t else {
        return;
    };
    let ih = oh * g.stride + kh * g.dilation;
    let (lo, hi, _) = cols[kw];
    // Columns of this tile whose tap is inside the image.
    let ja = lo.saturating_sub(ow0).min(tw);
    let jb = hi.saturating_sub(ow0).min(tw).max(ja);
    if ih < g.pad || ih >= g.h + g.pad || ja == jb {
        return;
    }
    let row = &xg[cl * g.h * g.w + (ih - g.pad) * g.w..][..g.w];
    let first = (ow0 + ja) * g.stride + kw * g.dilation - g.pad;
    if g.stride == 1 {
        dst[ja..jb].copy_from_slice(&row[first..first + (jb - ja)]);
    } else {
        for (n, d) in dst[ja..jb].iter_mut().enumerate() {
            *d = row[first + n * g.stride];
        }
    }
}
