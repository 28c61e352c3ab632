//! The int8 AGCAF-Net engine on its own (core only): its compile-time memory plan against the
//! f32 one for every preset, and the blob checks that come before any work. (Quantized blobs
//! need the host's quantizer: agreement with f32, determinism, the golden hash and every
//! tensor-level error are in `host/tests/cli_quant_engine.rs`.)

#[path = "blob_support/mod.rs"]
mod blob_support;

use hepaseg_core::blob::{Blob, BlobError, SignaturePolicy};
use hepaseg_core::int8::graph::{Int8Error, QName};
use hepaseg_core::nets::agcaf::{self, AgcafEdge, AgcafPaper, AgcafTiny};
use hepaseg_core::nets::{Int8Network, Network};

fn ratio<N: Int8Network>() -> f64 {
    N::ARENA_BYTES_INT8 as f64 / N::ARENA_BYTES as f64
}

#[test]
fn int8_arena_is_about_a_quarter_of_the_f32_arena() {
    let rows = [
        (
            "paper",
            AgcafPaper::ARENA_BYTES_INT8,
            AgcafPaper::ARENA_BYTES,
            ratio::<AgcafPaper>(),
        ),
        (
            "edge",
            AgcafEdge::ARENA_BYTES_INT8,
            AgcafEdge::ARENA_BYTES,
            ratio::<AgcafEdge>(),
        ),
        (
            "tiny",
            AgcafTiny::ARENA_BYTES_INT8,
            AgcafTiny::ARENA_BYTES,
            ratio::<AgcafTiny>(),
        ),
        (
            "tiny-backbone",
            agcaf::tiny_backbone::int8::ARENA_BYTES_INT8,
            agcaf::tiny_backbone::Net::ARENA_BYTES,
            ratio::<agcaf::tiny_backbone::Net>(),
        ),
        (
            "tiny-cpm",
            agcaf::tiny_cpm::int8::ARENA_BYTES_INT8,
            agcaf::tiny_cpm::Net::ARENA_BYTES,
            ratio::<agcaf::tiny_cpm::Net>(),
        ),
        (
            "tiny-afm",
            agcaf::tiny_afm::int8::ARENA_BYTES_INT8,
            agcaf::tiny_afm::Net::ARENA_BYTES,
            ratio::<agcaf::tiny_afm::Net>(),
        ),
    ];
    for (preset, int8, f32, r) in rows {
        eprintln!("agcaf-net {preset:14} int8 arena {int8:>11} B, f32 {f32:>11} B, ratio {r:.4}");
        assert!(r <= 0.30, "{preset}: int8 arena is {r:.3} of the f32 arena");
        assert!(
            r >= 0.24,
            "{preset}: int8 arena {r:.3} of f32 — below a quarter?"
        );
    }
    // The budget for the deployable preset at 256 × 256.
    const { assert!(AgcafEdge::ARENA_BYTES_INT8 <= 4 << 20) };
}

#[test]
fn cafct_int8_arena_is_about_a_quarter_of_the_f32_arena() {
    use hepaseg_core::nets::cafct::{self, CafctEdge, CafctPaper, CafctTiny};
    let rows = [
        (
            "paper",
            CafctPaper::ARENA_BYTES_INT8,
            CafctPaper::ARENA_BYTES,
            ratio::<CafctPaper>(),
        ),
        (
            "edge",
            CafctEdge::ARENA_BYTES_INT8,
            CafctEdge::ARENA_BYTES,
            ratio::<CafctEdge>(),
        ),
        (
            "tiny",
            CafctTiny::ARENA_BYTES_INT8,
            CafctTiny::ARENA_BYTES,
            ratio::<CafctTiny>(),
        ),
        (
            "tiny-no-transformer",
            cafct::tiny_no_transformer::int8::ARENA_BYTES_INT8,
            cafct::tiny_no_transformer::Net::ARENA_BYTES,
            ratio::<cafct::tiny_no_transformer::Net>(),
        ),
        (
            "tiny-no-aff",
            cafct::tiny_no_aff::int8::ARENA_BYTES_INT8,
            cafct::tiny_no_aff::Net::ARENA_BYTES,
            ratio::<cafct::tiny_no_aff::Net>(),
        ),
        (
            "tiny-no-aspp",
            cafct::tiny_no_aspp::int8::ARENA_BYTES_INT8,
            cafct::tiny_no_aspp::Net::ARENA_BYTES,
            ratio::<cafct::tiny_no_aspp::Net>(),
        ),
        (
            "tiny-no-ag",
            cafct::tiny_no_ag::int8::ARENA_BYTES_INT8,
            cafct::tiny_no_ag::Net::ARENA_BYTES,
            ratio::<cafct::tiny_no_ag::Net>(),
        ),
    ];
    for (preset, int8, f32, r) in rows {
        eprintln!("cafct-net {preset:20} int8 arena {int8:>10} B, f32 {f32:>10} B, ratio {r:.4}");
        assert!(r <= 0.32, "{preset}: int8 arena is {r:.3} of the f32 arena");
    }
    // The budget for the deployable preset at 256 × 256.
    const { assert!(CafctEdge::ARENA_BYTES_INT8 <= 5 << 19) };
}

#[test]
fn int8_plans_are_sound_and_reuse_memory() {
    assert!(agcaf::tiny::int8::PLAN_INT8.is_sound());
    assert!(agcaf::edge::int8::PLAN_INT8.is_sound());
    assert!(agcaf::paper::int8::PLAN_INT8.is_sound());
    let p = &agcaf::edge::int8::PLAN_INT8;
    assert!(
        p.total * 2 < p.unplanned_total(),
        "{} vs {}",
        p.total,
        p.unplanned_total()
    );
}

#[test]
fn an_f32_blob_is_refused_by_the_int8_engine() {
    let blob = blob_support::f32_blob::<AgcafTiny>(11);
    let b = Blob::parse(blob.bytes(), SignaturePolicy::Optional).unwrap();
    let input = vec![0.5f32; 64 * 64];
    let mut arena = vec![0u32; AgcafTiny::ARENA_BYTES_INT8.div_ceil(4)];
    let err =
        AgcafTiny::forward_int8_flat(&b, &input, bytemuck::cast_slice_mut(&mut arena)).unwrap_err();
    assert_eq!(
        err,
        Int8Error::Blob(BlobError::WrongScheme {
            expected: 1,
            found: 0
        })
    );
    // The f32 blob of another preset is refused for its identity first.
    let blob = blob_support::f32_blob::<agcaf::tiny_cpm::Net>(11);
    let b = Blob::parse(blob.bytes(), SignaturePolicy::Optional).unwrap();
    let err =
        AgcafTiny::forward_int8_flat(&b, &input, bytemuck::cast_slice_mut(&mut arena)).unwrap_err();
    assert!(
        matches!(err, Int8Error::Blob(BlobError::WrongScheme { .. })),
        "{err:?}"
    );
}

#[test]
fn an_int8_blob_without_the_networks_tensors_names_the_first_one_missing() {
    let blob = blob_support::int8_blob(false);
    let b = Blob::parse(blob.bytes(), SignaturePolicy::Optional).unwrap();
    let input = vec![0.5f32; 64 * 64];
    let mut arena = vec![0u32; AgcafTiny::ARENA_BYTES_INT8.div_ceil(4)];
    let err =
        AgcafTiny::forward_int8_flat(&b, &input, bytemuck::cast_slice_mut(&mut arena)).unwrap_err();
    match err {
        Int8Error::Tensor { name, error } => {
            assert_eq!(name.as_str(), "act.input");
            assert!(
                matches!(error, BlobError::UnknownTensor { .. }),
                "{error:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("act.input"), "{err}");
}

#[test]
fn names_are_built_without_allocation_and_overflow_is_reported() {
    let n = QName::new("cpm").join("agcb").index(3).join("nonlocal.q");
    assert_eq!(n.as_str(), "cpm.agcb.3.nonlocal.q");
    assert_eq!(QName::EMPTY.index(12).as_str(), "12");
    let mut long = QName::new("x");
    for _ in 0..100 {
        long = long.join("segment");
    }
    assert!(long.overflowed());
    assert_eq!(long.as_str().len(), hepaseg_core::int8::graph::QNAME_CAP);
}
