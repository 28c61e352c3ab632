//! A training checkpoint as a [`SliceNet`]: the host's dfdx `f32` forward pass in eval mode
//! (`eval --checkpoint`), so a run can be scored before anything is exported.
//!
//! The network is rebuilt from the checkpoint's own `model`/`preset` metadata through
//! [`crate::models::build`] (any architecture [`SegNet`] covers), checked against this build's
//! fingerprint, and loaded tensor by tensor by core name; batch-norm layers use their running
//! statistics and dropout is off. Its logits match core's `f32` engine to ~1e-7 relative
//! (host/tests/models_parity.rs), so `eval --checkpoint` and `eval --blob --engine f32` of
//! the exported blob agree up to that.

use super::engine::SliceNet;
use crate::models::{self, SegNet};
use crate::nn::{Mode, ParamStore};
use crate::registry::Model;
use crate::train::checkpoint::Checkpoint;
use dfdx::prelude::*;
use std::path::Path;

/// A checkpoint's network on the CPU, ready to run slices.
#[derive(Debug)]
pub struct CheckpointNet {
    net: SegNet,
    store: ParamStore<f32, Cpu>,
    model: Model,
    preset: String,
    input: [usize; 3],
    output: [usize; 3],
    step: String,
}

impl CheckpointNet {
    /// Reads `path` (a `hepaseg train` checkpoint) and builds its network.
    pub fn load(path: &Path) -> Result<Self, String> {
        let ck = Checkpoint::load(path)?;
        let file = path.display();
        let name = ck.get("model").map_err(|e| format!("{file}: {e}"))?;
        let model = <Model as clap::ValueEnum>::from_str(name, false)
            .map_err(|_| format!("{file}: unknown model `{name}` in the checkpoint"))?;
        let preset = ck
            .get("preset")
            .map_err(|e| format!("{file}: {e}"))?
            .to_string();
        let id = models::identity(model, &preset)
            .ok_or_else(|| format!("{file}: unknown preset `{preset}` in the checkpoint"))?;
        let size = id.size;
        let mut store = ParamStore::new(Cpu::seed_from_u64(0), 0);
        let net = models::build(model, &preset, &mut store).map_err(|e| format!("{file}: {e}"))?;
        let want = models::fingerprint(&store).map_err(|e| format!("{file}: {e}"))?;
        if ck.get("fingerprint").map_err(|e| format!("{file}: {e}"))? != format!("{want:016x}") {
            return Err(format!(
                "{file}: the checkpoint's fingerprint does not match this build's {} {preset}",
                model.name()
            ));
        }
        crate::train::run::load_params(&mut store, &ck).map_err(|e| format!("{file}: {e}"))?;
        store.set_mode(Mode::Eval);
        Ok(Self {
            net,
            store,
            model,
            preset,
            input: [id.channels, size, size],
            output: [1, size, size],
            step: ck.get("step").unwrap_or("?").to_string(),
        })
    }

    /// The architecture.
    pub fn model(&self) -> Model {
        self.model
    }

    /// The preset.
    pub fn preset(&self) -> &str {
        &self.preset
    }
}

impl SliceNet for CheckpointNet {
    fn describe(&self) -> String {
        format!(
            "{} {} (host f32, checkpoint step {})",
            self.model.name(),
            self.preset,
            self.step
        )
    }

    fn input_hw(&self) -> [usize; 2] {
        [self.input[1], self.input[2]]
    }

    fn input_channels(&self) -> usize {
        self.input[0]
    }

    fn output_shape(&self) -> [usize; 3] {
        self.output
    }

    fn infer(&mut self, input: &[f32], logits: &mut Vec<f32>) -> Result<(), String> {
        let [c, h, w] = self.input;
        if input.len() != c * h * w {
            return Err(format!(
                "input has {} values, the network takes {c}×{h}×{w}",
                input.len()
            ));
        }
        let x = self
            .store
            .device()
            .tensor_from_vec(input.to_vec(), (1usize, c, h, w));
        let y = self
            .net
            .forward(&mut self.store, x)
            .map_err(|e| format!("host forward pass failed: {e}"))?;
        logits.clear();
        logits.extend(y.as_vec());
        Ok(())
    }
}
