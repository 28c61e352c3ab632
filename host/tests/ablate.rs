//! `hepaseg ablate`: the variant matrices match the papers' tables and core's presets, the
//! table's deltas are computed against the full network, and a whole (step-limited) run on a
//! tiny phantom set trains every variant and scores each exactly as `eval --checkpoint` does.

use hepaseg::ablate::{self, AblateArgs, Row};
use hepaseg::eval::{self, EvalArgs};
use hepaseg::registry::Model;
use std::path::{Path, PathBuf};

fn args(data: &Path, out: &Path, model: Model) -> AblateArgs {
    AblateArgs {
        data: data.to_path_buf(),
        model,
        preset: "tiny".into(),
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

#[test]
fn matrices_follow_the_papers_and_exist_in_core() {
    let agcaf: Vec<String> = ablate::matrix(Model::AgcafNet, "tiny")
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(agcaf, ["tiny", "tiny-backbone", "tiny-cpm", "tiny-afm"]);
    let cafct: Vec<String> = ablate::matrix(Model::CafctNet, "tiny")
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
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
}

fn row(label: &str, miou: f64, dice: f64, f: f64) -> Row {
    Row {
        label: label.into(),
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
fn markdown_deltas_are_against_the_full_network() {
    let a = args(Path::new("d"), Path::new("o"), Model::CafctNet);
    let md = ablate::markdown(
        &a,
        &[
            row("CAFCT-Net (full)", 0.7654, 0.8429, 0.80),
            row("w/o Transformer", 0.7412, 0.8274, 0.81),
        ],
    );
    // the paper's Table 4 row: 74.12 (−2.42), 82.74 (−1.55 here against 84.29)
    assert!(
        md.contains("| CAFCT-Net (full) | tiny | 1 | 76.54 | 84.29 | 80.00 |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| w/o Transformer | tiny | 1 | 74.12 (-2.42) | 82.74 (-1.55) | 81.00 (+1.00) |"
        ),
        "{md}"
    );
}

#[test]
fn refuses_a_used_output_folder_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "x").unwrap();
    let e = ablate::run(&args(
        &tmp.path().join("nodata"),
        tmp.path(),
        Model::AgcafNet,
    ))
    .unwrap_err();
    assert!(
        e.contains("not empty") && e.contains(&tmp.path().display().to_string()),
        "{e}"
    );
    assert!(tmp.path().join("keep.txt").exists());
}

#[test]
fn agcaf_matrix_end_to_end_on_phantoms() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    hepaseg::data::synth(&data, 5, 64, 10, 3).expect("synth");
    let out = tmp.path().join("ablate");
    let a = args(&data, &out, Model::AgcafNet);
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
        assert!(out.join(preset).join("last.safetensors").is_file());
    }
    // the variants really differ (different networks, same seed)
    assert_ne!(rows[0]["params"], rows[1]["params"]);
    // each row is what `eval --checkpoint` gives for that run on the same split
    let ck = rows[2]["checkpoint"].as_str().unwrap();
    let e = eval::evaluate(&eval_args(ck, &data)).unwrap();
    let agg = e.slices.aggregate.unwrap();
    assert_eq!(agg.global.dice, rows[2]["dice"].as_f64().unwrap());
    assert_eq!(agg.per_case_mean.iou, rows[2]["miou"].as_f64().unwrap());
    assert_eq!(agg.cases as u64, rows[2]["test_slices"].as_u64().unwrap());
}

fn eval_args(ck: &str, data: &Path) -> EvalArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct W {
        #[command(flatten)]
        a: EvalArgs,
    }
    W::parse_from([
        "eval",
        "--checkpoint",
        ck,
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
