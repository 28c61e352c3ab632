//! The fast f32 convolution (`Conv2d::forward`: blocked implicit GEMM, AVX2 + FMA micro-kernel
//! when the build enables both, else the portable one) against the reference kernel
//! (`Conv2d::forward_reference`) on every geometry the networks use and on property-test
//! shapes.
//!
//! The portable micro-kernel takes the same terms in the same order with the same roundings as
//! the reference, so its results must be bit-identical. The FMA micro-kernel rounds once per
//! term instead of twice; its results must stay within the classic bound for a sum of `n`
//! rounded terms, `|fast − ref| ≤ 2(n + 1)·ε·Σ|terms|` (`ε` = f32 machine epsilon; `Σ|terms|` is
//! the same convolution on `|x|`, `|w|`, `|bias|`). Which one ran is
//! `hepaseg_core::ops::conv::FAST_PATH`; CI runs this file in the default build and with
//! `-C target-feature=+avx2,+fma`.

#[macro_use]
mod conv_geometries;

use hepaseg_core::ops::conv::FAST_PATH;
use hepaseg_core::ops::{conv_out, Conv2d};
use hepaseg_core::tensor::{ConvWeight, Flat, Map};
use proptest::prelude::*;

/// xorshift64*: deterministic test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [−1, 1).
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// How the data are drawn.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Uniform in [−1, 1) for inputs, weights and biases.
    Random,
    /// Inputs and weights of mixed magnitudes (±1e-3 … ±1e3): large cancellations.
    Wide,
}

/// A zeroed map on the heap.
fn map<const C: usize, const H: usize, const W: usize>() -> Box<Map<C, H, W>> {
    vec![[[0.0f32; W]; H]; C]
        .into_boxed_slice()
        .try_into()
        .expect("length C")
}

/// A zeroed weight tensor on the heap.
fn weight<const CO: usize, const CIG: usize, const K: usize>() -> Box<ConvWeight<CO, CIG, K>> {
    vec![[[[0.0f32; K]; K]; CIG]; CO]
        .into_boxed_slice()
        .try_into()
        .expect("length CO")
}

/// Runs one geometry on data `seed` and compares the fast kernel with the reference.
#[allow(clippy::too_many_arguments)]
fn check<
    const S: usize,
    const P: usize,
    const D: usize,
    const G: usize,
    const CI: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const CIG: usize,
    const K: usize,
    const HO: usize,
    const WO: usize,
>(
    seed: u64,
    fill: Fill,
) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut draw = || match fill {
        Fill::Random => rng.f32(),
        Fill::Wide => {
            let v = rng.f32();
            let e = (rng.next() >> 61) as i32 - 3; // 10^-3 … 10^4
            v * 10f32.powi(e)
        }
    };
    let mut x = map::<CI, H, W>();
    let mut w = weight::<CO, CIG, K>();
    let mut bias = [0.0f32; CO];
    x.flat_mut().iter_mut().for_each(|v| *v = draw());
    w.flat_mut().iter_mut().for_each(|v| *v = draw());
    bias.iter_mut().for_each(|v| *v = draw());
    let with_bias = seed.is_multiple_of(2);
    let mut fast = map::<CO, HO, WO>();
    let mut reference = map::<CO, HO, WO>();
    fast.flat_mut().fill(77.0);
    Conv2d::<S, P, D, G>::forward(&x, &w, with_bias.then_some(&bias), &mut fast);
    Conv2d::<S, P, D, G>::forward_reference(&x, &w, with_bias.then_some(&bias), &mut reference);
    // Σ|terms| per output, for the FMA bound.
    let mut magnitude = map::<CO, HO, WO>();
    x.flat_mut().iter_mut().for_each(|v| *v = v.abs());
    w.flat_mut().iter_mut().for_each(|v| *v = v.abs());
    bias.iter_mut().for_each(|v| *v = v.abs());
    Conv2d::<S, P, D, G>::forward_reference(&x, &w, with_bias.then_some(&bias), &mut magnitude);
    let n = (CIG * K * K + 1) as f32;
    let exact = FAST_PATH == "portable";
    let bad = fast
        .flat()
        .iter()
        .zip(reference.flat())
        .zip(magnitude.flat())
        .position(|((&a, &b), &m)| {
            if exact {
                a != b
            } else {
                (a - b).abs() > 2.0 * (n + 1.0) * f32::EPSILON * m
            }
        });
    match bad {
        None => Ok(()),
        Some(i) => Err(format!(
            "{FAST_PATH} kernel differs at flat index {i} (co {}, oh {}, ow {}): {} vs {} \
             (Σ|terms| {}; S{S} P{P} D{D} G{G}, {CI}×{H}×{W} → {CO}×{HO}×{WO}, K{K}, {fill:?}, \
             seed {seed})",
            i / (HO * WO),
            i % (HO * WO) / WO,
            i % WO,
            fast.flat()[i],
            reference.flat()[i],
            magnitude.flat()[i]
        )),
    }
}

/// Every convolution geometry of both networks (see `conv_geometries`).
fn network_geometries(seed: u64, fill: Fill) -> Result<(), String> {
    network_geometries!(seed, fill);
    Ok(())
}

#[test]
fn fast_conv_matches_reference_on_every_network_geometry() {
    for seed in 0..2 {
        network_geometries(seed, Fill::Random).unwrap();
    }
    network_geometries(5, Fill::Wide).unwrap();
}

#[test]
fn fast_conv_skips_nothing_at_the_borders() {
    // All-ones input and weights, no bias: every output counts its in-image taps, an exact
    // small integer in f32 — equal in both builds, and a tap lost at a border shows.
    let x: Box<Map<3, 9, 20>> = vec![[[1.0f32; 20]; 9]; 3]
        .into_boxed_slice()
        .try_into()
        .unwrap();
    let w: Box<ConvWeight<7, 3, 3>> = vec![[[[1.0f32; 3]; 3]; 3]; 7]
        .into_boxed_slice()
        .try_into()
        .unwrap();
    let mut y: Box<Map<7, 9, 20>> = vec![[[0.0f32; 20]; 9]; 7]
        .into_boxed_slice()
        .try_into()
        .unwrap();
    Conv2d::<1, 1>::forward(&x, &w, None, &mut y);
    for (c, plane) in y.iter().enumerate() {
        for (i, row) in plane.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let rows = 3 - usize::from(i == 0) - usize::from(i == 8);
                let cols = 3 - usize::from(j == 0) - usize::from(j == 19);
                assert_eq!(v, (3 * rows * cols) as f32, "channel {c} at ({i}, {j})");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Random data on shapes chosen by proptest from a set of instantiated geometries.
    #[test]
    fn fast_conv_matches_reference_on_random_shapes(which in 0usize..8, seed in any::<u64>()) {
        let r = match which {
            0 => geometry!(1, 1, 1, 1; 6 x 9 x 21 -> 10; k 3; seed, Fill::Random),
            1 => geometry!(2, 1, 1, 1; 11 x 14 x 30 -> 4; k 3; seed, Fill::Random),
            2 => geometry!(1, 0, 1, 1; 33 x 5 x 48 -> 17; k 1; seed, Fill::Random),
            3 => geometry!(1, 3, 3, 1; 4 x 12 x 12 -> 5; k 3; seed, Fill::Random),
            4 => geometry!(2, 2, 1, 1; 3 x 15 x 15 -> 8; k 5; seed, Fill::Random),
            5 => geometry!(1, 1, 2, 1; 70 x 6 x 7 -> 3; k 3; seed, Fill::Wide),
            6 => geometry!(1, 1, 1, 3; 9 x 8 x 18 -> 12; k 3; seed, Fill::Random),
            _ => geometry!(3, 0, 1, 1; 2 x 17 x 29 -> 66; k 2; seed, Fill::Random),
        };
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}
