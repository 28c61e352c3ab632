//! `hepaseg keygen`, `export --random-init` and `inspect` through the real binary: the blob an
//! export writes is one core's reader accepts and the f32 engine runs bit-identically to the
//! same parameters as slices; signatures verify with the right key only; and every bad input
//! is an exit status 2 with a message naming the file, never a panic or a half-written file.

use hepaseg::core::blob::{Blob, BlobParams, SignaturePolicy};
use hepaseg::core::nets::{agcaf, cafct, Network};
use hepaseg::core::params::SliceParams;
use std::path::{Path, PathBuf};
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
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail cleanly (exit 2, no panic) and returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = hepaseg(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Files in `dir` (to see that nothing half-written or temporary is left behind).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn read_aligned(path: &Path) -> Vec<u32> {
    let b = std::fs::read(path).unwrap();
    assert_eq!(b.len() % 4, 0);
    b.chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

struct Keys {
    secret: PathBuf,
    public: PathBuf,
}

fn keygen(dir: &Path, name: &str) -> Keys {
    let secret = dir.join(name);
    let out = ok(&["keygen", "--out", s(&secret)]);
    let public = dir.join(format!("{name}.pub"));
    assert!(out.contains(s(&public)), "{out}");
    Keys { secret, public }
}

#[test]
fn keygen_makes_a_private_key_pair_and_never_clobbers_it() {
    let dir = tempfile::tempdir().unwrap();
    let k = keygen(dir.path(), "release.key");
    assert_eq!(std::fs::read(&k.secret).unwrap().len(), 32);
    assert_eq!(std::fs::read(&k.public).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&k.secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = std::fs::read(&k.secret).unwrap();
    let err = fails(&["keygen", "--out", s(&k.secret)]);
    assert!(
        err.contains("release.key") && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(std::fs::read(&k.secret).unwrap(), before);
    ok(&["keygen", "--out", s(&k.secret), "--force"]);
    assert_ne!(std::fs::read(&k.secret).unwrap(), before);

    let err = fails(&["keygen", "--out", s(&dir.path().join("nope/k"))]);
    assert!(
        err.contains("nope") && err.contains("does not exist"),
        "{err}"
    );
}

/// Export → parse → f32 forward from the blob equals the forward from the host's seeded
/// parameters as slices, bit for bit.
fn export_runs<N: Network>(model: &str, dir: &Path) {
    let out = dir.join(format!("{model}-{}.hseg", N::PRESET));
    let text = ok(&[
        "export",
        "--random-init",
        "--model",
        model,
        "--preset",
        N::PRESET,
        "--seed",
        "11",
        "--out",
        s(&out),
    ]);
    assert!(
        text.contains(s(&out)) && text.contains("development aid"),
        "{text}"
    );
    let words = read_aligned(&out);
    let bytes = bytemuck::cast_slice::<u32, u8>(&words);
    assert!(text.contains(&format!("{} bytes", bytes.len())), "{text}");
    let blob = Blob::for_network::<N>(bytes, SignaturePolicy::Optional).expect("valid blob");
    let src = BlobParams::new::<N>(blob).unwrap();

    let params = hepaseg::blob::seeded_params(N::PARAMS, 11);
    let slices: Vec<&[f32]> = params.iter().map(Vec::as_slice).collect();
    let input: Vec<f32> = (0..N::INPUT[1] * N::INPUT[2])
        .map(|i| (i % 17) as f32 / 17.0)
        .collect();
    let mut a = vec![0u32; N::ARENA_BYTES.div_ceil(4)];
    let mut b = a.clone();
    let from_slices = N::forward_flat(
        &SliceParams { tensors: &slices },
        &input,
        bytemuck::cast_slice_mut(&mut a),
    )
    .unwrap()
    .to_vec();
    let from_blob = N::forward_flat(&src, &input, bytemuck::cast_slice_mut(&mut b)).unwrap();
    assert!(from_blob.iter().all(|v| v.is_finite()));
    assert!(
        from_slices
            .iter()
            .zip(from_blob)
            .all(|(x, y)| x.to_bits() == y.to_bits()),
        "{model} {}",
        N::PRESET
    );
}

#[test]
fn exported_tiny_blobs_run_in_the_f32_engine() {
    let dir = tempfile::tempdir().unwrap();
    export_runs::<agcaf::AgcafTiny>("agcaf-net", dir.path());
    export_runs::<cafct::tiny::Net>("cafct-net", dir.path());
    // Same seed, same bytes.
    let again = dir.path().join("again.hseg");
    ok(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--preset",
        "tiny",
        "--seed",
        "11",
        "--out",
        s(&again),
    ]);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(dir.path().join("agcaf-net-tiny.hseg")).unwrap()
    );
}

#[test]
fn signed_export_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let k = keygen(dir.path(), "k");
    let other = keygen(dir.path(), "other");
    let blob = dir.path().join("signed.hseg");
    let text = ok(&[
        "export",
        "--random-init",
        "--model",
        "cafct-net",
        "--preset",
        "tiny",
        "--out",
        s(&blob),
        "--sign",
        s(&k.secret),
    ]);
    assert!(text.contains("signed"), "{text}");

    // Human-readable.
    let shown = ok(&["inspect", s(&blob), "--pubkey", s(&k.public)]);
    for needle in [
        "HSEG 1.0",
        "cafct-net · preset tiny",
        "matches core's cafct-net tiny",
        "quantization  f32",
        "crc32c",
        "signature     valid",
        &format!("tensors       {}", cafct::tiny::Net::PARAMS.len()),
    ] {
        assert!(shown.contains(needle), "missing {needle:?} in\n{shown}");
    }

    // JSON.
    let j: serde_json::Value = serde_json::from_str(&ok(&["inspect", s(&blob), "--json"])).unwrap();
    assert_eq!(j["model"], "cafct-net");
    assert_eq!(j["preset"], "tiny");
    assert_eq!(j["format_version"], "1.0");
    assert_eq!(j["quant_scheme"], "f32");
    assert_eq!(j["fingerprint_matches"], true);
    assert_eq!(
        j["fingerprint"],
        format!("{:016x}", cafct::tiny::Net::FINGERPRINT)
    );
    assert_eq!(j["checksum"]["status"], "ok");
    assert!(j["signature"].as_str().unwrap().starts_with("present"));
    let tensors = j["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), cafct::tiny::Net::PARAMS.len());
    let first = &cafct::tiny::Net::PARAMS[0];
    let row = tensors
        .iter()
        .find(|t| t["name"] == first.name.as_str())
        .expect("first parameter listed");
    assert_eq!(row["dtype"], "f32");
    assert_eq!(row["shape"], serde_json::json!(first.shape()));
    assert_eq!(row["offset"].as_u64().unwrap() % 64, 0);

    // The wrong key, a tampered signature, a tampered body.
    let err = fails(&["inspect", s(&blob), "--pubkey", s(&other.public)]);
    assert!(
        err.contains("signed.hseg") && err.contains("INVALID"),
        "{err}"
    );
    let mut bytes = std::fs::read(&blob).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x80;
    let tampered = dir.path().join("tampered-sig.hseg");
    std::fs::write(&tampered, &bytes).unwrap();
    let err = fails(&["inspect", s(&tampered), "--pubkey", s(&k.public)]);
    assert!(
        err.contains("tampered-sig.hseg") && err.contains("INVALID"),
        "{err}"
    );
    bytes[n - 1] ^= 0x80;
    bytes[n / 2] ^= 0x01;
    let damaged = dir.path().join("damaged.hseg");
    std::fs::write(&damaged, &bytes).unwrap();
    let err = fails(&["inspect", s(&damaged)]);
    assert!(
        err.contains("damaged.hseg") && err.contains("checksum mismatch"),
        "{err}"
    );

    // An unsigned blob when a signature check is asked for.
    let unsigned = dir.path().join("unsigned.hseg");
    ok(&[
        "export",
        "--random-init",
        "--model",
        "cafct-net",
        "--out",
        s(&unsigned),
    ]);
    assert!(ok(&["inspect", s(&unsigned)]).contains("signature     absent"));
    let err = fails(&["inspect", s(&unsigned), "--pubkey", s(&k.public)]);
    assert!(
        err.contains("unsigned.hseg") && err.contains("unsigned"),
        "{err}"
    );
}

#[test]
fn bad_inputs_name_the_file_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // inspect: missing file, not a blob, truncated blob, a directory, a bad key file.
    let err = fails(&["inspect", s(&d.join("missing.hseg"))]);
    assert!(
        err.contains("missing.hseg") && err.contains("cannot read"),
        "{err}"
    );
    let png = d.join("slice.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n0000000000000000").unwrap();
    let err = fails(&["inspect", s(&png)]);
    assert!(
        err.contains("slice.png") && err.contains("not a hepaseg weight blob"),
        "{err}"
    );
    let good = d.join("good.hseg");
    ok(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--out",
        s(&good),
    ]);
    let bytes = std::fs::read(&good).unwrap();
    let cut = d.join("cut.hseg");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let err = fails(&["inspect", s(&cut)]);
    assert!(
        err.contains("cut.hseg") && err.contains("truncated"),
        "{err}"
    );
    let err = fails(&["inspect", s(d)]);
    assert!(err.contains("cannot read"), "{err}");
    let not_key = d.join("not-a-key.pub");
    std::fs::write(&not_key, b"hello").unwrap();
    let k = keygen(d, "k");
    let signed = d.join("signed.hseg");
    ok(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--out",
        s(&signed),
        "--sign",
        s(&k.secret),
    ]);
    let err = fails(&["inspect", s(&signed), "--pubkey", s(&not_key)]);
    assert!(err.contains("not-a-key.pub"), "{err}");

    // export: unknown preset, missing output directory, missing or unusable key, no mode.
    let before = listing(d);
    let err = fails(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--preset",
        "huge",
        "--out",
        s(&d.join("x.hseg")),
    ]);
    assert!(err.contains("huge") && err.contains("tiny-cpm"), "{err}");
    let err = fails(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--out",
        s(&d.join("no/dir/x.hseg")),
    ]);
    assert!(
        err.contains("no/dir") && err.contains("does not exist"),
        "{err}"
    );
    let err = fails(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--out",
        s(&d.join("x.hseg")),
        "--sign",
        s(&d.join("absent.key")),
    ]);
    assert!(err.contains("absent.key"), "{err}");
    let err = fails(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--out",
        s(&d.join("x.hseg")),
        "--sign",
        s(&k.public),
    ]);
    assert!(
        err.contains("k.pub") && err.contains("group or others"),
        "{err}"
    );
    let err = fails(&[
        "export",
        "--model",
        "agcaf-net",
        "--out",
        s(&d.join("x.hseg")),
    ]);
    assert!(err.contains("--random-init"), "{err}");
    assert_eq!(listing(d), before, "a failed export left files behind");

    // A new export replaces an old file whole.
    std::fs::write(d.join("x.hseg"), b"old contents").unwrap();
    ok(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--out",
        s(&d.join("x.hseg")),
    ]);
    assert_eq!(std::fs::read(d.join("x.hseg")).unwrap(), bytes);
}

/// `export --format onnx`: the model decodes with the input/output and weights the network
/// has (the weights are exactly `--random-init`'s, as in a blob), the test cases hold core
/// f32's logits for their inputs bit for bit, and misuse fails cleanly leaving no file.
#[test]
fn onnx_export_writes_the_model_and_its_test_cases() {
    type N = cafct::tiny::Net;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("m.onnx");
    let cases = d.join("cases");
    let text = ok(&[
        "export",
        "--format",
        "onnx",
        "--random-init",
        "--model",
        "cafct-net",
        "--preset",
        "tiny",
        "--seed",
        "5",
        "--out",
        s(&out),
        "--test-data",
        s(&cases),
    ]);
    assert!(
        text.contains("opset 17") && text.contains(s(&out)),
        "{text}"
    );
    let m = hepaseg::onnx::decode(&std::fs::read(&out).unwrap()).unwrap();
    let g = m.graph.as_ref().unwrap();
    let values = hepaseg::blob::seeded_params(N::PARAMS, 5);
    assert_eq!(g.initializer.len(), N::PARAMS.len());
    for ((t, p), v) in g.initializer.iter().zip(N::PARAMS).zip(&values) {
        assert_eq!(t.name, p.name.as_str());
        assert_eq!(t.f32_values().as_ref(), Some(v), "{}", t.name);
    }
    let slices: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
    let mut arena = vec![0u32; N::ARENA_BYTES.div_ceil(4)];
    for k in 0..hepaseg::onnx::TEST_CASES {
        let case = cases.join(format!("test_data_set_{k}"));
        let read =
            |f: &str| hepaseg::onnx::decode_tensor(&std::fs::read(case.join(f)).unwrap()).unwrap();
        let (input, output) = (read("input_0.pb"), read("output_0.pb"));
        assert_eq!(
            (input.name.as_str(), output.name.as_str()),
            ("input", "logits")
        );
        let x = input.f32_values().unwrap();
        assert_eq!(x.len(), 64 * 64);
        let y = N::forward_flat(
            &SliceParams { tensors: &slices },
            &x,
            bytemuck::cast_slice_mut(&mut arena),
        )
        .unwrap();
        assert_eq!(output.f32_values().unwrap(), y, "case {k}");
    }

    // Misuse: blob-only options, --test-data without onnx or into an existing directory, a
    // baseline, no parameters, a missing output directory. Nothing is written.
    let before = listing(d);
    let onnx = |extra: &[&str]| {
        let mut a = vec!["export", "--format", "onnx", "--model", "agcaf-net"];
        a.extend_from_slice(extra);
        fails(&a)
    };
    let x = d.join("x.onnx");
    let err = onnx(&["--random-init", "--out", s(&x), "--quantize", "int8"]);
    assert!(err.contains("--format onnx writes f32"), "{err}");
    let err = onnx(&["--random-init", "--out", s(&x), "--sign", s(&d.join("k"))]);
    assert!(err.contains("--sign"), "{err}");
    let err = onnx(&["--random-init", "--out", s(&x), "--test-data", s(&cases)]);
    assert!(
        err.contains("cases") && err.contains("already exists"),
        "{err}"
    );
    let err = onnx(&["--out", s(&x)]);
    assert!(err.contains("--random-init"), "{err}");
    let bad = d.join("no/dir/x.onnx");
    let err = onnx(&[
        "--random-init",
        "--out",
        s(&bad),
        "--test-data",
        s(&d.join("t")),
    ]);
    assert!(err.contains("no/dir/x.onnx"), "{err}");
    let err = fails(&[
        "export",
        "--format",
        "onnx",
        "--random-init",
        "--model",
        "unet",
        "--out",
        s(&x),
    ]);
    assert!(err.contains("host-only"), "{err}");
    let err = fails(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--out",
        s(&x),
        "--test-data",
        s(&d.join("t")),
    ]);
    assert!(err.contains("--format onnx"), "{err}");
    assert_eq!(listing(d), before, "a failed ONNX export left files behind");
}
