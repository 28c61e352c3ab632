//! `hepaseg export --format onnx`: either network, any preset, with its `f32` weights as a
//! standard ONNX graph (opset 17, IR version 8) that ONNX Runtime, TensorRT and other runtimes
//! load — see `docs/onnx.md`.
//!
//! * Input `input`: `1 × C × S × S` float (C = 1, the windowed CT slice in `[0, 1]`); output
//!   `logits`: `1 × 1 × S × S` float, the same logits core's `f32` engine computes.
//! * The initializers are exactly the network's parameter table — same names, shapes, order
//!   and values as a weight blob; batch norms stay `BatchNormalization` nodes (inference
//!   form; runtimes fold them into the convolutions), learned gates are `[1]` tensors
//!   multiplied in. Shape constants are `Constant` nodes.
//! * The graph is written by emitters that follow core's `f32` forward block by block
//!   ([`agcaf`], [`cafct`], [`blocks`]); core's engine is the ground truth, and
//!   `benches/peers` checks ONNX Runtime's output against it.
//! * `--test-data DIR` also writes ONNX's test-case layout, `DIR/test_data_set_K/input_0.pb`
//!   and `output_0.pb` (serialized `TensorProto`s): phantom slices and core `f32`'s logits
//!   for them, so any runtime can be checked against core without hepaseg.
//!
//! The protobuf messages are hand-written `prost` structs ([`proto`]).

pub mod agcaf;
pub mod blocks;
pub mod cafct;
pub mod graph;
pub mod proto;

use crate::quant::export::{checkpoint_values, ParamSource};
use crate::registry::Model;
use graph::Builder;
use hepaseg_core::params::ParamSpec;
use prost::Message as _;
use proto::{
    GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, TensorProto, ValueInfoProto,
};
use std::path::Path;

/// The opset the graph is written for (the first with `LayerNormalization`).
pub const OPSET: i64 = 17;
/// The IR version of opset 17.
pub const IR_VERSION: i64 = 8;
/// Name of the graph input.
pub const INPUT: &str = "input";
/// Name of the graph output.
pub const OUTPUT: &str = "logits";
/// Test cases `--test-data` writes: case 0 is `hepaseg bench`'s input slice for the seed,
/// cases 1..=4 the four slices `bench --engine int8` calibrates on (seeds `seed + 1000 + i`).
pub const TEST_CASES: usize = 5;

/// What `export --format onnx` writes.
#[derive(Debug, Clone)]
pub struct OnnxExport<'a> {
    /// Architecture.
    pub model: Model,
    /// Preset (a checkpoint's own preset replaces it).
    pub preset: &'a str,
    /// Where the `f32` parameters come from.
    pub params: ParamSource,
    /// The `.onnx` file.
    pub out: &'a Path,
    /// Where to write test cases (a new directory), if anywhere.
    pub test_data: Option<&'a Path>,
    /// Seed of the test cases' phantom slices.
    pub seed: u64,
}

/// The ONNX model of `(model, preset)` with parameter `values` (table order).
pub fn build(model: Model, preset: &str, values: &[Vec<f32>]) -> Result<ModelProto, String> {
    let net = crate::blob::network(model, preset)
        .ok_or_else(|| crate::registry::unknown_preset(model, preset))?;
    let summary = crate::registry::summary(model, preset)
        .ok_or_else(|| crate::registry::unknown_preset(model, preset))?;
    let [in_ch, size, _] = summary.input;
    let mut g = Builder::new(net.params, values)?;
    let logits = match model {
        Model::AgcafNet => {
            let cfg = crate::models::agcaf::config(preset)
                .ok_or_else(|| crate::registry::unknown_preset(model, preset))?;
            agcaf::emit(&mut g, &cfg, INPUT)?
        }
        Model::CafctNet => {
            let cfg = crate::models::cafct::config(preset)
                .ok_or_else(|| crate::registry::unknown_preset(model, preset))?;
            cafct::emit(&mut g, &cfg, INPUT)?
        }
        Model::Unet | Model::AttentionUnet => {
            return Err(crate::registry::unknown_preset(model, preset))
        }
    };
    g.rename(&logits, OUTPUT)?;
    let (node, initializer) = g.finish()?;
    let meta = |key: &str, value: String| StringStringEntryProto {
        key: key.into(),
        value,
    };
    Ok(ModelProto {
        ir_version: IR_VERSION,
        producer_name: "hepaseg".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: String::new(),
        model_version: 1,
        doc_string: format!(
            "{} {preset}: liver-tumour logits of a windowed CT slice (values in [0, 1]); \
             f32 weights, batch norms as BatchNormalization nodes",
            model.name()
        ),
        graph: Some(GraphProto {
            node,
            name: format!("{}-{preset}", model.name()),
            initializer,
            doc_string: String::new(),
            input: vec![ValueInfoProto::f32(INPUT, &[1, in_ch, size, size])],
            output: vec![ValueInfoProto::f32(OUTPUT, &[1, 1, size, size])],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props: vec![
            meta("model", model.name().into()),
            meta("preset", preset.into()),
            meta("fingerprint", format!("{:016x}", net.fingerprint)),
        ],
    })
}

/// Decodes an ONNX file's bytes (the subset of fields [`proto`] declares).
pub fn decode(bytes: &[u8]) -> Result<ModelProto, String> {
    ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))
}

/// Decodes a serialized `TensorProto` (a `--test-data` file).
pub fn decode_tensor(bytes: &[u8]) -> Result<TensorProto, String> {
    TensorProto::decode(bytes).map_err(|e| format!("not an ONNX tensor: {e}"))
}

/// The parameter table of `(model, preset)`.
fn table(model: Model, preset: &str) -> Result<&'static [ParamSpec], String> {
    crate::blob::network(model, preset)
        .map(|n| n.params)
        .ok_or_else(|| crate::registry::unknown_preset(model, preset))
}

/// Runs `export --format onnx`; returns the report.
pub fn export(e: &OnnxExport<'_>) -> Result<String, String> {
    let (preset, values) = match &e.params {
        ParamSource::Checkpoint(path) => checkpoint_values(e.model, path)?,
        ParamSource::RandomInit { seed } => (
            e.preset.to_owned(),
            crate::blob::seeded_params(table(e.model, e.preset)?, *seed),
        ),
        ParamSource::Values(v) => (e.preset.to_owned(), v.clone()),
    };
    if let Some(dir) = e.test_data {
        if dir.exists() {
            return Err(format!(
                "{}: already exists (--test-data writes a new directory)",
                dir.display()
            ));
        }
    }
    let model = build(e.model, &preset, &values)?;
    let bytes = model.encode_to_vec();
    let cases = match e.test_data {
        Some(_) => test_cases(e.model, &preset, &values, e.seed)?,
        None => Vec::new(),
    };
    let staged = match e.test_data {
        Some(dir) => Some(stage_test_data(dir, &cases)?),
        None => None,
    };
    crate::data::atomic::write_bytes_atomic(e.out, &bytes).map_err(|err| err.to_string())?;
    if let (Some(dir), Some(tmp)) = (e.test_data, staged) {
        let tmp = tmp.keep();
        std::fs::rename(&tmp, dir).map_err(|err| {
            let _ = std::fs::remove_dir_all(&tmp);
            format!("{}: {err}", dir.display())
        })?;
    }
    let graph = model.graph.as_ref().ok_or("internal: no graph")?;
    let params: usize = values.iter().map(Vec::len).sum();
    let mut report = format!(
        "wrote {}: {} bytes, ONNX opset {OPSET}, {} nodes, {} initializers ({} values), \
         {} {preset}, input {INPUT} {:?}, output {OUTPUT} {:?}",
        e.out.display(),
        bytes.len(),
        graph.node.len(),
        graph.initializer.len(),
        params,
        e.model.name(),
        graph.input[0]
            .tensor_shape()
            .map(|s| s.1)
            .unwrap_or_default(),
        graph.output[0]
            .tensor_shape()
            .map(|s| s.1)
            .unwrap_or_default(),
    );
    if let Some(dir) = e.test_data {
        report.push_str(&format!(
            "\nwrote {}: {} test cases (test_data_set_K/input_0.pb, output_0.pb: phantom \
             slices, seed {}, and core f32's logits)",
            dir.display(),
            cases.len(),
            e.seed
        ));
    }
    if matches!(e.params, ParamSource::RandomInit { .. }) {
        report.push_str("\n(development aid: seed-initialised weights, not a trained model)");
    }
    Ok(report)
}

/// Writes the test cases into a temporary directory beside `dir` (renamed into place once
/// the model is written, so a failure leaves neither half-written).
fn stage_test_data(
    dir: &Path,
    cases: &[(TensorProto, TensorProto)],
) -> Result<tempfile::TempDir, String> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let err = |e: std::io::Error| format!("{}: {e}", dir.display());
    let tmp = tempfile::Builder::new()
        .prefix(".hepaseg-test-data")
        .tempdir_in(parent)
        .map_err(err)?;
    for (k, (input, output)) in cases.iter().enumerate() {
        let case = tmp.path().join(format!("test_data_set_{k}"));
        std::fs::create_dir(&case).map_err(err)?;
        std::fs::write(case.join("input_0.pb"), input.encode_to_vec()).map_err(err)?;
        std::fs::write(case.join("output_0.pb"), output.encode_to_vec()).map_err(err)?;
    }
    Ok(tmp)
}

/// The `(input, core f32 logits)` tensors of the [`TEST_CASES`] test cases.
fn test_cases(
    model: Model,
    preset: &str,
    values: &[Vec<f32>],
    seed: u64,
) -> Result<Vec<(TensorProto, TensorProto)>, String> {
    crate::registry::with_network!(model, preset, cases_of, values, seed)
        .unwrap_or_else(|| Err(crate::registry::unknown_preset(model, preset)))
}

fn cases_of<N: hepaseg_core::nets::Network>(
    values: &[Vec<f32>],
    seed: u64,
) -> Result<Vec<(TensorProto, TensorProto)>, String> {
    let [c, h, w] = N::INPUT;
    let tensors: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
    let params = hepaseg_core::params::SliceParams { tensors: &tensors };
    let mut arena = crate::quant::report::AlignedBytes::zeroed(N::ARENA_BYTES);
    (0..TEST_CASES)
        .map(|k| {
            let s = if k == 0 {
                seed
            } else {
                seed.wrapping_add(1000 + k as u64 - 1)
            };
            let input = crate::bench::bench_input(h, c, s)?;
            let out = N::forward_flat(&params, &input, arena.bytes_mut())
                .map_err(|e| format!("core f32 forward pass failed: {e:?}"))?;
            Ok((
                TensorProto::f32(INPUT, &[1, c, h, w], &input),
                TensorProto::f32(OUTPUT, &[1, N::OUTPUT[0], h, w], out),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
