//! The bad-input matrix: for every command, the inputs a user gets wrong, driven through the
//! `hepaseg` binary. Each case must exit with status 2 (never 101, a panic), print a message
//! that names the file (or the option) and the problem, and leave the working folder exactly as
//! it was (no half-written output, no empty run folder).
//!
//! Cases already covered next to their command are not repeated here:
//! * `cli_blob.rs` — `inspect` of a missing file, a non-blob, a truncated blob, a directory, a
//!   bad public key; `export` with an unknown preset, a missing output folder, a missing or
//!   world-readable key, no mode; `inspect --pubkey` with the wrong key, a tampered signature,
//!   a damaged body and an unsigned blob.
//! * `cli_segment.rs` — unwritable output, a corrupt slice in a folder (nothing written), a
//!   non-image, an empty folder, DICOM without or with truncated pixel data, a volume with a
//!   PNG output name, a damaged blob.
//! * `cli_eval.rs` — a missing or extra prediction, PNG size mismatch, a non-PNG, an empty
//!   ground-truth folder, `--label` with PNGs, no mode, an unwritable JSON path.
//! * `cli_quant.rs` — `export --quantize` without `--calib`/parameters, a bad percentile, a
//!   checkpoint of the other architecture.
//! * `cli_info.rs` — an unknown preset. `data_errors.rs` — broken datasets at library level.
//!
//! Run with `--nocapture` to print the matrix (case → message).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hepaseg(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hepaseg"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run hepaseg")
}

/// Every file and folder under `dir` (relative paths, sorted).
fn listing(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The fixture folder every case runs in (relative paths in the arguments).
struct Bench {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Bench {
    fn ok(&self, args: &[&str]) -> String {
        let out = hepaseg(args, &self.dir);
        assert!(
            out.status.success(),
            "hepaseg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a case that must be refused: exit 2, every `needle` in the message, and nothing
    /// under the fixture folder added, removed or renamed.
    fn refuses(&self, case: &str, args: &[&str], needles: &[&str]) {
        let before = listing(&self.dir);
        let out = hepaseg(args, &self.dir);
        let err = String::from_utf8_lossy(&out.stderr);
        let message = err.lines().find(|l| !l.is_empty()).unwrap_or("");
        eprintln!("{case:58} → {message}");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{case}: hepaseg {args:?} exited {:?}: {err}",
            out.status.code()
        );
        for n in needles {
            assert!(err.contains(n), "{case}: message lacks `{n}`: {err}");
        }
        assert_eq!(
            listing(&self.dir),
            before,
            "{case}: hepaseg {args:?} left files behind"
        );
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        std::fs::write(self.path(rel), bytes).unwrap();
    }
}

/// A NIfTI-1 single file (`.nii`): 348-byte header, 4 extension bytes, then `data`.
fn nifti(dims: &[u16], datatype: i16, bitpix: i16, data: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    let mut dim = [1u16; 8];
    dim[0] = dims.len() as u16;
    dim[1..=dims.len()].copy_from_slice(dims);
    for (i, d) in dim.iter().enumerate() {
        h[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
    }
    h[70..72].copy_from_slice(&datatype.to_le_bytes());
    h[72..74].copy_from_slice(&bitpix.to_le_bytes());
    for (i, p) in [1.0f32, 1.0, 1.0, 2.5].iter().enumerate() {
        h[76 + 4 * i..80 + 4 * i].copy_from_slice(&p.to_le_bytes());
    }
    h[108..112].copy_from_slice(&352f32.to_le_bytes());
    h[112..116].copy_from_slice(&1f32.to_le_bytes());
    h[344..348].copy_from_slice(b"n+1\0");
    h.extend_from_slice(data);
    h
}

/// `n` little-endian f32 values, all `fill` except the last, which is `last`.
fn f32s(n: usize, fill: f32, last: f32) -> Vec<u8> {
    (0..n)
        .flat_map(|i| if i + 1 == n { last } else { fill }.to_le_bytes())
        .collect()
}

/// The fixture: a phantom dataset (lits-png + NIfTI), f32 blobs (unsigned, signed, tampered,
/// relabelled), a key pair, broken images and volumes.
fn bench() -> Bench {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let b = Bench { _tmp: tmp, dir };
    hepaseg::data::synth(&b.path("data"), 3, 32, 4, 1).expect("synth");
    std::fs::create_dir(b.path("empty")).unwrap();
    b.write("afile", b"not a folder");
    b.ok(&["keygen", "--out", "k"]);
    b.ok(&["keygen", "--out", "other"]);
    b.ok(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--out",
        "a.hseg",
    ]);
    b.ok(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--out",
        "signed.hseg",
        "--sign",
        "k",
    ]);
    let signed = std::fs::read(b.path("signed.hseg")).unwrap();
    // A tampered signature byte; a tampered body with its CRC recomputed (what an attacker
    // who knows the format does) — only the signature can catch the second.
    let mut bad_sig = signed.clone();
    *bad_sig.last_mut().unwrap() ^= 0x01;
    b.write("bad-sig.hseg", &bad_sig);
    let mut forged = signed.clone();
    let body = u32::from_le_bytes(forged[16..20].try_into().unwrap()) as usize;
    forged[body - 8] ^= 0x40;
    let crc = hepaseg::core::blob::checksum(&forged[..body]);
    forged[body..body + 4].copy_from_slice(&crc.to_le_bytes());
    b.write("forged.hseg", &forged);
    // The tiny blob relabelled as the tiny-cpm preset (CRC fixed): a blob for another preset.
    let mut other = std::fs::read(b.path("a.hseg")).unwrap();
    other[51] = 8;
    other[52..60].copy_from_slice(b"tiny-cpm");
    hepaseg::core::blob::seal(&mut other).unwrap();
    b.write("other-preset.hseg", &other);

    let png = std::fs::read(b.path("data/volume-0_1.png")).unwrap();
    b.write("slice.png", &png);
    b.write("cut.png", &png[..png.len() / 2]);
    let n = 16 * 16 * 2;
    b.write(
        "nan.nii",
        &nifti(&[16, 16, 2], 16, 32, &f32s(n, 40.0, f32::NAN)),
    );
    b.write(
        "inf.nii",
        &nifti(&[16, 16, 2], 16, 32, &f32s(n, 40.0, f32::INFINITY)),
    );
    b.write(
        "four-d.nii",
        &nifti(&[16, 16, 2, 2], 16, 32, &f32s(2 * n, 0.0, 0.0)),
    );
    b.write("complex.nii", &nifti(&[16, 16, 2], 32, 64, &vec![0; 8 * n]));
    b.write(
        "short.nii",
        &nifti(&[16, 16, 2], 16, 32, &vec![0; 4 * n - 10]),
    );
    // A DICOM file with one damaged length field claiming 3.6 GB (what the read_dicom fuzz
    // target found: dicom-rs would zero-fill that much memory before failing).
    let ct = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/CT_small.dcm");
    let mut dcm = std::fs::read(ct).expect("../shared/testdata/CT_small.dcm");
    dcm.extend_from_slice(&[0x00, 0x94, 0x00, 0xBB, b'O', b'B', 0, 0]);
    dcm.extend_from_slice(&3_623_931_648u32.to_le_bytes());
    dcm.extend_from_slice(&[0; 8]);
    b.write("huge-length.dcm", &dcm);
    // The fuzzer's own input (CT_small.dcm mutated: an unknown VR before the bad length).
    let found = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/read_dicom/regression-oom-length.dcm");
    b.write("fuzzed.dcm", &std::fs::read(found).unwrap());
    // Its second one: an invalid VR `IL` that dicom-rs reads with a 4-byte length, which put
    // dicom-rs (but not the old length walk) on a 4 GB length inside the pixel data.
    let found = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/read_dicom/regression-oom-unknown-vr.dcm");
    b.write("fuzzed-vr.dcm", &std::fs::read(found).unwrap());
    b
}

#[test]
fn train_refusals() {
    let b = bench();
    let t = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["train", "--model", "agcaf-net", "--quiet"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (opt, default) in [("--batch", "2"), ("--out", "run")] {
            if !extra.contains(&opt) {
                v.extend([opt.to_string(), default.to_string()]);
            }
        }
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "train: --data missing",
            &["--data", "nowhere"],
            &["nowhere", "missing"],
        ),
        (
            "train: --data is a file",
            &["--data", "afile"],
            &["afile", "is a file"],
        ),
        (
            "train: --data is an empty folder",
            &["--data", "empty"],
            &["empty", "unknown dataset layout"],
        ),
        (
            "train: --epochs 0",
            &["--data", "data", "--epochs", "0"],
            &["--epochs"],
        ),
        (
            "train: --lr NaN",
            &["--data", "data", "--lr", "NaN"],
            &["--lr", "NaN"],
        ),
        (
            "train: --lr -1",
            &["--data", "data", "--lr=-1"],
            &["--lr", "-1"],
        ),
        ("train: --lr 0", &["--data", "data", "--lr", "0"], &["--lr"]),
        (
            "train: --weight-decay -1",
            &["--data", "data", "--weight-decay=-1"],
            &["--weight-decay"],
        ),
        (
            "train: --max-steps 0",
            &["--data", "data", "--max-steps", "0"],
            &["--max-steps"],
        ),
        (
            "train: --max-minutes 0",
            &["--data", "data", "--max-minutes", "0"],
            &["--max-minutes"],
        ),
        (
            "train: --batch 0",
            &["--data", "data", "--batch", "0"],
            &["--batch", "at least 1"],
        ),
        #[cfg(not(feature = "cuda"))]
        (
            "train: --device cuda in a CPU-only build",
            &["--data", "data", "--device", "cuda"],
            &["--device cuda", "without CUDA support", "build-cuda.sh"],
        ),
        (
            "train: unknown preset",
            &["--data", "data", "--preset", "huge"],
            &["huge", "tiny-cpm"],
        ),
        (
            "train: --out below a regular file",
            &["--data", "data", "--out", "afile/run"],
            &["afile/run", "cannot create"],
        ),
    ];
    for (case, extra, needles) in cases {
        let args = t(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        b.refuses(case, &args, needles);
    }

    // A dataset whose mask does not match its image is found at the first batch: the message
    // names both files, and the run folder this invocation created is gone again.
    let mismatched = b.path("mismatched");
    hepaseg::data::synth(&mismatched, 3, 32, 4, 1).expect("synth");
    let small = hepaseg::data::png_io::encode_grey8(8, 8, &[0; 64]).unwrap();
    for s in 0..3 {
        for z in 0..4 {
            let [_, liver, _] = hepaseg::data::lits_png::file_names(s, z);
            std::fs::write(mismatched.join(liver), &small).unwrap();
        }
    }
    b.refuses(
        "train: mask and image sizes differ",
        &t(&["--data", "mismatched", "--max-steps", "2"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &["livermask", "does not match image", "volume-"],
    );

    // A NIfTI dataset with a NaN voxel.
    let nan_set = b.path("nan-set");
    std::fs::create_dir(&nan_set).unwrap();
    for v in 0..3 {
        std::fs::copy(b.path("nan.nii"), nan_set.join(format!("volume-{v}.nii"))).unwrap();
        let labels = nifti(&[16, 16, 2], 2, 8, &[0; 512]);
        std::fs::write(nan_set.join(format!("segmentation-{v}.nii")), labels).unwrap();
    }
    b.refuses(
        "train: NaN in a CT volume",
        &t(&["--data", "nan-set"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &["nan-set/volume-", "NaN", "finite"],
    );

    // --resume over a checkpoint of another preset, and over a damaged checkpoint.
    std::fs::create_dir(b.path("run")).unwrap();
    let run = hepaseg::train::checkpoint::Checkpoint {
        meta: [
            ("model", "agcaf-net"),
            ("preset", "tiny-cpm"),
            ("fingerprint", "0123456789abcdef"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        params: vec![("x".into(), vec![1], vec![0.0])],
        ..Default::default()
    };
    run.save(&b.path("run/last.safetensors")).unwrap();
    b.refuses(
        "train --resume: checkpoint of another preset",
        &t(&["--data", "data", "--resume", "--max-steps", "1"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &["run/last.safetensors", "tiny-cpm", "not agcaf-net tiny"],
    );
    b.write("run/last.safetensors", b"\x08\0\0\0\0\0\0\0{}garbage");
    b.refuses(
        "train --resume: damaged checkpoint",
        &t(&["--data", "data", "--resume", "--max-steps", "1"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &["run/last.safetensors"],
    );
}

#[test]
fn segment_refusals() {
    let b = bench();
    let seg = |blob: &'static str, input: &'static str, extra: &[&'static str]| {
        let mut v = vec![
            "segment", "--engine", "f32", "--blob", blob, input, "--out", "out",
        ];
        v.extend_from_slice(extra);
        v
    };
    // The positive control of signed-only loading: a good signature is accepted.
    b.ok(&seg("signed.hseg", "slice.png", &["--pubkey", "k.pub"]));
    std::fs::remove_dir_all(b.path("out")).ok();
    std::fs::remove_file(b.path("out")).ok();

    let cases: Vec<(&str, Vec<&str>, &[&str])> = vec![
        (
            "segment: input missing",
            seg("a.hseg", "nowhere.png", &[]),
            &["nowhere.png", "no such file"],
        ),
        (
            "segment: blob missing",
            seg("nowhere.hseg", "slice.png", &[]),
            &["nowhere.hseg", "cannot read"],
        ),
        (
            "segment: blob is a key file",
            seg("k.pub", "slice.png", &[]),
            &["k.pub", "not a hepaseg weight blob"],
        ),
        (
            "segment: blob relabelled as another preset",
            seg("other-preset.hseg", "slice.png", &[]),
            &["other-preset.hseg", "fingerprint"],
        ),
        (
            "segment: truncated PNG",
            seg("a.hseg", "cut.png", &[]),
            &["cut.png"],
        ),
        (
            "segment: NaN voxel in a NIfTI volume",
            seg("a.hseg", "nan.nii", &[]),
            &["nan.nii", "NaN", "finite"],
        ),
        (
            "segment: infinite voxel in a NIfTI volume",
            seg("a.hseg", "inf.nii", &[]),
            &["inf.nii", "inf", "finite"],
        ),
        (
            "segment: 4-D NIfTI",
            seg("a.hseg", "four-d.nii", &[]),
            &["four-d.nii", "4-D"],
        ),
        (
            "segment: unsupported NIfTI datatype",
            seg("a.hseg", "complex.nii", &[]),
            &["complex.nii", "datatype 32"],
        ),
        (
            "segment: truncated NIfTI",
            seg("a.hseg", "short.nii", &[]),
            &["short.nii", "truncated"],
        ),
        (
            "segment: DICOM length field claiming 3.6 GB",
            seg("a.hseg", "huge-length.dcm", &[]),
            &["huge-length.dcm", "(9400,BB00) declares 3623931648 bytes"],
        ),
        (
            "segment: the read_dicom fuzzer's out-of-memory input",
            seg("a.hseg", "fuzzed.dcm", &[]),
            &["fuzzed.dcm", "(9400,BB00) declares 3623931648 bytes"],
        ),
        (
            "segment: the read_dicom fuzzer's unknown-VR out-of-memory input",
            seg("a.hseg", "fuzzed-vr.dcm", &[]),
            &["fuzzed-vr.dcm", "(0601,E701) declares 4043372800 bytes"],
        ),
        (
            "segment --pubkey: unsigned blob",
            seg("a.hseg", "slice.png", &["--pubkey", "k.pub"]),
            &["a.hseg", "unsigned"],
        ),
        (
            "segment --pubkey: tampered signature",
            seg("bad-sig.hseg", "slice.png", &["--pubkey", "k.pub"]),
            &["bad-sig.hseg", "signature invalid"],
        ),
        (
            "segment --pubkey: tampered body, CRC recomputed",
            seg("forged.hseg", "slice.png", &["--pubkey", "k.pub"]),
            &["forged.hseg", "signature invalid"],
        ),
        (
            "segment --pubkey: another signer's key",
            seg("signed.hseg", "slice.png", &["--pubkey", "other.pub"]),
            &["signed.hseg", "signature invalid"],
        ),
        (
            "segment: --threshold NaN",
            seg("a.hseg", "slice.png", &["--threshold", "NaN"]),
            &["--threshold"],
        ),
        (
            "segment: --window 250,-200 (reversed)",
            seg("a.hseg", "slice.png", &["--window", "250,-200"]),
            &["--window", "lo < hi"],
        ),
    ];
    for (case, args, needles) in &cases {
        b.refuses(case, args, needles);
    }
}

#[test]
fn eval_export_synth_keygen_refusals() {
    let b = bench();
    for d in ["pred", "gt", "pred4"] {
        std::fs::create_dir(b.path(d)).unwrap();
    }
    b.write("pred/c.nii", &nifti(&[8, 16, 2], 2, 8, &[0; 256]));
    b.write("gt/c.nii", &nifti(&[16, 16, 2], 2, 8, &[0; 512]));
    b.write("pred4/c.nii", &nifti(&[16, 16, 2, 2], 2, 8, &[0; 1024]));
    let ck = "data/volume-0_1.png";
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "eval: NIfTI prediction and truth differ in size",
            &["eval", "--pred-dir", "pred", "--gt-dir", "gt"],
            &["pred/c.nii", "gt/c.nii", "8×16×2"],
        ),
        (
            "eval: 4-D NIfTI prediction",
            &["eval", "--pred-dir", "pred4", "--gt-dir", "gt"],
            &["pred4/c.nii", "4-D"],
        ),
        (
            "eval: --spacing 0,1,1",
            &[
                "eval",
                "--pred-dir",
                "pred",
                "--gt-dir",
                "gt",
                "--spacing",
                "0,1,1",
            ],
            &["--spacing", "positive"],
        ),
        (
            "eval --blob: blob missing",
            &["eval", "--blob", "nowhere.hseg", "--data", "data"],
            &["nowhere.hseg"],
        ),
        (
            "eval --blob: dataset is an empty folder",
            &[
                "eval", "--engine", "f32", "--blob", "a.hseg", "--data", "empty",
            ],
            &["empty", "unknown dataset layout"],
        ),
        (
            "eval --blob: --threshold NaN",
            &[
                "eval",
                "--engine",
                "f32",
                "--blob",
                "a.hseg",
                "--data",
                "data",
                "--threshold",
                "NaN",
            ],
            &["--threshold"],
        ),
        (
            "export --checkpoint: a blob instead of a checkpoint",
            &[
                "export",
                "--checkpoint",
                "a.hseg",
                "--model",
                "agcaf-net",
                "--out",
                "x.hseg",
            ],
            &["a.hseg", "not a safetensors file"],
        ),
        (
            "export --checkpoint: missing",
            &[
                "export",
                "--checkpoint",
                "nowhere.safetensors",
                "--model",
                "agcaf-net",
                "--out",
                "x.hseg",
            ],
            &["nowhere.safetensors"],
        ),
        (
            "export --quantize: --calib-slices 0",
            &[
                "export",
                "--random-init",
                "--model",
                "agcaf-net",
                "--quantize",
                "int8",
                "--calib",
                "data",
                "--calib-slices",
                "0",
                "--out",
                "x.hseg",
            ],
            &["--calib-slices"],
        ),
        (
            "export --quantize: --calib is an empty folder",
            &[
                "export",
                "--random-init",
                "--model",
                "agcaf-net",
                "--quantize",
                "int8",
                "--calib",
                "empty",
                "--out",
                "x.hseg",
            ],
            &["empty", "unknown dataset layout"],
        ),
        (
            "export --quantize: --calib is a PNG",
            &[
                "export",
                "--random-init",
                "--model",
                "agcaf-net",
                "--quantize",
                "int8",
                "--calib",
                ck,
                "--out",
                "x.hseg",
            ],
            &["volume-0_1.png", "is a file"],
        ),
        (
            "synth: --size 0",
            &["synth", "--out", "s", "--size", "0"],
            &["size 0"],
        ),
        (
            "synth: --volumes 0",
            &["synth", "--out", "s", "--volumes", "0"],
            &["volume"],
        ),
        (
            "synth: --out is a non-empty folder",
            &["synth", "--out", "data", "--volumes", "1"],
            &["data", "not empty"],
        ),
        (
            "synth: --out below a regular file",
            &["synth", "--out", "afile/s", "--volumes", "1"],
            &["afile/s"],
        ),
        (
            "keygen: --out in a missing folder",
            &["keygen", "--out", "nowhere/k"],
            &["nowhere", "does not exist"],
        ),
    ];
    for (case, args, needles) in cases {
        b.refuses(case, args, needles);
    }
}
