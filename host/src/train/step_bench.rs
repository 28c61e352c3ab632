//! One training step on synthetic data, for benchmarks (benches/benches/train.rs) and the
//! PyTorch comparison (benches/peers/train.py).
//!
//! [`StepBench`] wraps the training loop's own run state (`run::Run`): the same network,
//! parameter initialisation, recipe of the preset (optimizer, loss, Dice pooling, learning
//! rate; SGD/Dice for paper/edge, Adam/pooled Dice for the tiny presets), forward in train mode
//! (batch norms on batch statistics, dropout on), loss, backward, gradient collection and
//! optimizer update — there is no second copy of the step. Only the data differ: instead of a
//! dataset folder, a fixed batch of `batch` windowed phantom slices (seeds `seed`, `seed + 1`,
//! …; [`crate::bench::bench_sample`]) with their tumour masks, built once, so a timing holds
//! the step and nothing else (the real loop's loading and augmentation run on a loader thread).
//!
//! `side` is normally the preset's input size (`hepaseg info`); CAFCT-Net also trains at other
//! sides its downsampling divides, AGCAF-Net refuses any other size at the first step (its
//! AGCB patch grid is laid out for the preset's size) — an error, not a panic.

use super::run::{Run, SchedName, TrainArgs};
use crate::data::loader::Batch;
use crate::data::{SliceId, Target};
use crate::nn::store::NamedTensor;
use crate::registry::Model;
use dfdx::prelude::*;
use std::path::PathBuf;

impl std::fmt::Debug for StepBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.batch;
        f.debug_struct("StepBench")
            .field("batch", &[b.n, b.channels, b.height, b.width])
            .finish_non_exhaustive()
    }
}

/// Steps the learning-rate schedule is spread over: large, so the poly schedule stays at its
/// base rate for any number of timed steps.
const SCHEDULE_STEPS: u64 = 1 << 40;

/// A training run on one fixed synthetic batch, on dfdx's CPU device.
pub struct StepBench {
    run: Run<Cpu>,
    batch: Batch,
}

impl StepBench {
    /// The run of `model` at `preset` (seed `seed`: initialisation, dropout, phantoms) on a
    /// batch of `batch` slices of `side × side`.
    pub fn new(
        model: Model,
        preset: &str,
        batch: usize,
        side: usize,
        seed: u64,
    ) -> Result<Self, String> {
        if batch == 0 || side == 0 {
            return Err(format!(
                "a training step needs a batch ≥ 1 of slices ≥ 1 × 1 (got {batch} of {side}²)"
            ));
        }
        let id = crate::models::identity(model, preset)
            .ok_or_else(|| crate::registry::unknown_preset(model, preset))?;
        let args = bench_args(model, preset, batch, seed);
        let run = Run::new(&args, Cpu::seed_from_u64(seed), SCHEDULE_STEPS)?;
        let mut b = Batch {
            images: Vec::with_capacity(batch * id.channels * side * side),
            masks: Vec::with_capacity(batch * side * side),
            n: batch,
            channels: id.channels,
            height: side,
            width: side,
            indices: (0..batch).collect(),
            ids: Vec::with_capacity(batch),
        };
        for i in 0..batch {
            let (image, labels) =
                crate::bench::bench_sample(side, id.channels, seed.wrapping_add(i as u64))?;
            b.images.extend_from_slice(&image);
            b.masks.extend(labels.iter().map(|&l| Target::Tumor.of(l)));
            b.ids.push(SliceId {
                study: i as u32,
                instance: 1,
            });
        }
        Ok(Self { run, batch: b })
    }

    /// One optimizer step (forward, loss, backward, update) on the batch; returns the loss.
    pub fn step(&mut self) -> Result<f64, String> {
        self.run.step(&self.batch).map_err(|e| e.to_string())
    }

    /// Slices per step.
    pub fn batch(&self) -> usize {
        self.batch.n
    }

    /// Tumour pixels in the batch's masks (how much foreground the loss sees).
    pub fn foreground(&self) -> usize {
        self.batch.masks.iter().filter(|&&m| m > 0.5).count()
    }

    /// Every tensor of the network (parameters and batch-norm statistics), by name.
    pub fn params(&self) -> Result<Vec<NamedTensor>, String> {
        self.run.store().named_f32().map_err(|e| e.to_string())
    }
}

/// The `hepaseg train` arguments of the run: the preset's default recipe; no data folder or
/// run folder is read or written (only `Run::new` and `Run::step` see them).
fn bench_args(model: Model, preset: &str, batch: usize, seed: u64) -> TrainArgs {
    TrainArgs {
        data: PathBuf::new(),
        model,
        preset: preset.to_string(),
        out: PathBuf::new(),
        epochs: 1,
        batch,
        lr: None,
        optimizer: None,
        weight_decay: None,
        schedule: SchedName::Poly,
        loss: None,
        dice_over: None,
        prior: None,
        seed,
        target: "tumor".into(),
        max_minutes: None,
        max_steps: None,
        liver_slices_only: false,
        device: "cpu".into(),
        resume: false,
        quiet: true,
    }
}
