//! The lits-png readers (`hepaseg::data::png_io::{read_image, read_mask}`) on arbitrary bytes
//! in a `.png` file: each must return pixels of the size it reports, or an error naming the
//! file — never panic, and never allocate for dimensions the file cannot hold.
//!
//! Seeds: `fuzz/seeds/read_png` (grey, RGB, 16-bit and palette PNGs), `fuzz/seed.sh`.
#![no_main]

use hepaseg::data::png_io::{read_image, read_mask};
use hepaseg_fuzz::temp_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = temp_file("slice.png", data);
    match read_image(&path) {
        Ok((w, h, pixels)) => {
            assert_eq!(pixels.len(), w * h);
            assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        Err(e) => assert!(e.to_string().contains("slice.png"), "{e}"),
    }
    match read_mask(&path) {
        Ok((w, h, mask)) => assert_eq!(mask.len(), w * h),
        Err(e) => assert!(e.to_string().contains("slice.png"), "{e}"),
    }
});
