//! Ed25519 key pairs for signing weight blobs.
//!
//! Both files are **raw 32 bytes**: the secret file holds the Ed25519 seed (RFC 8032 secret
//! key), the `.pub` file the public key. Raw bytes make the public key directly usable in a
//! device build — `include_bytes!("release.pub")` *is* a `&[u8; 32]`, and a wrong file fails
//! to compile — and leave nothing to parse. For convenience the loaders also accept the same
//! 32 bytes as 64 hex digits (e.g. pasted from `hepaseg keygen`'s output).
//!
//! The secret file is created with mode 0600 and is never overwritten unless asked
//! (`--force`); a secret file that group or others can read is refused, as `ssh` does.

use super::writer::{write_atomic, WriteError};
use ed25519_dalek::SigningKey;
use std::path::{Path, PathBuf};

/// A key file that cannot be made or used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct KeyError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: String,
}

fn key_error(path: &Path, problem: impl Into<String>) -> KeyError {
    KeyError {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

/// The public-key file that goes with a secret-key file: `KEY.pub`.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut s = secret.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`keygen`] made.
#[derive(Debug, Clone)]
pub struct KeygenReport {
    /// The secret-key file (mode 0600).
    pub secret: PathBuf,
    /// The public-key file.
    pub public: PathBuf,
    /// The public key in hex.
    pub public_hex: String,
}

impl std::fmt::Display for KeygenReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "secret key  {} (mode 0600; keep it off devices and out of version control)",
            self.secret.display()
        )?;
        writeln!(f, "public key  {}", self.public.display())?;
        write!(f, "            {}", self.public_hex)
    }
}

/// Generates a key pair from the operating system's random source and writes the secret key
/// to `out` and the public key to `out.pub`, each atomically. Existing files are left alone
/// unless `force`.
pub fn keygen(out: &Path, force: bool) -> Result<KeygenReport, KeyError> {
    let public = public_path(out);
    if !force {
        for p in [out, public.as_path()] {
            if p.exists() {
                return Err(key_error(
                    p,
                    "already exists (pass --force to replace the key pair)",
                ));
            }
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| key_error(out, format!("no randomness from the OS: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let pub_bytes = key.verifying_key().to_bytes();
    let as_key_error = |e: WriteError| match e {
        WriteError::Io { path, problem } => KeyError { path, problem },
        other => key_error(out, other.to_string()),
    };
    write_atomic(out, &key.to_bytes(), 0o600).map_err(as_key_error)?;
    write_atomic(&public, &pub_bytes, 0o644).map_err(as_key_error)?;
    Ok(KeygenReport {
        secret: out.to_owned(),
        public,
        public_hex: to_hex(&pub_bytes),
    })
}

/// 32 key bytes from a file holding them raw or as 64 hex digits.
fn read_key_bytes(path: &Path, what: &str) -> Result<[u8; 32], KeyError> {
    let bytes = std::fs::read(path).map_err(|e| key_error(path, format!("cannot read: {e}")))?;
    if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return Ok(raw);
    }
    let text = std::str::from_utf8(&bytes).unwrap_or("").trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| key_error(path, "bad hex"))?;
        }
        return Ok(out);
    }
    Err(key_error(
        path,
        format!(
            "not an Ed25519 {what} ({} bytes; expected 32 raw bytes or 64 hex digits, as \
             `hepaseg keygen` writes)",
            bytes.len()
        ),
    ))
}

/// Loads a secret key written by [`keygen`].
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(key_error(
                    path,
                    format!(
                        "secret key is accessible by group or others (mode {mode:04o}); \
                         run `chmod 600 {}`",
                        path.display()
                    ),
                ));
            }
        }
    }
    Ok(SigningKey::from_bytes(&read_key_bytes(path, "secret key")?))
}

/// Loads a public key written by [`keygen`] (`KEY.pub`), checking it is a valid point.
pub fn load_public_key(path: &Path) -> Result<[u8; 32], KeyError> {
    let key = read_key_bytes(path, "public key")?;
    ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|_| key_error(path, "not a valid Ed25519 public key"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_a_private_secret_and_a_matching_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("release.key");
        let r = keygen(&out, false).unwrap();
        assert_eq!(std::fs::read(&out).unwrap().len(), 32);
        assert_eq!(std::fs::read(&r.public).unwrap().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let secret = load_signing_key(&out).unwrap();
        let public = load_public_key(&r.public).unwrap();
        assert_eq!(secret.verifying_key().to_bytes(), public);
        assert_eq!(to_hex(&public), r.public_hex);
        // Hex form is accepted too.
        let hex_file = dir.path().join("hex.pub");
        std::fs::write(&hex_file, format!("{}\n", r.public_hex)).unwrap();
        assert_eq!(load_public_key(&hex_file).unwrap(), public);
        // No silent overwrite; --force replaces.
        let e = keygen(&out, false).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        let r2 = keygen(&out, true).unwrap();
        assert_ne!(r2.public_hex, r.public_hex);
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_secret_key_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("k");
        keygen(&out, false).unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_signing_key(&out).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn wrong_key_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("notakey.pub");
        std::fs::write(&f, b"hello").unwrap();
        let e = load_public_key(&f).unwrap_err().to_string();
        assert!(e.contains("notakey.pub") && e.contains("5 bytes"), "{e}");
        let missing = dir.path().join("missing.pub");
        let e = load_public_key(&missing).unwrap_err().to_string();
        assert!(
            e.contains("missing.pub") && e.contains("cannot read"),
            "{e}"
        );
    }
}
