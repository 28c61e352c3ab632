//! The int8 CAFCT-Net end to end on the library level: a seeded network calibrated on CT
//! phantoms, quantized by the host, run by core's integer-only engine (transformer branch with
//! integer layer norm, multi-head attention and GELU tables) and compared with core's f32
//! engine; the ablations; a golden hash of the int8 logits.

mod cli_quant_support;

use cli_quant_support::{
    check_golden_fixture, fnv, phantom_slices, synthetic_ct, synthetic_slices, Editable,
};
use hepaseg::quant::graph::{Ctx, Ignore, NamedParams, Trace};
use hepaseg::quant::report::{point_errors, AlignedBytes, Recorder};
use hepaseg::quant::sensitivity::{block_of, rounded_logits, sensitivity};
use hepaseg::quant::{cafct, cafct_config, compare, quantize_network, Calib, EvalSlice, RangeMode};
use hepaseg_core::blob::{Blob, BlobError, SignaturePolicy};
use hepaseg_core::int8::graph::Int8Error;
use hepaseg_core::nets::cafct::{self as nets_cafct, CafctTiny};
use hepaseg_core::nets::{Int8Network, Network};
use hepaseg_core::params::SliceParams;

const NET_SEED: u64 = 11;

/// Stack the int8 CAFCT-Net forward is checked to fit in (its parameter-reference struct is
/// ~13 KiB, built before any work; AGCAF-Net's int8 forward fits in 64 KiB).
const STACK: usize = 96 * 1024;

fn seeded<N: Network>() -> Vec<Vec<f32>> {
    hepaseg::blob::seeded_params(N::PARAMS, NET_SEED)
}

/// The seeded network with its output bias moved so that the median logit on `slices` is 0.
fn centred<N: Network>(slices: &[EvalSlice]) -> Vec<Vec<f32>> {
    let mut values = seeded::<N>();
    let tensors: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
    let mut arena = AlignedBytes::zeroed(N::ARENA_BYTES);
    let mut logits = Vec::new();
    for s in slices {
        let out = N::forward_flat(
            &SliceParams { tensors: &tensors },
            &s.image,
            arena.bytes_mut(),
        )
        .unwrap();
        logits.extend_from_slice(out);
    }
    logits.sort_by(f32::total_cmp);
    let median = logits[logits.len() / 2];
    let i = N::PARAMS
        .iter()
        .position(|p| p.name.as_str() == "head.out.bias")
        .unwrap();
    values[i][0] -= median;
    values
}

fn quantize<N: Network>(values: &[Vec<f32>], calib: &[EvalSlice], mode: RangeMode) -> Vec<u8> {
    let cfg = Calib::Cafct(cafct_config(N::PRESET).unwrap());
    let images: Vec<Vec<f32>> = calib.iter().map(|s| s.image.clone()).collect();
    quantize_network::<N>(&cfg, values, &images, mode)
        .expect("quantize")
        .to_bytes()
        .expect("encode")
}

fn run_int8<N: Int8Network>(blob: &[u8], input: &[f32]) -> (Vec<i8>, f32, i8) {
    let aligned = AlignedBytes::new(blob);
    let b = Blob::parse(aligned.bytes(), SignaturePolicy::Optional).unwrap();
    let mut arena = AlignedBytes::zeroed(N::ARENA_BYTES_INT8);
    let (q, oq) = N::forward_int8_flat(&b, input, arena.bytes_mut()).unwrap();
    (q.to_vec(), oq.scale, oq.zero_point)
}

#[test]
fn calibration_forward_matches_core_f32() {
    let values = seeded::<CafctTiny>();
    let params = NamedParams::new(CafctTiny::PARAMS, &values).unwrap();
    let cfg = cafct_config("tiny").unwrap();
    let slice = &phantom_slices(7..8, 1)[0].image;
    let mut ignore = Ignore;
    let mut ctx = Ctx::new(&params, &mut ignore, None);
    let mirror = cafct::forward(&mut ctx, &cfg, slice).unwrap();
    let tensors: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
    let mut arena = AlignedBytes::zeroed(CafctTiny::ARENA_BYTES);
    let reference =
        CafctTiny::forward_flat(&SliceParams { tensors: &tensors }, slice, arena.bytes_mut())
            .unwrap();
    let worst = mirror
        .d
        .iter()
        .zip(reference)
        .map(|(a, b)| f64::from((a - b).abs()) / f64::from(b.abs()).max(1.0))
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-4,
        "calibration forward differs from core f32 by {worst}"
    );
}

/// Tiny, seed 11, output bias centred (about half of every mask is foreground), calibrated
/// on 16 liver slices of 4 phantom patients, compared on 16 liver slices of 4 other patients
/// (65,536 pixels). Measured:
///
/// | ranges | pixel agreement | Dice int8 vs f32 | max logit error | f32 logit range |
/// |---|---|---|---|---|
/// | min/max | 98.79 % | 0.989 | 0.0058 | 0.111 |
/// | 99.99 % percentile | 99.31 % | 0.994 | 0.0054 | 0.111 |
#[test]
fn int8_cafct_tiny_agrees_with_f32_on_phantoms() {
    let calib = phantom_slices(100..104, 4);
    let val = phantom_slices(200..204, 4);
    let values = centred::<CafctTiny>(&calib);
    for mode in [RangeMode::MinMax, RangeMode::Percentile(99.99)] {
        let blob = quantize::<CafctTiny>(&values, &calib, mode);
        let cmp = compare::<CafctTiny>(&blob, &values, &val).unwrap();
        eprintln!("[{mode}] {cmp}");
        assert!(cmp.pixel_agreement >= 0.97, "{mode}: {cmp}");
        assert!(cmp.dice_int8_vs_f32 >= 0.97, "{mode}: {cmp}");
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

#[test]
fn every_cafct_activation_point_tracks_f32() {
    let calib = phantom_slices(100..104, 4);
    let values = centred::<CafctTiny>(&calib);
    let blob = quantize::<CafctTiny>(&values, &calib, RangeMode::MinMax);
    let input = &phantom_slices(300..301, 1)[0].image;
    let aligned = AlignedBytes::new(&blob);
    let b = Blob::parse(aligned.bytes(), SignaturePolicy::Optional).unwrap();
    let mut arena = AlignedBytes::zeroed(CafctTiny::ARENA_BYTES_INT8);
    let mut probe = Recorder::<i8>::default();
    CafctTiny::forward_int8_probe(&b, input, arena.bytes_mut(), &mut probe).unwrap();
    let params = NamedParams::new(CafctTiny::PARAMS, &values).unwrap();
    let mut seen = Recorder::<f32>::default();
    let mut trace = Trace::default();
    let mut ctx = Ctx::new(&params, &mut seen, Some(&mut trace));
    cafct::forward(&mut ctx, &cafct_config("tiny").unwrap(), input).unwrap();
    let order: Vec<String> = trace.ops.iter().map(|o| o.output().to_owned()).collect();
    let errors = point_errors(&order, &probe, &seen);
    for e in &errors {
        eprintln!(
            "{:40} scale {:.5} max {:.5} ({:.1} LSB) mean {:.5}",
            e.point, e.scale, e.max_abs, e.max_lsb, e.mean_abs
        );
    }
    // Every point of the trace is reported by the probe in the calibration forward's order.
    let missing: Vec<&String> = order
        .iter()
        .filter(|p| !errors.iter().any(|e| &e.point == *p))
        .collect();
    assert!(missing.is_empty(), "not compared: {missing:?}");
    // Layer norms and the pre-sigmoid gates (small scales) amplify upstream error most; the
    // worst mean error is decoder.1.ag.psi's (≈ 3.4 LSB).
    let worst = errors
        .iter()
        .map(|e| e.mean_abs / f64::from(e.scale))
        .fold(0.0, f64::max);
    assert!(worst < 5.0, "mean error of some point is {worst} LSB");
}

/// The sensitivity analysis' model of int8 — the f32 calibration forward with activation points
/// rounded to their int8 grid — lands much closer to core's int8 engine than the plain forward
/// does; rounding nothing is the plain forward; a block's row rounds only that block.
#[test]
fn fake_quantized_forward_models_the_int8_engine() {
    let calib = phantom_slices(100..104, 4);
    let val = phantom_slices(200..202, 2);
    let values = centred::<CafctTiny>(&calib);
    let cfg = Calib::Cafct(cafct_config("tiny").unwrap());
    let images: Vec<Vec<f32>> = calib.iter().map(|s| s.image.clone()).collect();
    let q = quantize_network::<CafctTiny>(&cfg, &values, &images, RangeMode::MinMax).unwrap();
    let blob = q.to_bytes().unwrap();
    let params = NamedParams::new(CafctTiny::PARAMS, &values).unwrap();
    let plain = rounded_logits(&cfg, &params, &q.points, &val, &|_| false, 2).unwrap();
    let int8_weights = params.with_int8_weights();
    let all = rounded_logits(&cfg, &int8_weights, &q.points, &val, &|_| true, 1).unwrap();
    let (mut off_plain, mut off_rounded, mut n) = (0.0, 0.0, 0.0);
    for ((s, p), r) in val.iter().zip(&plain).zip(&all) {
        let mut ignore = Ignore;
        let mirror = cafct::forward(
            &mut Ctx::new(&params, &mut ignore, None),
            &cafct_config("tiny").unwrap(),
            &s.image,
        )
        .unwrap();
        assert_eq!(&mirror.d, p, "rounding nothing changed the forward");
        let (q8, scale, zp) = run_int8::<CafctTiny>(&blob, &s.image);
        for ((&qv, &pv), &rv) in q8.iter().zip(p).zip(r) {
            let int8 = f64::from(scale) * (f64::from(qv) - f64::from(zp));
            off_plain += (f64::from(pv) - int8).abs();
            off_rounded += (f64::from(rv) - int8).abs();
            n += 1.0;
        }
    }
    let (off_plain, off_rounded) = (off_plain / n, off_rounded / n);
    eprintln!("mean |logit - int8|: plain {off_plain:.6}, rounded {off_rounded:.6}");
    assert!(
        off_rounded < 0.75 * off_plain,
        "rounded forward {off_rounded} vs plain {off_plain} from the int8 engine"
    );
    let blocks = vec!["aspp".to_owned(), "no.such.block".to_owned()];
    let report = sensitivity(&cfg, &params, &q.points, &blocks, &val, 2).unwrap();
    eprintln!("{report}");
    let rows: Vec<&str> = report.rows.iter().map(|r| r.rounded.as_str()).collect();
    assert_eq!(
        rows,
        ["all", "weights", "activations", "aspp", "no.such.block"]
    );
    for r in &report.rows[..4] {
        assert!(r.mean_logit_error > 0.0, "{}: nothing rounded", r.rounded);
    }
    assert_eq!(report.rows[4].mean_logit_error, 0.0);
    assert_eq!(report.rows[4].dice_vs_f32, 1.0);
    assert_eq!(block_of("aspp.convs.4"), "aspp");
    assert_eq!(
        block_of("trans.stage1.block0.attn.q"),
        "trans.stage1.block0"
    );
    assert_eq!(block_of("decoder.1.ag.gate"), "decoder.1");
}

#[test]
fn cafct_tensor_errors_name_the_tensor() {
    let calib = synthetic_slices(1..3);
    let good = quantize::<CafctTiny>(&seeded::<CafctTiny>(), &calib, RangeMode::MinMax);
    let base = Editable::from(&good);
    let err_of = |e: &Editable| {
        let bytes = e.encode();
        let b = Blob::parse(bytes.bytes(), SignaturePolicy::Optional).unwrap();
        let mut arena = AlignedBytes::zeroed(CafctTiny::ARENA_BYTES_INT8);
        match CafctTiny::forward_int8_flat(&b, &synthetic_ct(5), arena.bytes_mut()) {
            Err(Int8Error::Tensor { name, error }) => (name.as_str().to_owned(), error),
            other => panic!("expected a tensor error, got {other:?}"),
        }
    };
    let mut e = base.clone();
    e.remove("trans.stage2.block0.attn.norm.eps");
    let (name, err) = err_of(&e);
    assert_eq!(name, "trans.stage2.block0.attn.norm.eps");
    assert!(matches!(err, BlobError::UnknownTensor { .. }), "{err:?}");
    let mut e = base.clone();
    let t = e.get("trans.stage3.block1.attn.kv.weight");
    t.shape[1] /= 2;
    let len = t.shape[0] * t.shape[1];
    t.data.truncate(len);
    let (name, err) = err_of(&e);
    assert_eq!(name, "trans.stage3.block1.attn.kv.weight");
    assert!(matches!(err, BlobError::BadShape { .. }), "{err:?}");
    let mut e = base.clone();
    e.remove("trans.stage1.block0.ffn.gelu.lut");
    let (name, _) = err_of(&e);
    assert_eq!(name, "trans.stage1.block0.ffn.gelu.lut");
    let mut e = base;
    e.remove("act.decoder.1.cat");
    let (name, _) = err_of(&e);
    assert_eq!(name, "act.decoder.1.cat");
}

#[test]
fn every_cafct_preset_quantizes_and_runs() {
    fn one<N: Int8Network>() -> String {
        let calib = synthetic_slices(1..3);
        let blob = quantize::<N>(&seeded::<N>(), &calib, RangeMode::MinMax);
        let (q, scale, zp) = run_int8::<N>(&blob, &synthetic_ct(9));
        assert_eq!(q.len(), 64 * 64);
        format!("{} scale {scale} zp {zp}", N::PRESET)
    }
    for s in [
        one::<nets_cafct::tiny_no_transformer::Net>(),
        one::<nets_cafct::tiny_no_aff::Net>(),
        one::<nets_cafct::tiny_no_aspp::Net>(),
        one::<nets_cafct::tiny_no_ag::Net>(),
    ] {
        eprintln!("{s}");
    }
}

/// The golden vector of CAFCT-Net: FNV-1a 64 of the int8 logits (with their zero point and
/// scale bits) of the seed-11 tiny network quantized (min/max) on `synthetic_ct(1..=4)`, for
/// the input `synthetic_ct(99)`.
const GOLDEN_CAFCT_TINY_INT8_LOGITS: u64 = 0x94e6_01cb_d804_2080;

#[test]
fn golden_cafct_int8_logits() {
    let calib = synthetic_slices(1..5);
    let blob = quantize::<CafctTiny>(&seeded::<CafctTiny>(), &calib, RangeMode::MinMax);
    check_golden_fixture("cafct-tiny-int8", &blob, &synthetic_ct(99));
    let (q, scale, zp) = run_int8::<CafctTiny>(&blob, &synthetic_ct(99));
    // Deterministic, and within a small, stated stack (activations live in the arena).
    let again = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn({
            let blob = blob.clone();
            move || run_int8::<CafctTiny>(&blob, &synthetic_ct(99))
        })
        .unwrap()
        .join()
        .expect("int8 forward overflowed its stack");
    assert_eq!(again, (q.clone(), scale, zp));
    let h = fnv(q
        .iter()
        .map(|&v| v as u8)
        .chain([zp as u8])
        .chain(scale.to_bits().to_le_bytes()));
    eprintln!(
        "golden cafct: logits hash 0x{h:016x}, blob {} B, scale {scale}, zp {zp}",
        blob.len()
    );
    assert_eq!(
        h, GOLDEN_CAFCT_TINY_INT8_LOGITS,
        "golden int8 logits changed: 0x{h:016x}"
    );
    // The same network in format 1.0's layout (companions, separate biases) runs to the same
    // logits.
    let v10 = Editable::from(&blob).unpacked().encode();
    assert_eq!(
        run_int8::<CafctTiny>(v10.bytes(), &synthetic_ct(99)),
        (q, scale, zp)
    );
}
