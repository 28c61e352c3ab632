//! The blob parser on arbitrary bytes, as read and with the checksum repaired (so that
//! mutations of a valid seed reach the structural checks): `Blob::parse` must return an error
//! or a blob whose every accessor works without panicking, and the accessors must agree with
//! what parse promised (every tensor's payload inside the blob, typed views of the right
//! length, f32 payloads finite, lookups by hash and by name finding the same entry).
//!
//! Seeds: `fuzz/seed.sh` (valid f32, int8 and signed blobs of the tiny presets).
#![no_main]

use hepaseg_core::blob::{Blob, Dtype, QuantScheme, SignaturePolicy};
use hepaseg_core::nets::agcaf::AgcafTiny;
use hepaseg_core::nets::cafct::CafctTiny;
use hepaseg_fuzz::Aligned;
use libfuzzer_sys::fuzz_target;

/// A fixed public key (not the signer of any seed): a signed blob must fail with it.
const OTHER_KEY: [u8; 32] = [
    0x3d, 0x40, 0x17, 0xc3, 0xe8, 0x43, 0x89, 0x5a, 0x92, 0xb7, 0x0a, 0xa7, 0x4d, 0x1b, 0x7e, 0xbc,
    0x9c, 0x98, 0x2c, 0xcf, 0x2e, 0xc4, 0x96, 0x8c, 0xc0, 0xcd, 0x55, 0xf1, 0x2a, 0xf4, 0x66, 0x0c,
];

fn exercise(bytes: &[u8]) {
    let Ok(blob) = Blob::parse(bytes, SignaturePolicy::Optional) else {
        // Whatever fails without a key fails with one too.
        assert!(Blob::parse(bytes, SignaturePolicy::Required(&OTHER_KEY)).is_err());
        return;
    };
    let h = *blob.header();
    assert_eq!(blob.bytes().len(), h.total_len());
    assert_eq!(blob.signature().is_some(), h.is_signed());
    if h.is_signed() {
        // Signed by someone: verification either succeeds (it cannot with OTHER_KEY unless the
        // fuzzer forged Ed25519) or fails as an error.
        assert!(blob.verify_signature(&OTHER_KEY).is_err());
        assert!(Blob::parse(bytes, SignaturePolicy::Required(&OTHER_KEY)).is_err());
    } else {
        assert!(Blob::parse(bytes, SignaturePolicy::Required(&OTHER_KEY)).is_err());
        assert!(Blob::parse(bytes, SignaturePolicy::VerifyIfPresent(&OTHER_KEY)).is_ok());
    }
    let mut count = 0;
    for t in blob.tensors() {
        count += 1;
        let payload = blob
            .payload_of(&t)
            .expect("a parsed tensor has its payload");
        assert_eq!(payload.len(), t.len as usize);
        // Format 1.1 compact blobs place payloads under COMPACT_SMALL_LIMIT bytes at their
        // element size; every other payload starts on a 64-byte boundary.
        let align = hepaseg_core::blob::payload_align(h.is_compact(), t.dtype, payload.len());
        assert_eq!(t.offset as usize % align, 0);
        assert!(t.offset as usize + payload.len() <= h.body_len);
        assert_eq!(blob.find(t.name_hash), Ok(t.index as usize));
        assert_eq!(blob.tensor_by_name(t.name).map(|u| u.index), Ok(t.index));
        let i = t.index as usize;
        match t.dtype {
            Dtype::F32 => {
                let v = blob.tensor_f32(i).expect("f32 view");
                assert_eq!(v.len(), t.numel());
                assert!(v.iter().all(|x| x.is_finite()));
            }
            Dtype::I8 => assert_eq!(blob.tensor_i8(i).expect("i8 view").len(), t.numel()),
            Dtype::I32 => assert_eq!(blob.tensor_i32(i).expect("i32 view").len(), t.numel()),
            Dtype::U8 => assert_eq!(blob.tensor_u8(i).expect("u8 view").len(), t.numel()),
        }
        // A view of another type is an error, not a reinterpretation.
        if t.dtype != Dtype::U8 {
            assert!(blob.tensor_u8(i).is_err());
        }
    }
    assert_eq!(count, blob.tensor_count());
    assert!(blob.tensor(blob.tensor_count()).is_err());
    // The network checks succeed only for the network the header names.
    for (ok, arch) in [
        (blob.check_network::<AgcafTiny>().is_ok(), "agcaf"),
        (blob.check_network::<CafctTiny>().is_ok(), "cafct"),
    ] {
        if ok {
            assert!(h.architecture.name().starts_with(arch));
            assert_eq!(h.preset.as_str(), "tiny");
        }
    }
    if h.scheme != QuantScheme::F32 {
        assert!(hepaseg_core::blob::BlobParams::new::<AgcafTiny>(blob).is_err());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut buf = Aligned::new(data);
    exercise(buf.bytes());
    if buf.repair_checksum() {
        exercise(buf.bytes());
    }
});
