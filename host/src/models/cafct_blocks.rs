//! CAFCT-Net's fusion, context and decoder blocks (SPEC §2.2, core `blocks::{aff, aspp,
//! attention_gate, decoder}`) as trainable layers, with core's names and ablation switches.

use super::units::{conv, Act, ConvBn};
use crate::nn::layout::concat_channels;
use crate::nn::store::join;
use crate::nn::{
    dev_err, global_avg_pool, resize_bilinear, AlignCorners, Backend, Conv2d, ConvConfig, Dropout,
    Map, NnError, ParamStore, Real,
};
use dfdx::shapes::{Axes2, Axis, HasShape};
use dfdx::tensor::Tape;
use dfdx::tensor_ops::{BroadcastTo, Device, ReshapeTo, TryAdd, TryMul};

/// `N × C × 1 × 1` → `N × C × H × W` (the same value over each map).
fn spread<E: Real, D: Device<E>, T: Tape<E, D>>(
    v: Map<E, D, T>,
    shape: (usize, usize, usize, usize),
) -> Result<Map<E, D, T>, NnError> {
    v.try_reshape_like(&(shape.0, shape.1))
        .map_err(dev_err)?
        .try_broadcast_like::<_, Axes2<2, 3>>(&shape)
        .map_err(dev_err)
}

/// AFF: Z = concat(cnn, trans); with the SE gate e = σ(excite(ReLU(squeeze(GAP(Z))))),
/// Z ⊙ e; then `fuse` = ReLU(BN(Conv1×1(2C→C))). Without the gate (ablation) only `fuse`.
#[derive(Debug, Clone)]
pub struct Aff {
    gate: Option<(Conv2d, Conv2d)>,
    fuse: ConvBn,
}

impl Aff {
    /// `prefix.{squeeze, excite}` (when `se`) and `prefix.fuse`, fusing two `c`-channel maps.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        c: usize,
        se: bool,
    ) -> Result<Self, NnError> {
        let (z, q) = (2 * c, 2 * c / 4);
        let gate = if se {
            Some((
                Conv2d::new(store, &join(prefix, "squeeze"), ConvConfig::new(z, q, 1))?,
                Conv2d::new(store, &join(prefix, "excite"), ConvConfig::new(q, z, 1))?,
            ))
        } else {
            None
        };
        let fuse = ConvBn::new(store, &join(prefix, "fuse"), conv(z, c, 1, 1, false))?;
        Ok(Self { gate, fuse })
    }

    /// Fuses the two branch maps of one level.
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        cnn: Map<E, D, T>,
        trans: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let mut z = concat_channels(cnn, trans)?;
        if let Some((squeeze, excite)) = &self.gate {
            let shape = *z.shape();
            let m = squeeze
                .forward(store, global_avg_pool(z.retaped::<T>())?)?
                .try_relu()
                .map_err(dev_err)?;
            let e = excite.forward(store, m)?.try_sigmoid().map_err(dev_err)?;
            z = z.try_mul(spread(e, shape)?).map_err(dev_err)?;
        }
        self.fuse.forward(store, z, Act::Relu)
    }
}

/// The context module on fused L4: ASPP (`convs.0..4`, `project`, Dropout 0.5 while
/// training) or, without it (ablation), one ReLU(BN(Conv1×1)) unit named `aspp`.
#[derive(Debug, Clone)]
pub enum Context {
    /// DeepLabv3 ASPP.
    Aspp(Box<Aspp>),
    /// The ablation's 1×1 unit.
    Plain(ConvBn),
}

/// ASPP's units (boxed in [`Context`]).
#[derive(Debug, Clone)]
pub struct Aspp {
    branches: Vec<ConvBn>,
    pool: ConvBn,
    project: ConvBn,
    drop: Dropout,
}

impl Context {
    /// `prefix.convs.{0..4}` + `prefix.project` (`aspp`), or the unit `prefix` (`!aspp`), on
    /// `c` channels with atrous `rates`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        c: usize,
        rates: [usize; 3],
        aspp: bool,
    ) -> Result<Self, NnError> {
        if !aspp {
            return Ok(Context::Plain(ConvBn::new(
                store,
                prefix,
                conv(c, c, 1, 1, false),
            )?));
        }
        let name = |i: usize| join(prefix, &format!("convs.{i}"));
        let mut branches = vec![ConvBn::new(store, &name(0), conv(c, c, 1, 1, false))?];
        for (i, &r) in rates.iter().enumerate() {
            let cfg = ConvConfig::new(c, c, 3).padding(r).dilation(r).bias(false);
            branches.push(ConvBn::new(store, &name(i + 1), cfg)?);
        }
        let pool = ConvBn::new(store, &name(4), conv(c, c, 1, 1, false))?;
        let project = ConvBn::new(store, &join(prefix, "project"), conv(5 * c, c, 1, 1, false))?;
        Ok(Context::Aspp(Box::new(Aspp {
            branches,
            pool,
            project,
            drop: Dropout::new(0.5)?,
        })))
    }

    /// Dropout layers (one device-RNG draw each per training forward pass).
    pub fn dropout_layers(&self) -> u64 {
        match self {
            Context::Aspp(_) => 1,
            Context::Plain(_) => 0,
        }
    }

    /// The module on `x`.
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let aspp = match self {
            Context::Plain(unit) => return unit.forward(store, x, Act::Relu),
            Context::Aspp(a) => a.as_ref(),
        };
        let shape = *x.shape();
        let mut cat: Option<Map<E, D, T>> = None;
        for b in &aspp.branches {
            let y = b.forward(store, x.retaped::<T>(), Act::Relu)?;
            cat = Some(match cat {
                None => y,
                Some(c) => concat_channels(c, y)?,
            });
        }
        // image pooling: GAP → unit → broadcast (bilinear upsampling of a 1×1 map); this
        // branch takes `x` itself, the others took retaped copies
        let pooled = aspp.pool.forward(store, global_avg_pool(x)?, Act::Relu)?;
        let pooled = spread(pooled, shape)?;
        let cat = match cat {
            Some(c) => concat_channels(c, pooled)?,
            None => pooled,
        };
        let y = aspp.project.forward(store, cat, Act::Relu)?;
        aspp.drop.forward(store, y)
    }
}

/// Attention gate: ψ = σ(BN(Conv1×1(ReLU(BN(W_x x) + BN(W_g g))))), s = x ⊙ ψ (all three
/// 1×1 convolutions with bias).
#[derive(Debug, Clone)]
pub struct AttentionGate {
    w_x: ConvBn,
    w_g: ConvBn,
    psi: ConvBn,
}

impl AttentionGate {
    /// `prefix.{w_x, w_g, psi}` on a `c`-channel skip gated by a `cg`-channel signal.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        c: usize,
        cg: usize,
    ) -> Result<Self, NnError> {
        let ci = c / 2;
        Ok(Self {
            w_x: ConvBn::new(store, &join(prefix, "w_x"), conv(c, ci, 1, 1, true))?,
            w_g: ConvBn::new(store, &join(prefix, "w_g"), conv(cg, ci, 1, 1, true))?,
            psi: ConvBn::new(store, &join(prefix, "psi"), conv(ci, 1, 1, 1, true))?,
        })
    }

    /// The gated skip `x ⊙ ψ(x, g)`.
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
        g: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let shape = *x.shape();
        let x1 = self.w_x.forward(store, x.retaped::<T>(), Act::None)?;
        let g1 = self.w_g.forward(store, g, Act::None)?;
        let a = x1
            .try_add(g1)
            .map_err(dev_err)?
            .try_relu()
            .map_err(dev_err)?;
        let psi = self
            .psi
            .forward(store, a, Act::Sigmoid)?
            .try_reshape_like(&(shape.0, shape.2, shape.3))
            .map_err(dev_err)?
            .try_broadcast_like::<_, Axis<1>>(&shape)
            .map_err(dev_err)?;
        x.try_mul(psi).map_err(dev_err)
    }
}

/// Decoder block: up = bilinear ×2 (align_corners = false) of the deeper map; s = AG(skip,
/// up) (or the skip itself without gates); two ReLU(BN(Conv3×3)) on concat(s, up).
#[derive(Debug, Clone)]
pub struct Decoder {
    ag: Option<AttentionGate>,
    conv1: ConvBn,
    conv2: ConvBn,
}

impl Decoder {
    /// `prefix.{[ag], conv1, conv2}`: a `cs`-channel skip, `cu` channels from below, `cs` out.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        (cs, cu): (usize, usize),
        gate: bool,
    ) -> Result<Self, NnError> {
        let ag = if gate {
            Some(AttentionGate::new(store, &join(prefix, "ag"), cs, cu)?)
        } else {
            None
        };
        Ok(Self {
            ag,
            conv1: ConvBn::new(
                store,
                &join(prefix, "conv1"),
                conv(cs + cu, cs, 3, 1, false),
            )?,
            conv2: ConvBn::new(store, &join(prefix, "conv2"), conv(cs, cs, 3, 1, false))?,
        })
    }

    /// The block on a skip (`N × CS × H × W`) and the deeper map (`N × CU × H/2 × W/2`).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        skip: Map<E, D, T>,
        deep: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let (_, _, h, w) = *skip.shape();
        let up = resize_bilinear(store, deep, (h, w), AlignCorners::False)?;
        let s = match &self.ag {
            Some(ag) => ag.forward(store, skip, up.retaped::<T>())?,
            None => skip,
        };
        let y = self
            .conv1
            .forward(store, concat_channels(s, up)?, Act::Relu)?;
        self.conv2.forward(store, y, Act::Relu)
    }
}
