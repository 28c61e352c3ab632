//! CAFCT-Net's transformer branch (PVT-v2 style, SPEC §2.2, core `blocks::{patch_embed, sra,
//! mix_ffn, transformer}`) as trainable layers.
//!
//! A stage is an overlapping patch embedding (Conv K×K, stride 2, bias, then LN over the
//! tokens), `depth` blocks `x += SRA(LN(x)); x += MixFFN(LN(x))`, a final LN and the tokens
//! turned back into a map. Tensor names and order as core: `embed.{conv,norm}`,
//! `block{0,1}.{norm1,attn,norm2,ffn}`, `norm`.

use crate::nn::layout::{map_to_tokens, tokens_to_map};
use crate::nn::store::join;
use crate::nn::{
    dev_err, gelu, Backend, Conv2d, ConvConfig, LayerNorm, Linear, Map, NnError, ParamStore, Real,
    Sra, SraConfig, Tokens,
};
use dfdx::shapes::HasShape;
use dfdx::tensor::Tape;
use dfdx::tensor_ops::{Device, TryAdd};

/// Mix-FFN: Linear(C, 4C) → depthwise Conv3×3 (bias) on the token map → exact GELU →
/// Linear(4C, C) (`fc1`, `dwconv`, `fc2`).
#[derive(Debug, Clone)]
pub struct MixFfn {
    fc1: Linear,
    dwconv: Conv2d,
    fc2: Linear,
}

impl MixFfn {
    /// `prefix.{fc1, dwconv, fc2}` on `c` features with `hidden` hidden features.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        c: usize,
        hidden: usize,
    ) -> Result<Self, NnError> {
        let dw = ConvConfig::new(hidden, hidden, 3).padding(1).groups(hidden);
        Ok(Self {
            fc1: Linear::new(store, &join(prefix, "fc1"), c, hidden)?,
            dwconv: Conv2d::new(store, &join(prefix, "dwconv"), dw)?,
            fc2: Linear::new(store, &join(prefix, "fc2"), hidden, c)?,
        })
    }

    /// The block on the `h × w` tokens `x` (`N × h·w × C`).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Tokens<E, D, T>,
        h: usize,
        w: usize,
    ) -> Result<Tokens<E, D, T>, NnError> {
        let hidden = self.fc1.forward(store, x)?;
        let map = self.dwconv.forward(store, tokens_to_map(hidden, h, w)?)?;
        let act = gelu(map_to_tokens(map)?)?;
        self.fc2.forward(store, act)
    }
}

/// One transformer block: `x += SRA(LN(x)); x += MixFFN(LN(x))`.
#[derive(Debug, Clone)]
pub struct Block {
    norm1: LayerNorm,
    attn: Sra,
    norm2: LayerNorm,
    ffn: MixFfn,
}

impl Block {
    /// `prefix.{norm1, attn, norm2, ffn}` on `c` features.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        c: usize,
        heads: usize,
        sr: usize,
    ) -> Result<Self, NnError> {
        Ok(Self {
            norm1: LayerNorm::new(store, &join(prefix, "norm1"), c)?,
            attn: Sra::new(
                store,
                &join(prefix, "attn"),
                SraConfig { dim: c, heads, sr },
            )?,
            norm2: LayerNorm::new(store, &join(prefix, "norm2"), c)?,
            ffn: MixFfn::new(store, &join(prefix, "ffn"), c, 4 * c)?,
        })
    }

    /// Updates the residual stream `x` (the `h × w` tokens of a map).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Tokens<E, D, T>,
        h: usize,
        w: usize,
    ) -> Result<Tokens<E, D, T>, NnError> {
        let normed = self.norm1.forward(store, x.retaped::<T>())?;
        let x = x
            .try_add(self.attn.forward(store, normed, h, w)?)
            .map_err(dev_err)?;
        let normed = self.norm2.forward(store, x.retaped::<T>())?;
        x.try_add(self.ffn.forward(store, normed, h, w)?)
            .map_err(dev_err)
    }
}

/// Sizes of one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Features per token (output channels).
    pub dim: usize,
    /// Embedding kernel (7 for stage 1, else 3); padding is `kernel / 2`, stride 2.
    pub kernel: usize,
    /// Blocks (1 or 2).
    pub depth: usize,
    /// Attention heads.
    pub heads: usize,
    /// Spatial reduction of keys/values.
    pub sr: usize,
}

/// A stage: `map(LN(blocks(LN(tokens(conv(x))))))`, halving the map.
#[derive(Debug, Clone)]
pub struct Stage {
    embed: Conv2d,
    embed_norm: LayerNorm,
    blocks: Vec<Block>,
    norm: LayerNorm,
}

impl Stage {
    /// `prefix.{embed, block0, [block1], norm}`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        cfg: StageConfig,
    ) -> Result<Self, NnError> {
        if !(1..=2).contains(&cfg.depth) {
            return Err(NnError::config(prefix, "a stage has 1 or 2 blocks"));
        }
        let embed = join(prefix, "embed");
        let conv = ConvConfig::new(cfg.in_channels, cfg.dim, cfg.kernel)
            .stride(2)
            .padding(cfg.kernel / 2);
        let embed_conv = Conv2d::new(store, &join(&embed, "conv"), conv)?;
        let embed_norm = LayerNorm::new(store, &join(&embed, "norm"), cfg.dim)?;
        let blocks = (0..cfg.depth)
            .map(|i| {
                let p = join(prefix, &format!("block{i}"));
                Block::new(store, &p, cfg.dim, cfg.heads, cfg.sr)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            embed: embed_conv,
            embed_norm,
            blocks,
            norm: LayerNorm::new(store, &join(prefix, "norm"), cfg.dim)?,
        })
    }

    /// The stage on `x` (`N × CI × H × W`) → `N × C × H/2 × W/2`.
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let map = self.embed.forward(store, x)?;
        let (_, _, h, w) = *map.shape();
        let mut t = self.embed_norm.forward(store, map_to_tokens(map)?)?;
        for block in &self.blocks {
            t = block.forward(store, t, h, w)?;
        }
        tokens_to_map(self.norm.forward(store, t)?, h, w)
    }
}
