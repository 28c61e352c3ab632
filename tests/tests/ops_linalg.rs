//! `matmul`, `matmul_bt`, `matmul_at`, `linear`, `softmax` (rows and columns) and
//! `softmax_in_place`: hand-computed cases and property tests against the naive reference.

use hepaseg_core::ops::{linear, matmul, matmul_at, matmul_bt, softmax, softmax_in_place, Axis};
use hepaseg_core::tensor::{Flat, Mat, Tokens};
use hepaseg_tests::reference;
use hepaseg_tests::{assert_close, compare, f64s, proptest_cases, Case, Feed};

// A = [[1, 2, 3], [4, 5, 6]], B = [[7, 8], [9, 10], [11, 12]]
// A·B = [[1·7 + 2·9 + 3·11, 1·8 + 2·10 + 3·12], [4·7 + 5·9 + 6·11, 4·8 + 5·10 + 6·12]]
//     = [[58, 64], [139, 154]]
const A: Mat<2, 3> = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
const B: Mat<3, 2> = [[7.0, 8.0], [9.0, 10.0], [11.0, 12.0]];
const AB: Mat<2, 2> = [[58.0, 64.0], [139.0, 154.0]];

#[test]
fn matmul_by_hand() {
    let mut y: Mat<2, 2> = [[f32::NAN; 2]; 2];
    matmul(&A, &B, &mut y);
    assert_eq!(y, AB);
    // The identity leaves a matrix unchanged; the output is overwritten, not accumulated.
    let id: Mat<3, 3> = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let mut z: Mat<2, 3> = [[100.0; 3]; 2];
    matmul(&A, &id, &mut z);
    assert_eq!(z, A);
}

#[test]
fn matmul_bt_by_hand() {
    // a·bᵀ with b = Bᵀ = [[7, 9, 11], [8, 10, 12]] gives A·B again.
    let bt: Mat<2, 3> = [[7.0, 9.0, 11.0], [8.0, 10.0, 12.0]];
    let mut y: Mat<2, 2> = [[f32::NAN; 2]; 2];
    matmul_bt(&A, &bt, &mut y);
    assert_eq!(y, AB);
    // Rows against rows: A·Aᵀ = [[1+4+9, 4+10+18], [.., 16+25+36]] = [[14, 32], [32, 77]].
    matmul_bt(&A, &A, &mut y);
    assert_eq!(y, [[14.0, 32.0], [32.0, 77.0]]);
}

#[test]
fn matmul_at_by_hand() {
    // aᵀ·b with a = Aᵀ = [[1, 4], [2, 5], [3, 6]] gives A·B again.
    let at: Mat<3, 2> = [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]];
    let mut y: Mat<2, 2> = [[f32::NAN; 2]; 2];
    matmul_at(&at, &B, &mut y);
    assert_eq!(y, AB);
    // Columns against columns: BᵀB = [[49+81+121, 56+90+132], [.., 64+100+144]].
    matmul_at(&B, &B, &mut y);
    assert_eq!(y, [[251.0, 278.0], [278.0, 308.0]]);
}

#[test]
fn linear_by_hand() {
    // PyTorch layout [out][in]: w = [[1, 0], [0, 1], [1, 1]] → y = [x0, x1, x0 + x1] + b.
    let x: Tokens<2, 2> = [[1.0, 2.0], [3.0, -1.0]];
    let w: Mat<3, 2> = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
    let mut y: Tokens<2, 3> = [[f32::NAN; 3]; 2];
    linear(&x, &w, Some(&[0.5, 0.0, -1.0]), &mut y);
    // [1 + 0.5, 2 + 0, 3 − 1], [3 + 0.5, −1 + 0, 2 − 1]
    assert_eq!(y, [[1.5, 2.0, 2.0], [3.5, -1.0, 1.0]]);
    linear(&x, &w, None, &mut y);
    assert_eq!(y, [[1.0, 2.0, 3.0], [3.0, -1.0, 2.0]]);
}

#[test]
fn softmax_rows_by_hand() {
    // e^0 : e^ln2 : e^ln3 = 1 : 2 : 3 → [1/6, 1/3, 1/2].
    let (l2, l3) = (2.0f32.ln(), 3.0f32.ln());
    let mut m: Mat<3, 3> = [[0.0, l2, l3], [5.0; 3], [1000.0, 1000.0, -1000.0]];
    softmax(&mut m, Axis::Rows);
    assert_close(&m[0], &[1.0 / 6.0, 1.0 / 3.0, 0.5], 1e-6);
    // A constant row is uniform; huge logits do not overflow (the max is subtracted).
    assert_close(&m[1], &[1.0 / 3.0; 3], 1e-6);
    assert_eq!(m[2], [0.5, 0.5, 0.0]);
    for row in &m {
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-6, "row sums to {s}");
    }
}

#[test]
fn softmax_cols_by_hand() {
    let (l2, l3) = (2.0f32.ln(), 3.0f32.ln());
    // Column 0 = [0, ln2, ln3] → [1/6, 1/3, 1/2]; column 1 constant → 1/3 each.
    let mut m: Mat<3, 2> = [[0.0, 5.0], [l2, 5.0], [l3, 5.0]];
    softmax(&mut m, Axis::Cols);
    let col0: Vec<f32> = m.iter().map(|r| r[0]).collect();
    let col1: Vec<f32> = m.iter().map(|r| r[1]).collect();
    assert_close(&col0, &[1.0 / 6.0, 1.0 / 3.0, 0.5], 1e-6);
    assert_close(&col1, &[1.0 / 3.0; 3], 1e-6);
}

#[test]
fn softmax_in_place_edge_cases() {
    let mut empty: [f32; 0] = [];
    softmax_in_place(&mut empty); // left alone, no panic
    let mut one = [42.0f32];
    softmax_in_place(&mut one);
    assert_eq!(one, [1.0]);
    // Shift invariance: softmax(x + c) = softmax(x).
    let mut a = [0.5f32, -1.0, 2.0, 0.0];
    let mut b = a.map(|v| v + 100.0);
    softmax_in_place(&mut a);
    softmax_in_place(&mut b);
    assert_close(&a, &f64s(&b), 1e-6);
}

// ---------------------------------------------------------------------------------------
// Property tests against the reference.

/// `matmul`, `matmul_bt` and `matmul_at` with independent random operands.
fn matmul_case<const M: usize, const K: usize, const N: usize>(data: &[f32]) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut a: Mat<M, K> = [[0.0; K]; M];
    let mut b: Mat<K, N> = [[0.0; N]; K];
    let mut bt: Mat<N, K> = [[0.0; K]; N];
    let mut at: Mat<K, M> = [[0.0; M]; K];
    f.fill(&mut a);
    f.fill(&mut b);
    f.fill(&mut bt);
    f.fill(&mut at);
    let mut y: Mat<M, N> = [[f32::NAN; N]; M];
    matmul(&a, &b, &mut y);
    compare(
        "matmul",
        y.flat(),
        &reference::matmul(&f64s(a.flat()), &f64s(b.flat()), M, K, N),
    )?;
    let mut y: Mat<M, N> = [[f32::NAN; N]; M];
    matmul_bt(&a, &bt, &mut y);
    compare(
        "matmul_bt",
        y.flat(),
        &reference::matmul_bt(&f64s(a.flat()), &f64s(bt.flat()), M, K, N),
    )?;
    let mut y: Mat<M, N> = [[f32::NAN; N]; M];
    matmul_at(&at, &b, &mut y);
    compare(
        "matmul_at",
        y.flat(),
        &reference::matmul_at(&f64s(at.flat()), &f64s(b.flat()), K, M, N),
    )
}

const MATMUL_CASES: &[Case] = &[
    Case {
        name: "1×1·1×1",
        need: 4,
        run: matmul_case::<1, 1, 1>,
    },
    Case {
        name: "2×3·3×4",
        need: 2 * (6 + 12),
        run: matmul_case::<2, 3, 4>,
    },
    Case {
        name: "5×1·1×3",
        need: 2 * (5 + 3),
        run: matmul_case::<5, 1, 3>,
    },
    Case {
        name: "7×8·8×6",
        need: 2 * (56 + 48),
        run: matmul_case::<7, 8, 6>,
    },
    Case {
        name: "16×9·9×16",
        need: 2 * (144 + 144),
        run: matmul_case::<16, 9, 16>,
    },
    Case {
        name: "3×32·32×2",
        need: 2 * (96 + 64),
        run: matmul_case::<3, 32, 2>,
    },
    Case {
        name: "64×8·8×1",
        need: 2 * (512 + 8),
        run: matmul_case::<64, 8, 1>,
    },
];

proptest_cases!(matmuls_vs_reference, MATMUL_CASES, 64);

fn linear_case<const N: usize, const DI: usize, const DO: usize, const BIAS: bool>(
    data: &[f32],
) -> Result<(), String> {
    let mut f = Feed::new(data);
    let mut x: Tokens<N, DI> = [[0.0; DI]; N];
    let mut w: Mat<DO, DI> = [[0.0; DI]; DO];
    let mut b = [0.0f32; DO];
    f.fill(&mut x);
    f.fill(&mut w);
    f.fill(&mut b);
    let mut y: Tokens<N, DO> = [[f32::NAN; DO]; N];
    linear(&x, &w, BIAS.then_some(&b), &mut y);
    let rb = f64s(&b);
    compare(
        "linear",
        y.flat(),
        &reference::linear(
            &f64s(x.flat()),
            &f64s(w.flat()),
            BIAS.then_some(&rb[..]),
            N,
            DI,
            DO,
        ),
    )
}

macro_rules! linear_cases {
    ($( ($n:literal, $di:literal, $do:literal, $b:literal) ),* $(,)?) => {
        &[$(Case {
            name: stringify!(tokens $n in $di out $do bias $b),
            need: $n * $di + $do * $di + $do,
            run: linear_case::<$n, $di, $do, $b>,
        },)*]
    };
}

const LINEAR_CASES: &[Case] = linear_cases!(
    (1, 1, 1, true),
    (4, 8, 16, true),   // Mix-FFN expansion
    (16, 16, 32, true), // kv = Linear(C, 2C)
    (9, 3, 5, false),
    (2, 64, 8, true),
    (5, 7, 1, false),
    (3, 512, 2, true), // long dot products
);

proptest_cases!(linear_vs_reference, LINEAR_CASES, 64);

fn softmax_case<const R: usize, const C: usize>(data: &[f32]) -> Result<(), String> {
    let mut m: Mat<R, C> = [[0.0; C]; R];
    Feed::new(data).fill_with(&mut m, |v| 10.0 * v);
    let rm = f64s(m.flat());
    let mut rows = m;
    softmax(&mut rows, Axis::Rows);
    compare(
        "softmax rows",
        rows.flat(),
        &reference::softmax_rows(&rm, R, C),
    )?;
    for (i, row) in rows.iter().enumerate() {
        let s: f64 = row.iter().map(|v| f64::from(*v)).sum();
        if (s - 1.0).abs() > 1e-5 {
            return Err(format!("row {i} sums to {s}"));
        }
    }
    let mut cols = m;
    softmax(&mut cols, Axis::Cols);
    compare(
        "softmax cols",
        cols.flat(),
        &reference::softmax_cols(&rm, R, C),
    )?;
    for c in 0..C {
        let s: f64 = cols.iter().map(|r| f64::from(r[c])).sum();
        if (s - 1.0).abs() > 1e-5 {
            return Err(format!("column {c} sums to {s}"));
        }
    }
    // softmax_in_place on a flat row agrees with the row softmax.
    let mut flat_row = m[0];
    softmax_in_place(&mut flat_row);
    if flat_row != rows[0] {
        return Err("softmax_in_place differs from softmax(Rows)".into());
    }
    Ok(())
}

macro_rules! softmax_cases {
    ($( ($r:literal, $c:literal) ),* $(,)?) => {
        &[$(Case {
            name: stringify!(($r, $c)),
            need: $r * $c,
            run: softmax_case::<$r, $c>,
        },)*]
    };
}

const SOFTMAX_CASES: &[Case] = softmax_cases!((1, 1), (1, 7), (4, 4), (3, 9), (16, 5), (8, 64));

proptest_cases!(softmax_vs_reference, SOFTMAX_CASES, 64);

/// `linear`'s documented per-output order, written out in scalar code: term `i` of each whole
/// block of 16 to partial sum `i mod 16`, the tail to partial sum 0, the two banks added, then
/// `(q0 + q2) + (q1 + q3)` with `q_k = lo_k + lo_{k+4}`, then the bias (or `+ 0.0`).
fn dot_order(x: &[f32], w: &[f32], b: f32) -> f32 {
    let (mut lo, mut hi) = ([0.0f32; 8], [0.0f32; 8]);
    let blocks = x.len() / 16;
    for k in 0..blocks {
        for l in 0..8 {
            lo[l] += x[16 * k + l] * w[16 * k + l];
            hi[l] += x[16 * k + 8 + l] * w[16 * k + 8 + l];
        }
    }
    for i in blocks * 16..x.len() {
        lo[0] += x[i] * w[i];
    }
    for l in 0..8 {
        lo[l] += hi[l];
    }
    let q = [lo[0] + lo[4], lo[1] + lo[5], lo[2] + lo[6], lo[3] + lo[7]];
    (q[0] + q[2]) + (q[1] + q[3]) + b
}

fn linear_bits<const N: usize, const DI: usize, const DO: usize>(seed: u64, bias: bool) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
    };
    let mut x = vec![[0.0f32; DI]; N];
    let mut w = vec![[0.0f32; DI]; DO];
    x.iter_mut().flatten().for_each(|v| *v = next());
    w.iter_mut().flatten().for_each(|v| *v = next());
    let b: [f32; DO] = std::array::from_fn(|_| next());
    let x: &Tokens<N, DI> = x.as_slice().try_into().unwrap();
    let w: &Mat<DO, DI> = w.as_slice().try_into().unwrap();
    let mut y = vec![[f32::NAN; DO]; N];
    let y: &mut Tokens<N, DO> = y.as_mut_slice().try_into().unwrap();
    linear(x, w, bias.then_some(&b), y);
    for (t, (xr, yr)) in x.iter().zip(y.iter()).enumerate() {
        for (o, (wr, got)) in w.iter().zip(yr).enumerate() {
            let want = dot_order(xr, wr, if bias { b[o] } else { 0.0 });
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{N}x{DI}->{DO} bias {bias}: token {t} output {o}: {got} vs {want}"
            );
        }
    }
}

/// `linear` (eight outputs per vector) has the bits of one fixed-order dot product per output
/// on every per-token linear shape of the networks (q / proj `C → C`, kv `C → 2C`, C = 8 … 128)
/// and on shapes with a dot tail, outputs past the last eight, and fewer than eight outputs.
#[test]
fn linear_has_the_dot_order_bit_for_bit() {
    for bias in [true, false] {
        linear_bits::<40, 8, 8>(1, bias);
        linear_bits::<40, 8, 16>(2, bias);
        linear_bits::<40, 16, 16>(3, bias);
        linear_bits::<40, 16, 32>(4, bias);
        linear_bits::<24, 32, 32>(5, bias);
        linear_bits::<24, 32, 64>(6, bias);
        linear_bits::<16, 64, 64>(7, bias);
        linear_bits::<16, 64, 128>(8, bias);
        linear_bits::<8, 128, 128>(9, bias);
        linear_bits::<8, 128, 256>(10, bias);
        linear_bits::<5, 20, 12>(11, bias);
        linear_bits::<3, 7, 9>(12, bias);
        linear_bits::<4, 33, 4>(13, bias);
        linear_bits::<2, 1, 1>(14, bias);
    }
}
