//! Attention gate (Attention U-Net) on a skip connection of CAFCT-Net's decoder.
//!
//! x1 = BN(Conv1×1(C→CI)(x)), g1 = BN(Conv1×1(CG→CI)(g)) with `CI = C/2`;
//! ψ = σ(BN(Conv1×1(CI→1)(ReLU(x1 + g1)))); s = x ⊙ ψ. The three 1×1 convolutions have
//! biases (as in Attention U-Net), each followed by batch norm.

use super::unit::{conv_macs, Act, ConvBiasBnParams, ConvBn};
use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops;
use crate::param_struct;
use crate::tensor::Map;

param_struct! {
    /// Parameters of a gate on a `C`-channel skip with a `CG`-channel gating signal and
    /// `CI = C/2` intermediate channels.
    pub struct AttentionGateParams<'a, const C: usize, const CG: usize, const CI: usize> {
        w_x: ConvBiasBnParams<'a, CI, C, 1>,
        w_g: ConvBiasBnParams<'a, CI, CG, 1>,
        psi: ConvBiasBnParams<'a, 1, CI, 1>,
    }
}

/// An attention gate on `H × W` maps.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttentionGate<
    const C: usize,
    const CG: usize,
    const CI: usize,
    const H: usize,
    const W: usize,
>;

impl<const C: usize, const CG: usize, const CI: usize, const H: usize, const W: usize>
    AttentionGate<C, CG, CI, H, W>
{
    /// x1, g1 and ψ.
    pub const SCRATCH_BYTES: usize = map_bytes(2 * CI + 1, H, W);
    /// The three 1×1 convolutions.
    pub const MACS: u64 =
        conv_macs(C, CI, 1, H, W) + conv_macs(CG, CI, 1, H, W) + conv_macs(CI, 1, 1, H, W);

    /// `s = x ⊙ ψ(x, g)`.
    pub fn forward(
        p: &AttentionGateParams<'_, C, CG, CI>,
        x: &Map<C, H, W>,
        g: &Map<CG, H, W>,
        s: &mut Map<C, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(
                CI * 2 == C,
                "attention gate works on C/2 channels (C must be even)"
            )
        };
        let x1 = scratch.take_map::<CI, H, W>()?;
        let g1 = scratch.take_map::<CI, H, W>()?;
        let psi = scratch.take_map::<1, H, W>()?;
        ConvBn::<1, 0>::run_bias(&p.w_x, x, x1, Act::None);
        ConvBn::<1, 0>::run_bias(&p.w_g, g, g1, Act::None);
        ops::add(x1, g1);
        ops::relu(x1);
        ConvBn::<1, 0>::run_bias(&p.psi, x1, psi, Act::Sigmoid);
        s.copy_from_slice(x);
        ops::mul_pixel(s, psi);
        Ok(())
    }
}
