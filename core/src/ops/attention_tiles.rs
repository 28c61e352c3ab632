//! The two products of f32 attention for a tile of queries at once: the scores `q·kᵀ` of
//! `T` queries against all keys, and the attention-weighted sums of the values.
//!
//! Computed one query at a time, each score row is a run of multiply–adds over the keys that
//! reloads the key matrix for every query, and each attention output is one chain of dependent
//! adds over the keys (the add latency, not the arithmetic, sets the pace). A tile of `T`
//! queries shares every load of a key or value row among `T` queries and keeps `T` independent
//! chains in registers (`T` vectors of 8 lanes, [`F8`]).
//!
//! **Same bits as one query at a time.** Only the loop order across *different* outputs
//! changes: every score still starts at 0 and adds its terms in feature order, every output
//! feature starts at 0 and adds its terms in key order, with the product and the sum rounded
//! separately (Rust does not contract `a·b + c`).

use super::lane8::F8;
use crate::tensor::{Mat, Tokens};
use core::ops::Range;

/// Queries per tile.
pub(crate) const TILE: usize = 8;

/// Accumulator lanes per query (one 256-bit vector).
const LANES: usize = 8;

/// `s[t][k] = Σ_{i ∈ feats} q[t][i] · kt[i][k]` (from 0, `i` ascending) for every key `k`.
/// `kt` holds the keys transposed (feature-major).
pub(crate) fn scores<const T: usize, const C: usize, const NK: usize>(
    q: &[[f32; C]; T],
    feats: Range<usize>,
    kt: &Mat<C, NK>,
    s: &mut [[f32; NK]; T],
) {
    let rows = kt.get(feats.clone()).unwrap_or(&[]);
    let whole = NK / LANES;
    for c in 0..whole {
        let mut acc = [F8::zero(); T];
        for (i, row) in feats.clone().zip(rows) {
            let (chunks, _) = row.as_chunks::<LANES>();
            let Some(kr) = chunks.get(c) else { continue };
            let k = F8::load(kr);
            for (a, qt) in acc.iter_mut().zip(q) {
                *a = a.add_scaled(qt[i], k);
            }
        }
        for (st, a) in s.iter_mut().zip(acc) {
            let (chunks, _) = st.as_chunks_mut::<LANES>();
            if let Some(out) = chunks.get_mut(c) {
                a.store(out);
            }
        }
    }
    for k in whole * LANES..NK {
        for (st, qt) in s.iter_mut().zip(q) {
            let mut a = 0.0f32;
            for (i, row) in feats.clone().zip(rows) {
                a += qt[i] * row[k];
            }
            st[k] = a;
        }
    }
}

/// `o[t][out0 + j] = Σ_k a[t][k] · kv[k][vals.start + j]` (from 0, keys ascending) for the
/// value features `vals` of a head, written from feature `out0` on.
pub(crate) fn weighted_values<const T: usize, const NK: usize, const C2: usize, const C: usize>(
    a: &[[f32; NK]; T],
    kv: &Tokens<NK, C2>,
    vals: Range<usize>,
    out0: usize,
    o: &mut [[f32; C]; T],
) {
    let whole = vals.len() / LANES;
    for c in 0..whole {
        let f0 = vals.start + c * LANES;
        let mut acc = [F8::zero(); T];
        for (k, row) in kv.iter().enumerate() {
            let Some(vr) = row.get(f0..).and_then(|r| r.first_chunk::<LANES>()) else {
                continue;
            };
            let v = F8::load(vr);
            for (acc_t, a_t) in acc.iter_mut().zip(a) {
                *acc_t = acc_t.add_scaled(a_t[k], v);
            }
        }
        let dst = out0 + c * LANES;
        for (ot, acc_t) in o.iter_mut().zip(acc) {
            if let Some(out) = ot.get_mut(dst..).and_then(|r| r.first_chunk_mut::<LANES>()) {
                acc_t.store(out);
            }
        }
    }
    for j in whole * LANES..vals.len() {
        for (ot, a_t) in o.iter_mut().zip(a) {
            let mut x = 0.0f32;
            for (w, row) in a_t.iter().zip(kv) {
                x += w * row[vals.start + j];
            }
            ot[out0 + j] = x;
        }
    }
}
