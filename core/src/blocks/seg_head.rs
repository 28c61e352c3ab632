//! Segmentation head of CAFCT-Net, on the map the network has already upsampled to the input
//! size: Conv3×3(C→C, no bias) + BN + ReLU, then Conv1×1(C→1, bias) — one logit map.
//!
//! The hidden map is streamed one channel at a time: hidden channel `c` is computed as a
//! plane, normalised, rectified and accumulated into the logits with weight `out[0][c]`. That
//! is the same arithmetic, in the same order, as the two full convolutions, with one plane of
//! scratch instead of a `C × H × W` map (the head runs at full resolution).

use super::unit::{conv_macs, ConvBnParams};
use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops::conv_fast::mul_add_into;
use crate::ops::Conv2d;
use crate::param_struct;
use crate::params::ConvBias;
use crate::tensor::{Flat, Map};

param_struct! {
    /// Parameters of the head on `C` channels.
    pub struct SegHeadParams<'a, const C: usize> {
        conv: ConvBnParams<'a, C, C, 3>,
        out: ConvBias<'a, 1, C, 1>,
    }
}

/// The head on `C × H × W`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SegHead<const C: usize, const H: usize, const W: usize>;

impl<const C: usize, const H: usize, const W: usize> SegHead<C, H, W> {
    /// One hidden plane.
    pub const SCRATCH_BYTES: usize = map_bytes(1, H, W);
    /// Both convolutions.
    pub const MACS: u64 = conv_macs(C, C, 3, H, W) + conv_macs(C, 1, 1, H, W);

    /// Writes the logits.
    pub fn forward(
        p: &SegHeadParams<'_, C>,
        x: &Map<C, H, W>,
        y: &mut Map<1, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        let hidden = scratch.take_map::<1, H, W>()?;
        let bn = p.conv.bn.norm();
        y.flat_mut().fill(p.out.bias[0]);
        for (c, filter) in p.conv.conv.weight.iter().enumerate() {
            Conv2d::<1, 1>::forward(x, core::array::from_ref(filter), None, hidden);
            let (scale, shift) = bn.affine(c);
            for h in hidden.flat_mut() {
                *h = (*h * scale + shift).max(0.0);
            }
            // The 1×1 convolution's term for channel c, rounded as the convolution kernel
            // rounds it (fused on FMA builds).
            mul_add_into(y.flat_mut(), p.out.weight[0][c][0][0], hidden.flat());
        }
        Ok(())
    }
}
