//! Atomic file output: write to a temporary file in the destination directory, then rename.
//!
//! A crash or an error half-way through never leaves a truncated PNG, NIfTI or CSV under its
//! final name, so a reader never mistakes a half-written file for data. The temporary file lives
//! in the same directory because `rename` is only atomic within one filesystem.

use super::error::DataError;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writers in one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary name for `path`: hidden, unique per process and call.
fn temp_path(path: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `path` atomically: `fill` writes the content into a buffered temporary file, which is
/// flushed, synced to disk and renamed onto `path`. On any error the temporary file is removed
/// and `path` is untouched.
pub fn write_atomic<F>(path: &Path, fill: F) -> Result<(), DataError>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let tmp = temp_path(path);
    let result = (|| -> std::io::Result<()> {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(DataError::write(path, e));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    write_atomic(path, |w| w.write_all(bytes))
}

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> Result<(), DataError> {
    fs::create_dir_all(dir).map_err(|e| DataError::write(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "hepaseg-atomic-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = scratch("fail");
        let path = dir.join("out.bin");
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("out.bin"), "{err}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        write_bytes_atomic(&path, b"whole").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"whole");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
