//! Overlapping patch embedding (PVT-v2's `OverlapPatchEmbed`): Conv K×K (stride S, padding P,
//! bias) on a map, flattened to tokens, then LayerNorm over each token's channels.

use super::unit::conv_macs;
use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops::{self, conv_out, Conv2d, LN_EPS};
use crate::param_struct;
use crate::params::{ConvBias, Ln};
use crate::tensor::{Map, Tokens};

param_struct! {
    /// Parameters of a patch embedding from `CI` to `CO` channels with a `K × K` kernel.
    pub struct PatchEmbedParams<'a, const CI: usize, const CO: usize, const K: usize> {
        conv: ConvBias<'a, CO, CI, K>,
        norm: Ln<'a, CO>,
    }
}

/// A patch embedding of a `CI × H × W` map into `HO·WO` tokens of `CO` features.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatchEmbed<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>;

impl<
        const CI: usize,
        const CO: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
    > PatchEmbed<CI, CO, K, S, P, H, W, HO, WO>
{
    /// The convolution's output map (before it becomes tokens).
    pub const SCRATCH_BYTES: usize = map_bytes(CO, HO, WO);
    /// The convolution.
    pub const MACS: u64 = conv_macs(CI, CO, K, HO, WO);

    /// `y = LN(tokens(conv(x)))`.
    pub fn forward<const N: usize>(
        p: &PatchEmbedParams<'_, CI, CO, K>,
        x: &Map<CI, H, W>,
        y: &mut Tokens<N, CO>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(
                HO == conv_out(H, K, S, P, 1) && WO == conv_out(W, K, S, P, 1),
                "patch embedding output must be the convolution's output size"
            );
            assert!(
                N == HO * WO,
                "patch embedding makes one token per output pixel"
            );
        };
        let map = scratch.take_map::<CO, HO, WO>()?;
        Conv2d::<S, P>::forward(x, p.conv.weight, Some(p.conv.bias), map);
        ops::map_to_tokens(map, y);
        ops::layer_norm(y, p.norm.weight, p.norm.bias, LN_EPS);
        Ok(())
    }
}
