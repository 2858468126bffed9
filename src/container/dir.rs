//! A container's state directory under `--root`: `<root>/<id>/` holds `state.json` and, between
//! create and start, the start fifos. An exclusive flock on the directory serialises the
//! commands that change a container (the wait for it is bounded); `state`, `list`, `ps` and
//! `events` read without it (state.json is replaced atomically). Ids are validated before any
//! path is built from them.

use super::error::ContainerError;
use super::state::SavedState;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";

pub(crate) fn io<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> ContainerError + 'a {
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

/// How long a command waits for another one's lock on the same container.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A container directory, locked (commands that change it) or not (readers). The lock is
/// released on drop.
#[derive(Debug)]
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    lock: Option<Flock<File>>,
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
        let dir = Self::open_even_without_state(root, id)?;
        if !dir.has_state() {
            // A create killed right after making the directory (`delete --force` removes it).
            return Err(ContainerError::NotExist);
        }
        Ok(dir)
    }

    /// Open and lock `<root>/<id>` whether or not it holds a state.json (for `delete --force`).
    pub fn open_even_without_state(root: &Path, id: &str) -> Result<ContainerDir, ContainerError> {
        validate_id(id)?;
        Self::lock(id, root.join(id))
    }

    /// Open a container's directory to read its state, without the lock.
    pub fn open_unlocked(root: &Path, id: &str) -> Result<ContainerDir, ContainerError> {
        validate_id(id)?;
        let path = root.join(id);
        if !path.join(STATE_FILE).exists() {
            return Err(ContainerError::NotExist);
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            lock: None,
        })
    }

    pub fn has_state(&self) -> bool {
        self.path.join(STATE_FILE).exists()
    }

    fn lock(id: &str, path: PathBuf) -> Result<ContainerDir, ContainerError> {
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotExist)
            }
            Err(e) => return Err(io("open", &path)(e)),
        };
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let lock = loop {
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => break l,
                Err((back, nix::Error::EWOULDBLOCK)) if std::time::Instant::now() < deadline => {
                    f = back;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err((_, nix::Error::EWOULDBLOCK)) => {
                    return Err(ContainerError::Busy {
                        id: id.to_string(),
                        secs: LOCK_WAIT.as_secs(),
                    })
                }
                Err((_, e)) => return Err(io("flock", &path)(e.into())),
            }
        };
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            lock: Some(lock),
        })
    }

    /// Give up the lock (a foreground command whose process runs on); the path stays.
    pub fn release_lock(&mut self) {
        self.lock = None;
    }

    /// Whether another process holds this container's lock: a `create` still at work. Always
    /// false for the holder itself.
    pub fn locked_by_another(&self) -> bool {
        if self.lock.is_some() {
            return false;
        }
        let Ok(f) = File::open(&self.path) else {
            return false;
        };
        matches!(
            Flock::lock(f, FlockArg::LockSharedNonblock),
            Err((_, nix::Error::EWOULDBLOCK))
        )
    }

    /// A new open of the directory (its own open file description, so a process that inherits
    /// it does not share the lock): the init reaches the start fifos through it.
    pub fn reopen(&self) -> Result<File, ContainerError> {
        File::open(&self.path).map_err(io("open", &self.path))
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

    /// Remove the whole directory (the lock goes with it). Whatever is mounted below it goes
    /// first: a `restore` killed while CRIU ran leaves the rootfs bound at `criu-root`, and a
    /// recursive removal would follow that mount into the rootfs.
    pub fn remove(self) -> Result<(), ContainerError> {
        self.unmount_below()?;
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &self.path)(e)),
        }
    }
}

impl ContainerDir {
    /// Detach every mount below the directory; an error if one stays.
    fn unmount_below(&self) -> Result<(), ContainerError> {
        let Ok(dir) = std::fs::canonicalize(&self.path) else {
            return Ok(());
        };
        let below = || -> Result<Vec<PathBuf>, ContainerError> {
            let mounts =
                crate::procinfo::mountinfo::read_self().map_err(|e| ContainerError::Io {
                    op: "read mountinfo before removing",
                    path: self.path.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
            Ok(mounts
                .into_iter()
                .map(|m| m.mount_point)
                .filter(|p| p.starts_with(&dir) && *p != dir)
                .collect())
        };
        let mounted = below()?;
        if mounted.is_empty() {
            return Ok(());
        }
        for p in mounted.iter().rev() {
            let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
        }
        match below()?.first() {
            None => Ok(()),
            Some(p) => Err(ContainerError::Io {
                op: "unmount before removing the container directory",
                path: p.clone(),
                source: std::io::Error::from_raw_os_error(libc::EBUSY),
            }),
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

/// Write a `--pid-file` (atomically, as runc does; a relative path is the caller's).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<(), ContainerError> {
    let abs = std::path::absolute(path).map_err(io("resolve", path))?;
    write_atomic(&abs, pid.to_string().as_bytes())
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
