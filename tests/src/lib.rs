//! Shared helpers for the cross-crate tests.
//!
//! * [`reference`]: naive, run-time-shaped f64 implementations of every core op, written
//!   straight from the PyTorch definitions, that the typed f32 ops are checked against.
//! * [`Case`] and [`proptest_cases!`]: property tests over a fixed set of compile-time
//!   shapes. Const generics must be fixed when the test is built, so each op instantiates a
//!   handful of shape/geometry combinations as plain functions; the property test picks one of
//!   them and the random data it runs on.
//! * [`compare`] / [`assert_close`]: element-wise comparison with a relative/absolute tolerance.
//! * [`seeded`]: seed-initialised parameter sets and inputs for whole-network tests.

pub mod reference;
pub mod seeded;

/// Default tolerance of f32 ops against the f64 reference: `|a − e| ≤ TOL · max(1, |e|)`.
pub const TOL: f64 = 1e-4;

/// One instantiated shape of an op under test.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Human-readable shape/geometry, reported on failure.
    pub name: &'static str,
    /// How many random f32 values (each in `[-1, 1)`) the case consumes.
    pub need: usize,
    /// Runs the op and the reference on `data` and compares them.
    pub run: fn(&[f32]) -> Result<(), String>,
}

/// Deterministic, varied data in `[-1, 1]` for the every-shape smoke run.
pub fn fixed_data(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as f32 + 1.0) * 0.737_1).sin() * ((i as f32) * 0.113).cos())
        .collect()
}

/// Runs every case once on [`fixed_data`], panicking with the case's name on a mismatch.
pub fn run_every_case(cases: &[Case]) {
    for c in cases {
        if let Err(e) = (c.run)(&fixed_data(c.need)) {
            panic!("case {}: {}", c.name, e);
        }
    }
}

/// Hands out consecutive pieces of a random data vector to fill typed tensors.
#[derive(Debug)]
pub struct Feed<'a> {
    data: &'a [f32],
    pos: usize,
}

impl<'a> Feed<'a> {
    /// Starts at the beginning of `data`.
    pub fn new(data: &'a [f32]) -> Self {
        Self { data, pos: 0 }
    }

    /// The next `n` values.
    ///
    /// # Panics
    /// If fewer than `n` are left (a case whose `need` is wrong).
    pub fn next(&mut self, n: usize) -> &'a [f32] {
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    /// Fills a tensor of any shape with the next values.
    pub fn fill<T: hepaseg_core::Flat<Elem = f32>>(&mut self, t: &mut T) {
        let n = t.flat().len();
        t.flat_mut().copy_from_slice(self.next(n));
    }

    /// Fills a tensor with the next values mapped through `f`.
    pub fn fill_with<T: hepaseg_core::Flat<Elem = f32>>(
        &mut self,
        t: &mut T,
        f: impl Fn(f32) -> f32,
    ) {
        let n = t.flat().len();
        for (d, s) in t.flat_mut().iter_mut().zip(self.next(n)) {
            *d = f(*s);
        }
    }
}

/// Compares f32 results with an f64 reference: `|a − e| ≤ tol · max(1, |e|)` everywhere
/// (NaN never passes). The error names the first mismatching flat index.
pub fn compare_tol(what: &str, actual: &[f32], expected: &[f64], tol: f64) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "{what}: {} elements, reference has {}",
            actual.len(),
            expected.len()
        ));
    }
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let a = f64::from(*a);
        let diff = (a - e).abs();
        // A NaN on either side fails.
        if diff.is_nan() || diff > tol * e.abs().max(1.0) {
            return Err(format!(
                "{what}[{i}]: got {a}, reference {e} (|diff| = {diff:e})"
            ));
        }
    }
    Ok(())
}

/// [`compare_tol`] with [`TOL`].
pub fn compare(what: &str, actual: &[f32], expected: &[f64]) -> Result<(), String> {
    compare_tol(what, actual, expected, TOL)
}

/// Panicking form of [`compare_tol`], for hand-computed cases.
#[track_caller]
pub fn assert_close(actual: &[f32], expected: &[f64], tol: f64) {
    if let Err(e) = compare_tol("value", actual, expected, tol) {
        panic!("{e}");
    }
}

/// f32 slice → f64 vector (exact).
pub fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|v| f64::from(*v)).collect()
}

/// Declares the property tests of one op over a static table of [`Case`]s.
///
/// Expands to a module `$name` with two tests: `every_shape` runs each case once on fixed
/// data (so no shape is left unexercised by chance), and `random` lets proptest choose the
/// case index and the data (`$n` cases). The calling test crate needs `proptest`.
#[macro_export]
macro_rules! proptest_cases {
    ($name:ident, $cases:expr, $n:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn every_shape() {
                $crate::run_every_case(&$cases);
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
