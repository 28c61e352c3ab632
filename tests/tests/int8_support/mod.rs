//! Shared helpers of the int8 kernel tests (`tests/tests/int8_*.rs`, included with
//! `mod int8_support;`).
//!
//! * The float reference of every kernel is "dequantize → f64 op (from
//!   `hepaseg_tests::reference`) → quantize": [`deq`], then [`quantize_ref`] — written here
//!   independently of core's build-time helpers (`f64::round` is half away from zero).
//! * [`QCase`] / [`int8_cases!`]: like `hepaseg_tests::Case` / `proptest_cases!`, but each run
//!   reports its error in LSB ([`Stats`]) against a per-case bound, and a `measure` test runs
//!   every case on many deterministic data sets and prints the measured maximum (the figures
//!   quoted for each kernel: `cargo test -p hepaseg-tests --test int8_… measure --
//!   --nocapture`).
//! * Random test data arrive as f32 in `[-1, 1)` (the proptest strategy of the f32 tests);
//!   [`to_i8`], [`to_w8`], [`log_scale`] map them to int8 values, weights and scales.

#![allow(dead_code, unused_macros)]

use hepaseg_core::int8::QuantParams;
use hepaseg_core::Flat;
use hepaseg_tests::Feed;

/// A random f32 in `[-1, 1)` → an int8, uniformly over all 256 values.
pub fn to_i8(d: f32) -> i8 {
    let v = ((f64::from(d) + 1.0) * 128.0).floor() as i32;
    (v.clamp(0, 255) - 128) as i8
}

/// A random f32 in `[-1, 1)` → a symmetric int8 weight in `-127..=127`.
pub fn to_w8(d: f32) -> i8 {
    (f64::from(d) * 127.0).round().clamp(-127.0, 127.0) as i8
}

/// A random f32 in `[-1, 1)` → a scale spread log-uniformly over `[lo, hi)`.
pub fn log_scale(d: f32, lo: f64, hi: f64) -> f32 {
    let t = (f64::from(d) + 1.0) / 2.0;
    (lo * (hi / lo).powf(t)) as f32
}

/// Fills an int8 tensor from the next random values.
pub fn fill_i8<T: Flat<Elem = i8>>(f: &mut Feed<'_>, t: &mut T) {
    let n = t.flat().len();
    for (d, s) in t.flat_mut().iter_mut().zip(f.next(n)) {
        *d = to_i8(*s);
    }
}

/// Fills an int8 weight tensor (symmetric range) from the next random values.
pub fn fill_w8<T: Flat<Elem = i8>>(f: &mut Feed<'_>, t: &mut T) {
    let n = t.flat().len();
    for (d, s) in t.flat_mut().iter_mut().zip(f.next(n)) {
        *d = to_w8(*s);
    }
}

/// Dequantizes with per-tensor parameters.
pub fn deq(v: &[i8], q: QuantParams) -> Vec<f64> {
    v.iter()
        .map(|x| f64::from(q.scale) * (f64::from(*x) - f64::from(q.zero_point)))
        .collect()
}

/// The reference quantization: `clamp(round(real / s) + zp)`, ties away from zero.
pub fn quantize_ref(real: f64, q: QuantParams) -> i8 {
    let v = (real / f64::from(q.scale)).round() + f64::from(q.zero_point);
    v.clamp(-128.0, 127.0) as i8
}

/// [`quantize_ref`] of every element, then clamped to `lo..=hi` (a fused activation).
pub fn quantize_all(real: &[f64], q: QuantParams, lo: i8, hi: i8) -> Vec<i8> {
    real.iter()
        .map(|r| quantize_ref(*r, q).max(lo).min(hi))
        .collect()
}

/// Output parameters fitted to the reference's real outputs: the range (widened to include
/// 0) times `widen` (< 1 makes some outputs saturate, > 1 leaves headroom), with the zero
/// point that puts `min` at −128.
pub fn fit_output(real: &[f64], widen: f64) -> QuantParams {
    let min = real.iter().copied().fold(0.0f64, f64::min);
    let max = real.iter().copied().fold(0.0f64, f64::max);
    let span = ((max - min) * widen).max(1e-6);
    let scale = span / 255.0;
    let zp = (-128.0 - min * widen / scale).round().clamp(-128.0, 127.0);
    QuantParams::new(scale as f32, zp as i8)
}

/// Error figures of one run: largest `|actual − expected|` in LSB, and how many elements
/// differ at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Largest difference in LSB.
    pub max: i32,
    /// Elements that differ.
    pub mismatches: usize,
    /// Elements compared.
    pub total: usize,
}

impl Stats {
    /// Merges another run's figures.
    pub fn merge(&mut self, o: Stats) {
        self.max = self.max.max(o.max);
        self.mismatches += o.mismatches;
        self.total += o.total;
    }
}

/// Compares int8 results with the reference.
pub fn lsb_stats(what: &str, actual: &[i8], expected: &[i8]) -> Result<Stats, String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "{what}: {} elements, reference has {}",
            actual.len(),
            expected.len()
        ));
    }
    let mut s = Stats {
        total: actual.len(),
        ..Stats::default()
    };
    for (a, e) in actual.iter().zip(expected) {
        let d = (i32::from(*a) - i32::from(*e)).abs();
        if d > 0 {
            s.mismatches += 1;
        }
        s.max = s.max.max(d);
    }
    Ok(s)
}

/// Checks a run's figures against a bound, naming the first offending element on failure.
pub fn within(what: &str, actual: &[i8], expected: &[i8], bound: i32) -> Result<Stats, String> {
    let s = lsb_stats(what, actual, expected)?;
    if s.max > bound {
        let (i, a, e) = actual
            .iter()
            .zip(expected)
            .enumerate()
            .map(|(i, (a, e))| (i, *a, *e))
            .find(|(_, a, e)| (i32::from(*a) - i32::from(*e)).abs() > bound)
            .unwrap_or((0, 0, 0));
        return Err(format!(
            "{what}[{i}]: got {a}, reference {e} (> {bound} LSB; {} of {} differ)",
            s.mismatches, s.total
        ));
    }
    Ok(s)
}

/// One instantiated shape of an int8 kernel under test.
#[derive(Debug, Clone, Copy)]
pub struct QCase {
    /// Shape/geometry, reported on failure.
    pub name: &'static str,
    /// How many random f32 values in `[-1, 1)` the case consumes.
    pub need: usize,
    /// Runs kernel and reference; `Err` if the error exceeds the kernel's bound.
    pub run: fn(&[f32]) -> Result<Stats, String>,
}

/// Deterministic pseudo-random data in `[-1, 1)` (a 64-bit LCG), for the `measure` runs.
pub fn lcg_data(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// Runs every case on `fixed_data` and `runs` LCG data sets; prints the per-case figures and
/// returns the overall ones.
pub fn measure(kernel: &str, cases: &[QCase], runs: u64) -> Stats {
    let mut all = Stats::default();
    for c in cases {
        let mut st = Stats::default();
        let fixed = hepaseg_tests::fixed_data(c.need);
        match (c.run)(&fixed) {
            Ok(s) => st.merge(s),
            Err(e) => panic!("{kernel} case {} (fixed data): {e}", c.name),
        }
        for seed in 0..runs {
            match (c.run)(&lcg_data(seed, c.need)) {
                Ok(s) => st.merge(s),
                Err(e) => panic!("{kernel} case {} (seed {seed}): {e}", c.name),
            }
        }
        eprintln!(
            "{kernel} {}: max {} LSB, {} of {} outputs differ",
            c.name, st.max, st.mismatches, st.total
        );
        all.merge(st);
    }
    eprintln!(
        "{kernel} overall: max {} LSB, {} of {} outputs differ from the float reference",
        all.max, all.mismatches, all.total
    );
    all
}

/// Declares the tests of one int8 kernel over a static table of [`QCase`]s: `measure` (every
/// case on fixed data and `$runs` deterministic data sets, printing the figures) and `random`
/// (proptest picks the case and the data, `$n` cases). Needs `#[macro_use] mod int8_support;`.
macro_rules! int8_cases {
    ($name:ident, $cases:expr, $runs:expr, $n:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn measure() {
                crate::int8_support::measure(stringify!($name), &$cases, $runs);
            }

            ::proptest::proptest! {
                #![proptest_config(::proptest::test_runner::Config::with_cases($n))]
                #[test]
                fn random((idx, data) in ::proptest::strategy::Strategy::prop_flat_map(
                    0..$cases.len(),
                    |i| (
                        ::proptest::strategy::Just(i),
                        ::proptest::collection::vec(-1.0f32..1.0, $cases[i].need),
                    ),
                )) {
                    let case = &$cases[idx];
                    if let Err(e) = (case.run)(&data) {
                        return Err(::proptest::test_runner::TestCaseError::fail(
                            format!("case {}: {}", case.name, e),
                        ));
                    }
                }
            }
        }
    };
}
