//! Losses against hand-computed values and by finite-difference gradient checks.

mod nn_support;

use dfdx::prelude::*;
use hepaseg::nn::ParamStore;
use hepaseg::train::loss::{bce_with_logits, soft_dice, soft_iou};
use hepaseg::train::{LossConfig, LossKind};
use nn_support::{flat, gradcheck, tensor};

type Map4 = Tensor<(usize, usize, usize, usize), f64, Cpu>;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn fixture(dev: &Cpu) -> (Map4, Map4, Vec<f64>, Vec<f64>) {
    // two samples of 2×2 logits and binary targets
    let x = vec![0.0, 2.0, -1.0, 3.0, -4.0, 0.5, 1.0, -0.25];
    let t = vec![0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0];
    (
        dev.tensor_from_vec(x.clone(), (2, 1, 2, 2)),
        dev.tensor_from_vec(t.clone(), (2, 1, 2, 2)),
        x,
        t,
    )
}

fn value(t: Tensor<(), f64, Cpu>) -> f64 {
    t.as_vec()[0]
}

#[test]
fn bce_by_hand() {
    let dev = Cpu::default();
    let (x, t, _, _) = fixture(&dev);
    // ln 2, ln(1+e⁻²), ln(1+e), 3+ln(1+e⁻³), 4·0+ln(1+e⁻⁴), 0.5+ln(1+e^−0.5), ln(1+e⁻¹), 0.25+ln(1+e^−0.25)
    let terms = [
        std::f64::consts::LN_2,
        0.126_928_011_042_972_5,
        1.313_261_687_518_222_8,
        3.048_587_351_573_742,
        0.018_149_927_917_809_738,
        0.974_076_984_180_106_7,
        0.313_261_687_518_222_8,
        0.825_939_419_878_843_6,
    ];
    let expected = terms.iter().sum::<f64>() / 8.0;
    let got = value(bce_with_logits(x, t).unwrap());
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    // large logits stay finite
    let big: Map4 = dev.tensor_from_vec(vec![1000.0, -1000.0], (1, 1, 1, 2));
    let tt: Map4 = dev.tensor_from_vec(vec![0.0, 1.0], (1, 1, 1, 2));
    let got = value(bce_with_logits(big, tt).unwrap());
    assert!((got - 1000.0).abs() < 1e-9, "{got}");
}

#[test]
fn dice_and_iou_by_hand() {
    let dev = Cpu::default();
    let (x, t, xv, tv) = fixture(&dev);
    let s = 1.0;
    let (mut dice, mut iou) = (0.0, 0.0);
    for n in 0..2 {
        let p: Vec<f64> = xv[n * 4..n * 4 + 4].iter().map(|v| sigmoid(*v)).collect();
        let tt = &tv[n * 4..n * 4 + 4];
        let inter: f64 = p.iter().zip(tt).map(|(a, b)| a * b).sum();
        let (ps, ts): (f64, f64) = (p.iter().sum(), tt.iter().sum());
        dice += (2.0 * inter + s) / (ps + ts + s) / 2.0;
        iou += (inter + s) / (ps + ts - inter + s) / 2.0;
    }
    let got = value(soft_dice(x.clone(), t.clone(), s).unwrap());
    assert!((got - (1.0 - dice)).abs() < 1e-12);
    let got = value(soft_iou(x.clone(), t.clone(), s).unwrap());
    assert!((got - (1.0 - iou)).abs() < 1e-12);
    let both = value(
        LossConfig::new(LossKind::BceDice)
            .compute(x.clone(), t.clone())
            .unwrap(),
    );
    let bce = value(bce_with_logits(x.clone(), t.clone()).unwrap());
    assert!((both - (bce + 1.0 - dice)).abs() < 1e-12);
    // pooled ("batch") Dice: one score from the sums over both samples
    let p: Vec<f64> = xv.iter().map(|v| sigmoid(*v)).collect();
    let inter: f64 = p.iter().zip(&tv).map(|(a, b)| a * b).sum();
    let (ps, ts): (f64, f64) = (p.iter().sum(), tv.iter().sum());
    let batch_dice = (2.0 * inter + s) / (ps + ts + s);
    let pooled = LossConfig::new(LossKind::BceDice).with_pooled(true);
    let got = value(pooled.compute(x.clone(), t.clone()).unwrap());
    assert!((got - (bce + 1.0 - batch_dice)).abs() < 1e-12, "{got}");
    assert!(
        (batch_dice - dice).abs() > 1e-3,
        "the fixture must tell the two apart"
    );
    // confident and right → ~0; empty target, confident negative → smoothing gives ~0 too
    let right: Map4 = dev.tensor_from_vec(vec![30.0, -30.0, -30.0, -30.0], (1, 1, 2, 2));
    let target: Map4 = dev.tensor_from_vec(vec![1.0, 0.0, 0.0, 0.0], (1, 1, 2, 2));
    assert!(value(soft_dice(right.clone(), target, 1.0).unwrap()) < 1e-12);
    let empty: Map4 = dev.zeros_like(&(1, 1, 2, 2));
    let neg: Map4 = dev.tensor_from_vec(vec![-30.0; 4], (1, 1, 2, 2));
    assert!(value(soft_dice(neg, empty, 1.0).unwrap()) < 1e-12);
    assert!(soft_dice(right, dev.zeros_like(&(1, 1, 2, 3)), 1.0).is_err());
    assert_eq!(LossKind::parse("bce-dice"), Some(LossKind::BceDice));
    assert!(LossKind::ALL
        .iter()
        .all(|k| LossKind::parse(k.name()) == Some(*k)));
}

#[test]
fn loss_gradients() {
    let mut s = ParamStore::<f64, Cpu>::new(Cpu::default(), 0);
    let dev = s.device().clone();
    let x = tensor(&dev, (2, 1, 3, 4), 40) * 3.0;
    let t: Map4 = dev.tensor_from_vec(
        nn_support::data(24, 41)
            .iter()
            .map(|v| if *v > 0.0 { 1.0 } else { 0.0 })
            .collect(),
        (2, 1, 3, 4),
    );
    for (kind, pooled) in LossKind::ALL
        .into_iter()
        .flat_map(|k| [(k, false), (k, true)])
    {
        let cfg = LossConfig::new(kind).with_pooled(pooled);
        let err = gradcheck(&mut s, x.clone(), &mut |_, x| {
            Ok(flat(cfg.compute(x, t.clone())?.reshape_like(&(1usize,))))
        });
        println!(
            "gradcheck loss {:10} pooled {pooled:5} rel err {err:.2e}",
            kind.name()
        );
        assert!(err < 1e-6, "{}: {err:e}", kind.name());
    }
    // BCE's derivative at x = 0 is σ(0) − t (no kink from |x|)
    let zero: Map4 = dev.zeros_like(&(1, 1, 1, 1));
    let one: Map4 = dev.ones_like(&(1, 1, 1, 1));
    let g = bce_with_logits(zero.leaky_trace(), one)
        .unwrap()
        .backward()
        .get(&zero)
        .as_vec();
    assert!((g[0] + 0.5).abs() < 1e-15);
}
