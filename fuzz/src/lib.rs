//! Helpers shared by the fuzz targets: blobs in aligned memory and with their checksum repaired
//! (so that mutations of a valid seed reach the structural checks and the engines instead of
//! stopping at the CRC), and files in a per-process temporary folder for the host readers,
//! which take paths.

use hepaseg_core::blob::{checksum, Header, CHECKSUM_LEN};

/// `data` copied into 8-byte aligned memory, as a blob sits in flash (the engines' typed
/// views need a 4-byte aligned address; a misaligned one is its own error, tested elsewhere).
pub struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    /// A copy of `data`.
    pub fn new(data: &[u8]) -> Self {
        let mut words = vec![0u64; data.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..data.len()].copy_from_slice(data);
        Self {
            words,
            len: data.len(),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }

    /// The bytes, mutable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.words)[..self.len]
    }

    /// Rewrites the stored CRC-32C to match the body, where the header locates it inside the
    /// buffer. Returns whether anything was rewritten.
    pub fn repair_checksum(&mut self) -> bool {
        let Ok(header) = Header::parse(self.bytes()) else {
            return false;
        };
        let body = header.body_len;
        let Some(end) = body.checked_add(CHECKSUM_LEN).filter(|&e| e <= self.len) else {
            return false;
        };
        let crc = checksum(&self.bytes()[..body]);
        let stored = &mut self.bytes_mut()[body..end];
        if stored == crc.to_le_bytes() {
            return false;
        }
        stored.copy_from_slice(&crc.to_le_bytes());
        true
    }
}

/// A file holding `data` in this process's temporary folder, named `name` (the readers pick a
/// format by extension). Rewritten on every call; the folder is removed when the process ends
/// normally and lives under the system temporary folder otherwise.
pub fn temp_file(name: &str, data: &[u8]) -> std::path::PathBuf {
    let path = temp_dir().join(name);
    std::fs::write(&path, data).expect("write the fuzz input to the temporary folder");
    path
}

/// This process's temporary folder (created once).
pub fn temp_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("hepaseg-fuzz-")
            .tempdir()
            .expect("create a temporary folder")
    })
    .path()
}
