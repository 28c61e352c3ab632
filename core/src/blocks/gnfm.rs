//! GNFM — global non-local fusion ("post" mode of AGPCNet's GCA): the pixel attention that
//! gates each patch of an AGCB.
//!
//! P = AdaptiveMaxPool(S)(x); P = NonLocal(C, r = 1)(P);
//! g = σ(BN(Conv1×1(C/4→C)(ReLU(BN(Conv1×1(C→C/4)(P)))))) — shape C × S × S.

use super::nonlocal::{NonLocal, NonLocalParams};
use super::unit::{conv_macs, Act, ConvBiasBnParams, ConvBn};
use crate::arena::{map_bytes, max, Scratch};
use crate::error::Error;
use crate::ops;
use crate::param_struct;
use crate::tensor::Map;

param_struct! {
    /// Parameters of a GNFM with `C4 = C / 4` bottleneck channels.
    pub struct GnfmParams<'a, const C: usize, const C4: usize> {
        nonlocal: NonLocalParams<'a, C, C>,
        conv1: ConvBiasBnParams<'a, C4, C, 1>,
        conv2: ConvBiasBnParams<'a, C, C4, 1>,
    }
}

/// GNFM on a `C × H × W` map, pooled to `S × S`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gnfm<const C: usize, const C4: usize, const S: usize, const H: usize, const W: usize>;

impl<const C: usize, const C4: usize, const S: usize, const H: usize, const W: usize>
    Gnfm<C, C4, S, H, W>
{
    /// Pooled map, non-local output, then the larger of the non-local's scratch and the
    /// bottleneck map.
    pub const SCRATCH_BYTES: usize =
        2 * map_bytes(C, S, S) + max(NonLocal::<C, C, S, S>::SCRATCH_BYTES, map_bytes(C4, S, S));
    /// Non-local plus the two 1×1 convolutions.
    pub const MACS: u64 =
        NonLocal::<C, C, S, S>::MACS + conv_macs(C, C4, 1, S, S) + conv_macs(C4, C, 1, S, S);

    /// Writes the gate `g` (values in [0, 1]).
    pub fn forward(
        p: &GnfmParams<'_, C, C4>,
        x: &Map<C, H, W>,
        g: &mut Map<C, S, S>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(
                C4 * 4 == C,
                "GNFM bottleneck must be C/4 (C divisible by 4)"
            );
            assert!(
                S >= 1 && S <= H && S <= W,
                "GNFM scale must not exceed the map size"
            );
        };
        let pooled = scratch.take_map::<C, S, S>()?;
        ops::adaptive_max_pool(x, pooled);
        let attended = scratch.take_map::<C, S, S>()?;
        NonLocal::<C, C, S, S>::forward(&p.nonlocal, pooled, attended, scratch.reborrow())?;
        let mid = scratch.take_map::<C4, S, S>()?;
        ConvBn::<1, 0>::run_bias(&p.conv1, attended, mid, Act::Relu);
        ConvBn::<1, 0>::run_bias(&p.conv2, mid, g, Act::Sigmoid);
        Ok(())
    }
}
