//! AGPCNet's non-local block (SPEC §2.1): q, k = Conv1×1(C → C/r, bias), v = Conv1×1(C → C,
//! bias); with `N = h·w` row-major pixels, `E = QᵀK` (**no** `1/√d` scaling), `A = softmax`
//! over keys, `out = V·Aᵀ`; returns `γ·out + x` with the scalar gate γ initialised to 0.
//!
//! The projections and the attention are also exposed separately ([`NonLocal::project`],
//! [`attend`]): 1×1 convolutions commute with cutting a map into patches, so an AGCB can
//! project the whole map once and attend within each patch (as core does).

use super::backend::Backend;
use super::conv::{Conv2d, ConvConfig};
use super::init::Init;
use super::store::join;
use super::{dev_err, Map, NnError, ParamId, ParamStore, Real};
use dfdx::shapes::{Axes3, Axes4, Axis, HasShape};
use dfdx::tensor::Tape;
use dfdx::tensor_ops::{BroadcastTo, Device, PermuteTo, ReshapeTo, TryAdd, TryMatMul, TryMul};
use hepaseg_core::params::Role;

/// Query/key/value maps of a non-local block.
pub type Qkv<E, D, T> = (Map<E, D, T>, Map<E, D, T>, Map<E, D, T>);

/// `prefix.{q, k, v}.{weight, bias}` and `prefix.gamma`, in core's order.
#[derive(Debug, Clone)]
pub struct NonLocal {
    name: String,
    q: Conv2d,
    k: Conv2d,
    v: Conv2d,
    gamma: ParamId,
}

impl NonLocal {
    /// A block on `channels` with `reduced = C/r` query/key channels.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        channels: usize,
        reduced: usize,
    ) -> Result<Self, NnError> {
        if reduced == 0 || reduced > channels {
            return Err(NnError::config(
                prefix,
                format!("needs 1 ≤ C/r = {reduced} ≤ C = {channels}"),
            ));
        }
        Ok(Self {
            q: Conv2d::new(
                store,
                &join(prefix, "q"),
                ConvConfig::new(channels, reduced, 1),
            )?,
            k: Conv2d::new(
                store,
                &join(prefix, "k"),
                ConvConfig::new(channels, reduced, 1),
            )?,
            v: Conv2d::new(
                store,
                &join(prefix, "v"),
                ConvConfig::new(channels, channels, 1),
            )?,
            gamma: store.register(&join(prefix, "gamma"), &[1], Role::Gate, Init::Zeros)?,
            name: prefix.to_string(),
        })
    }

    /// Id of the gate γ.
    pub fn gamma(&self) -> ParamId {
        self.gamma
    }

    /// The three 1×1 projections of `x`.
    pub fn project<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Qkv<E, D, T>, NnError> {
        let q = self.q.forward(store, x.retaped::<T>())?;
        let k = self.k.forward(store, x.retaped::<T>())?;
        let v = self.v.forward(store, x)?;
        Ok((q, k, v))
    }

    /// `γ·out + x` for an attention output of `x`'s shape.
    pub fn gate<E: Real, D: Device<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        out: Map<E, D, T>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let shape = *x.shape();
        if *out.shape() != shape {
            let s = *out.shape();
            return Err(NnError::shape(
                &self.name,
                format!("{shape:?}"),
                &[s.0, s.1, s.2, s.3],
            ));
        }
        let g = store
            .shaped(self.gamma, ())?
            .try_broadcast_like::<_, Axes4<0, 1, 2, 3>>(&shape)
            .map_err(dev_err)?;
        out.try_mul(g).map_err(dev_err)?.try_add(x).map_err(dev_err)
    }

    /// The whole block on `x` (`N × C × H × W`).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let (q, k, v) = self.project(store, x.retaped::<T>())?;
        let out = attend(q, k, v)?;
        self.gate(store, out, x)
    }
}

/// Non-local attention: `out[c, n] = Σ_m v[c, m] · softmax_m(Σ_j q[j, n]·k[j, m])` over the
/// `h·w` pixels of each map (no scaling). `q`, `k`: `N × CR × h × w`; `v`: `N × C × h × w`.
pub fn attend<E: Real, D: Device<E>, T: Tape<E, D>>(
    q: Map<E, D, T>,
    k: Map<E, D, T>,
    v: Map<E, D, T>,
) -> Result<Map<E, D, T>, NnError> {
    let (n, cr, h, w) = *q.shape();
    let (vn, c, vh, vw) = *v.shape();
    if *k.shape() != (n, cr, h, w) || (vn, vh, vw) != (n, h, w) {
        return Err(NnError::shape(
            "non-local attention",
            format!("k like q {:?} and v N×C×{h}×{w}", (n, cr, h, w)),
            &[vn, c, vh, vw],
        ));
    }
    let p = h * w;
    let qt = q
        .try_reshape_like(&(n, cr, p))
        .map_err(dev_err)?
        .try_permute::<_, Axes3<0, 2, 1>>()
        .map_err(dev_err)?;
    let kk = k.try_reshape_like(&(n, cr, p)).map_err(dev_err)?;
    let a = qt
        .try_matmul(kk)
        .map_err(dev_err)?
        .try_softmax::<Axis<2>>()
        .map_err(dev_err)?; // n × queries × keys
    let at = a.try_permute::<_, Axes3<0, 2, 1>>().map_err(dev_err)?;
    v.try_reshape_like(&(n, c, p))
        .map_err(dev_err)?
        .try_matmul(at)
        .map_err(dev_err)?
        .try_reshape_like(&(n, c, h, w))
        .map_err(dev_err)
}
