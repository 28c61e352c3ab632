//! Broken and unusual datasets: each failure is the right `DataError` variant and names the
//! file; the Kaggle mask flavours (0/1, 0/255, grey, RGB) and 16-bit / RGB images decode.

use hepaseg::data::lits_nifti::write_pair;
use hepaseg::data::png_io::write_grey8;
use hepaseg::data::{DataConfig, DataError, Dataset, Geometry, Volume};
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
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(e: &DataError, file: &str) {
    assert!(e.to_string().contains(file), "`{e}` does not name {file}");
}

/// A 4×4 lits-png slice: image ramp, liver in the left half, lesion at pixel (1, 1).
fn write_slice(dir: &Path, study: u32, z: u32) {
    let img: Vec<u8> = (0..16).map(|i| i as u8 * 16).collect();
    let liver: Vec<u8> = (0..16).map(|i| if i % 4 < 2 { 255 } else { 0 }).collect();
    let mut lesion = vec![0u8; 16];
    lesion[5] = 255;
    write_grey8(&dir.join(format!("volume-{study}_{z}.png")), 4, 4, &img).unwrap();
    write_grey8(
        &dir.join(format!("segmentation-{study}_livermask_{z}.png")),
        4,
        4,
        &liver,
    )
    .unwrap();
    write_grey8(
        &dir.join(format!("segmentation-{study}_lesionmask_{z}.png")),
        4,
        4,
        &lesion,
    )
    .unwrap();
}

const EXPECTED_LABELS: [u8; 16] = [1, 1, 0, 0, 1, 2, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0];

#[test]
fn mask_and_image_flavours_decode_alike() {
    let dir = Scratch::new("flavours");
    write_slice(&dir.0, 0, 0);
    // Slice 1: 16-bit grey image, 0/1 liver mask, RGB lesion mask (red only).
    let img16: Vec<u16> = (0..16).map(|i| i as u16 * 16 * 257).collect();
    image::ImageBuffer::<image::Luma<u16>, _>::from_raw(4, 4, img16)
        .unwrap()
        .save(dir.path("volume-0_1.png"))
        .unwrap();
    let liver01: Vec<u8> = (0..16).map(|i| u8::from(i % 4 < 2)).collect();
    write_grey8(&dir.path("segmentation-0_livermask_1.png"), 4, 4, &liver01).unwrap();
    let mut rgb = vec![0u8; 48];
    rgb[15] = 200;
    image::RgbImage::from_raw(4, 4, rgb)
        .unwrap()
        .save(dir.path("segmentation-0_lesionmask_1.png"))
        .unwrap();
    // Slice 2: RGB image (grey in three channels).
    let rgb_img: Vec<u8> = (0..16).flat_map(|i| [i as u8 * 16; 3]).collect();
    image::RgbImage::from_raw(4, 4, rgb_img)
        .unwrap()
        .save(dir.path("volume-0_2.png"))
        .unwrap();
    std::fs::copy(
        dir.path("segmentation-0_livermask_0.png"),
        dir.path("segmentation-0_livermask_2.png"),
    )
    .unwrap();
    std::fs::copy(
        dir.path("segmentation-0_lesionmask_0.png"),
        dir.path("segmentation-0_lesionmask_2.png"),
    )
    .unwrap();

    let ds = Dataset::open(&dir.0, DataConfig::new(4)).unwrap();
    assert_eq!(ds.len(), 3);
    let s: Vec<_> = (0..3).map(|i| ds.load(i).unwrap()).collect();
    for x in &s {
        assert_eq!(x.labels, EXPECTED_LABELS, "{:?}", x.id);
    }
    for i in 0..16 {
        let v = i as f32 * 16.0 / 255.0;
        assert!((s[0].image[i] - v).abs() < 1e-6);
        assert!((s[1].image[i] - v).abs() < 1e-6, "16-bit");
        assert!((s[2].image[i] - v).abs() < 1e-6, "RGB");
    }
}

#[test]
fn broken_lits_png_sets() {
    let dir = Scratch::new("png-broken");
    write_slice(&dir.0, 3, 0);
    write_slice(&dir.0, 3, 1);

    // Corrupt image: the dataset opens, loading that slice fails naming it.
    std::fs::write(dir.path("volume-3_1.png"), b"\x89PNG\r\n\x1a\ngarbage").unwrap();
    let ds = Dataset::open(&dir.0, DataConfig::new(4)).unwrap();
    ds.load(0).unwrap();
    let e = ds.load(1).unwrap_err();
    assert!(matches!(e, DataError::CorruptPng { .. }), "{e}");
    names(&e, "volume-3_1.png");
    write_slice(&dir.0, 3, 1);

    // Mask of another size.
    write_grey8(&dir.path("segmentation-3_lesionmask_1.png"), 5, 4, &[0; 20]).unwrap();
    let e = Dataset::open(&dir.0, DataConfig::new(4))
        .unwrap()
        .load(1)
        .unwrap_err();
    assert!(
        matches!(
            e,
            DataError::SizeMismatch {
                image_dims: [4, 4, 1],
                mask_dims: [5, 4, 1],
                ..
            }
        ),
        "{e}"
    );
    names(&e, "segmentation-3_lesionmask_1.png");
    names(&e, "volume-3_1.png");
    write_slice(&dir.0, 3, 1);

    // Missing mask: opening fails naming the missing file.
    std::fs::remove_file(dir.path("segmentation-3_livermask_1.png")).unwrap();
    let e = Dataset::open(&dir.0, DataConfig::new(4)).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e}");
    names(&e, "segmentation-3_livermask_1.png");
    write_slice(&dir.0, 3, 1);

    // A mask without its image.
    std::fs::remove_file(dir.path("volume-3_1.png")).unwrap();
    let e = Dataset::open(&dir.0, DataConfig::new(4)).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e}");
    names(&e, "volume-3_1.png");
    write_slice(&dir.0, 3, 1);

    // CSV without a required column.
    std::fs::write(
        dir.path("lits_df.csv"),
        "filepath,liver_maskpath,study_number,instance_number\n",
    )
    .unwrap();
    let e = Dataset::open(&dir.0, DataConfig::new(4)).unwrap_err();
    assert!(
        matches!(&e, DataError::MissingColumn { column, .. } if column == "tumor_maskpath"),
        "{e}"
    );
    names(&e, "lits_df.csv");

    // CSV with a header only: empty dataset.
    std::fs::write(
        dir.path("lits_df.csv"),
        "filepath,liver_maskpath,tumor_maskpath,study_number,instance_number\n",
    )
    .unwrap();
    let e = Dataset::open(&dir.0, DataConfig::new(4)).unwrap_err();
    assert!(matches!(e, DataError::EmptyDataset { .. }), "{e}");

    // CSV row pointing at a file that is not there (Kaggle absolute paths fall back by name).
    std::fs::write(
        dir.path("lits_df.csv"),
        "filepath,liver_maskpath,tumor_maskpath,study_number,instance_number,liver_mask_empty\n\
         /kaggle/input/x/volume-3_0.png,segmentation-3_livermask_0.png,segmentation-3_lesionmask_0.png,3,0,False\n\
         volume-3_9.png,segmentation-3_livermask_9.png,segmentation-3_lesionmask_9.png,3,9,True\n",
    )
    .unwrap();
    let e = Dataset::open(&dir.0, DataConfig::new(4)).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e}");
    names(&e, "volume-3_9.png");
    names(&e, "lits_df.csv:3");

    // Bad number in the CSV.
    std::fs::write(
        dir.path("lits_df.csv"),
        "filepath,liver_maskpath,tumor_maskpath,study_number,instance_number\n\
         volume-3_0.png,segmentation-3_livermask_0.png,segmentation-3_lesionmask_0.png,three,0\n",
    )
    .unwrap();
    let e = Dataset::open(&dir.0, DataConfig::new(4)).unwrap_err();
    assert!(matches!(e, DataError::BadCsv { line: 2, .. }), "{e}");
}

fn tiny_pair(dims: [usize; 3]) -> (Volume<f32>, Volume<u8>) {
    let n = dims.iter().product();
    let g = Geometry::with_spacing([1.0, 1.0, 2.0]);
    (
        Volume::new(dims, vec![40.0; n], g.clone()).unwrap(),
        Volume::new(dims, vec![1; n], g).unwrap(),
    )
}

#[test]
fn broken_nifti_and_msd_sets() {
    let dir = Scratch::new("nifti-broken");
    let (ct, seg) = tiny_pair([8, 8, 3]);
    write_pair(&dir.0, 0, &ct, &seg, false).unwrap();
    let ds = Dataset::open(&dir.0, DataConfig::new(8)).unwrap();
    assert_eq!(ds.len(), 3);
    let s = ds.load(2).unwrap();
    assert!(s.image.iter().all(|&v| (v - 240.0 / 450.0).abs() < 1e-6));

    // Volume without segmentation.
    write_pair(&dir.0, 1, &ct, &seg, true).unwrap();
    std::fs::remove_file(dir.path("segmentation-1.nii.gz")).unwrap();
    let e = Dataset::open(&dir.0, DataConfig::new(8)).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e}");
    names(&e, "segmentation-1.nii");

    // Segmentation of another size: caught when the dataset opens (headers only).
    let (_, small) = tiny_pair([8, 8, 2]);
    hepaseg::data::nifti_write::write_labels(&dir.path("segmentation-1.nii.gz"), &small).unwrap();
    let e = Dataset::open(&dir.0, DataConfig::new(8)).unwrap_err();
    assert!(matches!(e, DataError::SizeMismatch { .. }), "{e}");
    names(&e, "segmentation-1.nii.gz");
    names(&e, "volume-1.nii.gz");
    std::fs::remove_file(dir.path("volume-1.nii.gz")).unwrap();
    std::fs::remove_file(dir.path("segmentation-1.nii.gz")).unwrap();

    // Truncated volume: opens (header fine), loading fails naming it.
    let bytes = std::fs::read(dir.path("volume-0.nii")).unwrap();
    std::fs::write(dir.path("volume-0.nii"), &bytes[..400]).unwrap();
    let ds = Dataset::open(&dir.0, DataConfig::new(8)).unwrap();
    let e = ds.load(0).unwrap_err();
    assert!(matches!(e, DataError::TruncatedNifti { .. }), "{e}");
    names(&e, "volume-0.nii");

    // MSD: a manifest entry whose file is missing; a label that is not 0/1/2.
    let msd = Scratch::new("msd-broken");
    hepaseg::data::msd::write(&msd.0, &[(5, &ct, &seg)]).unwrap();
    let ok = Dataset::open(&msd.0, DataConfig::new(8)).unwrap();
    assert_eq!(ok.studies(), vec![5]);
    let (_, mut bad) = tiny_pair([8, 8, 3]);
    bad = bad.map(|_| 7);
    hepaseg::data::nifti_write::write_labels(&msd.path("labelsTr/liver_5.nii.gz"), &bad).unwrap();
    let e = Dataset::open(&msd.0, DataConfig::new(8))
        .unwrap()
        .load(0)
        .unwrap_err();
    assert!(matches!(e, DataError::InvalidLabel { .. }), "{e}");
    names(&e, "liver_5.nii.gz");
    std::fs::remove_file(msd.path("imagesTr/liver_5.nii.gz")).unwrap();
    let e = Dataset::open(&msd.0, DataConfig::new(8)).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e}");
    names(&e, "liver_5.nii.gz");
    std::fs::write(msd.path("dataset.json"), "{ not json").unwrap();
    let e = Dataset::open(&msd.0, DataConfig::new(8)).unwrap_err();
    assert!(matches!(e, DataError::BadManifest { .. }), "{e}");
    names(&e, "dataset.json");
}

#[test]
fn unknown_or_empty_folders() {
    let dir = Scratch::new("empty");
    let e = Dataset::open(&dir.0, DataConfig::new(8)).unwrap_err();
    assert!(matches!(e, DataError::UnknownLayout { .. }), "{e}");
    let e = Dataset::open(&dir.path("nope"), DataConfig::new(8)).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e}");
    names(&e, "nope");
    let e = Dataset::open(&dir.0, DataConfig::new(0)).unwrap_err();
    assert!(
        matches!(e, DataError::UnknownLayout { .. } | DataError::Config(_)),
        "{e}"
    );
}

#[test]
fn kaggle_absolute_paths_resolve_under_the_csv_folder() {
    let dir = Scratch::new("kaggle-paths");
    let sub = dir.path("dataset_6");
    std::fs::create_dir_all(&sub).unwrap();
    write_slice(&sub, 4, 0);
    std::fs::write(
        dir.path("lits_df.csv"),
        ",filepath,liver_maskpath,tumor_maskpath,liver_mask_empty,tumor_mask_empty,study_number,instance_number\n\
         0,/kaggle/input/lits-png/dataset_6/volume-4_0.png,\
         /kaggle/input/lits-png/dataset_6/segmentation-4_livermask_0.png,\
         /kaggle/input/lits-png/dataset_6/segmentation-4_lesionmask_0.png,True,True,4.0,0.0\n",
    )
    .unwrap();
    let ds = Dataset::open(&dir.0, DataConfig::new(4)).unwrap();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds.load(0).unwrap().labels, EXPECTED_LABELS);
}
