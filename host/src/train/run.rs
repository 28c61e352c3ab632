//! `hepaseg train`: the training loop on a dataset folder, with per-epoch validation,
//! `metrics.csv`, atomic `last`/`best` checkpoints and exact resumption.
//!
//! Defaults for paper/edge follow the papers (SPEC §2): AGCAF-Net — SGD momentum 0.9, weight
//! decay 1e-4 (public code), lr 0.05, poly decay per iteration, Dice loss; CAFCT-Net — SGD
//! momentum 0.9, lr 1e-3, BCE+Dice. The tiny presets (64 × 64 phantoms, minutes on a CPU)
//! default to Adam at [`TINY_LR`] with batch-pooled Dice for both networks (see
//! [`recipe`] for why; docs/training.md for the measured runs).
//!
//! **Resumption is exact on the CPU**: a checkpoint holds every tensor (BN statistics too),
//! the optimizer state, the global step, the position within the epoch (the loader's order
//! and augmentations are functions of `(seed, epoch, slice)`), and the number of draws taken
//! from the device RNG (dfdx's dropout takes one `u64` per call), which a resumed run replays.
//!
//! **Ctrl-C** (or SIGTERM) stops the run after the current step: it saves `last` like an
//! epoch's checkpoint and `hepaseg train` exits with 130 (143 for SIGTERM); `--resume`
//! continues from there ([`super::interrupt`]).
//!
//! **Devices**: the loop is generic over the dfdx device ([`Backend`]); `--device cpu` runs on
//! dfdx's `Cpu`, `--device cuda` on dfdx's `Cuda` in a build with `--features cuda`
//! (scripts/build-cuda.sh, docs/cuda.md). The parameters are initialised on the host either
//! way, and the device RNG (dropout) is dfdx's CPU generator on both, so the same seed gives
//! the same initial network and dropout masks on both devices.

use super::checkpoint::Checkpoint;
use super::{
    check_loss, AdamConfig, LossConfig, LossKind, Optimizer, OptimizerKind, Schedule, ScheduleKind,
    SgdConfig, TrainError,
};
use crate::data::loader::{batch_plan, make_batch, Batch};
use crate::data::{DataConfig, Dataset, LoaderConfig, SliceFilter};
use crate::metrics::Confusion;
use crate::models::{self, SegNet};
use crate::nn::{Backend, Mode, ParamStore};
use crate::registry::Model;
use dfdx::prelude::*;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The optimizer names of `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptName {
    /// SGD, momentum 0.9.
    Sgd,
    /// Adam.
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
}

/// The schedule names of `--schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchedName {
    /// `base·(1 − t/T)^0.9` per iteration.
    Poly,
    /// Cosine annealing to 0.
    Cosine,
    /// Constant.
    Constant,
}

/// The loss names of `--loss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LossName {
    /// Soft Dice.
    Dice,
    /// BCE-with-logits + soft Dice.
    BceDice,
    /// Soft IoU.
    SoftIou,
    /// BCE-with-logits.
    Bce,
}

/// What `--dice-over` pools the Dice/IoU loss over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiceOver {
    /// Mean of per-slice scores (the paper recipes).
    Sample,
    /// One score over the whole batch (small lesions, mostly empty slices).
    Batch,
}

/// `hepaseg train` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Dataset folder (lits-png, LiTS NIfTI or MSD; e.g. from `hepaseg synth`).
    #[arg(long)]
    pub data: PathBuf,
    /// Architecture.
    #[arg(long, value_enum)]
    pub model: Model,
    /// Preset (tiny, edge, paper or a tiny ablation).
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// Run folder: metrics.csv, last.safetensors, best.safetensors.
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs.
    #[arg(long, default_value_t = 10)]
    pub epochs: u64,
    /// Slices per batch. At 1, batch norms that see one value per channel (1×1 gate maps)
    /// use their running statistics, left unchanged (docs/training.md).
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Base learning rate [default: tiny presets 2e-3; else 0.05 AGCAF-Net, 1e-3 CAFCT-Net].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Optimizer [default: tiny presets adam; else sgd (momentum 0.9)].
    #[arg(long, value_enum)]
    pub optimizer: Option<OptName>,
    /// Weight decay [default: 1e-4 AGCAF-Net, 0 CAFCT-Net].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value = "poly")]
    pub schedule: SchedName,
    /// Loss [default: dice (tiny presets: pooled over the batch); bce-dice CAFCT-Net
    /// paper/edge].
    #[arg(long, value_enum)]
    pub loss: Option<LossName>,
    /// Dice/IoU loss per slice or pooled over the batch [default: batch for the tiny
    /// presets, sample for paper/edge].
    #[arg(long, value_enum)]
    pub dice_over: Option<DiceOver>,
    /// Start the output bias at logit(P), so the first predictions are the foreground prior P
    /// instead of ½ everywhere (RetinaNet's prior init; 0.01 helps the tiny tumour runs)
    /// [default: the layer's own init].
    #[arg(long)]
    pub prior: Option<f64>,
    /// Seed (initialisation, split, order, augmentation, dropout).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// What the masks mark.
    #[arg(long, default_value = "tumor", value_parser = ["tumor", "liver"])]
    pub target: String,
    /// Stop (after saving) once this many minutes have passed.
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Stop (after saving) after this many optimizer steps in total.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Train only on slices with liver (the usual LiTS restriction).
    #[arg(long)]
    pub liver_slices_only: bool,
    /// Device: cpu, or cuda (GPU 0; needs a build with `--features cuda`, see
    /// scripts/build-cuda.sh).
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda"])]
    pub device: String,
    /// Continue from RUN_DIR/last.safetensors.
    #[arg(long)]
    pub resume: bool,
    /// No progress bar (logs and tests).
    #[arg(long)]
    pub quiet: bool,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Optimizer steps taken in total (including before a resume).
    pub steps: u64,
    /// Loss of every step this invocation took.
    pub losses: Vec<f64>,
    /// Validation Dice per finished epoch of this invocation.
    pub val_dice: Vec<f64>,
    /// Best validation Dice so far.
    pub best_dice: f64,
    /// Steps per second of this invocation.
    pub steps_per_s: f64,
    /// Stopped by the stop flag (Ctrl-C) after saving `last`, before its epochs were done.
    pub interrupted: bool,
}

impl std::fmt::Display for TrainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trained {} steps ({:.2} steps/s); best val Dice {:.4}",
            self.steps, self.steps_per_s, self.best_dice
        )
    }
}

/// The resolved settings of a run.
#[derive(Debug, Clone, Copy)]
struct Recipe {
    lr: f64,
    opt: OptimizerKind,
    loss: LossKind,
    pooled: bool,
    prior: Option<f64>,
}

/// Base learning rate of the tiny presets' default (Adam) recipe.
pub const TINY_LR: f64 = 2e-3;

/// The settings of a run: the flags given, else the defaults. paper/edge follow the papers
/// (AGCAF-Net SGD 0.05, wd 1e-4, Dice; CAFCT-Net SGD 1e-3, BCE+Dice). The tiny presets
/// train on 64 × 64 phantoms in minutes, where SGD at the paper rates barely moves,
/// per-slice Dice rewards empty predictions on the many lesion-free slices, and BCE (over
/// ~0.3 % tumour pixels) drives every logit negative first: Adam at [`TINY_LR`] with
/// batch-pooled Dice, for both networks; `--prior 0.01` helps small-tumour runs (measured in
/// docs/training.md) but slows large targets (liver), so it is not a default.
fn recipe(a: &TrainArgs) -> Recipe {
    let agcaf = a.model == Model::AgcafNet;
    let tiny = a.preset.starts_with("tiny");
    let wd = a.weight_decay.unwrap_or(if agcaf { 1e-4 } else { 0.0 });
    let default_opt = if tiny { OptName::Adam } else { OptName::Sgd };
    let opt = match a.optimizer.unwrap_or(default_opt) {
        OptName::Sgd => OptimizerKind::Sgd(SgdConfig {
            momentum: 0.9,
            weight_decay: wd,
            nesterov: false,
        }),
        OptName::Adam => OptimizerKind::Adam(AdamConfig {
            weight_decay: wd,
            ..AdamConfig::default()
        }),
        OptName::Adamw => OptimizerKind::AdamW(AdamConfig {
            weight_decay: wd,
            ..AdamConfig::default()
        }),
    };
    let loss = match a.loss {
        Some(LossName::Dice) => LossKind::Dice,
        Some(LossName::BceDice) => LossKind::BceDice,
        Some(LossName::SoftIou) => LossKind::SoftIou,
        Some(LossName::Bce) => LossKind::Bce,
        None if agcaf || tiny => LossKind::Dice,
        None => LossKind::BceDice,
    };
    let default_lr = match (tiny, agcaf) {
        (true, _) => TINY_LR,
        (false, true) => 0.05,
        (false, false) => 1e-3,
    };
    let default_over = if tiny {
        DiceOver::Batch
    } else {
        DiceOver::Sample
    };
    Recipe {
        lr: a.lr.unwrap_or(default_lr),
        opt,
        loss,
        pooled: a.dice_over.unwrap_or(default_over) == DiceOver::Batch,
        prior: a.prior,
    }
}

/// Where training stands (what a checkpoint's metadata records).
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    epoch: u64,
    step_in_epoch: u64,
    step: u64,
    rng_draws: u64,
    best_dice: f64,
}

/// One training run's state: the network, its parameters, optimizer, loss and schedule
/// (crate-visible so [`super::step_bench`] times exactly this step).
pub(crate) struct Run<D: Backend<f32>> {
    args: TrainArgs,
    net: SegNet,
    store: ParamStore<f32, D>,
    opt: Optimizer<f32, D>,
    loss: LossConfig,
    schedule: Schedule,
    prog: Progress,
    /// The network's fingerprint as 16 hex digits (what checkpoints record), computed once.
    fingerprint: String,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// How `hepaseg train` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The run finished (epochs, `--max-steps` or `--max-minutes`): the summary to print.
    Done(String),
    /// Ctrl-C or SIGTERM: `last` is saved. The message for stderr and the exit status.
    Interrupted {
        /// What happened and how to continue.
        message: String,
        /// 130 (SIGINT) or 143 (SIGTERM).
        code: u8,
    },
}

/// Runs `hepaseg train` with Ctrl-C/SIGTERM handlers installed (see [`super::interrupt`]).
pub fn run(args: &TrainArgs) -> Result<Ended, String> {
    let signal = super::interrupt::StopSignal::install()?;
    let report = train_until(args, signal.flag())?;
    if !report.interrupted {
        return Ok(Ended::Done(report.to_string()));
    }
    Ok(Ended::Interrupted {
        message: format!(
            "train: interrupted by {} at step {}; saved {} (continue with the same options \
             and --resume)",
            signal.name(),
            report.steps,
            args.out.join("last.safetensors").display()
        ),
        code: signal.exit_code(),
    })
}

/// The training loop (also used by tests).
pub fn train(args: &TrainArgs) -> Result<TrainReport, String> {
    train_until(args, &AtomicBool::new(false))
}

/// The training loop, stopped (after saving `last`) before the next step once `stop` is set.
pub fn train_until(args: &TrainArgs, stop: &AtomicBool) -> Result<TrainReport, String> {
    check_settings(args)?;
    match args.device.as_str() {
        "cpu" => train_on(args, Cpu::seed_from_u64(args.seed), stop),
        "cuda" => train_cuda(args, stop),
        other => Err(format!("--device {other}: expected cpu or cuda")),
    }
}

/// `--device cuda`: GPU 0 with dfdx's CUDA device.
#[cfg(feature = "cuda")]
fn train_cuda(args: &TrainArgs, stop: &AtomicBool) -> Result<TrainReport, String> {
    let dev = crate::device::try_device(0, args.seed).map_err(err)?;
    train_on(args, dev, stop)
}

/// `--device cuda` in a build without the CUDA device.
#[cfg(not(feature = "cuda"))]
fn train_cuda(_args: &TrainArgs, _stop: &AtomicBool) -> Result<TrainReport, String> {
    Err(
        "--device cuda: this hepaseg was built without CUDA support; build one with \
         `scripts/build-cuda.sh` (or `cargo build --release --features cuda` where a CUDA \
         toolkit is installed), see docs/cuda.md"
            .into(),
    )
}

/// The training loop on `dev`.
fn train_on<D: Backend<f32>>(
    args: &TrainArgs,
    dev: D,
    stop: &AtomicBool,
) -> Result<TrainReport, String> {
    let id = models::identity(args.model, &args.preset)
        .ok_or_else(|| unknown_preset(args.model, &args.preset))?;
    let target = if args.target == "liver" {
        crate::data::Target::Liver
    } else {
        crate::data::Target::Tumor
    };
    let config = DataConfig::new(id.size)
        .with_target(target)
        .with_channels(id.channels);
    let data = Dataset::open(&args.data, config).map_err(err)?;
    let splits = data
        .split(&crate::data::split::SplitConfig {
            seed: args.seed,
            train_filter: if args.liver_slices_only {
                SliceFilter::WithLiver
            } else {
                SliceFilter::All
            },
            ..Default::default()
        })
        .map_err(err)?;
    let loader = LoaderConfig {
        drop_last: true,
        ..LoaderConfig::train(args.batch, args.seed)
    };
    let per_epoch = batch_plan(splits.train.len(), &loader, 0).len() as u64;
    if per_epoch == 0 {
        return Err(format!(
            "{}: the training split has {} slices, fewer than one batch of {}",
            args.data.display(),
            splits.train.len(),
            args.batch
        ));
    }
    let mut new_folder = NewRunFolder::create(&args.out)?;
    remove_stale_temp_files(&args.out);
    let mut run = Run::new(args, dev, per_epoch * args.epochs)?;
    let last = args.out.join("last.safetensors");
    if args.resume && last.exists() {
        run.resume(&last)?;
        let p = run.prog;
        eprintln!(
            "hepaseg train: resuming from step {} (epoch {}, step {} of {per_epoch})",
            p.step,
            p.epoch + 1,
            p.step_in_epoch
        );
    } else if args.resume {
        // Killed before its first checkpoint: nothing to continue, so start from scratch
        // (the run is seeded, so this is the same run).
        eprintln!(
            "hepaseg train: no checkpoint in {} yet; starting from step 0",
            args.out.display()
        );
    }
    if args.batch == 1 && !args.quiet {
        eprintln!(
            "hepaseg train: --batch 1: batch norms that see one value per channel (1×1 maps) \
             use their running statistics and keep them fixed (docs/training.md)"
        );
    }
    // After the resume checks, so a refused resume leaves the run folder as it was.
    crate::report::write_config(args)?;
    let csv = args.out.join("metrics.csv");
    restart_metrics(&csv, run.prog.epoch)?;
    let started = Instant::now();
    let bar = progress_bar(args.quiet, per_epoch * args.epochs, run.prog.step);
    let mut report = TrainReport {
        steps: run.prog.step,
        losses: Vec::new(),
        val_dice: Vec::new(),
        best_dice: run.prog.best_dice,
        steps_per_s: 0.0,
        interrupted: false,
    };
    let out_of_time = |steps_now: u64| {
        args.max_minutes
            .is_some_and(|m| started.elapsed().as_secs_f64() > m * 60.0)
            || args.max_steps.is_some_and(|m| steps_now >= m)
    };
    'epochs: while run.prog.epoch < args.epochs {
        let plan = batch_plan(splits.train.len(), &loader, run.prog.epoch);
        let mut epoch_loss = Vec::new();
        for idx in plan.iter().skip(run.prog.step_in_epoch as usize) {
            if stop.load(Ordering::SeqCst) {
                report.interrupted = true;
                break 'epochs;
            }
            if out_of_time(run.prog.step) {
                break 'epochs;
            }
            let batch = make_batch(&splits.train, idx, &loader, run.prog.epoch).map_err(err)?;
            let loss = match run.step(&batch) {
                Ok(l) => l,
                Err(e) => {
                    return Err(format!(
                        "training stopped at step {} (epoch {}): {e}; the last good checkpoint \
                         is {}",
                        run.prog.step + 1,
                        run.prog.epoch + 1,
                        args.out.join("last.safetensors").display()
                    ))
                }
            };
            epoch_loss.push(loss);
            report.losses.push(loss);
            bar.set_position(run.prog.step);
            bar.set_message(format!("epoch {} loss {loss:.4}", run.prog.epoch + 1));
        }
        // epoch finished: validate, log, checkpoint (a resumed run whose checkpoint was taken
        // after the epoch's last step and before its validation starts here)
        if stop.load(Ordering::SeqCst) {
            report.interrupted = true;
            break 'epochs;
        }
        let (dice, iou) = run.validate(&splits.val)?;
        let mean = epoch_loss.iter().sum::<f64>() / epoch_loss.len().max(1) as f64;
        let lr = run.schedule.lr(run.prog.step.saturating_sub(1));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&csv)
            .map_err(err)?;
        writeln!(
            f,
            "{},{},{mean:.6},{dice:.6},{iou:.6},{lr:.6e}",
            run.prog.epoch + 1,
            run.prog.step
        )
        .map_err(err)?;
        bar.println(format!(
            "epoch {}: loss {mean:.4}, val Dice {dice:.4}, IoU {iou:.4}",
            run.prog.epoch + 1
        ));
        crate::report::refresh_curves(&args.out)?;
        report.val_dice.push(dice);
        run.prog.epoch += 1;
        run.prog.step_in_epoch = 0;
        let best = dice > run.prog.best_dice || run.prog.epoch == 1;
        if best {
            run.prog.best_dice = dice;
        }
        // `best` before `last`: a kill between the two resumes from the previous `last` and
        // redoes this epoch, writing the same `best` again (the other order would resume past
        // a best epoch whose `best.safetensors` was never written).
        let ckpt = run.checkpoint()?;
        if best {
            ckpt.save(&args.out.join("best.safetensors"))?;
        }
        ckpt.save(&last)?;
    }
    // stopped early (time/steps/signal): keep the exact position (after a signal always, so
    // `last` exists even when the signal came before the first step)
    if run.prog.step_in_epoch > 0 || report.interrupted {
        run.checkpoint()?.save(&args.out.join("last.safetensors"))?;
    }
    bar.finish_and_clear();
    new_folder.keep();
    let took = started.elapsed().as_secs_f64();
    report.steps = run.prog.step;
    report.best_dice = run.prog.best_dice;
    report.steps_per_s = report.losses.len() as f64 / took.max(1e-9);
    Ok(report)
}

/// The run folder, removed again if this invocation created it and fails before writing a
/// checkpoint (a bad slice found at the first batch, a NaN loss at step 1): a failed run
/// leaves no folder holding only a metrics header behind.
struct NewRunFolder<'a> {
    path: &'a Path,
    created: bool,
}

impl<'a> NewRunFolder<'a> {
    fn create(path: &'a Path) -> Result<Self, String> {
        let created = !path.exists();
        std::fs::create_dir_all(path)
            .map_err(|e| format!("{}: cannot create the run folder: {e}", path.display()))?;
        Ok(Self { path, created })
    }

    /// The run succeeded: the folder stays.
    fn keep(&mut self) {
        self.created = false;
    }
}

impl Drop for NewRunFolder<'_> {
    fn drop(&mut self) {
        if self.created && !self.path.join("last.safetensors").exists() {
            let _ = std::fs::remove_dir_all(self.path);
        }
    }
}

/// The header of `metrics.csv`.
const METRICS_HEAD: &str = "epoch,step,train_loss,val_dice,val_iou,lr";

/// Rewrites `csv` (atomically) to its header and the rows of the first `epochs` epochs — the
/// ones the checkpoint being resumed from has seen. A run killed after logging an epoch but
/// before checkpointing it redoes that epoch, and must not log it twice; a torn last row from a
/// kill mid-append goes too. A fresh run (`epochs` 0) starts a new file.
fn restart_metrics(csv: &Path, epochs: u64) -> Result<(), String> {
    let old = if epochs > 0 {
        std::fs::read_to_string(csv).unwrap_or_default()
    } else {
        String::new()
    };
    let mut text = format!("{METRICS_HEAD}\n");
    for line in old.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let done = fields.len() == METRICS_HEAD.split(',').count()
            && fields[0].parse::<u64>().is_ok_and(|e| e <= epochs);
        if done {
            text.push_str(line);
            text.push('\n');
        }
    }
    crate::data::atomic::write_bytes_atomic(csv, text.as_bytes()).map_err(err)
}

/// Removes the temporary files of atomic writes that a killed run left in `dir` (hidden
/// `.<name>.tmp-<pid>-<n>` files next to the checkpoints and the metrics).
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = [
            "last.safetensors",
            "best.safetensors",
            "metrics.csv",
            crate::report::CONFIG,
            crate::report::CURVES,
        ]
        .iter()
        .any(|f| name.starts_with(&format!(".{f}.tmp-")));
        if ours {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Refuses out-of-range settings before anything is read or written, naming the option, so a
/// typo never costs a dataset scan or leaves an empty run folder behind.
fn check_settings(args: &TrainArgs) -> Result<(), String> {
    if args.batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    if args.epochs == 0 {
        return Err("--epochs must be at least 1".into());
    }
    if args.max_steps == Some(0) {
        return Err("--max-steps must be at least 1".into());
    }
    let positive = |name: &str, v: Option<f64>| match v {
        Some(v) if !(v.is_finite() && v > 0.0) => {
            Err(format!("{name} must be a finite number above 0, not {v}"))
        }
        _ => Ok(()),
    };
    positive("--lr", args.lr)?;
    positive("--max-minutes", args.max_minutes)?;
    match args.weight_decay {
        Some(v) if !(v.is_finite() && v >= 0.0) => Err(format!(
            "--weight-decay must be a finite number ≥ 0, not {v}"
        )),
        _ => Ok(()),
    }
}

/// The error for a preset no trainable network has.
fn unknown_preset(model: Model, preset: &str) -> String {
    if model.is_baseline() {
        let known = models::unet::PRESETS.join(", ");
        format!(
            "unknown preset `{preset}` for {}; known: {known}",
            model.name()
        )
    } else {
        crate::registry::unknown_preset(model, preset)
    }
}

fn progress_bar(quiet: bool, total: u64, at: u64) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}, {per_sec}] {msg}",
    ) {
        bar.set_style(style);
    }
    bar.set_position(at);
    bar
}

impl<D: Backend<f32>> Run<D> {
    pub(crate) fn new(args: &TrainArgs, dev: D, total_steps: u64) -> Result<Self, String> {
        let r = recipe(args);
        let mut store = ParamStore::new(dev, args.seed);
        // No effect at batch ≥ 2; lets `--batch 1` train (see the store's doc).
        store.set_batch_norm_single_value_frozen(true);
        let net = models::build(args.model, &args.preset, &mut store).map_err(err)?;
        let fingerprint = format!("{:016x}", models::fingerprint(&store).map_err(err)?);
        if let Some(p) = r.prior {
            if !(p > 0.0 && p < 1.0) {
                return Err(format!("--prior {p}: must lie strictly between 0 and 1"));
            }
            let id = store.id("head.out.bias").map_err(err)?;
            store
                .set_values_f64(id, &[(p / (1.0 - p)).ln()])
                .map_err(err)?;
        }
        let kind = match args.schedule {
            SchedName::Poly => ScheduleKind::Poly { power: 0.9 },
            SchedName::Cosine => ScheduleKind::Cosine { min_lr: 0.0 },
            SchedName::Constant => ScheduleKind::Constant,
        };
        Ok(Self {
            args: args.clone(),
            net,
            store,
            opt: Optimizer::new(r.opt).map_err(err)?,
            loss: LossConfig::new(r.loss).with_pooled(r.pooled),
            schedule: Schedule::new(kind, r.lr, total_steps.max(1)).map_err(err)?,
            prog: Progress::default(),
            fingerprint,
        })
    }

    /// One optimizer step on `batch`; returns the loss.
    pub(crate) fn step(&mut self, batch: &Batch) -> Result<f64, TrainError> {
        self.store.set_mode(Mode::Train);
        let shape = (batch.n, batch.channels, batch.height, batch.width);
        let dev = self.store.device().clone();
        let x = dev.tensor_from_vec(batch.images.clone(), shape);
        let y = dev.tensor_from_vec(
            batch.masks.clone(),
            (batch.n, 1usize, batch.height, batch.width),
        );
        let logits = self.net.forward(&mut self.store, x.leaky_traced())?;
        self.prog.rng_draws += self.net.rng_draws_per_step();
        let loss = self.loss.compute(logits, y)?;
        let value = check_loss(f64::from(loss.as_vec()[0]))?;
        let grads = self.store.collect_grads(loss.backward())?;
        let lr = self.schedule.lr(self.prog.step);
        self.opt.step(&mut self.store, &grads, lr)?;
        self.prog.step += 1;
        self.prog.step_in_epoch += 1;
        Ok(value)
    }

    /// The parameters (and batch-norm statistics).
    pub(crate) fn store(&self) -> &ParamStore<f32, D> {
        &self.store
    }

    /// Pooled Dice and IoU of the thresholded logits over `val` (eval mode).
    fn validate(&mut self, val: &Dataset) -> Result<(f64, f64), String> {
        self.store.set_mode(Mode::Eval);
        let cfg = LoaderConfig::eval(self.args.batch);
        let mut c = Confusion::default();
        for idx in batch_plan(val.len(), &cfg, 0) {
            let b = make_batch(val, &idx, &cfg, 0).map_err(err)?;
            let x = self
                .store
                .device()
                .tensor_from_vec(b.images.clone(), (b.n, b.channels, b.height, b.width));
            let logits = self.net.forward(&mut self.store, x).map_err(err)?.as_vec();
            for (p, g) in logits.iter().zip(&b.masks) {
                match (*p > 0.0, *g > 0.5) {
                    (true, true) => c.tp += 1,
                    (true, false) => c.fp += 1,
                    (false, true) => c.fn_ += 1,
                    (false, false) => c.tn += 1,
                }
            }
        }
        self.store.set_mode(Mode::Train);
        Ok((c.dice(), c.iou()))
    }

    fn checkpoint(&self) -> Result<Checkpoint, String> {
        let mut ck = Checkpoint {
            params: self.store.named_f32().map_err(err)?,
            optim: self.opt.export_state(),
            ..Default::default()
        };
        let p = self.prog;
        for (k, v) in [
            ("model", self.args.model.name().to_string()),
            ("preset", self.args.preset.clone()),
            ("fingerprint", self.fingerprint.clone()),
            ("epoch", p.epoch.to_string()),
            ("step_in_epoch", p.step_in_epoch.to_string()),
            ("step", p.step.to_string()),
            ("rng_draws", p.rng_draws.to_string()),
            ("best_dice", format!("{:e}", p.best_dice)),
            ("seed", self.args.seed.to_string()),
        ] {
            ck.meta.insert(k.to_string(), v);
        }
        Ok(ck)
    }

    /// Loads `path` into this run: tensors, optimizer state, position, RNG position.
    fn resume(&mut self, path: &Path) -> Result<(), String> {
        let ck = Checkpoint::load(path)?;
        let want = &self.fingerprint;
        if ck.get("model")? != self.args.model.name() || ck.get("fingerprint")? != want {
            return Err(format!(
                "{} holds {} {} (fingerprint {}), not {} {}",
                path.display(),
                ck.get("model")?,
                ck.get("preset")?,
                ck.get("fingerprint")?,
                self.args.model.name(),
                self.args.preset
            ));
        }
        load_params(&mut self.store, &ck)?;
        self.opt.import_state(&self.store, &ck.optim).map_err(err)?;
        self.prog = Progress {
            epoch: ck.get_num("epoch")?,
            step_in_epoch: ck.get_num("step_in_epoch")?,
            step: ck.get_num("step")?,
            rng_draws: ck.get_num("rng_draws")?,
            best_dice: ck.get_num("best_dice")?,
        };
        // continue the device RNG where the checkpointed run left it
        let dev = self.store.device().clone();
        for _ in 0..self.prog.rng_draws {
            dev.random_u64();
        }
        Ok(())
    }
}

/// Overwrites every tensor of `store` with the checkpoint's tensor of the same name.
pub(crate) fn load_params<D: Device<f32>>(
    store: &mut ParamStore<f32, D>,
    ck: &Checkpoint,
) -> Result<(), String> {
    let ids: Vec<_> = store
        .iter()
        .map(|(id, p)| (id, p.name().to_string()))
        .collect();
    for (id, name) in ids {
        let (_, _, v) = ck
            .params
            .iter()
            .find(|(n, _, _)| *n == name)
            .ok_or_else(|| format!("checkpoint lacks `{name}`"))?;
        store.set_values_f32(id, v).map_err(err)?;
    }
    Ok(())
}

/// `hepaseg export --checkpoint CKPT --out BLOB`: the checkpoint's parameters as an f32 blob
/// (core table order), signed with `sign` if given. `model` must match the checkpoint's.
pub fn export_checkpoint(
    model: Model,
    checkpoint: &Path,
    out: &Path,
    sign: Option<&Path>,
) -> Result<String, String> {
    let ck = Checkpoint::load(checkpoint)?;
    let preset = ck.get("preset")?.to_string();
    if ck.get("model")? != model.name() {
        return Err(format!(
            "{} is a {} checkpoint, not {}",
            checkpoint.display(),
            ck.get("model")?,
            model.name()
        ));
    }
    let net = crate::blob::network(model, &preset)
        .ok_or_else(|| crate::registry::unknown_preset(model, &preset))?;
    if ck.get("fingerprint")? != format!("{:016x}", net.fingerprint) {
        return Err("the checkpoint's fingerprint does not match this build's network".into());
    }
    let signer = sign
        .map(crate::blob::load_signing_key)
        .transpose()
        .map_err(err)?;
    let mut w = crate::blob::BlobWriter::new(
        net.architecture,
        net.preset,
        net.fingerprint,
        hepaseg_core::blob::QuantScheme::F32,
    );
    for spec in net.params {
        let name = spec.name.as_str();
        let (_, _, v) = ck
            .params
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| format!("checkpoint lacks `{name}`"))?;
        w.add_f32(name, spec.shape(), v).map_err(err)?;
    }
    let report = w.write(out, signer.as_ref()).map_err(err)?;
    Ok(format!(
        "{report}\n(f32 {} {} from {}, step {})",
        model.name(),
        preset,
        checkpoint.display(),
        ck.get("step")?
    ))
}
