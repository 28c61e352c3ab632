//! AFM — asymmetric fusion module (AGPCNet's `AsymFusionModule`): fuses an upsampled deep map
//! with a shallower skip map under channel and pixel attention.
//!
//! xh = ReLU(BN(Conv1×1(C_h→C_l)(x_high))); pa = σ(BN(Conv1×1(C_l/4→C_l)(ReLU(BN(
//! Conv1×1(C_l→C_l/4)(x_low)))))) per pixel; ca = the same structure, own weights, on GAP(xh)
//! per channel; feat = ReLU(BN(Conv3×3(C_l→C_l)(x_low + xh))); out = feat ⊙ ca ⊙ pa.

use super::unit::{conv_macs, Act, ConvBiasBnParams, ConvBn};
use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops;
use crate::param_struct;
use crate::tensor::{vec_mut, Flat, Map};

param_struct! {
    /// A squeeze–excite style gate: Conv1×1(C→C4)+BN+ReLU → Conv1×1(C4→C)+BN → σ.
    pub struct GateParams<'a, const C: usize, const C4: usize> {
        squeeze: ConvBiasBnParams<'a, C4, C, 1>,
        excite: ConvBiasBnParams<'a, C, C4, 1>,
    }
}

param_struct! {
    /// Parameters of an AFM from `CH` deep channels to `CL` skip channels (`CL4 = CL / 4`).
    pub struct AfmParams<'a, const CH: usize, const CL: usize, const CL4: usize> {
        plus_conv: ConvBiasBnParams<'a, CL, CH, 1>,
        pa: GateParams<'a, CL, CL4>,
        ca: GateParams<'a, CL, CL4>,
        end_conv: ConvBiasBnParams<'a, CL, CL, 3>,
    }
}

/// Applies a [`GateParams`] gate to `x`, writing σ(…) into `out`, using `mid` as bottleneck.
fn gate<const C: usize, const C4: usize, const H: usize, const W: usize>(
    p: &GateParams<'_, C, C4>,
    x: &Map<C, H, W>,
    mid: &mut Map<C4, H, W>,
    out: &mut Map<C, H, W>,
) {
    ConvBn::<1, 0>::run_bias(&p.squeeze, x, mid, Act::Relu);
    ConvBn::<1, 0>::run_bias(&p.excite, mid, out, Act::Sigmoid);
}

/// AFM on `H × W` maps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Afm<const CH: usize, const CL: usize, const CL4: usize, const H: usize, const W: usize>;

impl<const CH: usize, const CL: usize, const CL4: usize, const H: usize, const W: usize>
    Afm<CH, CL, CL4, H, W>
{
    /// xh, pixel gate, bottleneck, and the small channel-gate vectors.
    pub const SCRATCH_BYTES: usize = map_bytes(2 * CL + CL4, H, W) + map_bytes(3 * CL + CL4, 1, 1);
    /// All convolutions (the channel gate runs on 1 × 1).
    pub const MACS: u64 = conv_macs(CH, CL, 1, H, W)
        + conv_macs(CL, CL4, 1, H, W)
        + conv_macs(CL4, CL, 1, H, W)
        + conv_macs(CL, CL4, 1, 1, 1)
        + conv_macs(CL4, CL, 1, 1, 1)
        + conv_macs(CL, CL, 3, H, W);

    /// `y = end_conv(x_low + xh) ⊙ ca ⊙ pa`.
    pub fn forward(
        p: &AfmParams<'_, CH, CL, CL4>,
        x_high: &Map<CH, H, W>,
        x_low: &Map<CL, H, W>,
        y: &mut Map<CL, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(
                CL4 * 4 == CL,
                "AFM bottleneck must be C_l/4 (C_l divisible by 4)"
            )
        };
        let xh = scratch.take_map::<CL, H, W>()?;
        ConvBn::<1, 0>::run_bias(&p.plus_conv, x_high, xh, Act::Relu);

        let pa = scratch.take_map::<CL, H, W>()?;
        let mid = scratch.take_map::<CL4, H, W>()?;
        gate(&p.pa, x_low, mid, pa);

        let pooled = scratch.take_map::<CL, 1, 1>()?;
        let ca = scratch.take_map::<CL, 1, 1>()?;
        let mid1 = scratch.take_map::<CL4, 1, 1>()?;
        let pooled_vec = vec_mut::<f32, CL>(pooled.flat_mut()).ok_or(Error::PlanOverlap)?;
        ops::global_avg_pool(xh, pooled_vec);
        gate(&p.ca, pooled, mid1, ca);

        ops::add(xh, x_low);
        ConvBn::<1, 1>::run_bias(&p.end_conv, xh, y, Act::Relu);
        let ca_vec: [f32; CL] = core::array::from_fn(|c| ca[c][0][0]);
        ops::mul_channel(y, &ca_vec);
        ops::mul(y, pa);
        Ok(())
    }
}
