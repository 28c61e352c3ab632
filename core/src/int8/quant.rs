//! Fixed-point requantization with TFLite / gemmlowp semantics, the output stages that the
//! int8 kernels share, and (at the bottom, clearly separated) the build-time helpers that turn
//! real-valued scales into the integers those kernels use.
//!
//! # Requantization
//!
//! An int8 kernel accumulates in `i32` at some scale `s_acc` (for a convolution
//! `s_acc = s_in · s_w[co]`) and must write `q_out = round(acc · s_acc / s_out) + zp_out`. The
//! real factor `M = s_acc / s_out` is stored as a [`Requant`]: a Q31 `multiplier` in
//! `[2^30, 2^31)` and a power-of-two `shift`, `M ≈ multiplier · 2^(shift − 31)`. Applying it is
//! exactly TFLite's `MultiplyByQuantizedMultiplier` (reference kernels, double-rounding build,
//! the default; CMSIS-NN's `arm_nn_requantize` is the same function):
//!
//! ```text
//! left  = max(shift, 0),  right = max(−shift, 0)
//! out   = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x · 2^left, multiplier), right)
//! ```
//!
//! * `SaturatingRoundingDoublingHighMul(a, b)` is gemmlowp's: the high 32 bits of `2·a·b`,
//!   rounded to nearest, saturating only for `a = b = i32::MIN`. Its tie rule is gemmlowp's:
//!   a positive tie rounds up, a negative tie towards zero (the result of adding the nudge
//!   `1 − 2^30` and dividing with C's truncating division; the same as ARM's `vqrdmulh`).
//! * `RoundingDivideByPOT(x, e)` is gemmlowp's: `x / 2^e` rounded to nearest, **ties away from
//!   zero** (`5 >> 1 → 3`, `−5 >> 1 → −3`). With the usual `shift < 0` this is the rounding
//!   that decides the output LSB; for `shift ≥ 0` (`M ≥ ½`) only the first step rounds, so
//!   ties go up (`−0.5 → 0`), exactly as in TFLite.
//!
//! **Double rounding.** The two steps round separately (TFLite's default build; its
//! `TFLITE_SINGLE_ROUNDING` option and CMSIS-NN's `CMSIS_NN_USE_SINGLE_ROUNDING` change
//! this, we do not), so with a right shift `r = −shift` the first step can carry a value
//! within `2^−(r+1)` of a tie across it: `25 · ¼` is `SRDHM(25, 2^30) = 12.5 → 13`, then
//! `13 / 2 = 6.5 → 7`, not 6. The result is always within `½ + 2^−(r+1)` of the exact
//! product — within 1 LSB of the float reference — and differs from the correctly rounded
//! value for about `2^−(r+1)` of random inputs: ~0.1 % for convolution multipliers (`r` ≈ 8–12),
//! a few % for rescales by factors near 1 (`r` ≤ 3, concat/requantize). Bit-exactness with
//! TFLite / CMSIS-NN is the point, so this is kept; the tests measure and state it.
//!
//! Everything here is `const fn`, integer-only and total: parameters that arrive in a blob
//! (a shift outside `−31..=31`, a clamp with `min > max`) give a deterministic result instead
//! of a panic or undefined behaviour. Where TFLite would overflow (undefined in C++), these
//! functions return the saturated true result.
//!
//! # Build time (host side)
//!
//! The section at the end of this file (after the `BUILD-TIME HELPERS` banner) is the only
//! floating point in [`crate::int8`]: choosing quantization parameters, converting real
//! multipliers ([`quantize_multiplier`], TFLite's `QuantizeMultiplier`), and computing lookup
//! tables in `f64`. The host exporter calls it once per layer and stores the integers in the
//! blob; no kernel calls it, so inference stays integer-only and bit-identical everywhere.

/// `min(max(v, lo), hi)` without `Ord::clamp`'s panic when `lo > hi` (then `hi` wins).
const fn clamp_i32(v: i32, lo: i32, hi: i32) -> i32 {
    let v = if v < lo { lo } else { v };
    if v > hi {
        hi
    } else {
        v
    }
}

/// Saturates an `i32` to the int8 range.
pub const fn saturate_i8(v: i32) -> i8 {
    clamp_i32(v, i8::MIN as i32, i8::MAX as i32) as i8
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: `round(a · b / 2^31)`, i.e. the high word of
/// the doubled 64-bit product.
///
/// Rounding adds `2^30` to a non-negative product and `1 − 2^30` to a negative one, then
/// truncates towards zero (C++ `/`, which Rust's `/` matches): positive ties go up, negative
/// ties go towards zero. The only overflow, `i32::MIN · i32::MIN`, saturates to `i32::MAX`.
pub const fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // |ab| < 2^62 here, so the quotient fits in i32.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent`, rounded to nearest with ties away from
/// zero.
///
/// gemmlowp requires `0 ≤ exponent ≤ 31`; an exponent outside that range (only possible from
/// a corrupted parameter) is clamped into it.
pub const fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let e = clamp_i32(exponent, 0, 31);
    let mask = ((1i64 << e) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + if x < 0 { 1 } else { 0 };
    (x >> e) + if remainder > threshold { 1 } else { 0 }
}

/// TFLite's `MultiplyByQuantizedMultiplier(x, multiplier, shift)`: `x · multiplier ·
/// 2^(shift − 31)`, rounded as described in the [module docs](self).
///
/// `shift` is clamped to `−31..=31` (the range [`quantize_multiplier`] produces). For
/// `shift > 0` TFLite computes `SaturatingRoundingDoublingHighMul(x · 2^shift, multiplier)`,
/// where `x · 2^shift` can overflow `i32` (undefined behaviour in C++); this computes the same
/// high word from the exact 64-bit product `x · multiplier` with the same rounding nudge, so
/// it is bit-identical whenever TFLite's shift does not overflow and saturates when the true
/// result does not fit.
pub const fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let shift = clamp_i32(shift, -31, 31);
    if shift <= 0 {
        return rounding_divide_by_pot(
            saturating_rounding_doubling_high_mul(x, multiplier),
            -shift,
        );
    }
    // round(x·m·2^shift / 2^31) = round(x·m / 2^k): positive ties up, negative ties towards
    // zero (SRDHM's nudges 2^30 and 1 − 2^30, scaled down by 2^shift).
    let ab = x as i64 * multiplier as i64; // |ab| ≤ 2^62
    let k = 31 - shift; // 0..=30
    let r = if k == 0 {
        ab
    } else if ab >= 0 {
        (ab + (1 << (k - 1))) >> k
    } else {
        -((-ab + (1 << (k - 1)) - 1) >> k)
    };
    if r > i32::MAX as i64 {
        i32::MAX
    } else if r < i32::MIN as i64 {
        i32::MIN
    } else {
        r as i32
    }
}

/// `round(x / 2^n)` with ties away from zero, on `i64` (fixed-point weights of resampling and
/// layer norm, which need more than 32 bits). `n` is clamped to `0..=62`. Exact for every
/// `i64`, `i64::MIN` included.
pub const fn rounding_shift_right_i64(x: i64, n: u32) -> i64 {
    let n = if n > 62 { 62 } else { n };
    if n == 0 {
        return x;
    }
    let mag = x.unsigned_abs();
    let round_up = (mag & ((1u64 << n) - 1)) >= 1u64 << (n - 1);
    // ≤ 2^63 / 2 + 1: fits in i64.
    let r = ((mag >> n) + if round_up { 1 } else { 0 }) as i64;
    if x < 0 {
        -r
    } else {
        r
    }
}

/// `round(n / d)` with ties away from zero, for `d > 0` (average pooling). `d ≤ 0` gives 0.
pub const fn div_round_half_away(n: i64, d: i64) -> i64 {
    if d <= 0 {
        return 0;
    }
    if d == 1 {
        return n;
    }
    let (mag, d) = (n.unsigned_abs(), d as u64);
    let (q, rem) = (mag / d, mag % d);
    // rem < d, so `rem ≥ d − rem` is `2·rem ≥ d` without overflow; q ≤ 2^63 / 2.
    let r = (q + if rem >= d - rem { 1 } else { 0 }) as i64;
    if n < 0 {
        -r
    } else {
        r
    }
}

/// A real multiplier in fixed point: `M ≈ multiplier · 2^(shift − 31)`.
///
/// `multiplier` is in `[2^30, 2^31)` for a positive `M` (negative for a negative `M`, which only
/// layer norm's `gamma` may need) and `shift` in `−31..=30`, as produced by
/// [`quantize_multiplier`]. [`Requant::apply`] is TFLite's `MultiplyByQuantizedMultiplier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requant {
    /// Q31 mantissa.
    pub multiplier: i32,
    /// Power-of-two exponent (positive: left shift before the multiply; negative: rounding
    /// right shift after it).
    pub shift: i32,
}

impl Requant {
    /// Exactly 1: `2^30 · 2^(1 − 31)`, what [`quantize_multiplier`]`(1.0)` returns.
    pub const IDENTITY: Self = Self {
        multiplier: 1 << 30,
        shift: 1,
    };

    /// Builds one from its two integers.
    pub const fn new(multiplier: i32, shift: i32) -> Self {
        Self { multiplier, shift }
    }

    /// `round(x · M)` with TFLite's rounding (see [`multiply_by_quantized_multiplier`]).
    pub const fn apply(self, x: i32) -> i32 {
        multiply_by_quantized_multiplier(x, self.multiplier, self.shift)
    }

    /// Whether this is [`Requant::IDENTITY`] (lets copies skip the arithmetic).
    pub const fn is_identity(self) -> bool {
        self.multiplier == Self::IDENTITY.multiplier && self.shift == Self::IDENTITY.shift
    }
}

/// An output activation range fused into a kernel (TFLite's `quantized_activation_min/max`):
/// every result is clamped to `min..=max` after adding the output zero point.
///
/// A fused ReLU is `Clamp::relu(zp_out)` (the real value 0 is the zero point), ReLU6 is
/// `min = zp_out, max = zp_out + round(6 / s_out)`, no activation is [`Clamp::NONE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clamp {
    /// Smallest output.
    pub min: i8,
    /// Largest output (if `min > max`, e.g. from a corrupted blob, `max` wins; no panic).
    pub max: i8,
}

impl Default for Clamp {
    fn default() -> Self {
        Self::NONE
    }
}

impl Clamp {
    /// The whole int8 range: no activation.
    pub const NONE: Self = Self {
        min: i8::MIN,
        max: i8::MAX,
    };

    /// A fused ReLU for an output whose zero point is `zero_point`.
    pub const fn relu(zero_point: i8) -> Self {
        Self {
            min: zero_point,
            max: i8::MAX,
        }
    }

    /// Clamps an `i32` result to the range (and so to int8).
    pub const fn apply(self, v: i32) -> i8 {
        clamp_i32(v, self.min as i32, self.max as i32) as i8
    }
}

/// The output stage of a layer with int8 weights quantized per output channel (convolution,
/// depthwise convolution, linear): bias, per-channel requantization, zero points, clamp.
///
/// For output channel `co`: `q = clamp(M[co]·(acc + bias[co]) + zp_out)` where
/// `acc = Σ w·(x − zp_in)` (weights are symmetric, zero point 0), `bias` is int32 at scale
/// `s_in · s_w[co]` and `M[co] = s_in · s_w[co] / s_out` is stored as `multiplier[co]`,
/// `shift[co]` — the layout of TFLite's per-channel `output_multiplier`/`output_shift`
/// arrays and CMSIS-NN's `cmsis_nn_per_channel_quant_params`, so the arrays can be used in
/// place from the blob.
#[derive(Debug, Clone, Copy)]
pub struct PerChannelQuant<'a, const CO: usize> {
    /// Zero point of the input activation (the value padding stands for).
    pub input_zp: i8,
    /// Zero point of the output activation.
    pub output_zp: i8,
    /// Q31 mantissa of `s_in · s_w[co] / s_out`, per output channel.
    pub multiplier: &'a [i32; CO],
    /// Power-of-two exponent of the same, per output channel.
    pub shift: &'a [i32; CO],
    /// Int32 bias at scale `s_in · s_w[co]` (BatchNorm already folded in), if any.
    pub bias: Option<&'a [i32; CO]>,
    /// Fused activation range.
    pub clamp: Clamp,
}

impl<const CO: usize> PerChannelQuant<'_, CO> {
    /// The int8 output of channel `co` for the accumulator `acc` (channel index checked by
    /// the caller's loop bounds; an out-of-range `co` would be a bug, not a run-time input).
    #[inline]
    pub(crate) fn output(&self, co: usize, acc: i32) -> i8 {
        let acc = match self.bias {
            Some(b) => acc.saturating_add(b[co]),
            None => acc,
        };
        let scaled = multiply_by_quantized_multiplier(acc, self.multiplier[co], self.shift[co]);
        self.clamp
            .apply(scaled.saturating_add(i32::from(self.output_zp)))
    }
}

/// The output stage of a product of two int8 activations (attention scores, `A·V`): one
/// per-tensor requantization `M = s_a · s_b / s_out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorQuant {
    /// Zero point of the left operand.
    pub a_zp: i8,
    /// Zero point of the right operand.
    pub b_zp: i8,
    /// Zero point of the output.
    pub output_zp: i8,
    /// `s_a · s_b / s_out`.
    pub requant: Requant,
    /// Fused activation range.
    pub clamp: Clamp,
}

impl TensorQuant {
    /// The int8 output for the accumulator `acc = Σ (a − a_zp)(b − b_zp)`.
    #[inline]
    pub const fn output(&self, acc: i32) -> i8 {
        self.clamp.apply(
            self.requant
                .apply(acc)
                .saturating_add(self.output_zp as i32),
        )
    }
}

/// Largest number of `w · (x − zp)` terms (`|w| ≤ 128`, `|x − zp| ≤ 255`) whose sum cannot
/// overflow `i32`: `i32::MAX / (128 · 255)`. Typed kernels check their reduction length
/// against it at compile time, so the accumulation needs no overflow handling.
pub const MAX_WEIGHT_DOT_TERMS: usize = i32::MAX as usize / (128 * 255);

/// Largest number of `(a − za)(b − zb)` terms (two asymmetric int8 activations, each
/// difference `≤ 255` in magnitude) whose sum cannot overflow `i32`: `i32::MAX / 255²`.
pub const MAX_ACT_DOT_TERMS: usize = i32::MAX as usize / (255 * 255);

// ============================================================================================
// BUILD-TIME HELPERS (host side).
//
// Everything below uses floating point. It computes the integer parameters and tables that
// the exporter stores in the blob (and that tests build their cases from). No kernel in
// `crate::int8` calls any of it: the run-time path is integer-only.
// ============================================================================================

/// Real-valued quantization parameters of a tensor: `real = scale · (q − zero_point)`.
///
/// **Build time only**: kernels never see scales, only the integers derived from them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantParams {
    /// Size of one quantization step (positive).
    pub scale: f32,
    /// The int8 value that stands for real 0.
    pub zero_point: i8,
}

impl QuantParams {
    /// Parameters with the given scale and zero point.
    pub const fn new(scale: f32, zero_point: i8) -> Self {
        Self { scale, zero_point }
    }

    /// The int8 value nearest to `real` (ties away from zero, like TFLite's `TfLiteRound`),
    /// saturated to `−128..=127`. NaN maps to the zero point.
    pub fn quantize(self, real: f64) -> i8 {
        let q = libm::round(real / f64::from(self.scale));
        if q.is_nan() {
            return self.zero_point;
        }
        let v = q + f64::from(self.zero_point);
        // `as` saturates for out-of-range floats.
        v.clamp(-128.0, 127.0) as i8
    }

    /// The real value an int8 value stands for.
    pub fn dequantize(self, q: i8) -> f64 {
        f64::from(self.scale) * (f64::from(q) - f64::from(self.zero_point))
    }

    /// Asymmetric int8 parameters for the real range `[min, max]` (widened to include 0, so
    /// that 0 — padding, ReLU — is exact), with TFLite's nudged zero point
    /// (`ChooseQuantizationParams`). A degenerate range gives scale 1.
    pub fn from_range(min: f32, max: f32) -> Self {
        let (min, max) = (f64::from(min.min(0.0)), f64::from(max.max(0.0)));
        if max - min <= 0.0 || !(max - min).is_finite() {
            return Self::new(1.0, 0);
        }
        let scale = (max - min) / 255.0;
        let (qmin, qmax) = (-128.0f64, 127.0f64);
        let zp_from_min = qmin - min / scale;
        let zp_from_max = qmax - max / scale;
        let err_min = qmin.abs() + (min / scale).abs();
        let err_max = qmax.abs() + (max / scale).abs();
        let zp = if err_min < err_max {
            zp_from_min
        } else {
            zp_from_max
        };
        let zp = libm::round(zp.clamp(qmin, qmax)) as i8;
        Self::new(scale as f32, zp)
    }

    /// Symmetric weight scale for a channel whose largest magnitude is `max_abs`: the range
    /// `−127..=127` (TFLite's per-channel int8 weights), zero point 0.
    pub fn symmetric(max_abs: f32) -> Self {
        let s = if max_abs > 0.0 && max_abs.is_finite() {
            max_abs / 127.0
        } else {
            1.0
        };
        Self::new(s, 0)
    }
}

/// TFLite's `QuantizeMultiplier`: `real ≈ multiplier · 2^(shift − 31)` with `multiplier` a
/// Q31 mantissa (`|multiplier| ∈ [2^30, 2^31)`).
///
/// `frexp` gives `real = q · 2^shift` with `|q| ∈ [0.5, 1)`; `multiplier = round(q · 2^31)`
/// (ties away from zero); a mantissa that rounds up to `2^31` is halved and the shift
/// incremented; a shift below −31 (|real| < 2^−32) becomes `(0, 0)`. Beyond TFLite, a shift
/// above 30 saturates to `(i32::MAX, 30)` (TFLite's single-rounding rule; no layer has such a
/// multiplier) and a non-finite `real` gives `(0, 0)`, so the result is always a valid
/// [`Requant`].
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (q, mut shift) = libm::frexp(real);
    let mut q_fixed = libm::round(q * (1i64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    if shift > 30 {
        return (i32::MAX, 30);
    }
    (q_fixed as i32, shift)
}

impl Requant {
    /// The fixed-point form of a real multiplier ([`quantize_multiplier`]). **Build time.**
    pub fn from_real(real: f64) -> Self {
        let (multiplier, shift) = quantize_multiplier(real);
        Self { multiplier, shift }
    }

    /// The real value this stands for, `multiplier · 2^(shift − 31)`. **Build time.**
    pub fn to_real(self) -> f64 {
        f64::from(self.multiplier) * libm::exp2(f64::from(self.shift) - 31.0)
    }
}

/// A 256-entry int8 → int8 lookup table for `y = f(x)`: entry `x as u8` (TFLite's
/// `LUTPopulate` indexing, `static_cast<uint8_t>(x)`) holds
/// `quantize_out(f(dequantize_in(x)))`. **Build time**; apply with
/// [`crate::int8::lut::apply_lut`].
///
/// The table is exact by construction: each entry is the float reference for its input, so
/// a LUT kernel has 0 LSB error against "dequantize → f64 op → quantize".
pub fn build_lut(f: fn(f64) -> f64, in_q: QuantParams, out_q: QuantParams) -> [i8; 256] {
    let mut lut = [0i8; 256];
    for x in i8::MIN..=i8::MAX {
        lut[usize::from(x.cast_unsigned())] = out_q.quantize(f(in_q.dequantize(x)));
    }
    lut
}

/// The exp table of [`mod@crate::int8::softmax`]: entry `d` is
/// `round(2^EXP_TABLE_FRAC_BITS · exp(−input_scale · d))` for `d = max − x ∈ 0..=255`.
/// **Build time.** Fold softmax's `beta` (or an attention temperature) into `input_scale`.
pub fn build_exp_table(input_scale: f64) -> [i32; 256] {
    let one = f64::from(1u32 << crate::int8::softmax::EXP_TABLE_FRAC_BITS);
    let mut t = [0i32; 256];
    for (d, e) in t.iter_mut().enumerate() {
        *e = libm::round(one * libm::exp(-input_scale * d as f64)) as i32;
    }
    t
}

impl crate::int8::elementwise::AddQuant {
    /// TFLite's `PrepareGeneralSubOp`/`Add` parameters for `out = a + b` (with
    /// `left_shift = 20`): both inputs are rescaled to `2·max(s_a, s_b)` after a left shift by
    /// 20 bits, summed, and rescaled to `s_out`. **Build time.**
    pub fn new(a: QuantParams, b: QuantParams, out: QuantParams, clamp: Clamp) -> Self {
        Self::scaled(a, 1.0, b, 1.0, out, clamp)
    }

    /// As [`Self::new`] for `out = ka·a + kb·b` with real constants folded into the input
    /// multipliers (e.g. a learned `γ·attention + x` residual). **Build time.**
    pub fn scaled(
        a: QuantParams,
        ka: f64,
        b: QuantParams,
        kb: f64,
        out: QuantParams,
        clamp: Clamp,
    ) -> Self {
        let left_shift = crate::int8::elementwise::ADD_LEFT_SHIFT;
        let (sa, sb) = (f64::from(a.scale) * ka, f64::from(b.scale) * kb);
        let twice_max = 2.0 * sa.abs().max(sb.abs());
        let twice_max = if twice_max > 0.0 { twice_max } else { 1.0 };
        Self {
            a_zp: a.zero_point,
            b_zp: b.zero_point,
            output_zp: out.zero_point,
            left_shift,
            a: Requant::from_real(sa / twice_max),
            b: Requant::from_real(sb / twice_max),
            output: Requant::from_real(
                twice_max / (f64::from(1u32 << left_shift) * f64::from(out.scale)),
            ),
            clamp,
        }
    }
}

impl crate::int8::elementwise::MulQuant {
    /// TFLite's `Mul` parameters: one multiplier `s_a · s_b / s_out`. **Build time.**
    pub fn new(a: QuantParams, b: QuantParams, out: QuantParams, clamp: Clamp) -> Self {
        Self {
            a_zp: a.zero_point,
            b_zp: b.zero_point,
            output_zp: out.zero_point,
            requant: Requant::from_real(
                f64::from(a.scale) * f64::from(b.scale) / f64::from(out.scale),
            ),
            clamp,
        }
    }
}

impl crate::int8::concat::Rescale {
    /// Parameters that move a tensor from `input` to `output` quantization (`s_in / s_out`).
    /// **Build time.**
    pub fn new(input: QuantParams, output: QuantParams) -> Self {
        Self {
            input_zp: input.zero_point,
            output_zp: output.zero_point,
            requant: Requant::from_real(f64::from(input.scale) / f64::from(output.scale)),
        }
    }
}

impl TensorQuant {
    /// Parameters of `out = k · (a ⋅ b)` for two int8 activations (`k` folds e.g. attention's
    /// `1/√d`). **Build time.**
    pub fn new(a: QuantParams, b: QuantParams, k: f64, out: QuantParams, clamp: Clamp) -> Self {
        Self {
            a_zp: a.zero_point,
            b_zp: b.zero_point,
            output_zp: out.zero_point,
            requant: Requant::from_real(
                k * f64::from(a.scale) * f64::from(b.scale) / f64::from(out.scale),
            ),
            clamp,
        }
    }
}

/// Per-output-channel requantization arrays for a layer with int8 weights: for each channel,
/// `M[co] = s_in · s_w[co] / s_out` into `multiplier[co]`, `shift[co]`. **Build time.**
pub fn per_channel_requant<const CO: usize>(
    input: QuantParams,
    weight_scales: &[f32; CO],
    output: QuantParams,
    multiplier: &mut [i32; CO],
    shift: &mut [i32; CO],
) {
    for ((sw, m), s) in weight_scales.iter().zip(multiplier).zip(shift) {
        (*m, *s) =
            quantize_multiplier(f64::from(input.scale) * f64::from(*sw) / f64::from(output.scale));
    }
}

/// Quantizes a real bias to int32 at scale `s_in · s_w` (round half away, saturating).
/// **Build time.**
pub fn quantize_bias(bias: f64, input_scale: f32, weight_scale: f32) -> i32 {
    let q = libm::round(bias / (f64::from(input_scale) * f64::from(weight_scale)));
    if q.is_nan() {
        0
    } else {
        q.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    }
}

/// Quantizes the affine part of a layer norm over `D` features (see
/// [`crate::int8::norm::LayerNormQuant`]): per feature, the gamma multiplier
/// `γ / (s_out · 2^(NORM_FRAC_BITS − BETA_FRAC_BITS))` and `beta = round(β · 2^BETA_FRAC_BITS /
/// s_out)`; returns `eps_q` = `round(eps / s_in² · 2^EPS_FRAC_BITS)` (saturated). **Build
/// time.**
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_params<const D: usize>(
    gamma: &[f32; D],
    beta: &[f32; D],
    eps: f64,
    input: QuantParams,
    output: QuantParams,
    gamma_multiplier: &mut [i32; D],
    gamma_shift: &mut [i32; D],
    beta_q: &mut [i32; D],
) -> i32 {
    use crate::int8::norm::{BETA_FRAC_BITS, EPS_FRAC_BITS, NORM_FRAC_BITS};
    let s_out = f64::from(output.scale);
    let g_den = s_out * f64::from(1u32 << (NORM_FRAC_BITS - BETA_FRAC_BITS));
    for i in 0..D {
        (gamma_multiplier[i], gamma_shift[i]) = quantize_multiplier(f64::from(gamma[i]) / g_den);
        let b = libm::round(f64::from(beta[i]) * f64::from(1u32 << BETA_FRAC_BITS) / s_out);
        beta_q[i] = if b.is_nan() {
            0
        } else {
            b.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
        };
    }
    let s_in = f64::from(input.scale);
    let e = libm::round(eps / (s_in * s_in) * f64::from(1u32 << EPS_FRAC_BITS));
    if e.is_nan() {
        0
    } else {
        e.clamp(0.0, f64::from(i32::MAX)) as i32
    }
}
