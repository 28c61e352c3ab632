//! The quad tiles of the fast int8 convolution (`int8::conv_fast`) for x86_64 builds with
//! AVX-512 VNNI (`-C target-cpu=native` on such a CPU, or `-C target-feature=+avx512vnni,
//! +avx512vl,…`): reduction terms taken four at a time as bytes and multiplied by
//! `vpdpbusd` (unsigned byte × signed byte, four products summed into each `i32` lane, the
//! accumulation fused): 32 MACs per `ymm` instruction, against 16 (plus an add) for the
//! `vpmaddwd` pairs of `conv_pairs.rs`.
//!
//! * **Input tile**: per quad of terms and column, the four terms' input values as unsigned
//!   bytes `u = x + 128` (`x ^ 0x80`); a tap in the padding reads the real zero `zp_in`, so
//!   its byte is `zp_in + 128`. The zero weight partners after a reduction whose length is
//!   not a multiple of 4 read the same byte (any byte would do: their weight is 0).
//! * **Weight tile**: per output channel of a register tile of [`CT`] channels and per quad,
//!   the four weights as the four bytes of one `i32` (first term in the lowest byte, in the
//!   same order as the input tile's bytes), broadcast to every lane.
//! * **Micro-kernel**: `acc[c][j] = dpbusd(acc[c][j], u(j), w[c])`, i.e.
//!   `acc += Σ_k u_k · w_k`.
//!
//! # Correction, and why the result equals the reference's exactly
//!
//! Over the whole reduction of an output (all `R` taps of channel `co`, padding included) the
//! accumulator ends at `Σ_r w_r · u_r`, with `u_r = x_r − zp_in + (zp_in + 128)` for a tap
//! inside the image and `u_r = zp_in + 128` for a padding tap. Subtracting, once per output,
//! [`offset`] `= (zp_in + 128) · Σ_r w_r` leaves `Σ_inside w_r · (x_r − zp_in)`, exactly the
//! reference kernel's sum (a padding tap contributes `w·(zp+128) − w·(zp+128) = 0`).
//!
//! # No overflow
//!
//! Every product is `u · w` with `0 ≤ u ≤ 255` and `−128 ≤ w ≤ 127`, so `|u · w| ≤ 32 640 =
//! 255 · 128`, the same bound as the reference's `|w · (x − zp_in)|`. Every value the
//! accumulator takes (each `vpdpbusd` adds four products at once) is a sum over a subset of
//! the `R` real terms (the zero partners add 0), so its magnitude is at most `32 640 · R`;
//! the callers bound `R ≤` [`super::quant::MAX_WEIGHT_DOT_TERMS`] `= ⌊(2³¹ − 1) / 32 640⌋` at
//! compile time, so `32 640 · R ≤ 2³¹ − 1` and no lane ever wraps (`vpdpbusd` would wrap, not
//! saturate). The correction `(zp_in + 128) · Σ w` has magnitude at most `255 · 128 · R`
//! under the same bound, and the corrected sum is the reference's, bounded alike; the
//! subtraction of two `i32` whose exact difference is an `i32` cannot overflow.
//!
//! # The `unsafe` call
//!
//! (The linear layers' and attention scores' VNNI tiles, `linear_vnni.rs` and `scores_vnni.rs`,
//! hold one call each of the same kind, with the same argument.)
//!
//! `core::arch`'s `_mm256_dpbusd_epi32` is a safe function inside a function compiled with
//! `#[target_feature(enable = "avx512vnni,avx512vl")]`, but calling such a function from one
//! without those attributes is `unsafe`, even when the whole build enables the features, and
//! `safe_arch` (which core uses for AVX2) has no VNNI. So [`micro_kernel`] holds core's only
//! `unsafe` block: one call, sound because this module is compiled only when the build's
//! `target_feature` set includes `avx512vnni` and `avx512vl` (the `cfg` on its `mod` in `int8`),
//! i.e. the binary requires a CPU with them. Loads and stores go through `bytemuck` casts of
//! fixed-size arrays (no pointers).

use core::arch::x86_64::{__m256i, _mm256_dpbusd_epi32, _mm256_set1_epi32};
use safe_arch::{
    bitxor_m256i, m256i, set_splat_i8_m256i, shuffle_abi_i128z_all_m256i, unpack_high_i16_m256i,
    unpack_high_i8_m256i, unpack_low_i16_m256i, unpack_low_i8_m256i,
};

/// Reduction terms per slot of the tiles (a quad).
pub(crate) const N: usize = 4;
/// Output columns per tile (four 8-lane `i32` vectors).
pub(crate) const TW: usize = 32;
/// Reduction terms per chunk (a multiple of [`N`]): 288 = 32 input channels of a 3×3
/// kernel, so the 16-channel 3×3 convolutions at 256² (144 terms) take one chunk.
pub(crate) const RC: usize = 288;
/// Quads per chunk.
pub(crate) const NS: usize = RC / N;
/// Output channels per register tile: 4 channels × 4 vectors = 16 accumulators.
pub(crate) const CT: usize = 4;
/// Output channels per accumulator block.
pub(crate) const CB: usize = 32;

/// One quad of terms for every column of a tile: `[u_r(0), u_r+1(0), u_r+2(0), u_r+3(0),
/// u_r(1), …]`.
pub(crate) type Slot = [u8; N * TW];
/// Input tile: one [`Slot`] per quad of the chunk.
pub(crate) type XTile = [Slot; NS];
/// Weight tile: per channel of a register tile, per quad, the four weights' bytes (read as
/// one `i32`, the lowest byte is the quad's first term).
pub(crate) type WTile = [[[u8; N]; NS]; CT];
/// Accumulators of one register tile.
pub(crate) type Acc = [[i32; TW]; CT];

/// An empty input tile.
pub(crate) const X0: XTile = [[0; N * TW]; NS];
/// An empty weight tile.
pub(crate) const W0: WTile = [[[0; N]; NS]; CT];

/// `(zp_in + 128) · Σ w` over one output channel's whole reduction `w`: what the channel's
/// accumulator holds beyond `Σ_valid w · (x − zp_in)` (see the module documentation); the
/// caller subtracts it.
#[inline]
pub(crate) fn offset(zp: i8, w: &[i8]) -> i32 {
    let sum: i32 = w.iter().map(|&v| i32::from(v)).sum();
    (i32::from(zp) + 128) * sum
}

/// Interleaves four runs of [`TW`] input values (padding taps hold `zp_in`) as bytes
/// `x ^ 0x80`: `dst[4j + k] = runs[k][j] + 128`. `vpunpck{l,h}{bw,wd}` work within 128-bit
/// lanes, so a `vperm2i128` pair puts the columns back in order.
#[inline]
pub(crate) fn pack_run(dst: &mut Slot, [a, b, c, d]: [&[i8; TW]; N], _zp: i8) {
    let flip = set_splat_i8_m256i(i8::MIN);
    let [a, b, c, d] = [a, b, c, d].map(|r| bitxor_m256i(m256i::from(*r), flip));
    // Byte pairs: ab_lo = [a0 b0 … a7 b7 | a16 b16 … a23 b23], ab_hi: columns 8–15 | 24–31.
    let (ab_lo, ab_hi) = (unpack_low_i8_m256i(a, b), unpack_high_i8_m256i(a, b));
    let (cd_lo, cd_hi) = (unpack_low_i8_m256i(c, d), unpack_high_i8_m256i(c, d));
    // Quads of columns 0–3 | 16–19, 4–7 | 20–23, 8–11 | 24–27, 12–15 | 28–31.
    let q0 = unpack_low_i16_m256i(ab_lo, cd_lo);
    let q1 = unpack_high_i16_m256i(ab_lo, cd_lo);
    let q2 = unpack_low_i16_m256i(ab_hi, cd_hi);
    let q3 = unpack_high_i16_m256i(ab_hi, cd_hi);
    *dst = bytemuck::cast([
        shuffle_abi_i128z_all_m256i::<0x20>(q0, q1),
        shuffle_abi_i128z_all_m256i::<0x20>(q2, q3),
        shuffle_abi_i128z_all_m256i::<0x31>(q0, q1),
        shuffle_abi_i128z_all_m256i::<0x31>(q2, q3),
    ]);
}

/// `acc += x · w` over the first `nq` quads of the tiles, with `rows[c]` channel `c`'s `rc`
/// weights of the chunk (empty for a channel past the last one). The weights are the quads
/// as they are: when every row holds exactly `nq` whole quads (the usual case) the kernel
/// reads them in place; otherwise they are copied into `wt` with zeros after the last one.
#[inline]
pub(crate) fn multiply(xt: &XTile, nq: usize, rows: [&[i8]; CT], wt: &mut WTile, acc: &mut Acc) {
    if rows.iter().all(|r| r.len() == N * nq) {
        micro_kernel(xt, rows.map(bytemuck::cast_slice), nq, acc);
    } else {
        for (dst, src) in wt.iter_mut().zip(rows) {
            let bytes: &mut [u8; RC] = bytemuck::cast_mut(dst);
            let src: &[u8] = bytemuck::cast_slice(src);
            bytes[..src.len()].copy_from_slice(src);
            bytes[src.len()..N * nq].fill(0);
        }
        micro_kernel(
            xt,
            [&wt[0][..], &wt[1][..], &wt[2][..], &wt[3][..]],
            nq,
            acc,
        );
    }
}

/// `acc[c][j] += Σ_q Σ_k u[q][4j + k] · w[c][q][k]` over the first `nq` quads.
#[inline]
#[allow(unsafe_code)]
fn micro_kernel(xt: &XTile, w: [&[[u8; N]]; CT], nq: usize, acc: &mut Acc) {
    // SAFETY: `dpbusd_tile` only requires the CPU to support AVX-512 VNNI and AVX-512 VL.
    // This module is compiled only when the build's target features include both
    // (`cfg(all(target_arch = "x86_64", target_feature = "avx512vnni", target_feature =
    // "avx512vl"))` on its `mod` in int8/mod.rs), so every binary containing this call already
    // requires such a CPU, exactly as for any other instruction the build enables. The
    // callee takes references only and does no pointer arithmetic.
    unsafe { dpbusd_tile(xt, w, nq, acc) }
}

/// The register tile: [`CT`] channels × 4 vectors of 8 columns, 16 `ymm` accumulators (of the
/// 32 that AVX-512 VL provides); per quad, 4 tile loads, [`CT`] weight broadcasts and 16
/// `vpdpbusd`.
#[inline]
#[target_feature(enable = "avx512vnni,avx512vl")]
fn dpbusd_tile(xt: &XTile, [w0, w1, w2, w3]: [&[[u8; N]]; CT], nq: usize, acc: &mut Acc) {
    const {
        assert!(
            CT == 4 && TW == 32,
            "the register tile is 4 channels × 4 vectors"
        )
    };
    let mut r: [[__m256i; TW / 8]; CT] = bytemuck::cast(*acc);
    let quads = xt[..nq].iter().zip(w0).zip(w1).zip(w2).zip(w3);
    for ((((xq, &q0), &q1), &q2), &q3) in quads {
        let x: [__m256i; TW / 8] = bytemuck::cast(*xq);
        for (rc, q) in r.iter_mut().zip([q0, q1, q2, q3]) {
            let wb = _mm256_set1_epi32(i32::from_le_bytes(q));
            for (a, &xv) in rc.iter_mut().zip(x.iter()) {
                *a = _mm256_dpbusd_epi32(*a, xv, wb);
            }
        }
    }
    *acc = bytemuck::cast(r);
}
