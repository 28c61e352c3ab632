//! `hepaseg train` on a tiny phantom set: the loss goes down within a few dozen steps, and a
//! run interrupted by a checkpoint and resumed equals an uninterrupted run bit for bit (CPU).

use hepaseg::registry::Model;
use hepaseg::train::checkpoint::Checkpoint;
use hepaseg::train::run::{train, LossName, OptName, SchedName, TrainArgs};
use std::path::Path;
use std::time::Instant;

fn phantoms(dir: &Path) {
    hepaseg::data::synth(dir, 5, 64, 10, 3).expect("synth");
}

fn args(data: &Path, out: &Path, max_steps: u64) -> TrainArgs {
    TrainArgs {
        data: data.to_path_buf(),
        model: Model::AgcafNet,
        preset: "tiny".into(),
        out: out.to_path_buf(),
        epochs: 100,
        batch: 4,
        lr: Some(2e-3),
        optimizer: Some(OptName::Adam),
        weight_decay: None,
        schedule: SchedName::Constant,
        loss: None,
        seed: 5,
        target: "liver".into(),
        max_minutes: None,
        max_steps: Some(max_steps),
        liver_slices_only: false,
        device: "cpu".into(),
        resume: false,
        quiet: true,
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn tiny_agcaf_loss_decreases() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    phantoms(&data);
    let out = tmp.path().join("run");
    let start = Instant::now();
    let r = train(&TrainArgs {
        lr: Some(5e-3),
        loss: Some(LossName::BceDice),
        ..args(&data, &out, 30)
    })
    .expect("train");
    let took = start.elapsed().as_secs_f64();
    let curve: Vec<String> = r.losses.iter().map(|l| format!("{l:.3}")).collect();
    println!(
        "tiny AGCAF-Net: {} steps in {took:.1} s ({:.2} steps/s); loss curve {}",
        r.losses.len(),
        r.steps_per_s,
        curve.join(" ")
    );
    assert_eq!(r.losses.len(), 30);
    let (head, tail) = (mean(&r.losses[..5]), mean(&r.losses[25..]));
    assert!(tail < head * 0.9, "loss {head:.4} → {tail:.4}");
    assert!(out.join("last.safetensors").exists());
    assert!(out.join("metrics.csv").exists());
}

#[test]
fn resume_equals_straight_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    phantoms(&data);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let straight = train(&args(&data, &a, 4)).expect("straight");
    train(&args(&data, &b, 2)).expect("first half");
    let resumed = train(&TrainArgs {
        resume: true,
        ..args(&data, &b, 4)
    })
    .expect("resumed");
    assert_eq!(straight.steps, 4);
    assert_eq!(resumed.steps, 4);
    assert_eq!(
        &straight.losses[2..],
        &resumed.losses[..],
        "losses of steps 3–4"
    );
    let ca = Checkpoint::load(&a.join("last.safetensors")).unwrap();
    let cb = Checkpoint::load(&b.join("last.safetensors")).unwrap();
    assert_eq!(ca.meta, cb.meta);
    let bits = |c: &Checkpoint| -> Vec<(String, Vec<u32>)> {
        let mut v: Vec<_> = c
            .params
            .iter()
            .map(|(n, _, x)| (n.clone(), x.iter().map(|f| f.to_bits()).collect()))
            .chain(
                c.optim
                    .iter()
                    .map(|(n, x)| (n.clone(), x.iter().map(|f| f.to_bits()).collect())),
            )
            .collect();
        v.sort();
        v
    };
    assert!(
        bits(&ca) == bits(&cb),
        "parameters or optimizer state differ"
    );
}
