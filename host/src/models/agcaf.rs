//! AGCAF-Net (SPEC §2.1) as a trainable model mirroring core's `nets::agcaf` exactly: the same
//! preset constants (read from the core preset module), tensor names, shapes and order
//! (`store.check_table(N::PARAMS)` holds), ablation switches (`WITH_CPM`, `WITH_AFM`) and
//! wiring. Training/eval behaviour (batch norm, head dropout) follows the store's [`Mode`].
//!
//! [`Mode`]: crate::nn::Mode

use super::agcb::Cpm;
use super::units::{conv, Act, BasicBlock, ConvBn};
use crate::nn::store::join;
use crate::nn::{
    dev_err, global_avg_pool, resize_bilinear, AlignCorners, Backend, Conv2d, ConvConfig, Dropout,
    Map, NnError, ParamStore, Real,
};
use dfdx::shapes::{Axes2, HasShape};
use dfdx::tensor::Tape;
use dfdx::tensor_ops::{BroadcastTo, Device, ReshapeTo, TryAdd, TryMul};
use hepaseg_core::nets::{agcaf, Network};

/// The sizes and switches of one AGCAF-Net preset (core's `agcaf::<preset>` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgcafConfig {
    /// Base width B.
    pub base: usize,
    /// Input height and width.
    pub size: usize,
    /// Input channels: 1, or k adjacent slices (2.5D presets).
    pub in_channels: usize,
    /// AGCB grid scales.
    pub scales: [usize; 4],
    /// CPM reduction r_c and non-local ratio r_n.
    pub reduce: (usize, usize),
    /// CPM present.
    pub cpm: bool,
    /// AFMs present (else plain fusion).
    pub afm: bool,
}

/// A core AGCAF-Net preset type the host can build.
pub trait AgcafPreset: Network {
    /// Its constants.
    const CONFIG: AgcafConfig;
}

macro_rules! agcaf_presets {
    ($($m:ident),* $(,)?) => {$(
        impl AgcafPreset for agcaf::$m::Net {
            const CONFIG: AgcafConfig = AgcafConfig {
                base: agcaf::$m::B,
                size: agcaf::$m::SIZE,
                in_channels: agcaf::$m::IN_CHANNELS,
                scales: agcaf::$m::SCALES,
                reduce: (agcaf::$m::R_C, agcaf::$m::R_N),
                cpm: agcaf::$m::WITH_CPM,
                afm: agcaf::$m::WITH_AFM,
            };
        }
    )*};
}
agcaf_presets!(
    paper,
    edge,
    tiny,
    tiny_2_5d,
    edge_2_5d,
    tiny_backbone,
    tiny_cpm,
    tiny_afm
);

/// The constants of the preset named `preset` (the names `registry::presets` lists).
pub fn config(preset: &str) -> Option<AgcafConfig> {
    Some(match preset {
        "paper" => <agcaf::paper::Net as AgcafPreset>::CONFIG,
        "edge" => <agcaf::edge::Net as AgcafPreset>::CONFIG,
        "tiny" => <agcaf::tiny::Net as AgcafPreset>::CONFIG,
        "tiny-2.5d" => <agcaf::tiny_2_5d::Net as AgcafPreset>::CONFIG,
        "edge-2.5d" => <agcaf::edge_2_5d::Net as AgcafPreset>::CONFIG,
        "tiny-backbone" => <agcaf::tiny_backbone::Net as AgcafPreset>::CONFIG,
        "tiny-cpm" => <agcaf::tiny_cpm::Net as AgcafPreset>::CONFIG,
        "tiny-afm" => <agcaf::tiny_afm::Net as AgcafPreset>::CONFIG,
        _ => return None,
    })
}

/// σ(BN(Conv1×1(C/4→C)(ReLU(BN(Conv1×1(C→C/4)(x)))))) — AFM's pixel and channel gates.
#[derive(Debug, Clone)]
struct Gate {
    squeeze: ConvBn,
    excite: ConvBn,
}

impl Gate {
    fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        c: usize,
    ) -> Result<Self, NnError> {
        Ok(Self {
            squeeze: ConvBn::new(store, &join(prefix, "squeeze"), conv(c, c / 4, 1, 1, true))?,
            excite: ConvBn::new(store, &join(prefix, "excite"), conv(c / 4, c, 1, 1, true))?,
        })
    }

    fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let m = self.squeeze.forward(store, x, Act::Relu)?;
        self.excite.forward(store, m, Act::Sigmoid)
    }
}

/// How a deep map joins its skip: AFM, or the ablation's `ReLU(BN(Conv1×1(up))) + skip`.
#[derive(Debug, Clone)]
enum Fuse {
    Afm(Box<Afm>),
    Plain(ConvBn),
}

/// AFM's four units (boxed in [`Fuse`]: much larger than the plain variant).
#[derive(Debug, Clone)]
struct Afm {
    plus_conv: ConvBn,
    pa: Gate,
    ca: Gate,
    end_conv: ConvBn,
}

impl Fuse {
    fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        (ch, cl): (usize, usize),
        afm: bool,
    ) -> Result<Self, NnError> {
        if !afm {
            return Ok(Fuse::Plain(ConvBn::new(
                store,
                prefix,
                conv(ch, cl, 1, 1, true),
            )?));
        }
        Ok(Fuse::Afm(Box::new(Afm {
            plus_conv: ConvBn::new(store, &join(prefix, "plus_conv"), conv(ch, cl, 1, 1, true))?,
            pa: Gate::new(store, &join(prefix, "pa"), cl)?,
            ca: Gate::new(store, &join(prefix, "ca"), cl)?,
            end_conv: ConvBn::new(store, &join(prefix, "end_conv"), conv(cl, cl, 3, 1, true))?,
        })))
    }

    fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        high: Map<E, D, T>,
        low: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        match self {
            Fuse::Plain(unit) => unit
                .forward(store, high, Act::Relu)?
                .try_add(low)
                .map_err(dev_err),
            Fuse::Afm(afm) => {
                let Afm {
                    plus_conv,
                    pa,
                    ca,
                    end_conv,
                } = afm.as_ref();
                let xh = plus_conv.forward(store, high, Act::Relu)?;
                let shape = *xh.shape();
                let pa = pa.forward(store, low.retaped::<T>())?;
                let ca = ca.forward(store, global_avg_pool(xh.retaped::<T>())?)?;
                let ca = ca
                    .try_reshape_like(&(shape.0, shape.1))
                    .map_err(dev_err)?
                    .try_broadcast_like::<_, Axes2<2, 3>>(&shape)
                    .map_err(dev_err)?;
                let feat = end_conv.forward(store, xh.try_add(low).map_err(dev_err)?, Act::Relu)?;
                feat.try_mul(ca)
                    .map_err(dev_err)?
                    .try_mul(pa)
                    .map_err(dev_err)
            }
        }
    }
}

/// AGCAF-Net: ResNet backbone, optional CPM, two fusions, FCN head.
#[derive(Debug, Clone)]
pub struct AgcafNet {
    config: AgcafConfig,
    stem: ConvBn,
    layers: Vec<BasicBlock>,
    cpm: Option<Cpm>,
    fuse23: Fuse,
    fuse12: Fuse,
    head_conv: ConvBn,
    head_drop: Dropout,
    head_out: Conv2d,
}

impl AgcafNet {
    /// Builds preset `N` into `store` (which must be empty), in core's table order.
    pub fn for_preset<N: AgcafPreset, E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
    ) -> Result<Self, NnError> {
        let net = Self::new(store, N::CONFIG)?;
        store.check_table(N::PARAMS)?;
        Ok(net)
    }

    /// Builds a network of `config` into `store`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        config: AgcafConfig,
    ) -> Result<Self, NnError> {
        let b = config.base;
        let stem_cfg = ConvConfig::new(config.in_channels, b, 7)
            .padding(3)
            .bias(false);
        let stem = ConvBn::new(store, "backbone.stem", stem_cfg)?;
        let mut layers = Vec::with_capacity(8);
        let widths = [
            (b, b, 1),
            (b, 2 * b, 2),
            (2 * b, 4 * b, 2),
            (4 * b, 8 * b, 2),
        ];
        for (l, &(ci, co, s)) in widths.iter().enumerate() {
            let p = format!("backbone.layer{}", l + 1);
            layers.push(BasicBlock::new(store, &join(&p, "0"), ci, co, s)?);
            layers.push(BasicBlock::new(store, &join(&p, "1"), co, co, 1)?);
        }
        let cpm = if config.cpm {
            Some(Cpm::new(store, "cpm", 8 * b, config.scales, config.reduce)?)
        } else {
            None
        };
        let fuse23 = Fuse::new(store, "fuse23", (8 * b, 4 * b), config.afm)?;
        let fuse12 = Fuse::new(store, "fuse12", (4 * b, 2 * b), config.afm)?;
        let head_conv = ConvBn::new(store, "head.conv", conv(2 * b, b / 2, 3, 1, true))?;
        let head_out = Conv2d::new(store, "head.out", ConvConfig::new(b / 2, 1, 1))?;
        Ok(Self {
            config,
            stem,
            layers,
            cpm,
            fuse23,
            fuse12,
            head_conv,
            head_drop: Dropout::new(0.1)?,
            head_out,
        })
    }

    /// The preset constants.
    pub fn config(&self) -> AgcafConfig {
        self.config
    }

    /// Logits `N × 1 × S × S` of `x` (`N × K × S × S`, K input channels).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let (n, c, h, w) = *x.shape();
        let (s, k) = (self.config.size, self.config.in_channels);
        if c != k || h != s || w != s {
            return Err(NnError::shape(
                "agcaf-net",
                format!("N×{k}×{s}×{s}"),
                &[n, c, h, w],
            ));
        }
        let mut y = self.stem.forward(store, x, Act::Relu)?;
        let mut skips = Vec::with_capacity(2);
        for (i, block) in self.layers.iter().enumerate() {
            y = block.forward(store, y)?;
            // c1 = layer2 output (block 3), c2 = layer3 output (block 5)
            if i == 3 || i == 5 {
                skips.push(y.retaped::<T>());
            }
        }
        let (Some(c2), Some(c1)) = (skips.pop(), skips.pop()) else {
            return Err(NnError::config("agcaf-net", "backbone skips missing"));
        };
        if let Some(cpm) = &self.cpm {
            y = cpm.forward(store, y)?;
        }
        let (h2, h1) = (s / 4, s / 2);
        let up = resize_bilinear(store, y, (h2, h2), AlignCorners::True)?;
        let y = self.fuse23.forward(store, up, c2)?;
        let up = resize_bilinear(store, y, (h1, h1), AlignCorners::True)?;
        let y = self.fuse12.forward(store, up, c1)?;
        let y = self.head_conv.forward(store, y, Act::Relu)?;
        let y = self.head_drop.forward(store, y)?;
        let y = self.head_out.forward(store, y)?;
        resize_bilinear(store, y, (s, s), AlignCorners::True)
    }
}
