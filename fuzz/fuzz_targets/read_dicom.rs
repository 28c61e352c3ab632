//! The DICOM slice reader (`hepaseg::dicom::read_slice`) on arbitrary bytes in a `.dcm` file,
//! and the series assembler on the one slice it yields: each must return a slice of the size
//! it reports (pixels in Hounsfield units, finite), or an error naming the file — never panic.
//!
//! Seeds: `fuzz/seed.sh` (the real CT_small.dcm from the test data).
#![no_main]

use hepaseg::dicom::{assemble, read_slice};
use hepaseg_fuzz::{temp_dir, temp_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = temp_file("slice.dcm", data);
    match read_slice(&path) {
        Ok(slice) => {
            assert_eq!(slice.hu.len(), slice.rows * slice.columns);
            let _ = assemble(temp_dir(), vec![slice]);
        }
        Err(e) => {
            let s = e.to_string();
            assert!(s.contains("slice.dcm"), "{s}");
        }
    }
});
