//! Int8 requantization primitives (TFLite / gemmlowp semantics), `quantize_multiplier`,
//! `isqrt_u64`, the 256-entry lookup tables, and a check that the int8 kernels' source holds
//! no floating point outside the build-time helpers.
//!
//! Expected values marked "TFLite" are the ones in TensorFlow Lite's
//! `kernels/internal/quantization_util_test.cc` (double-rounding build).

#[macro_use]
mod int8_support;

use hepaseg_core::int8::lut::{apply_lut, apply_lut_into, lookup};
use hepaseg_core::int8::quant::{
    div_round_half_away, rounding_divide_by_pot, rounding_shift_right_i64,
    saturating_rounding_doubling_high_mul as srdhm, MAX_ACT_DOT_TERMS, MAX_WEIGHT_DOT_TERMS,
};
use hepaseg_core::int8::softmax::EXP_TABLE_FRAC_BITS;
use hepaseg_core::int8::{
    build_exp_table, build_lut, isqrt_u64, multiply_by_quantized_multiplier as mbqm,
    quantize_multiplier, Clamp, QuantParams, Requant,
};
use int8_support::{deq, log_scale, quantize_ref, to_i8};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// quantize_multiplier
// ---------------------------------------------------------------------------------------------

#[test]
fn quantize_multiplier_tflite_powers_of_two() {
    // TFLite `QuantizeMultiplierArray`: ±2^k → (±2^30, k + 1).
    let cases = [
        (-4.0, (-1_073_741_824, 3)),
        (-2.0, (-1_073_741_824, 2)),
        (-1.0, (-1_073_741_824, 1)),
        (-0.5, (-1_073_741_824, 0)),
        (-0.25, (-1_073_741_824, -1)),
        (-0.125, (-1_073_741_824, -2)),
        (0.0, (0, 0)),
        (0.125, (1_073_741_824, -2)),
        (0.25, (1_073_741_824, -1)),
        (0.5, (1_073_741_824, 0)),
        (1.0, (1_073_741_824, 1)),
        (2.0, (1_073_741_824, 2)),
        (4.0, (1_073_741_824, 3)),
    ];
    for (real, expected) in cases {
        assert_eq!(quantize_multiplier(real), expected, "real = {real}");
    }
    assert_eq!(Requant::from_real(1.0), Requant::IDENTITY);
}

#[test]
fn quantize_multiplier_tflite_rounding_near_powers_of_two() {
    // TFLite `QuantizeMultiplierSmallerThanOneExp` / `…GreaterThanOne` (same mantissa and
    // exponent as `QuantizeMultiplier`): a mantissa that rounds up to 2^31 is halved and the
    // exponent incremented, so the result never hits 2^31.
    let cases = [
        (0.25, (1_073_741_824, -1)),
        (0.50 - 5e-9, (2_147_483_627, -1)),
        (0.50 - 1e-10, (1_073_741_824, 0)),
        (0.50, (1_073_741_824, 0)),
        (0.75, (1_610_612_736, 0)),
        (1.0 - 1e-9, (2_147_483_646, 0)),
        (1.0 + 1e-11, (1_073_741_824, 1)),
        (1.25, (1_342_177_280, 1)),
        (1.50, (1_610_612_736, 1)),
        (1.75, (1_879_048_192, 1)),
        (2.0 - 1e-9, (2_147_483_647, 1)),
        (2.0 - 1e-11, (1_073_741_824, 2)),
        (2.0, (1_073_741_824, 2)),
    ];
    for (real, expected) in cases {
        assert_eq!(quantize_multiplier(real), expected, "real = {real}");
    }
}

#[test]
fn quantize_multiplier_tflite_underflow_and_our_saturation() {
    // TFLite `QuantizeMultiplierUnderflow`.
    assert_eq!(
        quantize_multiplier(f64::from(2f32.powi(-31))),
        (1_073_741_824, -30)
    );
    assert_eq!(
        quantize_multiplier(f64::from(2f32.powi(-32))),
        (1_073_741_824, -31)
    );
    assert_eq!(
        quantize_multiplier(f64::from(0.99f32 * 2f32.powi(-32))),
        (0, 0)
    );
    assert_eq!(quantize_multiplier(2f64.powi(-33)), (0, 0));
    // Ours: non-finite → 0; above 2^30 → saturated (TFLite's single-rounding rule).
    assert_eq!(quantize_multiplier(f64::NAN), (0, 0));
    assert_eq!(quantize_multiplier(f64::INFINITY), (0, 0));
    assert_eq!(quantize_multiplier(2f64.powi(40)), (i32::MAX, 30));
}

proptest! {
    #[test]
    fn quantize_multiplier_round_trips(real in 1e-9f64..1e6) {
        let (m, s) = quantize_multiplier(real);
        prop_assert!((1 << 30..=i32::MAX).contains(&m), "mantissa {m}");
        prop_assert!((-31..=30).contains(&s));
        let back = f64::from(m) * 2f64.powi(s - 31);
        prop_assert!((back - real).abs() <= real * 2f64.powi(-31), "{real} → {back}");
        prop_assert!((Requant::new(m, s).to_real() - back).abs() <= back * 1e-15);
    }
}

// ---------------------------------------------------------------------------------------------
// SaturatingRoundingDoublingHighMul, RoundingDivideByPOT, MultiplyByQuantizedMultiplier
// ---------------------------------------------------------------------------------------------

#[test]
fn srdhm_ties_and_saturation() {
    const HALF: i32 = 1 << 30; // 0.5 in Q31
                               // a · 0.5 with a = ±1, ±3: the products are ±0.5, ±1.5 — exact ties.
    assert_eq!(srdhm(1, HALF), 1, "+0.5 rounds up");
    assert_eq!(
        srdhm(-1, HALF),
        0,
        "−0.5 rounds towards zero (gemmlowp nudge 1 − 2^30)"
    );
    assert_eq!(srdhm(3, HALF), 2, "+1.5 rounds up");
    assert_eq!(srdhm(-3, HALF), -1, "−1.5 rounds towards zero");
    assert_eq!(srdhm(2, HALF), 1);
    assert_eq!(srdhm(-2, HALF), -1);
    // Just off the tie, plain rounding to nearest.
    assert_eq!(srdhm(-1, HALF + 1), -1);
    assert_eq!(srdhm(1, HALF - 1), 0);
    // The one overflow saturates; the near-overflows are exact.
    assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
    assert_eq!(srdhm(i32::MAX, i32::MAX), i32::MAX - 1);
    assert_eq!(srdhm(i32::MIN, i32::MAX), i32::MIN + 1);
    assert_eq!(srdhm(i32::MAX, i32::MIN), i32::MIN + 1);
    assert_eq!(srdhm(0, i32::MIN), 0);
}

#[test]
fn rounding_divide_by_pot_rounds_half_away_from_zero() {
    let cases = [
        // (x, exponent, expected): x / 2^e
        (5, 1, 3),   // 2.5
        (-5, 1, -3), // −2.5
        (3, 1, 2),   // 1.5
        (-3, 1, -2), // −1.5
        (1, 1, 1),   // 0.5
        (-1, 1, -1), // −0.5
        (6, 2, 2),   // 1.5
        (-6, 2, -2),
        (7, 2, 2), // 1.75
        (-7, 2, -2),
        (5, 2, 1), // 1.25
        (-5, 2, -1),
        (123, 0, 123),
        (-123, 0, -123),
        (1 << 30, 31, 1), // 0.5
        (-(1 << 30), 31, -1),
        ((1 << 30) - 1, 31, 0),
        (i32::MAX, 31, 1),
        (i32::MIN, 31, -1),
        (i32::MIN, 1, -(1 << 30)),
    ];
    for (x, e, expected) in cases {
        assert_eq!(rounding_divide_by_pot(x, e), expected, "{x} / 2^{e}");
    }
    // Out-of-range exponents are clamped, not a panic.
    assert_eq!(rounding_divide_by_pot(7, -3), 7);
    assert_eq!(rounding_divide_by_pot(i32::MAX, 99), 1);
}

#[test]
fn mbqm_tflite_examples() {
    // TFLite `MultiplyByQuantizedMultiplierInt32`.
    let qm = |x: i32, real: f64| {
        let (m, s) = quantize_multiplier(real);
        mbqm(x, m, s)
    };
    assert_eq!(qm(0, 0.1), 0);
    assert_eq!(qm(1, 0.0), 0);
    assert_eq!(qm(10000, 0.00097656), 10);
    assert_eq!(qm(-10000, 0.00097656), -10);
    assert_eq!(qm(i32::MIN, 0.00001), -21475);
    assert_eq!(qm(i32::MAX, 0.00001), 21475);
    assert_eq!(qm(10000, -0.00097656), -10);
    assert_eq!(qm(-10000, -0.00097656), 10);
    assert_eq!(qm(i32::MIN, -0.00001), 21475);
    assert_eq!(qm(i32::MAX, -0.00001), -21475);
    // Largest x and multiplier, shift −3: round(x·m / 2^34).
    let (x, m) = (i32::MAX, i32::MAX);
    let expected = ((i64::from(x) * i64::from(m)) as f64 / (1u64 << 34) as f64).round() as i32;
    assert_eq!(expected, 268_435_456);
    assert_eq!(mbqm(x, m, -3), expected);
    assert_eq!(mbqm(-x, m, -3), -expected);
}

#[test]
fn mbqm_half_cases_and_identity() {
    let half = Requant::from_real(0.5); // (2^30, 0): decided by SRDHM's rounding
    assert_eq!(half, Requant::new(1 << 30, 0));
    assert_eq!(half.apply(1), 1);
    assert_eq!(half.apply(-1), 0);
    assert_eq!(half.apply(3), 2);
    assert_eq!(half.apply(-3), -1);
    let quarter = Requant::from_real(0.25); // (2^30, −1): decided by RoundingDivideByPOT
    assert_eq!(quarter.apply(2), 1); // 0.5 → 1
    assert_eq!(quarter.apply(-2), -1); // −0.5 → −1
    assert_eq!(quarter.apply(6), 2); // 1.5 → 2
    assert_eq!(quarter.apply(-6), -2); // −1.5 → −2
    assert_eq!(quarter.apply(10), 3); // 2.5 → 3
    assert_eq!(quarter.apply(-10), -3);
    // Identity (2^30, shift 1) is exact on the whole i32 range (TFLite's `x * 2` would
    // overflow beyond ±2^30).
    for x in [
        -(1 << 30),
        -65_536,
        -255,
        -1,
        0,
        1,
        127,
        (1 << 30) - 1,
        1 << 30,
    ] {
        assert_eq!(Requant::IDENTITY.apply(x), x);
    }
    assert_eq!(Requant::IDENTITY.apply(i32::MAX), i32::MAX);
    assert_eq!(Requant::IDENTITY.apply(i32::MIN), i32::MIN);
    // Left shifts (multipliers > 1): the true product, saturated where it does not fit
    // (TFLite's `x * (1 << shift)` would overflow).
    assert_eq!(Requant::from_real(4.0).apply((1 << 29) - 1), i32::MAX - 3);
    assert_eq!(Requant::from_real(4.0).apply(1 << 29), i32::MAX);
    assert_eq!(Requant::from_real(4.0).apply(-(1 << 29)), i32::MIN);
    assert_eq!(Requant::from_real(4.0).apply(-(1 << 29) - 1), i32::MIN);
    assert_eq!(Requant::from_real(3.0).apply(1 << 29), 3 << 29);
    assert_eq!(Requant::from_real(3.0).apply(1 << 30), i32::MAX);
    assert_eq!(Requant::from_real(3.0).apply(-7), -21);
    // Corrupt shifts are clamped, not a panic.
    let _ = mbqm(12345, i32::MAX, i32::MIN);
    let _ = mbqm(12345, i32::MIN, i32::MAX);
}

#[test]
fn helper_roundings() {
    assert_eq!(rounding_shift_right_i64(5, 1), 3);
    assert_eq!(rounding_shift_right_i64(-5, 1), -3);
    assert_eq!(rounding_shift_right_i64(-4, 1), -2);
    assert_eq!(rounding_shift_right_i64(i64::MIN, 62), -2);
    assert_eq!(rounding_shift_right_i64(7, 0), 7);
    assert_eq!(div_round_half_away(5, 2), 3);
    assert_eq!(div_round_half_away(-5, 2), -3);
    assert_eq!(div_round_half_away(-4, 3), -1);
    assert_eq!(div_round_half_away(-5, 3), -2);
    assert_eq!(div_round_half_away(7, 0), 0);
    assert_eq!(div_round_half_away(i64::MIN, 1), i64::MIN);
    assert_eq!(div_round_half_away(i64::MIN, 2), i64::MIN / 2);
    assert_eq!(div_round_half_away(i64::MAX, 2), (i64::MAX >> 1) + 1);
    assert_eq!(rounding_shift_right_i64(i64::MAX, 1), (i64::MAX >> 1) + 1);
    assert_eq!(rounding_shift_right_i64(-(1 << 40) - (1 << 39), 40), -2);
    assert_eq!(rounding_shift_right_i64(-(1 << 40) - (1 << 39) + 1, 40), -1);
}

#[test]
fn clamp_never_panics_and_relu() {
    assert_eq!(Clamp::NONE.apply(1000), 127);
    assert_eq!(Clamp::NONE.apply(-1000), -128);
    assert_eq!(Clamp::relu(-20).apply(-50), -20);
    assert_eq!(Clamp::relu(-20).apply(40), 40);
    // min > max (a corrupt blob): max wins, no panic.
    let bad = Clamp { min: 10, max: -10 };
    assert_eq!(bad.apply(0), -10);
    assert_eq!(bad.apply(100), -10);
}

/// The exact product `x · m · 2^(shift − 31)` as a rational `num / 2^den_log2`.
fn exact(x: i32, m: i32, shift: i32) -> (i128, u32) {
    let num = i128::from(x) * i128::from(m);
    if shift >= 0 {
        (num << shift, 31)
    } else {
        (num, (31 - shift) as u32)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Double rounding is within `½ + ½·2^−right` of the exact product, and equals the exact
    /// product rounded half away from zero unless that product is within `2^−right` of a tie.
    #[test]
    fn mbqm_is_the_rounded_exact_product(
        x in any::<i32>(),
        m in (1i32 << 30)..=i32::MAX,
        shift in -31i32..=0,
    ) {
        let got = i128::from(mbqm(x, m, shift));
        let (num, k) = exact(x, m, shift);
        let right = (-shift) as u32;
        // |got·2^k − num| ≤ 2^(k−1) + 2^30  (second term: the SRDHM rounding, scaled)
        let err = (got * (1i128 << k) - num).abs();
        prop_assert!(err <= (1i128 << (k - 1)) + (1i128 << 30), "x={x} m={m} s={shift}");
        // The correctly rounded value (ties away from zero).
        let half = 1i128 << (k - 1);
        let rounded = if num >= 0 { (num + half) >> k } else { -((-num + half) >> k) };
        let frac_dist = ((num.rem_euclid(1i128 << k)) - half).abs(); // distance to the tie
        if frac_dist > (1i128 << 31) {
            prop_assert_eq!(got, rounded, "x={} m={} s={} (right {})", x, m, shift, right);
        }
    }

    #[test]
    fn mbqm_left_shifts_are_exact_when_they_fit(
        x in -(1i32 << 20)..(1i32 << 20),
        m in (1i32 << 30)..=i32::MAX,
        shift in 1i32..=10,
    ) {
        let got = i128::from(mbqm(x, m, shift));
        let (num, k) = exact(x, m, shift);
        prop_assert!((got * (1i128 << k) - num).abs() <= 1i128 << (k - 1));
    }

    /// For `shift > 0`, bit-identical to TFLite's literal `SRDHM(x · 2^shift, m)` whenever
    /// `x · 2^shift` fits in `i32` (any multiplier sign).
    #[test]
    fn mbqm_left_shift_matches_tflite_literally(
        (x, shift) in (1i32..=31).prop_flat_map(|s| {
            let lim = 1i32 << (31 - s); // |x| · 2^s ≤ 2^31
            ((-lim..lim), Just(s))
        }),
        m in any::<i32>(),
    ) {
        prop_assert_eq!(mbqm(x, m, shift), srdhm(x << shift, m));
    }

    /// The same where exact ties are frequent: `x · (±3·2^29) · 2 / 2^31 = ±3x/2` and
    /// `x · (±5·2^28) · 4 / 2^31 = ±5x/2` are halves for odd `x`.
    #[test]
    fn mbqm_left_shift_ties(
        (x, shift, m) in prop_oneof![
            (Just(1i32), Just(3i32 << 29)),
            (Just(1i32), Just(-(3i32 << 29))),
            (Just(2i32), Just(5i32 << 28)),
            (Just(2i32), Just(-(5i32 << 28))),
        ].prop_flat_map(|(s, m)| {
            let lim = 1i32 << (31 - s);
            ((-lim..lim), Just(s), Just(m))
        }),
    ) {
        prop_assert_eq!(mbqm(x, m, shift), srdhm(x << shift, m));
    }

    #[test]
    fn mbqm_total_on_any_parameters(x in any::<i32>(), m in any::<i32>(), shift in any::<i32>()) {
        let _ = mbqm(x, m, shift);
    }
}

// ---------------------------------------------------------------------------------------------
// isqrt_u64
// ---------------------------------------------------------------------------------------------

/// `⌊√n⌋` by the digit-by-digit (restoring) method: the reference (core's own loop before it
/// used `u64::isqrt`).
fn isqrt_digits(n: u64) -> u64 {
    // `bit` is the largest power of four ≤ n (or 0 for n = 0).
    let mut bit: u64 = 1 << 62;
    while bit > n {
        bit >>= 2;
    }
    let (mut rem, mut root) = (n, 0u64);
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

#[test]
fn isqrt_exhaustive_below_2_pow_22() {
    for n in 0..(1u64 << 22) {
        assert_eq!(isqrt_u64(n), isqrt_digits(n), "n = {n}");
    }
}

#[test]
fn isqrt_at_perfect_squares_and_extremes() {
    for k in (0u64..1 << 16)
        .chain((1u64 << 32) - (1 << 16)..1u64 << 32)
        .step_by(7)
    {
        let sq = k * k;
        assert_eq!(isqrt_u64(sq), k);
        if sq > 0 {
            assert_eq!(isqrt_u64(sq - 1), k - 1);
        }
        assert_eq!(isqrt_u64(sq + 2 * k), k); // (k+1)² − 1
    }
    assert_eq!(isqrt_u64(u64::MAX), (1 << 32) - 1);
    assert_eq!(isqrt_u64(1 << 62), 1 << 31);
    assert_eq!(isqrt_u64((1 << 62) - 1), (1 << 31) - 1);
    const { assert!(isqrt_u64(1_000_000) == 1000) };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn isqrt_large(n in any::<u64>()) {
        let r = isqrt_u64(n);
        prop_assert!(u128::from(r) * u128::from(r) <= u128::from(n));
        prop_assert!(u128::from(r + 1) * u128::from(r + 1) > u128::from(n));
        prop_assert_eq!(r, isqrt_digits(n));
    }
}

// ---------------------------------------------------------------------------------------------
// Lookup tables
// ---------------------------------------------------------------------------------------------

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

fn exp(x: f64) -> f64 {
    x.exp()
}

/// The LUT kernel against "dequantize → f(x) in f64 → quantize" on all 256 inputs.
fn check_lut(f: fn(f64) -> f64, iq: QuantParams, oq: QuantParams) -> Result<(), String> {
    let lut = build_lut(f, iq, oq);
    let mut all: [i8; 256] = std::array::from_fn(|i| (i as i32 - 128) as i8);
    let x = all;
    let reals = deq(&x, iq);
    let expected: Vec<i8> = reals.iter().map(|r| quantize_ref(f(*r), oq)).collect();
    let mut y = [0i8; 256];
    apply_lut_into(&x, &lut, &mut y);
    apply_lut(&mut all, &lut);
    if all != y {
        return Err("in-place and out-of-place differ".into());
    }
    if y.as_slice() != expected.as_slice() {
        return Err(format!(
            "LUT differs from the float reference ({iq:?} → {oq:?})"
        ));
    }
    Ok(())
}

#[test]
fn lut_indexing_is_tflites_uint8_cast() {
    // A table for the identity on x/1 → x: entry `x as u8` must hold x.
    let q = QuantParams::new(1.0, 0);
    let lut = build_lut(|x| x, q, q);
    assert_eq!(lut[0], 0);
    assert_eq!(lut[1], 1);
    assert_eq!(lut[127], 127);
    assert_eq!(lut[128], -128);
    assert_eq!(lut[255], -1);
    for x in i8::MIN..=i8::MAX {
        assert_eq!(lookup(&lut, x), x);
    }
}

#[test]
fn lut_sigmoid_gelu_exp_hand_cases() {
    // Sigmoid with TFLite's int8 logistic output (1/256, −128): σ(0) = ½ → 0; σ(±large) → ±.
    let iq = QuantParams::new(0.1, 0);
    let oq = QuantParams::new(1.0 / 256.0, -128);
    let lut = build_lut(sigmoid, iq, oq);
    assert_eq!(lookup(&lut, 0), 0); // 0.5·256 − 128
    assert_eq!(lookup(&lut, 127), 127); // σ(12.7)·256 = 255.99… → 256 − 128 saturates to 127
    assert_eq!(lookup(&lut, -128), -128); // σ(−12.8)·256 ≈ 0.0007 → 0 − 128
    assert_eq!(
        lookup(&lut, 10),
        ((sigmoid(1.0) * 256.0).round() as i32 - 128) as i8
    ); // 187 − 128
       // GELU(0) = 0 at any zero point; GELU(x) ≈ x for large x.
    let oq = QuantParams::new(0.05, -100);
    let lut = build_lut(gelu, iq, oq);
    assert_eq!(lookup(&lut, 0), -100);
    assert_eq!(lookup(&lut, 50), -100 + (gelu(5.0) / 0.05).round() as i8);
    // exp(0) = 1.
    let oq = QuantParams::new(1.0 / 64.0, -128);
    let lut = build_lut(exp, iq, oq);
    assert_eq!(lookup(&lut, 0), -128 + 64);
    for (f, name) in [
        (sigmoid as fn(f64) -> f64, "sigmoid"),
        (gelu, "gelu"),
        (exp, "exp"),
    ] {
        check_lut(f, iq, QuantParams::new(0.02, -3)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Every table is exact (0 LSB) against the float reference, for random scales and zero
    /// points on both sides.
    #[test]
    fn lut_exact_for_random_quantization(
        f_idx in 0usize..3,
        d in proptest::collection::vec(-1.0f32..1.0, 4),
    ) {
        let f = [sigmoid as fn(f64) -> f64, gelu, exp][f_idx];
        let iq = QuantParams::new(log_scale(d[0], 1e-3, 0.2), to_i8(d[1]));
        let oq = QuantParams::new(log_scale(d[2], 1e-3, 0.2), to_i8(d[3]));
        prop_assert!(check_lut(f, iq, oq).is_ok(), "{:?}", check_lut(f, iq, oq));
    }
}

#[test]
fn exp_table_for_softmax() {
    let t = build_exp_table(0.0625);
    assert_eq!(t[0], 1 << EXP_TABLE_FRAC_BITS);
    assert_eq!(
        t[16],
        ((1u32 << 20) as f64 * (-1.0f64).exp()).round() as i32
    );
    assert!(t.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn reduction_bounds() {
    assert_eq!(MAX_WEIGHT_DOT_TERMS, 65_793);
    assert_eq!(MAX_ACT_DOT_TERMS, 33_025);
    assert!((MAX_WEIGHT_DOT_TERMS as i64) * 128 * 255 <= i64::from(i32::MAX));
    assert!((MAX_ACT_DOT_TERMS as i64) * 255 * 255 <= i64::from(i32::MAX));
}

// ---------------------------------------------------------------------------------------------
// Integer-only run-time path
// ---------------------------------------------------------------------------------------------

/// The code (comments stripped) of a source file.
fn code_of(src: &str) -> String {
    src.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn kernels_contain_no_floating_point() {
    let kernels = [
        ("concat.rs", include_str!("../../core/src/int8/concat.rs")),
        ("conv.rs", include_str!("../../core/src/int8/conv.rs")),
        (
            "elementwise.rs",
            include_str!("../../core/src/int8/elementwise.rs"),
        ),
        ("linalg.rs", include_str!("../../core/src/int8/linalg.rs")),
        (
            "linear_vnni.rs",
            include_str!("../../core/src/int8/linear_vnni.rs"),
        ),
        (
            "scores_vnni.rs",
            include_str!("../../core/src/int8/scores_vnni.rs"),
        ),
        ("lut.rs", include_str!("../../core/src/int8/lut.rs")),
        ("mod.rs", include_str!("../../core/src/int8/mod.rs")),
        ("norm.rs", include_str!("../../core/src/int8/norm.rs")),
        ("pool.rs", include_str!("../../core/src/int8/pool.rs")),
        ("resize.rs", include_str!("../../core/src/int8/resize.rs")),
        ("softmax.rs", include_str!("../../core/src/int8/softmax.rs")),
    ];
    let quant = include_str!("../../core/src/int8/quant.rs");
    let (run_time, build_time) = quant
        .split_once("BUILD-TIME HELPERS (host side)")
        .expect("quant.rs has its build-time banner");
    assert!(build_time.contains("fn quantize_multiplier"));
    for (name, src) in kernels
        .into_iter()
        .chain([("quant.rs (run-time part)", run_time)])
    {
        let code = code_of(src);
        for token in ["f32", "f64", "libm", "as f"] {
            assert!(!code.contains(token), "{name} uses `{token}` in code");
        }
    }
}
