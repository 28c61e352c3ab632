//! Metrics on hand-computed cases (every expected value is derived in the comments) and the
//! exact distance transform / surface distances against brute-force references.

use hepaseg::metrics::*;
use proptest::prelude::*;

const TOL: f64 = 1e-12;

fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= TOL * expected.abs().max(1.0),
        "{actual} != {expected}"
    );
}

fn close_opt(actual: Option<f64>, expected: f64) {
    match actual {
        Some(a) => close(a, expected),
        None => panic!("None != {expected}"),
    }
}

/// An `n × n` image with the `side × side` square whose top-left pixel is (y0, x0).
fn square(n: usize, y0: usize, x0: usize, side: usize) -> Mask {
    Mask::from_fn_2d(n, n, |y, x| {
        (y0..y0 + side).contains(&y) && (x0..x0 + side).contains(&x)
    })
    .unwrap()
}

/// A 9 × 9 image with the lattice disc (y − 4)² + (x − 4)² ≤ r².
fn disc(r: usize) -> Mask {
    Mask::from_fn_2d(9, 9, |y, x| {
        let (dy, dx) = (y as i64 - 4, x as i64 - 4);
        dy * dy + dx * dx <= (r * r) as i64
    })
    .unwrap()
}

fn eval(pred: &Mask, gt: &Mask) -> CaseMetrics {
    evaluate(pred, gt, &EvalOptions::default()).unwrap()
}

fn eval_with(pred: &Mask, gt: &Mask, policy: EmptyPolicy) -> CaseMetrics {
    evaluate(
        pred,
        gt,
        &EvalOptions {
            empty_policy: policy,
        },
    )
    .unwrap()
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn identical_squares() {
    // A 4×4 square against itself in a 12×12 image: tp = 16, fp = fn = 0, tn = 128.
    // Dice = IoU = precision = recall = specificity = F1 = 1, VOE = RVD = 0; every surface
    // voxel (16 − the 2×2 interior = 12 per mask) lies on the other surface: distances 0.
    let a = square(12, 3, 3, 4);
    let m = eval(&a, &a);
    assert_eq!(
        m.confusion,
        Confusion {
            tp: 16,
            fp: 0,
            fn_: 0,
            tn: 128
        }
    );
    let s = m.scores;
    for v in [s.dice, s.iou, s.precision, s.recall, s.specificity, s.f1] {
        close(v, 1.0);
    }
    close(s.voe, 0.0);
    close_opt(s.rvd, 0.0);
    close_opt(s.assd, 0.0);
    close_opt(s.hausdorff, 0.0);
    close_opt(s.hd95, 0.0);
    assert_eq!((m.pred_surface_voxels, m.gt_surface_voxels), (12, 12));
    assert_eq!(m.unit, DistanceUnit::Voxel);
}

#[test]
fn square_shifted_by_two() {
    // A = 6×6 square, rows 3..=8, cols 3..=8; B = A shifted right by k = 2 (cols 5..=10);
    // 16×16 image. Overlap = 6·(6 − 2) = 24, |A| = |B| = 36, union = 48, tn = 256 − 48 = 208.
    // Dice = 2·24/72 = 2/3, IoU = 24/48 = 1/2, VOE = 1/2, RVD = 0,
    // precision = recall = 24/36 = 2/3, specificity = 208/(208 + 12) = 208/220, F1 = Dice.
    //
    // Surface of A = its 20-pixel ring (4·6 − 4). Distance of each to the ring of B:
    //  * top row (3, 3..=8): cols 5..=8 lie on B's top row → 0 ×4; col 4 → (3,5) at 1;
    //    col 3 → 2. Same for the bottom row. Sum 2·3 = 6; values {0×8, 1×2, 2×2}.
    //  * left column (4..=7, 3): every B surface pixel has col ≥ 5, and (r, 5) is on B's left
    //    column → 2 each. Sum 8; {2×4}.
    //  * right column (4..=7, 8): inside B; nearest B surface is the top/bottom row
    //    (rows 3/8: 1, 2, 2, 1 away), B's right column (col 10: 2), B's left column (col 5: 3)
    //    → 1, 2, 2, 1. Sum 6; {1×2, 2×2}.
    //  A→B: 20 distances summing to 20; B→A is the mirror image: the same 20 values.
    // ASSD = (20 + 20)/(20 + 20) = 1; Hausdorff = 2 = k.
    // HD95: the 40 values sorted are 0×16, 1×8, 2×16; h = 0.95·39 = 37.05, v[37] = v[38] = 2
    // → 2.
    let a = square(16, 3, 3, 6);
    let b = square(16, 3, 5, 6);
    let (m, d) = evaluate_with_distances(&a, &b, &EvalOptions::default()).unwrap();
    let s = m.scores;
    close(s.dice, 2.0 / 3.0);
    close(s.iou, 0.5);
    close(s.voe, 0.5);
    close_opt(s.rvd, 0.0);
    close(s.precision, 2.0 / 3.0);
    close(s.recall, 2.0 / 3.0);
    close(s.specificity, 208.0 / 220.0);
    close(s.f1, 2.0 / 3.0);
    close_opt(s.assd, 1.0);
    close_opt(s.hausdorff, 2.0);
    close_opt(s.hd95, 2.0);
    let d = d.unwrap();
    let mut expected = vec![0.0; 8];
    expected.extend([1.0; 4]);
    expected.extend([2.0; 8]);
    assert_eq!(sorted(d.pred_to_gt()), expected);
    assert_eq!(sorted(d.gt_to_pred()), expected);
}

#[test]
fn square_shifted_by_k() {
    // Side a = 6 shifted right by k = 1..=5 (a 6-row square at rows 3..=8 in a 20×20 image).
    // Dice = 2·6(6 − k)/72 = (6 − k)/6. A→B distances (B→A mirrors them):
    //  * each of the top and bottom rows: k, k − 1, …, 1 and then 0s → k(k + 1)/2 per row;
    //  * the 4 interior pixels of A's left column: k each (B's left column, same row) → 4k;
    //  * the 4 interior pixels of A's right column (col 3 + 5) at row offsets i = 1..=4:
    //    min(i, 5 − i, k, 5 − k) (B's top/bottom rows, right and left columns);
    //    k = 1: 1,1,1,1 → 4; k = 2: 1,2,2,1 → 6; k = 3: 1,2,2,1 → 6; k = 4: 1,1,1,1 → 4;
    //    k = 5: col 8 is B's left column → 0.
    //  Sums: k=1: 2 + 4 + 4 = 10; k=2: 6 + 8 + 6 = 20; k=3: 12 + 12 + 6 = 30;
    //        k=4: 20 + 16 + 4 = 40; k=5: 30 + 20 + 0 = 50 — i.e. 10k over 20 pixels, so
    //  ASSD = 2·10k / 40 = k/2. Hausdorff = k: nothing exceeds k (every A-ring pixel p has
    //  p + (0, k) on B's ring) and the left column reaches k. HD95: k occurs at least 6 times
    //  per direction (one per row end, four in the left column), so v[37] = v[38] = k.
    for k in 1..=5 {
        let m = eval(&square(20, 3, 3, 6), &square(20, 3, 3 + k, 6));
        let kf = k as f64;
        close(m.scores.dice, (6.0 - kf) / 6.0);
        close_opt(m.scores.assd, kf / 2.0);
        close_opt(m.scores.hausdorff, kf);
        close_opt(m.scores.hd95, kf);
    }
}

#[test]
fn physical_spacing_in_2d() {
    // The k = 2 shift with 0.5 mm pixels: every distance halves → ASSD 0.5, Hausdorff 1.0.
    // The z component (9.0) is not used by a 2D mask.
    let a = square(16, 3, 3, 6).with_spacing([9.0, 0.5, 0.5]).unwrap();
    let b = square(16, 3, 5, 6);
    let m = eval(&a, &b);
    assert_eq!(m.unit, DistanceUnit::Physical);
    close_opt(m.scores.assd, 0.5);
    close_opt(m.scores.hausdorff, 1.0);
    close_opt(m.scores.hd95, 1.0);
}

#[test]
fn two_concentric_discs() {
    // Lattice discs about (4, 4) in a 9×9 image; pred = radius 1, gt = radius 3.
    // |r=1| = 5 (the plus shape). |r=3|: rows dy = 0: |dx| ≤ 3 → 7; dy = ±1: dx² ≤ 8 → 5 each;
    // dy = ±2: dx² ≤ 5 → 5 each; dy = ±3: 1 each → 7 + 10 + 10 + 2 = 29.
    // tp = 5, fp = 0, fn = 24, tn = 81 − 29 = 52.
    // Dice = 10/34 = 5/17, IoU = 5/29, RVD = (5 − 29)/29 = −24/29, precision = 5/5 = 1,
    // recall = 5/29, specificity = 52/52 = 1.
    //
    // Surfaces (offsets from the centre): r=1 → the four arms (0,±1), (±1,0) (the centre's four
    // neighbours are in). r=3 → 16 pixels: (0,±3), (±3,0) [neighbour (0,±4) etc. outside],
    // (±1,±2), (±2,±1) [e.g. (1,3): 10 > 9 outside], (±2,±2) [(3,2): 13 > 9]; the interior is
    // the 13-pixel radius-2 disc.
    // big → small: (0,3) → (0,1): 2 [×4 with (3,0) etc.]; (1,2) → (0,1): √2 [×8 with (2,1)];
    //   (2,2) → (0,1) or (1,0): √5 [×4]. Sum 8 + 8√2 + 4√5.
    // small → big: (0,1) → (1,2) or (−1,2): √2 [(0,3) is 2 away] [×4]. Sum 4√2.
    // ASSD = (8 + 12√2 + 4√5)/(16 + 4) = (2 + 3√2 + √5)/5 ≈ 1.69574. (medpy's assd, the mean
    // of the two directed means, would give ((8 + 8√2 + 4√5)/16 + √2)/2 instead.)
    // Hausdorff = √5. HD95: sorted 20 values √2×12, 2×4, √5×4; h = 0.95·19 = 18.05,
    // v[18] = v[19] = √5 → √5.
    let small = disc(1);
    let big = disc(3);
    assert_eq!((small.count(), big.count()), (5, 29));
    let m = eval(&small, &big);
    assert_eq!(
        m.confusion,
        Confusion {
            tp: 5,
            fp: 0,
            fn_: 24,
            tn: 52
        }
    );
    let s = m.scores;
    close(s.dice, 5.0 / 17.0);
    close(s.iou, 5.0 / 29.0);
    close(s.voe, 24.0 / 29.0);
    close_opt(s.rvd, -24.0 / 29.0);
    close(s.precision, 1.0);
    close(s.recall, 5.0 / 29.0);
    close(s.specificity, 1.0);
    assert_eq!((m.pred_surface_voxels, m.gt_surface_voxels), (4, 16));
    let (r2, r5) = (2f64.sqrt(), 5f64.sqrt());
    close_opt(s.assd, (2.0 + 3.0 * r2 + r5) / 5.0);
    close_opt(s.hausdorff, r5);
    close_opt(s.hd95, r5);
    // Swapping prediction and truth leaves the symmetric metrics alone, RVD becomes 24/5.
    let swapped = eval(&big, &small).scores;
    close_opt(swapped.assd, (2.0 + 3.0 * r2 + r5) / 5.0);
    close_opt(swapped.rvd, 24.0 / 5.0);
    close(swapped.precision, 5.0 / 29.0);
}

/// Boxes z 1..=3 (A) and 2..=4 (B), y and x 1..=4, in a 6×6×6 volume.
fn boxes() -> (Mask, Mask) {
    let inner = |v: usize| (1..=4).contains(&v);
    let a = Mask::from_fn_3d([6, 6, 6], |z, y, x| {
        (1..=3).contains(&z) && inner(y) && inner(x)
    });
    let b = Mask::from_fn_3d([6, 6, 6], |z, y, x| {
        (2..=4).contains(&z) && inner(y) && inner(x)
    });
    (a.unwrap(), b.unwrap())
}

#[test]
fn anisotropic_boxes_3d() {
    // |A| = |B| = 3·4·4 = 48, overlap z ∈ {2, 3} → 32: Dice = 64/96 = 2/3.
    // Surface of A (6-neighbourhood): all but the interior z = 2, y, x ∈ {2, 3} → 44 voxels.
    // Spacing (z, y, x) = (2.5, 0.5, 0.5). A → surface of B:
    //  * A's bottom face z = 1 (16): B has no voxel below z = 2, and B's face z = 2 is surface
    //    → 2.5 each, sum 40;
    //  * A's ring at z = 2 (12): B's face z = 2 is all surface → 0;
    //  * A's top face z = 3: its ring (12) is B's ring at z = 3 → 0; its 4 inner voxels are
    //    interior to B, nearest B surface is its ring one pixel away in-plane → 0.5 (B's faces
    //    z = 2, 4 are 2.5 away). Sum 2.
    //  A→B sum 42 over 44; B→A mirrors it (B's top face z = 4 is 2.5 from A's top face z = 3).
    // ASSD = 84/88 = 21/22; Hausdorff = 2.5; HD95: the 88 values are 0×48, 0.5×8, 2.5×32,
    // h = 0.95·87 = 82.65, v[82] = v[83] = 2.5 → 2.5.
    // Isotropic spacing would score the 4 inner voxels 1 like the faces: ASSD 40/88 = 5/11,
    // Hausdorff 1 — checked below without spacing.
    let (a, b) = boxes();
    let m = eval(
        &a.clone().with_spacing([2.5, 0.5, 0.5]).unwrap(),
        &b.clone().with_spacing([2.5, 0.5, 0.5]).unwrap(),
    );
    assert_eq!(m.rank, Rank::D3);
    close(m.scores.dice, 2.0 / 3.0);
    assert_eq!((m.pred_surface_voxels, m.gt_surface_voxels), (44, 44));
    close_opt(m.scores.assd, 21.0 / 22.0);
    close_opt(m.scores.hausdorff, 2.5);
    close_opt(m.scores.hd95, 2.5);
    assert_eq!(m.unit, DistanceUnit::Physical);
    let unit = eval(&a, &b);
    close_opt(unit.scores.assd, 5.0 / 11.0);
    close_opt(unit.scores.hausdorff, 1.0);
    assert_eq!(unit.unit, DistanceUnit::Voxel);
}

#[test]
fn per_slice_evaluation_and_aggregation() {
    // Slice by slice (pred A, gt B): z = 0, 5 both empty → Dice 1; z = 1 only A → Dice 0,
    // RVD undefined; z = 2, 3 the same 4×4 square → Dice 1; z = 4 only B → Dice 0, RVD −1.
    // Per-slice mean Dice = 4/6 = 2/3; pooled counts equal the volume's → global Dice 2/3.
    // RVD mean over the 5 defined slices: (0 + 0 + 0 − 1 + 0)/5 = −0.2; global RVD 0.
    // Surface (LiTS zeros on empty slices): every slice has ASSD 0 → mean 0; only z = 2, 3
    // pool distances (12 + 12 zeros each) → global ASSD 0.
    let (a, b) = boxes();
    let rows = evaluate_slices(&a, &b, &EvalOptions::default()).unwrap();
    let dice: Vec<f64> = rows.iter().map(|r| r.scores.dice).collect();
    assert_eq!(dice, vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0]);
    assert_eq!(rows[1].scores.rvd, None);
    assert_eq!(rows[4].scores.rvd, Some(-1.0));
    assert!(rows.iter().all(|r| r.rank == Rank::D2));

    let mut acc = Accumulator::new(EvalOptions::default());
    for z in 0..6 {
        acc.evaluate(&a.slice(z).unwrap(), &b.slice(z).unwrap())
            .unwrap();
    }
    let agg = acc.finish().unwrap();
    assert_eq!(agg.cases, 6);
    close(agg.per_case_mean.dice, 2.0 / 3.0);
    close(agg.global.dice, 2.0 / 3.0);
    close_opt(agg.per_case_mean.rvd, -0.2);
    close_opt(agg.global.rvd, 0.0);
    close_opt(agg.per_case_mean.assd, 0.0);
    close_opt(agg.global.assd, 0.0);
    assert_eq!(agg.surface_cases_pooled, 2);
}

#[test]
fn one_empty_mask() {
    // pred empty, gt = 4×4 square in 8×8: tp = 0, fp = 0, fn = 16, tn = 48.
    // Dice = 0/16 = 0, IoU = 0, VOE = 1, RVD = (0 − 16)/16 = −1, precision = 0/0 with fn > 0
    // → 0, recall = 0/16 = 0, specificity = 48/48 = 1, F1 = 0.
    // Surface metrics: no surface pair — LiTS default 0; Skip → None; Nan → NaN.
    let empty = Mask::from_fn_2d(8, 8, |_, _| false).unwrap();
    let sq = square(8, 2, 2, 4);
    let m = eval(&empty, &sq);
    let s = m.scores;
    assert_eq!(
        (
            s.dice,
            s.iou,
            s.voe,
            s.rvd,
            s.precision,
            s.recall,
            s.specificity,
            s.f1
        ),
        (0.0, 0.0, 1.0, Some(-1.0), 0.0, 0.0, 1.0, 0.0)
    );
    assert_eq!(
        (s.assd, s.hausdorff, s.hd95),
        (Some(0.0), Some(0.0), Some(0.0))
    );
    assert_eq!((m.pred_surface_voxels, m.gt_surface_voxels), (0, 0));
    let skip = eval_with(&empty, &sq, EmptyPolicy::Skip).scores;
    assert_eq!((skip.assd, skip.hausdorff, skip.hd95), (None, None, None));
    let nan = eval_with(&empty, &sq, EmptyPolicy::Nan).scores;
    assert!([nan.assd, nan.hausdorff, nan.hd95]
        .iter()
        .all(|v| v.is_some_and(f64::is_nan)));

    // The other way round: gt empty, pred = the square: fp = 16, tn = 48.
    // Dice 0, RVD = 16/0 undefined → None, precision = 0/16 = 0, recall = 0/0 with fp > 0 → 0,
    // specificity = 48/64 = 0.75; surface metrics 0 (LiTS).
    let r = eval(&sq, &empty).scores;
    assert_eq!(
        (r.dice, r.rvd, r.precision, r.recall, r.specificity, r.assd),
        (0.0, None, 0.0, 0.0, 0.75, Some(0.0))
    );
}

#[test]
fn both_empty() {
    // tp = fp = fn = 0, tn = 64: every 0/0 ratio is 1 because prediction equals truth
    // (Dice 1 and IoU 1 as in medpy; precision and recall 1), VOE 0, RVD 0,
    // specificity 64/64 = 1, F-beta 1; surface metrics per policy.
    let empty = Mask::from_fn_2d(8, 8, |_, _| false).unwrap();
    let m = eval(&empty, &empty);
    let s = m.scores;
    assert_eq!(
        (
            s.dice,
            s.iou,
            s.voe,
            s.rvd,
            s.precision,
            s.recall,
            s.specificity,
            s.f1
        ),
        (1.0, 1.0, 0.0, Some(0.0), 1.0, 1.0, 1.0, 1.0)
    );
    assert_eq!(m.confusion.f_beta(2.0), Ok(1.0));
    assert_eq!(
        (s.assd, s.hausdorff, s.hd95),
        (Some(0.0), Some(0.0), Some(0.0))
    );
    let skip = eval_with(&empty, &empty, EmptyPolicy::Skip).scores;
    assert_eq!((skip.assd, skip.hausdorff, skip.hd95), (None, None, None));
    let nan = eval_with(&empty, &empty, EmptyPolicy::Nan).scores;
    assert!(nan.assd.is_some_and(f64::is_nan));
}

#[test]
fn per_case_mean_versus_global() {
    // Case 1: identical 4×4 squares — tp 16, Dice 1, ASSD 0, distances 24 × 0.
    // Case 2: the 6×6 square shifted by 2 — tp 24, fp 12, fn 12, Dice 2/3, ASSD 1, distances
    //         0×16, 1×8, 2×16 (sum 40), see `square_shifted_by_two`.
    // Case 3: both empty — Dice 1, no distances (ASSD 0 under the LiTS policy).
    // Per-case mean Dice = (1 + 2/3 + 1)/3 = 8/9; population std: deviations 1/9, −2/9, 1/9
    //   → variance (1 + 4 + 1)/(81·3) = 2/81 → std √2/9.
    // Global Dice = 2·40 / (2·40 + 12 + 12) = 80/104 = 10/13.
    // Per-case mean ASSD = (0 + 1 + 0)/3 = 1/3 (Zero policy), (0 + 1)/2 = 1/2 (Skip policy).
    // Pooled distances: 40 × 0, 8 × 1, 16 × 2 (n = 64, sum 40): global ASSD = 40/64 = 5/8,
    //   Hausdorff 2, HD95: h = 0.95·63 = 59.85, v[59] = v[60] = 2 → 2. Two cases pooled.
    let cases = [
        (square(12, 3, 3, 4), square(12, 3, 3, 4)),
        (square(16, 3, 3, 6), square(16, 3, 5, 6)),
        (
            Mask::from_fn_2d(8, 8, |_, _| false).unwrap(),
            Mask::from_fn_2d(8, 8, |_, _| false).unwrap(),
        ),
    ];
    let run = |policy| {
        let mut acc = Accumulator::new(EvalOptions {
            empty_policy: policy,
        });
        for (p, g) in &cases {
            acc.evaluate(p, g).unwrap();
        }
        acc.finish().unwrap()
    };
    let agg = run(EmptyPolicy::Zero);
    assert_eq!(agg.cases, 3);
    close(agg.per_case_mean.dice, 8.0 / 9.0);
    close(agg.per_case_std.dice, 2f64.sqrt() / 9.0);
    close(agg.global.dice, 10.0 / 13.0);
    assert_eq!(
        agg.global_confusion,
        Confusion {
            tp: 40,
            fp: 12,
            fn_: 12,
            tn: 128 + 208 + 64
        }
    );
    close_opt(agg.per_case_mean.assd, 1.0 / 3.0);
    close_opt(agg.global.assd, 5.0 / 8.0);
    close_opt(agg.global.hausdorff, 2.0);
    close_opt(agg.global.hd95, 2.0);
    assert_eq!(agg.surface_cases_pooled, 2);

    let skip = run(EmptyPolicy::Skip);
    close_opt(skip.per_case_mean.assd, 0.5);
    close_opt(skip.global.assd, 5.0 / 8.0);
}

#[test]
fn pooled_surface_metrics_follow_the_policy_when_nothing_pools() {
    let empty = Mask::from_fn_2d(4, 4, |_, _| false).unwrap();
    for (policy, expected) in [(EmptyPolicy::Zero, Some(0.0)), (EmptyPolicy::Skip, None)] {
        let mut acc = Accumulator::new(EvalOptions {
            empty_policy: policy,
        });
        acc.evaluate(&empty, &empty).unwrap();
        let agg = acc.finish().unwrap();
        assert_eq!(agg.global.assd, expected);
        assert_eq!(agg.surface_cases_pooled, 0);
    }
}

#[test]
fn hd95_of_a_known_set() {
    // numpy.percentile([0, 0, 1, 1, 2, 2, 3, 10], 95): h = 0.95·7 = 6.65, v[6] = 3, v[7] = 10
    // → 3 + 0.65·7 = 7.55.
    close(
        percentile(&[10.0, 0.0, 2.0, 1.0, 3.0, 0.0, 1.0, 2.0], 95.0).unwrap(),
        7.55,
    );
}

#[test]
fn mismatched_inputs_are_errors() {
    let a = square(8, 1, 1, 2);
    let b = square(9, 1, 1, 2);
    assert!(matches!(
        evaluate(&a, &b, &EvalOptions::default()),
        Err(MetricsError::ShapeMismatch { .. })
    ));
    let v = Mask::from_fn_3d([1, 8, 8], |_, y, x| y < 2 && x < 2).unwrap();
    assert!(matches!(
        evaluate(&a, &v, &EvalOptions::default()),
        Err(MetricsError::ShapeMismatch { .. })
    ));
    let p = a.clone().with_spacing([1.0, 0.7, 0.7]).unwrap();
    let g = a.with_spacing([1.0, 0.8, 0.8]).unwrap();
    assert!(matches!(
        evaluate(&p, &g, &EvalOptions::default()),
        Err(MetricsError::SpacingMismatch { .. })
    ));
}

#[test]
fn case_metrics_serialise_flat() {
    let sq = square(8, 2, 2, 4);
    let empty = Mask::from_fn_2d(8, 8, |_, _| false).unwrap();
    let json = serde_json::to_value(eval(&sq, &empty)).unwrap();
    assert_eq!(json["dice"], 0.0);
    assert!(json["rvd"].is_null());
    assert_eq!(json["confusion"]["fp"], 16);
    assert_eq!(json["confusion"]["fn"], 0);
    assert_eq!(json["unit"], "voxel");
    assert_eq!(json["rank"], "d2");
}

// ---- brute-force references (test-only) ----

/// min over foreground voxels q of Σ (s_k (p_k − q_k))², for every p.
fn brute_squared_edt(mask: &Mask, s: [f64; 3]) -> Vec<f64> {
    let [nz, ny, nx] = mask.dims();
    let coords = |i: usize| [i / (ny * nx), (i / nx) % ny, i % nx];
    let fg: Vec<[usize; 3]> = (0..mask.voxels())
        .filter(|&i| mask.data()[i])
        .map(coords)
        .collect();
    let _ = nz;
    (0..mask.voxels())
        .map(|i| {
            let p = coords(i);
            fg.iter()
                .map(|q| {
                    (0..3)
                        .map(|k| (s[k] * (p[k] as f64 - q[k] as f64)).powi(2))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}

/// Surface by definition: foreground with a face neighbour (in-plane for 2D) that is
/// background or off the image.
fn brute_surface(mask: &Mask) -> Vec<[usize; 3]> {
    let [nz, ny, nx] = mask.dims();
    let mut out = Vec::new();
    let steps: &[[i64; 3]] = if mask.rank() == Rank::D3 {
        &[
            [1, 0, 0],
            [-1, 0, 0],
            [0, 1, 0],
            [0, -1, 0],
            [0, 0, 1],
            [0, 0, -1],
        ]
    } else {
        &[[0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]
    };
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                if mask.get(z, y, x) != Some(true) {
                    continue;
                }
                let open = steps.iter().any(|d| {
                    let n = [z as i64 + d[0], y as i64 + d[1], x as i64 + d[2]];
                    n.iter().any(|&c| c < 0)
                        || mask.get(n[0] as usize, n[1] as usize, n[2] as usize) != Some(true)
                });
                if open {
                    out.push([z, y, x]);
                }
            }
        }
    }
    out
}

/// For each point of `from`, the distance to the nearest point of `to` (pair search).
fn brute_directed(from: &[[usize; 3]], to: &[[usize; 3]], s: [f64; 3]) -> Vec<f64> {
    from.iter()
        .map(|p| {
            to.iter()
                .map(|q| {
                    (0..3)
                        .map(|k| (s[k] * (p[k] as f64 - q[k] as f64)).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}

fn mask_strategy() -> impl Strategy<Value = Mask> {
    (
        any::<bool>(),
        1usize..=4,
        1usize..=9,
        1usize..=9,
        0.05f64..0.95,
    )
        .prop_flat_map(|(three_d, nz, ny, nx, density)| {
            let nz = if three_d { nz } else { 1 };
            proptest::collection::vec(proptest::bool::weighted(density), nz * ny * nx).prop_map(
                move |data| {
                    if three_d {
                        Mask::from_bools_3d([nz, ny, nx], &data).unwrap()
                    } else {
                        Mask::from_bools_2d(ny, nx, &data).unwrap()
                    }
                },
            )
        })
}

fn spacing_strategy() -> impl Strategy<Value = [f64; 3]> {
    [0.2f64..3.0, 0.2f64..3.0, 0.2f64..3.0]
}

/// Two masks of one random shape and rank.
fn pair_strategy() -> impl Strategy<Value = (Mask, Mask)> {
    mask_strategy().prop_flat_map(|a| {
        let (rank, dims) = (a.rank(), a.dims());
        let n = a.voxels();
        (
            Just(a),
            proptest::collection::vec(any::<bool>(), n).prop_map(move |data| {
                let d: Vec<u8> = data.iter().map(|&v| u8::from(v)).collect();
                match rank {
                    Rank::D2 => Mask::from_u8_2d(dims[1], dims[2], &d).unwrap(),
                    Rank::D3 => Mask::from_u8_3d(dims, &d).unwrap(),
                }
            }),
        )
    })
}

fn assert_all_close(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        if e.is_infinite() {
            assert_eq!(a, e);
        } else {
            assert!((a - e).abs() <= 1e-9 * e.max(1.0), "{a} != {e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn edt_matches_brute_force(mask in mask_strategy(), s in spacing_strategy()) {
        let fast = squared_edt(&mask, s).unwrap();
        assert_all_close(&fast, &brute_squared_edt(&mask, s));
    }

    #[test]
    fn surface_distances_match_brute_force((pred, gt) in pair_strategy(), s in spacing_strategy()) {
        let (sp, sg) = (brute_surface(&pred), brute_surface(&gt));
        // The library's surface equals the definition.
        let lib: Vec<bool> = surface(&pred).data().to_vec();
        let [_, ny, nx] = pred.dims();
        let mut by_def = vec![false; pred.voxels()];
        for p in &sp {
            by_def[(p[0] * ny + p[1]) * nx + p[2]] = true;
        }
        prop_assert_eq!(lib, by_def);

        let d = SurfaceDistances::compute(&pred, &gt, s).unwrap();
        if sp.is_empty() || sg.is_empty() {
            prop_assert!(d.is_none());
        } else {
            let d = d.unwrap();
            let ab = brute_directed(&sp, &sg, s);
            let ba = brute_directed(&sg, &sp, s);
            assert_all_close(d.pred_to_gt(), &ab);
            assert_all_close(d.gt_to_pred(), &ba);
            let all: Vec<f64> = ab.iter().chain(&ba).copied().collect();
            let assd = all.iter().sum::<f64>() / all.len() as f64;
            let hd = all.iter().copied().fold(0.0, f64::max);
            assert_all_close(&[d.assd(), d.hausdorff()], &[assd, hd]);
        }
    }
}

/// Not a check: times a liver-sized case. Run with
/// `cargo test --release -p hepaseg --test metrics -- --ignored --nocapture`.
#[test]
#[ignore]
fn runtime_of_a_large_volume() {
    let dims = [120, 512, 512];
    let ball = |c: [f64; 3], r: f64| {
        Mask::from_fn_3d(dims, move |z, y, x| {
            let d = [
                (z as f64 - c[0]) * 2.0,
                (y as f64 - c[1]) * 0.7,
                (x as f64 - c[2]) * 0.7,
            ];
            d.iter().map(|v| v * v).sum::<f64>() <= r * r
        })
        .unwrap()
        .with_spacing([2.0, 0.7, 0.7])
        .unwrap()
    };
    let gt = ball([60.0, 256.0, 256.0], 100.0);
    let pred = ball([62.0, 250.0, 260.0], 95.0);
    let t = std::time::Instant::now();
    let m = evaluate(&pred, &gt, &EvalOptions::default()).unwrap();
    println!(
        "{:?} volume, {} + {} surface voxels: {:.2?} \
         (Dice {:.4}, ASSD {:.3} mm, HD {:.3} mm, HD95 {:.3} mm)",
        dims,
        m.pred_surface_voxels,
        m.gt_surface_voxels,
        t.elapsed(),
        m.scores.dice,
        m.scores.assd.unwrap_or(f64::NAN),
        m.scores.hausdorff.unwrap_or(f64::NAN),
        m.scores.hd95.unwrap_or(f64::NAN)
    );
}
