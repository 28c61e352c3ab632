//! The NIfTI readers (`hepaseg::data::nifti_read::{read_info, read_volume, read_labels}`) on
//! arbitrary bytes, as `.nii` or (when the bytes start with the gzip magic) `.nii.gz`: each
//! must return a volume whose voxel count matches its dimensions, or an error naming the file —
//! never panic, and never allocate for a volume the file cannot hold.
//!
//! Seeds: `fuzz/seeds/read_nifti` (small volumes of several datatypes), `fuzz/seed.sh` (the
//! real test files).
#![no_main]

use hepaseg::data::nifti_read::{read_info, read_labels, read_volume};
use hepaseg_fuzz::temp_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = if data.starts_with(&[0x1f, 0x8b]) {
        "volume.nii.gz"
    } else {
        "volume.nii"
    };
    let path = temp_file(name, data);
    let named = |e: &dyn std::fmt::Display| {
        let s = e.to_string();
        assert!(s.contains(name), "{s}");
    };
    match read_info(&path) {
        Ok(_) => {}
        Err(e) => named(&e),
    }
    match read_volume(&path) {
        Ok(v) => assert_eq!(v.data().len(), v.dims().iter().product::<usize>()),
        Err(e) => named(&e),
    }
    match read_labels(&path) {
        Ok(v) => assert_eq!(v.data().len(), v.dims().iter().product::<usize>()),
        Err(e) => named(&e),
    }
});
