//! `hepaseg export --quantize int8 --calib DIR`: a phantom dataset from `hepaseg synth`, an int8
//! blob the core engine runs, the calibration report, signing, and the refusals.

use hepaseg::quant::report::AlignedBytes;
use hepaseg_core::blob::{Blob, QuantScheme, SignaturePolicy};
use hepaseg_core::nets::agcaf::AgcafTiny;
use hepaseg_core::nets::Int8Network;
use std::path::Path;
use std::process::{Command, Output};

fn hepaseg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hepaseg"))
        .args(args)
        .output()
        .expect("run hepaseg")
}

fn ok(args: &[&str]) -> String {
    let out = hepaseg(args);
    assert!(
        out.status.success(),
        "hepaseg {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = hepaseg(args);
    assert_eq!(out.status.code(), Some(2), "hepaseg {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

fn synth(dir: &Path) {
    ok(&[
        "synth",
        "--out",
        dir.to_str().unwrap(),
        "--volumes",
        "6",
        "--size",
        "64",
        "--slices",
        "16",
        "--seed",
        "3",
    ]);
}

#[test]
fn export_quantize_int8_writes_a_blob_the_int8_engine_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("phantoms");
    synth(&data);
    let out = dir.path().join("tiny-int8.hseg");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let report = ok(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--preset",
        "tiny",
        "--seed",
        "11",
        "--quantize",
        "int8",
        "--calib",
        d,
        "--calib-slices",
        "8",
        "--report-slices",
        "8",
        "--out",
        o,
    ]);
    eprintln!("{report}");
    for needle in [
        "wrote",
        "int8 agcaf-net tiny",
        "arena: int8 102464 B",
        "calibration: 8 slices, min/max ranges",
        "f32 vs int8 on 8 slices",
        "pixel agreement",
        "Dice against ground truth",
    ] {
        assert!(
            report.contains(needle),
            "`{needle}` missing from:\n{report}"
        );
    }
    // The file is an int8 blob for the tiny network, and the integer engine runs it.
    let bytes = AlignedBytes::new(&std::fs::read(&out).unwrap());
    let blob = Blob::parse(bytes.bytes(), SignaturePolicy::Optional).unwrap();
    assert_eq!(blob.header().scheme, QuantScheme::Int8PerChannel);
    let mut arena = AlignedBytes::zeroed(AgcafTiny::ARENA_BYTES_INT8);
    let (logits, q) =
        AgcafTiny::forward_int8_flat(&blob, &vec![0.4; 64 * 64], arena.bytes_mut()).unwrap();
    assert_eq!(logits.len(), 64 * 64);
    assert!(q.scale > 0.0);
    // `inspect` reads it.
    let text = ok(&["inspect", o]);
    assert!(text.contains("int8"), "{text}");
    let json = ok(&["inspect", o, "--json"]);
    assert!(json.contains("\"quant_scheme\""), "{json}");
    assert!(json.contains("act.input"), "{json}");
    // Format 1.1, and the size figure: the payload (every number the blob carries, an
    // activation point as its scale and zero point) recomputed from the blob itself.
    assert!(text.contains("HSEG 1.1 (compact)"), "{text}");
    assert!(json.contains("per-channel-packed"), "{json}");
    let payload: usize = blob
        .tensors()
        .map(|t| t.len as usize + if t.name.starts_with("act.") { 4 } else { 0 })
        .sum();
    let size = std::fs::metadata(&out).unwrap().len() as usize;
    let figure = format!(
        "payload {payload} B = int8 weights {}",
        blob.tensors()
            .filter(|t| t.quant.kind() == 3)
            .map(|t| t.len as usize)
            .sum::<usize>()
    );
    assert!(
        report.contains(&figure),
        "`{figure}` missing from:\n{report}"
    );
    let ratio = format!(
        "blob {size} B = {:.4} x payload",
        size as f64 / payload as f64
    );
    assert!(report.contains(&ratio), "`{ratio}` missing from:\n{report}");

    // Percentile ranges, and a signature that `inspect --pubkey` verifies.
    let key = dir.path().join("release");
    ok(&["keygen", "--out", key.to_str().unwrap()]);
    let signed = dir.path().join("signed.hseg");
    let report = ok(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--preset",
        "tiny",
        "--quantize",
        "int8",
        "--calib",
        d,
        "--percentile",
        "99.99",
        "--calib-slices",
        "4",
        "--report-slices",
        "4",
        "--sign",
        key.to_str().unwrap(),
        "--sensitivity",
        "--out",
        signed.to_str().unwrap(),
    ]);
    assert!(report.contains("99.99 % percentile ranges"), "{report}");
    // The sensitivity table: the three whole-network rows, then AGCAF-Net's blocks.
    let table = report
        .split_once("int8 sensitivity")
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no sensitivity table in:\n{report}"));
    let rows: Vec<&str> = table
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(rows[..3], ["all", "weights", "activations"], "{table}");
    assert!(rows.contains(&"input"), "{table}");
    assert!(rows.iter().any(|r| r.starts_with("backbone")), "{table}");
    assert!(report.contains(", signed"), "{report}");
    let pubkey = format!("{}.pub", key.display());
    ok(&["inspect", signed.to_str().unwrap(), "--pubkey", &pubkey]);
}

/// `--checkpoint` with the seed-11 values gives exactly the blob `--random-init --seed 11`
/// gives (same calibration data, deterministic exporter); the preset comes from the
/// checkpoint.
#[test]
fn export_quantize_from_a_checkpoint() {
    use hepaseg::train::checkpoint::Checkpoint;
    use hepaseg_core::nets::{agcaf::tiny_cpm, Network};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("phantoms");
    synth(&data);
    let values = hepaseg::blob::seeded_params(tiny_cpm::Net::PARAMS, 11);
    let mut ck = Checkpoint::default();
    ck.meta.insert("model".into(), "agcaf-net".into());
    ck.meta.insert("preset".into(), "tiny-cpm".into());
    ck.meta.insert(
        "fingerprint".into(),
        format!("{:016x}", tiny_cpm::Net::FINGERPRINT),
    );
    for (p, v) in tiny_cpm::Net::PARAMS.iter().zip(&values) {
        ck.params
            .push((p.name.as_str().to_owned(), p.shape().to_vec(), v.clone()));
    }
    let ckpt = dir.path().join("last.safetensors");
    ck.save(&ckpt).unwrap();
    let (a, b) = (dir.path().join("a.hseg"), dir.path().join("b.hseg"));
    let common = [
        "export",
        "--model",
        "agcaf-net",
        "--quantize",
        "int8",
        "--calib",
        data.to_str().unwrap(),
        "--calib-slices",
        "4",
        "--report-slices",
        "2",
    ];
    let mut from_ckpt = common.to_vec();
    from_ckpt.extend([
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
    ]);
    let report = ok(&from_ckpt);
    assert!(report.contains("int8 agcaf-net tiny-cpm"), "{report}");
    let mut seeded = common.to_vec();
    seeded.extend([
        "--random-init",
        "--seed",
        "11",
        "--preset",
        "tiny-cpm",
        "--out",
        b.to_str().unwrap(),
    ]);
    ok(&seeded);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // A checkpoint of the other architecture is refused.
    let mut wrong = common.to_vec();
    wrong[2] = "cafct-net";
    wrong.extend([
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
    ]);
    let e = fails(&wrong);
    assert!(e.contains("not cafct-net"), "{e}");
}

#[test]
fn export_quantize_int8_cafct_net() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("phantoms");
    synth(&data);
    let out = dir.path().join("cafct.hseg");
    let report = ok(&[
        "export",
        "--random-init",
        "--model",
        "cafct-net",
        "--preset",
        "tiny",
        "--quantize",
        "int8",
        "--calib",
        data.to_str().unwrap(),
        "--calib-slices",
        "4",
        "--report-slices",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(report.contains("int8 cafct-net tiny"), "{report}");
    assert!(report.contains("pixel agreement"), "{report}");
    let bytes = AlignedBytes::new(&std::fs::read(&out).unwrap());
    let blob = Blob::parse(bytes.bytes(), SignaturePolicy::Optional).unwrap();
    use hepaseg_core::nets::cafct::CafctTiny;
    let mut arena = AlignedBytes::zeroed(CafctTiny::ARENA_BYTES_INT8);
    let (logits, _) =
        CafctTiny::forward_int8_flat(&blob, &vec![0.4; 64 * 64], arena.bytes_mut()).unwrap();
    assert_eq!(logits.len(), 64 * 64);
}

#[test]
fn export_quantize_refusals_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.hseg");
    let o = out.to_str().unwrap();
    let base = [
        "export",
        "--model",
        "agcaf-net",
        "--preset",
        "tiny",
        "--out",
        o,
    ];
    fn join<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        base.iter().chain(extra).copied().collect()
    }
    let with = |extra: &[&'static str]| join(&base, extra);
    let e = fails(&with(&["--random-init", "--quantize", "int8"]));
    assert!(e.contains("--calib"), "{e}");
    let e = fails(&with(&["--quantize", "int8", "--calib", "."]));
    assert!(e.contains("--random-init"), "{e}");
    let e = fails(&with(&["--random-init", "--calib", "."]));
    assert!(e.contains("need --quantize int8"), "{e}");
    let e = fails(&with(&["--random-init", "--sensitivity"]));
    assert!(e.contains("need --quantize int8"), "{e}");
    let e = fails(&with(&[
        "--random-init",
        "--quantize",
        "int8",
        "--calib",
        ".",
        "--percentile",
        "20",
    ]));
    assert!(e.contains("--percentile 20"), "{e}");
    let missing = dir.path().join("missing");
    let e = fails(&join(
        &base,
        &[
            "--random-init",
            "--quantize",
            "int8",
            "--calib",
            missing.to_str().unwrap(),
        ],
    ));
    assert!(e.contains("missing"), "{e}");
    assert!(!out.exists(), "a refused export left a file behind");
    // clap refuses an unknown scheme.
    let out = hepaseg(&with(&["--random-init", "--quantize", "int4"]));
    assert!(!out.status.success());
}
