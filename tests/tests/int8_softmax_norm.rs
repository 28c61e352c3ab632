//! Integer softmax (exp table, output 1/256 and −128) and integer layer norm: hand-computed
//! cases and property tests against "dequantize → f64 op (`hepaseg_tests::reference`) →
//! quantize". Bound: 1 LSB for both.

#[macro_use]
mod int8_support;

use hepaseg_core::int8::linalg::{
    dot_slices, head_scores, transpose_columns, weighted_values, HeadKeys,
};
use hepaseg_core::int8::norm::{LayerNormQuant, MAX_FEATURES};
use hepaseg_core::int8::quant::layer_norm_params;
use hepaseg_core::int8::softmax::{Divisor, ExpTable, OUTPUT_SCALE_LOG2, OUTPUT_ZERO_POINT};
use hepaseg_core::int8::{
    build_exp_table, layer_norm, softmax, softmax_in_place, QuantParams, Requant,
};
use hepaseg_core::ops::Axis;
use hepaseg_core::tensor::{Flat, Mat, Tokens};
use hepaseg_tests::reference;
use hepaseg_tests::Feed;
use int8_support::{
    deq, fill_i8, fit_output, log_scale, quantize_all, to_i8, within, QCase, Stats,
};
use proptest::prelude::*;

/// TFLite's fixed int8 softmax output quantization.
fn softmax_out() -> QuantParams {
    QuantParams::new(2f32.powi(OUTPUT_SCALE_LOG2), OUTPUT_ZERO_POINT)
}

// ---------------------------------------------------------------------------------------------
// Softmax
// ---------------------------------------------------------------------------------------------

#[test]
fn softmax_hand_computed() {
    let t = build_exp_table(1.0);
    // Equal values: p = ¼ → 64 − 128.
    let mut v = [7i8; 4];
    softmax_in_place(&mut v, &t);
    assert_eq!(v, [-64; 4]);
    // Two equal: p = ½ → 0.
    let mut v = [-5i8; 2];
    softmax_in_place(&mut v, &t);
    assert_eq!(v, [0, 0]);
    // One value dominates: p = 1 → 256 − 128 saturates at 127; e^−255 ≈ 0 → −128.
    let mut v = [127i8, -128];
    softmax_in_place(&mut v, &t);
    assert_eq!(v, [127, -128]);
    // Scale ln 2: e = 1, ½, ¼ → p = 4/7, 2/7, 1/7 → 146.29, 73.14, 36.57 → 146, 73, 37.
    let t = build_exp_table(std::f64::consts::LN_2);
    let mut v = [10i8, 9, 8];
    softmax_in_place(&mut v, &t);
    assert_eq!(v, [18, -55, -91]); // 146 − 128, 73 − 128, 37 − 128
                                   // Matrix over columns.
    let mut m: Mat<3, 2, i8> = [[10, 0], [9, 0], [8, 0]];
    softmax(&mut m, &t, Axis::Cols);
    assert_eq!(m, [[18, -43], [-55, -43], [-91, -43]]); // 256/3 = 85.33 → 85
}

#[test]
fn softmax_degenerate_inputs_do_not_panic() {
    let t = build_exp_table(0.1);
    let mut empty: [i8; 0] = [];
    softmax_in_place(&mut empty, &t);
    // A corrupt table: all zero → −128 everywhere; negative entries count as 0; huge entries
    // saturate.
    let mut v = [1i8, 2, 3];
    softmax_in_place(&mut v, &[0; 256]);
    assert_eq!(v, [-128; 3]);
    let mut v = [1i8, 2, 3];
    softmax_in_place(&mut v, &[-5; 256]);
    assert_eq!(v, [-128; 3]);
    let mut t2 = [1i32; 256];
    t2[0] = i32::MAX;
    let mut v = [-128i8, 127, 127];
    softmax_in_place(&mut v, &t2);
    assert_eq!(v, [-128, 0, 0]);
    let mut m: Mat<2, 3, i8> = [[0; 3]; 2];
    softmax(&mut m, &[0; 256], Axis::Cols);
    assert_eq!(m, [[-128; 3]; 2]);
    // Long rows: the u64 sum does not overflow.
    let mut long = vec![0i8; 100_000];
    softmax_in_place(&mut long, &t);
    assert!(long.iter().all(|v| *v == -128)); // 1/100000 · 256 → 0
                                              // The prepared table on the same degenerate inputs.
    ExpTable::new(&t).softmax_in_place(&mut empty);
    ExpTable::new(&t).weights(&empty, &mut []);
    for (table, want) in [([0; 256], [0i16; 3]), ([-5; 256], [0; 3])] {
        let mut w = [7i16; 3];
        ExpTable::new(&table).weights(&[1, 2, 3], &mut w);
        assert_eq!(w, want);
    }
    let mut w = [7i16; 3];
    ExpTable::new(&t2).weights(&[-128, 127, 127], &mut w);
    assert_eq!(w, [0, 128, 128]);
}

fn softmax_case<const R: usize, const C: usize, const COLS: bool>(
    data: &[f32],
) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let p = f.next(2);
    let iq = QuantParams::new(log_scale(p[0], 0.005, 0.5), to_i8(p[1]));
    let mut m: Mat<R, C, i8> = [[0; C]; R];
    fill_i8(&mut f, &mut m);
    let real = deq(m.flat(), iq);
    let yr = if COLS {
        reference::softmax_cols(&real, R, C)
    } else {
        reference::softmax_rows(&real, R, C)
    };
    let table = build_exp_table(f64::from(iq.scale));
    softmax(&mut m, &table, if COLS { Axis::Cols } else { Axis::Rows });
    within(
        "softmax",
        m.flat(),
        &quantize_all(&yr, softmax_out(), i8::MIN, i8::MAX),
        1,
    )
}

macro_rules! softmax_cases {
    ($( ($r:literal, $c:literal) cols $cols:literal; )*) => {
        &[$(QCase {
            name: stringify!(($r, $c) cols $cols),
            need: 2 + $r * $c,
            run: softmax_case::<$r, $c, $cols>,
        },)*]
    };
}

const SOFTMAX_CASES: &[QCase] = softmax_cases! {
    (1, 1) cols false;
    (3, 2) cols false;
    (4, 16) cols false;
    (2, 64) cols false;     // attention row over reduced keys
    (1, 256) cols false;
    (16, 3) cols true;
    (64, 2) cols true;      // column softmax over pixels
};

int8_cases!(softmax_vs_float_reference, SOFTMAX_CASES, 300, 128);

// ---------------------------------------------------------------------------------------------
// Layer norm
// ---------------------------------------------------------------------------------------------

/// Integer layer-norm parameters for real gamma/beta/eps.
struct LnParams<const D: usize> {
    m: [i32; D],
    s: [i32; D],
    b: [i32; D],
    eps: i32,
}

impl<const D: usize> LnParams<D> {
    fn new(gamma: &[f32; D], beta: &[f32; D], eps: f64, iq: QuantParams, oq: QuantParams) -> Self {
        let (mut m, mut s, mut b) = ([0; D], [0; D], [0; D]);
        let eps = layer_norm_params(gamma, beta, eps, iq, oq, &mut m, &mut s, &mut b);
        Self { m, s, b, eps }
    }

    fn quant(&self, iq: QuantParams, oq: QuantParams) -> LayerNormQuant<'_, D> {
        LayerNormQuant {
            input_zp: iq.zero_point,
            output_zp: oq.zero_point,
            eps: self.eps,
            gamma_multiplier: &self.m,
            gamma_shift: &self.s,
            beta: &self.b,
        }
    }
}

#[test]
fn layer_norm_hand_computed() {
    // x − zp = [−3, −1, 1, 3]: mean 0, var 5, n = x/√5 = ∓1.3416, ∓0.4472; γ = 1, β = 0,
    // s_out = 1/64: ∓85.87 → ∓86, ∓28.62 → ∓29.
    let iq = QuantParams::new(0.1, 10);
    let oq = QuantParams::new(1.0 / 64.0, 0);
    let p = LnParams::<4>::new(&[1.0; 4], &[0.0; 4], 0.0, iq, oq);
    let mut x: Tokens<1, 4, i8> = [[7, 9, 11, 13]];
    layer_norm(&mut x, &p.quant(iq, oq));
    assert_eq!(x, [[-86, -29, 29, 86]]);
    // Per-feature gamma/beta and an output zero point: γ = [2, −1, 0, 0.5],
    // β = [0, 0.25, −0.5, 1] → n·γ + β = −2.683, 0.697, −0.5, 1.671 → ×64 = −171.7 (sat),
    // 44.6 → 45, −32, 106.9 → 107; + zp −20.
    let oq2 = QuantParams::new(1.0 / 64.0, -20);
    let p = LnParams::<4>::new(
        &[2.0, -1.0, 0.0, 0.5],
        &[0.0, 0.25, -0.5, 1.0],
        0.0,
        iq,
        oq2,
    );
    let mut x: Tokens<1, 4, i8> = [[7, 9, 11, 13]];
    layer_norm(&mut x, &p.quant(iq, oq2));
    assert_eq!(x, [[-128, 25, -52, 87]]);
    // A constant token (variance 0, ε = 0): n = 0, the output is β exactly.
    let p = LnParams::<4>::new(&[1.0; 4], &[0.5; 4], 0.0, iq, oq);
    let mut x: Tokens<2, 4, i8> = [[-128; 4], [127; 4]];
    layer_norm(&mut x, &p.quant(iq, oq));
    assert_eq!(x, [[32; 4]; 2]);
    // ε dominating a tiny variance: x − zp = [−1, 1], var 1 (input LSB²) = 0.01 real; with
    // ε = 0.03, n = ±0.1/√0.04 = ±0.5 → ±32.
    let p = LnParams::<2>::new(&[1.0; 2], &[0.0; 2], 0.03, iq, oq);
    assert_eq!(p.eps, 768); // 0.03 / 0.01 · 2^8
    let mut x: Tokens<1, 2, i8> = [[9, 11]];
    layer_norm(&mut x, &p.quant(iq, oq));
    assert_eq!(x, [[-32, 32]]);
}

#[test]
fn layer_norm_parameters_are_documented_fixed_point() {
    let iq = QuantParams::new(0.5, 0);
    let oq = QuantParams::new(0.25, 0);
    let p = LnParams::<1>::new(&[1.0], &[0.75], 1e-6, iq, oq);
    // gamma multiplier: γ / (s_out · 2^(20 − 12)) = 1 / 64.
    assert_eq!(Requant::new(p.m[0], p.s[0]), Requant::from_real(1.0 / 64.0));
    // beta: β · 2^12 / s_out = 0.75 · 4096 / 0.25.
    assert_eq!(p.b[0], 12_288);
    assert_eq!(p.eps, 0); // 1e-6 / 0.25 · 256 = 0.001 → 0
    assert_eq!(MAX_FEATURES, 4096);
}

fn layer_norm_case<const N: usize, const D: usize>(data: &[f32]) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let p = f.next(4);
    let iq = QuantParams::new(log_scale(p[0], 0.005, 0.2), to_i8(p[1]));
    let widen = 0.6 + 0.7 * (f64::from(p[2]) + 1.0) / 2.0;
    // ε from 1e-6 (PVT's) up to comparable with a few input LSB².
    let eps = 1e-6 * (f64::from(iq.scale).powi(2) * 1e7).powf((f64::from(p[3]) + 1.0) / 2.0);
    let mut x: Tokens<N, D, i8> = [[0; D]; N];
    fill_i8(&mut f, &mut x);
    let mut gamma = [0f32; D];
    for (g, d) in gamma.iter_mut().zip(f.next(D)) {
        *g = 2.0 * d;
    }
    let mut beta = [0f32; D];
    for (b, d) in beta.iter_mut().zip(f.next(D)) {
        *b = *d;
    }
    let g64: Vec<f64> = gamma.iter().map(|v| f64::from(*v)).collect();
    let b64: Vec<f64> = beta.iter().map(|v| f64::from(*v)).collect();
    let yr = reference::layer_norm(&deq(x.flat(), iq), N, D, &g64, &b64, eps);
    let oq = fit_output(&yr, widen);
    let params = LnParams::<D>::new(&gamma, &beta, eps, iq, oq);
    layer_norm(&mut x, &params.quant(iq, oq));
    within(
        "layer_norm",
        x.flat(),
        &quantize_all(&yr, oq, i8::MIN, i8::MAX),
        1,
    )
}

macro_rules! layer_norm_cases {
    ($( ($n:literal, $d:literal); )*) => {
        &[$(QCase {
            name: stringify!(($n, $d)),
            need: 4 + $n * $d + 2 * $d,
            run: layer_norm_case::<$n, $d>,
        },)*]
    };
}

const LAYER_NORM_CASES: &[QCase] = layer_norm_cases! {
    (1, 1);
    (3, 2);
    (5, 8);
    (4, 32);      // PVT-v2 stage widths
    (2, 64);
    (2, 160);
    (1, 512);
};

int8_cases!(layer_norm_vs_float_reference, LAYER_NORM_CASES, 300, 128);

// ---------------------------------------------------------------------------------------------
// No panics on any input or parameter
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn softmax_total_on_any_input(
        v in proptest::collection::vec(any::<i8>(), 0..300),
        table in proptest::collection::vec(any::<i32>(), 256),
    ) {
        let t: [i32; 256] = table.try_into().unwrap();
        let mut w = v.clone();
        softmax_in_place(&mut w, &t);
        let mut w = v;
        softmax_in_place(&mut w, &build_exp_table(0.05));
        // A valid table's outputs sum to ≈ 256 probability units.
        if !w.is_empty() {
            let s: i32 = w.iter().map(|q| i32::from(*q) + 128).sum();
            prop_assert!((s - 256).abs() <= w.len() as i32, "sum {s} over {}", w.len());
        }
    }

    #[test]
    fn layer_norm_total_on_any_input(
        x in proptest::collection::vec(any::<i8>(), 3 * 16),
        m in proptest::collection::vec(any::<i32>(), 16),
        s in proptest::collection::vec(any::<i32>(), 16),
        b in proptest::collection::vec(any::<i32>(), 16),
        zps in proptest::array::uniform2(any::<i8>()),
        eps in any::<i32>(),
        constant in any::<i8>(),
    ) {
        let mut t: Tokens<3, 16, i8> = [[0; 16]; 3];
        t.flat_mut().copy_from_slice(&x);
        t[2] = [constant; 16];
        let (m, s, b): ([i32; 16], [i32; 16], [i32; 16]) =
            (m.try_into().unwrap(), s.try_into().unwrap(), b.try_into().unwrap());
        let q = LayerNormQuant {
            input_zp: zps[0], output_zp: zps[1], eps,
            gamma_multiplier: &m, gamma_shift: &s, beta: &b,
        };
        layer_norm(&mut t, &q);
        // The widest possible token: half −128, half 127, zero point at an extreme.
        let mut w: Tokens<1, 4096, i8> = [[0; 4096]; 1];
        for (i, v) in w[0].iter_mut().enumerate() {
            *v = if i % 2 == 0 { -128 } else { 127 };
        }
        let m1 = [1 << 30; 4096];
        let s1 = [0; 4096];
        let b1 = [0; 4096];
        let q = LayerNormQuant {
            input_zp: zps[0], output_zp: 0, eps: i32::MAX,
            gamma_multiplier: &m1, gamma_shift: &s1, beta: &b1,
        };
        layer_norm(&mut w, &q);
    }
}

// ---------------------------------------------------------------------------------------------
// Same bits as the straightforward forms: the softmax's shared divisor and the attention's
// transposed-key scores and key-by-key weighted sums
// ---------------------------------------------------------------------------------------------

/// The softmax as it was before [`Divisor`]: one `checked_div` per element.
fn softmax_dividing(v: &mut [i8], t: &[i32; 256]) {
    let Some(max) = v.iter().copied().max() else {
        return;
    };
    let e = |x: i8| t[usize::from((i32::from(max) - i32::from(x)) as u8)].max(0) as u64;
    let sum = v.iter().fold(0u64, |s, x| s.saturating_add(e(*x)));
    if sum == 0 {
        v.fill(OUTPUT_ZERO_POINT);
        return;
    }
    for x in v.iter_mut() {
        let q = e(*x)
            .saturating_mul(512)
            .saturating_add(sum)
            .checked_div(sum.saturating_mul(2))
            .unwrap_or(0);
        *x = (q.min(255) as i32 + i32::from(OUTPUT_ZERO_POINT)) as i8;
    }
}

#[test]
fn divisor_hand_cases_and_extremes() {
    let ds = [
        1u64,
        2,
        3,
        7,
        255,
        256,
        1 << 20,
        (1 << 32) - 1,
        1 << 32,
        (1 << 63) + 1,
    ];
    let ns = [0u64, 1, 2, 511, 512, 1 << 40, u64::MAX - 1, u64::MAX];
    for d in ds.into_iter().chain([u64::MAX - 1, u64::MAX]) {
        let div = Divisor::new(d);
        for n in ns.into_iter().chain([
            d - 1,
            d,
            d.wrapping_add(1),
            d.wrapping_mul(2).wrapping_sub(1),
            d.wrapping_mul(3),
        ]) {
            assert_eq!(div.div(n), n / d, "{n} / {d}");
        }
    }
    assert_eq!(Divisor::new(0).div(17), 17, "0 counts as 1");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]
    #[test]
    fn divisor_is_exact_division(n in any::<u64>(), d in 1u64.., small in 1u64..100_000) {
        prop_assert_eq!(Divisor::new(d).div(n), n / d);
        prop_assert_eq!(Divisor::new(small).div(n), n / small);
        prop_assert_eq!(Divisor::new(small).div(n >> 24), (n >> 24) / small);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn softmax_equals_one_division_per_element(
        v in proptest::collection::vec(any::<i8>(), 0..300),
        table in proptest::collection::vec(any::<i32>(), 256),
        scale in 1e-4f64..2.0,
    ) {
        // A corrupt table (any i32) and a valid one.
        let t: [i32; 256] = table.try_into().unwrap();
        // A non-increasing table with plateaus and zeros (the per-vector output table's
        // early stop applies), and the full range of differences in one vector.
        let mut steps = t.map(|e| e.rem_euclid(1 << 21));
        steps.sort_unstable_by(|a, b| b.cmp(a));
        steps[200..].fill(0);
        let full: Vec<i8> = (i8::MIN..=i8::MAX).chain(v.iter().copied()).collect();
        for t in [t, build_exp_table(scale), steps] {
            let exp = ExpTable::new(&t);
            for v in [&v, &full] {
                let (mut fast, mut slow, mut table) = (v.clone(), v.clone(), v.clone());
                softmax_in_place(&mut fast, &t);
                softmax_dividing(&mut slow, &t);
                prop_assert_eq!(&fast, &slow);
                exp.softmax_in_place(&mut table);
                prop_assert_eq!(&table, &slow);
                let mut w = vec![-1i16; v.len()];
                exp.weights(v, &mut w);
                let want: Vec<i16> = slow.iter().map(|y| i16::from(*y) + 128).collect();
                prop_assert_eq!(w, want);
            }
        }
    }

    #[test]
    fn attention_head_sums_equal_dot_products(
        seed in any::<u64>(),
        heads in 1usize..5,
        extreme in any::<bool>(),
        zps in proptest::array::uniform3(any::<i8>()),
    ) {
        // 43 keys (two full blocks of 16 and a partial one; with VNNI a block of 32, one of 8
        // and three single keys) of up to 2·C = 2·heads·d columns (keys, then values), d = 3
        // or 16 (the edge networks' heads; 3 takes `HeadKeys`' i16 layout everywhere); one
        // query row.
        const NK: usize = 43;
        const C2: usize = 2 * 4 * 16;
        let d = if seed % 2 == 0 { 3 } else { 16 };
        let c = heads * d;
        let mut kv: Mat<NK, C2, i8> = [[0; C2]; NK];
        let mut q = vec![0i8; c];
        let mut p = [0i8; NK];
        let mut r = seed;
        let mut next = || {
            r = r.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = (r >> 56) as i8;
            if extreme { if v < 0 { i8::MIN } else { i8::MAX } } else { v }
        };
        kv.flat_mut().iter_mut().for_each(|v| *v = next());
        q.iter_mut().for_each(|v| *v = next());
        p.iter_mut().for_each(|v| *v = next());
        let [zq, zk, zv] = zps;
        // Keys: columns 0..c (heads of d); values: columns c..2c.
        let mut kt = vec![0i16; c * NK];
        let mut vt = vec![0i16; c * NK];
        transpose_columns(&kv, 0, zk, &mut kt);
        transpose_columns(&kv, c, zv, &mut vt);
        let w: Vec<i16> = p.iter().map(|v| i16::from(*v) + 128).collect();
        let mut sums = [0i32; NK];
        let mut hs = vec![0i32; d];
        let mut buf = vec![0i32; (c * NK).div_ceil(2)];
        let keys = HeadKeys::new(&kv, c, heads, (zq, zk), &mut buf);
        let mut laid_out = [0i32; NK];
        for h in 0..heads {
            let cols = h * d..(h + 1) * d;
            head_scores(&q[cols.clone()], zq, &kt[h * d * NK..], &mut sums);
            keys.scores(h, &q[cols.clone()], &mut laid_out);
            for (m, (s, l)) in sums.iter().zip(&laid_out).enumerate() {
                let want = dot_slices(&q[cols.clone()], zq, &kv[m][cols.clone()], zk);
                prop_assert_eq!(*s, want);
                prop_assert_eq!(*l, want, "HeadKeys, head {} key {}", h, m);
            }
            weighted_values(&w, &vt[h * d * NK..], &mut hs);
            for (j, s) in hs.iter().enumerate() {
                let want: i64 = (0..NK)
                    .map(|m| {
                        (i64::from(kv[m][c + h * d + j]) - i64::from(zv))
                            * (i64::from(p[m]) + 128)
                    })
                    .sum();
                prop_assert_eq!(i64::from(*s), want);
            }
        }
    }
}
