//! The int8 AGCAF-Net end to end on the library level: a seeded network calibrated on CT
//! phantoms, quantized by the host, run by core's integer-only engine and compared with core's
//! f32 engine; determinism and a golden hash of the int8 logits; every way an int8 blob can be
//! refused.

mod cli_quant_support;

use cli_quant_support::{check_golden_fixture, fnv, phantom_slices, synthetic_ct, Editable, Q};
use hepaseg::quant::graph::{Ctx, Ignore, NamedParams, Trace};
use hepaseg::quant::report::{point_errors, AlignedBytes, Recorder};
use hepaseg::quant::{
    agcaf, agcaf_config, compare, quantize_agcaf, quantize_network_on, Calib, EvalSlice, RangeMode,
};
use hepaseg_core::blob::SignaturePolicy;
use hepaseg_core::blob::{Blob, BlobError, Dtype};
use hepaseg_core::int8::graph::Int8Error;
use hepaseg_core::nets::agcaf::{self as nets_agcaf, AgcafTiny};
use hepaseg_core::nets::{Architecture, Int8Network, Network};
use hepaseg_core::params::SliceParams;
use hepaseg_core::Error;

/// Seed of the network every test here quantizes.
const NET_SEED: u64 = 11;

fn seeded() -> Vec<Vec<f32>> {
    hepaseg::blob::seeded_params(AgcafTiny::PARAMS, NET_SEED)
}

/// The seeded network with its output bias moved so that the median logit on `slices` is 0:
/// masks are then about half foreground, the hardest case for mask agreement (an untrained
/// network's logits otherwise sit on one side of 0 and every mask is trivially empty).
fn centred(slices: &[EvalSlice]) -> Vec<Vec<f32>> {
    let mut values = seeded();
    let tensors: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
    let mut arena = AlignedBytes::zeroed(AgcafTiny::ARENA_BYTES);
    let mut logits = Vec::new();
    for s in slices {
        let out = AgcafTiny::forward_flat(
            &SliceParams { tensors: &tensors },
            &s.image,
            arena.bytes_mut(),
        )
        .unwrap();
        logits.extend_from_slice(out);
    }
    logits.sort_by(f32::total_cmp);
    let median = logits[logits.len() / 2];
    let i = AgcafTiny::PARAMS
        .iter()
        .position(|p| p.name.as_str() == "head.out.bias")
        .unwrap();
    values[i][0] -= median;
    values
}

fn quantize(values: &[Vec<f32>], calib: &[EvalSlice], mode: RangeMode) -> Vec<u8> {
    let cfg = agcaf_config("tiny").unwrap();
    let images: Vec<Vec<f32>> = calib.iter().map(|s| s.image.clone()).collect();
    quantize_agcaf::<AgcafTiny>(&cfg, values, &images, mode)
        .expect("quantize")
        .to_bytes()
        .expect("encode")
}

/// Runs the int8 tiny network; returns its logits and their quantization.
fn run_int8(blob: &[u8], input: &[f32]) -> (Vec<i8>, f32, i8) {
    let aligned = AlignedBytes::new(blob);
    let b = Blob::parse(aligned.bytes(), SignaturePolicy::Optional).unwrap();
    let mut arena = AlignedBytes::zeroed(AgcafTiny::ARENA_BYTES_INT8);
    let (q, oq) = AgcafTiny::forward_int8_flat(&b, input, arena.bytes_mut()).unwrap();
    (q.to_vec(), oq.scale, oq.zero_point)
}

#[test]
fn calibration_forward_matches_core_f32() {
    let values = seeded();
    let params = NamedParams::new(AgcafTiny::PARAMS, &values).unwrap();
    let cfg = agcaf_config("tiny").unwrap();
    let slice = &phantom_slices(7..8, 1)[0].image;
    let mut ignore = Ignore;
    let mut ctx = Ctx::new(&params, &mut ignore, None);
    let mirror = agcaf::forward(&mut ctx, &cfg, slice).unwrap();
    let tensors: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
    let mut arena = AlignedBytes::zeroed(AgcafTiny::ARENA_BYTES);
    let reference =
        AgcafTiny::forward_flat(&SliceParams { tensors: &tensors }, slice, arena.bytes_mut())
            .unwrap();
    let worst = mirror
        .d
        .iter()
        .zip(reference)
        .map(|(a, b)| f64::from((a - b).abs()) / f64::from(b.abs()).max(1.0))
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-5,
        "calibration forward differs from core f32 by {worst}"
    );
}

/// Tiny, seed 11, output bias centred (about half of every mask is foreground, so many pixels
/// sit right at the decision boundary), calibrated on 16 liver slices of 4 phantom patients,
/// compared on 16 liver slices of 4 other patients (65,536 pixels). Measured:
///
/// | ranges | pixel agreement | Dice int8 vs f32 | max logit error | f32 logit range |
/// |---|---|---|---|---|
/// | min/max | 96.01 % | 0.961 | 0.0018 | 0.050 |
/// | 99.99 % percentile | 93.34 % | 0.938 | 0.0028 | 0.050 |
///
/// An untrained network's logits are small and noise-like, the hardest case for agreement;
/// the thresholds leave a small margin under these deterministic figures.
#[test]
fn int8_tiny_agrees_with_f32_on_phantoms() {
    let calib = phantom_slices(100..104, 4);
    let val = phantom_slices(200..204, 4);
    let values = centred(&calib);
    for (mode, agreement) in [
        (RangeMode::MinMax, 0.95),
        (RangeMode::Percentile(99.99), 0.92),
    ] {
        let blob = quantize(&values, &calib, mode);
        let cmp = compare::<AgcafTiny>(&blob, &values, &val).unwrap();
        eprintln!("[{mode}] {cmp}");
        assert!(cmp.pixel_agreement >= agreement, "{mode}: {cmp}");
        assert!(cmp.dice_int8_vs_f32 >= agreement, "{mode}: {cmp}");
        assert!(
            cmp.max_logit_error <= 0.1 * cmp.logit_range,
            "{mode}: {cmp}"
        );
        assert!(
            cmp.mean_logit_error <= 0.02 * cmp.logit_range,
            "{mode}: {cmp}"
        );
    }
}

/// Per-point error of the int8 engine against the calibration forward, on one slice: every
/// point the probe sees is within a few LSB (errors grow with depth in an untrained network).
#[test]
fn every_activation_point_tracks_f32() {
    let calib = phantom_slices(100..104, 4);
    let values = centred(&calib);
    let blob = quantize(&values, &calib, RangeMode::MinMax);
    let input = &phantom_slices(300..301, 1)[0].image;
    let aligned = AlignedBytes::new(&blob);
    let b = Blob::parse(aligned.bytes(), SignaturePolicy::Optional).unwrap();
    let mut arena = AlignedBytes::zeroed(AgcafTiny::ARENA_BYTES_INT8);
    let mut probe = Recorder::<i8>::default();
    AgcafTiny::forward_int8_probe(&b, input, arena.bytes_mut(), &mut probe).unwrap();
    let params = NamedParams::new(AgcafTiny::PARAMS, &values).unwrap();
    let mut seen = Recorder::<f32>::default();
    let mut trace = Trace::default();
    let mut ctx = Ctx::new(&params, &mut seen, Some(&mut trace));
    agcaf::forward(&mut ctx, &agcaf_config("tiny").unwrap(), input).unwrap();
    let order: Vec<String> = trace.ops.iter().map(|o| o.output().to_owned()).collect();
    let errors = point_errors(&order, &probe, &seen);
    // Every probed point but the scores (reported per row) is compared.
    assert!(errors.len() >= 100, "{} points compared", errors.len());
    let mut worst = 0f64;
    for e in &errors {
        eprintln!(
            "{:40} scale {:.5} max {:.5} ({:.1} LSB) mean {:.5}",
            e.point, e.scale, e.max_abs, e.max_lsb, e.mean_abs
        );
        worst = worst.max(e.mean_abs / f64::from(e.scale));
    }
    assert!(worst < 3.0, "mean error of some point is {worst} LSB");
    assert_eq!(errors[0].point, "input");
    assert!(
        errors[0].max_lsb <= 0.501,
        "input quantization: {:?}",
        errors[0]
    );
}

#[test]
fn int8_inference_and_export_are_deterministic() {
    let calib: Vec<EvalSlice> = (1..5)
        .map(|s| EvalSlice {
            image: synthetic_ct(s),
            mask: None,
        })
        .collect();
    let a = quantize(&seeded(), &calib, RangeMode::MinMax);
    let b = quantize(&seeded(), &calib, RangeMode::MinMax);
    assert_eq!(
        a, b,
        "the exporter wrote different bytes for the same inputs"
    );
    let input = synthetic_ct(99);
    let first = run_int8(&a, &input);
    let second = run_int8(&a, &input);
    assert_eq!(first, second);
    // On a thread with a small, stated stack: the int8 forward keeps activations in the arena.
    let third = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || run_int8(&a, &input))
        .unwrap()
        .join()
        .expect("int8 forward overflowed a 64 KiB stack");
    assert_eq!(first, third);
}

/// Calibration runs on several threads (`quantize_network_on`): every thread count gives the
/// same blob, for min/max and percentile ranges, including more threads than slices.
#[test]
fn calibration_threads_do_not_change_the_blob() {
    let cfg = Calib::Agcaf(agcaf_config("tiny").unwrap());
    let values = seeded();
    let images: Vec<Vec<f32>> = (1..6).map(synthetic_ct).collect();
    for mode in [RangeMode::MinMax, RangeMode::Percentile(99.9)] {
        let blob = |threads| {
            quantize_network_on::<AgcafTiny>(&cfg, &values, &images, mode, threads)
                .expect("quantize")
                .to_bytes()
                .expect("encode")
        };
        let one = blob(1);
        for threads in [2, 3, 8] {
            assert!(
                blob(threads) == one,
                "{mode}: {threads} threads changed the blob"
            );
        }
    }
}

/// The golden vector: FNV-1a 64 of the int8 logits (with their zero point and scale bits) of
/// the seed-11 tiny network, quantized (min/max) on `synthetic_ct(1..=4)`, for the input
/// `synthetic_ct(99)`. Integer-only inference (and an exporter that uses only IEEE arithmetic
/// and `libm`) make it the same on every platform, in debug and release.
const GOLDEN_TINY_INT8_LOGITS: u64 = 0x92a3_ab2f_967c_808c;

#[test]
fn golden_int8_logits() {
    let calib: Vec<EvalSlice> = (1..5)
        .map(|s| EvalSlice {
            image: synthetic_ct(s),
            mask: None,
        })
        .collect();
    let blob = quantize(&seeded(), &calib, RangeMode::MinMax);
    check_golden_fixture("agcaf-tiny-int8", &blob, &synthetic_ct(99));
    let (q, scale, zp) = run_int8(&blob, &synthetic_ct(99));
    let h = fnv(q
        .iter()
        .map(|&v| v as u8)
        .chain([zp as u8])
        .chain(scale.to_bits().to_le_bytes()));
    let b = Blob::parse(AlignedBytes::new(&blob).bytes(), SignaturePolicy::Optional)
        .unwrap()
        .stored_checksum();
    eprintln!(
        "golden: logits hash 0x{h:016x}, blob {} B crc32c 0x{b:08x}, scale {scale}, zp {zp}",
        blob.len()
    );
    assert_eq!(
        h, GOLDEN_TINY_INT8_LOGITS,
        "golden int8 logits changed: 0x{h:016x}"
    );
    // The exporter writes format 1.1 (packed records, compact layout); the engine reads the
    // same network in 1.0's layout to the same logits.
    let packed = Blob::parse(AlignedBytes::new(&blob).bytes(), SignaturePolicy::Optional)
        .unwrap()
        .header()
        .minor;
    let v10 = Editable::from(&blob).unpacked().encode();
    let h10 = Blob::parse(v10.bytes(), SignaturePolicy::Optional).unwrap();
    assert_eq!((packed, h10.header().minor), (1, 0));
    assert!(h10.tensor_count() > Editable::from(&blob).tensors.len());
    assert_eq!(run_int8(v10.bytes(), &synthetic_ct(99)), (q, scale, zp));
}

// ---- Every way an int8 blob is refused ----------------------------------------------------

fn int8_error_of(bytes: &[u8]) -> Int8Error {
    let b = Blob::parse(bytes, SignaturePolicy::Optional).unwrap();
    let mut arena = AlignedBytes::zeroed(AgcafTiny::ARENA_BYTES_INT8);
    AgcafTiny::forward_int8_flat(&b, &synthetic_ct(5), arena.bytes_mut()).unwrap_err()
}

fn tensor_error(e: Int8Error) -> (String, BlobError) {
    match e {
        Int8Error::Tensor { name, error } => (name.as_str().to_owned(), error),
        other => panic!("expected a tensor error, got {other:?}"),
    }
}

#[test]
fn every_int8_blob_error_is_a_value() {
    let calib: Vec<EvalSlice> = (1..3)
        .map(|s| EvalSlice {
            image: synthetic_ct(s),
            mask: None,
        })
        .collect();
    let good = quantize(&seeded(), &calib, RangeMode::MinMax);
    let base = Editable::from(&good);
    // The untouched re-encoding runs.
    let ok = base.encode();
    run_int8(ok.bytes(), &synthetic_ct(5));

    // Blob-level identity: network, preset, fingerprint, alignment.
    let mut e = base.clone();
    e.architecture = Architecture::CafctNet;
    let err = int8_error_of(e.encode().bytes());
    assert!(
        matches!(err, Int8Error::Blob(BlobError::WrongNetwork { .. })),
        "{err:?}"
    );
    let mut e = base.clone();
    e.fingerprint ^= 1;
    let err = int8_error_of(e.encode().bytes());
    assert!(
        matches!(err, Int8Error::Blob(BlobError::FingerprintMismatch { .. })),
        "{err:?}"
    );
    {
        let b = Blob::parse(ok.bytes(), SignaturePolicy::Optional).unwrap();
        let mut arena = AlignedBytes::zeroed(nets_agcaf::tiny_cpm::int8::ARENA_BYTES_INT8);
        let err =
            nets_agcaf::tiny_cpm::Net::forward_int8_flat(&b, &synthetic_ct(5), arena.bytes_mut())
                .unwrap_err();
        assert!(
            matches!(err, Int8Error::Blob(BlobError::WrongPreset { .. })),
            "{err:?}"
        );
    }
    {
        let mut shifted = AlignedBytes::zeroed(ok.bytes().len() + 1);
        shifted.bytes_mut()[1..].copy_from_slice(ok.bytes());
        let err = int8_error_of(&shifted.bytes()[1..]);
        assert!(
            matches!(err, Int8Error::Blob(BlobError::BufferMisaligned { .. })),
            "{err:?}"
        );
    }

    // Tensor level: missing, wrong dtype, wrong shape, missing quantization parameters.
    let mut e = base.clone();
    e.remove("cpm.agcb.2.nonlocal.score.exp");
    let (name, err) = tensor_error(int8_error_of(e.encode().bytes()));
    assert_eq!(name, "cpm.agcb.2.nonlocal.score.exp");
    assert!(matches!(err, BlobError::UnknownTensor { .. }), "{err:?}");

    let mut e = base.clone();
    e.remove("act.fuse12.out");
    let (name, err) = tensor_error(int8_error_of(e.encode().bytes()));
    assert_eq!(name, "act.fuse12.out");
    assert!(matches!(err, BlobError::UnknownTensor { .. }), "{err:?}");

    let mut e = base.clone();
    let t = e.get("fuse23.sum.add");
    t.dtype = Dtype::I8;
    t.data.truncate(6);
    let (name, err) = tensor_error(int8_error_of(e.encode().bytes()));
    assert_eq!(name, "fuse23.sum.add");
    assert!(matches!(err, BlobError::WrongDtype { .. }), "{err:?}");

    let mut e = base.clone();
    let t = e.get("cpm.agcb.3.out.add");
    t.shape = vec![4];
    t.data.truncate(16);
    let (name, err) = tensor_error(int8_error_of(e.encode().bytes()));
    assert_eq!(name, "cpm.agcb.3.out.add");
    assert!(matches!(err, BlobError::BadShape { .. }), "{err:?}");

    // A weight without per-channel requantization (per-tensor instead): in either version.
    for unpack in [false, true] {
        let mut e = if unpack {
            base.unpacked()
        } else {
            base.clone()
        };
        e.get("backbone.layer1.0.conv1.conv.weight").quant = Q::PerTensor(0.01, 0);
        let (name, err) = tensor_error(int8_error_of(e.encode().bytes()));
        assert_eq!(name, "backbone.layer1.0.conv1.conv.weight");
        assert!(matches!(err, BlobError::BadQuantParams { .. }), "{err:?}");
    }
    // 1.0: a bias missing.
    let mut e = base.unpacked();
    e.remove("backbone.stem.conv.bias");
    let (name, err) = tensor_error(int8_error_of(e.encode().bytes()));
    assert_eq!(name, "backbone.stem.conv.bias");
    assert!(matches!(err, BlobError::UnknownTensor { .. }), "{err:?}");

    let mut e = base.clone();
    e.get("act.input").quant = Q::None;
    let (name, err) = tensor_error(int8_error_of(e.encode().bytes()));
    assert_eq!(name, "act.input");
    assert!(matches!(err, BlobError::BadQuantParams { .. }), "{err:?}");

    let mut e = base.clone();
    let t = e.get("cpm.agcb.0.gnfm.gate.lut");
    t.shape = vec![128];
    t.data.truncate(128);
    let (name, err) = tensor_error(int8_error_of(e.encode().bytes()));
    assert_eq!(name, "cpm.agcb.0.gnfm.gate.lut");
    assert!(matches!(err, BlobError::BadShape { .. }), "{err:?}");

    // Run time: arena, input.
    let b = Blob::parse(ok.bytes(), SignaturePolicy::Optional).unwrap();
    let input = synthetic_ct(5);
    let mut small = AlignedBytes::zeroed(AgcafTiny::ARENA_BYTES_INT8 - 1);
    let err = AgcafTiny::forward_int8_flat(&b, &input, small.bytes_mut()).unwrap_err();
    assert_eq!(
        err,
        Int8Error::Run(Error::ArenaTooSmall {
            needed: AgcafTiny::ARENA_BYTES_INT8,
            available: AgcafTiny::ARENA_BYTES_INT8 - 1
        })
    );
    let mut big = AlignedBytes::zeroed(AgcafTiny::ARENA_BYTES_INT8 + 1);
    let err = AgcafTiny::forward_int8_flat(&b, &input, &mut big.bytes_mut()[1..]).unwrap_err();
    assert_eq!(err, Int8Error::Run(Error::ArenaMisaligned));
    let mut arena = AlignedBytes::zeroed(AgcafTiny::ARENA_BYTES_INT8);
    let err = AgcafTiny::forward_int8_flat(&b, &input[1..], arena.bytes_mut()).unwrap_err();
    assert_eq!(
        err,
        Int8Error::Run(Error::InputShape {
            expected: 4096,
            found: 4095
        })
    );
    let mut nan = input.clone();
    nan[100] = f32::NAN;
    let err = AgcafTiny::forward_int8_flat(&b, &nan, arena.bytes_mut()).unwrap_err();
    assert_eq!(err, Int8Error::Run(Error::NonFiniteInput));
    // After all that, the same arena still gives the same answer.
    let (q, _) = AgcafTiny::forward_int8_flat(&b, &input, arena.bytes_mut()).unwrap();
    assert_eq!(q, run_int8(ok.bytes(), &input).0.as_slice());
}
