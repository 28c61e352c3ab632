//! The units both networks are made of, mirroring core's `blocks::unit` and
//! `blocks::basic_block`: convolution → batch norm → activation, and the ResNet BasicBlock.
//!
//! Each unit registers its tensors under core's names (`prefix.conv.*`, `prefix.bn.*`) in
//! core's order, so a model built from them exports in `Net::PARAMS` order.

use crate::nn::store::join;
use crate::nn::{
    dev_err, Backend, BatchNorm2d, Conv2d, ConvConfig, Map, NnError, ParamStore, Real,
};
use dfdx::tensor::Tape;
use dfdx::tensor_ops::{Device, TryAdd};

/// The activation after a unit (core's `Act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Linear output.
    None,
    /// ReLU.
    Relu,
    /// Logistic sigmoid (gates).
    Sigmoid,
}

impl Act {
    /// Applies the activation.
    pub fn apply<E: Real, D: Device<E>, T: Tape<E, D>>(
        self,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        match self {
            Act::None => Ok(x),
            Act::Relu => x.try_relu().map_err(dev_err),
            Act::Sigmoid => x.try_sigmoid().map_err(dev_err),
        }
    }
}

/// `prefix.conv` + `prefix.bn` + an activation (core's `ConvBnParams` / `ConvBiasBnParams`).
#[derive(Debug, Clone)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm2d,
}

impl ConvBn {
    /// Registers `prefix.conv.weight` (+ `.bias` when `cfg.bias`) and `prefix.bn.*`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        cfg: ConvConfig,
    ) -> Result<Self, NnError> {
        let channels = cfg.out_channels;
        Ok(Self {
            conv: Conv2d::new(store, &join(prefix, "conv"), cfg)?,
            bn: BatchNorm2d::new(store, &join(prefix, "bn"), channels)?,
        })
    }

    /// `act(bn(conv(x)))`.
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
        act: Act,
    ) -> Result<Map<E, D, T>, NnError> {
        let y = self.conv.forward(store, x)?;
        act.apply(self.bn.forward(store, y)?)
    }
}

/// `k × k` convolution config with `same` padding for odd kernels, stride `s`, optional bias.
pub fn conv(ci: usize, co: usize, k: usize, stride: usize, bias: bool) -> ConvConfig {
    ConvConfig::new(ci, co, k)
        .stride(stride)
        .padding(k / 2)
        .bias(bias)
}

/// ResNet BasicBlock (no biases): `ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x))`, with
/// a Conv1×1(stride)+BN `downsample` exactly when the shape changes (as core).
#[derive(Debug, Clone)]
pub struct BasicBlock {
    conv1: ConvBn,
    conv2: ConvBn,
    downsample: Option<ConvBn>,
}

impl BasicBlock {
    /// `ci → co` channels with the first convolution's `stride`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        ci: usize,
        co: usize,
        stride: usize,
    ) -> Result<Self, NnError> {
        let conv1 = ConvBn::new(
            store,
            &join(prefix, "conv1"),
            conv(ci, co, 3, stride, false),
        )?;
        let conv2 = ConvBn::new(store, &join(prefix, "conv2"), conv(co, co, 3, 1, false))?;
        let downsample = if stride != 1 || ci != co {
            let cfg = ConvConfig::new(ci, co, 1).stride(stride).bias(false);
            Some(ConvBn::new(store, &join(prefix, "downsample"), cfg)?)
        } else {
            None
        };
        Ok(Self {
            conv1,
            conv2,
            downsample,
        })
    }

    /// The block on `x`.
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let mid = self.conv1.forward(store, x.retaped::<T>(), Act::Relu)?;
        let y = self.conv2.forward(store, mid, Act::None)?;
        let short = match &self.downsample {
            Some(d) => d.forward(store, x, Act::None)?,
            None => x,
        };
        y.try_add(short)
            .map_err(dev_err)?
            .try_relu()
            .map_err(dev_err)
    }
}
