//! The transformer branch of CAFCT-Net (PVT-v2 style): a block is
//! `x += SRA(LN(x)); x += MixFFN(LN(x))`, and a stage is an overlapping patch embedding,
//! `DEPTH` blocks (1 or 2), a final LayerNorm and the tokens turned back into a map.

use super::mix_ffn::{MixFfn, MixFfnParams};
use super::patch_embed::{PatchEmbed, PatchEmbedParams};
use super::sra::{Sra, SraParams};
use crate::arena::{f32_bytes, max, Scratch};
use crate::error::Error;
use crate::ops::{self, LN_EPS};
use crate::param_struct;
use crate::params::Ln;
use crate::tensor::{Map, Tokens};

param_struct! {
    /// Parameters of one transformer block on `C` features (`C2 = 2C`, `CH` = Mix-FFN hidden
    /// features; `REDUCE` = `SR > 1`).
    pub struct TransformerBlockParams<'a, const C: usize, const C2: usize, const CH: usize, const SR: usize, const REDUCE: bool> {
        norm1: Ln<'a, C>,
        attn: SraParams<'a, C, C2, SR, REDUCE>,
        norm2: Ln<'a, C>,
        ffn: MixFfnParams<'a, C, CH>,
    }
}

/// One transformer block on the `H × W` tokens of a map (see [`Sra`] for `HK`, `WK`, `NK`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TransformerBlock<
    const C: usize,
    const CH: usize,
    const HEADS: usize,
    const SR: usize,
    const H: usize,
    const W: usize,
    const HK: usize,
    const WK: usize,
    const NK: usize,
>;

impl<
        const C: usize,
        const CH: usize,
        const HEADS: usize,
        const SR: usize,
        const H: usize,
        const W: usize,
        const HK: usize,
        const WK: usize,
        const NK: usize,
    > TransformerBlock<C, CH, HEADS, SR, H, W, HK, WK, NK>
{
    /// The normed tokens and the branch output, then the larger of the SRA and Mix-FFN
    /// scratch.
    pub const SCRATCH_BYTES: usize = 2 * f32_bytes(H * W * C)
        + max(
            Sra::<C, HEADS, SR, H, W, HK, WK, NK>::SCRATCH_BYTES,
            MixFfn::<C, CH, H, W>::SCRATCH_BYTES,
        );
    /// SRA and Mix-FFN.
    pub const MACS: u64 = Sra::<C, HEADS, SR, H, W, HK, WK, NK>::MACS + MixFfn::<C, CH, H, W>::MACS;

    /// Updates the residual stream `x` in place.
    pub fn forward<const C2: usize, const N: usize, const REDUCE: bool>(
        p: &TransformerBlockParams<'_, C, C2, CH, SR, REDUCE>,
        x: &mut Tokens<N, C>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        let normed = scratch.take_mat::<N, C>()?;
        let branch = scratch.take_mat::<N, C>()?;

        normed.copy_from_slice(x);
        ops::layer_norm(normed, p.norm1.weight, p.norm1.bias, LN_EPS);
        Sra::<C, HEADS, SR, H, W, HK, WK, NK>::forward(
            &p.attn,
            normed,
            branch,
            scratch.reborrow(),
        )?;
        ops::add(x, branch);

        normed.copy_from_slice(x);
        ops::layer_norm(normed, p.norm2.weight, p.norm2.bias, LN_EPS);
        MixFfn::<C, CH, H, W>::forward(&p.ffn, normed, branch, scratch.reborrow())?;
        ops::add(x, branch);
        Ok(())
    }
}

param_struct! {
    /// Parameters of a stage: embedding from `CI` channels with a `K × K` kernel, one block,
    /// a second block when `DEEP` (depth 2), and the final norm.
    pub struct TransformerStageParams<'a, const CI: usize, const C: usize, const C2: usize, const CH: usize, const K: usize, const SR: usize, const REDUCE: bool, const DEEP: bool> {
        embed: PatchEmbedParams<'a, CI, C, K>,
        block0: TransformerBlockParams<'a, C, C2, CH, SR, REDUCE>,
        block1: if DEEP TransformerBlockParams<'a, C, C2, CH, SR, REDUCE>,
        norm: Ln<'a, C>,
    }
}

/// A stage from a `CI × H × W` map to a `C × HO × WO` map: embedding Conv K×K (stride 2,
/// padding `P`) + LN, `DEPTH` blocks, LN, tokens back to a map.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransformerStage<
    const CI: usize,
    const C: usize,
    const CH: usize,
    const HEADS: usize,
    const K: usize,
    const P: usize,
    const SR: usize,
    const DEPTH: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
    const HK: usize,
    const WK: usize,
    const NK: usize,
>;

impl<
        const CI: usize,
        const C: usize,
        const CH: usize,
        const HEADS: usize,
        const K: usize,
        const P: usize,
        const SR: usize,
        const DEPTH: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
        const HK: usize,
        const WK: usize,
        const NK: usize,
    > TransformerStage<CI, C, CH, HEADS, K, P, SR, DEPTH, H, W, HO, WO, HK, WK, NK>
{
    /// The residual stream, then the larger of the embedding's and a block's scratch.
    pub const SCRATCH_BYTES: usize = f32_bytes(HO * WO * C)
        + max(
            PatchEmbed::<CI, C, K, 2, P, H, W, HO, WO>::SCRATCH_BYTES,
            TransformerBlock::<C, CH, HEADS, SR, HO, WO, HK, WK, NK>::SCRATCH_BYTES,
        );
    /// Embedding and `DEPTH` blocks.
    pub const MACS: u64 = PatchEmbed::<CI, C, K, 2, P, H, W, HO, WO>::MACS
        + DEPTH as u64 * TransformerBlock::<C, CH, HEADS, SR, HO, WO, HK, WK, NK>::MACS;

    /// `y = map(LN(blocks(embed(x))))`.
    pub fn forward<const C2: usize, const N: usize, const REDUCE: bool, const DEEP: bool>(
        p: &TransformerStageParams<'_, CI, C, C2, CH, K, SR, REDUCE, DEEP>,
        x: &Map<CI, H, W>,
        y: &mut Map<C, HO, WO>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(
                DEPTH == 1 || DEPTH == 2,
                "a transformer stage has 1 or 2 blocks"
            );
            assert!(
                DEEP == (DEPTH == 2),
                "DEEP says whether the stage has a second block"
            );
        };
        let tokens = scratch.take_mat::<N, C>()?;
        PatchEmbed::<CI, C, K, 2, P, H, W, HO, WO>::forward(
            &p.embed,
            x,
            tokens,
            scratch.reborrow(),
        )?;
        TransformerBlock::<C, CH, HEADS, SR, HO, WO, HK, WK, NK>::forward(
            &p.block0,
            tokens,
            scratch.reborrow(),
        )?;
        if let Some(block1) = &p.block1 {
            TransformerBlock::<C, CH, HEADS, SR, HO, WO, HK, WK, NK>::forward(
                block1,
                tokens,
                scratch.reborrow(),
            )?;
        }
        ops::layer_norm(tokens, p.norm.weight, p.norm.bias, LN_EPS);
        ops::tokens_to_map(tokens, y);
        Ok(())
    }
}
