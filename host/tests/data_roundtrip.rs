//! A synthesised phantom set read back through every reader: lits-png with its CSV, lits-png
//! paired by file name, LiTS NIfTI and MSD must all give the same slices.

use hepaseg::data::csv::Table;
use hepaseg::data::nifti_read::{read_labels, read_volume};
use hepaseg::data::png_io::{read_image, read_mask};
use hepaseg::data::{synth, DataConfig, Dataset, Layout, Sample, SliceFilter, Window};
use std::path::{Path, PathBuf};

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hepaseg-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn all_samples(ds: &Dataset) -> Vec<Sample> {
    (0..ds.len()).map(|i| ds.load(i).unwrap()).collect()
}

/// Masks must agree exactly; images within half an 8-bit step (PNG stores the window rounded).
fn assert_same(a: &[Sample], b: &[Sample], image_tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: slice count");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.id, y.id, "{what}: order");
        assert_eq!(x.labels, y.labels, "{what}: labels of {:?}", x.id);
        let worst = x
            .image
            .iter()
            .zip(&y.image)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= image_tol, "{what}: {:?} differs by {worst}", x.id);
    }
}

#[test]
fn every_reader_gives_the_same_slices() {
    let tmp = Scratch::new("roundtrip");
    let out = &tmp.0;
    let report = synth(out, 3, 32, 4, 2024).unwrap();
    assert_eq!((report.volumes, report.slices, report.size), (3, 4, 32));
    assert!(report.liver_slices > 0);

    for size in [32, 24] {
        let cfg = DataConfig::new(size);
        let png = Dataset::open(out, cfg.clone()).unwrap();
        assert_eq!(png.layout(), Layout::LitsPng);
        assert_eq!(png.len(), 12);
        assert_eq!(png.studies(), vec![0, 1, 2]);
        let nifti = Dataset::open(&report.nifti_dir, cfg.clone()).unwrap();
        assert_eq!(nifti.layout(), Layout::LitsNifti);
        // The MSD folder is found one level up too.
        let msd = Dataset::open(&out.join("msd"), cfg.clone()).unwrap();
        assert_eq!(msd.layout(), Layout::Msd);
        assert_eq!(msd.root(), report.msd_dir.as_path());

        let (a, b, c) = (all_samples(&png), all_samples(&nifti), all_samples(&msd));
        assert!(a.iter().all(|s| s.image.len() == size * size));
        assert_same(&b, &c, 0.0, "NIfTI vs MSD");
        assert_same(&a, &b, 0.5 / 255.0 + 1e-6, "lits-png vs NIfTI");
    }

    // Exactly: the PNG grey level is the NIfTI HU windowed and rounded.
    let window = Window::default();
    for study in 0..3u32 {
        let ct = read_volume(&report.nifti_dir.join(format!("volume-{study}.nii"))).unwrap();
        let seg = read_labels(&report.nifti_dir.join(format!("segmentation-{study}.nii"))).unwrap();
        assert_eq!(ct.geometry().spacing, [360.0 / 32.0, 360.0 / 32.0, 5.0]);
        for z in 0..4 {
            let (_, _, img) = read_image(&out.join(format!("volume-{study}_{z}.png"))).unwrap();
            let expect: Vec<f32> = ct
                .slice(z)
                .iter()
                .map(|&hu| f32::from(window.to_u8(hu)) / 255.0)
                .collect();
            assert_eq!(img, expect, "study {study} slice {z}");
            let (_, _, liver) =
                read_mask(&out.join(format!("segmentation-{study}_livermask_{z}.png"))).unwrap();
            let (_, _, lesion) =
                read_mask(&out.join(format!("segmentation-{study}_lesionmask_{z}.png"))).unwrap();
            for (i, &l) in seg.slice(z).iter().enumerate() {
                assert_eq!(liver[i], l >= 1);
                assert_eq!(lesion[i], l == 2);
            }
        }
    }

    // The CSV carries Kaggle's inverted flags: "empty" is True when the mask has pixels.
    let table = Table::read(&out.join("lits_df.csv")).unwrap();
    let (fp, flag) = (
        table.column("filepath").unwrap(),
        table.column("liver_mask_empty").unwrap(),
    );
    let png = Dataset::open(out, DataConfig::new(32)).unwrap();
    for (_, row) in table.rows() {
        let name = &row[fp];
        let (study, z) = name
            .trim_start_matches("volume-")
            .trim_end_matches(".png")
            .split_once('_')
            .unwrap();
        let idx = png
            .ids()
            .iter()
            .position(|id| id.study.to_string() == study && id.instance.to_string() == z)
            .unwrap();
        let has_liver = png.load(idx).unwrap().labels.iter().any(|&l| l > 0);
        assert_eq!(row[flag] == "True", has_liver, "{name}");
    }

    // Without the CSV the slices are paired by file name, with the same result.
    let with_csv = all_samples(&png);
    std::fs::remove_file(out.join("lits_df.csv")).unwrap();
    let by_name = Dataset::open(out, DataConfig::new(32)).unwrap();
    assert_same(&with_csv, &all_samples(&by_name), 0.0, "CSV vs file names");
}

#[test]
fn synth_is_deterministic_and_refuses_a_used_folder() {
    let (a, b) = (Scratch::new("synth-a"), Scratch::new("synth-b"));
    synth(&a.0, 2, 16, 2, 7).unwrap();
    synth(&b.0, 2, 16, 2, 7).unwrap();
    for rel in [
        "volume-1_1.png",
        "segmentation-0_lesionmask_0.png",
        "lits_df.csv",
        "nifti/volume-1.nii",
        "msd/Task03_Liver/dataset.json",
        "msd/Task03_Liver/labelsTr/liver_0.nii.gz",
    ] {
        let read = |root: &Path| std::fs::read(root.join(rel)).unwrap();
        assert_eq!(read(&a.0), read(&b.0), "{rel}");
    }
    let e = synth(&a.0, 2, 16, 2, 7).unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
}

/// 2.5D (issue 9): with 3 channels every reader gives each slice with the slices before and
/// after it in the same patient, the first and last slice repeating themselves (clamped ends),
/// the labels of the centre slice — also for a filtered (tumour-only) subset, whose neighbours
/// come from the whole folder. An even slice count is refused.
#[test]
fn three_channel_samples_are_the_slice_and_its_clamped_neighbours() {
    let tmp = Scratch::new("stack");
    let out = &tmp.0;
    let report = synth(out, 2, 16, 24, 77).unwrap();
    for root in [
        out.clone(),
        report.nifti_dir.clone(),
        report.msd_dir.clone(),
    ] {
        let one = Dataset::open(&root, DataConfig::new(16)).unwrap();
        let three = Dataset::open(&root, DataConfig::new(16).with_channels(3)).unwrap();
        let flat = all_samples(&one);
        let plane = |study: u32, z: u32| -> &[f32] {
            let s = flat
                .iter()
                .find(|s| s.id.study == study && s.id.instance == z);
            &s.expect("slice present").image
        };
        let check = |s: &Sample| {
            let (st, z) = (s.id.study, s.id.instance);
            // by hand: 24 slices per patient, neighbours z − 1 and z + 1 clamped to 0..=23
            let (before, after) = (z.saturating_sub(1), (z + 1).min(23));
            let want: Vec<f32> = [before, z, after]
                .iter()
                .flat_map(|&q| plane(st, q).to_vec())
                .collect();
            assert_eq!(s.image, want, "{}: {:?}", root.display(), s.id);
            assert_eq!((s.channels(), s.centre()), (3, plane(st, z)));
            let centre = flat.iter().find(|f| f.id == s.id).unwrap();
            assert_eq!(s.labels, centre.labels);
        };
        let all = all_samples(&three);
        assert_eq!(all.len(), 48);
        all.iter().for_each(check);
        let ends = all
            .iter()
            .filter(|s| s.id.instance == 0 || s.id.instance == 23);
        for s in ends {
            let n = 16 * 16;
            let (c0, c1, c2) = (&s.image[..n], &s.image[n..2 * n], &s.image[2 * n..]);
            assert!(if s.id.instance == 0 {
                c0 == c1
            } else {
                c2 == c1
            });
        }
        let tumour = three.filter(SliceFilter::WithTumor).unwrap();
        assert!(
            tumour.len() < all.len() && !tumour.is_empty(),
            "{} of {} slices with tumour",
            tumour.len(),
            all.len()
        );
        all_samples(&tumour).iter().for_each(check);
    }
    let e = Dataset::open(out, DataConfig::new(16).with_channels(2)).unwrap_err();
    assert!(e.to_string().contains("odd number of slices"), "{e}");
}
