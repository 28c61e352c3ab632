//! Blob parser + both engines of both `tiny` networks on arbitrary bytes: a blob that parses
//! is run through the f32 engine (an f32 blob) or the integer-only int8 engine (an int8 blob)
//! of the network it names; each must return an error value or logits of the output's shape —
//! never panic, never read outside the blob or the arena. The checksum is repaired first (as
//! well as tried as read), so mutations of a valid seed reach the engines.
//!
//! The input slice is a fixed smooth pattern in [0, 1] (a windowed CT slice's range); the
//! fuzzed part is the weights and quantization parameters, which is where a device's input
//! comes from an untrusted file.
//!
//! Seeds: `fuzz/seed.sh` (f32 and int8 blobs of AGCAF-Net and CAFCT-Net `tiny`).
#![no_main]

use hepaseg_core::blob::{Blob, BlobParams, QuantScheme, SignaturePolicy};
use hepaseg_core::nets::agcaf::AgcafTiny;
use hepaseg_core::nets::cafct::CafctTiny;
use hepaseg_core::nets::{Int8Network, Network};
use hepaseg_fuzz::Aligned;
use libfuzzer_sys::fuzz_target;

/// A smooth input slice in [0, 1].
fn input<N: Network>() -> Vec<f32> {
    let [_, h, w] = N::INPUT;
    (0..h * w)
        .map(|i| {
            let (y, x) = ((i / w) as f32, (i % w) as f32);
            0.5 + 0.5 * ((x * 0.21).sin() * (y * 0.13).cos())
        })
        .collect()
}

fn run<N: Int8Network>(blob: &Blob<'_>) {
    let out = N::OUTPUT.iter().product::<usize>();
    match blob.header().scheme {
        QuantScheme::F32 => {
            let Ok(params) = BlobParams::new::<N>(*blob) else {
                return;
            };
            let mut arena = vec![0u32; N::ARENA_BYTES.div_ceil(4)];
            let arena = bytemuck::cast_slice_mut::<u32, u8>(&mut arena);
            if let Ok(logits) = N::forward_flat(&params, &input::<N>(), arena) {
                assert_eq!(logits.len(), out);
            }
        }
        _ => {
            let mut arena = vec![0u32; N::ARENA_BYTES_INT8.div_ceil(4)];
            let arena = bytemuck::cast_slice_mut::<u32, u8>(&mut arena);
            if let Ok((logits, q)) = N::forward_int8_flat(blob, &input::<N>(), arena) {
                assert_eq!(logits.len(), out);
                assert!(q.scale.is_finite() && q.scale > 0.0);
            }
        }
    }
}

fn exercise(bytes: &[u8]) {
    let Ok(blob) = Blob::parse(bytes, SignaturePolicy::Optional) else {
        return;
    };
    // Both networks: the one the header names runs, the other must refuse.
    run::<AgcafTiny>(&blob);
    run::<CafctTiny>(&blob);
}

fuzz_target!(|data: &[u8]| {
    let mut buf = Aligned::new(data);
    exercise(buf.bytes());
    if buf.repair_checksum() {
        exercise(buf.bytes());
    }
});
