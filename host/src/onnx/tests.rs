//! Structure of the exported graphs, for every network × preset: what a runtime needs to load
//! them (opset, typed input/output, every node input defined before use, unique outputs) and
//! the weights (initializers = the parameter table, byte for byte). Numeric agreement with
//! core needs ONNX Runtime: `benches/peers/run.py` checks it.

use super::proto::{attribute_type, FLOAT};
use super::*;
use crate::registry::presets;
use std::collections::HashSet;

/// Every value a node reads is a graph input, an initializer or an earlier node's output;
/// every output is produced once; the graph output is produced.
fn assert_topological(m: &ModelProto) {
    let g = m.graph.as_ref().expect("graph");
    let mut defined: HashSet<&str> = g.input.iter().map(|v| v.name.as_str()).collect();
    defined.extend(g.initializer.iter().map(|t| t.name.as_str()));
    for n in &g.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            assert!(
                defined.contains(i.as_str()),
                "{} reads undefined `{i}`",
                n.name
            );
        }
        for o in &n.output {
            assert!(defined.insert(o), "`{o}` produced twice");
        }
    }
    assert!(defined.contains(OUTPUT), "nothing produces the output");
}

fn check(model: Model, preset: &str) {
    let net = crate::blob::network(model, preset).expect("network");
    let values = crate::blob::seeded_params(net.params, 3);
    let m = build(model, preset, &values).expect("build");
    // Through the bytes, as a runtime sees it.
    let m = decode(&m.encode_to_vec()).expect("decode");
    assert_eq!(m.ir_version, IR_VERSION);
    assert_eq!(m.opset_import.len(), 1);
    assert_eq!(
        (m.opset_import[0].domain.as_str(), m.opset_import[0].version),
        ("", 17)
    );
    let g = m.graph.as_ref().expect("graph");
    let s = crate::registry::summary(model, preset).expect("summary");
    let side = s.input[1] as i64;
    assert_eq!(g.input.len(), 1);
    assert_eq!(g.input[0].name, INPUT);
    assert_eq!(
        g.input[0].tensor_shape(),
        Some((FLOAT, vec![1, s.input[0] as i64, side, side]))
    );
    assert_eq!(g.output.len(), 1);
    assert_eq!(
        g.output[0].tensor_shape(),
        Some((FLOAT, vec![1, 1, side, side]))
    );
    // Initializers: the table, in order, with its values.
    assert_eq!(g.initializer.len(), net.params.len());
    let mut total = 0;
    for ((t, p), v) in g.initializer.iter().zip(net.params).zip(&values) {
        assert_eq!(t.name, p.name.as_str());
        let dims: Vec<i64> = p.shape().iter().map(|&d| d as i64).collect();
        assert_eq!(t.dims, dims, "{}", t.name);
        assert_eq!(t.f32_values().as_ref(), Some(v), "{}", t.name);
        total += v.len();
    }
    assert_eq!(
        total,
        hepaseg_core::params::count_elements(net.params, false)
    );
    assert_topological(&m);
    // Only standard operators, each with its attributes typed.
    let known = [
        "Conv",
        "BatchNormalization",
        "Relu",
        "Sigmoid",
        "Add",
        "Mul",
        "Erf",
        "Gemm",
        "LayerNormalization",
        "Reshape",
        "Transpose",
        "Concat",
        "Slice",
        "MatMul",
        "Softmax",
        "GlobalAveragePool",
        "MaxPool",
        "ReduceMax",
        "Resize",
        "Expand",
        "Constant",
    ];
    for n in &g.node {
        assert!(known.contains(&n.op_type.as_str()), "{}", n.op_type);
        for a in &n.attribute {
            assert_ne!(a.r#type, 0, "{}: untyped attribute {}", n.op_type, a.name);
            if n.op_type == "Resize" && a.name == "coordinate_transformation_mode" {
                let want: &[u8] = if model == Model::AgcafNet {
                    b"align_corners"
                } else {
                    b"pytorch_half_pixel"
                };
                assert_eq!(a.s, want);
            }
            if a.r#type == attribute_type::TENSOR {
                assert!(a.t.is_some());
            }
        }
    }
}

#[test]
fn every_tiny_preset_exports_a_well_formed_graph() {
    for model in [Model::AgcafNet, Model::CafctNet] {
        for &preset in presets(model).iter().filter(|p| p.starts_with("tiny")) {
            check(model, preset);
        }
    }
}

#[test]
fn edge_presets_export_a_well_formed_graph() {
    check(Model::AgcafNet, "edge");
    check(Model::CafctNet, "edge");
}

#[test]
fn wrong_values_are_refused() {
    let net = crate::blob::network(Model::AgcafNet, "tiny").expect("network");
    let mut values = crate::blob::seeded_params(net.params, 1);
    values[0].pop();
    let e = build(Model::AgcafNet, "tiny", &values).unwrap_err();
    assert!(e.contains(net.params[0].name.as_str()), "{e}");
    let mut values = crate::blob::seeded_params(net.params, 1);
    values[2][1] = f32::NAN;
    let e = build(Model::AgcafNet, "tiny", &values).unwrap_err();
    assert!(e.contains("NaN"), "{e}");
    let e = build(Model::Unet, "tiny", &values).unwrap_err();
    assert!(e.contains("host-only"), "{e}");
}

#[test]
fn test_cases_hold_core_logits_of_bench_slices() {
    let net = crate::blob::network(Model::AgcafNet, "tiny").expect("network");
    let values = crate::blob::seeded_params(net.params, 0);
    let cases = test_cases(Model::AgcafNet, "tiny", &values, 7).expect("cases");
    assert_eq!(cases.len(), TEST_CASES);
    let first = cases[0].0.f32_values().expect("f32");
    assert_eq!(first, crate::bench::bench_slice(64, 7).expect("slice"));
    for (input, output) in &cases {
        assert_eq!(input.dims, vec![1, 1, 64, 64]);
        assert_eq!(output.dims, vec![1, 1, 64, 64]);
        assert!(output
            .f32_values()
            .expect("f32")
            .iter()
            .all(|v| v.is_finite()));
    }
    // Distinct slices give distinct logits.
    assert_ne!(cases[1].1, cases[2].1);
    // A 2.5D preset's cases are bench's k-slice inputs.
    let net = crate::blob::network(Model::CafctNet, "tiny-2.5d").expect("network");
    let values = crate::blob::seeded_params(net.params, 0);
    let cases = test_cases(Model::CafctNet, "tiny-2.5d", &values, 7).expect("cases");
    assert_eq!(cases[0].0.dims, vec![1, 3, 64, 64]);
    let first = cases[0].0.f32_values().expect("f32");
    assert_eq!(first, crate::bench::bench_input(64, 3, 7).expect("input"));
}
