//! A temporary directory removed (recursively) when dropped, even on panic.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, thiserror::Error)]
#[error("creating temporary directory {path}: {source}")]
pub struct TempDirError {
    path: PathBuf,
    source: std::io::Error,
}

#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh directory `<parent>/<prefix>-<pid>-<n>`, mode 0755 so that
    /// containers running as another (possibly mapped) uid can traverse it.
    pub fn new_in(parent: &Path, prefix: &str) -> Result<TempDir, TempDirError> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("{prefix}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|source| TempDirError {
            path: path.clone(),
            source,
        })?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(
            |source| TempDirError {
                path: path.clone(),
                source,
            },
        )?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("# warning: removing {}: {e}", self.path.display());
            }
        }
    }
}
