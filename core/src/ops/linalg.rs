//! Matrix products and linear (fully connected) layers.
//!
//! Every dot product is accumulated in one fixed order ([`dot`]), so results are the same on
//! every run and every build.

use super::lane8::F8;
use crate::tensor::{Map, Mat, Tokens};

/// Lanes of [`dot`]'s partial sums.
const LANES: usize = 8;

/// `Σ a[i]·b[i]` over the common length, in a fixed order that a compiler can vectorise:
/// term `i` of each whole block of `2·LANES` goes to partial sum `i mod 2·LANES` (two banks of
/// [`LANES`] lanes, so two vector adds are in flight), the tail after the last whole block is
/// added to lane 0 of the first bank in index order, and the sixteen partial sums are combined
/// by a fixed pairwise tree. A strict left-to-right sum is one dependent add per term (about a
/// third of a multiply–add per cycle); this order gives the same bits on every build, SIMD or
/// not (no fused multiply–add: Rust never contracts `a·b + c`), at several times the speed.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    lanes(a, b, |x, y| x * y)
}

/// `Σ a[i]` in [`dot`]'s fixed lane order.
pub(crate) fn sum_lanes(a: &[f32]) -> f32 {
    lanes(a, a, |x, _| x)
}

/// `Σ term(a[i], b[i])` in [`dot`]'s fixed lane order.
#[inline(always)]
fn lanes(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lo = [0.0f32; LANES];
    let mut hi = [0.0f32; LANES];
    let blocks = n / (2 * LANES);
    for (ca, cb) in a
        .chunks_exact(2 * LANES)
        .zip(b.chunks_exact(2 * LANES))
        .take(blocks)
    {
        for l in 0..LANES {
            lo[l] += term(ca[l], cb[l]);
            hi[l] += term(ca[LANES + l], cb[LANES + l]);
        }
    }
    for (x, y) in a[blocks * 2 * LANES..].iter().zip(&b[blocks * 2 * LANES..]) {
        lo[0] += term(*x, *y);
    }
    for l in 0..LANES {
        lo[l] += hi[l];
    }
    let q = [lo[0] + lo[4], lo[1] + lo[5], lo[2] + lo[6], lo[3] + lo[7]];
    (q[0] + q[2]) + (q[1] + q[3])
}

/// `y = a · b`.
pub fn matmul<const M: usize, const K: usize, const N: usize>(
    a: &Mat<M, K>,
    b: &Mat<K, N>,
    y: &mut Mat<M, N>,
) {
    for (a_row, y_row) in a.iter().zip(y.iter_mut()) {
        y_row.fill(0.0);
        for (av, b_row) in a_row.iter().zip(b) {
            for (o, bv) in y_row.iter_mut().zip(b_row) {
                *o += av * bv;
            }
        }
    }
}

/// `y = a · bᵀ` (rows of `a` against rows of `b`: query–key scores).
pub fn matmul_bt<const M: usize, const K: usize, const N: usize>(
    a: &Mat<M, K>,
    b: &Mat<N, K>,
    y: &mut Mat<M, N>,
) {
    for (a_row, y_row) in a.iter().zip(y.iter_mut()) {
        for (o, b_row) in y_row.iter_mut().zip(b) {
            *o = dot(a_row, b_row);
        }
    }
}

/// `y = aᵀ · b` (columns of `a` against columns of `b`).
pub fn matmul_at<const K: usize, const M: usize, const N: usize>(
    a: &Mat<K, M>,
    b: &Mat<K, N>,
    y: &mut Mat<M, N>,
) {
    for row in y.iter_mut() {
        row.fill(0.0);
    }
    for (a_row, b_row) in a.iter().zip(b) {
        for (av, y_row) in a_row.iter().zip(y.iter_mut()) {
            for (o, bv) in y_row.iter_mut().zip(b_row) {
                *o += av * bv;
            }
        }
    }
}

/// A linear layer over tokens, `y = x · wᵀ + b`, with PyTorch's weight layout `[out][in]`.
///
/// Each output is `dot(x_row, w_row) + b` (`+ 0.0` without a bias). Eight outputs at a time
/// are computed together, one per lane ([`dot8`], the weights of the eight rows transposed once
/// per call), with exactly [`dot`]'s operations per lane; the outputs past the last whole eight
/// call [`dot`]. Why: one [`dot`] call per output spent most of its time in the call and the
/// final pairwise tree (16 products at stage 1 of CAFCT-Net).
pub fn linear<const N: usize, const DI: usize, const DO: usize>(
    x: &Tokens<N, DI>,
    w: &Mat<DO, DI>,
    bias: Option<&[f32; DO]>,
    y: &mut Tokens<N, DO>,
) {
    let whole = DO / 8 * 8;
    let (rows, _) = w.as_chunks::<8>();
    for (o0, rows) in (0..).step_by(8).zip(rows) {
        let mut wt = [[0.0f32; 8]; DI];
        for (i, t) in wt.iter_mut().enumerate() {
            *t = core::array::from_fn(|l| rows[l][i]);
        }
        let b: [f32; 8] = core::array::from_fn(|l| bias.map_or(0.0, |b| b[o0 + l]));
        let b = F8::load(&b);
        for (x_row, y_row) in x.iter().zip(y.iter_mut()) {
            let (out, _) = y_row.as_chunks_mut::<8>();
            if let Some(out) = out.get_mut(o0 / 8) {
                dot8(x_row, &wt).add(b).store(out);
            }
        }
    }
    for (x_row, y_row) in x.iter().zip(y.iter_mut()) {
        for (o, (w_row, j)) in y_row.iter_mut().zip(w.iter().zip(0..)).skip(whole) {
            *o = dot(x_row, w_row) + bias.map_or(0.0, |b| b[j]);
        }
    }
}

/// Eight [`dot`]s of `x` at once, lane `l` against column `l` of `wt` (`wt[i][l]` is weight
/// `i` of output `l`): the same partial sums (term `i` of each whole block of 16 to partial sum
/// `i mod 16`, the tail to partial sum 0 in index order), the same pairwise tree, lane by
/// lane — so each lane has [`dot`]'s bits.
#[inline(always)]
fn dot8<const DI: usize>(x: &[f32; DI], wt: &[[f32; 8]; DI]) -> F8 {
    let mut lo = [F8::zero(); LANES];
    let mut hi = [F8::zero(); LANES];
    let blocks = DI / (2 * LANES);
    let (xb, xt) = x.as_chunks::<{ 2 * LANES }>();
    let (wb, wtail) = wt.as_chunks::<{ 2 * LANES }>();
    for (xs, ws) in xb.iter().zip(wb).take(blocks) {
        for l in 0..LANES {
            lo[l] = lo[l].add_scaled(xs[l], F8::load(&ws[l]));
            hi[l] = hi[l].add_scaled(xs[LANES + l], F8::load(&ws[LANES + l]));
        }
    }
    for (&xv, wv) in xt.iter().zip(wtail) {
        lo[0] = lo[0].add_scaled(xv, F8::load(wv));
    }
    for l in 0..LANES {
        lo[l] = lo[l].add(hi[l]);
    }
    let q = [
        lo[0].add(lo[4]),
        lo[1].add(lo[5]),
        lo[2].add(lo[6]),
        lo[3].add(lo[7]),
    ];
    q[0].add(q[2]).add(q[1].add(q[3]))
}

/// Pixels per register tile of [`mix_channels`] (four 8-lane accumulators: four independent
/// chains of adds).
const MIX_TILE: usize = 32;

/// `plane[n] = Σ_c w[c] · x[c][n]` over the pixels of a `C`-channel map, each sum from 0 in
/// channel order — the same value as `C` passes of `plane[n] += x[c][n] · w[c]` over a zeroed
/// plane, computed 32 pixels at a time in registers (one store per pixel instead of one per
/// pass).
pub(crate) fn mix_channels<const C: usize, const H: usize, const W: usize>(
    x: &Map<C, H, W>,
    w: &[f32; C],
    plane: &mut [f32],
) {
    const PER: usize = MIX_TILE / 8;
    let n = plane.len().min(H * W);
    let whole = n / MIX_TILE;
    for b in 0..whole {
        let mut acc = [F8::zero(); PER];
        for (&wc, xc) in w.iter().zip(x) {
            let (chunks, _) = xc.as_flattened().as_chunks::<8>();
            for (k, a) in acc.iter_mut().enumerate() {
                if let Some(x8) = chunks.get(b * PER + k) {
                    *a = a.add_scaled(wc, F8::load(x8));
                }
            }
        }
        let (out, _) = plane.as_chunks_mut::<8>();
        for (k, a) in acc.into_iter().enumerate() {
            if let Some(o) = out.get_mut(b * PER + k) {
                a.store(o);
            }
        }
    }
    for (i, o) in plane.iter_mut().enumerate().take(n).skip(whole * MIX_TILE) {
        let mut v = 0.0f32;
        for (&wc, xc) in w.iter().zip(x) {
            v += xc.as_flattened()[i] * wc;
        }
        *o = v;
    }
}

/// Pixels per register tile of [`mix_channels_group`]: two 8-lane vectors for each of the
/// `G` rows (16 accumulators for `G = 8`: the x loads shared by eight rows).
const GROUP_TILE: usize = 16;

/// [`mix_channels`] for `G` rows at once: `planes[g][n] = Σ_c w[g][c] · x[c][n]`, each sum
/// from 0 in channel order (the same bits as `G` calls of [`mix_channels`]), each 16-pixel
/// tile of the `C` input planes read once for all `G` rows instead of once per row.
pub(crate) fn mix_channels_group<const C: usize, const H: usize, const W: usize, const G: usize>(
    x: &Map<C, H, W>,
    w: &[[f32; C]; G],
    planes: &mut Map<G, H, W>,
) {
    const PER: usize = GROUP_TILE / 8;
    let whole = H * W / GROUP_TILE;
    for b in 0..whole {
        let mut acc = [[F8::zero(); PER]; G];
        for (c, xc) in x.iter().enumerate() {
            let (chunks, _) = xc.as_flattened().as_chunks::<8>();
            let mut xv = [F8::zero(); PER];
            for (v, x8) in xv.iter_mut().zip(chunks.get(b * PER..).unwrap_or_default()) {
                *v = F8::load(x8);
            }
            for (a, wg) in acc.iter_mut().zip(w) {
                for (a, v) in a.iter_mut().zip(xv) {
                    *a = a.add_scaled(wg[c], v);
                }
            }
        }
        for (a, plane) in acc.iter().zip(planes.iter_mut()) {
            let (out, _) = plane.as_flattened_mut().as_chunks_mut::<8>();
            for (a, o) in a.iter().zip(out.get_mut(b * PER..).unwrap_or_default()) {
                a.store(o);
            }
        }
    }
    for (wg, plane) in w.iter().zip(planes.iter_mut()) {
        for (i, o) in plane
            .as_flattened_mut()
            .iter_mut()
            .enumerate()
            .skip(whole * GROUP_TILE)
        {
            let mut v = 0.0f32;
            for (&wc, xc) in wg.iter().zip(x) {
                v += xc.as_flattened()[i] * wc;
            }
            *o = v;
        }
    }
}

/// `y[n][c] += Σ_k w[k][c] · g[k][n]` for `k` ascending — the same value, bit for bit, as `K`
/// passes of `y[n][c] += w[k][c] · g[k][n]` (each product rounded, then added), which is how a
/// `Linear(K, C)` sums a token's terms. `g[k]` is hidden channel `k`'s plane of `y.len()`
/// values, `w[k]` column `k` of the layer's weight.
///
/// Why: adding one plane at a time into all `N × C` outputs reads and writes the whole output
/// once per hidden channel, and the compiler vectorised that loop across tokens with gathers.
/// Here a register tile of outputs (up to 32 features × 2 tokens, 16 × 4 or 8 × 8) is loaded
/// once, takes all the planes' terms in plane order, and is stored once.
pub(crate) fn accumulate_planes<const C: usize>(y: &mut [[f32; C]], w: &[[f32; C]], g: &[&[f32]]) {
    if C.is_multiple_of(32) {
        accumulate_tiles::<C, 4, 2>(y, w, g);
    } else if C.is_multiple_of(16) {
        accumulate_tiles::<C, 2, 4>(y, w, g);
    } else {
        accumulate_tiles::<C, 1, 8>(y, w, g);
    }
}

/// [`accumulate_planes`] in tiles of `V` eight-lane feature vectors × `T` tokens; the features
/// past the last whole vector and the tokens past the last whole tile in scalar steps, in the
/// same order.
#[inline(always)]
fn accumulate_tiles<const C: usize, const V: usize, const T: usize>(
    y: &mut [[f32; C]],
    w: &[[f32; C]],
    g: &[&[f32]],
) {
    let n = y.len();
    let vectors = C / 8 / V * V;
    let whole = n / T * T;
    for (t0, tile) in (0..).step_by(T).zip(y.chunks_exact_mut(T)) {
        for v0 in (0..vectors).step_by(V) {
            let mut acc = [[F8::zero(); V]; T];
            for (a, row) in acc.iter_mut().zip(tile.iter()) {
                let (lanes, _) = row.as_chunks::<8>();
                for (a, x) in a.iter_mut().zip(lanes.get(v0..).unwrap_or_default()) {
                    *a = F8::load(x);
                }
            }
            for (wk, plane) in w.iter().zip(g) {
                let (lanes, _) = wk.as_chunks::<8>();
                let mut wv = [F8::zero(); V];
                for (o, x) in wv.iter_mut().zip(lanes.get(v0..).unwrap_or_default()) {
                    *o = F8::load(x);
                }
                for (a, &gk) in acc.iter_mut().zip(plane.get(t0..).unwrap_or_default()) {
                    for (a, x) in a.iter_mut().zip(wv) {
                        *a = a.add_scaled(gk, x);
                    }
                }
            }
            for (a, row) in acc.iter().zip(tile.iter_mut()) {
                let (lanes, _) = row.as_chunks_mut::<8>();
                for (a, x) in a.iter().zip(lanes.get_mut(v0..).unwrap_or_default()) {
                    a.store(x);
                }
            }
        }
    }
    let scalar_features = vectors * 8;
    for (t, row) in y.iter_mut().enumerate() {
        let from = if t < whole { scalar_features } else { 0 };
        for (c, o) in row.iter_mut().enumerate().skip(from) {
            for (wk, plane) in w.iter().zip(g) {
                if let Some(gk) = plane.get(t) {
                    *o += wk[c] * gk;
                }
            }
        }
    }
}
