//! Non-local (self-)attention over a rectangular region of a map, one query at a time.
//!
//! Shared by [`super::nonlocal`] (region = the whole map) and [`super::agcb`] (region = one
//! patch of the grid). Queries, keys and values are 1×1 convolutions, which commute with
//! cutting a map into patches, so they are computed once on the whole map and the patches are
//! addressed in place — no patch is copied. Each query's scores live in one row buffer of
//! region size: the N×N attention matrix is never materialised.

use crate::error::Error;
use core::ops::Range;

/// Query/key/value planes of a whole map, channel-major, `w` pixels per row.
#[derive(Debug, Clone, Copy)]
pub struct Qkv<'a> {
    /// `cr × h × w` queries.
    pub q: &'a [f32],
    /// `cr × h × w` keys.
    pub k: &'a [f32],
    /// `c × h × w` values.
    pub v: &'a [f32],
    /// Query/key channels.
    pub cr: usize,
    /// Value channels.
    pub c: usize,
    /// Map height.
    pub h: usize,
    /// Map width.
    pub w: usize,
}

/// For every pixel `n` of the region, computes `out[c] = Σ_m v[c][m] · softmax_m(Σ_j q[j][n]
/// k[j][m])` over pixels `m` of the same region (no `1/√d` scaling, as in AGPCNet), and hands
/// `(channel, flat pixel index, value)` to `emit`.
///
/// `row` must hold at least the region's pixel count, else the arena plan was wrong and
/// [`Error::ArenaTooSmall`] is returned before anything is emitted.
pub fn region_attention(
    t: &Qkv<'_>,
    rows: Range<usize>,
    cols: Range<usize>,
    row: &mut [f32],
    mut emit: impl FnMut(usize, usize, f32),
) -> Result<(), Error> {
    let plane = t.h * t.w;
    let width = cols.len();
    let n_region = rows.len() * width;
    let available = row.len() * 4;
    let scores = row.get_mut(..n_region).ok_or(Error::ArenaTooSmall {
        needed: n_region * 4,
        available,
    })?;
    for qy in rows.clone() {
        for qx in cols.clone() {
            let n = qy * t.w + qx;
            // scores over keys m of the region, in row-major region order
            for (i, s) in scores.iter_mut().enumerate() {
                let m = (rows.start + i / width) * t.w + cols.start + i % width;
                let mut e = 0.0f32;
                for j in 0..t.cr {
                    e += t.q[j * plane + n] * t.k[j * plane + m];
                }
                *s = e;
            }
            crate::ops::softmax_in_place(scores);
            for c in 0..t.c {
                let vc = &t.v[c * plane..(c + 1) * plane];
                let mut acc = 0.0f32;
                for (i, a) in scores.iter().enumerate() {
                    let m = (rows.start + i / width) * t.w + cols.start + i % width;
                    acc += vc[m] * a;
                }
                emit(c, n, acc);
            }
        }
    }
    Ok(())
}

/// Multiply-accumulates of attention within a region of `n` pixels: `QᵀK` (`n²·cr`) and
/// `V·Aᵀ` (`c·n²`).
pub const fn attention_macs(n: usize, cr: usize, c: usize) -> u64 {
    (n * n * cr + c * n * n) as u64
}
