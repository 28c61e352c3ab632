//! `concat2` and the tensor views it and the blocks build on (`channels`, `channels_mut`,
//! `split_channels_mut`, `map_as_mat(_mut)`, `map_ref/map_mut`, `mat_ref/mat_mut`,
//! `vec_ref/vec_mut`, `conv_weight_ref/conv_weight_mut`, `Flat`, `numel`).

use hepaseg_core::ops::concat2;
use hepaseg_core::tensor::{
    channels, channels_mut, conv_weight_mut, conv_weight_ref, map_as_mat, map_as_mat_mut, map_mut,
    map_ref, mat_mut, mat_ref, numel, split_channels_mut, vec_mut, vec_ref, ConvWeight, Flat, Map,
};
use hepaseg_tests::reference;
use hepaseg_tests::{compare, f64s, proptest_cases, Case, Feed};

/// `x[c][h][w] = 100c + 10h + w`.
fn labelled<const C: usize, const H: usize, const W: usize>() -> Map<C, H, W> {
    let mut x = [[[0.0; W]; H]; C];
    for (c, plane) in x.iter_mut().enumerate() {
        for (h, row) in plane.iter_mut().enumerate() {
            for (w, v) in row.iter_mut().enumerate() {
                *v = (100 * c + 10 * h + w) as f32;
            }
        }
    }
    x
}

#[test]
fn concat2_by_hand() {
    let a: Map<1, 2, 2> = [[[1.0, 2.0], [3.0, 4.0]]];
    let b: Map<2, 2, 2> = [[[5.0, 6.0], [7.0, 8.0]], [[9.0, 10.0], [11.0, 12.0]]];
    let mut y: Map<3, 2, 2> = [[[f32::NAN; 2]; 2]; 3];
    concat2(&a, &b, &mut y);
    // [a; b] along channels: a's channel first, then b's two.
    assert_eq!(y, [a[0], b[0], b[1]]);
    // Works for the int8 path too.
    let qa: Map<1, 1, 2, i8> = [[[-1, 2]]];
    let qb: Map<1, 1, 2, i8> = [[[3, -4]]];
    let mut qy: Map<2, 1, 2, i8> = [[[0; 2]]; 2];
    concat2(&qa, &qb, &mut qy);
    assert_eq!(qy, [[[-1, 2]], [[3, -4]]]);
}

#[test]
fn channel_views() {
    let mut x: Map<4, 2, 3> = labelled();
    // channels::<OFF = 1, N = 2> is channels 1 and 2.
    let mid = channels::<f32, 1, 2, 4, 2, 3>(&x);
    assert_eq!(mid[0][1][2], 112.0);
    assert_eq!(mid[1][0][0], 200.0);
    // Writing through channels_mut lands in the right place of the whole map.
    let last = channels_mut::<f32, 3, 1, 4, 2, 3>(&mut x);
    last[0][0][0] = -1.0;
    assert_eq!(x[3][0][0], -1.0);
    // split_channels_mut: first A, then B channels, disjoint.
    let (a, b) = split_channels_mut::<f32, 1, 3, 4, 2, 3>(&mut x);
    a[0][1][1] = -2.0;
    b[0][1][1] = -3.0;
    assert_eq!(x[0][1][1], -2.0);
    assert_eq!(x[1][1][1], -3.0);
}

#[test]
fn matrix_view_of_a_map() {
    // Map<C, H, W> as a C × (H·W) matrix, row-major pixels: m[c][h·W + w] = x[c][h][w].
    let mut x: Map<2, 2, 3> = labelled();
    let m = map_as_mat::<f32, 2, 2, 3, 6>(&x);
    assert_eq!(m[0], [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
    assert_eq!(m[1][4], 111.0);
    map_as_mat_mut::<f32, 2, 2, 3, 6>(&mut x)[1][5] = 7.0;
    assert_eq!(x[1][1][2], 7.0);
}

#[test]
fn views_from_flat_memory() {
    let mut buf: Vec<f32> = (0..30).map(|i| i as f32).collect();
    // The first C·H·W values, channel-major.
    let m = map_ref::<f32, 2, 3, 4>(&buf).expect("24 ≤ 30");
    assert_eq!(m[1][2][3], 23.0); // (1·3 + 2)·4 + 3
    assert!(map_ref::<f32, 2, 4, 4>(&buf).is_none(), "32 > 30 must fail");
    assert!(map_ref::<f32, 1, 5, 7>(&buf).is_none(), "35 > 30 must fail");
    map_mut::<f32, 1, 2, 2>(&mut buf).expect("fits")[0][1][0] = -5.0;
    assert_eq!(buf[2], -5.0);

    let r = mat_ref::<f32, 5, 6>(&buf).expect("30 ≤ 30");
    assert_eq!(r[4][5], 29.0);
    assert!(mat_ref::<f32, 6, 6>(&buf).is_none());
    mat_mut::<f32, 3, 2>(&mut buf).expect("fits")[2][1] = -7.0;
    assert_eq!(buf[5], -7.0);

    assert_eq!(vec_ref::<f32, 3>(&buf), Some(&[0.0, 1.0, -5.0]));
    assert!(vec_ref::<f32, 31>(&buf).is_none());
    vec_mut::<f32, 1>(&mut buf).expect("fits")[0] = 9.0;
    assert_eq!(buf[0], 9.0);

    // Conv weights [CO][CIG][K][K]: w[o][i][kh][kw] at ((o·CIG + i)·K + kh)·K + kw.
    let w = conv_weight_ref::<f32, 2, 3, 2>(&buf[6..]).expect("24 ≤ 24");
    assert_eq!(w[1][2][1][0], buf[6 + ((3 + 2) * 2 + 1) * 2]);
    assert!(conv_weight_ref::<f32, 2, 3, 2>(&buf[7..]).is_none());
    let wm: &mut ConvWeight<1, 1, 2> = conv_weight_mut(&mut buf[..4]).expect("fits");
    wm[0][0][1][1] = 0.5;
    assert_eq!(buf[3], 0.5);
}

#[test]
fn flat_and_numel() {
    let x: Map<2, 3, 4> = labelled();
    let f = x.flat();
    assert_eq!(f.len(), numel(2, 3, 4));
    assert_eq!(f[(3 + 2) * 4 + 1], 121.0); // x[1][2][1]
    let mut w: ConvWeight<2, 1, 3> = [[[[0.0; 3]; 3]]; 2];
    assert_eq!(w.flat().len(), 18);
    w.flat_mut()[17] = 1.0;
    assert_eq!(w[1][0][2][2], 1.0);
    let v = [1i8, 2, 3];
    assert_eq!(v.flat(), &[1, 2, 3]);
}

// ---------------------------------------------------------------------------------------
// Property tests against the reference.

fn concat_case<const CA: usize, const CB: usize, const C: usize, const H: usize, const W: usize>(
    data: &[f32],
) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut a: Map<CA, H, W> = [[[0.0; W]; H]; CA];
    let mut b: Map<CB, H, W> = [[[0.0; W]; H]; CB];
    f.fill(&mut a);
    f.fill(&mut b);
    let mut y: Map<C, H, W> = [[[f32::NAN; W]; H]; C];
    concat2(&a, &b, &mut y);
    compare(
        "concat2",
        y.flat(),
        &reference::concat(&f64s(a.flat()), CA, &f64s(b.flat()), CB, H, W),
    )?;
    // The channel views see the operands again.
    if channels::<f32, 0, CA, C, H, W>(&y) != &a || channels::<f32, CA, CB, C, H, W>(&y) != &b {
        return Err("channel views of the concatenation differ from the operands".into());
    }
    Ok(())
}

macro_rules! concat_cases {
    ($( ($ca:literal + $cb:literal, $h:literal, $w:literal) ),* $(,)?) => {
        &[$(Case {
            name: stringify!(($ca + $cb, $h, $w)),
            need: ($ca + $cb) * $h * $w,
            run: concat_case::<$ca, $cb, { $ca + $cb }, $h, $w>,
        },)*]
    };
}

const CONCAT_CASES: &[Case] = concat_cases!(
    (1 + 1, 1, 1),
    (2 + 3, 4, 4),
    (1 + 4, 3, 5),
    (5 + 2, 2, 7),
    (3 + 3, 8, 8),
);

proptest_cases!(concat2_vs_reference, CONCAT_CASES, 64);
