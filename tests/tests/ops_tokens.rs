//! `map_to_tokens` and `tokens_to_map`: hand-computed cases and property tests against the
//! naive reference (PyTorch's `flatten(2).transpose(1, 2)` and its inverse).

use hepaseg_core::ops::{map_to_tokens, tokens_to_map};
use hepaseg_core::tensor::{map_as_mat, Flat, Map, Tokens};
use hepaseg_tests::reference;
use hepaseg_tests::{compare, f64s, proptest_cases, Case, Feed};

/// `x[c][h][w] = 100c + 10h + w`: every value names its position.
fn labelled() -> Map<2, 2, 3> {
    let mut x = [[[0.0; 3]; 2]; 2];
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
fn map_to_tokens_by_hand() {
    // Token h·W + w holds the features [x[0][h][w], x[1][h][w]] = [10h + w, 100 + 10h + w].
    let x = labelled();
    let mut t: Tokens<6, 2> = [[f32::NAN; 2]; 6];
    map_to_tokens(&x, &mut t);
    assert_eq!(
        t,
        [
            [0.0, 100.0],  // (0, 0)
            [1.0, 101.0],  // (0, 1)
            [2.0, 102.0],  // (0, 2)
            [10.0, 110.0], // (1, 0)
            [11.0, 111.0], // (1, 1)
            [12.0, 112.0], // (1, 2)
        ]
    );
    // The tokens are the transpose of the map's C × N matrix view.
    let m = map_as_mat::<f32, 2, 2, 3, 6>(&x);
    for (n, tok) in t.iter().enumerate() {
        for (c, v) in tok.iter().enumerate() {
            assert_eq!(*v, m[c][n]);
        }
    }
}

#[test]
fn tokens_to_map_by_hand_and_round_trip() {
    let t: Tokens<6, 2> = [
        [0.0, 100.0],
        [1.0, 101.0],
        [2.0, 102.0],
        [10.0, 110.0],
        [11.0, 111.0],
        [12.0, 112.0],
    ];
    let mut x: Map<2, 2, 3> = [[[f32::NAN; 3]; 2]; 2];
    tokens_to_map(&t, &mut x);
    assert_eq!(x, labelled());
    // The same tokens read as a 3 × 2 map (N = 6 = 3·2) put them in a different grid.
    let mut tall: Map<2, 3, 2> = [[[f32::NAN; 2]; 3]; 2];
    tokens_to_map(&t, &mut tall);
    assert_eq!(tall[0], [[0.0, 1.0], [2.0, 10.0], [11.0, 12.0]]);
    assert_eq!(tall[1], [[100.0, 101.0], [102.0, 110.0], [111.0, 112.0]]);
}

// ---------------------------------------------------------------------------------------
// Property tests against the reference.

fn tokens_case<const C: usize, const H: usize, const W: usize, const N: usize>(
    data: &[f32],
) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut x: Map<C, H, W> = [[[0.0; W]; H]; C];
    f.fill(&mut x);
    let mut t: Tokens<N, C> = [[f32::NAN; C]; N];
    map_to_tokens(&x, &mut t);
    compare(
        "map_to_tokens",
        t.flat(),
        &reference::map_to_tokens(&f64s(x.flat()), C, H, W),
    )?;
    // Independent random tokens back to a map.
    let mut t2: Tokens<N, C> = [[0.0; C]; N];
    f.fill(&mut t2);
    let mut y: Map<C, H, W> = [[[f32::NAN; W]; H]; C];
    tokens_to_map(&t2, &mut y);
    compare(
        "tokens_to_map",
        y.flat(),
        &reference::tokens_to_map(&f64s(t2.flat()), C, H, W),
    )?;
    // Round trip is exact.
    tokens_to_map(&t, &mut y);
    if y != x {
        return Err("tokens_to_map(map_to_tokens(x)) != x".into());
    }
    Ok(())
}

macro_rules! token_cases {
    ($( ($c:literal, $h:literal, $w:literal) ),* $(,)?) => {
        &[$(Case {
            name: stringify!(($c, $h, $w)),
            need: 2 * $c * $h * $w,
            run: tokens_case::<$c, $h, $w, { $h * $w }>,
        },)*]
    };
}

const TOKEN_CASES: &[Case] = token_cases!(
    (1, 1, 1),
    (2, 3, 4),
    (3, 5, 2),
    (8, 4, 4),
    (16, 2, 7),
    (4, 8, 8),
);

proptest_cases!(map_tokens_vs_reference, TOKEN_CASES, 64);
