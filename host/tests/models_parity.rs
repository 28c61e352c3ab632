//! Host model ↔ core f32 network parity (SPEC §3 f32 path): build the host model, export its
//! parameters in core's table order, run core's `forward_flat` on each sample and compare with
//! the host's eval-mode forward on a batch of two. Tolerance: `max |host − core| / max(1,
//! max |core|) ≤ 1e-4` on the logits.
//!
//! 2.5D presets (k input channels) get k different planes per sample.
//!
//! Each network is checked twice: with the host's own seeded initialisation (gates γ = 0, BN
//! statistics 0/1: the attention paths are the identity) and with `seeded_params` imported
//! (gates 0.5, non-trivial BN statistics) so every attention and gate path contributes.

use dfdx::prelude::*;
use hepaseg::models::HostNetwork;
use hepaseg::nn::{Mode, ParamStore};
use hepaseg_core::nets::{agcaf, cafct, Network};
use hepaseg_core::params::SliceParams;
use std::time::Instant;

const TOL: f64 = 1e-4;

/// A deterministic CT-like input in [0, 1] (smooth blobs plus a ramp).
fn input(side: usize, sample: usize) -> Vec<f32> {
    (0..side * side)
        .map(|i| {
            let (y, x) = (
                (i / side) as f32 / side as f32,
                (i % side) as f32 / side as f32,
            );
            let k = sample as f32 + 1.0;
            0.5 + 0.3 * (6.0 * k * x).sin() * (4.0 * y + k).cos() + 0.2 * (x - y)
        })
        .collect()
}

fn core_logits<N: Network>(params: &[Vec<f32>], x: &[f32]) -> Vec<f32> {
    let slices: Vec<&[f32]> = params.iter().map(Vec::as_slice).collect();
    let mut arena = vec![0u32; N::ARENA_BYTES.div_ceil(4)];
    N::forward_flat(
        &SliceParams { tensors: &slices },
        x,
        bytemuck::cast_slice_mut(&mut arena),
    )
    .expect("core forward")
    .to_vec()
}

fn rel_err(host: &[f32], core: &[f32]) -> f64 {
    assert_eq!(host.len(), core.len());
    let scale = core.iter().fold(1.0f64, |m, v| m.max(f64::from(v.abs())));
    let d = host
        .iter()
        .zip(core)
        .fold(0.0f64, |m, (a, b)| m.max(f64::from((a - b).abs())));
    d / scale
}

/// Max relative error over both samples and both parameter sets.
fn parity<N: HostNetwork>() -> f64 {
    let start = Instant::now();
    let [k, side, _] = N::INPUT;
    // sample s: k planes, each a different pattern
    let sample = |s: usize| -> Vec<f32> { (0..k).flat_map(|j| input(side, s * k + j)).collect() };
    let mut worst = 0.0f64;
    for imported in [false, true] {
        let mut store = ParamStore::<f32, Cpu>::new(Cpu::seed_from_u64(0), 7);
        let net = N::build(&mut store).expect("build");
        if imported {
            let p = hepaseg::blob::seeded_params(N::PARAMS, 3);
            store.import_f32(N::PARAMS, &p).expect("import");
        }
        store.set_mode(Mode::Eval);
        let params = store.export_f32(N::PARAMS).expect("export");
        let (a, b) = (sample(0), sample(1));
        let batch: Vec<f32> = a.iter().chain(&b).copied().collect();
        let x = store
            .device()
            .tensor_from_vec(batch, (2usize, k, side, side));
        let y = net.forward(&mut store, x).expect("host forward").as_vec();
        let n = side * side;
        for (k, xin) in [a, b].iter().enumerate() {
            let c = core_logits::<N>(&params, xin);
            assert!(c.iter().all(|v| v.is_finite()));
            worst = worst.max(rel_err(&y[k * n..(k + 1) * n], &c));
        }
    }
    println!(
        "parity {}/{}: max rel err {worst:.2e} ({:.1} s)",
        N::ARCHITECTURE.name(),
        N::PRESET,
        start.elapsed().as_secs_f64()
    );
    assert!(worst <= TOL, "{}: {worst:e}", N::PRESET);
    worst
}

#[test]
fn agcaf_tiny_matches_core() {
    parity::<agcaf::tiny::Net>();
}

#[test]
fn agcaf_tiny_ablations_match_core() {
    parity::<agcaf::tiny_backbone::Net>();
    parity::<agcaf::tiny_cpm::Net>();
    parity::<agcaf::tiny_afm::Net>();
}

#[test]
#[ignore = "edge preset: slower (run with --release -- --ignored)"]
fn agcaf_edge_matches_core() {
    parity::<agcaf::edge::Net>();
}

#[test]
fn cafct_tiny_matches_core() {
    parity::<cafct::tiny::Net>();
}

#[test]
fn cafct_tiny_ablations_match_core() {
    parity::<cafct::tiny_no_transformer::Net>();
    parity::<cafct::tiny_no_aff::Net>();
    parity::<cafct::tiny_no_aspp::Net>();
    parity::<cafct::tiny_no_ag::Net>();
}

/// 2.5D (issue 9): the 3-slice presets of both networks.
#[test]
fn tiny_2_5d_matches_core() {
    assert_eq!(agcaf::tiny_2_5d::Net::INPUT, [3, 64, 64]);
    assert_eq!(cafct::tiny_2_5d::Net::INPUT, [3, 64, 64]);
    parity::<agcaf::tiny_2_5d::Net>();
    parity::<cafct::tiny_2_5d::Net>();
}

#[test]
#[ignore = "edge preset: slower (run with --release -- --ignored)"]
fn cafct_edge_matches_core() {
    parity::<cafct::edge::Net>();
}
