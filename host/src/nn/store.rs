//! Parameters and buffers by name: the trainable state of a model.
//!
//! A model registers every tensor under the dotted name, shape and [`Role`] that core's
//! parameter table gives it (`Net::PARAMS`), in table order. Layers keep only the
//! [`ParamId`]s they were given and read the tensors from the store on every forward pass, so
//! * the whole model exports to, and loads from, core's table order by name
//!   ([`ParamStore::export_f32`], [`ParamStore::import_f32`], checked by
//!   [`ParamStore::check_table`]);
//! * optimizers walk [`ParamStore::trainable`] and replace values in place of their id;
//! * batch-norm running statistics are buffers (not trainable) that layers update while the
//!   store is in [`Mode::Train`].
//!
//! Values are flat (`(usize,)`) device tensors; [`ParamStore::shaped`] views one with its
//! shape without copying (a contiguous reshape keeps the tensor's id, so gradients of the view
//! land on the parameter).

use super::cache::Cache;
use super::init::{self, Init};
use super::{dev_err, Flat, NnError, Real};
use dfdx::shapes::{HasShape, Shape};
use dfdx::tensor::{Gradients, Tensor};
use dfdx::tensor_ops::{Device, ReshapeTo};
use hepaseg_core::params::{ParamSpec, Role};
use std::collections::HashMap;
use std::fmt;

/// `prefix.name`, or just `name` at the root (empty prefix) — core's dotted naming.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// `(name, shape, values)` of one tensor.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// A handle to one registered tensor (its row in registration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(usize);

impl ParamId {
    /// Position in registration order (= core table row when the model registers in order).
    pub fn index(self) -> usize {
        self.0
    }
}

/// Training or evaluation behaviour (PyTorch's `model.train()` / `model.eval()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Batch norm uses batch statistics and updates its running ones; dropout is active.
    #[default]
    Train,
    /// Batch norm uses running statistics; dropout is the identity.
    Eval,
}

/// One named tensor.
pub struct Param<E: Real, D: Device<E>> {
    name: String,
    shape: Vec<usize>,
    role: Role,
    trainable: bool,
    value: Flat<E, D>,
}

impl<E: Real, D: Device<E>> fmt::Debug for Param<E, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Param")
            .field("name", &self.name)
            .field("shape", &self.shape)
            .field("role", &self.role)
            .field("trainable", &self.trainable)
            .finish()
    }
}

impl<E: Real, D: Device<E>> Param<E, D> {
    /// Dotted name (`backbone.stem.conv.weight`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// What it is.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Whether optimizers update it (running statistics and frozen tensors are not).
    pub fn is_trainable(&self) -> bool {
        self.trainable
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// The flat value.
    pub fn value(&self) -> &Flat<E, D> {
        &self.value
    }
}

/// All parameters and buffers of a model, the train/eval mode and the shape-keyed tensor cache.
pub struct ParamStore<E: Real, D: Device<E>> {
    dev: D,
    seed: u64,
    params: Vec<Param<E, D>>,
    by_name: HashMap<String, ParamId>,
    mode: Mode,
    bn_frozen: bool,
    bn_single_value_frozen: bool,
    cache: Cache<E, D>,
}

impl<E: Real, D: Device<E>> fmt::Debug for ParamStore<E, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamStore")
            .field("params", &self.params.len())
            .field("elements", &self.num_elements(false))
            .field("mode", &self.mode)
            .field("cache", &self.cache)
            .finish()
    }
}

fn to_f64<E: Real>(v: Vec<E>) -> Vec<f64> {
    v.into_iter().map(Into::into).collect()
}

impl<E: Real, D: Device<E>> ParamStore<E, D> {
    /// An empty store on `dev`; `seed` drives [`Init`] (see [`init::values`]).
    pub fn new(dev: D, seed: u64) -> Self {
        Self {
            dev,
            seed,
            params: Vec::new(),
            by_name: HashMap::new(),
            mode: Mode::Train,
            bn_frozen: false,
            bn_single_value_frozen: false,
            cache: Cache::default(),
        }
    }

    /// The device the tensors live on.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// Current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Switches between training and evaluation behaviour.
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// `mode() == Mode::Train`.
    pub fn is_training(&self) -> bool {
        self.mode == Mode::Train
    }

    /// Freezes batch norm: it then normalises with its running statistics and leaves them
    /// unchanged even in [`Mode::Train`] (fine-tuning with small batches), while dropout and
    /// everything else keep their training behaviour. γ and β still receive gradients.
    pub fn set_batch_norm_frozen(&mut self, frozen: bool) {
        self.bn_frozen = frozen;
    }

    /// Whether batch norm is frozen (see [`Self::set_batch_norm_frozen`]).
    pub fn batch_norm_frozen(&self) -> bool {
        self.bn_frozen
    }

    /// Mixed batch-statistics freezing, decided per layer and step by the input's shape: in
    /// [`Mode::Train`], a batch norm that sees only **one value per channel** (`N·H·W = 1`: a
    /// 1×1 gate map at batch 1), where the batch variance is undefined, normalises with its
    /// running statistics and leaves them unchanged — as if frozen for that step — instead of
    /// failing as PyTorch does. Every layer with more values per channel keeps batch
    /// statistics. Off by default (PyTorch's behaviour); `hepaseg train` turns it on, which
    /// changes nothing at batch ≥ 2 and makes `--batch 1` train.
    pub fn set_batch_norm_single_value_frozen(&mut self, on: bool) {
        self.bn_single_value_frozen = on;
    }

    /// Whether [`Self::set_batch_norm_single_value_frozen`] is on.
    pub fn batch_norm_single_value_frozen(&self) -> bool {
        self.bn_single_value_frozen
    }

    /// The shape-keyed cache of index and weight tensors.
    pub fn cache(&self) -> &Cache<E, D> {
        &self.cache
    }

    /// Number of registered tensors.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Registers a tensor and fills it according to `init`. Buffers (running statistics) are
    /// registered as not trainable.
    pub fn register(
        &mut self,
        name: &str,
        shape: &[usize],
        role: Role,
        init: Init,
    ) -> Result<ParamId, NnError> {
        if self.by_name.contains_key(name) {
            return Err(NnError::DuplicateParam(name.to_string()));
        }
        if shape.is_empty() || shape.contains(&0) {
            return Err(NnError::config(name, format!("empty shape {shape:?}")));
        }
        let values = init::values(init, name, shape, role, self.seed);
        let value = self.upload(values.into_iter().map(E::of_f64).collect())?;
        let id = ParamId(self.params.len());
        self.params.push(Param {
            name: name.to_string(),
            shape: shape.to_vec(),
            role,
            trainable: role.is_trainable(),
            value,
        });
        self.by_name.insert(name.to_string(), id);
        Ok(id)
    }

    /// Registers one row of a core table (name, shape, role) — e.g. to hold a checkpoint's
    /// tensors without building the model.
    pub fn register_spec(&mut self, spec: &ParamSpec, init: Init) -> Result<ParamId, NnError> {
        self.register(spec.name.as_str(), spec.shape(), spec.role, init)
    }

    fn upload(&self, v: Vec<E>) -> Result<Flat<E, D>, NnError> {
        let n = v.len();
        self.dev.try_tensor_from_vec(v, (n,)).map_err(dev_err)
    }

    /// The id of `name`.
    pub fn id(&self, name: &str) -> Result<ParamId, NnError> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| NnError::UnknownParam(name.to_string()))
    }

    /// The tensor behind `id`.
    pub fn param(&self, id: ParamId) -> Result<&Param<E, D>, NnError> {
        self.params.get(id.0).ok_or(NnError::BadParamId(id.0))
    }

    fn param_mut(&mut self, id: ParamId) -> Result<&mut Param<E, D>, NnError> {
        self.params.get_mut(id.0).ok_or(NnError::BadParamId(id.0))
    }

    /// Every tensor, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Param<E, D>)> {
        self.params.iter().enumerate().map(|(i, p)| (ParamId(i), p))
    }

    /// The tensors optimizers update, in registration order.
    pub fn trainable(&self) -> impl Iterator<Item = (ParamId, &Param<E, D>)> {
        self.iter().filter(|(_, p)| p.trainable)
    }

    /// Freezes (`false`) or unfreezes a parameter. Running statistics can never be trained.
    pub fn set_trainable(&mut self, id: ParamId, trainable: bool) -> Result<(), NnError> {
        let p = self.param_mut(id)?;
        if trainable && !p.role.is_trainable() {
            return Err(NnError::config(
                &p.name,
                "running statistics are buffers and cannot be trained",
            ));
        }
        p.trainable = trainable;
        Ok(())
    }

    /// Total elements (`trainable_only`: what PyTorch's parameter count reports).
    pub fn num_elements(&self, trainable_only: bool) -> usize {
        self.params
            .iter()
            .filter(|p| !trainable_only || p.role.is_trainable())
            .map(Param::numel)
            .sum()
    }

    /// The flat value of `id` (an `Arc` clone, no copy).
    pub fn flat(&self, id: ParamId) -> Result<Flat<E, D>, NnError> {
        Ok(self.param(id)?.value.clone())
    }

    /// The value of `id` viewed with `shape` (same element count; no copy, same tensor id).
    pub fn shaped<S: Shape>(&self, id: ParamId, shape: S) -> Result<Tensor<S, E, D>, NnError> {
        let p = self.param(id)?;
        if shape.num_elements() != p.numel() {
            return Err(NnError::ParamLen {
                name: p.name.clone(),
                expected: p.numel(),
                found: shape.num_elements(),
            });
        }
        p.value.clone().try_reshape_like(&shape).map_err(dev_err)
    }

    /// Replaces the value of `id` with a tensor of the same length (optimizer updates).
    pub fn set_flat(&mut self, id: ParamId, value: Flat<E, D>) -> Result<(), NnError> {
        let p = self.param_mut(id)?;
        let found = value.shape().0;
        if found != p.numel() {
            return Err(NnError::ParamLen {
                name: p.name.clone(),
                expected: p.numel(),
                found,
            });
        }
        p.value = value;
        Ok(())
    }

    /// Overwrites `id` from host values.
    pub fn set_values_f64(&mut self, id: ParamId, values: &[f64]) -> Result<(), NnError> {
        let v = self.upload(values.iter().map(|&x| E::of_f64(x)).collect())?;
        self.set_flat(id, v)
    }

    /// Overwrites `id` from host `f32` values.
    pub fn set_values_f32(&mut self, id: ParamId, values: &[f32]) -> Result<(), NnError> {
        let v = self.upload(values.iter().map(|&x| E::of_f32(x)).collect())?;
        self.set_flat(id, v)
    }

    /// The values of `id` on the host.
    pub fn values_f64(&self, id: ParamId) -> Result<Vec<f64>, NnError> {
        Ok(to_f64(self.param(id)?.value.as_vec()))
    }

    /// The values of `id` on the host, rounded to `f32`.
    pub fn values_f32(&self, id: ParamId) -> Result<Vec<f32>, NnError> {
        Ok(self.values_f64(id)?.into_iter().map(|v| v as f32).collect())
    }

    /// Refills `id` with a fresh initialisation.
    pub fn reinit(&mut self, id: ParamId, init: Init) -> Result<(), NnError> {
        let p = self.param(id)?;
        let v = init::values(init, &p.name, &p.shape, p.role, self.seed);
        self.set_values_f64(id, &v)
    }

    /// The store's own table (names, shapes, roles, in registration order) — what a network
    /// without a core counterpart (the baselines) is identified by.
    pub fn table(&self) -> Result<Vec<ParamSpec>, NnError> {
        self.params
            .iter()
            .enumerate()
            .map(|(row, p)| {
                let too_long = p.name.len() > hepaseg_core::params::NAME_CAP;
                if too_long || p.shape.len() > 4 {
                    return Err(NnError::Table {
                        row,
                        detail: format!(
                            "`{}` {:?} does not fit a core table row (name ≤ {} bytes, rank ≤ 4)",
                            p.name,
                            p.shape,
                            hepaseg_core::params::NAME_CAP
                        ),
                    });
                }
                let mut dims = [0; 4];
                dims[..p.shape.len()].copy_from_slice(&p.shape);
                Ok(ParamSpec {
                    name: hepaseg_core::params::Name::ROOT.child(&p.name),
                    dims,
                    rank: p.shape.len(),
                    role: p.role,
                })
            })
            .collect()
    }

    /// Checks that the store holds exactly `table`'s tensors, in its order, with its shapes and
    /// roles — the contract that lets core's forward read what the host trained.
    pub fn check_table(&self, table: &[ParamSpec]) -> Result<(), NnError> {
        for (row, spec) in table.iter().enumerate() {
            let Some(p) = self.params.get(row) else {
                return Err(NnError::Table {
                    row,
                    detail: format!(
                        "`{}` is missing (store has {} rows)",
                        spec.name.as_str(),
                        row
                    ),
                });
            };
            let detail = if p.name != spec.name.as_str() {
                format!("store has `{}`, table has `{}`", p.name, spec.name.as_str())
            } else if p.shape != spec.shape() {
                format!(
                    "`{}`: store shape {:?}, table {:?}",
                    p.name,
                    p.shape,
                    spec.shape()
                )
            } else if p.role != spec.role {
                format!(
                    "`{}`: store role {:?}, table {:?}",
                    p.name, p.role, spec.role
                )
            } else {
                continue;
            };
            return Err(NnError::Table { row, detail });
        }
        if let Some(extra) = self.params.get(table.len()) {
            return Err(NnError::Table {
                row: table.len(),
                detail: format!("store has extra tensor `{}`", extra.name),
            });
        }
        Ok(())
    }

    /// The values of `table`'s tensors, looked up by name, in table order — ready for
    /// `hepaseg_core::params::SliceParams`.
    pub fn export_f32(&self, table: &[ParamSpec]) -> Result<Vec<Vec<f32>>, NnError> {
        table
            .iter()
            .enumerate()
            .map(|(row, spec)| {
                let id = self.id(spec.name.as_str())?;
                let p = self.param(id)?;
                if p.shape != spec.shape() {
                    return Err(NnError::Table {
                        row,
                        detail: format!(
                            "`{}`: store shape {:?}, table {:?}",
                            p.name,
                            p.shape,
                            spec.shape()
                        ),
                    });
                }
                self.values_f32(id)
            })
            .collect()
    }

    /// Loads `tensors` (one per row of `table`, in table order) into the tensors of the same
    /// names. Nothing is changed unless every row fits.
    pub fn import_f32<V: AsRef<[f32]>>(
        &mut self,
        table: &[ParamSpec],
        tensors: &[V],
    ) -> Result<(), NnError> {
        if tensors.len() != table.len() {
            return Err(NnError::Table {
                row: tensors.len().min(table.len()),
                detail: format!("{} tensors for {} table rows", tensors.len(), table.len()),
            });
        }
        let mut ids = Vec::with_capacity(table.len());
        for (spec, values) in table.iter().zip(tensors) {
            let id = self.id(spec.name.as_str())?;
            let p = self.param(id)?;
            if values.as_ref().len() != p.numel() || p.shape != spec.shape() {
                return Err(NnError::ParamLen {
                    name: p.name.clone(),
                    expected: p.numel(),
                    found: values.as_ref().len(),
                });
            }
            ids.push(id);
        }
        for (id, values) in ids.into_iter().zip(tensors) {
            self.set_values_f32(id, values.as_ref())?;
        }
        Ok(())
    }

    /// Every tensor as `(name, shape, values)` in registration order (checkpoints).
    pub fn named_f32(&self) -> Result<Vec<NamedTensor>, NnError> {
        self.iter()
            .map(|(id, p)| Ok((p.name.clone(), p.shape.clone(), self.values_f32(id)?)))
            .collect()
    }

    /// Pulls each trainable parameter's gradient out of dfdx's [`Gradients`] (zeros for a
    /// parameter the forward pass did not use), releasing everything else `grads` held.
    pub fn collect_grads(&self, mut grads: Gradients<E, D>) -> Result<ParamGrads<E, D>, NnError> {
        let mut out = vec![None; self.params.len()];
        for (slot, p) in out.iter_mut().zip(&self.params) {
            if p.trainable {
                grads.get_or_alloc_mut(&p.value).map_err(dev_err)?;
                *slot = Some(grads.get(&p.value));
            }
        }
        Ok(ParamGrads { grads: out })
    }
}

/// The gradients of a store's trainable parameters, by [`ParamId`].
pub struct ParamGrads<E: Real, D: Device<E>> {
    grads: Vec<Option<Flat<E, D>>>,
}

impl<E: Real, D: Device<E>> fmt::Debug for ParamGrads<E, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamGrads")
            .field("tensors", &self.grads.iter().flatten().count())
            .finish()
    }
}

impl<E: Real, D: Device<E>> ParamGrads<E, D> {
    /// The gradient of `id`, if it is trainable.
    pub fn get(&self, id: ParamId) -> Option<&Flat<E, D>> {
        self.grads.get(id.0).and_then(Option::as_ref)
    }

    /// Replaces the gradient of `id` (clipping, accumulation); the length must match.
    pub fn set(&mut self, id: ParamId, g: Flat<E, D>) -> Result<(), NnError> {
        match self.grads.get_mut(id.0) {
            Some(Some(old)) if old.shape() == g.shape() => {
                *old = g;
                Ok(())
            }
            Some(Some(old)) => Err(NnError::ParamLen {
                name: format!("gradient #{}", id.0),
                expected: old.shape().0,
                found: g.shape().0,
            }),
            _ => Err(NnError::BadParamId(id.0)),
        }
    }

    /// Every gradient with its parameter id.
    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Flat<E, D>)> {
        self.grads
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.as_ref().map(|g| (ParamId(i), g)))
    }

    /// The gradient of `id` on the host.
    pub fn values_f64(&self, id: ParamId) -> Option<Vec<f64>> {
        self.get(id).map(|g| to_f64(g.as_vec()))
    }
}
