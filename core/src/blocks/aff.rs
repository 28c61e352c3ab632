//! AFF — attentive feature fusion of CAFCT-Net (SE style, as the paper describes), and the
//! "without AFF" ablation.
//!
//! Z = concat(F_cnn, F_trans) (`C2 = 2C` channels); e = σ(Conv1×1(C2/4→C2)(ReLU(
//! Conv1×1(C2→C2/4)(GAP(Z))))) (both with bias); out = ReLU(BN(Conv1×1(C2→C, no bias)(Z ⊙ e))).
//! Without the squeeze–excite gate (`SE = false`, the paper's "w/o AFF" ablation) the block is
//! the plain concat + Conv1×1 + BN + ReLU, under the same parameter names.

use super::unit::{conv_macs, Act, ConvBn, ConvBnParams};
use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops::{self, Conv2d};
use crate::param_struct;
use crate::params::ConvBias;
use crate::tensor::{vec_mut, vec_ref, Flat, Map};

param_struct! {
    /// Parameters of an AFF from `C2 = 2C` concatenated channels (`CQ = C2/4`) to `C`; the
    /// gate exists when `SE`.
    pub struct AffParams<'a, const C2: usize, const CQ: usize, const C: usize, const SE: bool> {
        squeeze: if SE ConvBias<'a, CQ, C2, 1>,
        excite: if SE ConvBias<'a, C2, CQ, 1>,
        fuse: ConvBnParams<'a, C, C2, 1>,
    }
}

/// An AFF on `H × W` maps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Aff<
    const C: usize,
    const C2: usize,
    const CQ: usize,
    const H: usize,
    const W: usize,
    const SE: bool,
>;

impl<
        const C: usize,
        const C2: usize,
        const CQ: usize,
        const H: usize,
        const W: usize,
        const SE: bool,
    > Aff<C, C2, CQ, H, W, SE>
{
    /// The pooled vector, the bottleneck and the gate (all 1 × 1).
    pub const SCRATCH_BYTES: usize = if SE { map_bytes(2 * C2 + CQ, 1, 1) } else { 0 };
    /// The gate's convolutions (on 1 × 1) and the fusion.
    pub const MACS: u64 = if SE {
        conv_macs(C2, CQ, 1, 1, 1) + conv_macs(CQ, C2, 1, 1, 1)
    } else {
        0
    } + conv_macs(C2, C, 1, H, W);

    /// `y = ReLU(BN(fuse(Z ⊙ e)))`. `z` holds Z on entry and is scaled by the gate in place
    /// (the network's concatenation buffer is dead afterwards).
    pub fn forward(
        p: &AffParams<'_, C2, CQ, C, SE>,
        z: &mut Map<C2, H, W>,
        y: &mut Map<C, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(C2 == 2 * C, "AFF fuses two C-channel maps");
            assert!(CQ * 4 == C2, "AFF squeeze is 2C/4 (C must be even)");
        };
        if let (Some(squeeze), Some(excite)) = (&p.squeeze, &p.excite) {
            let pooled = scratch.take_map::<C2, 1, 1>()?;
            let mid = scratch.take_map::<CQ, 1, 1>()?;
            let gate = scratch.take_map::<C2, 1, 1>()?;
            let pooled_vec = vec_mut::<f32, C2>(pooled.flat_mut()).ok_or(Error::PlanOverlap)?;
            ops::global_avg_pool(z, pooled_vec);
            Conv2d::<1, 0>::forward(pooled, squeeze.weight, Some(squeeze.bias), mid);
            ops::relu(mid);
            Conv2d::<1, 0>::forward(mid, excite.weight, Some(excite.bias), gate);
            ops::sigmoid(gate);
            let e = vec_ref::<f32, C2>(gate.flat()).ok_or(Error::PlanOverlap)?;
            ops::mul_channel(z, e);
        }
        ConvBn::<1, 0>::run(&p.fuse, z, y, Act::Relu);
        Ok(())
    }
}
