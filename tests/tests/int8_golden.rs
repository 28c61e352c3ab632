//! Golden vectors of core's int8 engines, core alone: the int8 blobs of the seed-11 tiny
//! networks (quantized by the host exporter; `host/tests/cli_quant_engine.rs` and
//! `cli_quant_cafct.rs` check that it still writes exactly these bytes) and their input are
//! checked in under `tests/data/golden/`, and the FNV-1a 64 hash of the int8 logits (with
//! their zero point and scale bits) must be the same checked-in value in every profile, and
//! on every thread of a concurrent run. CI runs this test in the test profile and again in
//! release.
//!
//! The `edge` networks take code paths the tiny ones never reach (CAFCT-Net's head four
//! hidden channels per call, full 16-key attention blocks, the widest conv tiles), so their
//! int8 blobs (seed 11, `hepaseg export --random-init --seed 11 --preset edge --quantize int8
//! --calib-slices 4` on `hepaseg synth --size 256 --volumes 2 --slices 4 --seed 5`) are
//! checked in too, with a generated 256² input.

use hepaseg_core::blob::{Blob, SignaturePolicy};
use hepaseg_core::nets::agcaf::{AgcafEdge, AgcafTiny};
use hepaseg_core::nets::cafct::{CafctEdge, CafctTiny};
use hepaseg_core::nets::Int8Network;

/// Same value as `GOLDEN_TINY_INT8_LOGITS` in host/tests/cli_quant_engine.rs.
const AGCAF_TINY: u64 = 0x92a3_ab2f_967c_808c;
/// Same value as `GOLDEN_CAFCT_TINY_INT8_LOGITS` in host/tests/cli_quant_cafct.rs.
const CAFCT_TINY: u64 = 0x94e6_01cb_d804_2080;

/// The `edge` int8 logits' hashes (the checked-in edge blobs, [`edge_input`]); the same in the
/// portable build of ca1045d, before the CAFCT-Net int8 attention/head/linear changes.
const AGCAF_EDGE: u64 = 0x2ff1_7e9d_0e98_5df8;
const CAFCT_EDGE: u64 = 0xfeb4_c473_cf75_0165;

const AGCAF_BLOB: &[u8] = include_bytes!("../data/golden/agcaf-tiny-int8.hseg");
const AGCAF_EDGE_BLOB: &[u8] = include_bytes!("../data/golden/agcaf-edge-int8.hseg");
const CAFCT_EDGE_BLOB: &[u8] = include_bytes!("../data/golden/cafct-edge-int8.hseg");
const CAFCT_BLOB: &[u8] = include_bytes!("../data/golden/cafct-tiny-int8.hseg");
const INPUT: &[u8] = include_bytes!("../data/golden/input.f32");

/// `bytes` at an 8-byte aligned address.
fn aligned(bytes: &[u8]) -> Vec<u64> {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
    words
}

fn hash<N: Int8Network>(blob: &[u8]) -> u64 {
    hash_of_input::<N>(blob, &input())
}

fn hash_of_input<N: Int8Network>(blob: &[u8], input: &[f32]) -> u64 {
    let words = aligned(blob);
    let bytes = &bytemuck::cast_slice::<u64, u8>(&words)[..blob.len()];
    let b = Blob::for_network::<N>(bytes, SignaturePolicy::Optional).unwrap();
    hash_forward_of::<N>(&b, input)
}

/// A 256² slice in [0, 1]: a bright ellipse ("liver") with a darker disc ("lesion") on a
/// dim background, plus a deterministic ripple so no region is flat.
fn edge_input() -> Vec<f32> {
    (0..256 * 256)
        .map(|i| {
            let (y, x) = ((i / 256) as f32, (i % 256) as f32);
            let liver = ((x - 150.0) / 70.0).powi(2) + ((y - 120.0) / 50.0).powi(2) < 1.0;
            let lesion = (x - 165.0).powi(2) + (y - 115.0).powi(2) < 14.0 * 14.0;
            let base = match (liver, lesion) {
                (_, true) => 0.45,
                (true, false) => 0.7,
                _ => 0.15,
            };
            base + 0.05 * ((x * 0.37).sin() * (y * 0.23).cos())
        })
        .collect()
}

/// The golden input slice.
fn input() -> Vec<f32> {
    INPUT
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// One int8 forward of the golden input on a fresh arena of this thread; the hash of its
/// logits, zero point and scale.
fn hash_forward<N: Int8Network>(b: &Blob<'_>) -> u64 {
    hash_forward_of::<N>(b, &input())
}

fn hash_forward_of<N: Int8Network>(b: &Blob<'_>, input: &[f32]) -> u64 {
    let mut arena = vec![0u64; N::ARENA_BYTES_INT8.div_ceil(8)];
    let arena = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut arena)[..N::ARENA_BYTES_INT8];
    let (q, quant) = N::forward_int8_flat(b, input, arena).unwrap();
    q.iter()
        .map(|&v| v as u8)
        .chain([quant.zero_point as u8])
        .chain(quant.scale.to_bits().to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

#[test]
fn edge_int8_logits_hashes() {
    let input = edge_input();
    let a = hash_of_input::<AgcafEdge>(AGCAF_EDGE_BLOB, &input);
    let c = hash_of_input::<CafctEdge>(CAFCT_EDGE_BLOB, &input);
    assert_eq!(
        (a, c),
        (AGCAF_EDGE, CAFCT_EDGE),
        "edge int8 logits changed: AGCAF-Net {a:#018x}, CAFCT-Net {c:#018x}"
    );
}

#[test]
fn agcaf_tiny_int8_logits_hash() {
    let h = hash::<AgcafTiny>(AGCAF_BLOB);
    assert_eq!(h, AGCAF_TINY, "0x{h:016x}");
}

#[test]
fn cafct_tiny_int8_logits_hash() {
    let h = hash::<CafctTiny>(CAFCT_BLOB);
    assert_eq!(h, CAFCT_TINY, "0x{h:016x}");
}

/// Determinism under load: both networks' int8 forwards run at the same time on 8 threads
/// (separate arenas, one shared blob each, three forwards per thread) and every one of them
/// gives the golden bits — no shared mutable state, no scheduling-dependent arithmetic.
#[test]
fn golden_logits_under_concurrent_forwards() {
    let (a, c) = (aligned(AGCAF_BLOB), aligned(CAFCT_BLOB));
    let a = &bytemuck::cast_slice::<u64, u8>(&a)[..AGCAF_BLOB.len()];
    let c = &bytemuck::cast_slice::<u64, u8>(&c)[..CAFCT_BLOB.len()];
    let agcaf = Blob::for_network::<AgcafTiny>(a, SignaturePolicy::Optional).unwrap();
    let cafct = Blob::for_network::<CafctTiny>(c, SignaturePolicy::Optional).unwrap();
    const THREADS: usize = 8;
    const RUNS: usize = 3;
    let hashes: Vec<(usize, Vec<u64>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (agcaf, cafct) = (&agcaf, &cafct);
                s.spawn(move || {
                    let runs = (0..RUNS)
                        .map(|_| {
                            if t % 2 == 0 {
                                hash_forward::<AgcafTiny>(agcaf)
                            } else {
                                hash_forward::<CafctTiny>(cafct)
                            }
                        })
                        .collect();
                    (t, runs)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for (t, runs) in hashes {
        let golden = if t % 2 == 0 { AGCAF_TINY } else { CAFCT_TINY };
        for (r, h) in runs.iter().enumerate() {
            assert_eq!(*h, golden, "thread {t}, run {r}: 0x{h:016x}");
        }
    }
}
