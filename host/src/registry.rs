//! Every network × preset the tool knows, by command-line name, and their figures.
//!
//! Core publishes each network as a concrete type; this module is the one place that maps
//! the names a user types (`--model agcaf-net --preset edge`) onto those types.

use hepaseg_core::nets::int8::Int8Network;
use serde::Serialize;

/// The architectures, by command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// AGCAF-Net (ResNet backbone, context pyramid, asymmetric fusion).
    AgcafNet,
    /// CAFCT-Net (CNN + transformer branches, attentive feature fusion, ASPP, attention gates).
    CafctNet,
    /// U-Net — a host-only baseline (train, eval --checkpoint; no core network or blob).
    Unet,
    /// Attention U-Net — a host-only baseline (train, eval --checkpoint; no core network or
    /// blob).
    AttentionUnet,
}

impl Model {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Model::AgcafNet => "agcaf-net",
            Model::CafctNet => "cafct-net",
            Model::Unet => "unet",
            Model::AttentionUnet => "attention-unet",
        }
    }

    /// Whether this is one of the papers' comparison baselines, which exist on the host only
    /// (see [`crate::models::unet`]).
    pub fn is_baseline(self) -> bool {
        matches!(self, Model::Unet | Model::AttentionUnet)
    }
}

/// The message for a preset that has no core network: lists the core presets, or says that a
/// baseline has none.
pub fn unknown_preset(model: Model, preset: &str) -> String {
    if model.is_baseline() {
        format!(
            "{} is a host-only baseline (presets {}): it trains and evaluates (`train`, `eval \
             --checkpoint`) but has no core network, weight blob or int8 engine",
            model.name(),
            crate::models::unet::PRESETS.join(", ")
        )
    } else {
        format!(
            "unknown preset `{preset}` for {}; known: {}",
            model.name(),
            presets(model).join(", ")
        )
    }
}

/// One row of a per-block summary.
#[derive(Debug, Clone, Serialize)]
pub struct BlockSummary {
    /// Block name (parameter prefix).
    pub name: &'static str,
    /// Output shape `[C, H, W]`.
    pub output: [usize; 3],
    /// Trainable parameters of the block.
    pub params: usize,
    /// Multiply-accumulates of the block.
    pub macs: u64,
}

/// The figures `hepaseg info` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Architecture name.
    pub model: &'static str,
    /// Preset name.
    pub preset: &'static str,
    /// Trainable parameters.
    pub params: usize,
    /// Parameter tensors (rows of the table, including batch-norm statistics).
    pub tensors: usize,
    /// Multiply-accumulates per slice.
    pub macs: u64,
    /// Arena bytes of the f32 engine.
    pub arena_bytes_f32: usize,
    /// Arena bytes of the int8 engine.
    pub arena_bytes_int8: usize,
    /// Input shape `[C, H, W]`.
    pub input: [usize; 3],
    /// Output shape `[C, H, W]`.
    pub output: [usize; 3],
    /// Architecture fingerprint, as 16 hex digits.
    pub fingerprint: String,
    /// Per-block rows.
    pub blocks: Vec<BlockSummary>,
}

/// The summary of a network type.
pub fn summarize<N: Int8Network>() -> Summary {
    let blocks = N::BLOCKS
        .iter()
        .map(|b| BlockSummary {
            name: b.name,
            output: b.output,
            params: N::PARAMS
                .iter()
                .filter(|p| p.name.is_under(b.name) && p.role.is_trainable())
                .map(|p| p.numel())
                .sum(),
            macs: b.macs,
        })
        .collect();
    Summary {
        model: N::ARCHITECTURE.name(),
        preset: N::PRESET,
        params: N::PARAM_COUNT,
        tensors: N::PARAMS.len(),
        macs: N::MACS,
        arena_bytes_f32: N::ARENA_BYTES,
        arena_bytes_int8: N::ARENA_BYTES_INT8,
        input: N::INPUT,
        output: N::OUTPUT,
        fingerprint: format!("{:016x}", N::FINGERPRINT),
        blocks,
    }
}

/// Calls `$f::<Net>(args…)` for the network named by `(model, preset)`, or evaluates to `None`.
/// The arguments are evaluated only in the matching arm.
macro_rules! with_network {
    ($model:expr, $preset:expr, $f:ident $(, $arg:expr)* $(,)?) => {{
        use $crate::registry::Model;
        use hepaseg_core::nets::{agcaf, cafct};
        match ($model, $preset) {
            (Model::AgcafNet, "paper") => Some($f::<agcaf::paper::Net>($($arg),*)),
            (Model::AgcafNet, "edge") => Some($f::<agcaf::edge::Net>($($arg),*)),
            (Model::AgcafNet, "tiny") => Some($f::<agcaf::tiny::Net>($($arg),*)),
            (Model::AgcafNet, "tiny-2.5d") => Some($f::<agcaf::tiny_2_5d::Net>($($arg),*)),
            (Model::AgcafNet, "edge-2.5d") => Some($f::<agcaf::edge_2_5d::Net>($($arg),*)),
            (Model::AgcafNet, "tiny-backbone") => Some($f::<agcaf::tiny_backbone::Net>($($arg),*)),
            (Model::AgcafNet, "tiny-cpm") => Some($f::<agcaf::tiny_cpm::Net>($($arg),*)),
            (Model::AgcafNet, "tiny-afm") => Some($f::<agcaf::tiny_afm::Net>($($arg),*)),
            (Model::CafctNet, "paper") => Some($f::<cafct::paper::Net>($($arg),*)),
            (Model::CafctNet, "edge") => Some($f::<cafct::edge::Net>($($arg),*)),
            (Model::CafctNet, "tiny") => Some($f::<cafct::tiny::Net>($($arg),*)),
            (Model::CafctNet, "tiny-2.5d") => Some($f::<cafct::tiny_2_5d::Net>($($arg),*)),
            (Model::CafctNet, "edge-2.5d") => Some($f::<cafct::edge_2_5d::Net>($($arg),*)),
            (Model::CafctNet, "tiny-no-transformer") => {
                Some($f::<cafct::tiny_no_transformer::Net>($($arg),*))
            }
            (Model::CafctNet, "tiny-no-aff") => Some($f::<cafct::tiny_no_aff::Net>($($arg),*)),
            (Model::CafctNet, "tiny-no-aspp") => Some($f::<cafct::tiny_no_aspp::Net>($($arg),*)),
            (Model::CafctNet, "tiny-no-ag") => Some($f::<cafct::tiny_no_ag::Net>($($arg),*)),
            _ => None,
        }
    }};
}
pub(crate) use with_network;

/// Core preset names per architecture (the three sizes first, then the 2.5D presets — k
/// adjacent slices as input channels —, then ablations); none for the host-only baselines.
pub fn presets(model: Model) -> &'static [&'static str] {
    match model {
        Model::Unet | Model::AttentionUnet => &[],
        Model::AgcafNet => &[
            "paper",
            "edge",
            "tiny",
            "tiny-2.5d",
            "edge-2.5d",
            "tiny-backbone",
            "tiny-cpm",
            "tiny-afm",
        ],
        Model::CafctNet => &[
            "paper",
            "edge",
            "tiny",
            "tiny-2.5d",
            "edge-2.5d",
            "tiny-no-transformer",
            "tiny-no-aff",
            "tiny-no-aspp",
            "tiny-no-ag",
        ],
    }
}

/// The summary of a named network, or `None` for an unknown preset.
pub fn summary(model: Model, preset: &str) -> Option<Summary> {
    with_network!(model, preset, summarize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over every core preset: the input has 3 channels exactly for the `-2.5d` presets, 1
    /// otherwise; a 2.5D preset's table is its 2D twin's (same names, order and shapes) except
    /// the first convolutions, `C × 1 × K × K` there and `C × 3 × K × K` here; its figures
    /// differ by exactly those weights.
    #[test]
    fn two_and_a_half_d_presets_take_three_slices_and_differ_only_in_the_first_convolutions() {
        let mut seen = 0;
        for model in [Model::AgcafNet, Model::CafctNet] {
            for &preset in presets(model) {
                let s = summary(model, preset).expect("known preset");
                let twin = preset.strip_suffix("-2.5d");
                let k = if twin.is_some() { 3 } else { 1 };
                assert_eq!(s.input[0], k, "{} {preset}", model.name());
                assert_eq!(s.output[0], 1);
                let Some(twin) = twin else { continue };
                seen += 1;
                let t = summary(model, twin).expect("2D twin");
                assert_eq!((&s.input[1..], s.output), (&t.input[1..], t.output));
                let (wide, narrow) = (
                    crate::blob::network(model, preset).unwrap().params,
                    crate::blob::network(model, twin).unwrap().params,
                );
                assert_eq!(wide.len(), narrow.len());
                let mut extra = 0;
                let mut changed = Vec::new();
                for (w, n) in wide.iter().zip(narrow) {
                    assert_eq!(w.name.as_str(), n.name.as_str());
                    if w.shape() != n.shape() {
                        assert_eq!((w.dims[1], n.dims[1]), (3, 1), "{}", w.name.as_str());
                        assert_eq!((w.dims[0], &w.dims[2..]), (n.dims[0], &n.dims[2..]));
                        extra += w.numel() - n.numel();
                        changed.push(w.name.as_str());
                    }
                }
                let first: &[&str] = match model {
                    Model::AgcafNet => &["backbone.stem.conv.weight"],
                    _ => &["cnn.stem.conv.weight", "trans.stage1.embed.conv.weight"],
                };
                assert_eq!(changed, first, "{} {preset}", model.name());
                assert_eq!(s.params, t.params + extra);
                assert_ne!(s.fingerprint, t.fingerprint);
            }
        }
        assert_eq!(seen, 4, "tiny-2.5d and edge-2.5d of both networks");
    }
}
