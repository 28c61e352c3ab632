//! `hepaseg eval --pred-dir/--gt-dir` through the real binary, on hand-made masks whose
//! metrics are derived below; JSON/CSV contents; overlays; and every bad input (missing
//! counterpart, size mismatch, empty directory) an exit status 2 naming the file. A network
//! on a dataset split: an f32 blob, an int8 blob (the default engine; its pooled counts equal
//! core's int8 forward computed here), and a training checkpoint (`--checkpoint`, host f32:
//! the same masks as its exported f32 blob), with and without `--tta`.

use hepaseg::data::nifti_write::write_labels;
use hepaseg::data::{Geometry, Volume};
use serde_json::Value;
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
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

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

/// An 8×8 mask with rows `r0..r1`, columns `c0..c1` set.
fn square(r0: usize, r1: usize, c0: usize, c1: usize) -> Vec<bool> {
    (0..64)
        .map(|i| (r0..r1).contains(&(i / 8)) && (c0..c1).contains(&(i % 8)))
        .collect()
}

/// Grey PNG with foreground value `on`.
fn grey(path: &Path, m: &[bool], on: u8) {
    let px: Vec<u8> = m.iter().map(|&v| if v { on } else { 0 }).collect();
    image::GrayImage::from_raw(8, 8, px)
        .unwrap()
        .save(path)
        .unwrap();
}

/// RGB PNG with foreground colour (200, 0, 0).
fn rgb(path: &Path, m: &[bool]) {
    let px: Vec<u8> = m
        .iter()
        .flat_map(|&v| if v { [200, 0, 0] } else { [0, 0, 0] })
        .collect();
    image::RgbImage::from_raw(8, 8, px)
        .unwrap()
        .save(path)
        .unwrap();
}

struct Dirs {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    pred: std::path::PathBuf,
    gt: std::path::PathBuf,
}

/// Three cases:
/// * `a.png`: truth = the 4×4 square rows 2..6 × cols 2..6 (0/1 grey); prediction = the same
///   square one column to the right (0/255 grey). tp = 4·3 = 12, fp = fn = 4:
///   Dice = 24/32 = 0.75, IoU = 12/20 = 0.6, precision = recall = 0.75.
///   Surfaces (square minus its 4-neighbour erosion, the inner 2×2) have 12 pixels each.
///   Prediction → truth: rows 2 and 5 at cols 3..5 lie on the truth's surface (0); col 6 of
///   rows 2, 5 and the side pixels (3,3), (4,3), (3,6), (4,6) are 1 away: six 0s, six 1s.
///   Truth → prediction is the mirror image: six 0s, six 1s. ASSD = 12/24 = 0.5,
///   Hausdorff = 1, HD95 (numpy linear, 24 values, index 0.95·23 = 21.85 → both 1) = 1.
/// * `b.png`: both empty (RGB): every overlap metric 1, distances 0 (LiTS policy).
/// * `c.png`: truth = 2×2 square rows 1..3 × cols 1..3 (RGB), prediction empty: Dice = IoU =
///   precision = recall = 0, RVD = (0 − 4)/4 = −1, distances 0 (LiTS policy).
///
/// Per-case mean Dice = (0.75 + 1 + 0)/3 = 0.583333, IoU = (0.6 + 1 + 0)/3 = 0.533333.
/// Global: tp = 12, fp = 4, fn = 4 + 4 = 8: Dice = 24/36 = 0.666667, IoU = 12/24 = 0.5;
/// only `a` has surfaces, so pooled ASSD = 0.5 and HD95 = 1.
fn cases() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let (pred, gt) = (root.join("pred"), root.join("gt"));
    std::fs::create_dir_all(&pred).unwrap();
    std::fs::create_dir_all(&gt).unwrap();
    grey(&gt.join("a.png"), &square(2, 6, 2, 6), 1);
    grey(&pred.join("a.png"), &square(2, 6, 3, 7), 255);
    rgb(&gt.join("b.png"), &[false; 64]);
    rgb(&pred.join("b.png"), &[false; 64]);
    rgb(&gt.join("c.png"), &square(1, 3, 1, 3));
    grey(&pred.join("c.png"), &[false; 64], 255);
    Dirs {
        _tmp: tmp,
        root,
        pred,
        gt,
    }
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}

#[test]
fn png_masks_reproduce_hand_derived_metrics() {
    let d = cases();
    let json = d.root.join("out/eval.json");
    let csv = d.root.join("out/eval.csv");
    let table = ok(&[
        "eval",
        "--pred-dir",
        s(&d.pred),
        "--gt-dir",
        s(&d.gt),
        "--json",
        s(&json),
        "--csv",
        s(&csv),
    ]);
    assert!(
        table.contains("Dice") && table.contains("mIoU") && table.contains("HD95"),
        "{table}"
    );
    assert!(
        table.contains("0.5833") && table.contains("0.6667"),
        "{table}"
    );
    assert!(table.contains("pixels"), "{table}");

    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["mode"], "png");
    assert!(v["volumes"].is_null());
    let rows = v["slices"]["cases"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let a = &rows[0];
    assert_eq!(a["case"], "a.png");
    close(&a["dice"], 0.75);
    close(&a["iou"], 0.6);
    close(&a["precision"], 0.75);
    close(&a["recall"], 0.75);
    close(&a["assd"], 0.5);
    close(&a["hausdorff"], 1.0);
    close(&a["hd95"], 1.0);
    assert_eq!(a["confusion"]["tp"], 12);
    assert_eq!(a["confusion"]["fn"], 4);
    assert_eq!(a["pred_surface_voxels"], 12);
    let b = &rows[1];
    for k in ["dice", "iou", "precision", "recall"] {
        close(&b[k], 1.0);
    }
    close(&b["assd"], 0.0);
    let c = &rows[2];
    close(&c["dice"], 0.0);
    close(&c["rvd"], -1.0);
    close(&c["hd95"], 0.0);
    let agg = &v["slices"]["aggregate"];
    assert_eq!(agg["cases"], 3);
    close(&agg["per_case_mean"]["dice"], 1.75 / 3.0);
    close(&agg["per_case_mean"]["iou"], 1.6 / 3.0);
    close(&agg["global"]["dice"], 24.0 / 36.0);
    close(&agg["global"]["iou"], 0.5);
    close(&agg["global"]["assd"], 0.5);
    close(&agg["global"]["hd95"], 1.0);
    assert_eq!(agg["surface_cases_pooled"], 1);

    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("level,case,slice,dice,iou"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("slice,a.png,,0.75,0.6,"),
        "{}",
        lines[1]
    );
    let c_row: Vec<&str> = lines[3].split(',').collect();
    assert_eq!(&c_row[..4], ["slice", "c.png", "", "0"]);
    assert_eq!(c_row[6], "-1"); // rvd
    assert_eq!(c_row[18], "voxel");
}

#[test]
fn spacing_scales_distances_and_policy_changes_empty_cases() {
    let d = cases();
    let json = d.root.join("e.json");
    ok(&[
        "eval",
        "--pred-dir",
        s(&d.pred),
        "--gt-dir",
        s(&d.gt),
        "--spacing",
        "3,0.5,0.5",
        "--empty-policy",
        "skip",
        "--json",
        s(&json),
    ]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = &v["slices"]["cases"];
    close(&rows[0]["assd"], 0.25);
    close(&rows[0]["hausdorff"], 0.5);
    assert!(rows[1]["assd"].is_null() && rows[2]["hd95"].is_null());
    // Skipped cases leave the mean: only `a` counts.
    close(&v["slices"]["aggregate"]["per_case_mean"]["assd"], 0.25);
    assert_eq!(rows[0]["unit"], "physical");
}

#[test]
fn overlays_of_worst_and_best_with_ct() {
    let d = cases();
    let images = d.root.join("ct");
    std::fs::create_dir_all(&images).unwrap();
    for n in ["a.png", "b.png", "c.png"] {
        let ramp: Vec<u8> = (0..64u8).map(|i| i * 4).collect();
        image::GrayImage::from_raw(8, 8, ramp)
            .unwrap()
            .save(images.join(n))
            .unwrap();
    }
    let out = d.root.join("pictures");
    let text = ok(&[
        "eval",
        "--pred-dir",
        s(&d.pred),
        "--gt-dir",
        s(&d.gt),
        "--overlays",
        s(&out),
        "--worst",
        "1",
        "--best",
        "1",
        "--images",
        s(&images),
    ]);
    assert!(text.contains("2 overlay(s)"), "{text}");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // `b` (both empty) does not compete; `c` (Dice 0) is worst, `a` (0.75) best.
    assert_eq!(names, ["best-01-a.png", "worst-01-c.png"]);
    let pic = image::open(out.join("best-01-a.png")).unwrap().to_rgb8();
    assert_eq!(pic.dimensions(), (8, 8));
    let px = |x: u32, y: u32| pic.get_pixel(x, y).0;
    let tp = px(3, 3); // both
    let fn_ = px(2, 3); // truth only
    let fp = px(6, 3); // prediction only
    assert!(tp[0] > tp[2] + 60 && tp[1] > tp[2] + 60, "{tp:?}");
    assert!(fn_[1] > fn_[0] + 60 && fn_[1] > fn_[2] + 60, "{fn_:?}");
    assert!(fp[0] > fp[1] + 60 && fp[0] > fp[2] + 60, "{fp:?}");
    let bg = px(0, 7); // CT grey shows through: value 56·4 = 224
    assert_eq!(bg, [224, 224, 224]);
}

#[test]
fn nifti_volumes_with_label_selection_and_header_spacing() {
    let tmp = tempfile::tempdir().unwrap();
    let (pred, gt) = (tmp.path().join("p"), tmp.path().join("g"));
    std::fs::create_dir_all(&pred).unwrap();
    std::fs::create_dir_all(&gt).unwrap();
    // 4×4×3 volumes, x fastest; spacing (x, y, z) = (0.8, 0.8, 2.5) mm.
    // Truth: liver (1) on slice 0 everywhere, tumour (2) at x,y ∈ 1..3 on slices 1 and 2
    // (8 voxels). Prediction: tumour at x,y ∈ 1..3 on slice 1 only (4 voxels), no liver.
    let g = Geometry::with_spacing([0.8, 0.8, 2.5]);
    let vol = |f: &dyn Fn(usize, usize, usize) -> u8| {
        let mut v = Vec::new();
        for z in 0..3 {
            for y in 0..4 {
                for x in 0..4 {
                    v.push(f(x, y, z));
                }
            }
        }
        Volume::new([4, 4, 3], v, g.clone()).unwrap()
    };
    let inner = |x: usize, y: usize| (1..3).contains(&x) && (1..3).contains(&y);
    let truth = vol(&|x, y, z| match z {
        0 => 1,
        _ if inner(x, y) => 2,
        _ => 0,
    });
    let guess = vol(&|x, y, z| if z == 1 && inner(x, y) { 2 } else { 0 });
    write_labels(&gt.join("case.nii.gz"), &truth).unwrap();
    write_labels(&pred.join("case.nii.gz"), &guess).unwrap();
    let json = tmp.path().join("n.json");
    ok(&[
        "eval",
        "--pred-dir",
        s(&pred),
        "--gt-dir",
        s(&gt),
        "--label",
        "2",
        "--json",
        s(&json),
    ]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["mode"], "nifti");
    let vol_row = &v["volumes"]["cases"][0];
    // Tumour: tp = 4, fn = 4, fp = 0: Dice = 8/12, IoU = 4/8, recall 0.5, precision 1.
    close(&vol_row["dice"], 8.0 / 12.0);
    close(&vol_row["iou"], 0.5);
    close(&vol_row["precision"], 1.0);
    assert_eq!(vol_row["dims"], serde_json::json!([3, 4, 4]));
    assert_eq!(vol_row["spacing"][0].as_f64().unwrap(), 2.5);
    assert_eq!(vol_row["unit"], "physical");
    let slices = v["slices"]["cases"].as_array().unwrap();
    assert_eq!(slices.len(), 3);
    close(&slices[0]["dice"], 1.0); // both empty of tumour
    close(&slices[1]["dice"], 1.0);
    close(&slices[2]["dice"], 0.0);
    assert_eq!(slices[2]["slice"], 2);
    // Default label ≥ 1: the truth also has 16 liver voxels on slice 0: tp 4, fn 20.
    let json2 = tmp.path().join("all.json");
    ok(&[
        "eval",
        "--pred-dir",
        s(&pred),
        "--gt-dir",
        s(&gt),
        "--json",
        s(&json2),
    ]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json2).unwrap()).unwrap();
    close(&v["volumes"]["cases"][0]["dice"], 8.0 / 28.0);
}

#[test]
fn bad_inputs_name_the_file() {
    let d = cases();
    // A prediction is missing.
    std::fs::remove_file(d.pred.join("c.png")).unwrap();
    let err = fails(&["eval", "--pred-dir", s(&d.pred), "--gt-dir", s(&d.gt)]);
    assert!(
        err.contains("c.png") && err.contains("missing prediction"),
        "{err}"
    );
    // An extra prediction without truth.
    grey(&d.pred.join("c.png"), &[false; 64], 255);
    grey(&d.pred.join("z.png"), &[false; 64], 255);
    let err = fails(&["eval", "--pred-dir", s(&d.pred), "--gt-dir", s(&d.gt)]);
    assert!(
        err.contains("z.png") && err.contains("missing ground truth"),
        "{err}"
    );
    std::fs::remove_file(d.pred.join("z.png")).unwrap();
    // Size mismatch.
    image::GrayImage::new(9, 8)
        .save(d.pred.join("b.png"))
        .unwrap();
    let err = fails(&["eval", "--pred-dir", s(&d.pred), "--gt-dir", s(&d.gt)]);
    assert!(
        err.contains("b.png") && err.contains("9×8") && err.contains("8×8"),
        "{err}"
    );
    // Not a PNG at all.
    std::fs::write(d.pred.join("b.png"), b"hello").unwrap();
    let err = fails(&["eval", "--pred-dir", s(&d.pred), "--gt-dir", s(&d.gt)]);
    assert!(err.contains("b.png"), "{err}");
    // Empty ground-truth directory.
    let empty = d.root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = fails(&["eval", "--pred-dir", s(&d.pred), "--gt-dir", s(&empty)]);
    assert!(
        err.contains("empty") && err.contains("no ground-truth masks"),
        "{err}"
    );
    // --label is for NIfTI; no mode at all; a JSON path that cannot be written (and then
    // nothing is written).
    rgb(&d.pred.join("b.png"), &[false; 64]);
    let err = fails(&[
        "eval",
        "--pred-dir",
        s(&d.pred),
        "--gt-dir",
        s(&d.gt),
        "--label",
        "2",
    ]);
    assert!(err.contains("--label"), "{err}");
    let err = fails(&["eval"]);
    assert!(err.contains("--pred-dir"), "{err}");
    let blocker = d.root.join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let csv = d.root.join("fine.csv");
    let err = fails(&[
        "eval",
        "--pred-dir",
        s(&d.pred),
        "--gt-dir",
        s(&d.gt),
        "--csv",
        s(&csv),
        "--json",
        s(&blocker.join("x.json")),
    ]);
    assert!(err.contains("x.json"), "{err}");
    assert!(!csv.exists(), "half of the output was written");
}

#[test]
fn blob_on_a_dataset_split() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("phantom");
    ok(&[
        "synth",
        "--out",
        s(&data),
        "--volumes",
        "3",
        "--size",
        "64",
        "--slices",
        "4",
        "--seed",
        "5",
    ]);
    let blob = tmp.path().join("m.hseg");
    ok(&[
        "export",
        "--random-init",
        "--model",
        "agcaf-net",
        "--preset",
        "tiny",
        "--seed",
        "1",
        "--out",
        s(&blob),
    ]);
    let json = tmp.path().join("all.json");
    let table = ok(&[
        "eval",
        "--engine",
        "f32",
        "--blob",
        s(&blob),
        "--data",
        s(&data),
        "--split",
        "all",
        "--json",
        s(&json),
        "--overlays",
        s(&tmp.path().join("ov")),
        "--worst",
        "1",
        "--best",
        "1",
    ]);
    assert!(
        table.contains("agcaf-net tiny (f32 engine)") && table.contains("ms/slice"),
        "{table}"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["mode"], "dataset");
    assert_eq!(v["slices"]["cases"].as_array().unwrap().len(), 12);
    let vols = v["volumes"]["cases"].as_array().unwrap();
    assert_eq!(vols.len(), 3);
    assert_eq!(vols[0]["case"], "study-0");
    assert_eq!(vols[0]["dims"], serde_json::json!([4, 64, 64]));
    // The test split holds whole patients: one of three (8:1:1 rounds to 1).
    let json = tmp.path().join("test.json");
    ok(&[
        "eval",
        "--engine",
        "f32",
        "--blob",
        s(&blob),
        "--data",
        s(&data),
        "--json",
        s(&json),
    ]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["volumes"]["cases"].as_array().unwrap().len(), 1);
    assert_eq!(v["slices"]["cases"].as_array().unwrap().len(), 4);
    let err = fails(&[
        "eval",
        "--engine",
        "f32",
        "--blob",
        s(&blob),
        "--data",
        s(&tmp.path().join("nothing")),
    ]);
    assert!(err.contains("nothing"), "{err}");
}

/// Core's int8 forward of AGCAF-Net tiny on every slice of `data` (liver target): the
/// dequantized logits and the labels of each slice.
fn core_int8_logits(blob: &Path, data: &Path) -> Vec<(Vec<f32>, Vec<u8>)> {
    use hepaseg::core::blob::{Blob, SignaturePolicy};
    use hepaseg::core::nets::{agcaf::AgcafTiny, Int8Network};
    use hepaseg::data::{DataConfig, Dataset, Target};
    let file = hepaseg::segment::BlobFile::read(blob).unwrap();
    let b = Blob::for_network::<AgcafTiny>(file.bytes(), SignaturePolicy::Optional).unwrap();
    let mut arena = vec![0u64; AgcafTiny::ARENA_BYTES_INT8.div_ceil(8)];
    let ds = Dataset::open(data, DataConfig::new(64).with_target(Target::Liver)).unwrap();
    (0..ds.len())
        .map(|i| {
            let sample = ds.load(i).unwrap();
            let bytes =
                &mut bytemuck::cast_slice_mut::<u64, u8>(&mut arena)[..AgcafTiny::ARENA_BYTES_INT8];
            let (q, quant) = AgcafTiny::forward_int8_flat(&b, &sample.image, bytes).unwrap();
            let logits = q.iter().map(|&v| quant.dequantize(v)).collect();
            (logits, sample.labels)
        })
        .collect()
}

/// Pooled `(tp, fp, fn)` of `logit > threshold` against liver labels.
fn counts(slices: &[(Vec<f32>, Vec<u8>)], threshold: f32) -> (u64, u64, u64) {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (logits, labels) in slices {
        for (&v, &l) in logits.iter().zip(labels) {
            match (v > threshold, l != 0) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                (false, false) => {}
            }
        }
    }
    (tp, fp, fn_)
}

fn global_counts(json: &Path) -> (u64, u64, u64) {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let c = &v["slices"]["aggregate"]["global_confusion"];
    let n = |k: &str| c[k].as_u64().unwrap();
    (n("tp"), n("fp"), n("fn"))
}

/// A phantom (3 patients × 4 slices), a run of `hepaseg train` (2 epochs × 2 steps, liver),
/// and its best checkpoint exported as an f32 and an int8 blob.
struct Trained {
    tmp: tempfile::TempDir,
    data: std::path::PathBuf,
    run: std::path::PathBuf,
    b32: std::path::PathBuf,
    b8: std::path::PathBuf,
}

fn trained() -> Trained {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let (data, run, b32, b8) = (p("phantom"), p("run"), p("f32.hseg"), p("int8.hseg"));
    ok(&[
        "synth",
        "--out",
        s(&data),
        "--volumes",
        "3",
        "--size",
        "64",
        "--slices",
        "4",
        "--seed",
        "5",
    ]);
    ok(&[
        "train",
        "--data",
        s(&data),
        "--model",
        "agcaf-net",
        "--preset",
        "tiny",
        "--out",
        s(&run),
        "--epochs",
        "2",
        "--batch",
        "2",
        "--optimizer",
        "adam",
        "--lr",
        "5e-3",
        "--target",
        "liver",
        "--quiet",
    ]);
    let ckpt = run.join("best.safetensors");
    ok(&[
        "export",
        "--model",
        "agcaf-net",
        "--checkpoint",
        s(&ckpt),
        "--out",
        s(&b32),
    ]);
    ok(&[
        "export",
        "--model",
        "agcaf-net",
        "--checkpoint",
        s(&ckpt),
        "--quantize",
        "int8",
        "--calib",
        s(&data),
        "--calib-slices",
        "4",
        "--report-slices",
        "2",
        "--target",
        "liver",
        "--out",
        s(&b8),
    ]);
    Trained {
        tmp,
        data,
        run,
        b32,
        b8,
    }
}

#[test]
fn int8_blob_and_checkpoint_on_a_split_with_tta() {
    let t = trained();
    let p = |name: &str| t.tmp.path().join(name);
    let (data, b32, b8) = (&t.data, &t.b32, &t.b8);
    let ckpt = t.run.join("best.safetensors");
    // Two steps leave the network far from trained: threshold at the 70th percentile of the
    // int8 logits so that the masks are neither empty nor full.
    let core8 = core_int8_logits(b8, data);
    let mut all: Vec<f32> = core8.iter().flat_map(|(l, _)| l.iter().copied()).collect();
    all.sort_by(f32::total_cmp);
    let thr = all[all.len() * 7 / 10];
    let thr_arg = format!("--threshold={thr}");
    let eval = |net: &[&str], tta: bool, json: &Path| -> String {
        let mut args = vec!["eval", thr_arg.as_str()];
        args.extend_from_slice(net);
        args.extend_from_slice(&["--data", s(data), "--split", "all", "--target", "liver"]);
        args.extend_from_slice(&["--json", s(json)]);
        if tta {
            args.push("--tta");
        }
        ok(&args)
    };
    // int8 (the default engine): exactly core's int8 masks.
    let j8 = p("int8.json");
    let table = eval(&["--blob", s(b8)], false, &j8);
    assert!(table.contains("agcaf-net tiny (int8 engine)"), "{table}");
    let c8 = global_counts(&j8);
    assert_eq!(c8, counts(&core8, thr));
    assert!(c8.0 > 0 && c8.1 > 0, "masks empty or perfect: {c8:?}");

    // The checkpoint on the host equals its f32 blob on core (logits within ~1e-7 relative:
    // at most a handful of pixels at the threshold may differ), with and without TTA.
    for tta in [false, true] {
        let (jc, jb) = (p(&format!("ck-{tta}.json")), p(&format!("b32-{tta}.json")));
        let table = eval(&["--checkpoint", s(&ckpt)], tta, &jc);
        assert!(
            table.contains("agcaf-net tiny (host f32, checkpoint step "),
            "{table}"
        );
        assert_eq!(table.contains("with flip TTA (×4)"), tta, "{table}");
        eval(&["--engine", "f32", "--blob", s(b32)], tta, &jb);
        let (c, b) = (global_counts(&jc), global_counts(&jb));
        let diff = c.0.abs_diff(b.0) + c.1.abs_diff(b.1) + c.2.abs_diff(b.2);
        assert!(diff <= 8, "checkpoint {c:?} vs f32 blob {b:?} (tta {tta})");
        assert!(c.0 > 0 && c.1 > 0, "masks empty or perfect: {c:?}");
    }

    // Refusals name the file.
    let err = fails(&[
        "eval",
        "--checkpoint",
        s(&p("none.safetensors")),
        "--data",
        s(data),
    ]);
    assert!(err.contains("none.safetensors"), "{err}");
    std::fs::write(p("bad.safetensors"), b"not a checkpoint").unwrap();
    let err = fails(&[
        "eval",
        "--checkpoint",
        s(&p("bad.safetensors")),
        "--data",
        s(data),
    ]);
    assert!(err.contains("bad.safetensors"), "{err}");
    let err = fails(&["eval", "--pred-dir", s(data), "--gt-dir", s(data), "--tta"]);
    assert!(err.contains("--tta") && err.contains("--data"), "{err}");
    let err = fails(&["eval", "--data", s(data)]);
    assert!(
        err.contains("--blob") && err.contains("--checkpoint"),
        "{err}"
    );
    let err = fails(&["eval", "--blob", s(b32), "--data", s(data)]);
    assert!(err.contains("f32.hseg: an f32 blob"), "{err}");
}

fn global_dice(json: &Path) -> f64 {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    v["slices"]["aggregate"]["global"]["dice"].as_f64().unwrap()
}

#[test]
fn report_curves_summary_and_f32_vs_int8() {
    let t = trained();
    let p = |name: &str| t.tmp.path().join(name);
    // `train` wrote its configuration and the curves at each epoch end.
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(t.run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["target"], "liver");
    assert_eq!(config["epochs"], 2);
    let pic = image::open(t.run.join("curves.png")).unwrap().to_rgb8();
    assert_eq!(pic.dimensions(), (960, 720));
    std::fs::remove_file(t.run.join("curves.png")).unwrap();

    let out = p("report");
    let md = ok(&["report", s(&t.run), "--blob", s(&t.b8), "--out", s(&out)]);
    let written = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.starts_with(&written), "printed and written differ");
    // Progress: the best epoch of metrics.csv.
    let csv = std::fs::read_to_string(t.run.join("metrics.csv")).unwrap();
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 2);
    let best = if rows[1][3] > rows[0][3] {
        &rows[1]
    } else {
        &rows[0]
    };
    let want = format!(
        "2 epoch(s), 4 step(s). Best epoch {} (step {}): validation Dice {:.4}",
        best[0], best[1], best[3]
    );
    assert!(written.contains(&want), "{want}\n{written}");
    assert!(written.contains("| preset | `tiny` |"), "{written}");
    assert!(written.contains("| optimizer | `adam` |"), "{written}");
    assert!(
        written.contains("| loss | (network default) |"),
        "{written}"
    );
    assert!(written.contains("| schedule | `poly` |"), "{written}");
    assert!(written.contains("| max_steps | (no limit) |"), "{written}");
    // f32 vs int8 on the validation split, as `eval` computes each of them.
    let (jc, j8) = (p("ck.json"), p("i8.json"));
    let ckpt = t.run.join("best.safetensors");
    for (net, json) in [
        (["--checkpoint", s(&ckpt)], &jc),
        (["--blob", s(&t.b8)], &j8),
    ] {
        let mut args = vec!["eval"];
        args.extend_from_slice(&net);
        args.extend_from_slice(&["--data", s(&t.data), "--split", "val", "--target", "liver"]);
        args.extend_from_slice(&["--json", s(json)]);
        ok(&args);
    }
    let (d32, d8) = (global_dice(&jc), global_dice(&j8));
    let want = format!("| int8 (core) | agcaf-net tiny (int8 engine) | {d8:.4} |");
    assert!(written.contains(&want), "{want}\n{written}");
    assert!(
        written.contains(&format!("| {d32:.4} |")),
        "{d32}\n{written}"
    );
    assert!(
        written.contains("Val split: 4 slices, 16384 pixels"),
        "{written}"
    );
    assert!(written.contains("mask pixel agreement"), "{written}");
    let pic = image::open(out.join("curves.png")).unwrap().to_rgb8();
    assert_eq!(pic.dimensions(), (960, 720));
    assert!(
        pic.pixels().any(|px| px.0 == [20, 90, 200]),
        "no Dice curve drawn"
    );
    assert!(!t.run.join("curves.png").exists(), "--out is respected");

    // Refusals: no metrics.csv; a blob of another network; nothing written.
    let empty = p("empty-run");
    std::fs::create_dir_all(&empty).unwrap();
    let err = fails(&["report", s(&empty)]);
    assert!(err.contains("metrics.csv"), "{err}");
    assert!(!empty.join("report.md").exists());
    let other = p("cafct.hseg");
    ok(&[
        "export",
        "--random-init",
        "--model",
        "cafct-net",
        "--preset",
        "tiny",
        "--quantize",
        "int8",
        "--calib",
        s(&t.data),
        "--calib-slices",
        "2",
        "--report-slices",
        "1",
        "--out",
        s(&other),
    ]);
    let out2 = p("report2");
    let err = fails(&["report", s(&t.run), "--blob", s(&other), "--out", s(&out2)]);
    assert!(
        err.contains("cafct.hseg") && err.contains("agcaf-net tiny"),
        "{err}"
    );
    assert!(!out2.join("report.md").exists());
}

/// Issue 5's criterion on a trained network, the run of docs/inference.md: a tiny AGCAF-Net
/// trained on 16 phantom patients (liver), its best checkpoint on the host in f32 against its
/// int8 blob on core, on the validation patients: Dice differs by ≤ 0.01 and ≥ 99 % of the
/// mask pixels agree (measured: −0.0051 and 99.59 %).
#[test]
#[ignore = "trains for 6 epochs (several minutes on a CPU); run with -- --ignored"]
fn int8_matches_f32_on_a_trained_network() {
    use hepaseg::data::Target;
    use hepaseg::eval::dataset::open_split;
    use hepaseg::eval::SplitChoice;
    use hepaseg::segment::host_engine::CheckpointNet;
    use hepaseg::segment::{load_engine, BlobFile, EngineKind};
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let (data, run, b8) = (p("ph16"), p("run"), p("l8.hseg"));
    ok(&[
        "synth",
        "--out",
        s(&data),
        "--volumes",
        "16",
        "--size",
        "64",
        "--slices",
        "24",
        "--seed",
        "11",
    ]);
    ok(&[
        "train",
        "--data",
        s(&data),
        "--model",
        "agcaf-net",
        "--preset",
        "tiny",
        "--target",
        "liver",
        "--epochs",
        "6",
        "--batch",
        "4",
        "--optimizer",
        "adam",
        "--lr",
        "3e-3",
        "--loss",
        "bce-dice",
        "--seed",
        "1",
        "--out",
        s(&run),
        "--quiet",
    ]);
    let ckpt = run.join("best.safetensors");
    ok(&[
        "export",
        "--model",
        "agcaf-net",
        "--checkpoint",
        s(&ckpt),
        "--quantize",
        "int8",
        "--calib",
        s(&data),
        "--target",
        "liver",
        "--out",
        s(&b8),
    ]);
    let mut f32_net = CheckpointNet::load(&ckpt).unwrap();
    let blob = BlobFile::read(&b8).unwrap();
    let mut int8_net = load_engine(&blob, EngineKind::Int8, None).unwrap();
    let val = open_split(&data, 64, 1, Target::Liver, SplitChoice::Val, 1).unwrap();
    let a = hepaseg::report::compare::run(&mut f32_net, int8_net.as_mut(), &val, Target::Liver)
        .unwrap();
    let (d32, d8) = (a.f32.dice(), a.int8.dice());
    eprintln!(
        "val: {} slices, Dice f32 {d32:.4}, int8 {d8:.4} ({:+.4}), agreement {:.4} %",
        a.slices,
        d8 - d32,
        100.0 * a.agreement()
    );
    assert!(d32 > 0.8, "the network did not learn the liver: {d32}");
    assert!((d8 - d32).abs() <= 0.01, "{d32} vs {d8}");
    assert!(a.agreement() >= 0.99, "{}", a.agreement());
}
