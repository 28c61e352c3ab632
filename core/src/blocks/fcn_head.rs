//! Segmentation head of AGCAF-Net (AGPCNet's `_FCNHead`): Conv3×3(C→C/4, bias)+BN+ReLU,
//! Dropout(0.1) (the identity at inference), Conv1×1(C/4→1, bias) — one logit map.

use super::unit::{conv_macs, Act, ConvBiasBnParams, ConvBn};
use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops::Conv2d;
use crate::param_struct;
use crate::params::ConvBias;
use crate::tensor::Map;

param_struct! {
    /// Parameters of the head from `CI` to `CM` hidden channels to one logit.
    pub struct FcnHeadParams<'a, const CI: usize, const CM: usize> {
        conv: ConvBiasBnParams<'a, CM, CI, 3>,
        out: ConvBias<'a, 1, CM, 1>,
    }
}

/// The head on `CI × H × W`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FcnHead<const CI: usize, const CM: usize, const H: usize, const W: usize>;

impl<const CI: usize, const CM: usize, const H: usize, const W: usize> FcnHead<CI, CM, H, W> {
    /// The hidden map.
    pub const SCRATCH_BYTES: usize = map_bytes(CM, H, W);
    /// Both convolutions.
    pub const MACS: u64 = conv_macs(CI, CM, 3, H, W) + conv_macs(CM, 1, 1, H, W);

    /// Writes the logits.
    pub fn forward(
        p: &FcnHeadParams<'_, CI, CM>,
        x: &Map<CI, H, W>,
        y: &mut Map<1, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        let hidden = scratch.take_map::<CM, H, W>()?;
        ConvBn::<1, 1>::run_bias(&p.conv, x, hidden, Act::Relu);
        Conv2d::<1, 0>::forward(hidden, p.out.weight, Some(p.out.bias), y);
        Ok(())
    }
}
