//! All-or-nothing output of a command that writes several files.
//!
//! Each file is first written (itself atomically) under a hidden staging name next to its
//! final name; only when every file is staged are they renamed into place. A failure while
//! staging — a full disk, an unwritable directory — therefore leaves no output at all: the
//! staged files are removed, and so are the directories this run created, when empty. The
//! renames at the end are on one filesystem and do not fail in practice.

use crate::data::DataError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Files staged for one command's output.
#[derive(Debug, Default)]
pub struct Staging {
    staged: Vec<(PathBuf, PathBuf)>,
    created_dirs: Vec<PathBuf>,
    committed: bool,
}

fn write_err(path: &Path, e: std::io::Error) -> String {
    DataError::Write {
        path: path.to_path_buf(),
        source: e,
    }
    .to_string()
}

impl Staging {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates `dir` and missing parents, remembering which ones this run created.
    pub fn dir(&mut self, dir: &Path) -> Result<(), String> {
        let mut missing = Vec::new();
        let mut cur = Some(dir);
        while let Some(d) = cur {
            if d.as_os_str().is_empty() || d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            cur = d.parent();
        }
        for d in missing.into_iter().rev() {
            std::fs::create_dir(&d).map_err(|e| write_err(&d, e))?;
            self.created_dirs.push(d);
        }
        if dir.as_os_str().is_empty() || dir.is_dir() {
            Ok(())
        } else {
            Err(write_err(dir, std::io::Error::other("not a directory")))
        }
    }

    /// Stages `path`: `write` is called with the staging name to fill.
    pub fn add(
        &mut self,
        path: &Path,
        write: impl FnOnce(&Path) -> Result<(), DataError>,
    ) -> Result<(), String> {
        if let Some(parent) = path.parent() {
            self.dir(parent)
                .map_err(|e| format!("{}: cannot create its directory: {e}", path.display()))?;
        }
        let name = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // Keep a final ".gz" so writers that look at the extension behave the same.
        let gz = if name.ends_with(".gz") { ".gz" } else { "" };
        let tmp = path.with_file_name(format!(".{name}.stage-{}-{n}{gz}", std::process::id()));
        write(&tmp).map_err(|e| match e {
            // Report the final name, which is what the user asked for.
            DataError::Write { source, .. } => write_err(path, source),
            other => other.to_string(),
        })?;
        self.staged.push((tmp, path.to_path_buf()));
        Ok(())
    }

    /// Renames every staged file into place; returns the final paths.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, String> {
        let mut done = Vec::with_capacity(self.staged.len());
        for (tmp, path) in &self.staged {
            std::fs::rename(tmp, path).map_err(|e| write_err(path, e))?;
            done.push(path.clone());
        }
        self.committed = true;
        Ok(done)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (tmp, _) in &self.staged {
            let _ = std::fs::remove_file(tmp);
        }
        for d in self.created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d); // only succeeds when empty
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_left_when_a_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new/sub");
        {
            let mut s = Staging::new();
            s.add(&out.join("a.bin"), |p| {
                crate::data::atomic::write_bytes_atomic(p, b"a")
            })
            .unwrap();
            let e = s
                .add(&out.join("b.bin"), |p| {
                    Err(DataError::Write {
                        path: p.to_path_buf(),
                        source: std::io::Error::other("disk full"),
                    })
                })
                .unwrap_err();
            assert!(e.contains("b.bin") && e.contains("disk full"), "{e}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn commit_renames_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::new();
        let p = dir.path().join("x/m.nii.gz");
        s.add(&p, |t| {
            assert!(t.to_string_lossy().ends_with(".gz"));
            crate::data::atomic::write_bytes_atomic(t, b"m")
        })
        .unwrap();
        assert_eq!(s.commit().unwrap(), vec![p.clone()]);
        assert_eq!(std::fs::read(&p).unwrap(), b"m");
        assert_eq!(std::fs::read_dir(dir.path().join("x")).unwrap().count(), 1);
    }
}
