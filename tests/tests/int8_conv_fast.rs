//! The fast int8 convolution (`Conv2dQ::forward`: blocked implicit GEMM; AVX-512 VNNI quads
//! when the build enables `avx512vnni` + `avx512vl`, else AVX2 pairs when it enables AVX2, NEON
//! pairs on aarch64, else the portable pairs) against the reference kernel
//! (`Conv2dQ::forward_reference`): the same bits on every geometry the networks use and on
//! property-test shapes, with random data, zero points, multipliers, biases and clamps, and at
//! the extremes of the value ranges (the longest reductions with every term at its maximum).
//!
//! Which micro-kernel ran is `hepaseg_core::int8::conv::SIMD_PATH`; CI runs this file in the
//! default build (portable), with `-C target-feature=+avx2`, on a CPU with VNNI with the
//! AVX-512 VNNI features, and (where the tools are installed) for aarch64 under qemu.

#[macro_use]
mod conv_geometries;

use hepaseg_core::int8::conv::SIMD_PATH;
use hepaseg_core::int8::linalg::linear;
use hepaseg_core::int8::quant::multiply_by_quantized_multiplier;
use hepaseg_core::int8::{Clamp, Conv2dQ, DepthwiseConv2dQ, PerChannelQuant};
use hepaseg_core::ops::conv_out;
use hepaseg_core::tensor::{ConvWeight, Flat, Map, Mat};
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
    fn i8(&mut self) -> i8 {
        (self.next() >> 56) as u8 as i8
    }
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() >> 33) as i32 % (hi - lo + 1)
    }
}

/// How the data are drawn.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Uniform over all int8 values; weights in −127..=127.
    Random,
    /// Inputs −128 and zero point 127 (`x − zp = −255`), weights −128: every term at its
    /// largest magnitude, the same sign.
    Extreme,
    /// Inputs 127 and zero point −128 (`x − zp = 255`, the VNNI byte 255; padding byte 0),
    /// weights −128: every term at its largest magnitude, the other sign.
    ExtremeHigh,
    /// Random inputs and weights with this zero point (the VNNI padding byte `zp + 128` at
    /// its ends: 0 for −128, 255 for 127).
    RandomZp(i8),
}

/// A zeroed map on the heap.
fn map<const C: usize, const H: usize, const W: usize>() -> Box<Map<C, H, W, i8>> {
    vec![[[0i8; W]; H]; C]
        .into_boxed_slice()
        .try_into()
        .expect("length C")
}

/// A zeroed weight tensor on the heap.
fn weight<const CO: usize, const CIG: usize, const K: usize>() -> Box<ConvWeight<CO, CIG, K, i8>> {
    vec![[[[0i8; K]; K]; CIG]; CO]
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
    let mut x = map::<CI, H, W>();
    let mut w = weight::<CO, CIG, K>();
    let input_zp = match fill {
        Fill::Random => {
            x.flat_mut().iter_mut().for_each(|v| *v = rng.i8());
            w.flat_mut()
                .iter_mut()
                .for_each(|v| *v = rng.i8().max(-127));
            rng.i8()
        }
        Fill::Extreme => {
            x.flat_mut().fill(-128);
            w.flat_mut().fill(-128);
            127
        }
        Fill::ExtremeHigh => {
            x.flat_mut().fill(127);
            w.flat_mut().fill(-128);
            -128
        }
        Fill::RandomZp(zp) => {
            x.flat_mut().iter_mut().for_each(|v| *v = rng.i8());
            w.flat_mut().iter_mut().for_each(|v| *v = rng.i8());
            zp
        }
    };
    let mut multiplier = [0i32; CO];
    let mut shift = [0i32; CO];
    let mut bias = [0i32; CO];
    for c in 0..CO {
        multiplier[c] = rng.range(1 << 30, i32::MAX);
        shift[c] = rng.range(-14, 0);
        bias[c] = rng.range(-5000, 5000);
    }
    match seed % 5 {
        // Rounding ties in both requantization steps: M = ½ · 2^shift.
        1 => {
            for c in 0..CO {
                multiplier[c] = 1 << 30;
                shift[c] = rng.range(-3, 0);
            }
        }
        // Channels the vectorised output stage leaves to the scalar one: M ≥ 1 (shift > 0),
        // multiplier i32::MIN, biases that saturate the accumulator.
        4 => {
            for c in 0..CO {
                match c % 4 {
                    0 => shift[c] = rng.range(1, 4),
                    1 => multiplier[c] = i32::MIN,
                    2 => bias[c] = if c % 8 == 2 { i32::MAX } else { i32::MIN + 7 },
                    _ => {}
                }
            }
        }
        _ => {}
    }
    let with_bias = seed.is_multiple_of(2);
    let q = PerChannelQuant {
        input_zp,
        output_zp: rng.i8(),
        multiplier: &multiplier,
        shift: &shift,
        bias: with_bias.then_some(&bias),
        clamp: if seed.is_multiple_of(3) {
            Clamp { min: -20, max: 100 }
        } else {
            Clamp::NONE
        },
    };
    if G == CI && CO == CI {
        let (m, sh, b) = (&q.multiplier[..], &q.shift[..], q.bias.map(|b| &b[..]));
        let params = (q.input_zp, q.output_zp, m, sh, b, q.clamp);
        depthwise::<S, P, D, CI, H, W, K, HO, WO>(&x, w.flat(), params, seed, fill)?;
    }
    let mut fast = map::<CO, HO, WO>();
    let mut reference = map::<CO, HO, WO>();
    fast.flat_mut().fill(77);
    Conv2dQ::<S, P, D, G>::forward(&x, &w, &q, &mut fast);
    Conv2dQ::<S, P, D, G>::forward_reference(&x, &w, &q, &mut reference);
    match first_difference(fast.flat(), reference.flat()) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{SIMD_PATH} kernel differs at flat index {i} (co {}, oh {}, ow {}): {} vs {} \
             (S{S} P{P} D{D} G{G}, {CI}×{H}×{W} → {CO}×{HO}×{WO}, K{K}, {fill:?}, seed {seed})",
            i / (HO * WO),
            i % (HO * WO) / WO,
            i % WO,
            fast.flat()[i],
            reference.flat()[i]
        )),
    }
}

/// The first index where the two outputs differ (the kernels must agree everywhere).
fn first_difference(a: &[i8], b: &[i8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// A channel-count-free copy of a `PerChannelQuant`: zero points, multipliers, shifts,
/// biases, clamp.
type DepthwiseParams<'a> = (i8, i8, &'a [i32], &'a [i32], Option<&'a [i32]>, Clamp);

/// A depthwise geometry (`groups == channels`) on the same data: `DepthwiseConv2dQ::forward`
/// (with AVX2, its vectorised output stage) against `forward_reference` (scalar output).
#[allow(clippy::too_many_arguments)]
fn depthwise<
    const S: usize,
    const P: usize,
    const D: usize,
    const C: usize,
    const H: usize,
    const W: usize,
    const K: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &Map<C, H, W, i8>,
    w_flat: &[i8],
    params: DepthwiseParams<'_>,
    seed: u64,
    fill: Fill,
) -> Result<(), String> {
    let (input_zp, output_zp, m, sh, b, clamp) = params;
    let array = |v: &[i32]| -> [i32; C] { v.try_into().expect("C values") };
    let (multiplier, shift) = (array(m), array(sh));
    let bias = b.map(array);
    let q = &PerChannelQuant {
        input_zp,
        output_zp,
        multiplier: &multiplier,
        shift: &shift,
        bias: bias.as_ref(),
        clamp,
    };
    let mut w = weight::<C, 1, K>();
    w.flat_mut().copy_from_slice(w_flat);
    let mut vector = map::<C, HO, WO>();
    let mut reference = map::<C, HO, WO>();
    vector.flat_mut().fill(77);
    DepthwiseConv2dQ::<S, P, D>::forward(x, &w, q, &mut vector);
    DepthwiseConv2dQ::<S, P, D>::forward_reference(x, &w, q, &mut reference);
    match first_difference(vector.flat(), reference.flat()) {
        None => Ok(()),
        Some(i) => Err(format!(
            "depthwise output stage differs at flat index {i}: {} vs {} \
             (S{S} P{P} D{D}, {C}×{H}×{W}, K{K}, {fill:?}, seed {seed})",
            vector.flat()[i],
            reference.flat()[i]
        )),
    }
}

/// The depthwise convolutions: CAFCT-Net's Mix-FFN 3×3 (one hidden plane per call, and all
/// channels at once), widths around the eight-lane output stage, stride 2 and dilation, with
/// every parameter case of `check` (seeds 0..5: ties, scalar-only channels, bias, clamp).
#[test]
fn depthwise_output_stage_equals_reference() {
    for seed in 0..5 {
        for fill in [Fill::Random, Fill::Extreme, Fill::ExtremeHigh] {
            let run = || -> Result<(), String> {
                geometry!(1, 1, 1, 1; 1 x 32 x 32 -> 1; k 3; seed, fill)?;
                geometry!(1, 1, 1, 1; 1 x 9 x 37 -> 1; k 3; seed, fill)?;
                geometry!(1, 1, 1, 16; 16 x 9 x 21 -> 16; k 3; seed, fill)?;
                geometry!(2, 1, 1, 8; 8 x 10 x 19 -> 8; k 3; seed, fill)?;
                geometry!(1, 2, 2, 4; 4 x 7 x 15 -> 4; k 3; seed, fill)?;
                Ok(())
            };
            run().unwrap();
        }
    }
}

/// One linear layer (`int8::linalg::linear`, a 1×1 convolution over tokens: with AVX2 its
/// output stage runs eight features at a time, one channel per lane; with AVX-512 VNNI its
/// sums come from tiles of four tokens × eight features where `DI` is a multiple of 4, so
/// token counts that leave a partial tile and feature counts that leave a partial block are
/// among the shapes) against the scalar
/// formula `PerChannelQuant::output(j, Σ w·(x − zp))`, with blocks of eight features whose
/// parameters the vector stage accepts and blocks it must leave to the scalar one.
fn linear_case<const N: usize, const DI: usize, const DO: usize>(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut x = vec![[0i8; DI]; N];
    let mut w = vec![[0i8; DI]; DO];
    x.iter_mut().flatten().for_each(|v| *v = rng.i8());
    w.iter_mut().flatten().for_each(|v| *v = rng.i8());
    if seed % 3 == 1 {
        // Every term at its largest magnitude.
        x.iter_mut().flatten().for_each(|v| *v = -128);
        w.iter_mut().flatten().for_each(|v| *v = -128);
    }
    if seed % 6 == 5 {
        // The other extreme of the VNNI tile's bytes: x + 128 = 255 against zp_in = −128.
        x.iter_mut().flatten().for_each(|v| *v = 127);
        w.iter_mut()
            .flatten()
            .enumerate()
            .for_each(|(i, v)| *v = if i % 3 == 0 { 127 } else { -128 });
    }
    let mut multiplier = [0i32; DO];
    let mut shift = [0i32; DO];
    let mut bias = [0i32; DO];
    for j in 0..DO {
        multiplier[j] = rng.range(1 << 30, i32::MAX);
        shift[j] = rng.range(-14, 0);
        bias[j] = rng.range(-5000, 5000);
        // One feature of the second block of eight needs the scalar stage.
        if (8..16).contains(&j) && j == 8 + (seed as usize) % 8 {
            match seed % 3 {
                0 => shift[j] = rng.range(1, 4),
                1 => multiplier[j] = i32::MIN,
                _ => bias[j] = i32::MAX,
            }
        }
    }
    let input_zp = match seed % 6 {
        1 | 4 => 127,
        5 => -128,
        _ => rng.i8(),
    };
    let q = PerChannelQuant {
        input_zp,
        output_zp: rng.i8(),
        multiplier: &multiplier,
        shift: &shift,
        bias: Some(&bias),
        clamp: if seed.is_multiple_of(2) {
            Clamp { min: -20, max: 100 }
        } else {
            Clamp::NONE
        },
    };
    let xs: &Mat<N, DI, i8> = x.as_slice().try_into().expect("N rows");
    let ws: &Mat<DO, DI, i8> = w.as_slice().try_into().expect("DO rows");
    let mut y = vec![[77i8; DO]; N];
    let ys: &mut Mat<N, DO, i8> = y.as_mut_slice().try_into().expect("N rows");
    linear(xs, ws, &q, ys);
    for (n, (x_row, y_row)) in x.iter().zip(&y).enumerate() {
        for (j, w_row) in w.iter().enumerate() {
            let acc: i32 = x_row
                .iter()
                .zip(w_row)
                .map(|(a, b)| i32::from(*b) * (i32::from(*a) - i32::from(input_zp)))
                .sum();
            let want = scalar_output(&q, j, acc);
            assert_eq!(
                y_row[j], want,
                "{SIMD_PATH} linear differs at token {n}, feature {j} ({N}×{DI} → {DO}, seed {seed})"
            );
        }
    }
}

/// `PerChannelQuant::output` spelled out (it is crate-private): bias, requantization, zero
/// point, clamp.
fn scalar_output<const CO: usize>(q: &PerChannelQuant<'_, CO>, j: usize, acc: i32) -> i8 {
    let acc = acc.saturating_add(q.bias.map_or(0, |b| b[j]));
    let scaled = multiply_by_quantized_multiplier(acc, q.multiplier[j], q.shift[j]);
    let v = scaled.saturating_add(i32::from(q.output_zp));
    v.clamp(i32::from(q.clamp.min), i32::from(q.clamp.max)) as i8
}

/// CAFCT-Net's linear shapes (edge: 16→16, 16→32 keys and values, 16→64 fc1, 64→16 fc2,
/// 128→512) and sizes that leave a partial block of features.
#[test]
fn linear_output_stage_equals_scalar() {
    for seed in 0..6 {
        linear_case::<37, 16, 16>(seed);
        linear_case::<21, 16, 32>(seed);
        linear_case::<9, 16, 64>(seed);
        linear_case::<9, 64, 16>(seed);
        linear_case::<5, 128, 512>(seed);
        linear_case::<7, 24, 20>(seed);
        linear_case::<3, 5, 12>(seed);
    }
}

/// Every convolution geometry of both networks (see `conv_geometries`).
fn network_geometries(seed: u64, fill: Fill) -> Result<(), String> {
    network_geometries!(seed, fill);
    Ok(())
}

#[test]
fn fast_conv_equals_reference_on_every_network_geometry() {
    for seed in 0..3 {
        network_geometries(seed, Fill::Random).unwrap();
    }
}

#[test]
fn fast_conv_equals_reference_at_the_extremes() {
    // Every term −255 · −128 (or 255 · −128): the largest sums (1152 · 32640 ≈ 3.8e7 here;
    // 2304-term reductions below) — no overflow or saturation anywhere in the fast path.
    network_geometries(1, Fill::Extreme).unwrap();
    network_geometries(2, Fill::ExtremeHigh).unwrap();
    geometry!(1, 1, 1, 1; 256 x 6 x 20 -> 9; k 3; 4, Fill::Extreme).unwrap();
    geometry!(1, 1, 1, 1; 256 x 6 x 20 -> 9; k 3; 5, Fill::ExtremeHigh).unwrap();
}

/// Reductions of every length modulo 4 (the VNNI quads' zero weight partners), around the
/// chunk lengths (128 terms for pairs, 288 for quads), and widths around the tile widths
/// (16 and 32 columns), padded, with every kind of data including zero points −128 and 127
/// (the VNNI padding bytes 0 and 255).
#[test]
fn fast_conv_equals_reference_on_odd_reductions_and_tile_edges() {
    for (seed, fill) in [
        (0, Fill::Random),
        (1, Fill::Extreme),
        (2, Fill::ExtremeHigh),
        (3, Fill::RandomZp(-128)),
        (4, Fill::RandomZp(127)),
    ] {
        let run = || -> Result<(), String> {
            // R = 25, 98, 279, 297 (≡ 1, 2, 3, 1 mod 4); 289 and 291 (one and three terms
            // past a quad chunk), 129 (one past a pair chunk).
            geometry!(1, 2, 1, 1; 1 x 9 x 37 -> 5; k 5; seed, fill)?;
            geometry!(1, 3, 1, 1; 2 x 8 x 33 -> 6; k 7; seed, fill)?;
            geometry!(1, 1, 1, 1; 31 x 4 x 31 -> 5; k 3; seed, fill)?;
            geometry!(1, 1, 1, 1; 33 x 3 x 32 -> 9; k 3; seed, fill)?;
            geometry!(1, 0, 1, 1; 289 x 2 x 35 -> 5; k 1; seed, fill)?;
            geometry!(1, 0, 1, 1; 291 x 2 x 17 -> 3; k 1; seed, fill)?;
            geometry!(1, 0, 1, 1; 129 x 3 x 9 -> 7; k 1; seed, fill)?;
            // Widths 31, 32, 33, 64, 65; stride 2 and dilation across a tile edge.
            geometry!(1, 1, 1, 1; 3 x 4 x 64 -> 4; k 3; seed, fill)?;
            geometry!(1, 1, 1, 1; 5 x 3 x 65 -> 33; k 3; seed, fill)?;
            geometry!(2, 1, 1, 1; 6 x 7 x 66 -> 5; k 3; seed, fill)?;
            geometry!(1, 2, 2, 1; 4 x 6 x 34 -> 3; k 3; seed, fill)?;
            Ok(())
        };
        run().unwrap();
    }
}

/// CI names the micro-kernel each of its builds must run (`HEPASEG_EXPECT_SIMD_PATH`), so a
/// build whose target features silently select another one fails here instead of testing
/// the wrong kernel.
#[test]
fn the_build_runs_the_expected_micro_kernel() {
    if let Ok(expected) = std::env::var("HEPASEG_EXPECT_SIMD_PATH") {
        assert_eq!(SIMD_PATH, expected, "HEPASEG_EXPECT_SIMD_PATH");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Random data on shapes chosen by proptest from a set of instantiated geometries.
    #[test]
    fn fast_conv_equals_reference_on_random_shapes(which in 0usize..8, seed in any::<u64>()) {
        let r = match which {
            0 => geometry!(1, 1, 1, 1; 6 x 9 x 21 -> 10; k 3; seed, Fill::Random),
            1 => geometry!(2, 1, 1, 1; 11 x 14 x 30 -> 4; k 3; seed, Fill::Random),
            2 => geometry!(1, 0, 1, 1; 33 x 5 x 48 -> 17; k 1; seed, Fill::Random),
            3 => geometry!(1, 3, 3, 1; 4 x 12 x 12 -> 5; k 3; seed, Fill::Random),
            4 => geometry!(2, 2, 1, 1; 3 x 15 x 15 -> 8; k 5; seed, Fill::Random),
            5 => geometry!(1, 1, 2, 1; 70 x 6 x 7 -> 3; k 3; seed, Fill::Random),
            6 => geometry!(1, 1, 1, 3; 9 x 8 x 18 -> 12; k 3; seed, Fill::Random),
            _ => geometry!(3, 0, 1, 1; 2 x 17 x 29 -> 66; k 2; seed, Fill::Random),
        };
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}
