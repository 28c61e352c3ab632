//! Int8 `Conv2dQ`, `DepthwiseConv2dQ`, `linear`, `matmul`/`matmul_bt`/`matmul_at` and `dot`:
//! hand-computed cases, and property tests against "dequantize → f64 op
//! (`hepaseg_tests::reference`) → quantize" over instantiated shapes, random data, scales and
//! zero points. Bound: 1 LSB (one requantization of an exact i32 sum).

#[macro_use]
mod int8_support;

use hepaseg_core::int8::linalg::{dot, dot_slices, linear, matmul, matmul_at, matmul_bt};
use hepaseg_core::int8::quant::per_channel_requant;
use hepaseg_core::int8::{
    Clamp, Conv2dQ, DepthwiseConv2dQ, PerChannelQuant, QuantParams, Requant, TensorQuant,
};
use hepaseg_core::ops::conv_out;
use hepaseg_core::tensor::{ConvWeight, Flat, Map, Mat, Tokens};
use hepaseg_tests::reference::{self, ConvSpec};
use hepaseg_tests::Feed;
use int8_support::{
    deq, fill_i8, fill_w8, fit_output, log_scale, quantize_all, to_i8, within, QCase, Stats,
};
use proptest::prelude::*;

/// Per-channel requantization arrays for a given real multiplier per channel.
fn requant_arrays<const CO: usize>(reals: [f64; CO]) -> ([i32; CO], [i32; CO]) {
    let mut m = [0; CO];
    let mut s = [0; CO];
    for (i, r) in reals.iter().enumerate() {
        let q = Requant::from_real(*r);
        (m[i], s[i]) = (q.multiplier, q.shift);
    }
    (m, s)
}

// ---------------------------------------------------------------------------------------------
// Hand-computed cases
// ---------------------------------------------------------------------------------------------

/// `x = [[1,2,3],[4,5,6],[7,8,9]]` with input zero point 1, so `x − zp` is the ramp 0..=8.
const RAMP: Map<1, 3, 3, i8> = [[[1, 2, 3], [4, 5, 6], [7, 8, 9]]];

#[test]
fn conv3x3_pad1_on_ramp_hand_computed() {
    // All-ones 3×3, pad 1 (with the zero point): the clipped 3×3 sums of the ramp 0..=8 are
    //   8 15 12 / 21 36 27 / 20 33 24;  + bias 4  → 12 19 16 / 25 40 31 / 24 37 28.
    // × 1/4 is stored as (2^30, −1) and applied with TFLite's double rounding: first
    // SRDHM(acc, 2^30) = acc/2 rounded (ties up), then RoundingDivideByPOT(·, 1) (ties away):
    //   12 → 6 → 3;   19 → 9.5→10 → 5;   16 → 8 → 4;
    //   25 → 12.5→13 → 6.5→7 (6.25 single-rounded would be 6: TFLite's double rounding);
    //   40 → 20 → 10; 31 → 15.5→16 → 8;  24 → 12 → 6;
    //   37 → 18.5→19 → 9.5→10 (9.25);   28 → 14 → 7;   then + zp_out −10.
    let w: ConvWeight<1, 1, 3, i8> = [[[[1; 3]; 3]]];
    let (m, s) = requant_arrays([0.25]);
    assert_eq!((m[0], s[0]), (1 << 30, -1));
    let q = PerChannelQuant {
        input_zp: 1,
        output_zp: -10,
        multiplier: &m,
        shift: &s,
        bias: Some(&[4]),
        clamp: Clamp::NONE,
    };
    let mut y: Map<1, 3, 3, i8> = [[[99; 3]; 3]];
    Conv2dQ::<1, 1>::forward(&RAMP, &w, &q, &mut y);
    assert_eq!(y, [[[-7, -5, -6], [-3, 0, -2], [-4, 0, -3]]]);
    // With the mantissa one below 2^30 (M = 1/4 − 2^−33) the first step no longer lands on a
    // tie, and 6.25 → 6, 9.25 → 9 as a single rounding would give.
    let m1 = [(1 << 30) - 1];
    let q1 = PerChannelQuant {
        multiplier: &m1,
        ..q
    };
    Conv2dQ::<1, 1>::forward(&RAMP, &w, &q1, &mut y);
    assert_eq!(y, [[[-7, -5, -6], [-4, 0, -2], [-4, -1, -3]]]);
}

#[test]
fn conv_ties_round_half_away_from_zero() {
    // Weights −1, bias 2, × 1/4: acc = 2 − sum; (0,0): 2 − 8 = −6 → −1.5 → −2;
    // (0,1): 2 − 15 = −13 → −3.25 → −3; (1,1): 2 − 36 = −34 → −8.5 → −9;
    // (0,2): 2 − 12 = −10 → −2.5 → −3.
    let w: ConvWeight<1, 1, 3, i8> = [[[[-1; 3]; 3]]];
    let (m, s) = requant_arrays([0.25]);
    let q = PerChannelQuant {
        input_zp: 1,
        output_zp: 0,
        multiplier: &m,
        shift: &s,
        bias: Some(&[2]),
        clamp: Clamp::NONE,
    };
    let mut y: Map<1, 3, 3, i8> = [[[0; 3]; 3]];
    Conv2dQ::<1, 1>::forward(&RAMP, &w, &q, &mut y);
    assert_eq!(y[0][0], [-2, -3, -3]);
    assert_eq!(y[0][1][1], -9);
    // And +2.5 → 3 with weights +1, bias −2: (0,2): 12 − 2 = 10 → 2.5 → 3.
    let w: ConvWeight<1, 1, 3, i8> = [[[[1; 3]; 3]]];
    let q = PerChannelQuant {
        bias: Some(&[-2]),
        ..q
    };
    Conv2dQ::<1, 1>::forward(&RAMP, &w, &q, &mut y);
    assert_eq!(y[0][0][2], 3);
}

#[test]
fn padding_stands_for_the_input_zero_point() {
    // A constant input equal to its zero point is real 0 everywhere, padding included: every
    // output, border or not, is requant(bias) + zp_out. Padding with integer 0 instead would
    // make the border differ.
    let x: Map<2, 4, 4, i8> = [[[-37; 4]; 4]; 2];
    let w: ConvWeight<3, 2, 3, i8> = [[[[127; 3]; 3]; 2]; 3];
    let (m, s) = requant_arrays([0.5, 0.25, 1.0]);
    let q = PerChannelQuant {
        input_zp: -37,
        output_zp: 5,
        multiplier: &m,
        shift: &s,
        bias: Some(&[10, 10, 10]),
        clamp: Clamp::NONE,
    };
    let mut y: Map<3, 4, 4, i8> = [[[0; 4]; 4]; 3];
    Conv2dQ::<1, 2, 2>::forward(&x, &w, &q, &mut y);
    assert_eq!(y[0], [[10; 4]; 4]); // 5 + 10/2
    assert_eq!(y[1], [[8; 4]; 4]); // 5 + 2.5 → 3
    assert_eq!(y[2], [[15; 4]; 4]); // 5 + 10
}

#[test]
fn fused_relu_and_saturation() {
    let w: ConvWeight<2, 1, 3, i8> = [[[[127; 3]; 3]], [[[-127; 3]; 3]]];
    let (m, s) = requant_arrays([1.0, 1.0]);
    let relu = PerChannelQuant {
        input_zp: 1,
        output_zp: -20,
        multiplier: &m,
        shift: &s,
        bias: None,
        clamp: Clamp::relu(-20),
    };
    let mut y: Map<2, 3, 3, i8> = [[[0; 3]; 3]; 2];
    Conv2dQ::<1, 1>::forward(&RAMP, &w, &relu, &mut y);
    // Channel 0: 127·sum ≥ 127·8 ≫ 127 → saturates at +127 (the centre 127·36 as well).
    assert_eq!(y[0], [[127; 3]; 3]);
    // Channel 1: −127·sum + zp ≪ −128 → ReLU floor at the zero point (−20), except where
    // the sum is 0 — nowhere here.
    assert_eq!(y[1], [[-20; 3]; 3]);
    let none = PerChannelQuant {
        clamp: Clamp::NONE,
        ..relu
    };
    Conv2dQ::<1, 1>::forward(&RAMP, &w, &none, &mut y);
    assert_eq!(y[1], [[-128; 3]; 3]);
}

#[test]
fn depthwise_per_channel_scales_hand_computed() {
    // Two channels, each a single tap (centre of 3×3) with its own weight and multiplier.
    let x: Map<2, 2, 2, i8> = [[[10, 20], [30, 40]], [[-10, -20], [-30, -40]]];
    let mut w: ConvWeight<2, 1, 3, i8> = [[[[0; 3]; 3]]; 2];
    w[0][0][1][1] = 3;
    w[1][0][1][1] = -5;
    let (m, s) = requant_arrays([0.1, 2.0]);
    let q = PerChannelQuant {
        input_zp: 0,
        output_zp: 1,
        multiplier: &m,
        shift: &s,
        bias: Some(&[5, -7]),
        clamp: Clamp::NONE,
    };
    let mut y: Map<2, 2, 2, i8> = [[[0; 2]; 2]; 2];
    DepthwiseConv2dQ::<1, 1>::forward(&x, &w, &q, &mut y);
    // ch0: (3x + 5)·0.1 + 1: 35→3.5→4, 65→6.5→7, 95→9.5→10, 125→12.5→13 (+1)
    assert_eq!(y[0], [[5, 8], [11, 14]]);
    // ch1: (−5x − 7)·2 + 1: 43·2+1 = 87, 93·2+1 = 187 → 127 (saturates), …
    assert_eq!(y[1], [[87, 127], [127, 127]]);
}

#[test]
fn linear_and_matmul_hand_computed() {
    // linear: x − 3 = [1, 2, 3]; w = [[1, 0, −1], [2, 2, 2]]; bias [10, 0]; M = [1, 0.5].
    let x: Tokens<1, 3, i8> = [[4, 5, 6]];
    let w: Mat<2, 3, i8> = [[1, 0, -1], [2, 2, 2]];
    let (m, s) = requant_arrays([1.0, 0.5]);
    let q = PerChannelQuant {
        input_zp: 3,
        output_zp: -1,
        multiplier: &m,
        shift: &s,
        bias: Some(&[10, 0]),
        clamp: Clamp::NONE,
    };
    let mut y: Tokens<1, 2, i8> = [[0; 2]];
    linear(&x, &w, &q, &mut y);
    assert_eq!(y, [[1 - 3 + 10 - 1, 12 / 2 - 1]]);
    // matmul: (a − 1)·(b + 2) with a − 1 = [[1, 2], [3, 4]], b + 2 = [[5, 6], [7, 8]]:
    // [[19, 22], [43, 50]] × 1/8 = (2^30, −2), double rounding: 19 → 9.5→10 → 2.5→3 (2.375),
    // 22 → 11 → 2.75→3, 43 → 21.5→22 → 5.5→6 (5.375), 50 → 25 → 6.25→6; zp_out 0.
    let a: Mat<2, 2, i8> = [[2, 3], [4, 5]];
    let b: Mat<2, 2, i8> = [[3, 4], [5, 6]];
    let tq = TensorQuant {
        a_zp: 1,
        b_zp: -2,
        output_zp: 0,
        requant: Requant::from_real(0.125),
        clamp: Clamp::NONE,
    };
    let mut y: Mat<2, 2, i8> = [[0; 2]; 2];
    matmul(&a, &b, &tq, &mut y);
    assert_eq!(y, [[3, 3], [6, 6]]);
    // a·bᵀ with bᵀ given as rows: the same product.
    let bt: Mat<2, 2, i8> = [[3, 5], [4, 6]];
    matmul_bt(&a, &bt, &tq, &mut y);
    assert_eq!(y, [[3, 3], [6, 6]]);
    let at: Mat<2, 2, i8> = [[2, 4], [3, 5]];
    matmul_at(&at, &b, &tq, &mut y);
    assert_eq!(y, [[3, 3], [6, 6]]);
    assert_eq!(dot(&[2, 3], 1, &[3, 5], -2), 19);
    assert_eq!(dot_slices(&[2, 3, 9], 1, &[3, 5], -2), 19);
    assert_eq!(
        dot_slices(&[-128; 100_000], 127, &[127; 100_000], -128),
        i32::MIN
    );
}

// ---------------------------------------------------------------------------------------------
// Property tests over instantiated shapes
// ---------------------------------------------------------------------------------------------

/// Random per-case quantization: input scale/zp, per-channel weight scales, bias, output
/// widening, fused ReLU or not (from the data).
struct Draw {
    in_q: QuantParams,
    widen: f64,
    relu: bool,
}

fn draw(f: &mut Feed<'_>) -> Draw {
    let p = f.next(4);
    Draw {
        in_q: QuantParams::new(log_scale(p[0], 0.005, 0.1), to_i8(p[1])),
        widen: 0.5 + 0.8 * (f64::from(p[2]) + 1.0) / 2.0,
        relu: p[3] > 0.3,
    }
}

/// Weight scales, real weights and int32 biases (`bias_terms` sets the bias magnitude).
fn weights_and_bias<const CO: usize>(
    f: &mut Feed<'_>,
    wq: &[i8],
    in_q: QuantParams,
    with_bias: bool,
    bias_terms: usize,
) -> ([f32; CO], Vec<f64>, [i32; CO], Option<Vec<f64>>) {
    let per = wq.len() / CO;
    let mut ws = [0f32; CO];
    for (s, d) in ws.iter_mut().zip(f.next(CO)) {
        *s = log_scale(*d, 1e-3, 0.05);
    }
    let wr: Vec<f64> = wq
        .iter()
        .enumerate()
        .map(|(i, v)| f64::from(ws[i / per]) * f64::from(*v))
        .collect();
    let mut bq = [0i32; CO];
    for (b, d) in bq.iter_mut().zip(f.next(CO)) {
        *b = (f64::from(*d) * 400.0 * bias_terms as f64) as i32;
    }
    let br = with_bias.then(|| {
        bq.iter()
            .zip(&ws)
            .map(|(b, s)| f64::from(*b) * f64::from(in_q.scale) * f64::from(*s))
            .collect()
    });
    (ws, wr, bq, br)
}

#[allow(clippy::too_many_arguments)]
fn conv_case<
    const CI: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const CIG: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const D: usize,
    const G: usize,
    const HO: usize,
    const WO: usize,
    const BIAS: bool,
>(
    data: &[f32],
) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let dr = draw(&mut f);
    let mut x: Map<CI, H, W, i8> = [[[0; W]; H]; CI];
    fill_i8(&mut f, &mut x);
    let mut w: ConvWeight<CO, CIG, K, i8> = [[[[0; K]; K]; CIG]; CO];
    fill_w8(&mut f, &mut w);
    let (ws, wr, bq, br) = weights_and_bias::<CO>(&mut f, w.flat(), dr.in_q, BIAS, CIG * K * K);
    let spec = ConvSpec {
        ci: CI,
        h: H,
        w: W,
        co: CO,
        k: K,
        stride: S,
        pad: P,
        dilation: D,
        groups: G,
    };
    let yr = reference::conv2d(&deq(x.flat(), dr.in_q), &wr, br.as_deref(), &spec);
    let out_q = fit_output(&yr, dr.widen);
    let clamp = if dr.relu {
        Clamp::relu(out_q.zero_point)
    } else {
        Clamp::NONE
    };
    let (mut m, mut s) = ([0; CO], [0; CO]);
    per_channel_requant(dr.in_q, &ws, out_q, &mut m, &mut s);
    let q = PerChannelQuant {
        input_zp: dr.in_q.zero_point,
        output_zp: out_q.zero_point,
        multiplier: &m,
        shift: &s,
        bias: BIAS.then_some(&bq),
        clamp,
    };
    let mut y: Map<CO, HO, WO, i8> = [[[0; WO]; HO]; CO];
    Conv2dQ::<S, P, D, G>::forward(&x, &w, &q, &mut y);
    let expected = quantize_all(&yr, out_q, clamp.min, clamp.max);
    within("conv", y.flat(), &expected, 1)
}

macro_rules! conv_cases {
    ($( ($ci:literal, $h:literal, $w:literal) -> $co:literal
        k $k:literal s $s:literal p $p:literal d $d:literal g $g:literal bias $b:literal; )*) => {
        &[$(QCase {
            name: stringify!(($ci, $h, $w) -> $co k $k s $s p $p d $d g $g bias $b),
            need: 4 + $ci * $h * $w + $co * ($ci / $g) * $k * $k + 2 * $co,
            run: conv_case::<
                $ci, $h, $w, $co, { $ci / $g }, $k, $s, $p, $d, $g,
                { conv_out($h, $k, $s, $p, $d) }, { conv_out($w, $k, $s, $p, $d) }, $b,
            >,
        },)*]
    };
}

const CONV_CASES: &[QCase] = conv_cases! {
    (1, 5, 5) -> 2 k 3 s 1 p 1 d 1 g 1 bias true;     // basic same-padding 3×3
    (2, 7, 6) -> 3 k 3 s 2 p 1 d 1 g 1 bias false;    // stride 2, non-square, odd
    (2, 9, 8) -> 2 k 3 s 1 p 2 d 2 g 1 bias true;     // dilation 2
    (4, 6, 5) -> 4 k 3 s 1 p 1 d 1 g 2 bias true;     // groups 2
    (4, 7, 7) -> 6 k 1 s 2 p 0 d 1 g 2 bias false;    // 1×1 stride 2 groups 2
    (3, 8, 8) -> 2 k 7 s 2 p 3 d 1 g 1 bias true;     // 7×7 stem-like
    (2, 5, 7) -> 3 k 2 s 1 p 0 d 1 g 1 bias true;     // even kernel, valid
    (2, 11, 9) -> 2 k 3 s 2 p 0 d 3 g 1 bias true;    // stride 2 + dilation 3, no padding
    (2, 4, 4) -> 2 k 3 s 1 p 6 d 6 g 1 bias false;    // ASPP: padding = dilation = 6 > map
    (6, 5, 5) -> 3 k 3 s 1 p 1 d 1 g 3 bias true;     // groups 3
    (3, 8, 8) -> 3 k 4 s 4 p 0 d 1 g 1 bias true;     // spatial reduction sr = 4
    (64, 4, 4) -> 8 k 3 s 1 p 1 d 1 g 1 bias true;    // 576-term sums
    (16, 6, 6) -> 8 k 1 s 1 p 0 d 1 g 1 bias true;    // pointwise
};

int8_cases!(conv2d_vs_float_reference, CONV_CASES, 150, 96);

fn depthwise_case<
    const C: usize,
    const H: usize,
    const W: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const D: usize,
    const HO: usize,
    const WO: usize,
>(
    data: &[f32],
) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let dr = draw(&mut f);
    let mut x: Map<C, H, W, i8> = [[[0; W]; H]; C];
    fill_i8(&mut f, &mut x);
    let mut w: ConvWeight<C, 1, K, i8> = [[[[0; K]; K]; 1]; C];
    fill_w8(&mut f, &mut w);
    let (ws, wr, bq, br) = weights_and_bias::<C>(&mut f, w.flat(), dr.in_q, true, K * K);
    let yr = reference::depthwise_conv2d(
        &deq(x.flat(), dr.in_q),
        C,
        H,
        W,
        &wr,
        br.as_deref(),
        K,
        S,
        P,
        D,
    );
    let out_q = fit_output(&yr, dr.widen);
    let clamp = if dr.relu {
        Clamp::relu(out_q.zero_point)
    } else {
        Clamp::NONE
    };
    let (mut m, mut s) = ([0; C], [0; C]);
    per_channel_requant(dr.in_q, &ws, out_q, &mut m, &mut s);
    let q = PerChannelQuant {
        input_zp: dr.in_q.zero_point,
        output_zp: out_q.zero_point,
        multiplier: &m,
        shift: &s,
        bias: Some(&bq),
        clamp,
    };
    let mut y: Map<C, HO, WO, i8> = [[[0; WO]; HO]; C];
    DepthwiseConv2dQ::<S, P, D>::forward(&x, &w, &q, &mut y);
    let expected = quantize_all(&yr, out_q, clamp.min, clamp.max);
    within("depthwise", y.flat(), &expected, 1)
}

macro_rules! depthwise_cases {
    ($( ($c:literal, $h:literal, $w:literal) k $k:literal s $s:literal p $p:literal
        d $d:literal; )*) => {
        &[$(QCase {
            name: stringify!(($c, $h, $w) k $k s $s p $p d $d),
            need: 4 + $c * $h * $w + $c * $k * $k + 2 * $c,
            run: depthwise_case::<
                $c, $h, $w, $k, $s, $p, $d,
                { conv_out($h, $k, $s, $p, $d) }, { conv_out($w, $k, $s, $p, $d) },
            >,
        },)*]
    };
}

const DEPTHWISE_CASES: &[QCase] = depthwise_cases! {
    (3, 6, 6) k 3 s 1 p 1 d 1;   // Mix-FFN
    (2, 7, 5) k 3 s 2 p 1 d 1;   // stride 2, odd, non-square
    (4, 8, 9) k 3 s 1 p 2 d 2;   // dilation 2
    (1, 5, 5) k 5 s 1 p 2 d 1;   // 5×5
    (3, 9, 7) k 3 s 2 p 0 d 1;   // valid, stride 2
    (2, 3, 3) k 3 s 1 p 1 d 1;   // kernel as big as the map
};

int8_cases!(depthwise_vs_float_reference, DEPTHWISE_CASES, 200, 96);

fn linear_case<const N: usize, const DI: usize, const DO: usize, const BIAS: bool>(
    data: &[f32],
) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let dr = draw(&mut f);
    let mut x: Tokens<N, DI, i8> = [[0; DI]; N];
    fill_i8(&mut f, &mut x);
    let mut w: Mat<DO, DI, i8> = [[0; DI]; DO];
    fill_w8(&mut f, &mut w);
    let (ws, wr, bq, br) = weights_and_bias::<DO>(&mut f, w.flat(), dr.in_q, BIAS, DI);
    let yr = reference::linear(&deq(x.flat(), dr.in_q), &wr, br.as_deref(), N, DI, DO);
    let out_q = fit_output(&yr, dr.widen);
    let clamp = if dr.relu {
        Clamp::relu(out_q.zero_point)
    } else {
        Clamp::NONE
    };
    let (mut m, mut s) = ([0; DO], [0; DO]);
    per_channel_requant(dr.in_q, &ws, out_q, &mut m, &mut s);
    let q = PerChannelQuant {
        input_zp: dr.in_q.zero_point,
        output_zp: out_q.zero_point,
        multiplier: &m,
        shift: &s,
        bias: BIAS.then_some(&bq),
        clamp,
    };
    let mut y: Tokens<N, DO, i8> = [[0; DO]; N];
    linear(&x, &w, &q, &mut y);
    let expected = quantize_all(&yr, out_q, clamp.min, clamp.max);
    within("linear", y.flat(), &expected, 1)
}

macro_rules! linear_cases {
    ($( ($n:literal, $di:literal) -> $do:literal bias $b:literal; )*) => {
        &[$(QCase {
            name: stringify!(($n, $di) -> $do bias $b),
            need: 4 + $n * $di + $do * $di + 2 * $do,
            run: linear_case::<$n, $di, $do, $b>,
        },)*]
    };
}

const LINEAR_CASES: &[QCase] = linear_cases! {
    (1, 1) -> 1 bias true;
    (5, 8) -> 3 bias true;
    (7, 16) -> 32 bias false;   // MLP expansion
    (4, 64) -> 16 bias true;
    (3, 256) -> 4 bias true;    // long reductions
};

int8_cases!(linear_vs_float_reference, LINEAR_CASES, 200, 96);

/// Which product a matmul case checks.
#[derive(Clone, Copy)]
enum Prod {
    Ab,
    ABt,
    AtB,
}

fn matmul_case<const M: usize, const K: usize, const N: usize, const WHICH: u8>(
    data: &[f32],
) -> Result<Stats, String> {
    let which = [Prod::Ab, Prod::ABt, Prod::AtB][usize::from(WHICH)];
    let mut f = Feed::new(data);
    let dr = draw(&mut f);
    let p = f.next(3);
    let bq = QuantParams::new(log_scale(p[0], 0.005, 0.1), to_i8(p[1]));
    let k = 0.25 + 0.75 * (f64::from(p[2]) + 1.0) / 2.0; // a folded constant (1/√d)
    let mut y: Mat<M, N, i8> = [[0; N]; M];
    let yr = match which {
        Prod::Ab => {
            let mut a: Mat<M, K, i8> = [[0; K]; M];
            let mut b: Mat<K, N, i8> = [[0; N]; K];
            fill_i8(&mut f, &mut a);
            fill_i8(&mut f, &mut b);
            let yr: Vec<f64> =
                reference::matmul(&deq(a.flat(), dr.in_q), &deq(b.flat(), bq), M, K, N)
                    .iter()
                    .map(|v| v * k)
                    .collect();
            let out_q = fit_output(&yr, dr.widen);
            matmul(
                &a,
                &b,
                &TensorQuant::new(dr.in_q, bq, k, out_q, Clamp::NONE),
                &mut y,
            );
            (yr, out_q)
        }
        Prod::ABt => {
            let mut a: Mat<M, K, i8> = [[0; K]; M];
            let mut b: Mat<N, K, i8> = [[0; K]; N];
            fill_i8(&mut f, &mut a);
            fill_i8(&mut f, &mut b);
            let yr: Vec<f64> =
                reference::matmul_bt(&deq(a.flat(), dr.in_q), &deq(b.flat(), bq), M, K, N)
                    .iter()
                    .map(|v| v * k)
                    .collect();
            let out_q = fit_output(&yr, dr.widen);
            matmul_bt(
                &a,
                &b,
                &TensorQuant::new(dr.in_q, bq, k, out_q, Clamp::NONE),
                &mut y,
            );
            (yr, out_q)
        }
        Prod::AtB => {
            let mut a: Mat<K, M, i8> = [[0; M]; K];
            let mut b: Mat<K, N, i8> = [[0; N]; K];
            fill_i8(&mut f, &mut a);
            fill_i8(&mut f, &mut b);
            let yr: Vec<f64> =
                reference::matmul_at(&deq(a.flat(), dr.in_q), &deq(b.flat(), bq), K, M, N)
                    .iter()
                    .map(|v| v * k)
                    .collect();
            let out_q = fit_output(&yr, dr.widen);
            matmul_at(
                &a,
                &b,
                &TensorQuant::new(dr.in_q, bq, k, out_q, Clamp::NONE),
                &mut y,
            );
            (yr, out_q)
        }
    };
    let (yr, out_q) = yr;
    let expected = quantize_all(&yr, out_q, i8::MIN, i8::MAX);
    within("matmul", y.flat(), &expected, 1)
}

macro_rules! matmul_cases {
    ($( $which:literal ($m:literal, $k:literal, $n:literal); )*) => {
        &[$(QCase {
            name: stringify!($which ($m, $k, $n)),
            need: 7 + $m * $k + $k * $n,
            run: matmul_case::<$m, $k, $n, $which>,
        },)*]
    };
}

const MATMUL_CASES: &[QCase] = matmul_cases! {
    0 (1, 1, 1);
    0 (3, 5, 4);
    0 (8, 32, 6);
    1 (4, 16, 9);     // q·kᵀ
    1 (2, 64, 3);
    2 (5, 7, 3);      // aᵀ·b
    2 (16, 8, 8);
};

int8_cases!(matmul_vs_float_reference, MATMUL_CASES, 200, 96);

// ---------------------------------------------------------------------------------------------
// No panics on any input or parameter
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn conv_total_on_extreme_inputs_and_parameters(
        x in proptest::collection::vec(any::<i8>(), 2 * 5 * 5),
        w in proptest::collection::vec(any::<i8>(), 4 * 2 * 9),
        m in proptest::array::uniform4(any::<i32>()),
        s in proptest::array::uniform4(any::<i32>()),
        b in proptest::array::uniform4(any::<i32>()),
        zps in proptest::array::uniform4(any::<i8>()),
    ) {
        let mut xm: Map<2, 5, 5, i8> = [[[0; 5]; 5]; 2];
        xm.flat_mut().copy_from_slice(&x);
        let mut wm: ConvWeight<4, 2, 3, i8> = [[[[0; 3]; 3]; 2]; 4];
        wm.flat_mut().copy_from_slice(&w);
        let q = PerChannelQuant {
            input_zp: zps[0],
            output_zp: zps[1],
            multiplier: &m,
            shift: &s,
            bias: Some(&b),
            clamp: Clamp { min: zps[2], max: zps[3] },
        };
        let mut y: Map<4, 3, 3, i8> = [[[0; 3]; 3]; 4];
        Conv2dQ::<2, 1, 1>::forward(&xm, &wm, &q, &mut y);
        let mut yd: Map<2, 5, 5, i8> = [[[0; 5]; 5]; 2];
        let wd: ConvWeight<2, 1, 3, i8> = [[[[w[0]; 3]; 3]], [[[w[1]; 3]; 3]]];
        let qd = PerChannelQuant { input_zp: q.input_zp, output_zp: q.output_zp,
            multiplier: &[m[0], m[1]], shift: &[s[0], s[1]], bias: Some(&[b[0], b[1]]),
            clamp: q.clamp };
        DepthwiseConv2dQ::<1, 1>::forward(&xm, &wd, &qd, &mut yd);
        // Extreme saturation: all inputs −128 with weights −128 and zp 127 still only
        // clamps.
        let xs: Map<2, 5, 5, i8> = [[[-128; 5]; 5]; 2];
        let ws: ConvWeight<4, 2, 3, i8> = [[[[-128; 3]; 3]; 2]; 4];
        let qs = PerChannelQuant { input_zp: 127, clamp: Clamp::NONE, ..q };
        Conv2dQ::<2, 1, 1>::forward(&xs, &ws, &qs, &mut y);
    }

    #[test]
    fn linear_and_matmul_total_on_extreme_inputs(
        x in proptest::collection::vec(any::<i8>(), 3 * 8),
        w in proptest::collection::vec(any::<i8>(), 4 * 8),
        m in proptest::array::uniform4(any::<i32>()),
        s in proptest::array::uniform4(any::<i32>()),
        zps in proptest::array::uniform4(any::<i8>()),
    ) {
        let mut xt: Tokens<3, 8, i8> = [[0; 8]; 3];
        xt.flat_mut().copy_from_slice(&x);
        let mut wt: Mat<4, 8, i8> = [[0; 8]; 4];
        wt.flat_mut().copy_from_slice(&w);
        let q = PerChannelQuant {
            input_zp: zps[0], output_zp: zps[1], multiplier: &m, shift: &s,
            bias: Some(&m), clamp: Clamp { min: zps[2], max: zps[3] },
        };
        let mut y: Tokens<3, 4, i8> = [[0; 4]; 3];
        linear(&xt, &wt, &q, &mut y);
        let tq = TensorQuant {
            a_zp: zps[0], b_zp: zps[1], output_zp: zps[2],
            requant: Requant::new(m[0], s[0]), clamp: Clamp { min: zps[3], max: zps[2] },
        };
        let mut z: Mat<3, 4, i8> = [[0; 4]; 3];
        matmul_bt(&xt, &wt, &tq, &mut z);
        let mut z2: Mat<8, 8, i8> = [[0; 8]; 8];
        matmul_at(&xt, &xt, &tq, &mut z2);
    }
}
