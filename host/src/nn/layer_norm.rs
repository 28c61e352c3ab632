//! Layer normalisation over the features of each token (`N × L × D`, last axis), biased
//! variance, PyTorch semantics; the transformer branch uses ε = 1e-6 (core's `LN_EPS`).

use super::init::Init;
use super::store::join;
use super::{dev_err, NnError, ParamId, ParamStore, Real, Tokens};
use dfdx::shapes::{Axes2, Axis, HasShape};
use dfdx::tensor::Tape;
use dfdx::tensor_ops::{BroadcastTo, Device, MeanTo, TryAdd, TryMul, TrySub};
use hepaseg_core::params::Role;

/// The networks' layer-norm epsilon (PVT-v2).
pub const LN_EPS: f64 = 1e-6;

/// `prefix.weight`, `prefix.bias` over `dim` features.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    name: String,
    dim: usize,
    /// Added to the variance.
    pub eps: f64,
    weight: ParamId,
    bias: ParamId,
}

impl LayerNorm {
    /// Registers scale (1) and shift (0); ε = [`LN_EPS`].
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        dim: usize,
    ) -> Result<Self, NnError> {
        if dim == 0 {
            return Err(NnError::config(prefix, "zero features"));
        }
        Ok(Self {
            weight: store.register(
                &join(prefix, "weight"),
                &[dim],
                Role::LnWeight,
                Init::Default,
            )?,
            bias: store.register(&join(prefix, "bias"), &[dim], Role::LnBias, Init::Default)?,
            name: prefix.to_string(),
            dim,
            eps: LN_EPS,
        })
    }

    /// `[weight, bias]` ids.
    pub fn ids(&self) -> [ParamId; 2] {
        [self.weight, self.bias]
    }

    /// Normalises each token of `x` (`N × L × dim`).
    pub fn forward<E: Real, D: Device<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Tokens<E, D, T>,
    ) -> Result<Tokens<E, D, T>, NnError> {
        let shape = *x.shape();
        if shape.2 != self.dim {
            return Err(NnError::shape(
                &self.name,
                format!("N×L×{}", self.dim),
                &[shape.0, shape.1, shape.2],
            ));
        }
        let mean = x
            .retaped::<T>()
            .try_mean::<(usize, usize), Axis<2>>()
            .map_err(dev_err)?
            .try_broadcast_like::<_, Axis<2>>(&shape)
            .map_err(dev_err)?;
        let centered = x.try_sub(mean).map_err(dev_err)?;
        let inv_std = centered
            .retaped::<T>()
            .try_square()
            .map_err(dev_err)?
            .try_mean::<(usize, usize), Axis<2>>()
            .map_err(dev_err)?
            .try_add(E::of_f64(self.eps))
            .map_err(dev_err)?
            .try_sqrt()
            .map_err(dev_err)?
            .try_recip()
            .map_err(dev_err)?
            .try_broadcast_like::<_, Axis<2>>(&shape)
            .map_err(dev_err)?;
        let gamma = store
            .flat(self.weight)?
            .try_broadcast_like::<_, Axes2<0, 1>>(&shape)
            .map_err(dev_err)?;
        let beta = store
            .flat(self.bias)?
            .try_broadcast_like::<_, Axes2<0, 1>>(&shape)
            .map_err(dev_err)?;
        centered
            .try_mul(inv_std)
            .map_err(dev_err)?
            .try_mul(gamma)
            .map_err(dev_err)?
            .try_add(beta)
            .map_err(dev_err)
    }
}
