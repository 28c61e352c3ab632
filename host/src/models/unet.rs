//! The baselines both papers compare against: **U-Net** (Ronneberger et al. 2015) and
//! **Attention U-Net** (Oktay et al. 2018), 2D, with the same input/output contract as the two
//! networks (one windowed CT channel in, one logit map out at the input size).
//!
//! They are host-only models: trainable and scored with the same commands (`hepaseg train`,
//! `eval --checkpoint`, `ablate`-style comparisons via `hepaseg compare`), but with no core
//! network, so no blob and no int8 engine — they exist to put the two networks' figures in
//! context, as the papers' Tables 2/3 do.
//!
//! Wiring (the common "bilinear" U-Net variant, which keeps the decoder identical to
//! CAFCT-Net's so both use [`Decoder`]): `inc` = two ReLU(BN(Conv3×3)) to F channels; four
//! `down` stages = 2×2 max pool + two ReLU(BN(Conv3×3)) to 2F, 4F, 8F, 16F; four `up` stages =
//! bilinear ×2 (align_corners = false) of the deeper map, concat with the skip, two
//! ReLU(BN(Conv3×3)) back to the skip's width; `head` = Conv1×1(F→1, bias). Attention U-Net
//! gates each skip with an additive attention gate driven by the upsampled decoder signal
//! (Oktay's gate takes the coarse signal and a strided skip projection instead; gating at the
//! skip's resolution is the variant CAFCT-Net uses and costs the same). Convolutions followed
//! by batch norm have no bias; the gate's 1×1 convolutions and the head have biases.
//!
//! Presets (input side must be divisible by 16): `tiny` F = 8 at 64², `edge` F = 16 at 256²,
//! `paper` F = 64 at 256² (the published width).

use super::cafct_blocks::Decoder;
use super::units::{conv, Act, ConvBn};
use crate::nn::store::join;
use crate::nn::{adaptive_max_pool, Backend, Conv2d, Map, NnError, ParamStore, Real};
use dfdx::shapes::HasShape;
use dfdx::tensor::Tape;
use dfdx::tensor_ops::Device;

/// The sizes and switch of one baseline preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnetConfig {
    /// Width F of the first stage (stages have F, 2F, 4F, 8F, 16F channels).
    pub base: usize,
    /// Input height and width.
    pub size: usize,
    /// Attention gates on the skips (Attention U-Net).
    pub attention: bool,
}

/// Preset names of the baselines.
pub const PRESETS: &[&str] = &["paper", "edge", "tiny"];

/// The constants of `preset` for U-Net (`attention = false`) or Attention U-Net.
pub fn config(preset: &str, attention: bool) -> Option<UnetConfig> {
    let (base, size) = match preset {
        "paper" => (64, 256),
        "edge" => (16, 256),
        "tiny" => (8, 64),
        _ => return None,
    };
    Some(UnetConfig {
        base,
        size,
        attention,
    })
}

/// Two ReLU(BN(Conv3×3)) units, `prefix.conv1` and `prefix.conv2`.
#[derive(Debug, Clone)]
struct DoubleConv {
    conv1: ConvBn,
    conv2: ConvBn,
}

impl DoubleConv {
    fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        prefix: &str,
        ci: usize,
        co: usize,
    ) -> Result<Self, NnError> {
        Ok(Self {
            conv1: ConvBn::new(store, &join(prefix, "conv1"), conv(ci, co, 3, 1, false))?,
            conv2: ConvBn::new(store, &join(prefix, "conv2"), conv(co, co, 3, 1, false))?,
        })
    }

    fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let y = self.conv1.forward(store, x, Act::Relu)?;
        self.conv2.forward(store, y, Act::Relu)
    }
}

/// U-Net or Attention U-Net.
#[derive(Debug, Clone)]
pub struct UnetNet {
    config: UnetConfig,
    inc: DoubleConv,
    down: Vec<DoubleConv>,
    up: Vec<Decoder>,
    head: Conv2d,
}

impl UnetNet {
    /// Registers every tensor in `store` (empty): `inc.*`, `down.{0..3}.*`, `up.{0..3}.*`
    /// (deepest first), `head.out.*` (the name `train --prior` sets, as in both networks).
    pub fn new<E: Real, D: Device<E>>(
        store: &mut ParamStore<E, D>,
        config: UnetConfig,
    ) -> Result<Self, NnError> {
        let f = config.base;
        if f == 0 || config.size == 0 || !config.size.is_multiple_of(16) {
            return Err(NnError::config(
                "U-Net",
                format!(
                    "base width {f} and input side {} (a positive multiple of 16) needed",
                    config.size
                ),
            ));
        }
        let widths = [f, 2 * f, 4 * f, 8 * f, 16 * f];
        let inc = DoubleConv::new(store, "inc", 1, f)?;
        let mut down = Vec::with_capacity(4);
        for i in 0..4 {
            let prefix = format!("down.{i}");
            down.push(DoubleConv::new(store, &prefix, widths[i], widths[i + 1])?);
        }
        let mut up = Vec::with_capacity(4);
        for i in 0..4 {
            // deepest first: skip widths[3 - i], from below widths[4 - i]
            let prefix = format!("up.{i}");
            let (cs, cu) = (widths[3 - i], widths[4 - i]);
            up.push(Decoder::new(store, &prefix, (cs, cu), config.attention)?);
        }
        let head = Conv2d::new(store, "head.out", conv(f, 1, 1, 1, true))?;
        Ok(Self {
            config,
            inc,
            down,
            up,
            head,
        })
    }

    /// The preset constants.
    pub fn config(&self) -> UnetConfig {
        self.config
    }

    /// Logits `N × 1 × S × S` of `N × 1 × S × S` inputs.
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        let (_, c, h, w) = *x.shape();
        let s = self.config.size;
        if (c, h, w) != (1, s, s) {
            return Err(NnError::shape(
                "U-Net input",
                format!("N×1×{s}×{s}"),
                &[x.shape().0, c, h, w],
            ));
        }
        // encoder: every stage's output is a skip (the tape stays with the skip; the copy
        // that goes down is retaped, and both reach the loss through the decoder)
        let mut skips = Vec::with_capacity(5);
        skips.push(self.inc.forward(store, x)?);
        for stage in &self.down {
            let prev = skips
                .last()
                .ok_or_else(|| NnError::config("U-Net", "no stage"))?;
            let (_, _, h, w) = *prev.shape();
            let pooled = adaptive_max_pool(store, prev.retaped::<T>(), (h / 2, w / 2))?;
            skips.push(stage.forward(store, pooled)?);
        }
        let mut deep = skips
            .pop()
            .ok_or_else(|| NnError::config("U-Net", "no bottleneck"))?;
        for block in &self.up {
            let skip = skips
                .pop()
                .ok_or_else(|| NnError::config("U-Net", "no skip"))?;
            deep = block.forward(store, skip, deep)?;
        }
        self.head.forward(store, deep)
    }
}
