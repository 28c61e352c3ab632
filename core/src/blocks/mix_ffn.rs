//! Mix-FFN (PVT-v2's `Mlp` with `DWConv`): Linear(C, CH) → depthwise Conv3×3 (pad 1, bias) on
//! the token map → exact GELU → Linear(CH, C), with `CH = 4C` in CAFCT-Net.
//!
//! The hidden layer is streamed **one hidden channel at a time**: channel `j` of fc1 is
//! computed as an `H × W` plane, convolved with its own depthwise filter, passed through GELU
//! and immediately accumulated into the output through column `j` of fc2. So the block needs
//! two planes of scratch instead of two `CH × H × W` maps, and every output is still summed in
//! the order a plain `Linear(CH, C)` uses (hidden index ascending, then the bias). fc1 reads the
//! tokens as a channel-major map (one transposed copy, `C × H × W` of scratch), so each hidden
//! plane is vector multiply–adds over 32 pixels at a time, kept in registers across the `C`
//! features ([`ops::linalg::mix_channels`]), each token still summing its terms in feature
//! order, then the bias.

use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops::{self, DepthwiseConv2d};
use crate::param_struct;
use crate::params::{ConvBias, Linear};
use crate::tensor::{Flat, Tokens};

param_struct! {
    /// Parameters of a Mix-FFN on `C` features with `CH` hidden features.
    pub struct MixFfnParams<'a, const C: usize, const CH: usize> {
        fc1: Linear<'a, CH, C>,
        dwconv: ConvBias<'a, CH, 1, 3>,
        fc2: Linear<'a, C, CH>,
    }
}

/// A Mix-FFN on the `H × W` tokens of a map.
#[derive(Debug, Clone, Copy, Default)]
pub struct MixFfn<const C: usize, const CH: usize, const H: usize, const W: usize>;

impl<const C: usize, const CH: usize, const H: usize, const W: usize> MixFfn<C, CH, H, W> {
    /// One hidden plane before and one after the depthwise convolution, and the tokens as a
    /// channel-major map.
    pub const SCRATCH_BYTES: usize = map_bytes(2, H, W) + map_bytes(C, H, W);
    /// fc1, the depthwise convolution (`CH·9·N`) and fc2.
    pub const MACS: u64 = (H * W * C * CH + CH * 9 * H * W + H * W * CH * C) as u64;

    /// `y = fc2(GELU(dwconv(fc1(x))))`.
    pub fn forward<const N: usize>(
        p: &MixFfnParams<'_, C, CH>,
        x: &Tokens<N, C>,
        y: &mut Tokens<N, C>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const { assert!(N == H * W, "one token per map pixel") };
        let pre = scratch.take_map::<1, H, W>()?;
        let post = scratch.take_map::<1, H, W>()?;
        let xmap = scratch.take_map::<C, H, W>()?;
        ops::tokens_to_map(x, xmap);
        for row in y.iter_mut() {
            row.fill(0.0);
        }
        for (j, (w1, b1)) in p.fc1.weight.iter().zip(p.fc1.bias).enumerate() {
            let plane = pre.flat_mut();
            ops::linalg::mix_channels(xmap, w1, plane);
            for v in plane.iter_mut() {
                *v += b1;
            }
            DepthwiseConv2d::<1, 1>::forward(
                pre,
                core::array::from_ref(&p.dwconv.weight[j]),
                Some(core::array::from_ref(&p.dwconv.bias[j])),
                post,
            );
            ops::gelu(post);
            let column: [f32; C] = core::array::from_fn(|c| p.fc2.weight[c][j]);
            for (yn, g) in y.iter_mut().zip(post.flat()) {
                for (o, w) in yn.iter_mut().zip(&column) {
                    *o += w * g;
                }
            }
        }
        for yn in y.iter_mut() {
            for (o, b) in yn.iter_mut().zip(p.fc2.bias) {
                *o += b;
            }
        }
        Ok(())
    }
}
