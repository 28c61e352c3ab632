//! Studies and baselines: the ablation matrices match the papers' tables and core's presets;
//! the tables' deltas are computed against the first row; U-Net and Attention U-Net build with
//! the input/output contract of the two networks, learn, and go through `train` and
//! `eval --checkpoint`; `ablate` and `compare` run end to end (step-limited) on a tiny
//! phantom set and score each row exactly as `eval --checkpoint` does.

use clap::Parser;
use dfdx::prelude::*;
use hepaseg::eval::{self, EvalArgs};
use hepaseg::models;
use hepaseg::nn::{Mode, ParamStore};
use hepaseg::registry::Model;
use hepaseg::study::{self, ablate, compare, Budget, Row};
use std::path::{Path, PathBuf};

fn budget(data: &Path, out: &Path) -> Budget {
    Budget {
        data: data.to_path_buf(),
        out: out.to_path_buf(),
        epochs: 1,
        max_minutes: None,
        max_steps: Some(4),
        batch: 4,
        seed: 7,
        target: "liver".into(),
        train_args: vec![
            "--optimizer=adam".into(),
            "--lr=0.01".into(),
            "--loss=dice".into(),
        ],
        quiet: true,
    }
}

fn presets_of(entries: Vec<study::Entry>) -> Vec<String> {
    entries.into_iter().map(|e| e.preset).collect()
}

#[test]
fn matrices_follow_the_papers_and_exist_in_core() {
    let agcaf = presets_of(ablate::matrix(Model::AgcafNet, "tiny").unwrap());
    assert_eq!(agcaf, ["tiny", "tiny-backbone", "tiny-cpm", "tiny-afm"]);
    let cafct = presets_of(ablate::matrix(Model::CafctNet, "tiny").unwrap());
    assert_eq!(
        cafct,
        [
            "tiny",
            "tiny-no-transformer",
            "tiny-no-aff",
            "tiny-no-aspp",
            "tiny-no-ag"
        ]
    );
    let e = ablate::matrix(Model::CafctNet, "edge").unwrap_err();
    assert!(e.contains("`edge`") && e.contains("tiny"), "{e}");
    let e = ablate::matrix(Model::Unet, "tiny").unwrap_err();
    assert!(e.contains("baseline"), "{e}");
}

#[test]
fn compare_entries_check_presets_and_duplicates() {
    let all = [
        Model::Unet,
        Model::AttentionUnet,
        Model::AgcafNet,
        Model::CafctNet,
    ];
    for preset in ["tiny", "edge", "paper"] {
        let e = compare::entries(&all, preset).unwrap();
        assert_eq!(e.len(), 4);
    }
    let e = compare::entries(&[Model::Unet, Model::AgcafNet], "tiny-cpm").unwrap_err();
    assert!(e.contains("unet") && e.contains("tiny-cpm"), "{e}");
    let e = compare::entries(&[Model::Unet, Model::Unet], "tiny").unwrap_err();
    assert!(e.contains("twice"), "{e}");
}

fn row(label: &str, miou: f64, dice: f64, f: f64) -> Row {
    Row {
        label: label.into(),
        model: "cafct-net".into(),
        preset: "tiny".into(),
        params: 1,
        steps: 1,
        train_minutes: 0.0,
        best_val_dice: 0.0,
        checkpoint: PathBuf::new(),
        test_slices: 1,
        miou,
        dice,
        f_measure: f,
    }
}

#[test]
fn table_deltas_are_against_the_first_row() {
    let rows = [
        row("CAFCT-Net (full)", 0.7654, 0.8429, 0.80),
        row("w/o Transformer", 0.7412, 0.8274, 0.81),
    ];
    let md = study::table(&rows, true);
    // the paper's Table 4 row: 74.12 (−2.42); Dice 82.74 against our 84.29 is −1.55
    assert!(
        md.contains("| CAFCT-Net (full) | cafct-net | tiny | 1 | 76.54 | 84.29 | 80.00 |"),
        "{md}"
    );
    assert!(
        md.contains("| w/o Transformer | cafct-net | tiny | 1 | 74.12 (-2.42) | 82.74 (-1.55) | 81.00 (+1.00) |"),
        "{md}"
    );
    let plain = study::table(&rows, false);
    assert!(plain.contains("| 74.12 | 82.74 | 81.00 |"), "{plain}");
}

#[test]
fn refuses_a_used_output_folder_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "x").unwrap();
    let a = ablate::AblateArgs {
        model: Model::AgcafNet,
        preset: "tiny".into(),
        budget: budget(&tmp.path().join("nodata"), tmp.path()),
    };
    let e = ablate::run(&a).unwrap_err();
    assert!(
        e.contains("not empty") && e.contains(&tmp.path().display().to_string()),
        "{e}"
    );
    assert!(tmp.path().join("keep.txt").exists());
}

/// Widths and parameter counts of the baselines, derived by hand: a 3×3 conv+BN unit from
/// `ci` to `co` has 9·ci·co + 2·co trainable values; a U-Net stage pair is two such units.
fn unet_params(f: usize, attention: bool) -> usize {
    let unit = |ci: usize, co: usize| 9 * ci * co + 2 * co;
    let double = |ci: usize, co: usize| unit(ci, co) + unit(co, co);
    let w = [f, 2 * f, 4 * f, 8 * f, 16 * f];
    let mut n = double(1, f);
    for i in 0..4 {
        n += double(w[i], w[i + 1]);
    }
    for i in 0..4 {
        let (cs, cu) = (w[3 - i], w[4 - i]);
        n += unit(cs + cu, cs) + unit(cs, cs);
        if attention {
            // three 1×1 convs with bias, each with BN: x→cs/2, g→cs/2, ψ→1
            let half = cs / 2;
            n += (cs * half + half + 2 * half) + (cu * half + half + 2 * half) + (half + 1 + 2);
        }
    }
    n + f + 1 // head 1×1 conv with bias
}

#[test]
fn baselines_build_with_the_networks_contract_and_counted_parameters() {
    for (model, attention) in [(Model::Unet, false), (Model::AttentionUnet, true)] {
        for (preset, f, size) in [("tiny", 8, 64), ("edge", 16, 256), ("paper", 64, 256)] {
            let id = models::identity(model, preset).unwrap();
            assert_eq!(id.size, size);
            assert_eq!(id.params, unet_params(f, attention), "{model:?} {preset}");
        }
        assert!(models::identity(model, "tiny-cpm").is_none());
    }
    // the published U-Net width: ≈ 31 M parameters with bilinear upsampling (as expected)
    let paper = models::identity(Model::Unet, "paper").unwrap().params;
    assert!((30_000_000..40_000_000).contains(&paper), "{paper}");
    // the two baselines are different architectures
    assert_ne!(
        models::identity(Model::Unet, "tiny").unwrap().fingerprint,
        models::identity(Model::AttentionUnet, "tiny")
            .unwrap()
            .fingerprint
    );
}

#[test]
fn baselines_map_one_channel_to_one_logit_map_and_learn() {
    for model in [Model::Unet, Model::AttentionUnet] {
        let mut store = ParamStore::<f32, Cpu>::new(Cpu::seed_from_u64(1), 1);
        let net = models::build(model, "tiny", &mut store).unwrap();
        let dev = store.device().clone();
        // a bright disc on noise; the target is the disc
        let (n, s) = (2usize, 64usize);
        let mut img = vec![0f32; n * s * s];
        let mut mask = vec![0f32; n * s * s];
        for b in 0..n {
            for y in 0..s {
                for x in 0..s {
                    let (dy, dx) = (y as f32 - 30.0 - b as f32 * 4.0, x as f32 - 28.0);
                    let inside = dy * dy + dx * dx < 100.0;
                    let i = (b * s + y) * s + x;
                    img[i] =
                        if inside { 0.8 } else { 0.2 } + 0.05 * ((i * 7919 % 13) as f32 / 13.0);
                    mask[i] = f32::from(u8::from(inside));
                }
            }
        }
        let bad = dev.tensor_from_vec(vec![0f32; 48 * 48], (1usize, 1usize, 48usize, 48usize));
        assert!(
            net.forward(&mut store, bad).is_err(),
            "wrong input side refused"
        );
        let mut opt = hepaseg::train::Optimizer::new(hepaseg::train::OptimizerKind::Adam(
            hepaseg::train::AdamConfig::default(),
        ))
        .unwrap();
        let loss_cfg = hepaseg::train::LossConfig::new(hepaseg::train::LossKind::BceDice);
        let mut losses = Vec::new();
        store.set_mode(Mode::Train);
        for _ in 0..12 {
            let x = dev.tensor_from_vec(img.clone(), (n, 1usize, s, s));
            let y = dev.tensor_from_vec(mask.clone(), (n, 1usize, s, s));
            let logits = net.forward(&mut store, x.leaky_traced()).unwrap();
            assert_eq!(*logits.shape(), (n, 1, s, s));
            let loss = loss_cfg.compute(logits, y).unwrap();
            losses.push(loss.as_vec()[0]);
            let grads = store.collect_grads(loss.backward()).unwrap();
            opt.step(&mut store, &grads, 1e-2).unwrap();
        }
        let (head, tail) = (losses[0], losses[losses.len() - 1]);
        assert!(
            tail < 0.8 * head,
            "{model:?}: loss {head} → {tail} ({losses:?})"
        );
    }
}

fn eval_args(ck: &Path, data: &Path) -> EvalArgs {
    #[derive(Parser)]
    struct W {
        #[command(flatten)]
        a: EvalArgs,
    }
    W::parse_from([
        "eval",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--split",
        "test",
        "--split-seed",
        "7",
        "--target",
        "liver",
    ])
    .a
}

#[test]
fn ablate_and_compare_end_to_end_on_phantoms() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    hepaseg::data::synth(&data, 5, 64, 10, 3).expect("synth");

    let out = tmp.path().join("ablate");
    let a = ablate::AblateArgs {
        model: Model::AgcafNet,
        preset: "tiny".into(),
        budget: budget(&data, &out),
    };
    let text = ablate::run(&a).expect("ablate");
    println!("{text}");
    let md = std::fs::read_to_string(out.join("ablation.md")).unwrap();
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("ablation.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), 4);
    for (r, preset) in rows
        .iter()
        .zip(["tiny", "tiny-backbone", "tiny-cpm", "tiny-afm"])
    {
        assert_eq!(r["preset"], preset);
        assert_eq!(r["steps"], 4, "same budget for every variant");
        assert!(md.contains(r["label"].as_str().unwrap()));
        for k in ["miou", "dice", "f_measure"] {
            let v = r[k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{k} = {v}");
        }
        let dir = out.join(format!("agcaf-net-{preset}"));
        assert!(dir.join("last.safetensors").is_file());
    }
    assert_ne!(rows[0]["params"], rows[1]["params"]);
    // a row is what `eval --checkpoint` gives for that run on the same split
    let ck = PathBuf::from(rows[2]["checkpoint"].as_str().unwrap());
    let agg = eval::evaluate(&eval_args(&ck, &data))
        .unwrap()
        .slices
        .aggregate
        .unwrap();
    assert_eq!(agg.global.dice, rows[2]["dice"].as_f64().unwrap());
    assert_eq!(agg.per_case_mean.iou, rows[2]["miou"].as_f64().unwrap());
    assert_eq!(agg.cases as u64, rows[2]["test_slices"].as_u64().unwrap());

    // compare: the two baselines through the same train / eval --checkpoint path
    let out = tmp.path().join("compare");
    let c = compare::CompareArgs {
        models: vec![Model::Unet, Model::AttentionUnet],
        preset: "tiny".into(),
        budget: budget(&data, &out),
    };
    let text = compare::run(&c).expect("compare");
    println!("{text}");
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["label"], "U-Net");
    assert_eq!(rows[1]["label"], "Attention U-Net");
    let ck = PathBuf::from(rows[1]["checkpoint"].as_str().unwrap());
    let e = eval::evaluate(&eval_args(&ck, &data)).unwrap();
    assert!(e.title.contains("attention-unet"), "{}", e.title);
    assert_eq!(
        e.slices.aggregate.unwrap().global.dice,
        rows[1]["dice"].as_f64().unwrap()
    );
    // a baseline has no blob: export refuses it with a clear message
    let err = hepaseg::train::run::export_checkpoint(
        Model::AttentionUnet,
        &ck,
        &tmp.path().join("x.hseg"),
        None,
    )
    .unwrap_err();
    assert!(err.contains("host-only baseline"), "{err}");
    assert!(!tmp.path().join("x.hseg").exists());
}
