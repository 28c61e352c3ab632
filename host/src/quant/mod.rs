//! Post-training quantization: from an `f32` network and a calibration set to an int8 blob that
//! core's integer-only engine runs (`hepaseg export … --quantize int8 --calib DIR`).
//!
//! ```text
//!  f32 parameters ──► NamedParams (BN folded, f64)
//!        │
//!  calibration slices ─► calibration forward (graph::Ctx, runtime shapes, f32)
//!        │                 ├─ observers: min/max (calib::MinMax), histograms (percentile)
//!        │                 └─ trace: every quantizable op with its point names (graph::Trace)
//!        ▼
//!  point_params (TFLite's asymmetric int8, fixed points for σ) ─► emit: per-channel weights,
//!  int32 biases, Q31 multipliers, add/mul/rescale integers, σ tables, exp tables ─► BlobWriter
//!        │
//!  report: core f32 engine vs core int8 engine on held-out slices (report::compare)
//! ```
//!
//! **Calibration forward.** Intermediate activations come from a host-side mirror of the
//! network ([`agcaf::forward`]) that walks the `f32` parameters by name with runtime shapes and
//! reports every activation point of the int8 graph. Writing it on the host keeps core's
//! allocation-free engines free of observer hooks; a test checks that its logits equal core's
//! `f32` engine, so the ranges are those of the network being quantized. The mirror records
//! the operations it performs ([`graph::Op`]), so the exporter needs no second description of
//! the wiring and cannot disagree with it.
//!
//! **Scheme** (SPEC §3): weights symmetric per output channel (`max |w| / 127`), activations
//! asymmetric per tensor (`QuantParams::from_range`, range widened to include 0), biases int32
//! at `s_in·s_w`, BatchNorm folded in `f64` before quantizing, learned gates folded into add
//! multipliers, sigmoid through 256-entry tables at `(1/256, −128)`, softmax exp tables for each
//! score point.

pub mod agcaf;
pub mod cafct;
pub mod calib;
pub mod emit;
pub mod export;
pub mod graph;
pub mod report;
pub mod sensitivity;
pub mod tensor;

pub use agcaf::AgcafConfig;
pub use cafct::CafctConfig;
pub use calib::RangeMode;
pub use export::{export_int8, Int8Export, ParamSource};
pub use report::{compare, Comparison, EvalSlice};

use crate::blob::BlobWriter;
use emit::EmitStats;
use graph::{Ctx, NamedParams, Trace};
use hepaseg_core::blob::QuantScheme;
use hepaseg_core::int8::QuantParams;
use hepaseg_core::nets::Network;
use std::collections::BTreeMap;

/// An int8 network ready to be written.
#[derive(Debug, Clone)]
pub struct Quantized {
    /// The blob's tensors.
    pub writer: BlobWriter,
    /// The traced graph.
    pub trace: Trace,
    /// Quantization of every point.
    pub points: BTreeMap<String, QuantParams>,
    /// What the blob holds.
    pub stats: EmitStats,
}

impl Quantized {
    /// The encoded (unsigned) blob.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        self.writer.to_bytes(None).map_err(|e| e.to_string())
    }
}

/// Which calibration forward a network uses, with its preset figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calib {
    /// AGCAF-Net.
    Agcaf(AgcafConfig),
    /// CAFCT-Net.
    Cafct(CafctConfig),
}

impl Calib {
    /// The figures of `(model, preset)`, if known.
    pub fn of(model: crate::registry::Model, preset: &str) -> Option<Self> {
        match model {
            crate::registry::Model::AgcafNet => agcaf_config(preset).map(Calib::Agcaf),
            crate::registry::Model::CafctNet => cafct_config(preset).map(Calib::Cafct),
            crate::registry::Model::Unet | crate::registry::Model::AttentionUnet => None,
        }
    }

    /// Input channels (1, or k slices for a 2.5D preset).
    pub fn channels(&self) -> usize {
        match self {
            Calib::Agcaf(c) => c.in_channels,
            Calib::Cafct(c) => c.in_channels,
        }
    }

    /// Input side.
    pub fn size(&self) -> usize {
        match self {
            Calib::Agcaf(c) => c.size,
            Calib::Cafct(c) => c.size,
        }
    }

    /// Runs the calibration forward on one slice.
    pub fn forward(&self, ctx: &mut Ctx<'_>, input: &[f32]) -> Result<tensor::Fm, String> {
        match self {
            Calib::Agcaf(c) => agcaf::forward(ctx, c, input),
            Calib::Cafct(c) => cafct::forward(ctx, c, input),
        }
    }
}

/// Calibrates and quantizes network `N` (calibration forward `calib`) with parameters
/// `values` (table order) on the calibration slices `images`, on every core
/// ([`std::thread::available_parallelism`]); the result does not depend on the number of
/// threads ([`quantize_network_on`]).
pub fn quantize_network<N: Network>(
    calib: &Calib,
    values: &[Vec<f32>],
    images: &[Vec<f32>],
    mode: RangeMode,
) -> Result<Quantized, String> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    quantize_network_on::<N>(calib, values, images, mode, threads)
}

/// [`quantize_network`] on `threads` threads. The calibration forwards are independent, so
/// the slices are split into `threads` contiguous parts, each observed by its own observer,
/// and the observers merged ([`calib::Mergeable`]): the ranges, and so the blob, are the same
/// bytes for every thread count. The first slice runs alone first, recording the trace.
pub fn quantize_network_on<N: Network>(
    calib: &Calib,
    values: &[Vec<f32>],
    images: &[Vec<f32>],
    mode: RangeMode,
    threads: usize,
) -> Result<Quantized, String> {
    let Some((first, rest)) = images.split_first() else {
        return Err("no calibration slices".into());
    };
    let params = NamedParams::new(N::PARAMS, values)?;
    let mut trace = Trace::default();
    let mut mm = calib::MinMax::default();
    calib.forward(&mut Ctx::new(&params, &mut mm, Some(&mut trace)), first)?;
    observe_on(calib, &params, rest, &mut mm, threads)?;
    let ranges = match mode {
        RangeMode::MinMax => mm.ranges,
        RangeMode::Percentile(p) => {
            let mut h = calib::Histograms::new(&mm.ranges);
            observe_on(calib, &params, images, &mut h, threads)?;
            h.percentile_ranges(p)
        }
    };
    let points = emit::point_params(&trace, &ranges)?;
    let mut writer = BlobWriter::for_network::<N>(QuantScheme::Int8PerChannel);
    let stats = emit::emit(&mut writer, &trace, &params, &points)?;
    Ok(Quantized {
        writer,
        trace,
        points,
        stats,
    })
}

/// Runs the calibration forward on every slice of `images`, showing the values to `obs`, on up
/// to `threads` threads (contiguous parts, one observer each, merged in part order).
fn observe_on<O: calib::Mergeable>(
    calib: &Calib,
    params: &NamedParams,
    images: &[Vec<f32>],
    obs: &mut O,
    threads: usize,
) -> Result<(), String> {
    let part = images.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<O> = std::thread::scope(|s| {
        let handles: Vec<_> = images
            .chunks(part)
            .map(|chunk| {
                let mut o = obs.empty_like();
                s.spawn(move || {
                    for x in chunk {
                        calib.forward(&mut Ctx::new(params, &mut o, None), x)?;
                    }
                    Ok::<O, String>(o)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "a calibration thread panicked".to_string())?
            })
            .collect::<Result<_, _>>()
    })?;
    for o in parts {
        obs.merge(o);
    }
    Ok(())
}

/// Calibrates and quantizes AGCAF-Net preset `N` (figures `cfg`) with parameters `values`
/// (table order) on the calibration slices `calib`.
pub fn quantize_agcaf<N: Network>(
    cfg: &AgcafConfig,
    values: &[Vec<f32>],
    calib: &[Vec<f32>],
    mode: RangeMode,
) -> Result<Quantized, String> {
    quantize_network::<N>(&Calib::Agcaf(*cfg), values, calib, mode)
}

/// The calibration-forward figures of a CAFCT-Net preset, by name.
pub fn cafct_config(preset: &str) -> Option<CafctConfig> {
    crate::models::cafct::config(preset)
}

/// The calibration-forward figures of an AGCAF-Net preset, by name.
pub fn agcaf_config(preset: &str) -> Option<AgcafConfig> {
    use hepaseg_core::nets::agcaf;
    macro_rules! cfg {
        ($m:ident) => {
            AgcafConfig {
                size: agcaf::$m::SIZE,
                in_channels: agcaf::$m::IN_CHANNELS,
                scales: agcaf::$m::SCALES,
                cpm: agcaf::$m::WITH_CPM,
                afm: agcaf::$m::WITH_AFM,
            }
        };
    }
    Some(match preset {
        "paper" => cfg!(paper),
        "edge" => cfg!(edge),
        "tiny" => cfg!(tiny),
        "tiny-2.5d" => cfg!(tiny_2_5d),
        "edge-2.5d" => cfg!(edge_2_5d),
        "tiny-backbone" => cfg!(tiny_backbone),
        "tiny-cpm" => cfg!(tiny_cpm),
        "tiny-afm" => cfg!(tiny_afm),
        _ => return None,
    })
}

/// Calls `$f::<Net>($args…)` with the AGCAF-Net preset type named by `$preset` (a `&str`);
/// `None` for an unknown preset.
#[macro_export]
macro_rules! with_agcaf_preset {
    ($preset:expr, $f:ident ( $($arg:expr),* $(,)? )) => {{
        use $crate::core::nets::agcaf;
        match $preset {
            "paper" => Some($f::<agcaf::paper::Net>($($arg),*)),
            "edge" => Some($f::<agcaf::edge::Net>($($arg),*)),
            "tiny" => Some($f::<agcaf::tiny::Net>($($arg),*)),
            "tiny-2.5d" => Some($f::<agcaf::tiny_2_5d::Net>($($arg),*)),
            "edge-2.5d" => Some($f::<agcaf::edge_2_5d::Net>($($arg),*)),
            "tiny-backbone" => Some($f::<agcaf::tiny_backbone::Net>($($arg),*)),
            "tiny-cpm" => Some($f::<agcaf::tiny_cpm::Net>($($arg),*)),
            "tiny-afm" => Some($f::<agcaf::tiny_afm::Net>($($arg),*)),
            _ => None,
        }
    }};
}

/// Calls `$f::<Net>($args…)` with the CAFCT-Net preset type named by `$preset` (a `&str`);
/// `None` for an unknown preset.
#[macro_export]
macro_rules! with_cafct_preset {
    ($preset:expr, $f:ident ( $($arg:expr),* $(,)? )) => {{
        use $crate::core::nets::cafct;
        match $preset {
            "paper" => Some($f::<cafct::paper::Net>($($arg),*)),
            "edge" => Some($f::<cafct::edge::Net>($($arg),*)),
            "tiny" => Some($f::<cafct::tiny::Net>($($arg),*)),
            "tiny-2.5d" => Some($f::<cafct::tiny_2_5d::Net>($($arg),*)),
            "edge-2.5d" => Some($f::<cafct::edge_2_5d::Net>($($arg),*)),
            "tiny-no-transformer" => Some($f::<cafct::tiny_no_transformer::Net>($($arg),*)),
            "tiny-no-aff" => Some($f::<cafct::tiny_no_aff::Net>($($arg),*)),
            "tiny-no-aspp" => Some($f::<cafct::tiny_no_aspp::Net>($($arg),*)),
            "tiny-no-ag" => Some($f::<cafct::tiny_no_ag::Net>($($arg),*)),
            _ => None,
        }
    }};
}

/// The real values of int8 logits (`scale · (q − zero_point)`), on the host.
pub fn dequantize(q: &[i8], quant: hepaseg_core::int8::graph::OutputQuant) -> Vec<f32> {
    q.iter().map(|&v| quant.dequantize(v)).collect()
}
