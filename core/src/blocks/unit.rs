//! The unit most layers are made of: convolution → batch norm → activation.

use crate::ops::{self, Conv2d};
use crate::param_struct;
use crate::params::{Bn, Conv, ConvBias};
use crate::tensor::{ConvWeight, Map};

param_struct! {
    /// A convolution without bias followed by batch norm (the ResNet convention).
    pub struct ConvBnParams<'a, const CO: usize, const CIG: usize, const K: usize> {
        conv: Conv<'a, CO, CIG, K>,
        bn: Bn<'a, CO>,
    }
}

param_struct! {
    /// A convolution with bias followed by batch norm (the AGPCNet convention).
    pub struct ConvBiasBnParams<'a, const CO: usize, const CIG: usize, const K: usize> {
        conv: ConvBias<'a, CO, CIG, K>,
        bn: Bn<'a, CO>,
    }
}

/// The activation after a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// None (linear output).
    None,
    /// ReLU.
    Relu,
    /// Logistic sigmoid (gates).
    Sigmoid,
}

/// Applies an activation in place.
pub fn activate<const C: usize, const H: usize, const W: usize>(y: &mut Map<C, H, W>, act: Act) {
    match act {
        Act::None => {}
        Act::Relu => ops::relu(y),
        Act::Sigmoid => ops::sigmoid(y),
    }
}

/// Multiply-accumulates of a convolution producing `co × ho × wo` from `cig` input channels
/// per group with a `k × k` kernel.
pub const fn conv_macs(cig: usize, co: usize, k: usize, ho: usize, wo: usize) -> u64 {
    (cig * co * k * k * ho * wo) as u64
}

/// Convolution (stride `S`, padding `P`, dilation `D`) → batch norm → activation.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConvBn<const S: usize, const P: usize, const D: usize = 1>;

impl<const S: usize, const P: usize, const D: usize> ConvBn<S, P, D> {
    /// `y = act(bn(conv(x; weight, bias)))`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<
        const CI: usize,
        const H: usize,
        const W: usize,
        const CO: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >(
        x: &Map<CI, H, W>,
        weight: &ConvWeight<CO, CI, K>,
        bias: Option<&[f32; CO]>,
        bn: &Bn<'_, CO>,
        y: &mut Map<CO, HO, WO>,
        act: Act,
    ) {
        Conv2d::<S, P, D>::forward(x, weight, bias, y);
        ops::batch_norm(y, &bn.norm());
        activate(y, act);
    }

    /// The same unit from a [`ConvBnParams`] group.
    pub fn run<
        const CI: usize,
        const H: usize,
        const W: usize,
        const CO: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >(
        p: &ConvBnParams<'_, CO, CI, K>,
        x: &Map<CI, H, W>,
        y: &mut Map<CO, HO, WO>,
        act: Act,
    ) {
        Self::forward(x, p.conv.weight, None, &p.bn, y, act);
    }

    /// The same unit from a [`ConvBiasBnParams`] group.
    pub fn run_bias<
        const CI: usize,
        const H: usize,
        const W: usize,
        const CO: usize,
        const K: usize,
        const HO: usize,
        const WO: usize,
    >(
        p: &ConvBiasBnParams<'_, CO, CI, K>,
        x: &Map<CI, H, W>,
        y: &mut Map<CO, HO, WO>,
        act: Act,
    ) {
        Self::forward(x, p.conv.weight, Some(p.conv.bias), &p.bn, y, act);
    }
}
