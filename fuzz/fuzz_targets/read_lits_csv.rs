//! The lits-png index reader on an arbitrary `lits_df.csv` (CSV parsing with quotes, BOM and
//! column lookup; path resolution relative to the folder; study/instance integers), then every
//! slice it lists decoded: each must succeed or give an error naming the CSV (or the file it
//! points at) — never panic.
//!
//! The folder also holds two valid 4×4 slices (`volume-0_0.png` …), so a CSV that names them
//! gets as far as decoding them. Slices outside the folder are not decoded (a fuzzed absolute
//! path could name any file on the machine).
//!
//! Seeds: `fuzz/seeds/read_lits_csv` (a Kaggle-style index with quoted fields).
#![no_main]

use hepaseg::data::lits_png::{file_names, load_slice, scan, INDEX_CSV};
use hepaseg::data::png_io::encode_grey8;
use hepaseg_fuzz::{temp_dir, temp_file};
use libfuzzer_sys::fuzz_target;

fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let png = encode_grey8(
            4,
            4,
            &[0, 255, 0, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255],
        )
        .expect("encode a 4×4 PNG");
        for instance in 0..2 {
            for name in file_names(0, instance) {
                temp_file(&name, &png);
            }
        }
    });
}

fuzz_target!(|data: &[u8]| {
    setup();
    let csv = temp_file(INDEX_CSV, data);
    let dir = temp_dir();
    match scan(dir) {
        Ok(index) => {
            assert!(!index.slices.is_empty());
            for s in &index.slices {
                if [&s.image, &s.liver, &s.tumor]
                    .iter()
                    .all(|p| p.starts_with(dir))
                {
                    if let Err(e) = load_slice(s) {
                        assert!(e.to_string().contains(".png"), "{e}");
                    }
                }
            }
        }
        Err(e) => {
            let s = e.to_string();
            assert!(
                s.contains(INDEX_CSV) || s.contains(&*dir.to_string_lossy()),
                "{s}"
            );
        }
    }
    std::fs::remove_file(csv).expect("remove the CSV");
});
