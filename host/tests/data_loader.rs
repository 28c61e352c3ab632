//! Batching: the background loader yields exactly the batches of a synchronous pass, in a
//! deterministic order per seed and epoch; augmentation moves image and mask together.

use hepaseg::data::{
    batches, synth, Augment, Batch, DataConfig, DataError, Dataset, Loader, LoaderConfig, Target,
};
use std::path::{Path, PathBuf};

struct Phantoms(PathBuf);

impl Phantoms {
    fn new(tag: &str) -> Phantoms {
        let dir = std::env::temp_dir().join(format!("hepaseg-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // 3 volumes × 4 slices × 32×32, as small as a test set gets.
        synth(&dir, 3, 32, 4, 17).unwrap();
        Phantoms(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Phantoms {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn collect(it: impl Iterator<Item = Result<Batch, DataError>>) -> Vec<Batch> {
    it.map(Result::unwrap).collect()
}

#[test]
fn background_loader_matches_a_synchronous_pass() {
    let set = Phantoms::new("loader-sync");
    for path in [set.path().to_path_buf(), set.path().join("nifti")] {
        let ds = Dataset::open(&path, DataConfig::new(24)).unwrap();
        assert_eq!(ds.len(), 12);
        let mut cfg = LoaderConfig::train(5, 1234);
        for workers in [1, 3] {
            cfg.workers = workers;
            let sync = collect(batches(&ds, &cfg, 2));
            let bg = collect(Loader::spawn(&ds, &cfg, 2).unwrap());
            assert_eq!(sync, bg, "workers {workers}, {}", path.display());
            assert_eq!(sync.len(), 3);
            assert_eq!(sync.iter().map(|b| b.n).collect::<Vec<_>>(), vec![5, 5, 2]);
            let b = &sync[0];
            assert_eq!((b.height, b.width), (24, 24));
            assert_eq!(b.images.len(), 5 * 24 * 24);
            assert_eq!(b.masks.len(), 5 * 24 * 24);
            assert!(b.images.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(b.masks.iter().all(|&m| m == 0.0 || m == 1.0));
        }
        // The same seed and epoch give the same batches on another run; another epoch reorders.
        let again = collect(Loader::spawn(&ds, &cfg, 2).unwrap());
        assert_eq!(again, collect(batches(&ds, &cfg, 2)));
        let other = collect(Loader::spawn(&ds, &cfg, 3).unwrap());
        let order = |bs: &[Batch]| {
            bs.iter()
                .flat_map(|b| b.indices.clone())
                .collect::<Vec<_>>()
        };
        assert_ne!(order(&again), order(&other));
        let mut sorted = order(&other);
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..12).collect::<Vec<_>>(),
            "every slice once per epoch"
        );
    }
}

#[test]
fn eval_order_drop_last_and_targets() {
    let set = Phantoms::new("loader-eval");
    let ds = Dataset::open(set.path(), DataConfig::new(32)).unwrap();
    let mut cfg = LoaderConfig::eval(4);
    let plain = collect(Loader::spawn(&ds, &cfg, 0).unwrap());
    assert_eq!(
        plain
            .iter()
            .flat_map(|b| b.indices.clone())
            .collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    // Without augmentation a batch is the stacked samples.
    for (k, &i) in plain[1].indices.iter().enumerate() {
        let s = ds.load(i).unwrap();
        assert_eq!(&plain[1].images[k * 1024..(k + 1) * 1024], &s.image[..]);
        assert_eq!(
            &plain[1].masks[k * 1024..(k + 1) * 1024],
            &s.mask(Target::Tumor)[..]
        );
    }
    cfg.batch_size = 5;
    cfg.drop_last = true;
    assert_eq!(collect(Loader::spawn(&ds, &cfg, 0).unwrap()).len(), 2);
    // Liver target from the same files.
    let liver = Dataset::open(set.path(), DataConfig::new(32).with_target(Target::Liver)).unwrap();
    let b = collect(batches(&liver, &LoaderConfig::eval(12), 0)).remove(0);
    let tumour = collect(batches(&ds, &LoaderConfig::eval(12), 0)).remove(0);
    assert!(b.masks.iter().sum::<f32>() > tumour.masks.iter().sum::<f32>());
    assert!(
        b.masks.iter().zip(&tumour.masks).all(|(l, t)| l >= t),
        "tumour ⊂ liver"
    );
    // Bad settings are refused.
    assert!(Loader::spawn(&ds, &LoaderConfig::eval(0), 0).is_err());
}

#[test]
fn augmentation_moves_image_and_mask_together() {
    let set = Phantoms::new("loader-aug");
    let ds = Dataset::open(set.path(), DataConfig::new(32).with_target(Target::Liver)).unwrap();
    let flip_only = Augment {
        hflip: 1.0,
        vflip: 0.0,
        affine: 0.0,
        intensity: 0.0,
        ..Augment::default()
    };
    let cfg = LoaderConfig {
        augment: Some(flip_only),
        ..LoaderConfig::eval(12)
    };
    let flipped = collect(batches(&ds, &cfg, 0)).remove(0);
    let plain = collect(batches(&ds, &LoaderConfig::eval(12), 0)).remove(0);
    let mirror = |v: &[f32]| -> Vec<f32> {
        v.chunks(32)
            .flat_map(|row| row.iter().rev().copied())
            .collect()
    };
    assert_eq!(flipped.images, mirror(&plain.images));
    assert_eq!(flipped.masks, mirror(&plain.masks));

    // Full augmentation: where the (liver) mask is set, the image is liver-bright, i.e. the
    // geometry applied to both is the same. Compare mean intensity inside vs outside the mask.
    let cfg = LoaderConfig {
        augment: Some(Augment {
            hflip: 0.5,
            vflip: 0.5,
            affine: 1.0,
            intensity: 0.0,
            ..Augment::default()
        }),
        ..LoaderConfig::train(12, 8)
    };
    let aug = collect(batches(&ds, &cfg, 0)).remove(0);
    assert_ne!(aug.images, plain.images);
    let mean = |b: &Batch, inside: bool| {
        let v: Vec<f32> = b
            .images
            .iter()
            .zip(&b.masks)
            .filter(|(_, &m)| (m == 1.0) == inside)
            .map(|(&i, _)| i)
            .collect();
        v.iter().sum::<f32>() / v.len() as f32
    };
    // Liver (≈ 60 HU → 0.58) is brighter than the average of the rest (air, fat, tissue).
    assert!(mean(&aug, true) > 0.5, "{}", mean(&aug, true));
    assert!((mean(&aug, true) - mean(&plain, true)).abs() < 0.03);
    assert!(mean(&aug, false) < 0.4);
    // Seeded: the same config gives the same augmented batch; another seed does not.
    assert_eq!(aug, collect(batches(&ds, &cfg, 0)).remove(0));
    let other = LoaderConfig { seed: 9, ..cfg };
    assert_ne!(
        aug.images,
        collect(batches(&ds, &other, 0)).remove(0).images
    );
}

/// 2.5D (issue 9): a 3-channel batch under full augmentation holds, in its middle channel,
/// exactly the 1-channel batch of the same seed (the same draws, the same geometry and
/// intensity change on every channel), and the same masks.
#[test]
fn three_channel_batches_augment_every_slice_alike() {
    let set = Phantoms::new("loader-2.5d");
    let cfg = LoaderConfig::train(6, 5);
    let base = DataConfig::new(32).with_target(Target::Liver);
    let one = Dataset::open(set.path(), base.clone()).unwrap();
    let three = Dataset::open(set.path(), base.with_channels(3)).unwrap();
    let (a, b) = (
        collect(batches(&one, &cfg, 1)),
        collect(batches(&three, &cfg, 1)),
    );
    assert_eq!(a.len(), b.len());
    let n = 32 * 32;
    for (a, b) in a.iter().zip(&b) {
        assert_eq!((a.channels, b.channels), (1, 3));
        assert_eq!(b.images.len(), b.n * 3 * n);
        assert_eq!((&a.masks, &a.indices), (&b.masks, &b.indices));
        let middle: Vec<f32> = b
            .images
            .chunks(3 * n)
            .flat_map(|s| s[n..2 * n].to_vec())
            .collect();
        assert_eq!(middle, a.images);
    }
}

#[test]
fn a_corrupt_slice_stops_the_loader_with_its_name() {
    let set = Phantoms::new("loader-corrupt");
    std::fs::write(set.path().join("volume-1_2.png"), b"broken").unwrap();
    let ds = Dataset::open(set.path(), DataConfig::new(32)).unwrap();
    let results: Vec<_> = Loader::spawn(&ds, &LoaderConfig::eval(2), 0)
        .unwrap()
        .collect();
    // Slice (1, 2) is index 6: batches 0..=2 succeed, batch 3 fails, then the iteration ends.
    assert_eq!(results.len(), 4);
    assert!(results[..3].iter().all(Result::is_ok));
    let e = results[3].as_ref().unwrap_err();
    assert!(matches!(e, DataError::CorruptPng { .. }), "{e}");
    assert!(e.to_string().contains("volume-1_2.png"), "{e}");
    // Dropping a loader mid-epoch does not hang.
    let mut it = Loader::spawn(&ds, &LoaderConfig::train(1, 0), 0).unwrap();
    let _ = it.next();
    drop(it);
}

/// Throughput figures (run with `cargo test --release -p hepaseg --test data_loader -- --ignored
/// --nocapture`): slices/s of a synchronous pass and of the background loader, per layout.
#[test]
#[ignore = "timing, not a check"]
fn loader_throughput() {
    use std::time::Instant;
    let dir = std::env::temp_dir().join(format!("hepaseg-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let r = synth(&dir, 8, 256, 48, 1).unwrap();
    println!("synth 8×48×256²: {:.2} s", t.elapsed().as_secs_f64());
    for (name, path, size) in [
        ("lits-png 256→256", dir.clone(), 256),
        ("lits-png 256→64", dir.clone(), 64),
        ("NIfTI 256→256", r.nifti_dir.clone(), 256),
        ("MSD 256→64", r.msd_dir.clone(), 64),
    ] {
        let ds = Dataset::open(&path, DataConfig::new(size)).unwrap();
        let cfg = LoaderConfig::train(8, 0);
        let t = Instant::now();
        let n: usize = batches(&ds, &cfg, 0).map(|b| b.unwrap().n).sum();
        let sync = n as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        let n: usize = Loader::spawn(&ds, &cfg, 1)
            .unwrap()
            .map(|b| b.unwrap().n)
            .sum();
        let bg = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "{name}: {sync:.0} slices/s synchronous (first epoch), {bg:.0} slices/s background"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
