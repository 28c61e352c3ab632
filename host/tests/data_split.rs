//! Patient-level splits: no patient in two sets, seeded, CSV train/test honoured, training-slice
//! restriction judged on the pixels.

use hepaseg::data::lits_png_write::{write_index, IndexRow};
use hepaseg::data::{synth, DataConfig, Dataset, SliceFilter, SplitConfig, SplitSource, Splits};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A synthesised phantom set in a scratch folder, removed on drop.
struct Phantoms(PathBuf);

impl Phantoms {
    fn new(tag: &str, volumes: usize, slices: usize, seed: u64) -> Phantoms {
        let dir = std::env::temp_dir().join(format!("hepaseg-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        synth(&dir, volumes, 16, slices, seed).unwrap();
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

fn studies(ds: &Dataset) -> BTreeSet<u32> {
    ds.ids().into_iter().map(|id| id.study).collect()
}

fn check_partition(s: &Splits, all: &Dataset) {
    let (tr, va, te) = (studies(&s.train), studies(&s.val), studies(&s.test));
    assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te));
    let union: BTreeSet<u32> = tr.union(&va).chain(&te).copied().collect();
    assert_eq!(union, studies(all));
    // Every slice of a validation/test patient is there (no slice-level split).
    assert_eq!(s.train.len() + s.val.len() + s.test.len(), all.len());
}

#[test]
fn seeded_split_is_by_patient_and_reproducible() {
    let set = Phantoms::new("split-seeded", 10, 6, 99);
    let all = Dataset::open(set.path(), DataConfig::new(16)).unwrap();
    assert_eq!(all.len(), 60);
    let cfg = SplitConfig {
        seed: 5,
        ..Default::default()
    };
    let a = all.split(&cfg).unwrap();
    assert_eq!(a.source, SplitSource::Seeded);
    check_partition(&a, &all);
    assert_eq!(
        [
            studies(&a.train).len(),
            studies(&a.val).len(),
            studies(&a.test).len()
        ],
        [8, 1, 1]
    );
    let b = all.split(&cfg).unwrap();
    assert_eq!(a.train.ids(), b.train.ids());
    assert_eq!(a.val.ids(), b.val.ids());
    assert_eq!(a.test.ids(), b.test.ids());
    // Other seeds give other splits (at least one of several).
    let differs = (6..10).any(|seed| {
        let c = all
            .split(&SplitConfig {
                seed,
                ..Default::default()
            })
            .unwrap();
        studies(&c.test) != studies(&a.test) || studies(&c.val) != studies(&a.val)
    });
    assert!(differs);
    // The same patients whatever the reader: the NIfTI copy splits identically.
    let nifti = Dataset::open(&set.path().join("nifti"), DataConfig::new(16)).unwrap();
    let n = nifti.split(&cfg).unwrap();
    assert_eq!(studies(&n.test), studies(&a.test));
    assert_eq!(studies(&n.val), studies(&a.val));
}

#[test]
fn train_restriction_reads_pixels() {
    // 60 slices span 24 cm: the end slices are above or below the liver.
    let set = Phantoms::new("split-filter", 10, 60, 99);
    let all = Dataset::open(set.path(), DataConfig::new(16)).unwrap();
    let cfg = SplitConfig {
        seed: 1,
        train_filter: SliceFilter::WithLiver,
        ..Default::default()
    };
    let s = all.split(&cfg).unwrap();
    let full = all
        .split(&SplitConfig {
            seed: 1,
            ..Default::default()
        })
        .unwrap();
    assert!(
        s.train.len() < full.train.len(),
        "some slices have no liver"
    );
    assert_eq!(s.val.len(), full.val.len(), "validation keeps every slice");
    for i in 0..s.train.len() {
        assert!(s.train.load(i).unwrap().labels.iter().any(|&l| l > 0));
    }
    // Every slice dropped had no liver.
    let kept: BTreeSet<_> = s.train.ids().into_iter().collect();
    for i in 0..full.train.len() {
        if !kept.contains(&full.train.id(i).unwrap()) {
            assert!(full.train.load(i).unwrap().labels.iter().all(|&l| l == 0));
        }
    }
    // Same restriction on the NIfTI copy keeps the same slices.
    let nifti = Dataset::open(&set.path().join("nifti"), DataConfig::new(16)).unwrap();
    let t = nifti.split(&cfg).unwrap();
    assert_eq!(t.train.ids(), s.train.ids());
    let tumour = all.filter(SliceFilter::WithTumor).unwrap();
    for i in 0..tumour.len() {
        assert!(tumour.load(i).unwrap().labels.contains(&2));
    }
}

#[test]
fn csv_train_test_files_fix_the_test_patients() {
    let set = Phantoms::new("split-csv", 10, 2, 3);
    let dir = set.path();
    let rows = |studies: std::ops::Range<u32>| -> Vec<IndexRow> {
        studies
            .flat_map(|s| {
                (0..2).map(move |z| IndexRow {
                    study: s,
                    instance: z,
                    has_liver: false,
                    has_tumor: false,
                })
            })
            .collect()
    };
    write_index(&dir.join("lits_train.csv"), &rows(0..8)).unwrap();
    write_index(&dir.join("lits_test.csv"), &rows(8..10)).unwrap();
    let all = Dataset::open(dir, DataConfig::new(16)).unwrap();
    let s = all.split(&SplitConfig::default()).unwrap();
    assert_eq!(s.source, SplitSource::CsvTrainTest);
    check_partition(&s, &all);
    assert_eq!(studies(&s.test), [8, 9].into_iter().collect());
    assert_eq!(studies(&s.val).len(), 1);

    // Train and test CSVs sharing a patient (a slice-level split) are not trusted.
    let mut overlapping = rows(0..9);
    overlapping.truncate(17); // patient 8 keeps slice 0 only
    write_index(&dir.join("lits_train.csv"), &overlapping).unwrap();
    write_index(&dir.join("lits_test.csv"), &rows(8..10)).unwrap();
    let all = Dataset::open(dir, DataConfig::new(16)).unwrap();
    let s = all.split(&SplitConfig::default()).unwrap();
    assert_eq!(s.source, SplitSource::SeededCsvOverlap(vec![8]));
    check_partition(&s, &all);
}

#[test]
fn too_few_patients_is_an_error() {
    let set = Phantoms::new("split-few", 2, 1, 3);
    let all = Dataset::open(set.path(), DataConfig::new(16)).unwrap();
    let e = all.split(&SplitConfig::default()).unwrap_err();
    assert!(e.to_string().contains("cannot be split"), "{e}");
    let ok = all
        .split(&SplitConfig {
            ratios: [1, 1, 0],
            ..Default::default()
        })
        .unwrap();
    assert!(ok.test.is_empty());
}
