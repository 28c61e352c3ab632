//! Activations (`relu`, `sigmoid`, `gelu` and their scalar forms) and element-wise arithmetic
//! (`add`, `add_into`, `mul`, `scale`, channel and pixel broadcasts): hand-computed cases and
//! property tests against the naive reference.

use hepaseg_core::ops::activation::{gelu_scalar, sigmoid_scalar};
use hepaseg_core::ops::{
    add, add_channel, add_into, add_pixel, gelu, mul, mul_channel, mul_pixel, relu, scale, sigmoid,
};
use hepaseg_core::tensor::{Flat, Map, Tokens};
use hepaseg_tests::reference;
use hepaseg_tests::{assert_close, compare, f64s, proptest_cases, Case, Feed};

#[test]
fn relu_by_hand() {
    let mut v = [-2.0f32, -0.5, 0.0, 0.5, 3.0];
    relu(&mut v);
    assert_eq!(v, [0.0, 0.0, 0.0, 0.5, 3.0]);
    // Any shape: tokens and maps keep their type.
    let mut t: Tokens<2, 2> = [[-1.0, 1.0], [2.0, -3.0]];
    relu(&mut t);
    assert_eq!(t, [[0.0, 1.0], [2.0, 0.0]]);
    let mut m: Map<2, 1, 2> = [[[-1.0, 4.0]], [[0.25, -0.25]]];
    relu(&mut m);
    assert_eq!(m, [[[0.0, 4.0]], [[0.25, 0.0]]]);
}

#[test]
fn sigmoid_by_hand() {
    assert_eq!(sigmoid_scalar(0.0), 0.5);
    // σ(ln 3) = 1/(1 + 1/3) = 3/4, σ(−ln 3) = 1/4.
    let ln3 = 3.0f32.ln();
    assert!((sigmoid_scalar(ln3) - 0.75).abs() < 1e-6);
    assert!((sigmoid_scalar(-ln3) - 0.25).abs() < 1e-6);
    // Saturates without overflow or NaN on either side.
    assert_eq!(sigmoid_scalar(1000.0), 1.0);
    assert_eq!(sigmoid_scalar(-1000.0), 0.0);
    assert_eq!(sigmoid_scalar(100.0), 1.0);
    let tiny = sigmoid_scalar(-100.0); // e^−100 ≈ 3.72e−44 (subnormal)
    assert!(tiny > 0.0 && tiny < 1e-43, "{tiny}");
    // σ(x) + σ(−x) = 1.
    for x in [0.1f32, 0.7, 2.5, 8.0] {
        assert!((sigmoid_scalar(x) + sigmoid_scalar(-x) - 1.0).abs() < 1e-7);
    }
    let mut m: Map<1, 1, 3> = [[[0.0, ln3, -ln3]]];
    sigmoid(&mut m);
    assert_close(m.flat(), &[0.5, 0.75, 0.25], 1e-6);
}

#[test]
fn gelu_is_the_exact_erf_form() {
    // GELU(x) = x·Φ(x); Φ(1) = 0.8413447460685429, Φ(2) = 0.9772498680518208.
    assert!((f64::from(gelu_scalar(1.0)) - 0.841_344_746_068_542_9).abs() < 1e-7);
    assert!((f64::from(gelu_scalar(-1.0)) - -0.158_655_253_931_457_07).abs() < 1e-7);
    assert!((f64::from(gelu_scalar(2.0)) - 1.954_499_736_103_641_6).abs() < 2e-7);
    assert_eq!(gelu_scalar(0.0), 0.0);
    // The tanh approximation gives 0.8411919906 at 1: far outside this tolerance.
    assert!((f64::from(gelu_scalar(1.0)) - 0.841_191_990_6).abs() > 1e-4);
    // GELU(x) − GELU(−x) = x·Φ(x) + x·Φ(−x) = x·Φ(x) + x·(1 − Φ(x)) = x.
    for x in [0.3f32, 1.7, 3.0] {
        assert!((gelu_scalar(x) - gelu_scalar(-x) - x).abs() < 1e-6);
    }
    // Tails: → x for large x, → 0 (not NaN) for very negative x.
    assert_eq!(gelu_scalar(10.0), 10.0);
    assert!(gelu_scalar(-10.0).abs() < 1e-20);
    let mut t: Tokens<1, 3> = [[1.0, 0.0, -1.0]];
    gelu(&mut t);
    assert_close(
        t.flat(),
        &[0.841_344_746_068_542_9, 0.0, -0.158_655_253_931_457_07],
        1e-7,
    );
}

/// `gelu` over a buffer (runs of 16 computing only the `erf` ranges their elements need) gives
/// `gelu_scalar`'s bits for every element: runs needing each combination of `erf`'s middle and
/// `expf` ranges, values on both sides of every range boundary (in GELU's argument, `x/√2`),
/// special values, and a length that leaves a remainder after the last whole run.
#[test]
fn gelu_runs_have_the_scalar_bits() {
    const LEN: usize = 16 * 64 + 7;
    let sqrt2 = std::f32::consts::SQRT_2;
    // |x/√2| boundaries of erff's ranges: 2⁻²⁸, 0.84375, 1.25, 1/0.35, 6.
    let edges = [3.725_290_3e-9f32, 0.843_75, 1.25, 1.0 / 0.35, 6.0];
    let mut specials = vec![
        0.0f32,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-30,
    ];
    for e in edges {
        let x = e * sqrt2;
        for k in -3i32..=3 {
            let v = f32::from_bits(x.to_bits().wrapping_add_signed(k));
            specials.extend([v, -v]);
        }
    }
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut x = [0.0f32; LEN];
    for (r, run) in x.chunks_mut(16).enumerate() {
        // Run kinds: small values only, + a middle-range value, + a tail value, + both,
        // wide random values, special values.
        for v in run.iter_mut() {
            *v = (next() * 2.0 - 1.0) * 1.1;
        }
        let at = (next() * 16.0) as usize % run.len();
        match r % 6 {
            1 => run[at] = 1.5,
            2 => run[at] = -3.0,
            3 => {
                run[at] = -1.5;
                run[(at + 5) % run.len()] = 7.0;
            }
            4 => run
                .iter_mut()
                .for_each(|v| *v = (next() * 2.0 - 1.0) * 12.0),
            5 => run
                .iter_mut()
                .zip(specials.iter().cycle().skip(r))
                .for_each(|(v, s)| *v = *s),
            _ => {}
        }
    }
    let want: Vec<u32> = x.iter().map(|v| gelu_scalar(*v).to_bits()).collect();
    gelu(&mut x);
    for (i, (got, want)) in x.iter().zip(&want).enumerate() {
        assert_eq!(
            got.to_bits(),
            *want,
            "element {i}: {got} vs {}",
            f32::from_bits(*want)
        );
    }
}

#[test]
fn same_shape_arithmetic_by_hand() {
    let mut a: Map<1, 2, 2> = [[[1.0, 2.0], [3.0, 4.0]]];
    let b: Map<1, 2, 2> = [[[0.5, -1.0], [2.0, 0.0]]];
    let mut out: Map<1, 2, 2> = [[[f32::NAN; 2]; 2]];
    add_into(&a, &b, &mut out);
    assert_eq!(out, [[[1.5, 1.0], [5.0, 4.0]]]);
    add(&mut a, &b);
    assert_eq!(a, [[[1.5, 1.0], [5.0, 4.0]]]);
    mul(&mut a, &b);
    assert_eq!(a, [[[0.75, -1.0], [10.0, 0.0]]]);
    scale(&mut a, -2.0);
    assert_eq!(a, [[[-1.5, 2.0], [-20.0, -0.0]]]);
}

#[test]
fn broadcasts_by_hand() {
    // x: 2 channels of 1×3, [[1, 2, 3]] and [[4, 5, 6]].
    let x: Map<2, 1, 3> = [[[1.0, 2.0, 3.0]], [[4.0, 5.0, 6.0]]];
    // Channel operand [10, 100] (a 2×1×1 tensor): broadcast over pixels.
    let mut y = x;
    add_channel(&mut y, &[10.0, 100.0]);
    assert_eq!(y, [[[11.0, 12.0, 13.0]], [[104.0, 105.0, 106.0]]]);
    let mut y = x;
    mul_channel(&mut y, &[10.0, 100.0]);
    assert_eq!(y, [[[10.0, 20.0, 30.0]], [[400.0, 500.0, 600.0]]]);
    // Pixel operand [[1, 0, −1]] (a 1×1×3 tensor): broadcast over channels.
    let p: Map<1, 1, 3> = [[[1.0, 0.0, -1.0]]];
    let mut y = x;
    add_pixel(&mut y, &p);
    assert_eq!(y, [[[2.0, 2.0, 2.0]], [[5.0, 5.0, 5.0]]]);
    let mut y = x;
    mul_pixel(&mut y, &p);
    assert_eq!(y, [[[1.0, 0.0, -3.0]], [[4.0, 0.0, -6.0]]]);
}

// ---------------------------------------------------------------------------------------
// Property tests against the reference. Every case fn works on a `Map<C, H, W>`.

fn relu_case<const C: usize, const H: usize, const W: usize>(data: &[f32]) -> Result<(), String> {
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    Feed::new(data).fill(&mut x);
    let expected = reference::relu(&f64s(x.flat()));
    relu(&mut x);
    compare("relu", x.flat(), &expected)
}

fn sigmoid_case<const C: usize, const H: usize, const W: usize>(
    data: &[f32],
) -> Result<(), String> {
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    Feed::new(data).fill_with(&mut x, |v| 20.0 * v);
    let expected = reference::sigmoid(&f64s(x.flat()));
    sigmoid(&mut x);
    compare("sigmoid", x.flat(), &expected)
}

fn gelu_case<const C: usize, const H: usize, const W: usize>(data: &[f32]) -> Result<(), String> {
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    Feed::new(data).fill_with(&mut x, |v| 8.0 * v);
    let expected = reference::gelu(&f64s(x.flat()));
    gelu(&mut x);
    compare("gelu", x.flat(), &expected)
}

/// `add`, `add_into`, `mul` and `scale` on one pair of maps.
fn arith_case<const C: usize, const H: usize, const W: usize>(data: &[f32]) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut a: Map<C, H, W> = [[[0.0; W]; H]; C];
    let mut b: Map<C, H, W> = [[[0.0; W]; H]; C];
    f.fill_with(&mut a, |v| 4.0 * v);
    f.fill_with(&mut b, |v| 4.0 * v);
    let s = 3.0 * f.next(1)[0];
    let (ra, rb) = (f64s(a.flat()), f64s(b.flat()));

    let mut out: Map<C, H, W> = [[[f32::NAN; W]; H]; C];
    add_into(&a, &b, &mut out);
    compare("add_into", out.flat(), &reference::add(&ra, &rb))?;
    let mut y = a;
    add(&mut y, &b);
    compare("add", y.flat(), &reference::add(&ra, &rb))?;
    let mut y = a;
    mul(&mut y, &b);
    compare("mul", y.flat(), &reference::mul(&ra, &rb))?;
    let mut y = a;
    scale(&mut y, s);
    compare("scale", y.flat(), &reference::scale(&ra, f64::from(s)))
}

/// `add_channel`, `mul_channel`, `add_pixel`, `mul_pixel`.
fn broadcast_case<const C: usize, const H: usize, const W: usize>(
    data: &[f32],
) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    f.fill_with(&mut x, |v| 4.0 * v);
    let mut v = [0.0f32; C];
    f.fill_with(&mut v, |v| 2.0 * v);
    let mut p: Map<1, H, W> = [[[0.0; W]; H]; 1];
    f.fill_with(&mut p, |v| 2.0 * v);
    let (rx, rv, rp) = (f64s(x.flat()), f64s(&v), f64s(p.flat()));

    let mut y = x;
    add_channel(&mut y, &v);
    compare(
        "add_channel",
        y.flat(),
        &reference::add_channel(&rx, C, H, W, &rv),
    )?;
    let mut y = x;
    mul_channel(&mut y, &v);
    compare(
        "mul_channel",
        y.flat(),
        &reference::mul_channel(&rx, C, H, W, &rv),
    )?;
    let mut y = x;
    add_pixel(&mut y, &p);
    compare(
        "add_pixel",
        y.flat(),
        &reference::add_pixel(&rx, C, H, W, &rp),
    )?;
    let mut y = x;
    mul_pixel(&mut y, &p);
    compare(
        "mul_pixel",
        y.flat(),
        &reference::mul_pixel(&rx, C, H, W, &rp),
    )
}

macro_rules! map_cases {
    ($f:ident, |$c:ident, $h:ident, $w:ident| $need:expr) => {
        map_cases!(@list $f, |$c, $h, $w| $need;
            (1, 1, 1), (2, 3, 4), (3, 5, 2), (4, 7, 7), (8, 2, 9), (1, 16, 16))
    };
    (@list $f:ident, |$c:ident, $h:ident, $w:ident| $need:expr;
        $( ($cc:literal, $hh:literal, $ww:literal) ),*) => {
        &[$(Case {
            name: stringify!(($cc, $hh, $ww)),
            need: {
                let ($c, $h, $w): (usize, usize, usize) = ($cc, $hh, $ww);
                $need
            },
            run: $f::<$cc, $hh, $ww>,
        },)*]
    };
}

const RELU_CASES: &[Case] = map_cases!(relu_case, |c, h, w| c * h * w);
const SIGMOID_CASES: &[Case] = map_cases!(sigmoid_case, |c, h, w| c * h * w);
const GELU_CASES: &[Case] = map_cases!(gelu_case, |c, h, w| c * h * w);
const ARITH_CASES: &[Case] = map_cases!(arith_case, |c, h, w| 2 * c * h * w + 1);
const BROADCAST_CASES: &[Case] = map_cases!(broadcast_case, |c, h, w| c * h * w + c + h * w);

proptest_cases!(relu_vs_reference, RELU_CASES, 64);
proptest_cases!(sigmoid_vs_reference, SIGMOID_CASES, 64);
proptest_cases!(gelu_vs_reference, GELU_CASES, 64);
proptest_cases!(add_mul_scale_vs_reference, ARITH_CASES, 64);
proptest_cases!(channel_pixel_broadcast_vs_reference, BROADCAST_CASES, 64);
