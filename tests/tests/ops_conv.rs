//! `Conv2d`, `DepthwiseConv2d` and `conv_out`: hand-computed cases and property tests against
//! the naive reference (`hepaseg_tests::reference::conv2d`).

use hepaseg_core::ops::{conv_out, Conv2d, DepthwiseConv2d};
use hepaseg_core::tensor::{ConvWeight, Flat, Map};
use hepaseg_tests::reference::{self, ConvSpec};
use hepaseg_tests::{compare, f64s, proptest_cases, Case, Feed};

/// The 4×4 ramp `x[h][w] = 4h + w`:
/// ```text
///  0  1  2  3
///  4  5  6  7
///  8  9 10 11
/// 12 13 14 15
/// ```
fn ramp4() -> Map<1, 4, 4> {
    let mut x = [[[0.0; 4]; 4]; 1];
    for (h, row) in x[0].iter_mut().enumerate() {
        for (w, v) in row.iter_mut().enumerate() {
            *v = (4 * h + w) as f32;
        }
    }
    x
}

#[test]
fn conv_out_matches_pytorch_formula() {
    // (in + 2p − d(k−1) − 1)/s + 1
    assert_eq!(conv_out(4, 3, 1, 1, 1), 4); // (4+2-2-1)/1+1 = 4
    assert_eq!(conv_out(4, 3, 2, 1, 1), 2); // (4+2-2-1)/2+1 = 1+1
    assert_eq!(conv_out(256, 7, 1, 3, 1), 256); // stem 7×7 pad 3
    assert_eq!(conv_out(256, 3, 2, 1, 1), 128); // (256+2-2-1)/2+1 = 127+1
    assert_eq!(conv_out(16, 3, 1, 6, 6), 16); // ASPP: (16+12-12-1)/1+1
    assert_eq!(conv_out(7, 1, 2, 0, 1), 4); // (7-1)/2+1
    assert_eq!(conv_out(9, 3, 2, 0, 3), 2); // (9-6-1)/2+1 = 1+1
    assert_eq!(conv_out(8, 8, 8, 0, 1), 1); // spatial reduction sr = 8
}

#[test]
fn conv3x3_ones_pad1_on_ramp() {
    // All-ones 3×3 kernel, padding 1: each output is the sum of the (clipped) 3×3
    // neighbourhood of the ramp.
    let x = ramp4();
    let w: ConvWeight<1, 1, 3> = [[[[1.0; 3]; 3]]];
    let mut y: Map<1, 4, 4> = [[[f32::NAN; 4]; 4]; 1];
    Conv2d::<1, 1>::forward(&x, &w, None, &mut y);
    let expected = [
        // (0,0) = 0+1+4+5 = 10;  (0,1) = 0+1+2+4+5+6 = 18
        // (0,2) = 1+2+3+5+6+7 = 24;  (0,3) = 2+3+6+7 = 18
        [10.0, 18.0, 24.0, 18.0],
        // (1,0) = 0+1+4+5+8+9 = 27;  (1,1) = 3+15+27 = 45
        // (1,2) = 6+18+30 = 54;  (1,3) = 2+3+6+7+10+11 = 39
        [27.0, 45.0, 54.0, 39.0],
        // (2,0) = 4+5+8+9+12+13 = 51;  (2,1) = 15+27+39 = 81
        // (2,2) = 18+30+42 = 90;  (2,3) = 6+7+10+11+14+15 = 63
        [51.0, 81.0, 90.0, 63.0],
        // (3,0) = 8+9+12+13 = 42;  (3,1) = 27+39 = 66
        // (3,2) = 30+42 = 72;  (3,3) = 10+11+14+15 = 50
        [42.0, 66.0, 72.0, 50.0],
    ];
    assert_eq!(y[0], expected);

    // The same with a bias of 0.5 added to every output.
    Conv2d::<1, 1>::forward(&x, &w, Some(&[0.5]), &mut y);
    for (row, e) in y[0].iter().zip(expected) {
        for (v, e) in row.iter().zip(e) {
            assert_eq!(*v, e + 0.5);
        }
    }
}

#[test]
fn conv3x3_stride2_pad1_samples_every_other_centre() {
    // conv_out(4,3,2,1,1) = 2; the windows are centred on (0,0), (0,2), (2,0), (2,2) of the
    // stride-1 result above: 10, 24, 51, 90.
    let x = ramp4();
    let w: ConvWeight<1, 1, 3> = [[[[1.0; 3]; 3]]];
    let mut y: Map<1, 2, 2> = [[[f32::NAN; 2]; 2]; 1];
    Conv2d::<2, 1>::forward(&x, &w, None, &mut y);
    assert_eq!(y, [[[10.0, 24.0], [51.0, 90.0]]]);
}

#[test]
fn conv3x3_dilation2_single_tap_shifts() {
    // Dilation 2, padding 2: tap (kh, kw) reads x[oh + 2kh − 2][ow + 2kw − 2]; output 4×4
    // ((4+4−4−1)/1+1 = 4).
    let x = ramp4();
    // Only the top-left tap: y[i][j] = x[i−2][j−2], zero outside.
    let mut w: ConvWeight<1, 1, 3> = [[[[0.0; 3]; 3]]];
    w[0][0][0][0] = 1.0;
    let mut y: Map<1, 4, 4> = [[[f32::NAN; 4]; 4]; 1];
    Conv2d::<1, 2, 2>::forward(&x, &w, None, &mut y);
    assert_eq!(
        y[0],
        [
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
            [0.0, 0.0, 4.0, 5.0],
        ]
    );
    // Centre tap ×2 and bottom-right tap ×1: y[i][j] = 2·x[i][j] + x[i+2][j+2].
    let mut w: ConvWeight<1, 1, 3> = [[[[0.0; 3]; 3]]];
    w[0][0][1][1] = 2.0;
    w[0][0][2][2] = 1.0;
    Conv2d::<1, 2, 2>::forward(&x, &w, None, &mut y);
    assert_eq!(
        y[0],
        [
            // (0,0) = 0 + x[2][2] = 10; (0,1) = 2 + 11 = 13; (0,2) = 4; (0,3) = 6
            [10.0, 13.0, 4.0, 6.0],
            // (1,0) = 8 + 14 = 22; (1,1) = 10 + 15 = 25; (1,2) = 12; (1,3) = 14
            [22.0, 25.0, 12.0, 14.0],
            [16.0, 18.0, 20.0, 22.0],
            [24.0, 26.0, 28.0, 30.0],
        ]
    );
}

#[test]
fn conv_groups_do_not_mix_channels() {
    // Two channels: x0 = ramp, x1 = 1 everywhere. 1×1 kernels.
    let mut x: Map<2, 4, 4> = [[[1.0; 4]; 4]; 2];
    x[0] = ramp4()[0];
    // groups = 2: weight [2][1][1][1]; y0 = 2·x0, y1 = 3·x1.
    let w: ConvWeight<2, 1, 1> = [[[[2.0]]], [[[3.0]]]];
    let mut y: Map<2, 4, 4> = [[[f32::NAN; 4]; 4]; 2];
    Conv2d::<1, 0, 1, 2>::forward(&x, &w, Some(&[0.0, -1.0]), &mut y);
    for (h, (r0, r1)) in y[0].iter().zip(&y[1]).enumerate() {
        for (v, (a, b)) in r0.iter().zip(r1).enumerate() {
            assert_eq!(*a, 2.0 * (4 * h + v) as f32);
            assert_eq!(*b, 3.0 - 1.0); // 3·1 + bias −1
        }
    }
    // groups = 1 with the same per-channel weights on the diagonal and 10 off it:
    // y0 = 2·x0 + 10·x1, y1 = 10·x0 + 3·x1.
    let w: ConvWeight<2, 2, 1> = [[[[2.0]], [[10.0]]], [[[10.0]], [[3.0]]]];
    Conv2d::<1, 0>::forward(&x, &w, None, &mut y);
    assert_eq!(y[0][1][2], 2.0 * 6.0 + 10.0); // x0[1][2] = 6
    assert_eq!(y[1][1][2], 10.0 * 6.0 + 3.0);
}

#[test]
fn conv_multi_channel_sums_over_inputs() {
    // 2 input channels of constant 1 and 2, 3×3 kernels of 0.5 and 0.25, stride 2, pad 1:
    // an interior output sees 9 taps per channel: 9·(1·0.5 + 2·0.25) = 9; the top-left
    // corner sees 4 taps: 4·1 = 4; the top edge 6 taps: 6.
    let mut x: Map<2, 8, 8> = [[[1.0; 8]; 8]; 2];
    x[1] = [[2.0; 8]; 8];
    let w: ConvWeight<1, 2, 3> = [[[[0.5; 3]; 3], [[0.25; 3]; 3]]];
    let mut y: Map<1, 4, 4> = [[[f32::NAN; 4]; 4]; 1];
    Conv2d::<2, 1>::forward(&x, &w, None, &mut y);
    assert_eq!(y[0][0][0], 4.0);
    assert_eq!(y[0][0][1], 6.0);
    assert_eq!(y[0][1][0], 6.0);
    assert_eq!(y[0][1][1], 9.0);
    assert_eq!(y[0][3][3], 9.0); // bottom-right window (5..8) lies inside
}

#[test]
fn conv_even_kernel_no_padding() {
    // 2×2 kernel [[1, 2], [3, 4]] on the ramp, valid: y[i][j] = x[i][j] + 2x[i][j+1]
    // + 3x[i+1][j] + 4x[i+1][j+1]; output 3×3.
    let x = ramp4();
    let w: ConvWeight<1, 1, 2> = [[[[1.0, 2.0], [3.0, 4.0]]]];
    let mut y: Map<1, 3, 3> = [[[f32::NAN; 3]; 3]; 1];
    Conv2d::<1, 0>::forward(&x, &w, None, &mut y);
    // (0,0) = 0 + 2 + 12 + 20 = 34; each step right adds 1+2+3+4 = 10, each step down 40.
    assert_eq!(
        y[0],
        [
            [34.0, 44.0, 54.0],
            [74.0, 84.0, 94.0],
            [114.0, 124.0, 134.0]
        ]
    );
}

#[test]
fn depthwise_per_channel_filters_and_bias() {
    // Channel 0: ramp with an all-ones 3×3 (pad 1) → the neighbourhood sums above, + 1.
    // Channel 1: ramp with the centre tap only (identity), − 1.
    let mut x: Map<2, 4, 4> = [[[0.0; 4]; 4]; 2];
    x[0] = ramp4()[0];
    x[1] = ramp4()[0];
    let mut w: ConvWeight<2, 1, 3> = [[[[1.0; 3]; 3]], [[[0.0; 3]; 3]]];
    w[1][0][1][1] = 1.0;
    let mut y: Map<2, 4, 4> = [[[f32::NAN; 4]; 4]; 2];
    DepthwiseConv2d::<1, 1>::forward(&x, &w, Some(&[1.0, -1.0]), &mut y);
    assert_eq!(y[0][0], [11.0, 19.0, 25.0, 19.0]); // 10, 18, 24, 18 plus 1
    assert_eq!(y[0][2], [52.0, 82.0, 91.0, 64.0]); // 51, 81, 90, 63 plus 1
    for (h, row) in y[1].iter().enumerate() {
        for (v, a) in row.iter().enumerate() {
            assert_eq!(*a, (4 * h + v) as f32 - 1.0);
        }
    }
    // Stride 2, no bias: channel 0 keeps the centres (0,0), (0,2), (2,0), (2,2).
    let mut y2: Map<2, 2, 2> = [[[f32::NAN; 2]; 2]; 2];
    DepthwiseConv2d::<2, 1>::forward(&x, &w, None, &mut y2);
    assert_eq!(y2[0], [[10.0, 24.0], [51.0, 90.0]]);
    assert_eq!(y2[1], [[0.0, 2.0], [8.0, 10.0]]);
}

#[test]
fn depthwise_equals_grouped_conv() {
    // DepthwiseConv2d<S, P, D> is Conv2d<S, P, D, G = C> with CIG = 1.
    let mut x: Map<3, 6, 5> = [[[0.0; 5]; 6]; 3];
    for (i, v) in x.flat_mut().iter_mut().enumerate() {
        *v = ((i * 7) % 11) as f32 - 5.0;
    }
    let mut w: ConvWeight<3, 1, 3> = [[[[0.0; 3]; 3]]; 3];
    for (i, v) in w.flat_mut().iter_mut().enumerate() {
        *v = ((i * 5) % 7) as f32 * 0.25 - 0.75;
    }
    let b = [0.5, -0.25, 2.0];
    let mut y1: Map<3, 3, 3> = [[[f32::NAN; 3]; 3]; 3];
    let mut y2: Map<3, 3, 3> = [[[f32::NAN; 3]; 3]; 3];
    DepthwiseConv2d::<2, 2, 2>::forward(&x, &w, Some(&b), &mut y1);
    Conv2d::<2, 2, 2, 3>::forward(&x, &w, Some(&b), &mut y2);
    assert_eq!(y1, y2);
}

// ---------------------------------------------------------------------------------------
// Property tests against the reference.

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
) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut x: Map<CI, H, W> = [[[0.0; W]; H]; CI];
    f.fill(&mut x);
    let mut w: ConvWeight<CO, CIG, K> = [[[[0.0; K]; K]; CIG]; CO];
    f.fill(&mut w);
    let mut b = [0.0f32; CO];
    f.fill(&mut b);
    // NaN-filled output: the op must write every element.
    let mut y: Map<CO, HO, WO> = [[[f32::NAN; WO]; HO]; CO];
    Conv2d::<S, P, D, G>::forward(&x, &w, BIAS.then_some(&b), &mut y);

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
    if (spec.ho(), spec.wo()) != (HO, WO) {
        return Err(format!("reference output {}×{}", spec.ho(), spec.wo()));
    }
    let bias = f64s(&b);
    let expected = reference::conv2d(
        &f64s(x.flat()),
        &f64s(w.flat()),
        BIAS.then_some(&bias[..]),
        &spec,
    );
    compare("conv2d", y.flat(), &expected)
}

macro_rules! conv_cases {
    ($( ($ci:literal, $h:literal, $w:literal) -> $co:literal
        k $k:literal s $s:literal p $p:literal d $d:literal g $g:literal bias $b:literal; )*) => {
        &[$(Case {
            name: stringify!(($ci, $h, $w) -> $co k $k s $s p $p d $d g $g bias $b),
            need: $ci * $h * $w + $co * ($ci / $g) * $k * $k + $co,
            run: conv_case::<
                $ci, $h, $w, $co, { $ci / $g }, $k, $s, $p, $d, $g,
                { conv_out($h, $k, $s, $p, $d) }, { conv_out($w, $k, $s, $p, $d) }, $b,
            >,
        },)*]
    };
}

const CONV_CASES: &[Case] = conv_cases! {
    (1, 5, 5) -> 2 k 3 s 1 p 1 d 1 g 1 bias true;     // basic same-padding 3×3
    (2, 7, 6) -> 3 k 3 s 2 p 1 d 1 g 1 bias false;    // stride 2, non-square, odd
    (2, 9, 8) -> 2 k 3 s 1 p 2 d 2 g 1 bias true;     // dilation 2
    (4, 6, 5) -> 4 k 3 s 1 p 1 d 1 g 2 bias true;     // groups 2
    (4, 7, 7) -> 6 k 1 s 2 p 0 d 1 g 2 bias false;    // 1×1 stride 2 groups 2
    (3, 8, 8) -> 2 k 7 s 2 p 3 d 1 g 1 bias true;     // 7×7 stem-like
    (2, 5, 7) -> 3 k 2 s 1 p 0 d 1 g 1 bias true;     // even kernel, valid
    (2, 11, 9) -> 2 k 3 s 2 p 0 d 3 g 1 bias true;    // stride 2 + dilation 3, no padding
    (2, 4, 4) -> 2 k 3 s 1 p 6 d 6 g 1 bias false;    // ASPP: padding = dilation = 6 > map
    (6, 5, 5) -> 3 k 3 s 1 p 1 d 1 g 3 bias true;     // groups 3, 2 inputs per group
    (3, 8, 8) -> 3 k 4 s 4 p 0 d 1 g 1 bias true;     // spatial reduction sr = 4
    (2, 6, 3) -> 4 k 3 s 3 p 2 d 1 g 1 bias true;     // stride 3 > kernel overlap, tall map
    (64, 4, 4) -> 8 k 3 s 1 p 1 d 1 g 1 bias true;    // 576-term sums (deep levels)
};

proptest_cases!(conv2d_vs_reference, CONV_CASES, 64);

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
    const BIAS: bool,
>(
    data: &[f32],
) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    f.fill(&mut x);
    let mut w: ConvWeight<C, 1, K> = [[[[0.0; K]; K]; 1]; C];
    f.fill(&mut w);
    let mut b = [0.0f32; C];
    f.fill(&mut b);
    let mut y: Map<C, HO, WO> = [[[f32::NAN; WO]; HO]; C];
    DepthwiseConv2d::<S, P, D>::forward(&x, &w, BIAS.then_some(&b), &mut y);
    let bias = f64s(&b);
    let expected = reference::depthwise_conv2d(
        &f64s(x.flat()),
        C,
        H,
        W,
        &f64s(w.flat()),
        BIAS.then_some(&bias[..]),
        K,
        S,
        P,
        D,
    );
    compare("depthwise", y.flat(), &expected)
}

macro_rules! depthwise_cases {
    ($( ($c:literal, $h:literal, $w:literal) k $k:literal s $s:literal p $p:literal
        d $d:literal bias $b:literal; )*) => {
        &[$(Case {
            name: stringify!(($c, $h, $w) k $k s $s p $p d $d bias $b),
            need: $c * $h * $w + $c * $k * $k + $c,
            run: depthwise_case::<
                $c, $h, $w, $k, $s, $p, $d,
                { conv_out($h, $k, $s, $p, $d) }, { conv_out($w, $k, $s, $p, $d) }, $b,
            >,
        },)*]
    };
}

const DEPTHWISE_CASES: &[Case] = depthwise_cases! {
    (3, 6, 6) k 3 s 1 p 1 d 1 bias true;   // Mix-FFN
    (2, 7, 5) k 3 s 2 p 1 d 1 bias false;  // stride 2, odd, non-square
    (4, 8, 9) k 3 s 1 p 2 d 2 bias true;   // dilation 2
    (1, 5, 5) k 5 s 1 p 2 d 1 bias true;   // 5×5
    (3, 9, 7) k 3 s 2 p 0 d 1 bias true;   // valid, stride 2
    (2, 3, 3) k 3 s 1 p 1 d 1 bias true;   // kernel as big as the map
};

proptest_cases!(depthwise_vs_reference, DEPTHWISE_CASES, 64);
