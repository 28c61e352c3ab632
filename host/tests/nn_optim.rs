//! Optimizers, clipping and non-finite checks against hand-computed PyTorch steps, state
//! export/import, and a short end-to-end fit.

mod nn_support;

use dfdx::prelude::*;
use hepaseg::nn::{BatchNorm2d, Conv2d, ConvConfig, Init, ParamGrads, ParamId, ParamStore};
use hepaseg::train::{
    check_loss, clip_grad_norm, grad_norm, AdamConfig, LossConfig, LossKind, Optimizer,
    OptimizerKind, Schedule, SgdConfig, TrainError,
};
use hepaseg_core::params::Role;

type Store = ParamStore<f64, Cpu>;

/// A store with one 2-element parameter `w` = `init`.
fn one_param(init: [f64; 2]) -> (Store, ParamId) {
    let mut s = Store::new(Cpu::default(), 0);
    let id = s
        .register("w", &[2], Role::LinearWeight, Init::Zeros)
        .unwrap();
    s.set_values_f64(id, &init).unwrap();
    (s, id)
}

/// Gradients of `L = Σ c ⊙ w²/2`, i.e. `g = c ⊙ w`.
fn quad_grads(s: &Store, id: ParamId, c: [f64; 2]) -> ParamGrads<f64, Cpu> {
    let w = s.flat(id).unwrap().leaky_traced();
    let ct = s.device().tensor_from_vec(c.to_vec(), (2,));
    let loss = (w.square() * ct).sum::<(), _>() * 0.5;
    s.collect_grads(loss.backward()).unwrap()
}

fn close(a: &[f64], b: &[f64]) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
    }
}

#[test]
fn sgd_momentum_two_steps_by_hand() {
    // PyTorch SGD(lr=0.1, momentum=0.9, weight_decay=0.01), L = Σ c⊙w²/2 with c = (1, 2):
    // step 1: g = c⊙w + 0.01w = (1.01, −2.01); buf = g; w = (1, −1) − 0.1·buf = (0.899, −0.799)
    // step 2: g = (0.899·1.01, −0.799·2.01) = (0.90799, −1.60599);
    //         buf = 0.9·(1.01, −2.01) + g = (1.81699, −3.41499); w = w − 0.1·buf
    let (mut s, id) = one_param([1.0, -1.0]);
    let cfg = SgdConfig {
        momentum: 0.9,
        weight_decay: 0.01,
        nesterov: false,
    };
    let mut opt = Optimizer::new(OptimizerKind::Sgd(cfg)).unwrap();
    let g = quad_grads(&s, id, [1.0, 2.0]);
    opt.step(&mut s, &g, 0.1).unwrap();
    close(&s.values_f64(id).unwrap(), &[0.899, -0.799]);
    let g = quad_grads(&s, id, [1.0, 2.0]);
    opt.step(&mut s, &g, 0.1).unwrap();
    close(&s.values_f64(id).unwrap(), &[0.717_301, -0.457_501]);
    assert_eq!(opt.steps("w"), 2);
}

/// PyTorch's Adam/AdamW step for one scalar (amsgrad off), as in `torch.optim._functional`.
/// `s` = (parameter, first moment, second moment); `t` counts from 1.
fn adam_ref(s: &mut (f64, f64, f64), g: f64, t: i32, lr: f64, c: AdamConfig, decoupled: bool) {
    let (p, m, v) = (&mut s.0, &mut s.1, &mut s.2);
    let mut g = g;
    if decoupled {
        *p *= 1.0 - lr * c.weight_decay;
    } else {
        g += c.weight_decay * *p;
    }
    *m = c.betas.0 * *m + (1.0 - c.betas.0) * g;
    *v = c.betas.1 * *v + (1.0 - c.betas.1) * g * g;
    let bc1 = 1.0 - c.betas.0.powi(t);
    let bc2 = 1.0 - c.betas.1.powi(t);
    let denom = v.sqrt() / bc2.sqrt() + c.eps;
    *p -= lr / bc1 * *m / denom;
}

#[test]
fn adam_and_adamw_two_steps_by_hand() {
    let c = AdamConfig {
        betas: (0.9, 0.999),
        eps: 1e-8,
        weight_decay: 0.1,
    };
    // first Adam step by hand (L2): g = c⊙w + 0.1w = (1.1, −2.1); m̂ = g, v̂ = g²
    // ⇒ w = w − lr·g/(|g| + ε) ≈ w − 0.01·sign(g) = (0.99, −0.99)
    for (kind, decoupled) in [
        (OptimizerKind::Adam(c), false),
        (OptimizerKind::AdamW(c), true),
    ] {
        let (mut s, id) = one_param([1.0, -1.0]);
        let mut opt = Optimizer::new(kind).unwrap();
        let mut st = [(1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)];
        let coef = [1.0, 2.0];
        for t in 1..=2 {
            let g = quad_grads(&s, id, coef);
            opt.step(&mut s, &g, 0.01).unwrap();
            for (si, ci) in st.iter_mut().zip(coef) {
                let gi = ci * si.0;
                adam_ref(si, gi, t, 0.01, c, decoupled);
            }
            let p = [st[0].0, st[1].0];
            close(&s.values_f64(id).unwrap(), &p);
            if t == 1 && !decoupled {
                close(
                    &p,
                    &[
                        1.0 - 0.01 * 1.1 / (1.1 + 1e-8),
                        -1.0 + 0.01 * 2.1 / (2.1 + 1e-8),
                    ],
                );
            }
        }
    }
}

#[test]
fn optimizer_state_round_trips() {
    let c = AdamConfig::default();
    let (mut a, id) = one_param([0.5, 2.0]);
    let mut opt = Optimizer::new(OptimizerKind::Adam(c)).unwrap();
    let g = quad_grads(&a, id, [1.0, 3.0]);
    opt.step(&mut a, &g, 0.1).unwrap();
    let state = opt.export_state();
    let names: Vec<_> = state.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["w.step", "w.exp_avg", "w.exp_avg_sq"]);
    // resume in a fresh optimizer on a copy of the parameters
    let (mut b, idb) = one_param([0.0, 0.0]);
    b.set_values_f64(idb, &a.values_f64(id).unwrap()).unwrap();
    let mut resumed = Optimizer::new(OptimizerKind::Adam(c)).unwrap();
    resumed.import_state(&b, &state).unwrap();
    for _ in 0..2 {
        let g = quad_grads(&a, id, [1.0, 3.0]);
        opt.step(&mut a, &g, 0.1).unwrap();
        let g = quad_grads(&b, idb, [1.0, 3.0]);
        resumed.step(&mut b, &g, 0.1).unwrap();
    }
    // state passes through f32, so agreement is to f32 precision
    for (x, y) in a
        .values_f64(id)
        .unwrap()
        .iter()
        .zip(b.values_f64(idb).unwrap())
    {
        assert!((x - y).abs() < 1e-6, "{x} vs {y}");
    }
    let mut bad = state.clone();
    bad[1].1.pop();
    assert!(Optimizer::<f64, Cpu>::new(OptimizerKind::Adam(c))
        .unwrap()
        .import_state(&b, &bad)
        .is_err());
    assert!(Optimizer::<f64, Cpu>::new(OptimizerKind::Sgd(SgdConfig {
        momentum: 1.5,
        weight_decay: 0.0,
        nesterov: false
    }))
    .is_err());
}

#[test]
fn clipping_and_non_finite_values() {
    let (s, id) = one_param([3.0, 4.0]);
    let mut g = quad_grads(&s, id, [1.0, 1.0]); // g = (3, 4), ‖g‖ = 5
    assert!((grad_norm(&s, &g).unwrap() - 5.0).abs() < 1e-12);
    let before = clip_grad_norm(&s, &mut g, 1.0).unwrap();
    assert!((before - 5.0).abs() < 1e-12);
    let k = 1.0 / (5.0 + 1e-6);
    close(&g.values_f64(id).unwrap(), &[3.0 * k, 4.0 * k]);
    // below the threshold nothing changes
    let mut g = quad_grads(&s, id, [1.0, 1.0]);
    clip_grad_norm(&s, &mut g, 10.0).unwrap();
    close(&g.values_f64(id).unwrap(), &[3.0, 4.0]);
    // inf gradient → named error; NaN loss → error; bad lr → error
    let (mut s, id) = one_param([f64::INFINITY, 1.0]);
    let g = quad_grads(&s, id, [1.0, 1.0]);
    match grad_norm(&s, &g) {
        Err(TrainError::NonFiniteGradient { name }) => assert_eq!(name, "w"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        check_loss(f64::NAN),
        Err(TrainError::NonFiniteLoss(_))
    ));
    assert_eq!(check_loss(0.25).unwrap(), 0.25);
    let mut opt = Optimizer::new(OptimizerKind::Sgd(SgdConfig::AGCAF)).unwrap();
    assert!(opt.step(&mut s, &g, f64::NAN).is_err());
}

/// A conv–BN–ReLU–conv model on 8×8 learns a fixed mask in a few dozen Adam steps (f32).
#[test]
fn tiny_model_fits() {
    let dev = Cpu::seed_from_u64(1);
    let mut s = ParamStore::<f32, Cpu>::new(dev.clone(), 3);
    let c1 = Conv2d::new(
        &mut s,
        "c1",
        ConvConfig::new(1, 4, 3).padding(1).bias(false),
    )
    .unwrap();
    let bn = BatchNorm2d::new(&mut s, "bn", 4).unwrap();
    let c2 = Conv2d::new(&mut s, "c2", ConvConfig::new(4, 1, 1)).unwrap();
    let xs: Vec<f32> = nn_support::data(4 * 64, 7)
        .iter()
        .map(|v| *v as f32)
        .collect();
    let ys: Vec<f32> = xs
        .iter()
        .map(|v| if *v > 0.2 { 1.0 } else { 0.0 })
        .collect();
    let x: Tensor<(usize, usize, usize, usize), f32, Cpu> = dev.tensor_from_vec(xs, (4, 1, 8, 8));
    let y: Tensor<(usize, usize, usize, usize), f32, Cpu> = dev.tensor_from_vec(ys, (4, 1, 8, 8));
    let loss_cfg = LossConfig::new(LossKind::BceDice);
    let mut opt = Optimizer::new(OptimizerKind::Adam(AdamConfig::default())).unwrap();
    let schedule = Schedule::poly(0.05, 60).unwrap();
    let mut losses = Vec::new();
    for step in 0..60 {
        let h = c1.forward(&s, x.leaky_trace()).unwrap();
        let h = bn.forward(&mut s, h).unwrap().relu();
        let logits = c2.forward(&s, h).unwrap();
        let loss = loss_cfg.compute(logits, y.clone()).unwrap();
        losses.push(check_loss(f64::from(loss.as_vec()[0])).unwrap());
        let mut g = s.collect_grads(loss.backward()).unwrap();
        clip_grad_norm(&s, &mut g, 5.0).unwrap();
        opt.step(&mut s, &g, schedule.lr(step)).unwrap();
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    println!("tiny model loss {first:.4} → {last:.4}");
    assert!(last < 0.3 * first, "{first} → {last}");
}
