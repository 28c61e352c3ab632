//! `hepaseg segment` end to end through the real binary: a synthetic phantom (`synth`) and a
//! seed-initialised tiny blob (`export --random-init`) segmented as a PNG slice, a PNG
//! directory, a NIfTI volume and the real DICOM file; every mask equals the library pipeline
//! (window → bilinear resize → core `forward_flat` → threshold → nearest resize back) computed
//! here, the engine's logits equal `forward_flat` bit for bit, outputs keep the input's
//! geometry, and failures exit 2 naming the file with nothing written. The int8 engine (the
//! default; blobs from `export --quantize int8`) equals core's `forward_int8_flat`
//! dequantized, for both networks and every tiny preset, and `--tta` equals the average of
//! flipped forwards computed here by hand.

use hepaseg::core::blob::{Blob, BlobParams, SignaturePolicy};
use hepaseg::core::nets::{agcaf::AgcafTiny, cafct::CafctTiny, Int8Network, Network};
use hepaseg::data::nifti_read::{read_info, read_labels, read_volume};
use hepaseg::data::png_io::read_image;
use hepaseg::data::resample::resize_nearest;
use hepaseg::data::Window;
use hepaseg::registry::Model;
use hepaseg::segment::predict::preprocess;
use hepaseg::segment::{load_engine, maybe_tta, postprocess, BlobFile, EngineKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CT_SMALL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/CT_small.dcm"
);

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

/// A phantom (one volume, 80×80 so that every slice is resized to the network's 64×64 and
/// back, 6 slices) and blobs of AGCAF-Net tiny (tumour) and CAFCT-Net tiny (liver).
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    blob: PathBuf,
    liver_blob: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let data = root.join("phantom");
    ok(&[
        "synth",
        "--out",
        s(&data),
        "--volumes",
        "1",
        "--size",
        "80",
        "--slices",
        "6",
        "--seed",
        "3",
    ]);
    let blob = root.join("tumour.hseg");
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
    let liver_blob = root.join("liver.hseg");
    ok(&[
        "export",
        "--random-init",
        "--model",
        "cafct-net",
        "--preset",
        "tiny",
        "--seed",
        "2",
        "--out",
        s(&liver_blob),
    ]);
    Fixture {
        _tmp: tmp,
        root,
        data,
        blob,
        liver_blob,
    }
}

/// `forward_flat` of AGCAF-Net tiny with the blob's parameters, straight from core.
fn core_logits(blob: &Path, input: &[f32]) -> Vec<f32> {
    let file = BlobFile::read(blob).unwrap();
    let params =
        BlobParams::from_bytes::<AgcafTiny>(file.bytes(), SignaturePolicy::Optional).unwrap();
    let mut arena = vec![0u64; AgcafTiny::ARENA_BYTES.div_ceil(8)];
    let bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut arena)[..AgcafTiny::ARENA_BYTES];
    AgcafTiny::forward_flat(&params, input, bytes)
        .unwrap()
        .to_vec()
}

/// The mask the pipeline should produce for one slice of `[0, 1]` intensities.
fn expected_mask(blob: &Path, image: &[f32], w: usize, h: usize, threshold: f32) -> Vec<bool> {
    let logits = core_logits(blob, &preprocess(image, w, h, [64, 64]));
    let small: Vec<bool> = logits.iter().map(|&v| v > threshold).collect();
    resize_nearest(&small, 64, 64, w, h)
}

/// A threshold splitting a slice's logits in half, so masks are neither empty nor full.
fn median_logit(blob: &Path, image: &[f32], w: usize, h: usize) -> f32 {
    let mut l = core_logits(blob, &preprocess(image, w, h, [64, 64]));
    l.sort_by(f32::total_cmp);
    l[l.len() / 2]
}

fn mask_png(path: &Path) -> Vec<bool> {
    let img = image::open(path).unwrap().to_luma8();
    assert!(
        img.as_raw().iter().all(|&v| v == 0 || v == 255),
        "{path:?} is not 0/255"
    );
    img.as_raw().iter().map(|&v| v == 255).collect()
}

#[test]
fn engine_logits_equal_forward_flat() {
    let f = fixture();
    let (w, h, image) = read_image(&f.data.join("volume-0_3.png")).unwrap();
    let input = preprocess(&image, w, h, [64, 64]);
    let file = BlobFile::read(&f.blob).unwrap();
    let mut net = load_engine(&file, EngineKind::F32, None).unwrap();
    assert_eq!(net.input_hw(), [64, 64]);
    assert_eq!(net.describe(), "agcaf-net tiny (f32 engine)");
    let mut logits = Vec::new();
    net.infer(&input, &mut logits).unwrap();
    let want = core_logits(&f.blob, &input);
    assert_eq!(logits.len(), 64 * 64);
    assert!(logits.iter().all(|v| v.is_finite()));
    assert!(logits
        .iter()
        .zip(&want)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    // The same arena serves the next slice: same input, same bits.
    net.infer(&input, &mut logits).unwrap();
    assert!(logits
        .iter()
        .zip(&want)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    let e = load_engine(&file, EngineKind::Int8, None).err().unwrap();
    assert!(
        e.contains("an f32 blob") && e.contains("--engine f32"),
        "{e}"
    );
}

#[test]
fn png_slice_and_directory() {
    let f = fixture();
    let png = f.data.join("volume-0_3.png");
    let (w, h, image) = read_image(&png).unwrap();
    assert_eq!((w, h), (80, 80));
    let thr = median_logit(&f.blob, &image, w, h);
    let thr_arg = format!("--threshold={thr}");
    let out = f.root.join("one");
    let report = ok(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        s(&f.blob),
        s(&png),
        "--out",
        s(&out),
        &thr_arg,
        "--overlay",
    ]);
    assert!(report.contains("agcaf-net tiny (f32 engine)"), "{report}");
    assert!(
        report.contains("ms/slice") && report.contains("8-connected"),
        "{report}"
    );
    let got = mask_png(&out.join("volume-0_3.png"));
    let want = expected_mask(&f.blob, &image, w, h, thr);
    assert_eq!(got, want);
    let n = want.iter().filter(|&&v| v).count();
    assert!(n > 0 && n < w * h, "threshold should split the slice: {n}");
    // Tumour count: 8-connected components of the mask.
    let count = hepaseg::segment::components::label(&want, [w, h, 1])
        .sizes
        .len();
    assert!(
        report.contains(&format!("volume-0_3.png: {count} tumour(s), {n} pixels")),
        "{report}"
    );
    let overlay = image::open(out.join("overlays/volume-0_3.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(overlay.dimensions(), (80, 80));

    // A directory of slices: one mask per slice, same names.
    let dir = f.root.join("slices");
    std::fs::create_dir_all(&dir).unwrap();
    for i in [1, 2, 4] {
        let name = format!("volume-0_{i}.png");
        std::fs::copy(f.data.join(&name), dir.join(&name)).unwrap();
    }
    let out = f.root.join("many");
    let report = ok(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        s(&f.blob),
        s(&dir),
        "--out",
        s(&out),
        &thr_arg,
    ]);
    assert!(report.contains("3 PNG slices"), "{report}");
    for i in [1, 2, 4] {
        let name = format!("volume-0_{i}.png");
        let (w, h, image) = read_image(&dir.join(&name)).unwrap();
        assert_eq!(
            mask_png(&out.join(&name)),
            expected_mask(&f.blob, &image, w, h, thr),
            "{name}"
        );
    }
    assert!(!out.join("overlays").exists());
}

#[test]
fn nifti_volume_keeps_geometry() {
    let f = fixture();
    let input = f.data.join("nifti/volume-0.nii");
    let ct = read_volume(&input).unwrap();
    let [w, h, d] = ct.dims();
    let window = Window::default();
    let plane = |z: usize| -> Vec<f32> { ct.slice(z).iter().map(|&v| window.apply(v)).collect() };
    let thr = median_logit(&f.blob, &plane(d / 2), w, h);
    let out = f.root.join("seg/mask.nii.gz");
    let report = ok(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        s(&f.blob),
        s(&input),
        "--out",
        s(&out),
        &format!("--threshold={thr}"),
        "--overlay",
    ]);
    let (src, dst) = (read_info(&input).unwrap(), read_info(&out).unwrap());
    assert_eq!(dst.dims, src.dims);
    assert_eq!(dst.geometry, src.geometry);
    let labels = read_labels(&out).unwrap();
    assert!(labels.data().iter().all(|&l| l <= 1));
    let mut want = Vec::new();
    for z in 0..d {
        let m = expected_mask(&f.blob, &plane(z), w, h, thr);
        assert_eq!(
            labels.slice(z),
            m.iter().map(|&v| u8::from(v)).collect::<Vec<_>>(),
            "slice {z}"
        );
        want.extend(m);
    }
    let c = postprocess(want, None, [w, h, d], 0);
    assert!(!c.components.is_empty());
    assert!(
        report.contains(&format!("tumours: {} (3D 26-connected", c.components.len())),
        "{report}"
    );
    let voxels: usize = c.components.iter().sum();
    let sp = src.geometry.spacing;
    let ml = voxels as f64 * f64::from(sp[0]) * f64::from(sp[1]) * f64::from(sp[2]) / 1000.0;
    assert!(
        report.contains(&format!("{voxels} voxels = {ml:.3} mL")),
        "{report}"
    );
    let pics = std::fs::read_dir(f.root.join("seg/mask_overlay"))
        .unwrap()
        .count();
    assert_eq!(pics, d);

    // Liver cascade and small-component removal, against the library's post-processing. The
    // liver threshold splits the (untrained) liver network's logits so that the liver has
    // several components and the cascade really cuts.
    let file = BlobFile::read(&f.liver_blob).unwrap();
    let mut liver_net = load_engine(&file, EngineKind::F32, None).unwrap();
    let mut logits = Vec::new();
    liver_net
        .infer(&preprocess(&plane(d / 2), w, h, [64, 64]), &mut logits)
        .unwrap();
    let mut sorted = logits.clone();
    sorted.sort_by(f32::total_cmp);
    let liver_thr = sorted[sorted.len() * 3 / 5];
    let out = f.root.join("cascade.nii");
    let report = ok(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        s(&f.blob),
        s(&input),
        "--out",
        s(&out),
        &format!("--threshold={thr}"),
        "--liver-blob",
        s(&f.liver_blob),
        &format!("--liver-threshold={liver_thr}"),
        "--min-size",
        "5",
    ]);
    assert!(report.contains("liver cascade: cafct-net tiny"), "{report}");
    let labels = read_labels(&out).unwrap();
    let (mut tumour, mut liver) = (Vec::new(), Vec::new());
    for z in 0..d {
        tumour.extend(expected_mask(&f.blob, &plane(z), w, h, thr));
        liver_net
            .infer(&preprocess(&plane(z), w, h, [64, 64]), &mut logits)
            .unwrap();
        let small: Vec<bool> = logits.iter().map(|&v| v > liver_thr).collect();
        liver.extend(resize_nearest(&small, 64, 64, w, h));
    }
    let raw_liver = liver.iter().filter(|&&v| v).count();
    let raw_tumour = tumour.iter().filter(|&&v| v).count();
    let c = postprocess(tumour, Some(liver), [w, h, d], 5);
    let kept_liver = c.liver.as_ref().unwrap().iter().filter(|&&v| v).count();
    let kept_tumour = c.tumour.iter().filter(|&&v| v).count();
    assert!(
        0 < kept_liver && kept_liver < raw_liver,
        "{kept_liver} of {raw_liver}"
    );
    assert!(
        0 < kept_tumour && kept_tumour < raw_tumour,
        "{kept_tumour} of {raw_tumour}"
    );
    let want: Vec<u8> = c
        .tumour
        .iter()
        .zip(c.liver.as_ref().unwrap())
        .map(|(&t, &l)| if t { 2 } else { u8::from(l) })
        .collect();
    assert_eq!(labels.data(), &want[..]);
}

#[test]
fn real_dicom_series() {
    let f = fixture();
    let dir = f.root.join("dicom");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(CT_SMALL, dir.join("IM0001")).unwrap();
    let series = hepaseg::dicom::read_series(&dir).unwrap();
    let window = Window::default();
    let plane: Vec<f32> = series
        .volume
        .slice(0)
        .iter()
        .map(|&v| window.apply(v))
        .collect();
    let thr = median_logit(&f.blob, &plane, 128, 128);
    let out = f.root.join("ct_mask.nii.gz");
    let report = ok(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        s(&f.blob),
        s(&dir),
        "--out",
        s(&out),
        &format!("--threshold={thr}"),
    ]);
    assert!(
        report.contains("DICOM series 128×128×1, voxel 0.661×0.661×5.000 mm"),
        "{report}"
    );
    assert!(report.contains("mL"), "{report}");
    let info = read_info(&out).unwrap();
    assert_eq!(info.dims, [128, 128, 1]);
    let g = &info.geometry;
    assert_eq!(g.spacing, [0.661468, 0.661468, 5.0]);
    // DICOM LPS origin (−158.135803, −179.035797, −75.699997) in RAS, as f32.
    let ras = [158.135803f64, 179.035797, -75.699997].map(|v| v as f32);
    assert_eq!(g.qoffset, ras);
    assert_eq!(g.srow[0], [-0.661468, 0.0, 0.0, ras[0]]);
    assert_eq!(g.srow[2], [0.0, 0.0, 5.0, ras[2]]);
    assert_eq!((g.qform_code, g.sform_code), (1, 1));
    let labels = read_labels(&out).unwrap();
    let want = expected_mask(&f.blob, &plane, 128, 128, thr);
    assert_eq!(
        labels.data(),
        want.iter().map(|&v| u8::from(v)).collect::<Vec<_>>()
    );
    // A single DICOM file works as a one-slice series too.
    let out2 = f.root.join("single.nii");
    ok(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        s(&f.blob),
        CT_SMALL,
        "--out",
        s(&out2),
        &format!("--threshold={thr}"),
    ]);
    assert_eq!(read_labels(&out2).unwrap().data(), labels.data());
}

/// Entries of `dir`, to see that nothing was left behind.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn failures_name_the_file_and_write_nothing() {
    let f = fixture();
    let png = f.data.join("volume-0_3.png");
    let nii = f.data.join("nifti/volume-0.nii");
    let blob = s(&f.blob);
    let scratch = f.root.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();

    // Unwritable output: a directory below a regular file.
    let blocker = scratch.join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        blob,
        s(&png),
        "--out",
        s(&blocker.join("masks")),
    ]);
    assert!(err.contains("blocker"), "{err}");
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        blob,
        s(&nii),
        "--out",
        s(&blocker.join("m.nii.gz")),
    ]);
    assert!(err.contains("m.nii.gz"), "{err}");
    assert_eq!(listing(&scratch), ["blocker"]);

    // A corrupt slice in a directory: nothing is written, not even the good slices' masks.
    let dir = scratch.join("slices");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&png, dir.join("a.png")).unwrap();
    std::fs::write(dir.join("b.png"), b"not a png").unwrap();
    let out = scratch.join("out");
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        blob,
        s(&dir),
        "--out",
        s(&out),
    ]);
    assert!(err.contains("b.png"), "{err}");
    assert!(!out.exists());

    // Inputs that are not images.
    let txt = scratch.join("notes.txt");
    std::fs::write(&txt, b"hello").unwrap();
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        blob,
        s(&txt),
        "--out",
        s(&out),
    ]);
    assert!(
        err.contains("notes.txt") && err.contains("unrecognised input"),
        "{err}"
    );
    let empty = scratch.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        blob,
        s(&empty),
        "--out",
        s(&out),
    ]);
    assert!(err.contains("empty directory"), "{err}");
    // DICOM without pixel data: CT_small cut right before its (7FE0,0010) element.
    let dcm = scratch.join("dcm");
    std::fs::create_dir_all(&dcm).unwrap();
    let bytes = std::fs::read(CT_SMALL).unwrap();
    std::fs::write(dcm.join("nopixels.dcm"), &bytes[..6288]).unwrap();
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        blob,
        s(&dcm),
        "--out",
        s(&scratch.join("x.nii")),
    ]);
    assert!(
        err.contains("nopixels.dcm") && err.contains("without pixel data"),
        "{err}"
    );
    // Truncated pixel data.
    std::fs::write(dcm.join("nopixels.dcm"), &bytes[..20000]).unwrap();
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        blob,
        s(&dcm),
        "--out",
        s(&scratch.join("x.nii")),
    ]);
    assert!(err.contains("nopixels.dcm"), "{err}");

    // A volume needs a NIfTI output name; an f32 blob on the default (int8) engine; a damaged
    // blob.
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        blob,
        s(&nii),
        "--out",
        s(&scratch.join("mask")),
    ]);
    assert!(err.contains(".nii.gz"), "{err}");
    let err = fails(&["segment", "--blob", blob, s(&png), "--out", s(&out)]);
    assert!(
        err.contains("tumour.hseg: an f32 blob")
            && err.contains("int8 engine (the default) needs an int8 blob")
            && err.contains("--engine f32"),
        "{err}"
    );
    let mut damaged = std::fs::read(&f.blob).unwrap();
    damaged[200] ^= 0x40;
    let bad = scratch.join("bad.hseg");
    std::fs::write(&bad, damaged).unwrap();
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        s(&bad),
        s(&png),
        "--out",
        s(&out),
    ]);
    assert!(
        err.contains("bad.hseg") && err.contains("invalid weight blob"),
        "{err}"
    );
    assert!(!out.exists());
    assert!(!scratch.join("x.nii").exists());
}

/// An int8 blob of `model` tiny (`preset`), seed-initialised and quantized on the fixture's
/// phantom with `export --quantize int8`.
fn int8_blob(f: &Fixture, model: &str, preset: &str, seed: &str) -> PathBuf {
    let out = f.root.join(format!("{model}-{preset}-int8.hseg"));
    ok(&[
        "export",
        "--random-init",
        "--model",
        model,
        "--preset",
        preset,
        "--seed",
        seed,
        "--quantize",
        "int8",
        "--calib",
        s(&f.data),
        "--calib-slices",
        "3",
        "--report-slices",
        "1",
        "--out",
        s(&out),
    ]);
    out
}

/// Core's int8 forward pass of `N` on `input`, dequantized.
fn core_int8<N: Int8Network>(blob: &Path, input: &[f32]) -> Vec<f32> {
    let file = BlobFile::read(blob).unwrap();
    let b = Blob::for_network::<N>(file.bytes(), SignaturePolicy::Optional).unwrap();
    let mut arena = vec![0u64; N::ARENA_BYTES_INT8.div_ceil(8)];
    let bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut arena)[..N::ARENA_BYTES_INT8];
    let (q, quant) = N::forward_int8_flat(&b, input, bytes).unwrap();
    q.iter().map(|&v| quant.dequantize(v)).collect()
}

/// `v` (n × n) mirrored left–right and/or top–bottom.
fn mirrored(v: &[f32], n: usize, lr: bool, tb: bool) -> Vec<f32> {
    (0..n * n)
        .map(|i| {
            let (y, x) = (i / n, i % n);
            let y = if tb { n - 1 - y } else { y };
            let x = if lr { n - 1 - x } else { x };
            v[y * n + x]
        })
        .collect()
}

/// The flip average by hand: forward of each flipped input, flipped back, summed in the
/// order identity, left–right, top–bottom, both, then × 0.25.
fn tta_by_hand(forward: impl Fn(&[f32]) -> Vec<f32>, input: &[f32], n: usize) -> Vec<f32> {
    let mut sum: Vec<f32> = Vec::new();
    for (lr, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let back = mirrored(&forward(&mirrored(input, n, lr, tb)), n, lr, tb);
        if sum.is_empty() {
            sum = back;
        } else {
            sum.iter_mut().zip(&back).for_each(|(s, b)| *s += b);
        }
    }
    sum.iter().map(|v| v * 0.25).collect()
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn int8_engine_and_tta_equal_core_on_both_networks() {
    let f = fixture();
    let (w, h, image) = read_image(&f.data.join("volume-0_3.png")).unwrap();
    let input = preprocess(&image, w, h, [64, 64]);
    let agcaf8 = int8_blob(&f, "agcaf-net", "tiny", "1");
    let cafct8 = int8_blob(&f, "cafct-net", "tiny", "2");
    type Core = fn(&Path, &[f32]) -> Vec<f32>;
    let cases: [(&Path, EngineKind, &str, Core); 4] = [
        (
            &agcaf8,
            EngineKind::Int8,
            "agcaf-net tiny (int8 engine)",
            core_int8::<AgcafTiny>,
        ),
        (
            &cafct8,
            EngineKind::Int8,
            "cafct-net tiny (int8 engine)",
            core_int8::<CafctTiny>,
        ),
        (
            &f.blob,
            EngineKind::F32,
            "agcaf-net tiny (f32 engine)",
            core_logits,
        ),
        (
            &f.liver_blob,
            EngineKind::F32,
            "cafct-net tiny (f32 engine)",
            |b, x| {
                let file = BlobFile::read(b).unwrap();
                let p =
                    BlobParams::from_bytes::<CafctTiny>(file.bytes(), SignaturePolicy::Optional)
                        .unwrap();
                let mut arena = vec![0u64; CafctTiny::ARENA_BYTES.div_ceil(8)];
                let bytes =
                    &mut bytemuck::cast_slice_mut::<u64, u8>(&mut arena)[..CafctTiny::ARENA_BYTES];
                CafctTiny::forward_flat(&p, x, bytes).unwrap().to_vec()
            },
        ),
    ];
    for (blob, kind, name, core) in cases {
        let file = BlobFile::read(blob).unwrap();
        let mut net = load_engine(&file, kind, None).unwrap();
        assert_eq!(net.describe(), name);
        let want = core(blob, &input);
        assert_eq!(want.len(), 64 * 64);
        let distinct: std::collections::BTreeSet<u32> = want.iter().map(|v| v.to_bits()).collect();
        assert!(distinct.len() > 10, "{name}: logits nearly constant");
        let mut logits = Vec::new();
        for _ in 0..2 {
            // The same arena serves the next slice: same input, same bits.
            net.infer(&input, &mut logits).unwrap();
            assert!(same_bits(&logits, &want), "{name}");
        }
        // Flip TTA: the hand-made average, deterministic, and not the plain forward.
        let mut tta = maybe_tta(net, true);
        assert_eq!(tta.describe(), format!("{name} with flip TTA (×4)"));
        let want_tta = tta_by_hand(|x| core(blob, x), &input, 64);
        for _ in 0..2 {
            tta.infer(&input, &mut logits).unwrap();
            assert!(same_bits(&logits, &want_tta), "{name} TTA");
        }
        assert!(!same_bits(&want_tta, &want), "{name}: TTA changed nothing");
    }
    // The blob's scheme must match the engine.
    let file = BlobFile::read(&agcaf8).unwrap();
    let e = load_engine(&file, EngineKind::F32, None).err().unwrap();
    assert!(
        e.contains("an int8 blob") && e.contains("--engine int8"),
        "{e}"
    );

    // Through the binary: the default engine is int8; --tta thresholds the flip average.
    let thr = {
        let mut l = core_int8::<AgcafTiny>(&agcaf8, &input);
        l.sort_by(f32::total_cmp);
        l[l.len() / 2]
    };
    let png = f.data.join("volume-0_3.png");
    for tta in [false, true] {
        let out = f.root.join(format!("int8-tta-{tta}"));
        let mut args = vec!["segment", "--blob", s(&agcaf8), s(&png), "--out", s(&out)];
        let thr_arg = format!("--threshold={thr}");
        args.push(&thr_arg);
        if tta {
            args.push("--tta");
        }
        let report = ok(&args);
        let desc = if tta {
            "agcaf-net tiny (int8 engine) with flip TTA (×4)"
        } else {
            "agcaf-net tiny (int8 engine)"
        };
        assert!(report.contains(desc), "{report}");
        let logits = if tta {
            tta_by_hand(|x| core_int8::<AgcafTiny>(&agcaf8, x), &input, 64)
        } else {
            core_int8::<AgcafTiny>(&agcaf8, &input)
        };
        let small: Vec<bool> = logits.iter().map(|&v| v > thr).collect();
        let want = resize_nearest(&small, 64, 64, w, h);
        let n = want.iter().filter(|&&v| v).count();
        assert!(n > 0 && n < w * h, "threshold should split the slice: {n}");
        assert_eq!(mask_png(&out.join("volume-0_3.png")), want, "tta {tta}");
    }
    let err = fails(&[
        "segment",
        "--engine",
        "f32",
        "--blob",
        s(&agcaf8),
        s(&png),
        "--out",
        s(&f.root.join("never")),
    ]);
    assert!(err.contains("an int8 blob"), "{err}");
    assert!(!f.root.join("never").exists());
}

/// Every tiny preset (the ablations and the 2.5D one too) of both networks runs on the int8
/// engine through the registry's dispatch: right network, one 64×64 logit map, finite and not
/// constant.
#[test]
fn int8_engine_runs_every_tiny_preset() {
    let f = fixture();
    let (w, h, image) = read_image(&f.data.join("volume-0_3.png")).unwrap();
    let input = preprocess(&image, w, h, [64, 64]);
    for model in [Model::AgcafNet, Model::CafctNet] {
        for preset in hepaseg::registry::presets(model) {
            if !preset.starts_with("tiny") {
                continue;
            }
            let blob = int8_blob(&f, model.name(), preset, "4");
            let file = BlobFile::read(&blob).unwrap();
            let mut net = load_engine(&file, EngineKind::Int8, None).unwrap();
            assert_eq!(
                net.describe(),
                format!("{} {preset} (int8 engine)", model.name())
            );
            assert_eq!(net.output_shape(), [1, 64, 64]);
            // a 2.5D preset takes the slice with its neighbours: here three copies
            let stacked = input.repeat(net.input_channels());
            let mut logits = Vec::new();
            net.infer(&stacked, &mut logits).unwrap();
            assert_eq!(logits.len(), 64 * 64);
            assert!(logits.iter().all(|v| v.is_finite()));
            let lo = logits.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert!(hi > lo, "{} {preset}: constant logits", model.name());
        }
    }
}
