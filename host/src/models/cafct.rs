//! CAFCT-Net (SPEC §2.2) as a trainable model mirroring core's `nets::cafct` exactly: the
//! same preset constants (read from the core preset module), tensor names, shapes and order
//! (`store.check_table(N::PARAMS)` holds), ablation switches (`WITH_TRANSFORMER`, `WITH_AFF`,
//! `WITH_ASPP`, `WITH_AG`) and wiring. Training/eval behaviour (batch norm, the ASPP's
//! Dropout 0.5) follows the store's [`Mode`].
//!
//! Two branches (CNN BasicBlocks and a PVT-v2 pyramid — [`super::pvt`] — or, in the ablation
//! without transformer, a second CNN branch `cnn2`) give four levels; each level is fused
//! ([`Aff`]), the deepest goes through the context module ([`Context`]), three gated decoder
//! blocks climb back to L1 ([`Decoder`]), and the head works at full resolution.
//!
//! [`Mode`]: crate::nn::Mode

use super::cafct_blocks::{Aff, Context, Decoder};
use super::pvt::{Stage, StageConfig};
use super::units::{conv, Act, BasicBlock, ConvBn};
use crate::nn::store::join;
use crate::nn::{
    resize_bilinear, AlignCorners, Backend, Conv2d, ConvConfig, Map, NnError, ParamStore, Real,
};
use dfdx::shapes::HasShape;
use dfdx::tensor::Tape;
use dfdx::tensor_ops::Device;
use hepaseg_core::nets::{cafct, Network};

/// The sizes and switches of one CAFCT-Net preset (core's `cafct::<preset>` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CafctConfig {
    /// Base width C (channels of L1; levels have C, 2C, 4C, 4C).
    pub base: usize,
    /// Input height and width.
    pub size: usize,
    /// Input channels: 1, or k adjacent slices (2.5D presets).
    pub in_channels: usize,
    /// Transformer blocks per stage.
    pub depths: [usize; 4],
    /// Attention heads per stage.
    pub heads: [usize; 4],
    /// Spatial reduction per stage.
    pub sr: [usize; 4],
    /// ASPP atrous rates.
    pub aspp_rates: [usize; 3],
    /// Transformer branch present (else a second CNN branch).
    pub transformer: bool,
    /// AFF gates present (else plain concat + 1×1).
    pub aff: bool,
    /// ASPP present (else a 1×1 unit).
    pub aspp: bool,
    /// Attention gates present (else plain skips).
    pub ag: bool,
}

impl CafctConfig {
    /// Channels of L1..L4.
    pub fn channels(&self) -> [usize; 4] {
        let c = self.base;
        [c, 2 * c, 4 * c, 4 * c]
    }
}

/// A core CAFCT-Net preset type the host can build.
pub trait CafctPreset: Network {
    /// Its constants.
    const CONFIG: CafctConfig;
}

macro_rules! cafct_presets {
    ($($m:ident),* $(,)?) => {$(
        impl CafctPreset for cafct::$m::Net {
            const CONFIG: CafctConfig = CafctConfig {
                base: cafct::$m::C,
                size: cafct::$m::SIZE,
                in_channels: cafct::$m::IN_CHANNELS,
                depths: cafct::$m::DEPTHS,
                heads: cafct::$m::HEADS,
                sr: cafct::$m::SR,
                aspp_rates: cafct::$m::ASPP_RATES,
                transformer: cafct::$m::WITH_TRANSFORMER,
                aff: cafct::$m::WITH_AFF,
                aspp: cafct::$m::WITH_ASPP,
                ag: cafct::$m::WITH_AG,
            };
        }
    )*};
}
cafct_presets!(
    paper,
    edge,
    tiny,
    tiny_2_5d,
    edge_2_5d,
    tiny_no_transformer,
    tiny_no_aff,
    tiny_no_aspp,
    tiny_no_ag
);

/// The constants of the preset named `preset` (the names `registry::presets` lists).
pub fn config(preset: &str) -> Option<CafctConfig> {
    Some(match preset {
        "paper" => <cafct::paper::Net as CafctPreset>::CONFIG,
        "edge" => <cafct::edge::Net as CafctPreset>::CONFIG,
        "tiny" => <cafct::tiny::Net as CafctPreset>::CONFIG,
        "tiny-2.5d" => <cafct::tiny_2_5d::Net as CafctPreset>::CONFIG,
        "edge-2.5d" => <cafct::edge_2_5d::Net as CafctPreset>::CONFIG,
        "tiny-no-transformer" => <cafct::tiny_no_transformer::Net as CafctPreset>::CONFIG,
        "tiny-no-aff" => <cafct::tiny_no_aff::Net as CafctPreset>::CONFIG,
        "tiny-no-aspp" => <cafct::tiny_no_aspp::Net as CafctPreset>::CONFIG,
        "tiny-no-ag" => <cafct::tiny_no_ag::Net as CafctPreset>::CONFIG,
        _ => return None,
    })
}

/// A CNN branch: stem Conv3×3(K→C, s2)+BN+ReLU and BasicBlock(C) → L1; for L2..L4
/// BasicBlock(stride 2) + BasicBlock. Names `prefix.stem`, `prefix.level1.0`,
/// `prefix.level{2,3,4}.{0,1}`.
#[derive(Debug, Clone)]
struct CnnBranch {
    stem: ConvBn,
    /// `level1.0`, then `level{l}.0`, `level{l}.1` for l = 2..4.
    blocks: Vec<BasicBlock>,
}

impl CnnBranch {
    fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        in_channels: usize,
        ch: [usize; 4],
    ) -> Result<Self, NnError> {
        let stem_cfg = conv(in_channels, ch[0], 3, 2, false);
        let stem = ConvBn::new(store, &join(prefix, "stem"), stem_cfg)?;
        let mut blocks = vec![BasicBlock::new(
            store,
            &join(prefix, "level1.0"),
            ch[0],
            ch[0],
            1,
        )?];
        for l in 1..4 {
            let p = join(prefix, &format!("level{}", l + 1));
            blocks.push(BasicBlock::new(store, &join(&p, "0"), ch[l - 1], ch[l], 2)?);
            blocks.push(BasicBlock::new(store, &join(&p, "1"), ch[l], ch[l], 1)?);
        }
        Ok(Self { stem, blocks })
    }

    /// The four level maps L1..L4.
    fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Vec<Map<E, D, T>>, NnError> {
        let mut y = self.stem.forward(store, x, Act::Relu)?;
        let mut levels = Vec::with_capacity(4);
        for (i, block) in self.blocks.iter().enumerate() {
            y = block.forward(store, y)?;
            // L1 after block 0, then after every second block; the level keeps the tape, the
            // next level continues on a retaped copy
            if i % 2 == 0 {
                let next = y.retaped::<T>();
                levels.push(y);
                y = next;
            }
        }
        Ok(levels)
    }
}

/// The second branch: the transformer pyramid, or (ablation) another CNN branch.
#[derive(Debug, Clone)]
enum Second {
    Transformer(Vec<Stage>),
    Cnn(CnnBranch),
}

impl Second {
    fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Vec<Map<E, D, T>>, NnError> {
        let stages = match self {
            Second::Cnn(cnn) => return cnn.forward(store, x),
            Second::Transformer(stages) => stages,
        };
        let mut levels = Vec::with_capacity(4);
        let mut y = x;
        for stage in stages {
            let out = stage.forward(store, y)?;
            y = out.retaped::<T>();
            levels.push(out);
        }
        Ok(levels)
    }
}

/// CAFCT-Net: two branches, four AFFs, ASPP, three gated decoder blocks, head.
#[derive(Debug, Clone)]
pub struct CafctNet {
    config: CafctConfig,
    cnn: CnnBranch,
    second: Second,
    aff: Vec<Aff>,
    context: Context,
    decoders: Vec<Decoder>,
    head_conv: ConvBn,
    head_out: Conv2d,
}

impl CafctNet {
    /// Builds preset `N` into `store` (which must be empty), in core's table order.
    pub fn for_preset<N: CafctPreset, E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
    ) -> Result<Self, NnError> {
        let net = Self::new(store, N::CONFIG)?;
        store.check_table(N::PARAMS)?;
        Ok(net)
    }

    /// Builds a network of `config` into `store`.
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        config: CafctConfig,
    ) -> Result<Self, NnError> {
        if config.size == 0
            || !config.size.is_multiple_of(16)
            || config.base < 2
            || config.in_channels == 0
        {
            return Err(NnError::config(
                "cafct-net",
                "input size must be a positive multiple of 16, the base width ≥ 2 and the \
                 input channels ≥ 1",
            ));
        }
        let ch = config.channels();
        let cnn = CnnBranch::new(store, "cnn", config.in_channels, ch)?;
        let second = if config.transformer {
            let mut stages = Vec::with_capacity(4);
            for l in 0..4 {
                let cfg = StageConfig {
                    in_channels: if l == 0 {
                        config.in_channels
                    } else {
                        ch[l - 1]
                    },
                    dim: ch[l],
                    kernel: if l == 0 { 7 } else { 3 },
                    depth: config.depths[l],
                    heads: config.heads[l],
                    sr: config.sr[l],
                };
                stages.push(Stage::new(store, &format!("trans.stage{}", l + 1), cfg)?);
            }
            Second::Transformer(stages)
        } else {
            Second::Cnn(CnnBranch::new(store, "cnn2", config.in_channels, ch)?)
        };
        let aff = (0..4)
            .map(|l| Aff::new(store, &format!("aff.{l}"), ch[l], config.aff))
            .collect::<Result<Vec<_>, _>>()?;
        let context = Context::new(store, "aspp", ch[3], config.aspp_rates, config.aspp)?;
        // decoder.0 at L3 (from L4), decoder.1 at L2, decoder.2 at L1
        let decoders = (0..3)
            .map(|k| {
                let l = 2 - k;
                Decoder::new(
                    store,
                    &format!("decoder.{k}"),
                    (ch[l], ch[l + 1]),
                    config.ag,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let head_conv = ConvBn::new(store, "head.conv", conv(ch[0], ch[0], 3, 1, false))?;
        let head_out = Conv2d::new(store, "head.out", ConvConfig::new(ch[0], 1, 1))?;
        Ok(Self {
            config,
            cnn,
            second,
            aff,
            context,
            decoders,
            head_conv,
            head_out,
        })
    }

    /// The preset constants.
    pub fn config(&self) -> CafctConfig {
        self.config
    }

    /// Random draws one training forward pass takes from the device RNG (the ASPP's dropout).
    pub fn rng_draws_per_step(&self) -> u64 {
        self.context.dropout_layers()
    }

    /// Logits `N × 1 × S × S` of `x` (`N × K × S × S`, K input channels).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let (n, c, h, w) = *x.shape();
        let (s, k) = (self.config.size, self.config.in_channels);
        if c != k || h != s || w != s || n == 0 {
            return Err(NnError::shape(
                "cafct-net",
                format!("N×{k}×{s}×{s}"),
                &[n, c, h, w],
            ));
        }
        let first = self.cnn.forward(store, x.retaped::<T>())?;
        let second = self.second.forward(store, x)?;
        let mut fused = Vec::with_capacity(4);
        for ((a, b), aff) in first.into_iter().zip(second).zip(&self.aff) {
            fused.push(aff.forward(store, a, b)?);
        }
        let deepest = fused
            .pop()
            .ok_or_else(|| NnError::config("cafct-net", "levels missing"))?;
        let mut g = self.context.forward(store, deepest)?;
        for dec in &self.decoders {
            let skip = fused
                .pop()
                .ok_or_else(|| NnError::config("cafct-net", "levels missing"))?;
            g = dec.forward(store, skip, g)?;
        }
        let up = resize_bilinear(store, g, (s, s), AlignCorners::False)?;
        let y = self.head_conv.forward(store, up, Act::Relu)?;
        self.head_out.forward(store, y)
    }
}
