//! A container's state directory under `--root`: `<root>/<id>/` holds `state.json` and, between
//! create and start, the exec fifo. An exclusive flock on the directory serialises commands on
//! one id; ids are validated before any path is built from them.

pub mod start_fifos;
pub mod state;

use nix::fcntl::{Flock, FlockArg};
use state::SavedState;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use start_fifos::{EXEC_FIFO, EXEC_STATUS};
pub const STATE_FILE: &str = "state.json";

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("invalid container id {0:?}: use letters, digits, '_', '-', '.', '+' (1 to 1024 characters, not '.' or '..')")]
    InvalidId(String),
    #[error("container does not exist")]
    NotExist,
    #[error("container with given ID already exists")]
    Exists,
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ContainerError + 'a {
    move |source| ContainerError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Check an id the way runc does (`^[\w+-\.]+$`), so it is one safe path component.
pub fn validate_id(id: &str) -> Result<(), ContainerError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+'));
    if ok {
        Ok(())
    } else {
        Err(ContainerError::InvalidId(id.to_string()))
    }
}

/// A locked container directory. The lock is released on drop.
#[derive(Debug)]
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    lock: Flock<File>,
}

impl ContainerDir {
    /// Make `<root>/<id>` for a new container and lock it. Fails with `Exists` if it is there.
    pub fn create(root: &Path, id: &str) -> Result<ContainerDir, ContainerError> {
        validate_id(id)?;
        std::fs::create_dir_all(root).map_err(io("mkdir", root))?;
        let path = root.join(id);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ContainerError::Exists)
            }
            Err(e) => return Err(io("mkdir", &path)(e)),
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o711));
        Self::lock(id, path)
    }

    /// Open and lock the directory of an existing container.
    pub fn open(root: &Path, id: &str) -> Result<ContainerDir, ContainerError> {
        validate_id(id)?;
        let path = root.join(id);
        let dir = Self::lock(id, path)?;
        if !dir.path.join(STATE_FILE).exists() {
            // A directory without state is a create still in progress (it holds the lock
            // until it is done) or one that failed and cleaned up under us.
            return Err(ContainerError::NotExist);
        }
        Ok(dir)
    }

    fn lock(id: &str, path: PathBuf) -> Result<ContainerDir, ContainerError> {
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotExist)
            }
            Err(e) => return Err(io("open", &path)(e)),
        };
        let lock = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| io("flock", &path)(e.into()))?;
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            lock,
        })
    }

    /// The directory file itself (its fd is inherited by the init to reach the exec fifo after
    /// pivot_root).
    pub fn file(&self) -> &File {
        &self.lock
    }

    pub fn load(&self) -> Result<SavedState, ContainerError> {
        let p = self.path.join(STATE_FILE);
        let data = match std::fs::read(&p) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotExist)
            }
            Err(e) => return Err(io("read", &p)(e)),
        };
        serde_json::from_slice(&data).map_err(|source| ContainerError::Corrupt { path: p, source })
    }

    /// Write state.json atomically (temp file, fsync-free rename: /run is tmpfs).
    pub fn save(&self, st: &SavedState) -> Result<(), ContainerError> {
        let data = serde_json::to_vec(st).expect("state serialises");
        write_atomic(&self.path.join(STATE_FILE), &data)
    }

    /// Remove the whole directory (the lock goes with it).
    pub fn remove(self) -> Result<(), ContainerError> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &self.path)(e)),
        }
    }
}

/// Write `data` to `path` through a temp file in the same directory and a rename, so readers
/// never see half a file.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), ContainerError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
    if let Err(e) = f.write_all(data) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", &tmp)(e));
    }
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("rename", path)(e)
    })
}

/// The ids of all containers under `root` that have a state file, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>, ContainerError> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("readdir", root)(e)),
    };
    let mut ids: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| validate_id(id).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "abc-1_2.3+4", &"x".repeat(64)] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0b"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn create_twice_fails_and_open_needs_state() {
        let root = std::env::temp_dir().join(format!("rrun-cdir-{}", std::process::id()));
        let d = ContainerDir::create(&root, "c1").unwrap();
        assert!(matches!(
            ContainerDir::create(&root, "c1"),
            Err(ContainerError::Exists)
        ));
        drop(d);
        assert!(matches!(
            ContainerDir::open(&root, "c1"),
            Err(ContainerError::NotExist)
        ));
        assert!(matches!(
            ContainerDir::open(&root, "nope"),
            Err(ContainerError::NotExist)
        ));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
