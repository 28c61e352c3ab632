//! Device-side trust: a scanner build compiles its maker's Ed25519 public key in and loads
//! only blobs signed with the matching secret key (`SignaturePolicy::Required`), through the
//! same `Blob::for_network` → `BlobParams` → forward path a device uses. A good signature is
//! accepted and runs bit-identically to the unsigned blob; a missing, stripped, tampered,
//! forged (body edited, checksum recomputed) or foreign signature is refused before any
//! tensor is handed out. (docs/security.md has the threat model.)
//!
//! The compiled-in key is `tests/data/keys/device.pub`: the public key of RFC 8032 §7.1
//! test 2, whose published secret key signs the test blobs here.

#[path = "blob_support/mod.rs"]
mod blob_support;

use blob_support::{encode_aligned, f32_descs, off, params, read_u32, spec, write_u32, Aligned};
use ed25519_dalek::{Signer, SigningKey};
use hepaseg_core::blob::{
    checksum, seal, Blob, BlobError, BlobParams, QuantScheme, SignaturePolicy, FLAG_SIGNED,
    SIGNATURE_LEN,
};
use hepaseg_core::nets::agcaf::AgcafTiny;
use hepaseg_core::nets::Network;

/// What a device build does: the key is part of the firmware image. `include_bytes!` of a
/// 32-byte file is a `&[u8; 32]`, so a key file of the wrong length does not build.
const DEVICE_KEY: &[u8; 32] = include_bytes!("../data/keys/device.pub");
const POLICY: SignaturePolicy<'static> = SignaturePolicy::Required(DEVICE_KEY);

/// RFC 8032 §7.1 test 2 secret key (published; a test key only).
const MAKER_SECRET: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

fn secret(hex: &str) -> SigningKey {
    let b: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    SigningKey::from_bytes(&b.try_into().unwrap())
}

/// The seed-3 tiny AGCAF-Net as an f32 blob, signed by `key` when given.
fn blob(key: Option<&SigningKey>) -> Aligned {
    let p = params::<AgcafTiny>(3);
    let mut a = encode_aligned(
        &spec::<AgcafTiny>(QuantScheme::F32, key.is_some()),
        &f32_descs::<AgcafTiny>(&p),
    );
    if let Some(key) = key {
        let n = a.bytes().len();
        let sig = key.sign(&a.bytes()[..n - SIGNATURE_LEN]).to_bytes();
        a.bytes_mut()[n - SIGNATURE_LEN..].copy_from_slice(&sig);
    }
    a
}

/// What the device does with a blob: load it under the policy, then run the f32 engine on a
/// fixed slice; the logits, or the error.
fn device_run(bytes: &[u8]) -> Result<Vec<f32>, BlobError> {
    let blob = Blob::for_network::<AgcafTiny>(bytes, POLICY)?;
    Ok(forward(&BlobParams::new::<AgcafTiny>(blob)?))
}

/// The f32 engine's logits for a fixed slice.
fn forward(params: &BlobParams<'_>) -> Vec<f32> {
    let [_, h, w] = AgcafTiny::INPUT;
    let input: Vec<f32> = (0..h * w).map(|i| (i % 97) as f32 / 96.0).collect();
    let mut arena = vec![0u64; AgcafTiny::ARENA_BYTES.div_ceil(8)];
    let arena = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut arena)[..AgcafTiny::ARENA_BYTES];
    let logits = AgcafTiny::forward_flat(params, &input, arena).expect("forward");
    logits.to_vec()
}

#[test]
fn the_compiled_in_key_is_the_makers_public_key() {
    assert_eq!(&secret(MAKER_SECRET).verifying_key().to_bytes(), DEVICE_KEY);
}

#[test]
fn a_good_signature_loads_and_runs_like_the_unsigned_blob() {
    let signed = blob(Some(&secret(MAKER_SECRET)));
    let logits = device_run(signed.bytes()).expect("a blob signed by the maker loads");
    // The same parameters, unsigned, under the development policy: the same bits.
    let unsigned = blob(None);
    let b = Blob::for_network::<AgcafTiny>(unsigned.bytes(), SignaturePolicy::Optional).unwrap();
    let reference = forward(&BlobParams::new::<AgcafTiny>(b).unwrap());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&logits), bits(&reference));
}

#[test]
fn a_missing_or_stripped_signature_is_refused() {
    let unsigned = blob(None);
    assert_eq!(
        device_run(unsigned.bytes()).unwrap_err(),
        BlobError::SignatureMissing
    );
    // Strip a good signature: clear the flag, drop the 64 bytes, recompute the checksum.
    let signed = blob(Some(&secret(MAKER_SECRET)));
    let n = signed.bytes().len();
    let mut stripped = Aligned::from_bytes(&signed.bytes()[..n - SIGNATURE_LEN]);
    let flags = read_u32(stripped.bytes(), off::FLAGS);
    write_u32(stripped.bytes_mut(), off::FLAGS, flags & !FLAG_SIGNED);
    seal(stripped.bytes_mut()).unwrap();
    assert!(Blob::parse(stripped.bytes(), SignaturePolicy::Optional).is_ok());
    assert_eq!(
        device_run(stripped.bytes()).unwrap_err(),
        BlobError::SignatureMissing
    );
}

#[test]
fn tampered_forged_or_foreign_signatures_are_refused() {
    let signed = blob(Some(&secret(MAKER_SECRET)));
    let n = signed.bytes().len();
    let body = read_u32(signed.bytes(), off::BODY_LEN) as usize;

    // A flipped bit in the signature.
    let mut t = signed.clone();
    t.bytes_mut()[n - 1] ^= 0x80;
    assert_eq!(
        device_run(t.bytes()).unwrap_err(),
        BlobError::SignatureInvalid
    );

    // A forged weight (a payload byte of the last tensor) with the checksum recomputed —
    // what an attacker who knows the format does; the checksum passes, the signature not.
    let mut f = signed.clone();
    f.bytes_mut()[body - 64] ^= 0x01;
    let crc = checksum(&f.bytes()[..body]);
    f.bytes_mut()[body..body + 4].copy_from_slice(&crc.to_le_bytes());
    assert!(Blob::parse(f.bytes(), SignaturePolicy::Optional).is_ok());
    assert_eq!(
        device_run(f.bytes()).unwrap_err(),
        BlobError::SignatureInvalid
    );

    // A well-formed blob signed by someone else's key.
    let foreign = blob(Some(&SigningKey::from_bytes(&[7; 32])));
    assert!(Blob::parse(foreign.bytes(), SignaturePolicy::Optional).is_ok());
    assert_eq!(
        device_run(foreign.bytes()).unwrap_err(),
        BlobError::SignatureInvalid
    );
}
