//! `hepaseg train` on a tiny phantom set: the loss goes down within a few dozen steps, a run
//! interrupted by a checkpoint and resumed equals an uninterrupted run bit for bit (CPU, both
//! networks: CAFCT-Net's ASPP dropout replays the device RNG), and so does a run SIGKILLed at
//! random points (during steps and checkpoint writes) and resumed, and so does a run stopped
//! by Ctrl-C (exit 130, `last` saved) and resumed; `--batch 1` trains with the batch norms on
//! 1×1 maps frozen; a CAFCT-Net checkpoint exports to a blob whose core forward equals the
//! host model's; the benchmark harness `StepBench` takes real, deterministic steps.

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
        dice_over: None,
        prior: None,
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
    // the tiny defaults otherwise (batch-pooled Dice, output bias at the prior 0.01)
    let r = train(&TrainArgs {
        lr: Some(5e-3),
        loss: Some(LossName::BceDice),
        prior: Some(0.5),
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
    for model in [Model::AgcafNet, Model::CafctNet] {
        resume_case(&data, &tmp.path().join(model.name()), model);
    }
}

fn resume_case(data: &Path, dir: &Path, model: Model) {
    let args = |out: &Path, steps| TrainArgs {
        model,
        ..args(data, out, steps)
    };
    let (a, b) = (dir.join("a"), dir.join("b"));
    let straight = train(&args(&a, 4)).expect("straight");
    train(&args(&b, 2)).expect("first half");
    let resumed = train(&TrainArgs {
        resume: true,
        ..args(&b, 4)
    })
    .expect("resumed");
    assert_eq!(straight.steps, 4);
    assert_eq!(resumed.steps, 4);
    assert_eq!(
        &straight.losses[2..],
        &resumed.losses[..],
        "losses of steps 3–4"
    );
    assert_same_checkpoint(&a.join("last.safetensors"), &b.join("last.safetensors"));
}

/// Every tensor (parameters, BN statistics, optimizer state) of a checkpoint as bits, by name.
fn checkpoint_bits(c: &Checkpoint) -> Vec<(String, Vec<u32>)> {
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
}

/// Two checkpoint files hold the same metadata and bit-identical tensors.
fn assert_same_checkpoint(a: &Path, b: &Path) {
    let ca = Checkpoint::load(a).unwrap();
    let cb = Checkpoint::load(b).unwrap();
    assert_eq!(ca.meta, cb.meta, "{} vs {}", a.display(), b.display());
    assert!(
        checkpoint_bits(&ca) == checkpoint_bits(&cb),
        "parameters or optimizer state differ: {} vs {}",
        a.display(),
        b.display()
    );
}

/// Where a kill lands.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// While a checkpoint is being written: as soon as the atomic writer's temporary file
    /// shows up in the run folder.
    CheckpointWrite,
    /// After this many milliseconds (mostly inside a training step or validation).
    Delay(u64),
}

/// Starts `hepaseg train ARGS`, SIGKILLs it at `at`; returns whether it was killed (false:
/// it finished first).
fn run_and_kill(args: &[String], run: &Path, at: KillAt) -> bool {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_hepaseg"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hepaseg train");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "train exited with {status}");
            return false;
        }
        let fire = match at {
            KillAt::Delay(ms) => started.elapsed().as_millis() as u64 >= ms,
            KillAt::CheckpointWrite => std::fs::read_dir(run).is_ok_and(|it| {
                it.flatten().any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .contains(".safetensors.tmp-")
                })
            }),
        };
        if fire {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// `hepaseg train` on `data` into `out`: tiny AGCAF-Net, 3 epochs of batch 4, seeded.
fn cli_args(data: &Path, out: &Path, resume: bool) -> Vec<String> {
    let mut v: Vec<String> = [
        "train",
        "--model",
        "agcaf-net",
        "--preset",
        "tiny",
        "--batch",
        "4",
        "--epochs",
        "3",
        "--optimizer",
        "adam",
        "--lr",
        "2e-3",
        "--loss",
        "bce-dice",
        "--target",
        "liver",
        "--seed",
        "5",
        "--quiet",
        "--data",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(data.display().to_string());
    v.push("--out".into());
    v.push(out.display().to_string());
    if resume {
        v.push("--resume".into());
    }
    v
}

/// The file names in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// SIGKILL `hepaseg train` at random points (inside steps, while checkpoints are written),
/// `--resume` each time, and the run ends with the same checkpoints (bit-identical tensors,
/// optimizer state, RNG position), the same best checkpoint and the same metrics.csv as an
/// uninterrupted run — and no temporary files left behind.
///
/// The random delays come from the clock; the seed is printed, and HEPASEG_KILL_SEED=S
/// replays a failure.
#[test]
fn killed_and_resumed_equals_uninterrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    hepaseg::data::synth(&data, 4, 64, 6, 3).expect("synth");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let cli = |out: &Path, resume: bool| cli_args(&data, out, resume);

    let started = Instant::now();
    assert!(!run_and_kill(&cli(&a, false), &a, KillAt::Delay(u64::MAX)));
    let straight_ms = started.elapsed().as_millis() as u64;

    let seed: u64 = std::env::var("HEPASEG_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut state = seed | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Kill points: checkpoint writes and random moments in the first half of the
    // uninterrupted run's duration (start-up, data loading, steps, validation). The first
    // process always writes a checkpoint, so the first kill always lands in a write; a later
    // process may finish before its kill, which ends the plan.
    let mut delay = || KillAt::Delay(next() % (straight_ms / 2).max(1));
    let plan = [
        KillAt::CheckpointWrite,
        delay(),
        delay(),
        KillAt::CheckpointWrite,
        delay(),
    ];
    println!("kill seed {seed}; uninterrupted run {straight_ms} ms; plan {plan:?}");
    let mut kills = Vec::new();
    for (i, at) in plan.iter().enumerate() {
        // The first start is a plain run; later ones resume (the first with nothing to
        // resume from when the kill came before the first checkpoint).
        if run_and_kill(&cli(&b, i > 0), &b, *at) {
            kills.push(*at);
        } else {
            break;
        }
    }
    println!("killed at {kills:?}");
    assert!(
        matches!(kills.first(), Some(KillAt::CheckpointWrite)),
        "the first run was not killed during its first checkpoint write"
    );
    // Finish.
    assert!(!run_and_kill(&cli(&b, true), &b, KillAt::Delay(u64::MAX)));

    assert_same_checkpoint(&a.join("last.safetensors"), &b.join("last.safetensors"));
    assert_same_checkpoint(&a.join("best.safetensors"), &b.join("best.safetensors"));
    assert_eq!(
        std::fs::read_to_string(a.join("metrics.csv")).unwrap(),
        std::fs::read_to_string(b.join("metrics.csv")).unwrap(),
        "metrics.csv differs"
    );
    assert_eq!(files(&b), files(&a), "temporary files left behind");
    assert!(files(&b).contains(&"last.safetensors".to_string()));
}

/// Ctrl-C during `hepaseg train` (SIGINT once the first epoch is logged): the command exits
/// with 130 and says where `last` is; `last` holds the position reached (past epoch 1);
/// `--resume` says it continues from that step, and the run ends with the same checkpoints
/// (bit-identical tensors and optimizer state), the same metrics.csv and no temporary files,
/// as an uninterrupted run.
#[test]
fn ctrl_c_saves_last_and_resume_ends_like_an_uninterrupted_run() {
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    hepaseg::data::synth(&data, 4, 64, 6, 3).expect("synth");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let bin = env!("CARGO_BIN_EXE_hepaseg");
    let straight = Command::new(bin)
        .args(cli_args(&data, &a, false))
        .output()
        .unwrap();
    assert!(straight.status.success(), "{straight:?}");

    let mut child = Command::new(bin)
        .args(cli_args(&data, &b, false))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hepaseg train");
    let logged = |dir: &Path| {
        std::fs::read_to_string(dir.join("metrics.csv")).is_ok_and(|t| t.lines().count() >= 2)
    };
    while !logged(&b) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "train ended before its first epoch was logged"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let sent = Command::new("kill")
        .args(["-s", "INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted by Ctrl-C")
            && stderr.contains(&b.join("last.safetensors").display().to_string())
            && stderr.contains("--resume"),
        "{stderr}"
    );
    let saved = Checkpoint::load(&b.join("last.safetensors")).unwrap();
    let step: u64 = saved.get_num("step").unwrap();
    let epoch: u64 = saved.get_num("epoch").unwrap();
    assert!(
        epoch >= 1 && step >= 1,
        "saved at epoch {epoch}, step {step}"
    );
    let full = Checkpoint::load(&a.join("last.safetensors")).unwrap();
    let total: u64 = full.get_num("step").unwrap();
    assert!(
        step < total,
        "the signal came after the last step ({step} of {total})"
    );

    let resumed = Command::new(bin)
        .args(cli_args(&data, &b, true))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming from step {step} ")),
        "{stderr}"
    );
    assert_same_checkpoint(&a.join("last.safetensors"), &b.join("last.safetensors"));
    assert_same_checkpoint(&a.join("best.safetensors"), &b.join("best.safetensors"));
    assert_eq!(
        std::fs::read_to_string(a.join("metrics.csv")).unwrap(),
        std::fs::read_to_string(b.join("metrics.csv")).unwrap(),
        "metrics.csv differs"
    );
    assert_eq!(files(&b), files(&a), "temporary files left behind");
}

/// `--batch 1` trains: every loss is finite, and exactly the batch norms that see one value
/// per channel — AGCAF-Net's AFM channel gates (`*.ca.*`, fed by a global average pool) —
/// keep their running statistics at the initial 0 and 1, while every other batch norm's
/// moved (batch statistics, as PyTorch at batch 1).
#[test]
fn batch_one_trains_with_single_value_batch_norms_frozen() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    phantoms(&data);
    let out = tmp.path().join("run");
    let r = train(&TrainArgs {
        batch: 1,
        ..args(&data, &out, 3)
    })
    .expect("train --batch 1");
    assert_eq!(r.losses.len(), 3);
    assert!(r.losses.iter().all(|l| l.is_finite()), "{:?}", r.losses);
    let ck = Checkpoint::load(&out.join("last.safetensors")).unwrap();
    let value = |name: &str| -> &[f32] {
        &ck.params
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .2
    };
    let (mut frozen, mut moved) = (0, 0);
    for (name, _, mean) in &ck.params {
        let Some(prefix) = name.strip_suffix(".running_mean") else {
            continue;
        };
        let var = value(&format!("{prefix}.running_var"));
        let initial = mean.iter().all(|&m| m == 0.0) && var.iter().all(|&v| v == 1.0);
        assert_eq!(
            initial,
            prefix.contains(".ca."),
            "{prefix}: running statistics {}",
            if initial { "unchanged" } else { "moved" }
        );
        if initial {
            frozen += 1;
        } else {
            moved += 1;
        }
    }
    println!("batch 1: {frozen} batch norms frozen, {moved} on batch statistics");
    assert!(
        frozen >= 2 && moved > frozen,
        "{frozen} frozen, {moved} moved"
    );
}

/// A few CAFCT-Net steps, then `export --checkpoint`: core loads the blob, and its f32
/// forward equals the host model (trained parameters, eval mode) on a phantom-like input.
#[test]
fn cafct_trains_and_exports_a_blob_core_runs() {
    use dfdx::prelude::*;
    use hepaseg::core::blob::{BlobParams, SignaturePolicy};
    use hepaseg::segment::BlobFile;
    use hepaseg_core::nets::{cafct::tiny::Net, Network};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    phantoms(&data);
    let out = tmp.path().join("run");
    let r = train(&TrainArgs {
        model: Model::CafctNet,
        epochs: 1,
        ..args(&data, &out, 6)
    })
    .expect("train");
    println!("tiny CAFCT-Net: {r}; losses {:?}", r.losses);
    assert_eq!(r.losses.len(), 6);
    assert!(r.losses.iter().all(|l| l.is_finite()));
    let ckpt = out.join("last.safetensors");
    let blob = tmp.path().join("cafct.hseg");
    let text = hepaseg::train::run::export_checkpoint(Model::CafctNet, &ckpt, &blob, None)
        .expect("export");
    assert!(text.contains("cafct-net"), "{text}");
    // the blob runs in core
    let file = BlobFile::read(&blob).unwrap();
    let params = BlobParams::from_bytes::<Net>(file.bytes(), SignaturePolicy::Optional).unwrap();
    let x: Vec<f32> = (0..64 * 64)
        .map(|i| (((i % 64) as f32 / 9.0).sin() * ((i / 64) as f32 / 7.0).cos() + 1.0) / 2.0)
        .collect();
    let mut arena = vec![0u64; Net::ARENA_BYTES.div_ceil(8)];
    let bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut arena)[..Net::ARENA_BYTES];
    let core = Net::forward_flat(&params, &x, bytes).unwrap().to_vec();
    // and equals the host model with the checkpoint's tensors
    let ck = Checkpoint::load(&ckpt).unwrap();
    let mut store = hepaseg::nn::ParamStore::<f32, Cpu>::new(Cpu::default(), 0);
    let net = hepaseg::models::build(Model::CafctNet, "tiny", &mut store).unwrap();
    let ids: Vec<_> = store
        .iter()
        .map(|(id, p)| (id, p.name().to_string()))
        .collect();
    for (id, name) in ids {
        let (_, _, v) = ck.params.iter().find(|(n, _, _)| *n == name).unwrap();
        store.set_values_f32(id, v).unwrap();
    }
    store.set_mode(hepaseg::nn::Mode::Eval);
    let t = store
        .device()
        .tensor_from_vec(x, (1usize, 1usize, 64usize, 64usize));
    let host = net.forward(&mut store, t).unwrap().as_vec();
    let scale = core.iter().fold(1f32, |m, v| m.max(v.abs()));
    let diff = host
        .iter()
        .zip(&core)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff / scale <= 1e-4,
        "host vs core on trained weights: {diff} / {scale}"
    );
}

/// 2.5D end to end (issue 9), AGCAF-Net `tiny-2.5d` (3 adjacent slices as input channels):
/// two seeded runs give bit-identical checkpoints; the checkpoint exports to an f32 blob and
/// (twice, byte-identical) to an int8 blob; `segment` feeds each slice of a NIfTI volume with
/// its neighbours (clamped at the ends, built here by hand) and its masks equal core's
/// forward passes on those stacks — f32, and int8 with `--tta` against the flip average by
/// hand; PNG input is refused (exit 2, nothing written); `eval --data` runs the blob and the
/// checkpoint on the 3-slice samples; `info` and `inspect` name the 3-channel preset.
#[test]
fn two_and_a_half_d_trains_exports_and_segments_volumes() {
    use hepaseg::core::blob::{Blob, BlobParams, SignaturePolicy};
    use hepaseg::data::nifti_read::{read_labels, read_volume};
    use hepaseg::data::Window;
    use hepaseg::segment::predict::preprocess;
    use hepaseg::segment::BlobFile;
    use hepaseg_core::nets::agcaf::tiny_2_5d::Net;
    use hepaseg_core::nets::{Int8Network, Network};
    use std::process::Command;
    let bin = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hepaseg"))
            .args(args)
            .output()
            .expect("run hepaseg")
    };
    let ok = |args: &[&str]| {
        let o = bin(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{args:?}: {err}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    fn s(path: &Path) -> &str {
        path.to_str().unwrap()
    }
    let data = p("data");
    phantoms(&data);
    let run = |out: &Path| {
        train(&TrainArgs {
            preset: "tiny-2.5d".into(),
            epochs: 1,
            ..args(&data, out, 3)
        })
        .expect("train 2.5D")
    };
    let (a, b) = (run(&p("a")), run(&p("b")));
    assert_eq!(a.losses.len(), 3);
    assert_eq!(a.losses, b.losses);
    let ckpt = p("a").join("last.safetensors");
    assert_same_checkpoint(&ckpt, &p("b").join("last.safetensors"));

    let (f32_blob, int8_a, int8_b) = (p("f32.hseg"), p("a8.hseg"), p("b8.hseg"));
    let export = |out: &Path, quantize: bool| {
        let mut v = vec!["export", "--checkpoint", ckpt.to_str().unwrap()];
        v.extend(["--model", "agcaf-net", "--target", "liver"]);
        if quantize {
            v.extend(["--quantize", "int8", "--calib", s(&data)]);
            v.extend(["--calib-slices", "4", "--report-slices", "2"]);
        }
        v.extend(["--out", s(out)]);
        ok(&v)
    };
    export(&f32_blob, false);
    let report = export(&int8_a, true);
    export(&int8_b, true);
    assert!(report.contains("tiny-2.5d"), "{report}");
    assert_eq!(
        std::fs::read(&int8_a).unwrap(),
        std::fs::read(&int8_b).unwrap()
    );
    assert!(ok(&["info", "--model", "agcaf-net", "--preset", "tiny-2.5d"]).contains("3×64×64"));
    assert!(ok(&["inspect", s(&int8_a)]).contains("tiny-2.5d"));

    // The stacks by hand: slice z with z − 1 and z + 1, the ends repeating themselves.
    let volume = data.join("nifti").join("volume-0.nii");
    let ct = read_volume(&volume).unwrap();
    let [w, h, d] = ct.dims();
    assert_eq!((w, h, d), (64, 64, 10));
    let window = Window::default();
    let plane = |z: usize| -> Vec<f32> { ct.slice(z).iter().map(|&v| window.apply(v)).collect() };
    let stack = |z: usize| -> Vec<f32> {
        let (before, after) = (z.saturating_sub(1), (z + 1).min(d - 1));
        let raw: Vec<f32> = [before, z, after].iter().flat_map(|&q| plane(q)).collect();
        preprocess(&raw, w, h, [64, 64])
    };
    let file = BlobFile::read(&f32_blob).unwrap();
    let params = BlobParams::from_bytes::<Net>(file.bytes(), SignaturePolicy::Optional).unwrap();
    let mut arena = vec![0u64; Net::ARENA_BYTES.div_ceil(8)];
    let f32_logits = |x: &[f32], arena: &mut Vec<u64>| -> Vec<f32> {
        let bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(arena)[..Net::ARENA_BYTES];
        Net::forward_flat(&params, x, bytes).unwrap().to_vec()
    };
    let file8 = BlobFile::read(&int8_a).unwrap();
    let blob8 = Blob::for_network::<Net>(file8.bytes(), SignaturePolicy::Optional).unwrap();
    let mut arena8 = vec![0u64; Net::ARENA_BYTES_INT8.div_ceil(8)];
    let mut int8_logits = |x: &[f32]| -> Vec<f32> {
        let bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut arena8)[..Net::ARENA_BYTES_INT8];
        let (q, quant) = Net::forward_int8_flat(&blob8, x, bytes).unwrap();
        q.iter().map(|&v| quant.dequantize(v)).collect()
    };
    // Each plane of a stack mirrored left–right and/or top–bottom.
    let mirror = |v: &[f32], lr: bool, tb: bool| -> Vec<f32> {
        v.chunks(64 * 64)
            .flat_map(|pl| {
                (0..64 * 64).map(move |i| {
                    let (y, x) = (i / 64, i % 64);
                    pl[if tb { 63 - y } else { y } * 64 + if lr { 63 - x } else { x }]
                })
            })
            .collect()
    };
    // The logits by hand, and thresholds at the middle slice's median so that the masks are
    // neither empty nor full after three training steps.
    let (mut by_f32, mut by_tta) = (Vec::new(), Vec::new());
    for z in 0..d {
        let x = stack(z);
        by_f32.push(f32_logits(&x, &mut arena));
        let mut sum = vec![0.0f32; 64 * 64];
        for (lr, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let back = mirror(&int8_logits(&mirror(&x, lr, tb)), lr, tb);
            sum.iter_mut().zip(&back).for_each(|(s, b)| *s += b);
        }
        by_tta.push(sum.iter().map(|v| v * 0.25).collect::<Vec<f32>>());
    }
    let median = |v: &[f32]| {
        let mut v = v.to_vec();
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    let (t_f32, t_tta) = (median(&by_f32[d / 2]), median(&by_tta[d / 2]));
    let (t_f32_arg, t_tta_arg) = (t_f32.to_string(), t_tta.to_string());
    let mask_f32 = p("f32.nii.gz");
    let mask_tta = p("tta.nii.gz");
    let f32_args = [
        "--engine",
        "f32",
        "--blob",
        s(&f32_blob),
        "--threshold",
        &t_f32_arg,
    ];
    let tta_args = ["--tta", "--blob", s(&int8_a), "--threshold", &t_tta_arg];
    for (flags, out) in [(&f32_args[..], &mask_f32), (&tta_args[..], &mask_tta)] {
        let mut v = vec!["segment"];
        v.extend_from_slice(flags);
        v.extend([s(&volume), "--out", s(out)]);
        ok(&v);
    }
    let (got_f32, got_tta) = (
        read_labels(&mask_f32).unwrap(),
        read_labels(&mask_tta).unwrap(),
    );
    let (mut fg_f32, mut fg_tta) = (0, 0);
    for z in 0..d {
        let want: Vec<u8> = by_f32[z].iter().map(|&v| u8::from(v > t_f32)).collect();
        assert_eq!(got_f32.slice(z), &want[..], "f32 mask of slice {z}");
        fg_f32 += want.iter().filter(|&&v| v == 1).count();
        let want: Vec<u8> = by_tta[z].iter().map(|&v| u8::from(v > t_tta)).collect();
        assert_eq!(got_tta.slice(z), &want[..], "int8 TTA mask of slice {z}");
        fg_tta += want.iter().filter(|&&v| v == 1).count();
    }
    let total = 64 * 64 * d;
    println!("2.5D masks: f32 {fg_f32}, int8 TTA {fg_tta} foreground voxels of {total}");
    assert!(fg_f32 > 0 && fg_f32 < total && fg_tta > 0 && fg_tta < total);

    // PNG input has no neighbours: refused, nothing written.
    let png_out = p("png-masks");
    let o = bin(&[
        "segment",
        "--blob",
        s(&int8_a),
        s(&data.join("volume-0_3.png")),
        "--out",
        s(&png_out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a8.hseg") && err.contains("2.5D") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!png_out.exists());

    // eval feeds the dataset's 3-slice samples to the blob (int8, TTA) and the checkpoint.
    let d = s(&data);
    let e = ok(&[
        "eval",
        "--blob",
        s(&int8_a),
        "--data",
        d,
        "--split",
        "all",
        "--tta",
        "--target",
        "liver",
    ]);
    assert!(e.contains("tiny-2.5d") && e.contains("50 slices"), "{e}");
    let e = ok(&[
        "eval",
        "--checkpoint",
        s(&ckpt),
        "--data",
        d,
        "--split",
        "all",
        "--target",
        "liver",
    ]);
    assert!(e.contains("tiny-2.5d"), "{e}");
}

/// `StepBench` (the training-step benchmark's harness) runs the training loop's step: the
/// loss is finite, every step changes the parameters, the same seed gives the same losses bit
/// for bit, another seed another batch; bad settings are errors, not panics.
#[test]
fn step_bench_takes_real_deterministic_steps() {
    use hepaseg::train::StepBench;
    let mut a = StepBench::new(Model::AgcafNet, "tiny", 2, 64, 7).expect("harness");
    let mut b = StepBench::new(Model::AgcafNet, "tiny", 2, 64, 7).expect("harness");
    assert_eq!(a.batch(), 2);
    let before = a.params().expect("params");
    let la = [a.step().expect("step"), a.step().expect("step")];
    let lb = [b.step().expect("step"), b.step().expect("step")];
    assert!(la.iter().all(|l| l.is_finite() && *l > 0.0), "{la:?}");
    assert_eq!(la.map(f64::to_bits), lb.map(f64::to_bits));
    let after = a.params().expect("params");
    assert_eq!(before.len(), after.len());
    let changed = before
        .iter()
        .zip(&after)
        .filter(|(x, y)| x.0.ends_with(".weight") && x.2 != y.2)
        .count();
    let weights = before.iter().filter(|x| x.0.ends_with(".weight")).count();
    assert!(
        changed * 10 >= weights * 9,
        "{changed} of {weights} weight tensors changed"
    );
    let mut c = StepBench::new(Model::AgcafNet, "tiny", 2, 64, 8).expect("harness");
    assert_ne!(c.step().expect("step").to_bits(), la[0].to_bits());
    assert!(StepBench::new(Model::AgcafNet, "tiny", 0, 64, 0).is_err());
    let e = StepBench::new(Model::CafctNet, "huge", 2, 64, 0).expect_err("unknown preset");
    assert!(e.contains("huge"), "{e}");
}
