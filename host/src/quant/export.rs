//! `hepaseg export … --quantize int8 --calib DIR`: calibrate on a dataset folder, write the int8
//! blob, and report f32 vs int8 on held-out slices.

use super::report::{self, EvalSlice};
use super::{quantize_network, Calib, RangeMode};
use crate::blob::{load_signing_key, network};
use crate::data::{DataConfig, Dataset, SliceFilter, SplitConfig, Target};
use crate::registry::Model;
use hepaseg_core::nets::Int8Network;
use std::fmt::Write as _;
use std::path::Path;

/// Where the `f32` parameters come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamSource {
    /// The seed-initialised (untrained) network of `export --random-init` (development aid).
    RandomInit {
        /// Seed.
        seed: u64,
    },
    /// Explicit values, in the network's table order.
    Values(Vec<Vec<f32>>),
    /// A training checkpoint (`hepaseg train`'s safetensors): its model must match, its
    /// preset is used, its fingerprint must be this build's.
    Checkpoint(std::path::PathBuf),
}

/// The preset and the parameter values (table order) of a training checkpoint for `model`.
pub fn checkpoint_values(model: Model, path: &Path) -> Result<(String, Vec<Vec<f32>>), String> {
    let ck = crate::train::checkpoint::Checkpoint::load(path)?;
    if ck.get("model")? != model.name() {
        return Err(format!(
            "{} is a {} checkpoint, not {}",
            path.display(),
            ck.get("model")?,
            model.name()
        ));
    }
    let preset = ck.get("preset")?.to_owned();
    let net = network(model, &preset)
        .ok_or_else(|| format!("unknown preset `{preset}` in the checkpoint"))?;
    if ck.get("fingerprint")? != format!("{:016x}", net.fingerprint) {
        return Err("the checkpoint's fingerprint does not match this build's network".into());
    }
    let values = net
        .params
        .iter()
        .map(|spec| {
            let name = spec.name.as_str();
            ck.params
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, _, v)| v.clone())
                .ok_or_else(|| format!("checkpoint lacks `{name}`"))
        })
        .collect::<Result<_, _>>()?;
    Ok((preset, values))
}

/// What `export --quantize int8` does.
#[derive(Debug, Clone)]
pub struct Int8Export<'a> {
    /// Architecture.
    pub model: Model,
    /// Preset name.
    pub preset: &'a str,
    /// The `f32` parameters.
    pub params: ParamSource,
    /// Calibration dataset folder (any layout `data::Dataset` reads).
    pub calib: &'a Path,
    /// Output blob.
    pub out: &'a Path,
    /// Ed25519 secret key to sign with.
    pub sign: Option<&'a Path>,
    /// Range choice.
    pub mode: RangeMode,
    /// Calibration slices (taken evenly from the training patients' liver slices).
    pub calib_slices: usize,
    /// Report slices (taken evenly from the validation and test patients' liver slices).
    pub val_slices: usize,
    /// What the masks mark (for the Dice against ground truth).
    pub target: Target,
    /// Also report which blocks cost accuracy ([`super::sensitivity`]; one extra `f32`
    /// forward per block and report slice).
    pub sensitivity: bool,
}

/// `k` indices spread evenly over `0..n`.
fn spread(n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n);
    (0..k).map(|i| i * n / k).collect()
}

fn load(data: &Dataset, k: usize, target: Target) -> Result<Vec<EvalSlice>, String> {
    spread(data.len(), k)
        .into_iter()
        .map(|i| {
            let s = data.load(i).map_err(|e| e.to_string())?;
            Ok(EvalSlice {
                mask: Some(s.mask(target)),
                image: s.image,
            })
        })
        .collect()
}

/// Calibration and report slices from `dir`: split by patient (8:1:1, seed 0), liver slices
/// only; calibration from the training patients, the report from the others. With too few
/// patients to split, both come from all liver slices (said so in the returned note).
fn slices(
    e: &Int8Export<'_>,
    size: usize,
    channels: usize,
) -> Result<(Vec<EvalSlice>, Vec<EvalSlice>, String), String> {
    let config = DataConfig::new(size)
        .with_target(e.target)
        .with_channels(channels);
    let data = Dataset::open(e.calib, config).map_err(|err| err.to_string())?;
    let liver = data
        .filter(SliceFilter::WithLiver)
        .map_err(|err| err.to_string())?;
    let liver = if liver.is_empty() {
        data.clone()
    } else {
        liver
    };
    match data.split(&SplitConfig::default()) {
        Ok(s) => {
            let train = s
                .train
                .filter(SliceFilter::WithLiver)
                .map_err(|e| e.to_string())?;
            let mut held = s
                .val
                .filter(SliceFilter::WithLiver)
                .map_err(|e| e.to_string())?;
            if held.is_empty() {
                held = s
                    .test
                    .filter(SliceFilter::WithLiver)
                    .map_err(|e| e.to_string())?;
            }
            if train.is_empty() || held.is_empty() {
                let c = load(&liver, e.calib_slices, e.target)?;
                let v = load(&liver, e.val_slices, e.target)?;
                return Ok((c, v, "calibration and report on the same liver slices (a split left no liver slices)".into()));
            }
            let c = load(&train, e.calib_slices, e.target)?;
            let v = load(&held, e.val_slices, e.target)?;
            Ok((c, v, format!("calibration on training patients, report on held-out patients ({} slices available)", held.len())))
        }
        Err(_) => {
            let c = load(&liver, e.calib_slices, e.target)?;
            let v = load(&liver, e.val_slices, e.target)?;
            Ok((
                c,
                v,
                "too few patients to split: calibration and report on the same liver slices".into(),
            ))
        }
    }
}

fn run<N: Int8Network>(e: &Int8Export<'_>, values: Vec<Vec<f32>>) -> Result<String, String> {
    let cfg = Calib::of(e.model, N::PRESET).ok_or("no calibration forward for this preset")?;
    let (calib, val, note) = slices(e, cfg.size(), cfg.channels())?;
    let images: Vec<Vec<f32>> = calib.iter().map(|s| s.image.clone()).collect();
    let q = quantize_network::<N>(&cfg, &values, &images, e.mode)?;
    let signer = e
        .sign
        .map(load_signing_key)
        .transpose()
        .map_err(|err| err.to_string())?;
    let written = q
        .writer
        .write(e.out, signer.as_ref())
        .map_err(|err| err.to_string())?;
    let bytes = std::fs::read(e.out).map_err(|err| format!("{}: {err}", e.out.display()))?;
    let cmp = report::compare::<N>(&bytes, &values, &val)?;
    let st = q.stats;
    let payload = st.payload_bytes();
    let mut s = String::new();
    let _ = writeln!(s, "{written}");
    let _ = writeln!(
        s,
        "int8 {} {}: {} convolutions, {} activation points; payload {payload} B = int8 weights {} B + int32 biases {} B + tables {} B (per-channel {} B, ops {} B, points {} B); blob {} B = {:.4} x payload",
        e.model.name(),
        N::PRESET,
        st.convs,
        st.points,
        st.weight_bytes,
        st.bias_bytes,
        payload - st.weight_bytes - st.bias_bytes,
        st.companion_bytes,
        st.table_bytes,
        super::emit::POINT_BYTES * st.points,
        written.bytes,
        written.bytes as f64 / payload.max(1) as f64
    );
    let _ = writeln!(
        s,
        "arena: int8 {} B, f32 {} B ({:.3} x)",
        N::ARENA_BYTES_INT8,
        N::ARENA_BYTES,
        N::ARENA_BYTES_INT8 as f64 / N::ARENA_BYTES as f64
    );
    let _ = writeln!(
        s,
        "calibration: {} slices, {} ranges; {note}",
        calib.len(),
        e.mode
    );
    let _ = write!(s, "{cmp}");
    if let Some(first) = val.first() {
        let mut errors = report::point_errors_on::<N>(&cfg, &bytes, &values, &first.image)?;
        errors.sort_by(|a, b| {
            (b.mean_abs / f64::from(b.scale)).total_cmp(&(a.mean_abs / f64::from(a.scale)))
        });
        let _ = write!(
            s,
            "\n  activation points with the largest mean error (first report slice, in LSB):"
        );
        for e in errors.iter().take(5) {
            let _ = write!(
                s,
                "\n    {:44} mean {:.2}, max {:.1} (scale {:.5})",
                e.point,
                e.mean_abs / f64::from(e.scale),
                e.max_lsb,
                e.scale
            );
        }
    }
    if e.sensitivity {
        let params = super::graph::NamedParams::new(N::PARAMS, &values)?;
        let mut blocks: Vec<String> = Vec::new();
        for op in &q.trace.ops {
            let b = super::sensitivity::block_of(op.output());
            if !blocks.contains(&b) {
                blocks.push(b);
            }
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let r = super::sensitivity::sensitivity(&cfg, &params, &q.points, &blocks, &val, threads)?;
        let _ = write!(s, "\n{r}");
    }
    Ok(s)
}

/// Runs `export --quantize int8`; returns the report.
pub fn export_int8(e: &Int8Export<'_>) -> Result<String, String> {
    let (preset, values) = match &e.params {
        ParamSource::Checkpoint(path) => {
            let (preset, values) = checkpoint_values(e.model, path)?;
            (preset, Some(values))
        }
        _ => (e.preset.to_owned(), None),
    };
    let net = network(e.model, &preset)
        .ok_or_else(|| crate::registry::unknown_preset(e.model, &preset))?;
    let values = match (&e.params, values) {
        (_, Some(v)) => v,
        (ParamSource::RandomInit { seed }, None) => crate::blob::seeded_params(net.params, *seed),
        (ParamSource::Values(v), None) => v.clone(),
        (ParamSource::Checkpoint(_), None) => unreachable!("loaded above"),
    };
    let e = Int8Export {
        preset: &preset,
        ..e.clone()
    };
    match e.model {
        Model::AgcafNet => crate::with_agcaf_preset!(preset.as_str(), run(&e, values)),
        Model::CafctNet => crate::with_cafct_preset!(preset.as_str(), run(&e, values)),
        Model::Unet | Model::AttentionUnet => None,
    }
    .unwrap_or_else(|| Err(format!("no int8 engine for preset `{preset}`")))
}
