//! Every layer's backward against central finite differences in f64 on small shapes.
//!
//! The objective is `Σ r ⊙ layer(x)` for a fixed random `r`; the check covers the input and
//! every trainable parameter (up to 40 coordinates each). Reported errors are
//! `max |analytic − numeric| / max |analytic|`.

mod nn_support;

use dfdx::prelude::*;
use hepaseg::models::{CafctConfig, CafctNet};
use hepaseg::nn::layout::{
    concat_channels, crop, map_to_tokens, narrow_channels, split_halves, tokens_to_map,
};
use hepaseg::nn::{
    adaptive_avg_pool, adaptive_max_pool, gelu, global_avg_pool, resize_bilinear, AlignCorners,
    BatchNorm2d, Conv2d, ConvConfig, LayerNorm, Linear, Mode, NonLocal, ParamStore, Sra, SraConfig,
};
use nn_support::{directional_gradcheck, flat, gradcheck, tensor};

const TOL: f64 = 1e-6;

fn store() -> ParamStore<f64, Cpu> {
    ParamStore::new(Cpu::seed_from_u64(0), 7)
}

fn check(label: &str, err: f64) {
    println!("gradcheck {label:40} rel err {err:.2e}");
    assert!(err <= TOL, "{label}: relative gradient error {err:e}");
}

fn conv_case(label: &str, cfg: ConvConfig, x: (usize, usize, usize, usize)) {
    let mut s = store();
    let conv = Conv2d::new(&mut s, "c", cfg).unwrap();
    let x = tensor(s.device(), x, 1);
    let err = gradcheck(&mut s, x, &mut |s, x| Ok(flat(conv.forward(s, x)?)));
    check(label, err);
}

#[test]
fn conv_geometries() {
    conv_case(
        "conv 3x3 s2 p1 +bias",
        ConvConfig::new(3, 4, 3).stride(2).padding(1),
        (2, 3, 7, 6),
    );
    conv_case(
        "conv 3x3 d2 p2 g2 no bias",
        ConvConfig::new(4, 6, 3)
            .dilation(2)
            .padding(2)
            .groups(2)
            .bias(false),
        (2, 4, 6, 5),
    );
    conv_case(
        "conv 1x1 (pointwise)",
        ConvConfig::new(3, 5, 1),
        (2, 3, 4, 3),
    );
    conv_case(
        "conv 1x1 s2 (unfold)",
        ConvConfig::new(3, 4, 1).stride(2).bias(false),
        (2, 3, 5, 5),
    );
    conv_case(
        "conv depthwise 3x3 p1",
        ConvConfig::new(4, 4, 3).padding(1).groups(4),
        (2, 4, 5, 4),
    );
    conv_case(
        "conv 2x2 s2 (SRA reduce)",
        ConvConfig::new(3, 3, 2).stride(2),
        (2, 3, 4, 6),
    );
    conv_case(
        "conv 7x7 p3 (stem)",
        ConvConfig::new(1, 2, 7).padding(3).bias(false),
        (2, 1, 5, 6),
    );
}

#[test]
fn batch_norm_train_and_eval() {
    let mut s = store();
    let bn = BatchNorm2d::new(&mut s, "bn", 3).unwrap();
    // non-trivial γ, β and running statistics
    let ids = bn.ids();
    s.set_values_f64(ids[0], &[0.5, 1.5, -1.0]).unwrap();
    s.set_values_f64(ids[1], &[0.1, -0.2, 0.3]).unwrap();
    s.set_values_f64(ids[2], &[0.2, -0.1, 0.0]).unwrap();
    s.set_values_f64(ids[3], &[0.5, 2.0, 1.2]).unwrap();
    let x = tensor(s.device(), (3, 3, 4, 2), 2);
    let err = gradcheck(&mut s, x.clone(), &mut |s, x| Ok(flat(bn.forward(s, x)?)));
    check("batch norm (train)", err);
    s.set_mode(Mode::Eval);
    let err = gradcheck(&mut s, x, &mut |s, x| Ok(flat(bn.forward(s, x)?)));
    check("batch norm (eval)", err);
}

#[test]
fn layer_norm_and_linear() {
    let mut s = store();
    let ln = LayerNorm::new(&mut s, "ln", 5).unwrap();
    s.set_values_f64(ln.ids()[0], &[1.0, 0.5, -0.7, 2.0, 1.1])
        .unwrap();
    let x = tensor(s.device(), (2, 3, 5), 3);
    let err = gradcheck(&mut s, x, &mut |s, x| Ok(flat(ln.forward(s, x)?)));
    check("layer norm", err);

    let mut s = store();
    let lin = Linear::new(&mut s, "fc", 4, 3).unwrap();
    let x = tensor(s.device(), (2, 5, 4), 4);
    let err = gradcheck(&mut s, x, &mut |s, x| Ok(flat(lin.forward(s, x)?)));
    check("linear", err);
}

#[test]
fn non_local_block() {
    let mut s = store();
    let nl = NonLocal::new(&mut s, "nl", 4, 2).unwrap();
    s.set_values_f64(nl.gamma(), &[0.7]).unwrap();
    let x = tensor(s.device(), (2, 4, 3, 3), 5);
    let err = gradcheck(&mut s, x, &mut |s, x| Ok(flat(nl.forward(s, x)?)));
    check("non-local (gamma 0.7)", err);
}

#[test]
fn spatial_reduction_attention() {
    for (sr, label) in [(2, "SRA heads 2, sr 2"), (1, "SRA heads 2, sr 1")] {
        let mut s = store();
        let sra = Sra::new(
            &mut s,
            "attn",
            SraConfig {
                dim: 4,
                heads: 2,
                sr,
            },
        )
        .unwrap();
        let x = tensor(s.device(), (2, 4 * 6, 4), 6);
        let err = gradcheck(&mut s, x, &mut |s, x| Ok(flat(sra.forward(s, x, 4, 6)?)));
        check(label, err);
    }
}

#[test]
fn bilinear_both_modes() {
    for (mode, name) in [(AlignCorners::True, "true"), (AlignCorners::False, "false")] {
        for (from, to) in [((4, 5), (7, 9)), ((7, 6), (3, 4))] {
            let mut s = store();
            let x = tensor(s.device(), (2, 2, from.0, from.1), 7);
            let err = gradcheck(&mut s, x, &mut |s, x| {
                Ok(flat(resize_bilinear(s, x, to, mode)?))
            });
            check(
                &format!("bilinear align_corners={name} {from:?}→{to:?}"),
                err,
            );
        }
    }
}

#[test]
fn pooling() {
    let mut s = store();
    let x = tensor(s.device(), (2, 3, 7, 5), 8);
    let err = gradcheck(&mut s, x.clone(), &mut |s, x| {
        Ok(flat(adaptive_avg_pool(s, x, (3, 2))?))
    });
    check("adaptive avg pool 7x5→3x2", err);
    let err = gradcheck(&mut s, x.clone(), &mut |s, x| {
        Ok(flat(adaptive_max_pool(s, x, (3, 4))?))
    });
    check("adaptive max pool 7x5→3x4 (overlap)", err);
    let err = gradcheck(&mut s, x, &mut |_, x| Ok(flat(global_avg_pool(x)?)));
    check("global avg pool", err);
}

/// Exact GELU against finite differences and against the closed form
/// `Φ(x) + x·φ(x)`; and dfdx 0.13's own `accurate_gelu`, whose derivative is off by
/// `k·x·e^{−x²/2}` (see `hepaseg::nn::gelu`). If the second half fails, dfdx fixed its
/// kernel and the correction in `gelu` must go.
#[test]
fn exact_gelu_gradient() {
    let mut s = store();
    let x = tensor(s.device(), (2, 3, 4, 5), 12) * 3.0;
    let err = gradcheck(&mut s, x.clone(), &mut |_, x| Ok(flat(gelu(x)?)));
    check("GELU (exact, corrected)", err);
    let pdf = |v: f64| (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let xs = x.as_vec();
    let ours = gelu(x.leaky_trace()).unwrap().sum::<(), _>().backward();
    let theirs = x.leaky_trace().accurate_gelu().sum::<(), _>().backward();
    let (ours, theirs) = (ours.get(&x).as_vec(), theirs.get(&x).as_vec());
    let k = hepaseg::nn::gelu::dfdx_excess();
    for ((v, o), t) in xs.iter().zip(&ours).zip(&theirs) {
        // Φ(x) from the value: GELU(x)/x would divide by ~0, so use d/dx directly
        let phi_cdf = 0.5 * (1.0 + libm::erf(v / std::f64::consts::SQRT_2));
        let exact = phi_cdf + v * pdf(*v);
        assert!((o - exact).abs() < 1e-12, "gelu'({v}) = {o}, want {exact}");
        let excess = k * v * (-0.5 * v * v).exp();
        assert!(
            (t - exact - excess).abs() < 1e-12,
            "dfdx's accurate_gelu derivative changed at {v}: {t} (was exact + {excess})"
        );
    }
    let values = gelu(x.clone()).unwrap().as_vec();
    assert_eq!(
        values,
        x.accurate_gelu().as_vec(),
        "values are dfdx's bit for bit"
    );
}

#[test]
fn layout_ops() {
    let mut s = store();
    let x = tensor(s.device(), (2, 4, 3, 5), 9);
    // a crop whose source is also used elsewhere: gradients must add up
    let err = gradcheck(&mut s, x.clone(), &mut |s, x| {
        let patch = crop(s, x.retaped::<nn_support::Traced>(), 1..3, 2..5)?;
        let ch = narrow_channels(s, x.retaped::<nn_support::Traced>(), 1..3)?;
        let both = concat_channels(crop(s, ch, 1..3, 2..5)?, patch)?;
        Ok(flat(
            both * 2.0 + (x.sum::<(), _>()).broadcast_like(&(2, 6, 2, 3)),
        ))
    });
    check("crop / narrow / concat (shared input)", err);
    let err = gradcheck(&mut s, x, &mut |_, x| {
        let t = map_to_tokens(x)?;
        Ok(flat(tokens_to_map(t.square(), 3, 5)?))
    });
    check("map ↔ tokens", err);
    let t = tensor(s.device(), (2, 3, 6), 10);
    let err = gradcheck(&mut s, t, &mut |s, t| {
        let (a, b) = split_halves(s, t)?;
        Ok(flat(a * b.exp()))
    });
    check("split halves", err);
}

/// Whole CAFCT-Net (a 32 × 32, base-4 configuration with every block) in f64: every trainable
/// tensor's directional derivative against central differences, in eval mode (running BN
/// statistics, no dropout) and in train mode without the ASPP (batch statistics; the ASPP's
/// dropout would make the objective random). Catches a branch whose tape is dropped.
#[test]
fn cafct_whole_network_directional() {
    let full = CafctConfig {
        base: 4,
        size: 32,
        in_channels: 1,
        depths: [1, 1, 2, 2],
        heads: [1, 2, 4, 4],
        sr: [8, 4, 2, 1],
        aspp_rates: [1, 2, 3],
        transformer: true,
        aff: true,
        aspp: true,
        ag: true,
    };
    let cases = [
        (full, Mode::Eval, "eval, full"),
        (
            CafctConfig {
                aspp: false,
                ..full
            },
            Mode::Train,
            "train, no ASPP",
        ),
        (
            CafctConfig {
                transformer: false,
                aff: false,
                ag: false,
                ..full
            },
            Mode::Eval,
            "eval, cnn2 / plain fusion / no AG",
        ),
    ];
    for (cfg, mode, label) in cases {
        let mut s = store();
        let net = CafctNet::new(&mut s, cfg).unwrap();
        s.set_mode(mode);
        let x = tensor(s.device(), (2, 1, 32, 32), 8);
        let rows = directional_gradcheck(&mut s, x, &mut |s, x| Ok(flat(net.forward(s, x)?)));
        let scale = rows.iter().fold(0.0f64, |m, r| m.max(r.1.abs()));
        let mut worst = (0.0f64, String::new());
        for (name, a, n) in &rows {
            assert!(*a != 0.0, "{label}: `{name}` gets no gradient");
            // finite differences of a whole network carry ~1e-8·scale of rounding noise; a
            // lost branch leaves the numeric derivative unmatched (|a − n| ≈ |n|)
            assert!(
                (a - n).abs() <= 1e-6 * scale + 1e-3 * n.abs(),
                "{label}: `{name}`: analytic {a:e}, numeric {n:e}"
            );
            if (a - n).abs() / scale > worst.0 {
                worst = ((a - n).abs() / scale, name.clone());
            }
        }
        println!(
            "gradcheck cafct {label:34} {} tensors, worst |Δ|/scale {:.2e} ({})",
            rows.len(),
            worst.0,
            worst.1
        );
    }
}
