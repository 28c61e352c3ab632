//! Integer softmax with TFLite's int8 output convention (scale 1/256, zero point −128).
//!
//! For an int8 input with scale `s` (softmax's `beta` folded in), `softmax(x)_i =
//! e^{s(x_i − max)} / Σ_j e^{s(x_j − max)}` depends only on the differences `d = max − x ∈
//! 0..=255`, so `e^{−s·d}` is a 256-entry table, computed on the host in `f64` with
//! [`EXP_TABLE_FRAC_BITS`] = 20 fractional bits ([`crate::int8::quant::build_exp_table`]) and
//! stored in the blob, as TFLite's optimized int8 softmax does with its LUT. At run time:
//!
//! 1. `max` of the vector (int8);
//! 2. `e_i = table[max − x_i]` (Q20, `e_max = 2^20`), `S = Σ e_i` in `u64`;
//! 3. `y_i = round(256 · e_i / S) − 128`, an exact integer division per element (rounded half
//!    up; all terms are non-negative), saturated to 127 for a probability of 1 — the output
//!    quantization TFLite fixes for int8 softmax (`scale = 1/256, zero_point = −128`). The
//!    divisor is the same for the whole vector, so it is one reciprocal per vector and a
//!    multiply per element ([`Divisor`], exact: same results as dividing).
//!
//! The table's absolute error (≤ 2^−21) moves `256·p` by far less than 2^−8, so the result is
//! within 1 LSB of "dequantize → f64 softmax → quantize" and equal to it except at ties.

use crate::ops::Axis;
use crate::tensor::Mat;

/// Fractional bits of the exp table: `table[0] = 2^20` stands for `e^0 = 1`.
pub const EXP_TABLE_FRAC_BITS: u32 = 20;

/// Zero point of every int8 softmax output (TFLite's fixed output quantization).
pub const OUTPUT_ZERO_POINT: i8 = -128;

/// `log2` of the scale of every int8 softmax output: `2^−8 = 1/256`.
pub const OUTPUT_SCALE_LOG2: i32 = -8;

/// `e^{−s·d}` in Q20 for `d = max − x` (a negative entry from a corrupt table counts as 0).
#[inline]
fn exp_of(table: &[i32; 256], max: i8, x: i8) -> u64 {
    // max ≥ x, so the difference is in 0..=255.
    let d = (i32::from(max) - i32::from(x)) as u8;
    table[usize::from(d)].max(0) as u64
}

/// `round(256 · e / sum) − 128`, saturated to int8 (`sum > 0`), with one division per
/// vector instead of one per element ([`Divisor`]).
#[derive(Debug, Clone, Copy)]
struct ProbQ {
    sum: u64,
    div: Divisor,
}

impl ProbQ {
    /// For the vector's sum (`sum > 0`).
    #[inline]
    fn new(sum: u64) -> Self {
        Self {
            sum,
            div: Divisor::new(sum.saturating_mul(2)),
        }
    }

    /// `⌊(512·e + sum) / (2·sum)⌋ − 128` (saturating steps, as before the divisor), i.e.
    /// `round(256 · e / sum)` rounded half up.
    #[inline]
    fn apply(&self, e: u64) -> i8 {
        (i32::from(self.quotient(e)) + i32::from(OUTPUT_ZERO_POINT)) as i8
    }

    /// `min(⌊(512·e + sum) / (2·sum)⌋, 255)`: [`ProbQ::apply`] before the zero point.
    #[inline]
    fn quotient(&self, e: u64) -> u8 {
        let q = self.div.div(e.saturating_mul(512).saturating_add(self.sum));
        // q ≤ 256 for a valid table (e ≤ sum); anything larger saturates.
        q.min(255) as u8
    }
}

/// Exact `⌊n / d⌋` for a divisor shared by many numerators (`d ≥ 1`): a 64×64→128-bit
/// multiply by `r = ⌊(2⁶⁴ − 1) / d⌋` and at most one correction.
///
/// Why it is exact: `d·r ≤ 2⁶⁴ − 1` makes the estimate `q̂ = ⌊n·r / 2⁶⁴⌋ ≤ ⌊n/d⌋`, and
/// `2⁶⁴ − d·r = ((2⁶⁴ − 1) mod d) + 1 ≤ d` makes `n/d − n·r/2⁶⁴ ≤ n/2⁶⁴ < 1`, so
/// `q̂ ≥ ⌊n/d⌋ − 1`. The remainder `n − q̂·d` (no overflow: `q̂·d ≤ n`) says whether the step
/// up is due.
#[derive(Debug, Clone, Copy)]
pub struct Divisor {
    d: u64,
    r: u64,
}

impl Divisor {
    /// The divisor `d`; 0 counts as 1 (callers never divide by 0).
    #[inline]
    pub const fn new(d: u64) -> Self {
        let d = if d == 0 { 1 } else { d };
        Self { d, r: u64::MAX / d }
    }

    /// `⌊n / d⌋`.
    #[inline]
    pub const fn div(&self, n: u64) -> u64 {
        let q = ((n as u128 * self.r as u128) >> 64) as u64;
        if n - q * self.d >= self.d {
            q + 1
        } else {
            q
        }
    }
}

/// Softmax of one vector in place: the values change from the input quantization (the one
/// `exp_table` was built for) to scale 1/256, zero point −128. An empty slice is left alone;
/// a table that sums to 0 (corrupt) gives all −128.
pub fn softmax_in_place(v: &mut [i8], exp_table: &[i32; 256]) {
    let Some(max) = v.iter().copied().max() else {
        return;
    };
    let sum = v
        .iter()
        .fold(0u64, |s, x| s.saturating_add(exp_of(exp_table, max, *x)));
    if sum == 0 {
        v.fill(OUTPUT_ZERO_POINT);
        return;
    }
    let p = ProbQ::new(sum);
    for x in v.iter_mut() {
        *x = p.apply(exp_of(exp_table, max, *x));
    }
}

/// An exp table prepared once for many vectors (an attention's scores, one vector per query
/// and head): the entries as [`softmax_in_place`] reads them (negative ones count as 0) and
/// whether they never increase with `d = max − x` (true for every table the host builds).
///
/// # Why a per-vector output table, and why it is the same softmax
///
/// Every output of one vector is `f(d) = min(⌊(512·e(d) + S) / 2S⌋, 255)` (then `− 128`), a
/// function of `d = max − x` alone once the vector's sum `S` is known. So instead of one
/// reciprocal multiply per element, `ExpTable::quotients` evaluates `f` once per distinct
/// `d` (at most `max − min + 1` of them, through the same [`Divisor`]) into a 256-entry byte
/// table and each element reads its output from it: the same function of the same integers.
/// For a non-increasing table `f` is non-increasing in `d` (the numerator is, the divisor is
/// fixed), so once it reaches 0 it stays 0 and the rest of the table is 0 without dividing —
/// with the host's tables most of the range (`e^{−s·d} < 2^{−9}` already gives 0).
#[derive(Debug, Clone)]
pub struct ExpTable {
    e: [u32; 256],
    monotone: bool,
}

impl ExpTable {
    /// Prepares `table` (built for the scores' input quantization, see the module docs).
    pub fn new(table: &[i32; 256]) -> Self {
        // `table[d].max(0) ≤ i32::MAX`: fits a `u32`.
        let e: [u32; 256] = core::array::from_fn(|d| table[d].max(0) as u32);
        let monotone = e.windows(2).all(|w| w[1] <= w[0]);
        Self { e, monotone }
    }

    /// The vector's maximum and its quotients `f(d)` for `d = 0..=max − min` (entries past
    /// that are 0 and never read): `y = f(max − x) − 128` is [`softmax_in_place`]'s output.
    /// `None` for an empty vector.
    #[inline]
    fn quotients(&self, v: &[i8]) -> Option<(i8, [u8; 256])> {
        let max = v.iter().copied().max()?;
        let min = v.iter().copied().min()?;
        let mut f = [0u8; 256];
        // At most 256 terms of at most 2³¹ − 1: the `u64` sum cannot saturate for any
        // length below 2³³, where `softmax_in_place`'s saturating sum agrees with it.
        let sum = v
            .iter()
            .fold(0u64, |s, x| s.saturating_add(self.exp(max, *x)));
        if sum == 0 {
            return Some((max, f));
        }
        let p = ProbQ::new(sum);
        let range = usize::from((i32::from(max) - i32::from(min)) as u8);
        for (q, e) in f[..=range].iter_mut().zip(&self.e) {
            *q = p.quotient(u64::from(*e));
            if *q == 0 && self.monotone {
                break;
            }
        }
        Some((max, f))
    }

    /// `e(max − x)`.
    #[inline]
    fn exp(&self, max: i8, x: i8) -> u64 {
        // max ≥ x, so the difference is in 0..=255.
        u64::from(self.e[usize::from((i32::from(max) - i32::from(x)) as u8)])
    }

    /// [`softmax_in_place`] with this table: the same outputs.
    pub fn softmax_in_place(&self, v: &mut [i8]) {
        if let Some((max, f)) = self.quotients(v) {
            for x in v.iter_mut() {
                let q = f[usize::from((i32::from(max) - i32::from(*x)) as u8)];
                *x = (i32::from(q) + i32::from(OUTPUT_ZERO_POINT)) as i8;
            }
        }
    }

    /// The softmax of `v` as attention weights: `w[i] = y_i + 128 ∈ 0..=255` for the outputs
    /// `y` of [`softmax_in_place`] (over the common length), without writing `v`.
    pub fn weights(&self, v: &[i8], w: &mut [i16]) {
        if let Some((max, f)) = self.quotients(v) {
            for (w, x) in w.iter_mut().zip(v) {
                *w = i16::from(f[usize::from((i32::from(max) - i32::from(*x)) as u8)]);
            }
        }
    }
}

/// Softmax of a matrix over the chosen axis, in place (output scale 1/256, zero point −128).
pub fn softmax<const R: usize, const C: usize>(
    m: &mut Mat<R, C, i8>,
    exp_table: &[i32; 256],
    axis: Axis,
) {
    match axis {
        Axis::Rows => m
            .iter_mut()
            .for_each(|row| softmax_in_place(row, exp_table)),
        Axis::Cols => {
            for c in 0..C {
                let Some(max) = m.iter().map(|r| r[c]).max() else {
                    return;
                };
                let sum = m
                    .iter()
                    .fold(0u64, |s, r| s.saturating_add(exp_of(exp_table, max, r[c])));
                let p = ProbQ::new(sum);
                for row in m.iter_mut() {
                    row[c] = if sum == 0 {
                        OUTPUT_ZERO_POINT
                    } else {
                        p.apply(exp_of(exp_table, max, row[c]))
                    };
                }
            }
        }
    }
}
