//! PVT-v2 spatial-reduction multi-head attention (SPEC §2.2, core `blocks::sra`).
//!
//! On `N = H·W` (layer-normed) tokens of `C` features with `heads` heads of `d = C/heads`:
//! q = Linear(C, C)(x); keys/values from `x` itself when `sr = 1`, else from
//! LN(Conv(C, C, k = sr, s = sr, bias)(x as a map)); kv = Linear(C, 2C) (keys first, then
//! values; head `h` uses features `h·d..(h+1)·d` of each); per head softmax(q kᵀ/√d) v; the
//! heads side by side through proj = Linear(C, C). Parameter order and names as core:
//! `q`, `sr`, `norm` (only when `sr > 1`), `kv`, `proj`.

use super::backend::Backend;
use super::conv::{Conv2d, ConvConfig};
use super::layer_norm::LayerNorm;
use super::layout::{map_to_tokens, split_halves, tokens_to_map};
use super::linear::Linear;
use super::store::join;
use super::{dev_err, NnError, ParamStore, Real, Tokens};
use dfdx::shapes::{Axes4, Axis, HasShape};
use dfdx::tensor::Tape;
use dfdx::tensor_ops::{Device, PermuteTo, ReshapeTo, TryMatMul, TryMul};

/// Sizes of an SRA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SraConfig {
    /// Features per token `C`.
    pub dim: usize,
    /// Number of heads (divides `dim`).
    pub heads: usize,
    /// Spatial reduction ratio (1 = none).
    pub sr: usize,
}

/// A spatial-reduction attention layer.
#[derive(Debug, Clone)]
pub struct Sra {
    name: String,
    cfg: SraConfig,
    q: Linear,
    sr: Option<(Conv2d, LayerNorm)>,
    kv: Linear,
    proj: Linear,
}

impl Sra {
    /// Registers `prefix.q`, (`prefix.sr`, `prefix.norm` when `sr > 1`), `prefix.kv`,
    /// `prefix.proj`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        cfg: SraConfig,
    ) -> Result<Self, NnError> {
        let SraConfig { dim, heads, sr } = cfg;
        if dim == 0 || heads == 0 || dim % heads != 0 || sr == 0 {
            return Err(NnError::config(
                prefix,
                format!("dim {dim} must be a positive multiple of heads {heads}; sr {sr} ≥ 1"),
            ));
        }
        let q = Linear::new(store, &join(prefix, "q"), dim, dim)?;
        let reduce = if sr > 1 {
            let conv = Conv2d::new(
                store,
                &join(prefix, "sr"),
                ConvConfig::new(dim, dim, sr).stride(sr),
            )?;
            Some((conv, LayerNorm::new(store, &join(prefix, "norm"), dim)?))
        } else {
            None
        };
        Ok(Self {
            q,
            sr: reduce,
            kv: Linear::new(store, &join(prefix, "kv"), dim, 2 * dim)?,
            proj: Linear::new(store, &join(prefix, "proj"), dim, dim)?,
            name: prefix.to_string(),
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> SraConfig {
        self.cfg
    }

    /// Attention over the `h × w` tokens `x` (`N × h·w × C`), returning `N × h·w × C`.
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Tokens<E, D, T>,
        h: usize,
        w: usize,
    ) -> Result<Tokens<E, D, T>, NnError> {
        let (n, l, c) = *x.shape();
        let SraConfig { dim, heads, sr } = self.cfg;
        if c != dim || l != h * w || !h.is_multiple_of(sr) || !w.is_multiple_of(sr) || n == 0 {
            return Err(NnError::shape(
                &self.name,
                format!("N×(H·W)×{dim} tokens of an {h}×{w} map divisible by {sr}"),
                &[n, l, c],
            ));
        }
        let d = dim / heads;
        let to_heads = |t: Tokens<E, D, T>, len: usize| {
            t.try_reshape_like(&(n, len, heads, d))
                .map_err(dev_err)?
                .try_permute::<_, Axes4<0, 2, 1, 3>>()
                .map_err(dev_err)
        };
        let q = to_heads(self.q.forward(store, x.retaped::<T>())?, l)?;
        let source = match &self.sr {
            Some((conv, norm)) => {
                let reduced = conv.forward(store, tokens_to_map(x, h, w)?)?;
                norm.forward(store, map_to_tokens(reduced)?)?
            }
            None => x,
        };
        let nk = (h / sr) * (w / sr);
        let (k, v) = split_halves(store, self.kv.forward(store, source)?)?;
        let (k, v) = (to_heads(k, nk)?, to_heads(v, nk)?);
        // PyTorch multiplies by the Python float head_dim ** -0.5, rounded to the dtype
        let scale = E::of_f32((1.0 / (d as f64).sqrt()) as f32);
        let kt = k.try_permute::<_, Axes4<0, 1, 3, 2>>().map_err(dev_err)?;
        let attn = q
            .try_matmul(kt)
            .map_err(dev_err)?
            .try_mul(scale)
            .map_err(dev_err)?
            .try_softmax::<Axis<3>>()
            .map_err(dev_err)?;
        let out = attn
            .try_matmul(v)
            .map_err(dev_err)?
            .try_permute::<_, Axes4<0, 2, 1, 3>>()
            .map_err(dev_err)?
            .try_reshape_like(&(n, l, dim))
            .map_err(dev_err)?;
        self.proj.forward(store, out)
    }
}
