//! The Ed25519 verifier that guards signed-only loading (`hepaseg_core::blob::verify_ed25519`).
//!
//! Input layout: byte 0 picks the mode, then
//! * mode even — arbitrary `key (32) ‖ signature (64) ‖ message`: verification must return
//!   `Ok` or an error, never panic;
//! * mode odd — `secret (32) ‖ flip (2) ‖ message`: the message is signed with the secret key
//!   (ed25519-dalek's signer, the one `hepaseg export --sign` uses), the core verifier must
//!   accept it, and must reject it after one bit (chosen by `flip`) of the message, the
//!   signature or the public key is flipped.
#![no_main]

use ed25519_dalek::{Signer, SigningKey};
use hepaseg_core::blob::verify_ed25519;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Some((key, rest)) = rest.split_first_chunk::<32>() else {
            return;
        };
        let Some((sig, message)) = rest.split_first_chunk::<64>() else {
            return;
        };
        let _ = verify_ed25519(message, sig, key);
        return;
    }
    let Some((secret, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let Some((flip, message)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let signing = SigningKey::from_bytes(secret);
    let public = signing.verifying_key().to_bytes();
    let sig = signing.sign(message).to_bytes();
    assert_eq!(verify_ed25519(message, &sig, &public), Ok(()));

    let flip = usize::from(u16::from_le_bytes(*flip));
    let bit = 1u8 << (flip % 8);
    let mut sig2 = sig;
    sig2[(flip / 8) % 64] ^= bit;
    assert!(verify_ed25519(message, &sig2, &public).is_err());
    let mut key2 = public;
    key2[(flip / 8) % 32] ^= bit;
    assert!(verify_ed25519(message, &sig, &key2).is_err());
    if !message.is_empty() {
        let mut msg2 = message.to_vec();
        let i = (flip / 8) % msg2.len();
        msg2[i] ^= bit;
        assert!(verify_ed25519(&msg2, &sig, &public).is_err());
    }
});
