//! SGD with momentum, Adam and AdamW over a [`ParamStore`]'s named trainable parameters, with
//! PyTorch's update rules; state is kept by parameter name so it can be saved and restored.
//!
//! dfdx's optimizers need `TensorOptions`, which cannot be built for run-time shapes, so the
//! updates are written here with plain dfdx tensor ops (device-generic, no tape).
//!
//! Weight decay:
//! * SGD and Adam use **L2** decay as PyTorch does: `g ← g + λ·p` before the update.
//! * AdamW uses **decoupled** decay: `p ← p·(1 − lr·λ)` before the Adam update.
//!
//! Update rules (`t` counts each parameter's steps from 1):
//! * SGD: `b ← g` at the first step, then `b ← μ·b + g` (dampening 0); `g ← b` (or
//!   `g + μ·b` with Nesterov); `p ← p − lr·g`.
//! * Adam/AdamW: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//!   `p ← p − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε)`.

use super::TrainError;
use crate::nn::{dev_err, Flat, NnError, ParamGrads, ParamStore, Real};
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::{Device, TryAdd, TryDiv, TryMul};
use std::collections::BTreeMap;

/// SGD settings (PyTorch `torch.optim.SGD`, dampening 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Momentum μ (0 = plain SGD).
    pub momentum: f64,
    /// L2 weight decay λ (added to the gradient).
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
}

impl SgdConfig {
    /// AGCAF-Net's recipe: momentum 0.9, weight decay 4e-4.
    pub const AGCAF: SgdConfig = SgdConfig {
        momentum: 0.9,
        weight_decay: 4e-4,
        nesterov: false,
    };
}

/// Adam/AdamW settings (PyTorch defaults: β = (0.9, 0.999), ε = 1e-8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// β₁, β₂.
    pub betas: (f64, f64),
    /// ε.
    pub eps: f64,
    /// λ: L2 for Adam, decoupled for AdamW.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Which optimizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    /// SGD with momentum and L2 weight decay.
    Sgd(SgdConfig),
    /// Adam with L2 weight decay.
    Adam(AdamConfig),
    /// Adam with decoupled weight decay.
    AdamW(AdamConfig),
}

impl OptimizerKind {
    fn validate(&self) -> Result<(), TrainError> {
        let bad = |what: &str| Err(TrainError::Config(what.to_string()));
        match *self {
            OptimizerKind::Sgd(c) => {
                let decay_ok = c.weight_decay >= 0.0;
                if !(0.0..1.0).contains(&c.momentum) || !decay_ok {
                    return bad("SGD needs 0 ≤ momentum < 1 and weight decay ≥ 0");
                }
                if c.nesterov && c.momentum == 0.0 {
                    return bad("Nesterov momentum needs momentum > 0");
                }
            }
            OptimizerKind::Adam(c) | OptimizerKind::AdamW(c) => {
                let (b1, b2) = c.betas;
                if !(0.0..1.0).contains(&b1) || !(0.0..1.0).contains(&b2) {
                    return bad("Adam needs 0 ≤ β₁, β₂ < 1");
                }
                let ok = c.eps > 0.0 && c.weight_decay >= 0.0;
                if !ok {
                    return bad("Adam needs ε > 0 and weight decay ≥ 0");
                }
            }
        }
        Ok(())
    }

    /// Names of the per-parameter state buffers, as PyTorch calls them.
    fn slots(&self) -> &'static [&'static str] {
        match self {
            OptimizerKind::Sgd(_) => &["momentum_buffer"],
            OptimizerKind::Adam(_) | OptimizerKind::AdamW(_) => &["exp_avg", "exp_avg_sq"],
        }
    }
}

/// Per-parameter state.
struct Slot<E: Real, D: Device<E>> {
    step: u64,
    buffers: Vec<Flat<E, D>>,
}

/// An optimizer and its state, keyed by parameter name.
pub struct Optimizer<E: Real, D: Device<E>> {
    kind: OptimizerKind,
    state: BTreeMap<String, Slot<E, D>>,
}

impl<E: Real, D: Device<E>> std::fmt::Debug for Optimizer<E, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optimizer")
            .field("kind", &self.kind)
            .field("parameters_with_state", &self.state.len())
            .finish()
    }
}

/// One exported state entry: `(name, values)`; names are `param.slot` (e.g.
/// `backbone.stem.conv.weight.exp_avg`) and `param.step` (one value).
pub type StateEntry = (String, Vec<f32>);

impl<E: Real, D: Device<E>> Optimizer<E, D> {
    /// A fresh optimizer (no state yet; buffers start at zero on each parameter's first step).
    pub fn new(kind: OptimizerKind) -> Result<Self, TrainError> {
        kind.validate()?;
        Ok(Self {
            kind,
            state: BTreeMap::new(),
        })
    }

    /// The settings.
    pub fn kind(&self) -> OptimizerKind {
        self.kind
    }

    /// How many steps parameter `name` has taken.
    pub fn steps(&self, name: &str) -> u64 {
        self.state.get(name).map_or(0, |s| s.step)
    }

    /// Updates every trainable parameter of `store` that has a gradient in `grads`, with
    /// learning rate `lr`.
    pub fn step(
        &mut self,
        store: &mut ParamStore<E, D>,
        grads: &ParamGrads<E, D>,
        lr: f64,
    ) -> Result<(), TrainError> {
        if !lr.is_finite() || lr < 0.0 {
            return Err(TrainError::Config(format!(
                "learning rate {lr} is not a finite value ≥ 0"
            )));
        }
        let ids: Vec<_> = store.trainable().map(|(id, _)| id).collect();
        for id in ids {
            let Some(g) = grads.get(id) else { continue };
            let name = store.param(id)?.name().to_string();
            let p = store.flat(id)?;
            if g.shape() != p.shape() {
                return Err(NnError::ParamLen {
                    name,
                    expected: p.shape().0,
                    found: g.shape().0,
                }
                .into());
            }
            let slot = self.state.entry(name).or_insert_with(|| Slot {
                step: 0,
                buffers: Vec::new(),
            });
            slot.step += 1;
            let new = match self.kind {
                OptimizerKind::Sgd(c) => sgd(c, slot, p, g.clone(), lr)?,
                OptimizerKind::Adam(c) => adam(c, false, slot, p, g.clone(), lr)?,
                OptimizerKind::AdamW(c) => adam(c, true, slot, p, g.clone(), lr)?,
            };
            store.set_flat(id, new)?;
        }
        Ok(())
    }

    /// The state as named host vectors (for checkpoints).
    pub fn export_state(&self) -> Vec<StateEntry> {
        let slots = self.kind.slots();
        let mut out = Vec::new();
        for (name, slot) in &self.state {
            out.push((format!("{name}.step"), vec![slot.step as f32]));
            for (label, buf) in slots.iter().zip(&slot.buffers) {
                let v = buf
                    .as_vec()
                    .into_iter()
                    .map(|x| Into::<f64>::into(x) as f32)
                    .collect();
                out.push((format!("{name}.{label}"), v));
            }
        }
        out
    }

    /// Restores state exported by [`Self::export_state`] for the parameters of `store`.
    /// Entries of unknown parameters or with wrong lengths are an error; the optimizer is
    /// unchanged unless everything fits.
    pub fn import_state(
        &mut self,
        store: &ParamStore<E, D>,
        entries: &[StateEntry],
    ) -> Result<(), TrainError> {
        let slots = self.kind.slots();
        let by_key: BTreeMap<&str, &Vec<f32>> =
            entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut state = BTreeMap::new();
        for (key, values) in &by_key {
            let Some(name) = key.strip_suffix(".step") else {
                continue;
            };
            let p = store.param(store.id(name)?)?;
            let step = match values.as_slice() {
                [s] if *s >= 0.0 && s.fract() == 0.0 => *s as u64,
                _ => return Err(TrainError::Config(format!("bad step entry `{key}`"))),
            };
            let mut buffers = Vec::new();
            if step > 0 {
                for label in slots {
                    let k = format!("{name}.{label}");
                    let v = by_key
                        .get(k.as_str())
                        .ok_or_else(|| TrainError::Config(format!("missing state `{k}`")))?;
                    if v.len() != p.numel() {
                        return Err(NnError::ParamLen {
                            name: k,
                            expected: p.numel(),
                            found: v.len(),
                        }
                        .into());
                    }
                    let data: Vec<E> = v.iter().map(|&x| E::of_f32(x)).collect();
                    let n = data.len();
                    buffers.push(
                        store
                            .device()
                            .try_tensor_from_vec(data, (n,))
                            .map_err(dev_err)?,
                    );
                }
            }
            state.insert(name.to_string(), Slot { step, buffers });
        }
        self.state = state;
        Ok(())
    }
}

fn e<E: Real>(v: f64) -> E {
    E::of_f64(v)
}

fn sgd<E: Real, D: Device<E>>(
    c: SgdConfig,
    slot: &mut Slot<E, D>,
    p: Flat<E, D>,
    g: Flat<E, D>,
    lr: f64,
) -> Result<Flat<E, D>, NnError> {
    let mut g = g;
    if c.weight_decay != 0.0 {
        g = g
            .try_add(p.clone().try_mul(e::<E>(c.weight_decay)).map_err(dev_err)?)
            .map_err(dev_err)?;
    }
    if c.momentum != 0.0 {
        let buf = match slot.buffers.pop() {
            Some(b) if slot.step > 1 => b
                .try_mul(e::<E>(c.momentum))
                .map_err(dev_err)?
                .try_add(g.clone())
                .map_err(dev_err)?,
            _ => g.clone(),
        };
        slot.buffers = vec![buf.clone()];
        g = if c.nesterov {
            g.try_add(buf.try_mul(e::<E>(c.momentum)).map_err(dev_err)?)
                .map_err(dev_err)?
        } else {
            buf
        };
    }
    p.try_add(g.try_mul(e::<E>(-lr)).map_err(dev_err)?)
        .map_err(dev_err)
}

fn adam<E: Real, D: Device<E>>(
    c: AdamConfig,
    decoupled: bool,
    slot: &mut Slot<E, D>,
    p: Flat<E, D>,
    g: Flat<E, D>,
    lr: f64,
) -> Result<Flat<E, D>, NnError> {
    let (b1, b2) = c.betas;
    let mut g = g;
    let mut p = p;
    if c.weight_decay != 0.0 {
        if decoupled {
            p = p
                .try_mul(e::<E>(1.0 - lr * c.weight_decay))
                .map_err(dev_err)?;
        } else {
            g = g
                .try_add(p.clone().try_mul(e::<E>(c.weight_decay)).map_err(dev_err)?)
                .map_err(dev_err)?;
        }
    }
    let (m, v) = match (slot.step > 1, slot.buffers.as_slice()) {
        (true, [m, v]) => (m.clone(), v.clone()),
        _ => {
            let n = p.shape().0;
            let dev = p.device().clone();
            (
                dev.try_zeros_like(&(n,)).map_err(dev_err)?,
                dev.try_zeros_like(&(n,)).map_err(dev_err)?,
            )
        }
    };
    let m = m
        .try_mul(e::<E>(b1))
        .map_err(dev_err)?
        .try_add(g.clone().try_mul(e::<E>(1.0 - b1)).map_err(dev_err)?)
        .map_err(dev_err)?;
    let v = v
        .try_mul(e::<E>(b2))
        .map_err(dev_err)?
        .try_add(
            g.try_square()
                .map_err(dev_err)?
                .try_mul(e::<E>(1.0 - b2))
                .map_err(dev_err)?,
        )
        .map_err(dev_err)?;
    let t = slot.step as i32;
    let bc1 = 1.0 - b1.powi(t);
    let bc2 = 1.0 - b2.powi(t);
    let denom = v
        .clone()
        .try_sqrt()
        .map_err(dev_err)?
        .try_mul(e::<E>(1.0 / bc2.sqrt()))
        .map_err(dev_err)?
        .try_add(e::<E>(c.eps))
        .map_err(dev_err)?;
    let update = m
        .clone()
        .try_div(denom)
        .map_err(dev_err)?
        .try_mul(e::<E>(-lr / bc1))
        .map_err(dev_err)?;
    slot.buffers = vec![m, v];
    p.try_add(update).map_err(dev_err)
}
