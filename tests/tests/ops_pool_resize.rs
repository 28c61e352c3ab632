//! `pool_bin`, `global_avg_pool`, `adaptive_avg_pool`, `adaptive_max_pool` and
//! `resize_bilinear` (both `align_corners` modes): hand-computed cases and property tests
//! against the naive reference.

use hepaseg_core::ops::{
    adaptive_avg_pool, adaptive_max_pool, global_avg_pool, pool_bin, resize_bilinear, AlignCorners,
};
use hepaseg_core::tensor::{Flat, Map};
use hepaseg_tests::reference;
use hepaseg_tests::{assert_close, compare, f64s, proptest_cases, Case, Feed};

/// `x[c][h][w] = W·h + w` on every channel.
fn ramp<const C: usize, const H: usize, const W: usize>() -> Map<C, H, W> {
    let mut x = [[[0.0; W]; H]; C];
    for plane in x.iter_mut() {
        for (h, row) in plane.iter_mut().enumerate() {
            for (w, v) in row.iter_mut().enumerate() {
                *v = (W * h + w) as f32;
            }
        }
    }
    x
}

// ---------------------------------------------------------------------------------------
// Bins

#[test]
fn pool_bins_32_to_10_are_pytorchs() {
    // SPEC §5: [floor(i·32/10), ceil((i+1)·32/10)).
    let expected = [
        (0, 4),
        (3, 7),
        (6, 10),
        (9, 13),
        (12, 16),
        (16, 20),
        (19, 23),
        (22, 26),
        (25, 29),
        (28, 32),
    ];
    let got: Vec<_> = (0..10).map(|i| pool_bin(i, 32, 10)).collect();
    assert_eq!(got, expected);
    // pool_bin is a const fn: usable in const plans.
    const B: (usize, usize) = pool_bin(5, 32, 10);
    assert_eq!(B, (16, 20));
}

#[test]
fn pool_bins_small_cases() {
    // 5 → 3: [0, ceil(5/3)=2), [floor(5/3)=1, ceil(10/3)=4), [floor(10/3)=3, 5).
    assert_eq!(
        [pool_bin(0, 5, 3), pool_bin(1, 5, 3), pool_bin(2, 5, 3)],
        [(0, 2), (1, 4), (3, 5)]
    );
    // Exact divisions do not overlap: 8 → 4 is (0,2) (2,4) (4,6) (6,8).
    let got: Vec<_> = (0..4).map(|i| pool_bin(i, 8, 4)).collect();
    assert_eq!(got, [(0, 2), (2, 4), (4, 6), (6, 8)]);
    // One bin spans everything; in == out is the identity.
    assert_eq!(pool_bin(0, 7, 1), (0, 7));
    assert_eq!(pool_bin(3, 7, 7), (3, 4));
}

#[test]
fn pool_bins_match_reference_and_cover_the_input() {
    for input in 1..=40 {
        for out in 1..=input {
            for i in 0..out {
                let (s, e) = pool_bin(i, input, out);
                assert_eq!(
                    (s, e),
                    reference::adaptive_bin(i, input, out),
                    "{i} of {out} over {input}"
                );
                assert!(
                    s < e && e <= input,
                    "bin {i} of {out} over {input}: ({s}, {e})"
                );
            }
            assert_eq!(pool_bin(0, input, out).0, 0);
            assert_eq!(pool_bin(out - 1, input, out).1, input);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pools by hand

#[test]
fn global_avg_pool_by_hand() {
    // Ramp 0..15: mean 7.5. Channel 1 = 3 everywhere: mean 3.
    let mut x: Map<2, 4, 4> = ramp();
    x[1] = [[3.0; 4]; 4];
    let mut y = [f32::NAN; 2];
    global_avg_pool(&x, &mut y);
    assert_eq!(y, [7.5, 3.0]);
}

#[test]
fn adaptive_pools_32_to_10_on_a_ramp() {
    // x[w] = w; bins of width 4; the mean of [a, b) is (a + b − 1)/2, the max b − 1.
    let x: Map<1, 1, 32> = ramp();
    let mut avg: Map<1, 1, 10> = [[[f32::NAN; 10]]];
    adaptive_avg_pool(&x, &mut avg);
    assert_eq!(
        avg[0][0],
        [1.5, 4.5, 7.5, 10.5, 13.5, 17.5, 20.5, 23.5, 26.5, 29.5]
    );
    let mut max: Map<1, 1, 10> = [[[f32::NAN; 10]]];
    adaptive_max_pool(&x, &mut max);
    assert_eq!(
        max[0][0],
        [3.0, 6.0, 9.0, 12.0, 15.0, 19.0, 22.0, 25.0, 28.0, 31.0]
    );
}

#[test]
fn adaptive_pools_5x5_to_3x3() {
    // x = 5h + w. Bins 5 → 3: (0,2) (1,4) (3,5) with means m = [0.5, 2, 3.5] and
    // last indices l = [1, 3, 4]. avg[i][j] = 5·m[i] + m[j]; max[i][j] = 5·l[i] + l[j].
    let x: Map<1, 5, 5> = ramp();
    let mut avg: Map<1, 3, 3> = [[[f32::NAN; 3]; 3]];
    adaptive_avg_pool(&x, &mut avg);
    assert_eq!(
        avg[0],
        [[3.0, 4.5, 6.0], [10.5, 12.0, 13.5], [18.0, 19.5, 21.0]]
    );
    let mut max: Map<1, 3, 3> = [[[f32::NAN; 3]; 3]];
    adaptive_max_pool(&x, &mut max);
    assert_eq!(
        max[0],
        [[6.0, 8.0, 9.0], [16.0, 18.0, 19.0], [21.0, 23.0, 24.0]]
    );
}

#[test]
fn adaptive_pools_identity_and_global() {
    let x: Map<2, 3, 4> = ramp();
    let mut same: Map<2, 3, 4> = [[[f32::NAN; 4]; 3]; 2];
    adaptive_avg_pool(&x, &mut same);
    assert_eq!(same, x);
    adaptive_max_pool(&x, &mut same);
    assert_eq!(same, x);
    // Out 1×1: the mean (= global average pool, 5.5) and the max (11).
    let mut one: Map<2, 1, 1> = [[[f32::NAN]]; 2];
    adaptive_avg_pool(&x, &mut one);
    assert_eq!(one, [[[5.5]]; 2]);
    adaptive_max_pool(&x, &mut one);
    assert_eq!(one, [[[11.0]]; 2]);
}

#[test]
fn adaptive_max_pool_negative_values_and_nan() {
    // All negative: the max is the least negative, not 0.
    let x: Map<1, 2, 2> = [[[-4.0, -3.0], [-2.5, -7.0]]];
    let mut y: Map<1, 1, 1> = [[[f32::NAN]]];
    adaptive_max_pool(&x, &mut y);
    assert_eq!(y, [[[-2.5]]]);
    // A NaN propagates to the bins that contain it (as in PyTorch), in any position.
    for pos in 0..4 {
        let mut x: Map<1, 1, 4> = [[[1.0, 2.0, 3.0, 4.0]]];
        x[0][0][pos] = f32::NAN;
        let mut y: Map<1, 1, 2> = [[[0.0; 2]]];
        adaptive_max_pool(&x, &mut y); // bins (0,2) (2,4)
        assert!(y[0][0][pos / 2].is_nan(), "NaN at {pos}: {y:?}");
        assert!(!y[0][0][1 - pos / 2].is_nan(), "NaN at {pos}: {y:?}");
    }
    // Integer maps (the int8 path) use the same op.
    let q: Map<1, 1, 6, i8> = [[[-5, 3, -128, 127, 0, -1]]];
    let mut qy: Map<1, 1, 3, i8> = [[[0; 3]]];
    adaptive_max_pool(&q, &mut qy);
    assert_eq!(qy, [[[3, 127, 0]]]);
}

// ---------------------------------------------------------------------------------------
// Bilinear resize by hand

#[test]
fn bilinear_2x2_to_4x4_both_modes() {
    // Every row is [0, 1].
    let x: Map<1, 2, 2> = [[[0.0, 1.0], [0.0, 1.0]]];
    let mut y: Map<1, 4, 4> = [[[f32::NAN; 4]; 4]];
    // align_corners = true: src = dst·(2−1)/(4−1) = 0, 1/3, 2/3, 1.
    resize_bilinear(&x, &mut y, AlignCorners::True);
    for row in &y[0] {
        assert_close(row, &[0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0], 1e-7);
    }
    // align_corners = false: src = (dst + ½)·2/4 − ½ = −0.25→0, 0.25, 0.75, 1.25→(edge) 1.
    resize_bilinear(&x, &mut y, AlignCorners::False);
    for row in &y[0] {
        assert_eq!(*row, [0.0, 0.25, 0.75, 1.0]);
    }
}

#[test]
fn bilinear_2d_by_hand() {
    // x = [[0, 1], [2, 3]] = 2h + w.
    let x: Map<1, 2, 2> = [[[0.0, 1.0], [2.0, 3.0]]];
    // align true, 3×3: src = 0, ½, 1 on both axes → 2·sh + sw.
    let mut y: Map<1, 3, 3> = [[[f32::NAN; 3]; 3]];
    resize_bilinear(&x, &mut y, AlignCorners::True);
    assert_eq!(y[0], [[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]]);
    // align false, 4×4: s = [0, 0.25, 0.75, 1] on both axes → 2·sh + sw.
    let mut y: Map<1, 4, 4> = [[[f32::NAN; 4]; 4]];
    resize_bilinear(&x, &mut y, AlignCorners::False);
    assert_eq!(
        y[0],
        [
            [0.0, 0.25, 0.75, 1.0],
            [0.5, 0.75, 1.25, 1.5],
            [1.5, 1.75, 2.25, 2.5],
            [2.0, 2.25, 2.75, 3.0],
        ]
    );
}

#[test]
fn bilinear_downsampling_and_single_pixel() {
    let x: Map<1, 1, 4> = [[[0.0, 2.0, 4.0, 8.0]]];
    let mut y: Map<1, 1, 2> = [[[f32::NAN; 2]]];
    // false: src = (d + ½)·4/2 − ½ = 0.5, 2.5 → (0+2)/2 = 1, (4+8)/2 = 6.
    resize_bilinear(&x, &mut y, AlignCorners::False);
    assert_eq!(y, [[[1.0, 6.0]]]);
    // true: src = d·3/1 = 0, 3 → the corners 0 and 8.
    resize_bilinear(&x, &mut y, AlignCorners::True);
    assert_eq!(y, [[[0.0, 8.0]]]);
    // One output pixel: true takes x[0] (PyTorch's scale is 0 when out = 1); false takes the
    // centre, src = ½·4 − ½ = 1.5 → (2 + 4)/2 = 3.
    let mut one: Map<1, 1, 1> = [[[f32::NAN]]];
    resize_bilinear(&x, &mut one, AlignCorners::True);
    assert_eq!(one, [[[0.0]]]);
    resize_bilinear(&x, &mut one, AlignCorners::False);
    assert_eq!(one, [[[3.0]]]);
}

#[test]
fn bilinear_same_size_is_identity_and_affine_is_exact() {
    let x: Map<2, 3, 5> = ramp();
    let mut y: Map<2, 3, 5> = [[[f32::NAN; 5]; 3]; 2];
    for mode in [AlignCorners::True, AlignCorners::False] {
        resize_bilinear(&x, &mut y, mode);
        assert_eq!(y, x, "{mode:?}");
    }
    // align true reproduces an affine function exactly at the new grid:
    // x = 5h + w on 3×5 → 5×9: y[i][j] = 5·(i·2/4) + j·4/8 = 2.5i + 0.5j.
    let mut up: Map<2, 5, 9> = [[[f32::NAN; 9]; 5]; 2];
    resize_bilinear(&x, &mut up, AlignCorners::True);
    for plane in &up {
        for (i, row) in plane.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert!((v - (2.5 * i as f32 + 0.5 * j as f32)).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn bilinear_modes_differ() {
    // The two conventions are not interchangeable: on [0, 1] → 4 they differ at index 1.
    let x: Map<1, 1, 2> = [[[0.0, 1.0]]];
    let (mut a, mut b): (Map<1, 1, 4>, Map<1, 1, 4>) = ([[[0.0; 4]]], [[[0.0; 4]]]);
    resize_bilinear(&x, &mut a, AlignCorners::True);
    resize_bilinear(&x, &mut b, AlignCorners::False);
    assert!((a[0][0][1] - b[0][0][1]).abs() > 0.05);
}

// ---------------------------------------------------------------------------------------
// Property tests against the reference.

fn gap_case<const C: usize, const H: usize, const W: usize>(data: &[f32]) -> Result<(), String> {
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    Feed::new(data).fill_with(&mut x, |v| 3.0 * v + 1.0);
    let mut y = [f32::NAN; C];
    global_avg_pool(&x, &mut y);
    compare(
        "global_avg_pool",
        &y,
        &reference::global_avg_pool(&f64s(x.flat()), C, H, W),
    )
}

macro_rules! map_cases {
    ($f:ident; $( ($c:literal, $h:literal, $w:literal) ),* $(,)?) => {
        &[$(Case {
            name: stringify!(($c, $h, $w)),
            need: $c * $h * $w,
            run: $f::<$c, $h, $w>,
        },)*]
    };
}

const GAP_CASES: &[Case] = map_cases!(gap_case;
    (1, 1, 1),
    (2, 3, 4),
    (3, 8, 8),
    (4, 5, 7),
    (2, 16, 16),
    (1, 128, 128), // AFM's channel attention on AGCAF's c1 level: 16384-term f32 sum
);

proptest_cases!(global_avg_pool_vs_reference, GAP_CASES, 64);

/// Both adaptive pools on the same map.
fn adaptive_case<
    const C: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>(
    data: &[f32],
) -> Result<(), String> {
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    Feed::new(data).fill_with(&mut x, |v| 3.0 * v);
    let rx = f64s(x.flat());
    let mut y: Map<C, HO, WO> = [[[f32::NAN; WO]; HO]; C];
    adaptive_avg_pool(&x, &mut y);
    compare(
        "adaptive_avg_pool",
        y.flat(),
        &reference::adaptive_avg_pool(&rx, C, H, W, HO, WO),
    )?;
    let mut y: Map<C, HO, WO> = [[[f32::NAN; WO]; HO]; C];
    adaptive_max_pool(&x, &mut y);
    compare(
        "adaptive_max_pool",
        y.flat(),
        &reference::adaptive_max_pool(&rx, C, H, W, HO, WO),
    )
}

/// Bilinear resize in both modes.
fn resize_case<const C: usize, const H: usize, const W: usize, const HO: usize, const WO: usize>(
    data: &[f32],
) -> Result<(), String> {
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    Feed::new(data).fill_with(&mut x, |v| 3.0 * v);
    let rx = f64s(x.flat());
    for (mode, align) in [(AlignCorners::True, true), (AlignCorners::False, false)] {
        let mut y: Map<C, HO, WO> = [[[f32::NAN; WO]; HO]; C];
        resize_bilinear(&x, &mut y, mode);
        compare(
            if align {
                "bilinear(align_corners=True)"
            } else {
                "bilinear(align_corners=False)"
            },
            y.flat(),
            &reference::resize_bilinear(&rx, C, H, W, HO, WO, align),
        )?;
    }
    Ok(())
}

macro_rules! resample_cases {
    ($f:ident; $( ($c:literal, $h:literal, $w:literal) -> ($ho:literal, $wo:literal) ),* $(,)?) => {
        &[$(Case {
            name: stringify!(($c, $h, $w) -> ($ho, $wo)),
            need: $c * $h * $w,
            run: $f::<$c, $h, $w, $ho, $wo>,
        },)*]
    };
}

const ADAPTIVE_CASES: &[Case] = resample_cases!(adaptive_case;
    (1, 32, 32) -> (10, 10),  // the AGCAF scale-10 grid
    (2, 5, 5) -> (3, 3),
    (3, 7, 6) -> (2, 4),      // non-square, overlapping bins
    (2, 8, 8) -> (5, 6),
    (1, 9, 4) -> (9, 4),      // identity
    (4, 6, 6) -> (1, 1),      // global
    (2, 10, 7) -> (3, 7),
    (1, 32, 20) -> (6, 5),
);

proptest_cases!(adaptive_pools_vs_reference, ADAPTIVE_CASES, 64);

const RESIZE_CASES: &[Case] = resample_cases!(resize_case;
    (1, 2, 2) -> (4, 4),
    (2, 3, 5) -> (6, 10),     // ×2, non-square
    (1, 4, 4) -> (2, 2),      // downsampling
    (3, 5, 3) -> (7, 8),      // non-integer factors
    (2, 8, 8) -> (16, 16),
    (1, 7, 5) -> (3, 2),
    (2, 1, 4) -> (3, 1),      // single row in, single column out
    (1, 6, 6) -> (6, 6),      // identity
    (1, 4, 8) -> (64, 32),    // the ×16 / ×4 head upsampling
);

proptest_cases!(resize_bilinear_vs_reference, RESIZE_CASES, 64);
