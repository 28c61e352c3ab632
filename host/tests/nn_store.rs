//! The name-addressed parameter store: registration, core-table checks, export/import,
//! batch-norm buffers, modes, and errors (never panics) for misuse.

mod nn_support;

use dfdx::prelude::*;
use hepaseg::nn::layout::crop;
use hepaseg::nn::{
    adaptive_max_pool, resize_bilinear, AlignCorners, BatchNorm2d, Conv2d, ConvConfig, Dropout,
    Init, Linear, Mode, NnError, ParamStore,
};
use hepaseg_core::nets::Network;
use hepaseg_core::params::Role;
use nn_support::{data, tensor};

fn store() -> ParamStore<f64, Cpu> {
    ParamStore::new(Cpu::seed_from_u64(0), 5)
}

#[test]
fn whole_network_tables_round_trip() {
    fn round_trip<N: Network>() {
        let table = N::PARAMS;
        let mut s = ParamStore::<f32, Cpu>::new(Cpu::seed_from_u64(0), 1);
        for spec in table {
            s.register_spec(spec, Init::Default).unwrap();
        }
        s.check_table(table).unwrap();
        assert_eq!(s.num_elements(true), N::PARAM_COUNT);
        let trainable: usize = s.trainable().map(|(_, p)| p.numel()).sum();
        assert_eq!(trainable, N::PARAM_COUNT);
        let exported = s.export_f32(table).unwrap();
        assert_eq!(exported.len(), table.len());
        for (v, spec) in exported.iter().zip(table) {
            assert_eq!(v.len(), spec.numel(), "{:?}", spec.name);
        }
        // load perturbed values into a second store and read them back
        let shifted: Vec<Vec<f32>> = exported
            .iter()
            .map(|v| v.iter().map(|x| x + 0.5).collect())
            .collect();
        let mut t = ParamStore::<f32, Cpu>::new(Cpu::seed_from_u64(0), 2);
        for spec in table {
            t.register_spec(spec, Init::Zeros).unwrap();
        }
        t.import_f32(table, &shifted).unwrap();
        assert_eq!(t.export_f32(table).unwrap(), shifted);
    }
    round_trip::<hepaseg_core::nets::agcaf::tiny::Net>();
    round_trip::<hepaseg_core::nets::cafct::tiny::Net>();
}

#[test]
fn table_mismatches_are_reported_with_their_row() {
    type Net = hepaseg_core::nets::agcaf::tiny::Net;
    let table = Net::PARAMS;
    let mut s = ParamStore::<f32, Cpu>::new(Cpu::seed_from_u64(0), 1);
    for spec in &table[..5] {
        s.register_spec(spec, Init::Default).unwrap();
    }
    match s.check_table(table) {
        Err(NnError::Table { row: 5, detail }) => assert!(detail.contains("missing"), "{detail}"),
        other => panic!("{other:?}"),
    }
    // wrong order: rows 0 and 1 swapped
    let mut s = ParamStore::<f32, Cpu>::new(Cpu::seed_from_u64(0), 1);
    s.register_spec(&table[1], Init::Default).unwrap();
    s.register_spec(&table[0], Init::Default).unwrap();
    assert!(matches!(
        s.check_table(&table[..2]),
        Err(NnError::Table { row: 0, .. })
    ));
    // an extra tensor
    let mut s = ParamStore::<f32, Cpu>::new(Cpu::seed_from_u64(0), 1);
    s.register_spec(&table[0], Init::Default).unwrap();
    s.register("extra", &[2], Role::Gate, Init::Zeros).unwrap();
    assert!(matches!(
        s.check_table(&table[..1]),
        Err(NnError::Table { row: 1, .. })
    ));
    // import of wrong lengths changes nothing
    let before = s.values_f32(s.id(table[0].name.as_str()).unwrap()).unwrap();
    let bad = vec![vec![0.0f32; 3]];
    assert!(matches!(
        s.import_f32(&table[..1], &bad),
        Err(NnError::ParamLen { .. })
    ));
    assert_eq!(
        s.values_f32(s.id(table[0].name.as_str()).unwrap()).unwrap(),
        before
    );
    assert!(matches!(
        s.import_f32(&table[..1], &[] as &[Vec<f32>]),
        Err(NnError::Table { .. })
    ));
}

#[test]
fn registration_rules() {
    let mut s = store();
    let conv = Conv2d::new(
        &mut s,
        "enc.conv",
        ConvConfig::new(4, 8, 3).groups(2).bias(false),
    )
    .unwrap();
    assert_eq!(s.param(conv.weight()).unwrap().shape(), &[8, 2, 3, 3]);
    assert_eq!(s.param(conv.weight()).unwrap().name(), "enc.conv.weight");
    assert!(conv.bias().is_none());
    assert!(matches!(
        Conv2d::new(&mut s, "enc.conv", ConvConfig::new(4, 8, 3)),
        Err(NnError::DuplicateParam(_))
    ));
    assert!(matches!(
        Conv2d::new(&mut s, "g", ConvConfig::new(4, 6, 3).groups(4)),
        Err(NnError::Config { .. })
    ));
    assert!(matches!(
        Conv2d::new(&mut s, "z", ConvConfig::new(4, 6, 3).stride(0)),
        Err(NnError::Config { .. })
    ));
    assert!(matches!(s.id("nope"), Err(NnError::UnknownParam(_))));
    let bn = BatchNorm2d::new(&mut s, "enc.bn", 8).unwrap();
    let names: Vec<_> = s.iter().map(|(_, p)| p.name().to_string()).collect();
    assert_eq!(
        names,
        [
            "enc.conv.weight",
            "enc.bn.weight",
            "enc.bn.bias",
            "enc.bn.running_mean",
            "enc.bn.running_var"
        ]
    );
    // running statistics are buffers: not trainable, cannot be made trainable
    let [w, _, rm, rv] = bn.ids();
    assert!(!s.param(rm).unwrap().is_trainable() && !s.param(rv).unwrap().is_trainable());
    assert!(s.set_trainable(rm, true).is_err());
    s.set_trainable(w, false).unwrap();
    assert_eq!(s.trainable().count(), 2);
    assert_eq!(s.values_f64(rv).unwrap(), vec![1.0; 8]);
    let lin = Linear::new(&mut s, "fc", 3, 2).unwrap();
    let bound = 1.0 / 3f64.sqrt();
    assert!(s
        .values_f64(lin.ids()[1])
        .unwrap()
        .iter()
        .all(|v| v.abs() <= bound));
}

#[test]
fn batch_norm_running_statistics_follow_pytorch() {
    let mut s = store();
    let bn = BatchNorm2d::new(&mut s, "bn", 2).unwrap();
    let x = tensor(s.device(), (2, 2, 3, 1), 3);
    let xv = x.as_vec();
    let y = bn.forward(&mut s, x.clone()).unwrap().as_vec();
    for c in 0..2 {
        let vals: Vec<f64> = (0..2)
            .flat_map(|n| xv[n * 6 + c * 3..n * 6 + c * 3 + 3].to_vec())
            .collect();
        let mean = vals.iter().sum::<f64>() / 6.0;
        let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 6.0;
        // normalised output (γ = 1, β = 0), biased variance
        let got = y[c * 3];
        assert!((got - (xv[c * 3] - mean) / (var + 1e-5).sqrt()).abs() < 1e-12);
        // running stats: momentum 0.1, unbiased variance
        let rm = s.values_f64(bn.ids()[2]).unwrap()[c];
        let rv = s.values_f64(bn.ids()[3]).unwrap()[c];
        assert!((rm - 0.1 * mean).abs() < 1e-12);
        assert!((rv - (0.9 + 0.1 * var * 6.0 / 5.0)).abs() < 1e-12);
    }
    // eval mode leaves the statistics alone and uses them
    s.set_mode(Mode::Eval);
    let rm = s.values_f64(bn.ids()[2]).unwrap();
    let _ = bn.forward(&mut s, x).unwrap();
    assert_eq!(s.values_f64(bn.ids()[2]).unwrap(), rm);
    // one value per channel cannot be normalised in training
    s.set_mode(Mode::Train);
    let one = tensor(s.device(), (1, 2, 1, 1), 4);
    assert!(matches!(
        bn.forward(&mut s, one),
        Err(NnError::Shape { .. })
    ));
}

#[test]
fn dropout_only_in_training() {
    let mut s = ParamStore::<f32, Cpu>::new(Cpu::seed_from_u64(3), 0);
    let d = Dropout::new(0.5).unwrap();
    let x: Tensor<(usize, usize, usize, usize), f32, Cpu> = s.device().ones_like(&(2, 3, 8, 8));
    let y = d.forward(&s, x.clone()).unwrap().as_vec();
    let zeros = y.iter().filter(|v| **v == 0.0).count();
    assert!(y.iter().all(|v| *v == 0.0 || *v == 2.0));
    assert!((100..284).contains(&zeros), "{zeros} of 384 dropped");
    s.set_mode(Mode::Eval);
    assert_eq!(d.forward(&s, x.clone()).unwrap().as_vec(), x.as_vec());
    assert!(
        Dropout::new(1.0).is_err()
            && Dropout::new(-0.1).is_err()
            && Dropout::new(f64::NAN).is_err()
    );
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut s = store();
    let conv = Conv2d::new(&mut s, "c", ConvConfig::new(3, 4, 5)).unwrap();
    let dev = s.device().clone();
    let wrong_channels = tensor(&dev, (1, 2, 8, 8), 1);
    assert!(matches!(
        conv.forward(&s, wrong_channels),
        Err(NnError::Shape { .. })
    ));
    let too_small = tensor(&dev, (1, 3, 3, 8), 1);
    assert!(matches!(
        conv.forward(&s, too_small),
        Err(NnError::Shape { .. })
    ));
    let x = tensor(&dev, (1, 3, 4, 4), 2);
    assert!(resize_bilinear(&s, x.clone(), (0, 3), AlignCorners::True).is_err());
    assert!(adaptive_max_pool(&s, x.clone(), (5, 2)).is_err());
    assert!(crop(&s, x.clone(), 2..6, 0..1).is_err());
    let lin = Linear::new(&mut s, "fc", 5, 2).unwrap();
    assert!(lin.forward(&s, tensor(&dev, (1, 3, 4), 3)).is_err());
    assert!(matches!(
        s.set_values_f64(conv.weight(), &data(3, 1)),
        Err(NnError::ParamLen { .. })
    ));
}

/// dfdx 0.13's CPU `slice` backward *assigns* into the input's gradient instead of adding,
/// which is why [`hepaseg::nn::layout`] crops with `gather`. If this test starts failing,
/// dfdx fixed it and the workaround may go.
#[test]
fn dfdx_cpu_slice_backward_still_overwrites() {
    let dev = Cpu::default();
    let x: Tensor<(usize,), f64, Cpu> = dev.tensor_from_vec(vec![1.0, 2.0, 3.0], (3,));
    let t = x.leaky_trace();
    let part = t.retaped::<OwnedTape<f64, Cpu>>().slice((0..2,));
    // d/dx [Σ 3x + Σ x[0..2]] = [4, 4, 3]
    let loss = (t * 3.0).sum::<(), _>() + part.sum::<(), _>();
    let g = loss.backward().get(&x).as_vec();
    assert_eq!(g, [1.0, 1.0, 3.0], "dfdx's slice backward now accumulates");
    // the gather-based crop gets it right
    let s = ParamStore::<f64, Cpu>::new(dev.clone(), 0);
    let x4: Tensor<(usize, usize, usize, usize), f64, Cpu> =
        dev.tensor_from_vec(vec![1.0, 2.0, 3.0], (1, 1, 1, 3));
    let t = x4.leaky_trace();
    let part = crop(&s, t.retaped::<OwnedTape<f64, Cpu>>(), 0..1, 0..2).unwrap();
    let loss = (t * 3.0).sum::<(), _>() + part.sum::<(), _>();
    assert_eq!(loss.backward().get(&x4).as_vec(), [4.0, 4.0, 3.0]);
}

#[test]
fn frozen_batch_norm_uses_running_statistics_in_training() {
    let mut s = store();
    let bn = BatchNorm2d::new(&mut s, "bn", 2).unwrap();
    s.set_values_f64(bn.ids()[2], &[0.5, -0.5]).unwrap();
    s.set_values_f64(bn.ids()[3], &[4.0, 0.25]).unwrap();
    s.set_batch_norm_frozen(true);
    let x = tensor(s.device(), (2, 2, 2, 2), 6);
    let y = bn.forward(&mut s, x.clone()).unwrap().as_vec();
    let xv = x.as_vec();
    for (i, (yv, xv)) in y.iter().zip(&xv).enumerate() {
        let c = (i / 4) % 2;
        let (m, v) = ([0.5, -0.5][c], [4.0, 0.25][c]);
        assert!((yv - (xv - m) / (v + 1e-5f64).sqrt()).abs() < 1e-12);
    }
    assert_eq!(s.values_f64(bn.ids()[2]).unwrap(), [0.5, -0.5]);
    assert!(s.is_training());
}

/// Mixed batch-statistics freezing: with the store's single-value option, a training-mode
/// batch norm fed one value per channel (1 × C × 1 × 1) normalises with its running statistics
/// (hand-computed) and leaves them unchanged; without it, the same input is a shape error
/// (PyTorch's refusal). A map with more values per channel keeps batch statistics either way.
#[test]
fn single_value_batch_norm_uses_running_statistics_when_enabled() {
    let mut s = store();
    let bn = BatchNorm2d::new(&mut s, "bn", 2).unwrap();
    s.set_values_f64(bn.ids()[0], &[2.0, 1.0]).unwrap(); // γ
    s.set_values_f64(bn.ids()[1], &[0.0, 1.0]).unwrap(); // β
    s.set_values_f64(bn.ids()[2], &[0.5, -0.5]).unwrap();
    s.set_values_f64(bn.ids()[3], &[4.0, 0.25]).unwrap();
    let dev = s.device().clone();
    let one: Tensor<(usize, usize, usize, usize), f64, Cpu> =
        dev.tensor_from_vec(vec![2.5, 0.5], (1, 2, 1, 1));
    assert!(matches!(
        bn.forward(&mut s, one.clone()),
        Err(NnError::Shape { .. })
    ));
    s.set_batch_norm_single_value_frozen(true);
    let y = bn.forward(&mut s, one).unwrap().as_vec();
    // γ·(x − mean)/√(var + ε) + β
    let want = [
        2.0 * (2.5 - 0.5) / (4.0 + 1e-5f64).sqrt(),
        (0.5 + 0.5) / (0.25 + 1e-5f64).sqrt() + 1.0,
    ];
    for (y, w) in y.iter().zip(want) {
        assert!((y - w).abs() < 1e-12, "{y} vs {w}");
    }
    assert_eq!(s.values_f64(bn.ids()[2]).unwrap(), [0.5, -0.5]);
    assert_eq!(s.values_f64(bn.ids()[3]).unwrap(), [4.0, 0.25]);
    // two values per channel (batch 1, 1 × 2 map): batch statistics, running ones updated
    let two: Tensor<(usize, usize, usize, usize), f64, Cpu> =
        dev.tensor_from_vec(vec![1.0, 3.0, -1.0, 1.0], (1, 2, 1, 2));
    let y = bn.forward(&mut s, two).unwrap().as_vec();
    let norm = 1.0 / (1.0 + 1e-5f64).sqrt(); // each channel: mean ±, biased variance 1
    let want = [-2.0 * norm, 2.0 * norm, 1.0 - norm, 1.0 + norm];
    for (y, w) in y.iter().zip(want) {
        assert!((y - w).abs() < 1e-12, "{y} vs {w}");
    }
    let mean = s.values_f64(bn.ids()[2]).unwrap();
    assert!(
        (mean[0] - (0.9 * 0.5 + 0.1 * 2.0)).abs() < 1e-12,
        "{mean:?}"
    );
}
