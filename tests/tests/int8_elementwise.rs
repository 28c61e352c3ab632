//! Int8 element-wise add / mul (with channel and pixel broadcasts), requantize / concat,
//! ReLU, pooling and bilinear resampling: hand-computed cases and property tests against
//! "dequantize → f64 op (`hepaseg_tests::reference`) → quantize".
//!
//! Bounds: add, mul, concat/requantize and resize 1 LSB (one rounding of an exact or
//! near-exact value); pooling and ReLU exact (same quantization in and out).

#[macro_use]
mod int8_support;

use hepaseg_core::int8::elementwise::{
    add, add_channel, add_into, add_pixel, mul, mul_channel, mul_into, mul_pixel, relu,
    ADD_LEFT_SHIFT,
};
use hepaseg_core::int8::linalg::tensor_outputs;
use hepaseg_core::int8::pool::{adaptive_avg_pool, adaptive_max_pool, global_avg_pool};
use hepaseg_core::int8::resize::AlignCorners;
use hepaseg_core::int8::{
    concat2, requantize, requantize_in_place, resize_bilinear, AddQuant, Clamp, MulQuant,
    QuantParams, Requant, Rescale, TensorQuant,
};
use hepaseg_core::tensor::{Flat, Map};
use hepaseg_tests::reference;
use hepaseg_tests::Feed;
use int8_support::{
    deq, fill_i8, fit_output, log_scale, quantize_all, to_i8, within, QCase, Stats,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Hand-computed cases
// ---------------------------------------------------------------------------------------------

#[test]
fn add_hand_computed_and_ties() {
    // a: s 0.5, zp 0; b: s 0.25, zp 10; out: s 1, zp −5.
    let (aq, bq, oq) = (
        QuantParams::new(0.5, 0),
        QuantParams::new(0.25, 10),
        QuantParams::new(1.0, -5),
    );
    let q = AddQuant::new(aq, bq, oq, Clamp::NONE);
    assert_eq!(q.left_shift, ADD_LEFT_SHIFT);
    assert_eq!(q.a, Requant::from_real(0.5)); // s_a / (2·max) = 0.5 / 1
    assert_eq!(q.b, Requant::from_real(0.25));
    assert_eq!(q.output, Requant::from_real(1.0 / f64::from(1u32 << 20)));
    assert_eq!(q.add(4, 14), -2); // 2 + 1 = 3 → 3 − 5
    assert_eq!(q.add(1, 10), -4); // 0.5 + 0 → tie → 1 (away from zero) → −4
    assert_eq!(q.add(-1, 10), -6); // −0.5 → −1 → −6
    assert_eq!(q.add(3, 10), -3); // 1.5 → 2
    assert_eq!(q.add(-3, 10), -7); // −1.5 → −2
    assert_eq!(q.add(1, 11), -4); // 0.5 + 0.25 = 0.75 → 1
    assert_eq!(q.add(127, 127), 88); // 63.5 + 29.25 = 92.75 → 93 − 5
}

#[test]
fn add_saturates_and_fuses_relu() {
    let (aq, bq) = (QuantParams::new(0.5, 0), QuantParams::new(0.5, 0));
    let oq = QuantParams::new(0.25, -20);
    let q = AddQuant::new(aq, bq, oq, Clamp::NONE);
    assert_eq!(q.add(127, 127), 127); // 127 real → 508 LSB: saturates
    assert_eq!(q.add(-128, -128), -128);
    assert_eq!(q.add(10, -10), -20); // 0 → zero point
    let r = AddQuant::new(aq, bq, oq, Clamp::relu(-20));
    assert_eq!(r.add(-10, 5), -20); // −2.5 → ReLU → 0
    assert_eq!(r.add(10, 5), 10); // 7.5 / 0.25 = 30 → 10
}

#[test]
fn mul_hand_computed() {
    // a: s 0.5, zp 1; b: s 0.5, zp −1; out s 0.25, zp 0: (a − 1)(b + 1) · 0.25 / 0.25.
    let q = MulQuant::new(
        QuantParams::new(0.5, 1),
        QuantParams::new(0.5, -1),
        QuantParams::new(0.25, 0),
        Clamp::NONE,
    );
    assert_eq!(q.mul(3, 1), 4); // 1 · 1 = 1 → 4
    assert_eq!(q.mul(-1, 4), -10); // −1 · 2.5 = −2.5 → −10
    assert_eq!(q.mul(127, 126), 127); // 63 · 63.5 → saturates
    assert_eq!(q.mul(-128, 126), -128);
    // Attention gate: x · σ with σ at 1/256, −128: σ = 1 (q 127 ≈ 255/256) keeps x.
    let g = MulQuant::new(
        QuantParams::new(0.1, 0),
        QuantParams::new(1.0 / 256.0, -128),
        QuantParams::new(0.1, 0),
        Clamp::NONE,
    );
    assert_eq!(g.mul(100, 127), 100); // 100 · 255/256 = 99.6 → 100
    assert_eq!(g.mul(100, 0), 50); // · 128/256
    assert_eq!(g.mul(100, -128), 0);
}

#[test]
fn concat_copies_matching_inputs_and_rescales_others() {
    let a: Map<1, 1, 3, i8> = [[[-128, 0, 127]]];
    let b: Map<2, 1, 3, i8> = [[[3, -3, 5]], [[63, 64, -65]]];
    let oq = QuantParams::new(0.1, 0);
    let qa = Rescale::new(oq, oq); // same parameters: copied
    assert!(qa.is_identity());
    let qb = Rescale::new(QuantParams::new(0.2, 1), oq); // ×2 after removing zp 1
    let mut y: Map<3, 1, 3, i8> = [[[0; 3]; 1]; 3];
    concat2(&a, &qa, &b, &qb, &mut y);
    assert_eq!(y[0], [[-128, 0, 127]]);
    assert_eq!(y[1], [[4, -8, 8]]);
    assert_eq!(y[2], [[124, 126, -128]]); // 2·63 = 126 → 124; 2·(−66) saturates
                                          // Halving, M = ½ = (2^30, shift 0): with no right shift the only rounding is
                                          // SaturatingRoundingDoublingHighMul's, whose ties go up (0.5 → 1, −0.5 → 0, −1.5 → −1),
                                          // exactly as in TFLite.
    let half = Rescale::new(QuantParams::new(0.05, 0), oq);
    assert_eq!(half.requant, Requant::new(1 << 30, 0));
    let x: [i8; 6] = [1, -1, 3, -3, 4, -128];
    let mut z = [0i8; 6];
    requantize(&x, &half, &mut z);
    assert_eq!(z, [1, 0, 2, -1, 2, -64]);
    // A quarter, (2^30, −1): the final RoundingDivideByPOT decides, ties away from zero.
    let quarter = Rescale::new(QuantParams::new(0.025, 0), oq);
    let x: [i8; 4] = [2, -2, 6, -6];
    let mut z4 = [0i8; 4];
    requantize(&x, &quarter, &mut z4);
    assert_eq!(z4, [1, -1, 2, -2]);
    let x: [i8; 6] = [1, -1, 3, -3, 4, -128];
    let mut w = x;
    requantize_in_place(&mut w, &half);
    assert_eq!(w, z);
}

#[test]
fn relu_clamps_at_the_zero_point() {
    let mut x: [i8; 5] = [-128, -6, -5, 0, 127];
    relu(&mut x, -5);
    assert_eq!(x, [-5, -5, -5, 0, 127]);
}

#[test]
fn average_pool_rounds_the_real_mean() {
    // Real values (x − zp): with zp 0, [1, 2, 3, 4] → 2.5 → 3. With zp 10 the reals are
    // [−9, −8, −7, −6] → −7.5 → −8 → q = 2. (Rounding Σx/n = 2.5 → 3 instead, as TFLite's
    // AveragePool does, would dequantize to −7: the wrong side of the tie.)
    let x: Map<1, 2, 2, i8> = [[[1, 2], [3, 4]]];
    let mut y = [0i8; 1];
    global_avg_pool(&x, 0, &mut y);
    assert_eq!(y, [3]);
    global_avg_pool(&x, 10, &mut y);
    assert_eq!(y, [2]);
    // Adaptive 5 → 3 bins (0,2), (1,4), (3,5): PyTorch's overlapping bins.
    let x: Map<1, 1, 5, i8> = [[[10, 20, 31, 40, -128]]];
    let mut y: Map<1, 1, 3, i8> = [[[0; 3]]];
    adaptive_avg_pool(&x, 0, &mut y);
    assert_eq!(y, [[[15, 30, -44]]]); // 15; 91/3 = 30.33; −88/2 = −44
    adaptive_max_pool(&x, &mut y);
    assert_eq!(y, [[[20, 40, 40]]]);
}

#[test]
fn resize_hand_computed_both_modes() {
    let x: Map<1, 1, 2, i8> = [[[0, 100]]];
    let mut y: Map<1, 1, 4, i8> = [[[0; 4]]];
    // align_corners = False: src = (dst + ½)/2 − ½ = −¼ → 0, ¼, ¾, 1¼ (clamped to the edge).
    resize_bilinear(&x, 0, &mut y, AlignCorners::False);
    assert_eq!(y, [[[0, 25, 75, 100]]]);
    // align_corners = True: src = dst/3: 0, 33.3, 66.7, 100.
    resize_bilinear(&x, 0, &mut y, AlignCorners::True);
    assert_eq!(y, [[[0, 33, 67, 100]]]);
    // Ties relative to the zero point: [0, 1] with zp 0 at ½ → 0.5 → 1; with zp 1 the reals
    // are [−1, 0] → −0.5 → −1 → q = 0.
    let x: Map<1, 1, 2, i8> = [[[0, 1]]];
    let mut y: Map<1, 1, 3, i8> = [[[0; 3]]];
    resize_bilinear(&x, 0, &mut y, AlignCorners::True);
    assert_eq!(y, [[[0, 1, 1]]]);
    resize_bilinear(&x, 1, &mut y, AlignCorners::True);
    assert_eq!(y, [[[0, 0, 1]]]);
    // One output pixel: the top-left input (True) / the centre (False).
    let x: Map<1, 2, 2, i8> = [[[0, 10], [20, 30]]];
    let mut y: Map<1, 1, 1, i8> = [[[0]]];
    resize_bilinear(&x, 0, &mut y, AlignCorners::True);
    assert_eq!(y, [[[0]]]);
    resize_bilinear(&x, 0, &mut y, AlignCorners::False);
    assert_eq!(y, [[[15]]]);
}

// ---------------------------------------------------------------------------------------------
// Add / mul property tests
// ---------------------------------------------------------------------------------------------

/// Broadcast modes of the element-wise cases.
const SAME: u8 = 0;
const INTO: u8 = 1;
const CHANNEL: u8 = 2;
const PIXEL: u8 = 3;

/// Random (a, b) quantization with scales up to 100× apart, output widening and ReLU flag.
fn draw_pair(f: &mut Feed<'_>) -> (QuantParams, QuantParams, f64, bool) {
    let p = f.next(6);
    (
        QuantParams::new(log_scale(p[0], 0.002, 0.2), to_i8(p[1])),
        QuantParams::new(log_scale(p[2], 0.002, 0.2), to_i8(p[3])),
        0.5 + 0.8 * (f64::from(p[4]) + 1.0) / 2.0,
        p[5] > 0.3,
    )
}

/// The `b` operand of a mode, broadcast to the full map as `b[i]` for each flat index.
fn broadcast<const C: usize, const H: usize, const W: usize>(mode: u8, b: &[i8]) -> Vec<i8> {
    (0..C * H * W)
        .map(|i| match mode {
            CHANNEL => b[i / (H * W)],
            PIXEL => b[i % (H * W)],
            _ => b[i],
        })
        .collect()
}

fn add_case<const C: usize, const H: usize, const W: usize, const MODE: u8>(
    data: &[f32],
) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let (aq, bq, widen, use_relu) = draw_pair(&mut f);
    let mut a: Map<C, H, W, i8> = [[[0; W]; H]; C];
    fill_i8(&mut f, &mut a);
    let mut b: Map<C, H, W, i8> = [[[0; W]; H]; C];
    fill_i8(&mut f, &mut b);
    let mut bc = [0i8; C];
    fill_i8(&mut f, &mut bc);
    let mut bp: Map<1, H, W, i8> = [[[0; W]; H]];
    fill_i8(&mut f, &mut bp);
    let b_flat = match MODE {
        CHANNEL => broadcast::<C, H, W>(MODE, &bc),
        PIXEL => broadcast::<C, H, W>(MODE, bp.flat()),
        _ => b.flat().to_vec(),
    };
    let real: Vec<f64> = deq(a.flat(), aq)
        .iter()
        .zip(deq(&b_flat, bq))
        .map(|(x, y)| x + y)
        .collect();
    let oq = fit_output(&real, widen);
    let clamp = if use_relu {
        Clamp::relu(oq.zero_point)
    } else {
        Clamp::NONE
    };
    let q = AddQuant::new(aq, bq, oq, clamp);
    let mut out = a;
    match MODE {
        SAME => add(&mut out, &b, &q),
        INTO => add_into(&a, &b, &q, &mut out),
        CHANNEL => add_channel(&mut out, &bc, &q),
        _ => add_pixel(&mut out, &bp, &q),
    }
    within(
        "add",
        out.flat(),
        &quantize_all(&real, oq, clamp.min, clamp.max),
        1,
    )
}

fn mul_case<const C: usize, const H: usize, const W: usize, const MODE: u8>(
    data: &[f32],
) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let (aq, bq, widen, use_relu) = draw_pair(&mut f);
    let mut a: Map<C, H, W, i8> = [[[0; W]; H]; C];
    fill_i8(&mut f, &mut a);
    let mut b: Map<C, H, W, i8> = [[[0; W]; H]; C];
    fill_i8(&mut f, &mut b);
    let mut bc = [0i8; C];
    fill_i8(&mut f, &mut bc);
    let mut bp: Map<1, H, W, i8> = [[[0; W]; H]];
    fill_i8(&mut f, &mut bp);
    let b_flat = match MODE {
        CHANNEL => broadcast::<C, H, W>(MODE, &bc),
        PIXEL => broadcast::<C, H, W>(MODE, bp.flat()),
        _ => b.flat().to_vec(),
    };
    let real: Vec<f64> = deq(a.flat(), aq)
        .iter()
        .zip(deq(&b_flat, bq))
        .map(|(x, y)| x * y)
        .collect();
    let oq = fit_output(&real, widen);
    let clamp = if use_relu {
        Clamp::relu(oq.zero_point)
    } else {
        Clamp::NONE
    };
    let q = MulQuant::new(aq, bq, oq, clamp);
    let mut out = a;
    match MODE {
        SAME => mul(&mut out, &b, &q),
        INTO => mul_into(&a, &b, &q, &mut out),
        CHANNEL => mul_channel(&mut out, &bc, &q),
        _ => mul_pixel(&mut out, &bp, &q),
    }
    within(
        "mul",
        out.flat(),
        &quantize_all(&real, oq, clamp.min, clamp.max),
        1,
    )
}

macro_rules! eltwise_cases {
    ($case:ident; $( $mode:ident ($c:literal, $h:literal, $w:literal); )*) => {
        &[$(QCase {
            name: stringify!($mode ($c, $h, $w)),
            need: 6 + 2 * $c * $h * $w + $c + $h * $w,
            run: $case::<$c, $h, $w, $mode>,
        },)*]
    };
}

const ADD_CASES: &[QCase] = eltwise_cases! { add_case;
    SAME (1, 1, 1);
    SAME (3, 5, 7);
    INTO (2, 8, 8);
    CHANNEL (6, 3, 4);
    PIXEL (4, 5, 3);
};

const MUL_CASES: &[QCase] = eltwise_cases! { mul_case;
    SAME (1, 1, 1);
    SAME (3, 5, 7);
    INTO (2, 8, 8);
    CHANNEL (6, 3, 4);   // squeeze-excitation
    PIXEL (4, 5, 3);     // attention gate
};

int8_cases!(add_vs_float_reference, ADD_CASES, 300, 128);
int8_cases!(mul_vs_float_reference, MUL_CASES, 300, 128);

// ---------------------------------------------------------------------------------------------
// Concat with requantization
// ---------------------------------------------------------------------------------------------

fn concat_case<const CA: usize, const CB: usize, const C: usize, const H: usize, const W: usize>(
    data: &[f32],
) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let (aq, bq, widen, same) = draw_pair(&mut f);
    let mut a: Map<CA, H, W, i8> = [[[0; W]; H]; CA];
    fill_i8(&mut f, &mut a);
    let mut b: Map<CB, H, W, i8> = [[[0; W]; H]; CB];
    fill_i8(&mut f, &mut b);
    let (ar, br) = (deq(a.flat(), aq), deq(b.flat(), bq));
    let real = reference::concat(&ar, CA, &br, CB, H, W);
    // Sometimes the output takes `a`'s parameters (so `a` is copied), else a fitted range.
    let oq = if same { aq } else { fit_output(&real, widen) };
    let mut y: Map<C, H, W, i8> = [[[0; W]; H]; C];
    concat2(&a, &Rescale::new(aq, oq), &b, &Rescale::new(bq, oq), &mut y);
    let expected = quantize_all(&real, oq, i8::MIN, i8::MAX);
    if same && y.flat()[..CA * H * W] != *a.flat() {
        return Err("an input at the output's parameters was not copied".into());
    }
    within("concat", y.flat(), &expected, 1)
}

macro_rules! concat_cases {
    ($( ($ca:literal + $cb:literal, $h:literal, $w:literal); )*) => {
        &[$(QCase {
            name: stringify!(($ca + $cb, $h, $w)),
            need: 6 + ($ca + $cb) * $h * $w,
            run: concat_case::<$ca, $cb, { $ca + $cb }, $h, $w>,
        },)*]
    };
}

const CONCAT_CASES: &[QCase] = concat_cases! {
    (1 + 1, 1, 1);
    (2 + 3, 4, 5);
    (8 + 4, 3, 3);
    (1 + 6, 6, 2);
};

int8_cases!(concat_vs_float_reference, CONCAT_CASES, 300, 128);

// ---------------------------------------------------------------------------------------------
// Pooling (exact) and resampling
// ---------------------------------------------------------------------------------------------

fn pool_case<const C: usize, const H: usize, const W: usize, const HO: usize, const WO: usize>(
    data: &[f32],
) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let p = f.next(2);
    let q = QuantParams::new(log_scale(p[0], 0.002, 0.2), to_i8(p[1]));
    let mut x: Map<C, H, W, i8> = [[[0; W]; H]; C];
    fill_i8(&mut f, &mut x);
    let xr = deq(x.flat(), q);
    let mut st = Stats::default();
    // Global average.
    let mut g = [0i8; C];
    global_avg_pool(&x, q.zero_point, &mut g);
    let gr = reference::global_avg_pool(&xr, C, H, W);
    st.merge(within(
        "global_avg_pool",
        &g,
        &quantize_all(&gr, q, i8::MIN, i8::MAX),
        0,
    )?);
    // Adaptive average and max.
    let mut y: Map<C, HO, WO, i8> = [[[0; WO]; HO]; C];
    adaptive_avg_pool(&x, q.zero_point, &mut y);
    let yr = reference::adaptive_avg_pool(&xr, C, H, W, HO, WO);
    st.merge(within(
        "adaptive_avg_pool",
        y.flat(),
        &quantize_all(&yr, q, i8::MIN, i8::MAX),
        0,
    )?);
    adaptive_max_pool(&x, &mut y);
    let yr = reference::adaptive_max_pool(&xr, C, H, W, HO, WO);
    st.merge(within(
        "adaptive_max_pool",
        y.flat(),
        &quantize_all(&yr, q, i8::MIN, i8::MAX),
        0,
    )?);
    Ok(st)
}

macro_rules! pool_cases {
    ($( ($c:literal, $h:literal, $w:literal) -> ($ho:literal, $wo:literal); )*) => {
        &[$(QCase {
            name: stringify!(($c, $h, $w) -> ($ho, $wo)),
            need: 2 + $c * $h * $w,
            run: pool_case::<$c, $h, $w, $ho, $wo>,
        },)*]
    };
}

const POOL_CASES: &[QCase] = pool_cases! {
    (1, 1, 1) -> (1, 1);
    (2, 4, 4) -> (2, 2);     // even bins
    (3, 10, 7) -> (3, 4);    // overlapping PyTorch bins
    (2, 6, 6) -> (6, 1);     // identity rows, full-width columns
    (4, 9, 9) -> (1, 1);     // adaptive 1×1 = global (81-pixel, odd count)
    (1, 32, 32) -> (10, 3);  // strip pooling–like
};

int8_cases!(pools_vs_float_reference, POOL_CASES, 300, 128);

fn resize_case<
    const C: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
    const ALIGN: bool,
>(
    data: &[f32],
) -> Result<Stats, String> {
    let mut f = Feed::new(data);
    let p = f.next(2);
    let q = QuantParams::new(log_scale(p[0], 0.002, 0.2), to_i8(p[1]));
    let mut x: Map<C, H, W, i8> = [[[0; W]; H]; C];
    fill_i8(&mut f, &mut x);
    let mut y: Map<C, HO, WO, i8> = [[[0; WO]; HO]; C];
    let mode = if ALIGN {
        AlignCorners::True
    } else {
        AlignCorners::False
    };
    resize_bilinear(&x, q.zero_point, &mut y, mode);
    let yr = reference::resize_bilinear(&deq(x.flat(), q), C, H, W, HO, WO, ALIGN);
    within(
        "resize_bilinear",
        y.flat(),
        &quantize_all(&yr, q, i8::MIN, i8::MAX),
        1,
    )
}

macro_rules! resize_cases {
    ($( ($c:literal, $h:literal, $w:literal) -> ($ho:literal, $wo:literal) align $a:literal; )*) => {
        &[$(QCase {
            name: stringify!(($c, $h, $w) -> ($ho, $wo) align $a),
            need: 2 + $c * $h * $w,
            run: resize_case::<$c, $h, $w, $ho, $wo, $a>,
        },)*]
    };
}

const RESIZE_CASES: &[QCase] = resize_cases! {
    (2, 4, 4) -> (8, 8) align false;     // ×2 decoder upsampling (exact weights)
    (2, 4, 4) -> (8, 8) align true;
    (1, 5, 3) -> (20, 12) align false;   // ×4
    (1, 8, 8) -> (32, 32) align true;    // ×4, AGCAF-Net style
    (3, 7, 5) -> (11, 13) align false;   // non-integer ratios
    (3, 7, 5) -> (11, 13) align true;
    (2, 9, 9) -> (4, 3) align false;     // downsampling
    (2, 9, 9) -> (4, 3) align true;
    (1, 3, 4) -> (1, 1) align true;      // single output
    (1, 1, 1) -> (3, 2) align false;     // single input
};

int8_cases!(resize_vs_float_reference, RESIZE_CASES, 300, 128);

// ---------------------------------------------------------------------------------------------
// No panics on any input or parameter
// ---------------------------------------------------------------------------------------------

fn any_requant() -> impl Strategy<Value = Requant> {
    (any::<i32>(), any::<i32>()).prop_map(|(m, s)| Requant::new(m, s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn elementwise_total_on_any_parameters(
        a in proptest::collection::vec(any::<i8>(), 24),
        b in proptest::collection::vec(any::<i8>(), 24),
        zps in proptest::array::uniform6(any::<i8>()),
        ls in any::<i32>(),
        r in proptest::array::uniform3(any_requant()),
    ) {
        let mut am: Map<2, 3, 4, i8> = [[[0; 4]; 3]; 2];
        am.flat_mut().copy_from_slice(&a);
        let mut bm: Map<2, 3, 4, i8> = [[[0; 4]; 3]; 2];
        bm.flat_mut().copy_from_slice(&b);
        let aq = AddQuant {
            a_zp: zps[0], b_zp: zps[1], output_zp: zps[2], left_shift: ls,
            a: r[0], b: r[1], output: r[2], clamp: Clamp { min: zps[3], max: zps[4] },
        };
        let mq = MulQuant {
            a_zp: zps[0], b_zp: zps[1], output_zp: zps[2], requant: r[0],
            clamp: Clamp { min: zps[5], max: zps[4] },
        };
        let mut o = am;
        add(&mut o, &bm, &aq);
        mul(&mut o, &bm, &mq);
        add_channel(&mut o, &[b[0], b[1]], &aq);
        mul_pixel(&mut o, &[bm[0]], &mq);
        let rs = Rescale { input_zp: zps[0], output_zp: zps[1], requant: r[2] };
        let mut y: Map<4, 3, 4, i8> = [[[0; 4]; 3]; 4];
        concat2(&am, &rs, &bm, &rs, &mut y);
        let mut g = [0i8; 2];
        global_avg_pool(&am, zps[0], &mut g);
        let mut p: Map<2, 2, 3, i8> = [[[0; 3]; 2]; 2];
        adaptive_avg_pool(&am, zps[1], &mut p);
        let mut u: Map<2, 7, 9, i8> = [[[0; 9]; 7]; 2];
        resize_bilinear(&am, zps[2], &mut u, AlignCorners::True);
        resize_bilinear(&am, zps[2], &mut u, AlignCorners::False);
    }

    /// The map-wide adds (which read both inputs' rescaled terms from per-call tables) give
    /// exactly `AddQuant::add` of every element, on all 65 536 input pairs, for any parameters.
    #[test]
    fn map_adds_equal_the_scalar_add_on_every_pair(
        zps in proptest::array::uniform5(any::<i8>()),
        ls in prop_oneof![Just(ADD_LEFT_SHIFT), any::<i32>()],
        r in proptest::array::uniform3(any_requant()),
    ) {
        let q = AddQuant {
            a_zp: zps[0], b_zp: zps[1], output_zp: zps[2], left_shift: ls,
            a: r[0], b: r[1], output: r[2], clamp: Clamp { min: zps[3].min(zps[4]), max: zps[3].max(zps[4]) },
        };
        // Row a, column b: every pair once.
        let mut am = Box::new([[[0i8; 256]; 256]; 1]);
        let mut bm = Box::new([[[0i8; 256]; 256]; 1]);
        for i in 0..256 {
            for j in 0..256 {
                am[0][i][j] = (i as u8) as i8;
                bm[0][i][j] = (j as u8) as i8;
            }
        }
        let want: Vec<i8> = am.flat().iter().zip(bm.flat()).map(|(&a, &b)| q.add(a, b)).collect();
        let mut inplace = am.clone();
        add(&mut *inplace, &*bm, &q);
        prop_assert_eq!(inplace.flat(), &want[..]);
        let mut out = Box::new([[[0i8; 256]; 256]; 1]);
        add_into(&*am, &*bm, &q, &mut *out);
        prop_assert_eq!(out.flat(), &want[..]);
        let mut px = am.clone();
        add_pixel(&mut px, &bm, &q);
        prop_assert_eq!(px.flat(), &want[..]);
        // Channel broadcast: channel c of a 256-channel 1×256 map adds b = c.
        let mut ch = Box::new([[[0i8; 256]; 1]; 256]);
        for plane in ch.iter_mut() {
            for (i, v) in plane[0].iter_mut().enumerate() {
                *v = (i as u8) as i8;
            }
        }
        let bc: [i8; 256] = core::array::from_fn(|c| (c as u8) as i8);
        add_channel(&mut ch, &bc, &q);
        for (c, plane) in ch.iter().enumerate() {
            for (i, v) in plane[0].iter().enumerate() {
                prop_assert_eq!(*v, q.add((i as u8) as i8, (c as u8) as i8));
            }
        }
    }

    /// The attention scores' output stage (eight lanes on AVX2 where it is exact, scalar
    /// otherwise) equals `TensorQuant::output` on every accumulator: typical multipliers
    /// (< 1, the vector path), any parameters (≥ 1 or `i32::MIN`: the scalar fallback), at
    /// lengths that leave a scalar tail.
    #[test]
    fn tensor_outputs_equal_the_scalar_output(
        acc in proptest::collection::vec(any::<i32>(), 0..70),
        small in proptest::collection::vec(-20_000_000i32..20_000_000, 64),
        zps in proptest::array::uniform3(any::<i8>()),
        m in (1i32 << 30)..i32::MAX,
        shift in -31i32..=0,
        r in any_requant(),
    ) {
        for requant in [Requant::new(m, shift), r, Requant::new(i32::MIN, -3)] {
            let q = TensorQuant {
                a_zp: 0,
                b_zp: 0,
                output_zp: zps[0],
                requant,
                clamp: Clamp { min: zps[1].min(zps[2]), max: zps[1].max(zps[2]) },
            };
            for acc in [&acc, &small] {
                let mut out = vec![0i8; acc.len()];
                tensor_outputs(&q, acc, &mut out);
                let want: Vec<i8> = acc.iter().map(|a| q.output(*a)).collect();
                prop_assert_eq!(out, want);
            }
        }
    }

    /// With the zero point at an extreme and all inputs at the other, everything saturates
    /// cleanly (|x − zp| = 255, the largest difference).
    #[test]
    fn extreme_differences_saturate(lo in prop_oneof![Just(-128i8), Just(127i8)]) {
        let hi = if lo == -128 { 127 } else { -128 };
        let x: Map<1, 4, 4, i8> = [[[hi; 4]; 4]];
        let big = QuantParams::new(1.0, lo);
        let tiny = QuantParams::new(1e-3, 0);
        let q = AddQuant::new(big, big, tiny, Clamp::NONE);
        let mut o = x;
        add(&mut o, &x, &q);
        let sat: i8 = if lo == -128 { 127 } else { -128 };
        prop_assert!(o.flat().iter().all(|v| *v == sat));
        let m = MulQuant::new(big, big, tiny, Clamp::NONE);
        let mut o = x;
        mul(&mut o, &x, &m);
        prop_assert!(o.flat().iter().all(|v| *v == 127)); // (±255)² > 0
        let mut u: Map<1, 9, 9, i8> = [[[0; 9]; 9]];
        resize_bilinear(&x, lo, &mut u, AlignCorners::False);
        prop_assert!(u.flat().iter().all(|v| *v == hi));
        let mut g = [0i8; 1];
        global_avg_pool(&x, lo, &mut g);
        prop_assert_eq!(g[0], hi);
    }
}
