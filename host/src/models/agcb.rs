//! AGCAF-Net's context blocks (SPEC §2.1, core `blocks::{gnfm, agcb, cpm}`): GNFM, AGCB and
//! CPM as trainable layers.
//!
//! Core attends inside each AGCB patch separately. Here the same result comes from one
//! attention over the whole map with a block-diagonal mask (scores of pixel pairs in different
//! patches are pushed to −10³⁰, so their softmax weight is exactly 0): one batched matmul
//! instead of s² small ones, and no crop/reassembly whose gradients would need care. The gate
//! g (C × s × s) is expanded to every pixel of its patch with one `gather`.

use super::units::{conv, Act, ConvBn};
use crate::nn::init::Init;
use crate::nn::layout::concat_channels;
use crate::nn::store::join;
use crate::nn::{
    adaptive_max_pool, dev_err, Backend, Map, NnError, NonLocal, ParamId, ParamStore, Real,
};
use dfdx::shapes::{Axes2, Axes3, Axes4, Axis, HasShape};
use dfdx::tensor::{Tape, Tensor};
use dfdx::tensor_ops::{
    BroadcastTo, Device, GatherTo, PermuteTo, ReshapeTo, TryAdd, TryMatMul, TryMul,
};
use hepaseg_core::params::Role;

/// Patch index (`0..s`) of row or column `i` of `len` pixels: step ⌊len/s⌋, the last patch
/// takes the remainder (core's `patch_range`).
pub fn patch_of(i: usize, s: usize, len: usize) -> usize {
    (i / (len / s).max(1)).min(s - 1)
}

/// GNFM: the `C × s × s` pixel attention that gates an AGCB's patches.
#[derive(Debug, Clone)]
pub struct Gnfm {
    nonlocal: NonLocal,
    conv1: ConvBn,
    conv2: ConvBn,
    scale: usize,
}

impl Gnfm {
    /// `prefix.{nonlocal, conv1, conv2}` on `c` channels pooled to `scale × scale`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        c: usize,
        scale: usize,
    ) -> Result<Self, NnError> {
        Ok(Self {
            nonlocal: NonLocal::new(store, &join(prefix, "nonlocal"), c, c)?,
            conv1: ConvBn::new(store, &join(prefix, "conv1"), conv(c, c / 4, 1, 1, true))?,
            conv2: ConvBn::new(store, &join(prefix, "conv2"), conv(c / 4, c, 1, 1, true))?,
            scale,
        })
    }

    /// σ(BN(conv2(ReLU(BN(conv1(NonLocal(maxpool_s(x))))))).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let p = adaptive_max_pool(store, x, (self.scale, self.scale))?;
        let p = self.nonlocal.forward(store, p)?;
        let m = self.conv1.forward(store, p, Act::Relu)?;
        self.conv2.forward(store, m, Act::Sigmoid)
    }
}

/// AGCB: patch-wise non-local attention gated by a GNFM, a 3×3 context unit and `ReLU(γ·ctx + x)`.
#[derive(Debug, Clone)]
pub struct Agcb {
    gnfm: Gnfm,
    nonlocal: NonLocal,
    conv: ConvBn,
    gamma: ParamId,
    scale: usize,
}

impl Agcb {
    /// `prefix.{gnfm, nonlocal, conv, gamma}` on `c` channels, non-local ratio `r_n`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        c: usize,
        r_n: usize,
        scale: usize,
    ) -> Result<Self, NnError> {
        if scale == 0 || r_n == 0 {
            return Err(NnError::config(prefix, "scale and r_n must be ≥ 1"));
        }
        Ok(Self {
            gnfm: Gnfm::new(store, &join(prefix, "gnfm"), c, scale)?,
            nonlocal: NonLocal::new(store, &join(prefix, "nonlocal"), c, c / r_n)?,
            conv: ConvBn::new(store, &join(prefix, "conv"), conv(c, c, 3, 1, true))?,
            gamma: store.register(&join(prefix, "gamma"), &[1], Role::Gate, Init::Zeros)?,
            scale,
        })
    }

    /// The block on `x` (`N × C × H × W`, `H, W ≥ scale`).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let shape = *x.shape();
        let (_, _, h, w) = shape;
        if h < self.scale || w < self.scale {
            return Err(NnError::shape(
                "agcb",
                format!("a map of at least {0}×{0}", self.scale),
                &[shape.0, shape.1, h, w],
            ));
        }
        let g = self.gnfm.forward(store, x.retaped::<T>())?;
        let g = expand_grid(store, g, h, w)?;
        let (q, k, v) = self.nonlocal.project(store, x.retaped::<T>())?;
        let mask = patch_mask(store, h, w, self.scale)?;
        let att = masked_attend(q, k, v, mask)?;
        let nl = self.nonlocal.gate(store, att, x.retaped::<T>())?;
        let ctx = nl.try_mul(g).map_err(dev_err)?;
        let ctx = self.conv.forward(store, ctx, Act::None)?;
        let gamma = store
            .shaped(self.gamma, ())?
            .try_broadcast_like::<_, Axes4<0, 1, 2, 3>>(&shape)
            .map_err(dev_err)?;
        ctx.try_mul(gamma)
            .map_err(dev_err)?
            .try_add(x)
            .map_err(dev_err)?
            .try_relu()
            .map_err(dev_err)
    }
}

/// `N × C × s × s` → `N × C × H × W`, each pixel taking its patch's value.
fn expand_grid<E: Real, D: Device<E>, T: Tape<E, D>>(
    store: &ParamStore<E, D>,
    g: Map<E, D, T>,
    h: usize,
    w: usize,
) -> Result<Map<E, D, T>, NnError> {
    let (n, c, s, _) = *g.shape();
    let idx: Vec<usize> = (0..h * w)
        .map(|p| patch_of(p / w, s, h) * s + patch_of(p % w, s, w))
        .collect();
    let idx: Tensor<(usize,), usize, D> = store
        .device()
        .try_tensor_from_vec(idx, (h * w,))
        .map_err(dev_err)?;
    let picked: Tensor<(usize, usize), E, D, T> = g
        .try_reshape_like(&(n * c, s * s))
        .map_err(dev_err)?
        .try_permute::<_, Axes2<1, 0>>()
        .map_err(dev_err)?
        .try_gather(idx)
        .map_err(dev_err)?;
    picked
        .try_permute::<_, Axes2<1, 0>>()
        .map_err(dev_err)?
        .try_reshape_like(&(n, c, h, w))
        .map_err(dev_err)
}

/// `(H·W) × (H·W)` additive mask: 0 within a patch, −10³⁰ across patches.
fn patch_mask<E: Real, D: Device<E>>(
    store: &ParamStore<E, D>,
    h: usize,
    w: usize,
    s: usize,
) -> Result<Tensor<(usize, usize), E, D>, NnError> {
    let p = h * w;
    let cell: Vec<usize> = (0..p)
        .map(|i| patch_of(i / w, s, h) * s + patch_of(i % w, s, w))
        .collect();
    let far = E::of_f64(-1e30);
    let zero = E::of_f64(0.0);
    let mut m = Vec::with_capacity(p * p);
    for a in &cell {
        m.extend(cell.iter().map(|b| if a == b { zero } else { far }));
    }
    store
        .device()
        .try_tensor_from_vec(m, (p, p))
        .map_err(dev_err)
}

/// Non-local attention (no scaling) restricted by an additive `mask` over pixel pairs.
fn masked_attend<E: Real, D: Device<E>, T: Tape<E, D>>(
    q: Map<E, D, T>,
    k: Map<E, D, T>,
    v: Map<E, D, T>,
    mask: Tensor<(usize, usize), E, D>,
) -> Result<Map<E, D, T>, NnError> {
    let (n, cr, h, w) = *q.shape();
    let c = v.shape().1;
    let p = h * w;
    let qt = q
        .try_reshape_like(&(n, cr, p))
        .map_err(dev_err)?
        .try_permute::<_, Axes3<0, 2, 1>>()
        .map_err(dev_err)?;
    let kk = k.try_reshape_like(&(n, cr, p)).map_err(dev_err)?;
    let mask = mask
        .try_broadcast_like::<_, Axis<0>>(&(n, p, p))
        .map_err(dev_err)?;
    let a = qt
        .try_matmul(kk)
        .map_err(dev_err)?
        .try_add(mask)
        .map_err(dev_err)?
        .try_softmax::<Axis<2>>()
        .map_err(dev_err)?;
    let at = a.try_permute::<_, Axes3<0, 2, 1>>().map_err(dev_err)?;
    v.try_reshape_like(&(n, c, p))
        .map_err(dev_err)?
        .try_matmul(at)
        .map_err(dev_err)?
        .try_reshape_like(&(n, c, h, w))
        .map_err(dev_err)
}

/// CPM: 1×1 reduction, one AGCB per scale, 1×1 fusion of `[red, b₁ … b₄]`.
#[derive(Debug, Clone)]
pub struct Cpm {
    reduce: ConvBn,
    agcb: Vec<Agcb>,
    fuse: ConvBn,
}

impl Cpm {
    /// `prefix.{reduce, agcb.0..3, fuse}` on `p` channels with `p / r_c` inter channels.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        p: usize,
        scales: [usize; 4],
        (r_c, r_n): (usize, usize),
    ) -> Result<Self, NnError> {
        let inter = p / r_c.max(1);
        let reduce = ConvBn::new(store, &join(prefix, "reduce"), conv(p, inter, 1, 1, true))?;
        let agcb = scales
            .iter()
            .enumerate()
            .map(|(i, &s)| Agcb::new(store, &join(prefix, &format!("agcb.{i}")), inter, r_n, s))
            .collect::<Result<Vec<_>, _>>()?;
        let fuse = ConvBn::new(store, &join(prefix, "fuse"), conv(5 * inter, p, 1, 1, true))?;
        Ok(Self { reduce, agcb, fuse })
    }

    /// The module on `x`.
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let red = self.reduce.forward(store, x, Act::Relu)?;
        let mut cat = red.retaped::<T>();
        let last = self.agcb.len().saturating_sub(1);
        let mut red = Some(red);
        for (i, b) in self.agcb.iter().enumerate() {
            // the last branch takes `red` itself (with the tape of everything before the CPM),
            // the others a retaped copy: every copy flows into `cat`, so into the loss
            let input = match (i == last, red.as_ref()) {
                (true, _) => red.take(),
                (false, Some(r)) => Some(r.retaped::<T>()),
                (false, None) => None,
            }
            .ok_or_else(|| NnError::config("cpm", "no input"))?;
            cat = concat_channels(cat, b.forward(store, input)?)?;
        }
        self.fuse.forward(store, cat, Act::Relu)
    }
}
