//! Fully connected layer over the last axis, weight `[out, in]` as PyTorch (`y = x·Wᵀ + b`).

use super::init::Init;
use super::store::join;
use super::{dev_err, NnError, ParamId, ParamStore, Real, Tokens};
use dfdx::shapes::{Axes2, HasShape};
use dfdx::tensor::Tape;
use dfdx::tensor_ops::{BroadcastTo, Device, PermuteTo, TryAdd, TryMatMul};
use hepaseg_core::params::Role;

/// `prefix.weight` `[out, in]` and `prefix.bias` `[out]`.
#[derive(Debug, Clone)]
pub struct Linear {
    name: String,
    in_features: usize,
    out_features: usize,
    weight: ParamId,
    bias: ParamId,
}

impl Linear {
    /// Registers weight and bias with PyTorch's default `U(±1/√in)`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        in_features: usize,
        out_features: usize,
    ) -> Result<Self, NnError> {
        if in_features == 0 || out_features == 0 {
            return Err(NnError::config(prefix, "zero features"));
        }
        let bound = 1.0 / (in_features as f64).sqrt();
        Ok(Self {
            weight: store.register(
                &join(prefix, "weight"),
                &[out_features, in_features],
                Role::LinearWeight,
                Init::Default,
            )?,
            bias: store.register(
                &join(prefix, "bias"),
                &[out_features],
                Role::LinearBias,
                Init::Uniform { bound },
            )?,
            name: prefix.to_string(),
            in_features,
            out_features,
        })
    }

    /// `[weight, bias]` ids.
    pub fn ids(&self) -> [ParamId; 2] {
        [self.weight, self.bias]
    }

    /// `N × L × in → N × L × out`.
    pub fn forward<E: Real, D: Device<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Tokens<E, D, T>,
    ) -> Result<Tokens<E, D, T>, NnError> {
        let (n, l, d) = *x.shape();
        if d != self.in_features {
            return Err(NnError::shape(
                &self.name,
                format!("N×L×{}", self.in_features),
                &[n, l, d],
            ));
        }
        let wt = store
            .shaped(self.weight, (self.out_features, self.in_features))?
            .try_permute::<_, Axes2<1, 0>>()
            .map_err(dev_err)?;
        let b = store
            .flat(self.bias)?
            .try_broadcast_like::<_, Axes2<0, 1>>(&(n, l, self.out_features))
            .map_err(dev_err)?;
        x.try_matmul(wt)
            .map_err(dev_err)?
            .try_add(b)
            .map_err(dev_err)
    }
}
