//! The attention scores of one query against every key of one head ([`super::linalg::HeadKeys`])
//! for x86_64 builds with AVX-512 VNNI: the head's `d` terms four at a time by `vpdpbusd`
//! (unsigned byte × signed byte, four products summed into each `i32` lane), eight keys per
//! vector and [`KB`] keys per register block.
//!
//! * **Keys**: per quad `k` of the head's columns and per key `m`, the key's four values as
//!   unsigned bytes `u = x + 128` (`x ^ 0x80`) in one `i32` ("quad rows" of `NK` keys);
//! * **Query**: its four raw values of quad `k` (signed bytes) broadcast to every lane;
//! * **Accumulators** start at the caller's `init[m] + c`, the terms that turn
//!   `Σ_j u_mj·q_j` into `Σ_j (q_j − zq)(k_mj − zk)` (see `HeadKeys`).
//!
//! # No overflow
//!
//! Each `vpdpbusd` adds four products `u·q` with `0 ≤ u ≤ 255`, `−128 ≤ q ≤ 127`, so the
//! products alone sum to at most `32 640·d` in magnitude; the caller adds its correction with
//! wrapping arithmetic and the final value is the exact score sum, an `i32` for
//! `d ≤ MAX_ACT_DOT_TERMS` (checked by the caller at compile time), so the wrapping additions
//! are exact (integer addition modulo 2³² of terms whose true sum fits `i32`).
//!
//! # `unsafe`
//!
//! One call, as in `conv_vnni.rs` and for the same reason: `_mm256_dpbusd_epi32` lives in a
//! `#[target_feature(enable = "avx512vnni,avx512vl")]` function, and calling that from one
//! without the attribute is `unsafe` even when the whole build enables the features. This
//! module is compiled only when the build's target features include both (`cfg` on its `mod`
//! in `int8/mod.rs`), so the binary already requires such a CPU.

use core::arch::x86_64::{__m256i, _mm256_dpbusd_epi32, _mm256_set1_epi32};

/// Keys per register block (four vectors of eight).
const KB: usize = 32;

/// `acc[m] = init[m] + c + Σ_k Σ_b byte_b(u[k][m]) · q[k][b]` over the common length of
/// `init` and `acc` (the key count `nk`), with `u` holding `q.len()` quad rows of `nk` keys
/// (missing rows count as 0; the sums wrap).
#[inline]
#[allow(unsafe_code)]
pub(crate) fn scores(q: &[[i8; 4]], u: &[i32], init: &[i32], c: i32, acc: &mut [i32]) {
    let nk = acc.len().min(init.len());
    let whole = nk / 8 * 8;
    // SAFETY: `dpbusd_scores` only requires the CPU to support AVX-512 VNNI and AVX-512 VL.
    // This module is compiled only when the build's target features include both
    // (`cfg(all(target_arch = "x86_64", target_feature = "avx512vnni", target_feature =
    // "avx512vl"))` on its `mod` in int8/mod.rs), so every binary containing this call already
    // requires such a CPU. The callee takes references only and does no pointer arithmetic.
    unsafe { dpbusd_scores(q, u, nk, &init[..whole], c, &mut acc[..whole]) };
    // The last keys (fewer than eight) one at a time.
    for m in whole..nk {
        let mut s = init[m].wrapping_add(c);
        for (qk, row) in q.iter().zip(u.chunks_exact(nk)) {
            for (b, qv) in row[m].to_le_bytes().iter().zip(qk) {
                s = s.wrapping_add(i32::from(*b) * i32::from(*qv));
            }
        }
        acc[m] = s;
    }
}

/// Blocks of [`KB`] keys, then of eight, over `acc.len()` keys (a multiple of 8) of quad rows
/// `nk` long.
#[inline]
#[target_feature(enable = "avx512vnni,avx512vl")]
fn dpbusd_scores(q: &[[i8; 4]], u: &[i32], nk: usize, init: &[i32], c: i32, acc: &mut [i32]) {
    let quad = |b: &[i8; 4]| _mm256_set1_epi32(i32::from_le_bytes(b.map(|x| x as u8)));
    let mut m0 = 0;
    while m0 + KB <= acc.len() {
        let mut r: [__m256i; KB / 8] = bytemuck::cast(block::<KB>(init, m0, c));
        for (qk, row) in q.iter().zip(u.chunks_exact(nk)) {
            if let Some(keys) = row.get(m0..).and_then(|r| r.first_chunk::<KB>()) {
                let (keys, qb): ([__m256i; KB / 8], _) = (bytemuck::cast(*keys), quad(qk));
                for (a, k) in r.iter_mut().zip(keys) {
                    *a = _mm256_dpbusd_epi32(*a, k, qb);
                }
            }
        }
        acc[m0..m0 + KB].copy_from_slice(&bytemuck::cast::<_, [i32; KB]>(r));
        m0 += KB;
    }
    while m0 + 8 <= acc.len() {
        let mut r: __m256i = bytemuck::cast(block::<8>(init, m0, c));
        for (qk, row) in q.iter().zip(u.chunks_exact(nk)) {
            if let Some(keys) = row.get(m0..).and_then(|r| r.first_chunk::<8>()) {
                r = _mm256_dpbusd_epi32(r, bytemuck::cast(*keys), quad(qk));
            }
        }
        acc[m0..m0 + 8].copy_from_slice(&bytemuck::cast::<_, [i32; 8]>(r));
        m0 += 8;
    }
}

/// `init[m0..m0 + B] + c` (wrapping; zeros past the end of `init`).
#[inline]
fn block<const B: usize>(init: &[i32], m0: usize, c: i32) -> [i32; B] {
    core::array::from_fn(|i| init.get(m0 + i).map_or(0, |v| v.wrapping_add(c)))
}
