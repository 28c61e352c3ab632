//! Integer layer norm over the features of each token, and the integer square root it needs.
//!
//! TFLite has no int8 LayerNorm builtin (its integer LSTM's `ApplyLayerNorm` works on int16
//! with an approximate mean), so this is our own scheme, in integers end to end and exact up to
//! two final roundings. For one token with `x_i − zp_in = a_i` (`|a_i| ≤ 255`), `D` features:
//!
//! ```text
//! S1 = Σ a_i,  S2 = Σ a_i²                      (exact, i64)
//! V  = D·S2 − S1²  = D²·var                     (exact, ≥ 0 by Cauchy–Schwarz)
//! n_i = (a_i − S1/D) / √(var + ε')  =  16·(D·a_i − S1) / √(2^8·V + D²·eps_q)
//! ```
//!
//! with `ε' = ε / s_in²` carried as `eps_q = round(ε'·2^8)` ([`EPS_FRAC_BITS`]). The square root
//! is [`isqrt_u64`] of the radicand shifted left by an even amount into `[2^60, 2^62)` (so the
//! root has 30–31 significant bits), its reciprocal `round(2^62 / root)` is taken once per
//! token, and each `n_i` becomes a Q20 number ([`NORM_FRAC_BITS`]) by one multiply and a
//! rounding shift — relative error ≈ 2^−30, absolute ≤ 2^−21.
//!
//! The affine part `y = n·γ + β` is quantized per feature: `γ_i / (s_out · 2^8)` as a Q31
//! multiplier + shift (so `MultiplyByQuantizedMultiplier(n_q20, ·)` lands in units of
//! `s_out / 2^12`), and `β_i` as an `i32` in the same units ([`BETA_FRAC_BITS`] = 12); the sum
//! is rounded once more by 12 bits (half away from zero) and offset by `zp_out`. The roundings
//! before the last one add at most ≈ 2^−11 LSB, so the result is within 1 LSB of "dequantize
//! → f64 layer norm → quantize" and equal to it except within ≈ 2^−11 LSB of a tie.

use super::quant::{
    multiply_by_quantized_multiplier, rounding_divide_by_pot, rounding_shift_right_i64, saturate_i8,
};
use crate::tensor::Tokens;

/// Fractional bits of the normalized value `n_i` handed to the gamma multiplier.
pub const NORM_FRAC_BITS: u32 = 20;
/// Fractional bits (below one output LSB) of `γ·n` and of the stored `β`.
pub const BETA_FRAC_BITS: u32 = 12;
/// Fractional bits of `eps_q = ε / s_in²`.
pub const EPS_FRAC_BITS: u32 = 8;

/// Largest feature count: keeps `2^8·D·S2 + D²·eps_q` below 2^56, `(D·a − S1)·2^32` in `i64`
/// and the Q20 normalized value (`|n| ≤ √D ≤ 64`) in `i32`.
pub const MAX_FEATURES: usize = 4096;

/// `⌊√n⌋` for every `u64`: core's `u64::isqrt` (integer only, exact). It replaced a
/// digit-by-digit loop (32 dependent steps) that was most of the layer norm's time — one root
/// per token; the tests check it against that loop and hand-computed roots.
pub const fn isqrt_u64(n: u64) -> u64 {
    n.isqrt()
}

/// Integer parameters of a layer norm over `D` features (built on the host by
/// [`crate::int8::quant::layer_norm_params`]).
#[derive(Debug, Clone, Copy)]
pub struct LayerNormQuant<'a, const D: usize> {
    /// Zero point of the input tokens.
    pub input_zp: i8,
    /// Zero point of the output tokens.
    pub output_zp: i8,
    /// `round(ε / s_in² · 2^EPS_FRAC_BITS)` (a negative value counts as 0).
    pub eps: i32,
    /// Q31 mantissa of `γ_i / (s_out · 2^(NORM_FRAC_BITS − BETA_FRAC_BITS))`.
    pub gamma_multiplier: &'a [i32; D],
    /// Power-of-two exponent of the same.
    pub gamma_shift: &'a [i32; D],
    /// `round(β_i · 2^BETA_FRAC_BITS / s_out)`.
    pub beta: &'a [i32; D],
}

/// Layer norm over the features of each token (biased variance), in place: the tokens change
/// from the input quantization to the output one.
pub fn layer_norm<const N: usize, const D: usize>(
    x: &mut Tokens<N, D, i8>,
    q: &LayerNormQuant<'_, D>,
) {
    const {
        assert!(
            D > 0 && D <= MAX_FEATURES,
            "int8 layer norm needs 1..=4096 features"
        )
    };
    let zp = i64::from(q.input_zp);
    let dn = D as i64;
    let eps = u64::from(q.eps.max(0).cast_unsigned());
    for token in x.iter_mut() {
        let (mut s1, mut s2) = (0i64, 0i64);
        for v in token.iter() {
            let a = i64::from(*v) - zp;
            s1 += a;
            s2 += a * a;
        }
        // D²·var in input LSB², exact and ≥ 0; then in Q8 with D²·ε' added.
        let var = (dn * s2 - s1 * s1).max(0).cast_unsigned();
        let radicand = (var << EPS_FRAC_BITS) + (dn * dn).cast_unsigned() * eps;
        // inv = 2^62 / (√radicand · 2^(e/2)); with √radicand = 16·√(V + D²ε'),
        // n_q20 = 16·num·2^20/√radicand = num·inv·2^(24 + e/2 − 62): a right shift by
        // 38 − e/2 ≥ 8.
        let (inv, shr) = if radicand == 0 {
            // Every feature equals the mean (num = 0 below) and ε = 0: n = 0.
            (0i64, 0u32)
        } else {
            let bits = 64 - radicand.leading_zeros(); // ≤ 56
            let e = (62 - bits) & !1;
            let root = isqrt_u64(radicand << e); // in [2^30, 2^31)
            let inv = ((1u64 << 62) + root / 2) / root; // in (2^31, 2^32]
            (inv as i64, 62 - NORM_FRAC_BITS - EPS_FRAC_BITS / 2 - e / 2)
        };
        for (i, v) in token.iter_mut().enumerate() {
            let num = dn * (i64::from(*v) - zp) - s1; // |num| ≤ 2·D·255 < 2^21
            let n_q20 = rounding_shift_right_i64(num * inv, shr); // |n| ≤ √D ⇒ < 2^27
            let t = multiply_by_quantized_multiplier(
                n_q20 as i32,
                q.gamma_multiplier[i],
                q.gamma_shift[i],
            );
            let y = rounding_divide_by_pot(t.saturating_add(q.beta[i]), BETA_FRAC_BITS as i32);
            *v = saturate_i8(y.saturating_add(i32::from(q.output_zp)));
        }
    }
}
