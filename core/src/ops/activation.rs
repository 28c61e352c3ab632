//! Element-wise non-linearities, in place, on a tensor of any shape.

use crate::tensor::Flat;

/// `x = max(x, 0)`.
pub fn relu(x: &mut impl Flat<Elem = f32>) {
    for v in x.flat_mut() {
        *v = v.max(0.0);
    }
}

/// `e^x` for `x ≤ 0` (softmax after subtracting the maximum, the logistic function of `−|x|`),
/// in straight-line f32 arithmetic that a compiler vectorises — `libm::expf` is a call per
/// element with branches. Cody–Waite reduction `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, with `n`
/// rounded by the 1.5·2²³ trick, Cephes' degree-7 minimax polynomial for `e^r` (within about
/// 1 ulp of `e^x`; tested against `libm::exp` over the whole range), and `2^n` built from its
/// exponent bits (two halves, so results below the normal range come out as subnormals, like
/// libm's); below −104 the result is 0. NaN stays NaN. No fused multiply–add, so the same bits
/// on every build.
#[inline]
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³
    const MIN: f32 = -104.0; // below ln(2⁻¹⁴⁹): e^x rounds to 0
    let xc = x.clamp(MIN, 0.0);
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let p = ((((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * r)
        * r
        + r
        + 1.0;
    // 2^n for n in −150..=0 as 2^h · 2^(n−h), h = ⌊n/2⌋: both factors normal (exponent
    // field + 127 ≥ 52), the product exact while it stays normal and rounded once below.
    // n as an integer, read from t's mantissa (t = 1.5·2²³ + n, one binade, ulp 1): the value
    // of `n as i32`, without a float-to-int conversion (whose saturation rules keep a compiler
    // from vectorising it).
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let h = ni >> 1;
    let s1 = f32::from_bits(((h + 127) as u32) << 23);
    let s2 = f32::from_bits(((ni - h + 127) as u32) << 23);
    let y = (p * s1) * s2;
    if x.is_nan() {
        x
    } else if x < MIN {
        0.0
    } else {
        y
    }
}

/// The logistic function `1 / (1 + e^(−x))`, written so neither branch overflows: with
/// `e = e^(−|x|)`, `1/(1 + e)` for `x ≥ 0` and `e/(1 + e)` below.
pub fn sigmoid_scalar(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

/// `x = σ(x)` element-wise.
pub fn sigmoid(x: &mut impl Flat<Elem = f32>) {
    for v in x.flat_mut() {
        *v = sigmoid_scalar(*v);
    }
}

/// Exact GELU, `x · Φ(x) = ½x(1 + erf(x/√2))` (not the tanh approximation). `erf` is
/// `libm::erff` bit for bit, in a branch-free form ([`super::erf`]).
#[inline]
pub fn gelu_scalar(x: f32) -> f32 {
    0.5 * x * (1.0 + super::erf::erff(x * core::f32::consts::FRAC_1_SQRT_2))
}

/// `x = GELU(x)` element-wise (exact erf form), [`gelu_scalar`]'s bits.
///
/// In runs of 16 elements, each run computing only the ranges of `erf` its elements fall in
/// (most runs of a network's activations need neither `erf`'s middle range nor its two `expf`
/// ranges, which are most of the cost of the branch-free form); each run is one vectorisable
/// pass.
pub fn gelu(x: &mut impl Flat<Elem = f32>) {
    let (runs, rest) = x.flat_mut().as_chunks_mut::<16>();
    for run in runs {
        let (mut mid, mut tail) = (false, false);
        for v in run.iter() {
            let a = *v * core::f32::consts::FRAC_1_SQRT_2;
            mid |= super::erf::in_mid_range(a);
            tail |= super::erf::in_tail_range(a);
        }
        match (mid, tail) {
            (false, false) => gelu_run::<false, false>(run),
            (true, false) => gelu_run::<true, false>(run),
            (false, true) => gelu_run::<false, true>(run),
            (true, true) => gelu_run::<true, true>(run),
        }
    }
    for v in rest {
        *v = gelu_scalar(*v);
    }
}

/// [`gelu_scalar`] over a run, with `erf`'s middle / `expf` ranges only if `MID` / `TAIL`
/// (the caller has checked that no element needs one left out).
#[inline(always)]
fn gelu_run<const MID: bool, const TAIL: bool>(run: &mut [f32; 16]) {
    for v in run.iter_mut() {
        let x = *v;
        *v = 0.5
            * x
            * (1.0 + super::erf::erff_ranges::<MID, TAIL>(x * core::f32::consts::FRAC_1_SQRT_2));
    }
}

#[cfg(test)]
mod tests {
    use super::exp_nonpositive;

    /// Within 2 ulp of the correctly rounded `e^x` (f64 `libm::exp`) on a dense sweep of the
    /// normal range, exact at 0, subnormal below it, 0 past the subnormals, NaN kept.
    #[test]
    fn exp_nonpositive_is_within_two_ulp() {
        let mut worst = 0.0f64;
        let steps = 200_000;
        for i in 0..=steps {
            let x = -87.3f32 * (i as f32 / steps as f32);
            let got = f64::from(exp_nonpositive(x));
            let want = libm::exp(f64::from(x));
            let ulp = f64::from(f32::EPSILON) * want;
            worst = worst.max((got - want).abs() / ulp);
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-0.0), 1.0);
        // Subnormal results: within one subnormal step of libm's.
        for x in [-88.0f32, -95.5, -100.0, -103.0] {
            let got = f64::from(exp_nonpositive(x));
            let want = libm::exp(f64::from(x));
            assert!(
                got > 0.0 && (got - want).abs() <= 1.5e-45,
                "{x}: {got} vs {want}"
            );
        }
        assert_eq!(exp_nonpositive(-105.0), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }
}
