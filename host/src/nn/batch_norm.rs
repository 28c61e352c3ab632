//! Batch normalisation over `N × C × H × W` with running statistics (PyTorch semantics).
//!
//! Training mode normalises with the batch's mean and *biased* variance and updates the
//! running statistics with momentum 0.1 using the *unbiased* variance, exactly as
//! `torch.nn.BatchNorm2d`; evaluation mode uses the running statistics as the affine map
//! `x·scale + shift` with `scale = γ/√(var + ε)`, `shift = β − mean·scale` — the form core
//! applies (and folds into the convolution before it).

use super::init::Init;
use super::store::join;
use super::{dev_err, Map, NnError, ParamId, ParamStore, Real};
use dfdx::shapes::{Axes3, HasShape};
use dfdx::tensor::{NoneTape, Tape};
use dfdx::tensor_ops::{BroadcastTo, Device, MeanTo, TryAdd, TryMul, TrySub};
use hepaseg_core::params::Role;

/// PyTorch's default batch-norm epsilon (core's `BN_EPS`).
pub const BN_EPS: f64 = 1e-5;
/// PyTorch's default running-statistics momentum.
pub const BN_MOMENTUM: f64 = 0.1;

/// A batch norm over `channels`: `prefix.{weight, bias, running_mean, running_var}`.
#[derive(Debug, Clone)]
pub struct BatchNorm2d {
    name: String,
    channels: usize,
    /// Weight of the newest batch in the running statistics.
    pub momentum: f64,
    /// Added to the variance.
    pub eps: f64,
    weight: ParamId,
    bias: ParamId,
    running_mean: ParamId,
    running_var: ParamId,
}

impl BatchNorm2d {
    /// Registers the four tensors in core's order (γ = 1, β = 0, mean 0, variance 1).
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        channels: usize,
    ) -> Result<Self, NnError> {
        if channels == 0 {
            return Err(NnError::config(prefix, "zero channels"));
        }
        let mut reg = |field: &str, role| {
            store.register(&join(prefix, field), &[channels], role, Init::Default)
        };
        Ok(Self {
            weight: reg("weight", Role::BnWeight)?,
            bias: reg("bias", Role::BnBias)?,
            running_mean: reg("running_mean", Role::BnRunningMean)?,
            running_var: reg("running_var", Role::BnRunningVar)?,
            name: prefix.to_string(),
            channels,
            momentum: BN_MOMENTUM,
            eps: BN_EPS,
        })
    }

    /// `[weight, bias, running_mean, running_var]` ids.
    pub fn ids(&self) -> [ParamId; 4] {
        [self.weight, self.bias, self.running_mean, self.running_var]
    }

    fn check(&self, shape: &(usize, usize, usize, usize)) -> Result<(), NnError> {
        let &(n, c, h, w) = shape;
        if c != self.channels || n * h * w == 0 {
            return Err(NnError::shape(
                &self.name,
                format!("non-empty N×{}×H×W", self.channels),
                &[n, c, h, w],
            ));
        }
        Ok(())
    }

    /// Normalises `x`; in [`super::Mode::Train`] with batch statistics (and updates the running
    /// ones), in [`super::Mode::Eval`] — or when the store has batch norm frozen, or has
    /// single-value freezing on and `x` holds one value per channel — with the running
    /// statistics.
    pub fn forward<E: Real, D: Device<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let (n, _, h, w) = *x.shape();
        let single = n * h * w == 1 && store.batch_norm_single_value_frozen();
        if store.is_training() && !store.batch_norm_frozen() && !single {
            self.forward_train(store, x)
        } else {
            self.forward_eval(store, x)
        }
    }

    /// Evaluation form (running statistics); needs only `&ParamStore`.
    pub fn forward_eval<E: Real, D: Device<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let shape = *x.shape();
        self.check(&shape)?;
        let inv_std = store
            .flat(self.running_var)?
            .try_add(E::of_f64(self.eps))
            .map_err(dev_err)?
            .try_sqrt()
            .map_err(dev_err)?
            .try_recip()
            .map_err(dev_err)?;
        // γ and β take part in the graph (gradients reach them); the statistics do not.
        let scale = store
            .flat(self.weight)?
            .retaped::<T>()
            .try_mul(inv_std)
            .map_err(dev_err)?;
        let mean = store.flat(self.running_mean)?;
        let shift = store
            .flat(self.bias)?
            .retaped::<T>()
            .try_sub(scale.retaped::<T>().try_mul(mean).map_err(dev_err)?)
            .map_err(dev_err)?;
        let scale = scale
            .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
            .map_err(dev_err)?;
        let shift = shift
            .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
            .map_err(dev_err)?;
        x.try_mul(scale)
            .map_err(dev_err)?
            .try_add(shift)
            .map_err(dev_err)
    }

    fn forward_train<E: Real, D: Device<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let shape = *x.shape();
        self.check(&shape)?;
        let (n, _, h, w) = shape;
        let count = n * h * w;
        if count < 2 {
            return Err(NnError::shape(
                &self.name,
                "more than one value per channel when training",
                &[shape.0, shape.1, shape.2, shape.3],
            ));
        }
        let mean = x
            .retaped::<T>()
            .try_mean::<(usize,), Axes3<0, 2, 3>>()
            .map_err(dev_err)?;
        let batch_mean = mean.retaped::<NoneTape>();
        let centered = x
            .try_sub(
                mean.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
                    .map_err(dev_err)?,
            )
            .map_err(dev_err)?;
        let var = centered
            .retaped::<T>()
            .try_square()
            .map_err(dev_err)?
            .try_mean::<(usize,), Axes3<0, 2, 3>>()
            .map_err(dev_err)?;
        let batch_var = var.retaped::<NoneTape>();
        let scale = var
            .try_add(E::of_f64(self.eps))
            .map_err(dev_err)?
            .try_sqrt()
            .map_err(dev_err)?
            .try_recip()
            .map_err(dev_err)?
            .try_mul(store.flat(self.weight)?)
            .map_err(dev_err)?
            .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
            .map_err(dev_err)?;
        let shift = store
            .flat(self.bias)?
            .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
            .map_err(dev_err)?;
        let y = centered
            .try_mul(scale)
            .map_err(dev_err)?
            .try_add(shift)
            .map_err(dev_err)?;

        // running = (1 − m)·running + m·batch, with the unbiased variance
        let m = self.momentum;
        let keep = E::of_f64(1.0 - m);
        let rm = store
            .flat(self.running_mean)?
            .try_mul(keep)
            .map_err(dev_err)?
            .try_add(batch_mean.try_mul(E::of_f64(m)).map_err(dev_err)?)
            .map_err(dev_err)?;
        let unbias = count as f64 / (count - 1) as f64;
        let rv = store
            .flat(self.running_var)?
            .try_mul(keep)
            .map_err(dev_err)?
            .try_add(batch_var.try_mul(E::of_f64(m * unbias)).map_err(dev_err)?)
            .map_err(dev_err)?;
        store.set_flat(self.running_mean, rm)?;
        store.set_flat(self.running_var, rv)?;
        Ok(y)
    }
}
