//! Integrity and authenticity: the CRC-32C checksum and the Ed25519 signature.
//!
//! The two protect against different things. The **checksum** catches accidental damage — a
//! flash bit flip, a transfer cut short, a wrong file — cheaply and always; anyone can
//! recompute it, so it proves nothing about who wrote the blob. The **signature** (optional
//! in the format, required by a device that is configured with a public key) proves that the
//! holder of the matching secret key produced exactly these bytes: a forged or modified blob
//! needs that key.
//!
//! Verification uses `ed25519-dalek`'s `verify_strict` (RFC 8032 verification that also
//! rejects small-order keys and non-canonical signatures, so a signature cannot be mauled into
//! another valid one) and needs neither `std` nor `alloc`.

use ed25519_dalek::{Signature, VerifyingKey};

use super::error::BlobError;
use super::header::{u32_at, CHECKSUM_LEN, SIGNATURE_LEN};

/// CRC-32C (Castagnoli; the iSCSI polynomial `0x1EDC6F41`, reflected, init and xor-out
/// `0xFFFFFFFF`), with its 1 KiB table computed at compile time.
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// CRC-32C of `bytes` — the value a blob stores after its body.
pub fn checksum(bytes: &[u8]) -> u32 {
    CRC32C.checksum(bytes)
}

/// What a reader demands of the signature.
///
/// A device that must only run weights from its maker compiles the maker's public key in and
/// uses [`SignaturePolicy::Required`]:
///
/// ```ignore
/// // `release.pub` is the 32-byte file `hepaseg keygen` wrote next to the secret key;
/// // `include_bytes!` of a 32-byte file is a `&[u8; 32]`, so a wrong file fails to build.
/// const POLICY: SignaturePolicy<'static> =
///     SignaturePolicy::Required(include_bytes!("../keys/release.pub"));
/// let blob = Blob::for_network::<AgcafEdge>(FLASH_BLOB, POLICY)?;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignaturePolicy<'k> {
    /// Unsigned blobs are accepted; a signature that is present is not checked (there is no
    /// key to check it with). For development and for host tools that only read.
    Optional,
    /// Unsigned blobs are accepted; a signature that is present must verify with this key.
    VerifyIfPresent(&'k [u8; 32]),
    /// The blob must be signed, and the signature must verify with this public key.
    Required(&'k [u8; 32]),
}

/// The checksum stored at `body_len`, and the one computed over `bytes[..body_len]`.
pub(crate) fn check_checksum(bytes: &[u8], body_len: usize) -> Result<(), BlobError> {
    let truncated = BlobError::Truncated {
        needed: body_len.saturating_add(CHECKSUM_LEN),
        available: bytes.len(),
    };
    let stored = u32_at(bytes, body_len).ok_or(truncated)?;
    let computed = checksum(bytes.get(..body_len).ok_or(truncated)?);
    if stored == computed {
        Ok(())
    } else {
        Err(BlobError::ChecksumMismatch { stored, computed })
    }
}

/// Verifies `signature` over `message` with the Ed25519 public key `key`.
pub fn verify_ed25519(
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
    key: &[u8; 32],
) -> Result<(), BlobError> {
    let key = VerifyingKey::from_bytes(key).map_err(|_| BlobError::BadPublicKey)?;
    let signature = Signature::from_bytes(signature);
    key.verify_strict(message, &signature)
        .map_err(|_| BlobError::SignatureInvalid)
}

/// A signed blob's message (body and checksum) and signature.
pub(crate) type SignedParts<'a> = (&'a [u8], &'a [u8; SIGNATURE_LEN]);

/// The signed message (body and checksum) and the signature of a signed blob of body length
/// `body_len`, or `None` for an unsigned one.
pub(crate) fn signature_parts(
    bytes: &[u8],
    body_len: usize,
    signed: bool,
) -> Result<Option<SignedParts<'_>>, BlobError> {
    if !signed {
        return Ok(None);
    }
    let msg_end = body_len.saturating_add(CHECKSUM_LEN);
    let sig_end = msg_end.saturating_add(SIGNATURE_LEN);
    let truncated = BlobError::Truncated {
        needed: sig_end,
        available: bytes.len(),
    };
    let message = bytes.get(..msg_end).ok_or(truncated)?;
    let signature = bytes
        .get(msg_end..sig_end)
        .and_then(|s| <&[u8; SIGNATURE_LEN]>::try_from(s).ok())
        .ok_or(truncated)?;
    Ok(Some((message, signature)))
}

/// Applies `policy` to a blob whose header says `signed` / `body_len`.
pub(crate) fn check_signature(
    bytes: &[u8],
    body_len: usize,
    signed: bool,
    policy: SignaturePolicy<'_>,
) -> Result<(), BlobError> {
    let parts = signature_parts(bytes, body_len, signed)?;
    match (policy, parts) {
        (SignaturePolicy::Optional, _) | (SignaturePolicy::VerifyIfPresent(_), None) => Ok(()),
        (SignaturePolicy::Required(_), None) => Err(BlobError::SignatureMissing),
        (SignaturePolicy::VerifyIfPresent(key) | SignaturePolicy::Required(key), Some((m, s))) => {
            verify_ed25519(m, s, key)
        }
    }
}
