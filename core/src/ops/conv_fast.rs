//! The fast f32 convolution: a blocked implicit GEMM with register tiling.
//!
//! # Same sums, same order
//!
//! The reference kernel ([`super::conv`]'s `conv_kernel`) computes every output as
//! `bias + w₀·x₀ + w₁·x₁ + …` over the reduction terms in weight order `(ci, kh, kw)`, one
//! rounding per multiply and per add, skipping the taps in the padding. This kernel keeps that
//! order for every output: each accumulator starts at the bias and takes the terms in weight
//! order, chunk after chunk. A tap in the padding is packed as `0.0`, and `acc + w·0 = acc`
//! exactly (weights are finite), so skipping it or adding it gives the same number.
//!
//! * The **portable** micro-kernel rounds the product and the sum separately, like the
//!   reference: its results are **bit-identical** to the reference kernel (tested).
//! * The **x86_64 FMA** micro-kernel (builds with `target_feature = "avx2"` and `"fma"`:
//!   `-C target-cpu=native` or `-C target-feature=+avx2,+fma`) uses `vfmadd231ps`, one rounding
//!   per term instead of two: the results differ from the reference within float rounding (the
//!   tests bound it) and are the same on every run of that build. The int8 engine is the
//!   bit-exact path across builds; the f32 engine is bit-reproducible per build.
//!
//! # Layout
//!
//! For one output row, a tile of [`TW`] output columns and a chunk of [`RC`] reduction terms:
//!
//! * the **input tile** `xt[r][j]` holds term `r`'s input value under output column `j` (an
//!   im2col tile, zero in the padding), packed once and used by every output channel of the
//!   block ([`CB`] channels);
//! * weights are read in place: the layout `[CO][CI/G][K][K]` already stores each channel's
//!   terms contiguously, in weight order;
//! * the **micro-kernel** keeps up to [`CT`] channels × [`TW`] columns of accumulators in
//!   registers for the whole chunk (AVX2: 12 of the 16 `ymm` registers): per term, two tile
//!   loads, one broadcast per channel and two FMAs per channel.
//!
//! Accumulators live in a per-block stack buffer between chunks. Every buffer is a fixed-size
//! stack array (about 16 KiB in all), so the kernel needs no arena.
//!
//! Depthwise convolutions (one input channel per output channel) stay on the reference kernel:
//! with a single channel per group a GEMM tile has nothing to share.

use crate::ops::conv_geometry::{valid_outputs, Geometry};

/// Output columns per tile (two 8-lane `f32` vectors).
pub(crate) const TW: usize = 16;
/// Reduction terms per chunk.
pub(crate) const RC: usize = 128;
/// Output channels per register tile.
pub(crate) const CT: usize = 6;
/// Output channels per accumulator block (a multiple of [`CT`]).
pub(crate) const CB: usize = 20 * CT;

/// Input tile: per term, `TW` columns.
type XTile = [[f32; TW]; RC];

/// Whether the fast kernel handles this geometry: everything but depthwise convolutions
/// (and kernels wider than [`MAX_K`], which these networks do not have).
pub(crate) fn applies(g: &Geometry) -> bool {
    (g.co / g.groups > 1 || g.ci / g.groups > 1) && g.k <= MAX_K
}

/// The fast convolution over flat slices (shapes checked at compile time by the caller).
pub(crate) fn conv(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    conv_rows(g, x, w, bias, 0..g.ho, y);
}

/// Output rows `rows` of the convolution into `y`, which holds just those rows of every output
/// channel (`co × rows.len() × wo`): for callers that stream a full-resolution output in bands
/// (the segmentation head) instead of holding the whole map. Every output gets exactly the
/// bits the full convolution gives it. `rows` must lie within `0..g.ho`.
pub(crate) fn conv_rows(
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    rows: core::ops::Range<usize>,
    y: &mut [f32],
) {
    let cig = g.ci / g.groups;
    let cog = g.co / g.groups;
    let r_len = cig * g.k * g.k;
    let plane_in = g.h * g.w;
    let band = rows.len();
    let plane_out = band * g.wo;
    // Valid output columns of each kernel column (`applies` guarantees K ≤ MAX_K).
    let mut cols = [(0usize, 0usize); MAX_K];
    for (kw, c) in cols.iter_mut().enumerate().take(g.k) {
        *c = valid_outputs(g.wo, g.w, g.stride, kw * g.dilation, g.pad);
    }
    let mut xt: XTile = [[0.0; TW]; RC];
    let mut acc_block = [[0.0f32; TW]; CB];
    for group in 0..g.groups {
        let xg = &x[group * cig * plane_in..(group + 1) * cig * plane_in];
        for cb0 in (0..cog).step_by(CB) {
            let cb1 = (cb0 + CB).min(cog);
            for oh in rows.clone() {
                for ow0 in (0..g.wo).step_by(TW) {
                    let tw = TW.min(g.wo - ow0);
                    for (cl, a) in acc_block[..cb1 - cb0].iter_mut().enumerate() {
                        *a = [bias.map_or(0.0, |b| b[group * cog + cb0 + cl]); TW];
                    }
                    for r0 in (0..r_len).step_by(RC) {
                        let rc = RC.min(r_len - r0);
                        pack_input(&mut xt[..rc], g, xg, &cols, (oh, ow0, tw), r0);
                        for ct0 in (cb0..cb1).step_by(CT) {
                            let nc = CT.min(cb1 - ct0);
                            let co0 = group * cog + ct0;
                            let wr = &w[co0 * r_len..(co0 + nc) * r_len];
                            let block = &mut acc_block[ct0 - cb0..ct0 - cb0 + nc];
                            tile(&xt[..rc], wr, r_len, r0, block);
                        }
                    }
                    for (cl, a) in acc_block[..cb1 - cb0].iter().enumerate() {
                        let co = group * cog + cb0 + cl;
                        let row = co * plane_out + (oh - rows.start) * g.wo + ow0;
                        y[row..row + tw].copy_from_slice(&a[..tw]);
                    }
                }
            }
        }
    }
}

/// Largest kernel size the fast kernel's column table holds.
pub(crate) const MAX_K: usize = 16;

/// Runs the micro-kernel for `block.len()` (1..=[`CT`]) channels whose weight rows (each
/// `r_len` long) start `wr`, on the chunk of terms `r0..r0 + xt.len()`.
#[inline]
fn tile(xt: &[[f32; TW]], wr: &[f32], r_len: usize, r0: usize, block: &mut [[f32; TW]]) {
    let row = |c: usize| &wr[c * r_len + r0..c * r_len + r0 + xt.len()];
    match block {
        [a0, a1, a2, a3, a4, a5] => micro_kernel(
            xt,
            [row(0), row(1), row(2), row(3), row(4), row(5)],
            [a0, a1, a2, a3, a4, a5],
        ),
        [a0, a1, a2, a3, a4] => micro_kernel(
            xt,
            [row(0), row(1), row(2), row(3), row(4)],
            [a0, a1, a2, a3, a4],
        ),
        [a0, a1, a2, a3] => {
            micro_kernel(xt, [row(0), row(1), row(2), row(3)], [a0, a1, a2, a3]);
        }
        [a0, a1, a2] => micro_kernel(xt, [row(0), row(1), row(2)], [a0, a1, a2]),
        [a0, a1] => micro_kernel(xt, [row(0), row(1)], [a0, a1]),
        [a0] => micro_kernel(xt, [row(0)], [a0]),
        _ => {}
    }
}

/// Fills `xt` with the terms `r0..r0 + xt.len()` for output row `oh`, columns `ow0..ow0 + tw`.
/// Taps in the padding and columns past `tw` are 0.
fn pack_input(
    xt: &mut [[f32; TW]],
    g: &Geometry,
    xg: &[f32],
    cols: &[(usize, usize); MAX_K],
    (oh, ow0, tw): (usize, usize, usize),
    r0: usize,
) {
    let kk = g.k * g.k;
    let plane = g.h * g.w;
    let (mut cl, mut kh, mut kw) = (r0 / kk, (r0 % kk) / g.k, r0 % g.k);
    for dst in xt.iter_mut() {
        let this = (cl, kh, kw);
        // The next term in weight order (ci, kh, kw).
        kw += 1;
        if kw == g.k {
            kw = 0;
            kh += 1;
            if kh == g.k {
                kh = 0;
                cl += 1;
            }
        }
        let (cl, kh, kw) = this;
        let ih = oh * g.stride + kh * g.dilation;
        let (lo, hi) = cols[kw];
        // Columns of this tile whose tap is inside the image.
        let ja = lo.saturating_sub(ow0).min(tw);
        let jb = hi.saturating_sub(ow0).min(tw).max(ja);
        if ih < g.pad || ih >= g.h + g.pad || ja == jb {
            *dst = [0.0; TW];
            continue;
        }
        let src = &xg[cl * plane + (ih - g.pad) * g.w..][..g.w];
        let first = (ow0 + ja) * g.stride + kw * g.dilation - g.pad;
        if g.stride == 1 && ja == 0 && jb == TW {
            dst.copy_from_slice(&src[first..first + TW]);
            continue;
        }
        dst[..ja].fill(0.0);
        if g.stride == 1 {
            dst[ja..jb].copy_from_slice(&src[first..first + (jb - ja)]);
        } else {
            for (n, d) in dst[ja..jb].iter_mut().enumerate() {
                *d = src[first + n * g.stride];
            }
        }
        dst[jb..].fill(0.0);
    }
}

/// `acc[c][j] += w[c][r] · xt[r][j]` for every term `r` of the chunk, in order.
#[inline]
fn micro_kernel<const NC: usize>(xt: &[[f32; TW]], w: [&[f32]; NC], acc: [&mut [f32; TW]; NC]) {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    super::conv_fma::micro_kernel(xt, w, acc);
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    )))]
    micro_kernel_portable(xt, w, acc);
}

/// The portable micro-kernel: product and sum rounded separately, as in the reference.
#[cfg_attr(
    all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ),
    allow(dead_code)
)]
fn micro_kernel_portable<const NC: usize>(
    xt: &[[f32; TW]],
    w: [&[f32]; NC],
    acc: [&mut [f32; TW]; NC],
) {
    let mut r: [[f32; TW]; NC] = core::array::from_fn(|c| *acc[c]);
    for (t, xr) in xt.iter().enumerate() {
        for (rc, wc) in r.iter_mut().zip(w.iter()) {
            let wv = wc[t];
            for (a, &xv) in rc.iter_mut().zip(xr.iter()) {
                *a += wv * xv;
            }
        }
    }
    for (dst, src) in acc.into_iter().zip(r.iter()) {
        *dst = *src;
    }
}

/// `acc[i] += w · x[i]` with the rounding of this build's micro-kernel (one fused rounding
/// with FMA, two roundings otherwise): for code that accumulates a convolution term by term
/// outside the kernel (the channel-streamed segmentation head) and must give the kernel's bits.
pub(crate) fn mul_add_into(acc: &mut [f32], w: f32, x: &[f32]) {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    super::conv_fma::mul_add_into(acc, w, x);
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    )))]
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += w * v;
    }
}
