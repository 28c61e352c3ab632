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
pub mod calib;
pub mod emit;
pub mod export;
pub mod graph;
pub mod report;
pub mod tensor;

pub use agcaf::AgcafConfig;
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

/// Calibrates and quantizes AGCAF-Net preset `N` (figures `cfg`) with parameters `values`
/// (table order) on the calibration slices `calib`.
pub fn quantize_agcaf<N: Network>(
    cfg: &AgcafConfig,
    values: &[Vec<f32>],
    calib: &[Vec<f32>],
    mode: RangeMode,
) -> Result<Quantized, String> {
    if calib.is_empty() {
        return Err("no calibration slices".into());
    }
    let params = NamedParams::new(N::PARAMS, values)?;
    let mut trace = Trace::default();
    let mut mm = calib::MinMax::default();
    for (i, x) in calib.iter().enumerate() {
        let mut ctx = Ctx::new(&params, &mut mm, (i == 0).then_some(&mut trace));
        agcaf::forward(&mut ctx, cfg, x)?;
    }
    let ranges = match mode {
        RangeMode::MinMax => mm.ranges,
        RangeMode::Percentile(p) => {
            let mut h = calib::Histograms::new(&mm.ranges);
            for x in calib {
                let mut ctx = Ctx::new(&params, &mut h, None);
                agcaf::forward(&mut ctx, cfg, x)?;
            }
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

/// The calibration-forward figures of an AGCAF-Net preset, by name.
pub fn agcaf_config(preset: &str) -> Option<AgcafConfig> {
    use hepaseg_core::nets::agcaf;
    macro_rules! cfg {
        ($m:ident) => {
            AgcafConfig {
                size: agcaf::$m::SIZE,
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
            "tiny-backbone" => Some($f::<agcaf::tiny_backbone::Net>($($arg),*)),
            "tiny-cpm" => Some($f::<agcaf::tiny_cpm::Net>($($arg),*)),
            "tiny-afm" => Some($f::<agcaf::tiny_afm::Net>($($arg),*)),
            _ => None,
        }
    }};
}
