//! `batch_norm`, `BatchNorm::affine`, `fold_batch_norm` and `layer_norm`: hand-computed cases
//! and property tests against the naive reference.

use hepaseg_core::ops::{
    batch_norm, conv_out, fold_batch_norm, layer_norm, BatchNorm, Conv2d, BN_EPS, LN_EPS,
};
use hepaseg_core::tensor::{ConvWeight, Flat, Map, Tokens};
use hepaseg_tests::reference::{self, Bn, ConvSpec};
use hepaseg_tests::{assert_close, compare, f64s, proptest_cases, Case, Feed};

#[test]
fn epsilons_are_the_pytorch_and_pvt_defaults() {
    assert_eq!(BN_EPS, 1e-5);
    assert_eq!(LN_EPS, 1e-6);
}

#[test]
fn batch_norm_by_hand() {
    // eps = 1 keeps the arithmetic exact.
    // ch0: γ 2, β 1, μ 2, σ² 3 → scale 2/√(3+1) = 1, shift 1 − 2·1 = −1 → y = x − 1.
    // ch1: γ 1, β 0, μ 4, σ² 3 → scale 1/2, shift −2 → y = (x − 4)/2.
    let bn = BatchNorm::<2> {
        gamma: &[2.0, 1.0],
        beta: &[1.0, 0.0],
        mean: &[2.0, 4.0],
        var: &[3.0, 3.0],
        eps: 1.0,
    };
    assert_eq!(bn.affine(0), (1.0, -1.0));
    assert_eq!(bn.affine(1), (0.5, -2.0));
    let mut x: Map<2, 2, 2> = [[[0.0, 1.0], [2.0, 3.0]]; 2];
    batch_norm(&mut x, &bn);
    assert_eq!(x[0], [[-1.0, 0.0], [1.0, 2.0]]);
    assert_eq!(x[1], [[-2.0, -1.5], [-1.0, -0.5]]);
}

#[test]
fn batch_norm_with_default_eps() {
    // γ 1, β 0, μ 0, σ² 1: y = x/√(1 + 1e-5) ≈ x·0.999995000037.
    let bn = BatchNorm::<1> {
        gamma: &[1.0],
        beta: &[0.0],
        mean: &[0.0],
        var: &[1.0],
        eps: BN_EPS,
    };
    let mut x: Map<1, 1, 2> = [[[1.0, -4.0]]];
    batch_norm(&mut x, &bn);
    let s = 1.0 / (1.0f64 + 1e-5).sqrt();
    assert_close(x.flat(), &[s, -4.0 * s], 1e-6);
}

/// Fixed, varied values for the fold tests.
fn pattern(i: usize, m: usize, off: f32) -> f32 {
    ((i * 7 + 3) % m) as f32 * 0.25 - off
}

#[test]
fn folded_conv_equals_conv_then_batch_norm() {
    let mut x: Map<2, 5, 5> = [[[0.0; 5]; 5]; 2];
    for (i, v) in x.flat_mut().iter_mut().enumerate() {
        *v = pattern(i, 13, 1.5);
    }
    let mut w: ConvWeight<3, 2, 3> = [[[[0.0; 3]; 3]; 2]; 3];
    for (i, v) in w.flat_mut().iter_mut().enumerate() {
        *v = pattern(i, 9, 1.0);
    }
    let bn = BatchNorm::<3> {
        gamma: &[1.5, -0.5, 2.0],
        beta: &[0.25, 1.0, -3.0],
        mean: &[0.5, -1.0, 2.0],
        var: &[0.8, 2.5, 0.1],
        eps: BN_EPS,
    };
    for start_bias in [None, Some([0.5f32, -0.25, 1.0])] {
        // conv (with or without bias), then BN
        let mut expected: Map<3, 5, 5> = [[[0.0; 5]; 5]; 3];
        Conv2d::<1, 1>::forward(&x, &w, start_bias.as_ref(), &mut expected);
        batch_norm(&mut expected, &bn);
        // folded: a conv without bias folds starting from a zero bias
        let mut wf = w;
        let mut bf = start_bias.unwrap_or([0.0; 3]);
        fold_batch_norm(&mut wf, &mut bf, &bn);
        let mut y: Map<3, 5, 5> = [[[f32::NAN; 5]; 5]; 3];
        Conv2d::<1, 1>::forward(&x, &wf, Some(&bf), &mut y);
        assert_close(y.flat(), &f64s(expected.flat()), 1e-5);
    }
}

#[test]
fn fold_batch_norm_by_hand() {
    // eps = 1: scale = γ/√(σ²+1). ch0: 3/√4 = 1.5, ch1: 1/√1 = 1.
    // w' = w·scale; b' = (b − μ)·scale + β: ch0 (1 − 1)·1.5 + 2 = 2, ch1 (−1 − 3)·1 + 0.5 = −3.5.
    let bn = BatchNorm::<2> {
        gamma: &[3.0, 1.0],
        beta: &[2.0, 0.5],
        mean: &[1.0, 3.0],
        var: &[3.0, 0.0],
        eps: 1.0,
    };
    let mut w: ConvWeight<2, 1, 1> = [[[[2.0]]], [[[-4.0]]]];
    let mut b = [1.0, -1.0];
    fold_batch_norm(&mut w, &mut b, &bn);
    assert_eq!(w, [[[[3.0]]], [[[-4.0]]]]);
    assert_eq!(b, [2.0, -3.5]);
}

#[test]
fn layer_norm_by_hand() {
    // Token 0 [0, 0, 2, 2]: mean 1, biased var 1 → [−1, −1, 1, 1]; ·γ 2 + β 1 → [−1, −1, 3, 3].
    // Token 1 [1, 2, 3, 4]: mean 2.5, var (2.25+0.25+0.25+2.25)/4 = 1.25 → (x − 2.5)/√1.25
    //   = ±0.4472135955, ±1.3416407865; ·2 + 1.
    let mut x: Tokens<2, 4> = [[0.0, 0.0, 2.0, 2.0], [1.0, 2.0, 3.0, 4.0]];
    layer_norm(&mut x, &[2.0; 4], &[1.0; 4], 0.0);
    assert_eq!(x[0], [-1.0, -1.0, 3.0, 3.0]);
    let s = 1.0 / 1.25f64.sqrt();
    assert_close(
        &x[1],
        &[1.0 - 3.0 * s, 1.0 - s, 1.0 + s, 1.0 + 3.0 * s],
        1e-6,
    );
    // A constant token [3, 3, 3, 3]: var 0 → (x − mean) = 0 → β = 1 (eps keeps 1/√ finite).
    let mut c: Tokens<1, 4> = [[3.0; 4]];
    layer_norm(&mut c, &[2.0; 4], &[1.0; 4], LN_EPS);
    assert_eq!(c, [[1.0; 4]]);
}

#[test]
fn layer_norm_output_has_zero_mean_unit_variance() {
    let mut x: Tokens<4, 8> = [[0.0; 8]; 4];
    for (i, v) in x.flat_mut().iter_mut().enumerate() {
        *v = pattern(i, 17, 2.0) * (1 + i / 8) as f32 + i as f32;
    }
    layer_norm(&mut x, &[1.0; 8], &[0.0; 8], LN_EPS);
    for tok in &x {
        let mean: f64 = tok.iter().map(|v| f64::from(*v)).sum::<f64>() / 8.0;
        let var: f64 = tok
            .iter()
            .map(|v| (f64::from(*v) - mean).powi(2))
            .sum::<f64>()
            / 8.0;
        assert!(mean.abs() < 1e-6, "mean {mean}");
        assert!((var - 1.0).abs() < 1e-4, "var {var}");
    }
}

// ---------------------------------------------------------------------------------------
// Property tests against the reference.

/// Random BN parameters in ranges a trained network has: |γ| ≤ 2, |β| ≤ 1, |μ| ≤ 1,
/// σ² ∈ [0.05, 2.05).
fn bn_params<const C: usize>(f: &mut Feed<'_>) -> [[f32; C]; 4] {
    let mut p = [[0.0f32; C]; 4];
    f.fill_with(&mut p[0], |v| 2.0 * v);
    f.fill(&mut p[1]);
    f.fill(&mut p[2]);
    f.fill_with(&mut p[3], |v| 0.05 + v.abs() * 2.0);
    p
}

fn ref_bn<const C: usize>(p: &[[f32; C]; 4], eps: f32) -> Bn {
    Bn {
        gamma: f64s(&p[0]),
        beta: f64s(&p[1]),
        mean: f64s(&p[2]),
        var: f64s(&p[3]),
        eps: f64::from(eps),
    }
}

fn batch_norm_case<const C: usize, const H: usize, const W: usize>(
    data: &[f32],
) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    f.fill_with(&mut x, |v| 3.0 * v);
    let p = bn_params::<C>(&mut f);
    let bn = BatchNorm::<C> {
        gamma: &p[0],
        beta: &p[1],
        mean: &p[2],
        var: &p[3],
        eps: BN_EPS,
    };
    let expected = reference::batch_norm(&f64s(x.flat()), C, H, W, &ref_bn(&p, BN_EPS));
    batch_norm(&mut x, &bn);
    compare("batch_norm", x.flat(), &expected)
}

macro_rules! map_cases {
    ($f:ident, $extra:expr; $( ($c:literal, $h:literal, $w:literal) ),* $(,)?) => {
        &[$(Case {
            name: stringify!(($c, $h, $w)),
            need: $c * $h * $w + $extra * $c,
            run: $f::<$c, $h, $w>,
        },)*]
    };
}

const BATCH_NORM_CASES: &[Case] = map_cases!(batch_norm_case, 4;
    (1, 1, 1), (2, 3, 4), (3, 5, 2), (4, 7, 7), (5, 1, 9), (8, 4, 4));

proptest_cases!(batch_norm_vs_reference, BATCH_NORM_CASES, 64);

#[allow(clippy::too_many_arguments)]
fn fold_case<
    const CI: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const CIG: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const G: usize,
    const HO: usize,
    const WO: usize,
    const BIAS: bool,
>(
    data: &[f32],
) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut x: Map<CI, H, W> = [[[0.0; W]; H]; CI];
    f.fill(&mut x);
    let mut w: ConvWeight<CO, CIG, K> = [[[[0.0; K]; K]; CIG]; CO];
    f.fill(&mut w);
    let mut b = [0.0f32; CO];
    if BIAS {
        f.fill(&mut b);
    }
    let p = bn_params::<CO>(&mut f);
    let bn = BatchNorm::<CO> {
        gamma: &p[0],
        beta: &p[1],
        mean: &p[2],
        var: &p[3],
        eps: BN_EPS,
    };
    let rbn = ref_bn(&p, BN_EPS);
    let spec = ConvSpec {
        ci: CI,
        h: H,
        w: W,
        co: CO,
        k: K,
        stride: S,
        pad: P,
        dilation: 1,
        groups: G,
    };
    let ref_bias = f64s(&b);
    let ref_bias = BIAS.then_some(&ref_bias[..]);

    // The folded parameters themselves.
    let (rw, rb) = reference::fold_batch_norm(&f64s(w.flat()), ref_bias, CO, CIG * K * K, &rbn);
    let mut wf = w;
    let mut bf = b; // zero when the conv has no bias
    fold_batch_norm(&mut wf, &mut bf, &bn);
    compare("folded weight", wf.flat(), &rw)?;
    compare("folded bias", &bf, &rb)?;

    // conv(x; folded) == bn(conv(x; original)).
    let conv = reference::conv2d(&f64s(x.flat()), &f64s(w.flat()), ref_bias, &spec);
    let expected = reference::batch_norm(&conv, CO, HO, WO, &rbn);
    let mut y: Map<CO, HO, WO> = [[[f32::NAN; WO]; HO]; CO];
    Conv2d::<S, P, 1, G>::forward(&x, &wf, Some(&bf), &mut y);
    compare("folded conv", y.flat(), &expected)
}

macro_rules! fold_cases {
    ($( ($ci:literal, $h:literal, $w:literal) -> $co:literal
        k $k:literal s $s:literal p $p:literal g $g:literal bias $b:literal; )*) => {
        &[$(Case {
            name: stringify!(($ci, $h, $w) -> $co k $k s $s p $p g $g bias $b),
            need: $ci * $h * $w + $co * ($ci / $g) * $k * $k + $co + 4 * $co,
            run: fold_case::<
                $ci, $h, $w, $co, { $ci / $g }, $k, $s, $p, $g,
                { conv_out($h, $k, $s, $p, 1) }, { conv_out($w, $k, $s, $p, 1) }, $b,
            >,
        },)*]
    };
}

const FOLD_CASES: &[Case] = fold_cases! {
    (1, 6, 6) -> 2 k 3 s 1 p 1 g 1 bias false;   // backbone conv: no bias
    (2, 7, 5) -> 3 k 3 s 2 p 1 g 1 bias false;   // stride 2
    (3, 5, 5) -> 4 k 1 s 1 p 0 g 1 bias true;    // 1×1 with bias (attention gate)
    (4, 6, 6) -> 4 k 3 s 1 p 1 g 2 bias true;    // groups 2
    (2, 9, 9) -> 2 k 7 s 1 p 3 g 1 bias false;   // stem 7×7
};

proptest_cases!(fold_batch_norm_vs_reference, FOLD_CASES, 64);

fn layer_norm_case<const N: usize, const D: usize>(data: &[f32]) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut x: Tokens<N, D> = [[0.0; D]; N];
    f.fill_with(&mut x, |v| 2.0 * v + 0.5);
    let mut gamma = [0.0f32; D];
    f.fill_with(&mut gamma, |v| 1.0 + v);
    let mut beta = [0.0f32; D];
    f.fill(&mut beta);
    let expected = reference::layer_norm(
        &f64s(x.flat()),
        N,
        D,
        &f64s(&gamma),
        &f64s(&beta),
        f64::from(LN_EPS),
    );
    layer_norm(&mut x, &gamma, &beta, LN_EPS);
    compare("layer_norm", x.flat(), &expected)
}

macro_rules! token_cases {
    ($f:ident; $( ($n:literal, $d:literal) ),* $(,)?) => {
        &[$(Case {
            name: stringify!(($n, $d)),
            need: $n * $d + 2 * $d,
            run: $f::<$n, $d>,
        },)*]
    };
}

const LAYER_NORM_CASES: &[Case] = token_cases!(layer_norm_case;
    (1, 1), (1, 4), (3, 8), (5, 16), (7, 3), (16, 32), (2, 64));

proptest_cases!(layer_norm_vs_reference, LAYER_NORM_CASES, 64);
