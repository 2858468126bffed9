//! The directories an unpack builds before renaming them into place (`.NAME.rrun-image-PID`
//! beside the bundle, or beside a cached layer): removed when the unpack fails, when it is
//! interrupted (SIGINT, SIGTERM, SIGHUP), and, for one killed outright, by `gc`, which finds
//! them through the marks each keeps in the store's `unpacking/` while it lives.
//!
//! Interruption: [`install_signal_cleanup`] blocks the three signals in every thread (it must
//! run before any thread is started) and waits for them in a thread of its own, which removes
//! the live directories and exits with 128+signal, as a shell reports it.

use super::error::{io_err, IoError};
use super::store::{flock, Lock, StoreError};
use nix::sys::signal::{SigSet, Signal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// Set once a signal asked this process to stop: its cleanup is under way.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Directories being built by this process.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// The store whose `unpacking/` records them (set by the commands that have a store).
static STORE: OnceLock<PathBuf> = OnceLock::new();

/// Block SIGINT, SIGTERM and SIGHUP and remove the live directories when one arrives.
pub fn install_signal_cleanup() {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        if let Ok(sig) = set.wait() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            remove_live();
            std::process::exit(128 + sig as i32);
        }
    });
}

/// Whether a signal is being handled: an error the work meets now (its directory removed
/// under it) is a consequence, and the signal's exit status is the one to report.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn remove_live() {
    let dirs = LIVE.lock().map(|v| v.clone()).unwrap_or_default();
    for d in dirs {
        if !d.exists() {
            continue;
        }
        // Threads may still be writing into it: a few tries until it is gone.
        for _ in 0..10 {
            if std::fs::remove_dir_all(&d).is_ok() || !d.exists() {
                break;
            }
        }
        eprintln!("rrun-image: interrupted; removed {}", d.display());
    }
}

/// Record the temp directories of this process in `store_root/unpacking/`.
pub fn record_in_store(store_root: &Path) {
    let _ = STORE.set(store_root.to_path_buf());
}

fn marks_dir(store_root: &Path) -> PathBuf {
    store_root.join("unpacking")
}

/// A directory being built; removed on drop unless committed.
pub struct TempDir {
    path: PathBuf,
    keep: bool,
    /// The mark in the store (its lock held while we live).
    mark: Option<(PathBuf, Lock)>,
}

type Result<T> = std::result::Result<T, TempDirError>;

#[derive(Debug, thiserror::Error)]
pub enum TempDirError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TempDir {
    /// A new, empty, private directory next to `target`.
    pub fn beside(target: &Path) -> Result<TempDir> {
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        let path = target.with_file_name(format!(".{name}.rrun-image-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
        }
        let mark = match STORE.get() {
            Some(root) => Some(mark(root, &path)?),
            None => None,
        };
        // Registered before it exists: a signal from the moment it is seen is handled.
        if let Ok(mut live) = LIVE.lock() {
            live.push(path.clone());
        }
        let dir = TempDir {
            path,
            keep: false,
            mark,
        };
        std::fs::create_dir(&dir.path).map_err(io_err("mkdir", &dir.path))?;
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rename the directory to `dest` (an absent path or an empty directory).
    pub fn commit(mut self, dest: &Path) -> Result<()> {
        std::fs::rename(&self.path, dest).map_err(io_err("rename", dest))?;
        self.keep = true;
        Ok(())
    }
}

/// Write a mark naming `path`, locked for as long as the returned lock lives.
fn mark(root: &Path, path: &Path) -> Result<(PathBuf, Lock)> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = marks_dir(root);
    std::fs::create_dir_all(&dir).map_err(io_err("mkdir", &dir))?;
    let file = dir.join(format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let lock = flock(&file, true, true)?.ok_or_else(|| {
        TempDirError::Io(io_err("flock", &file)(std::io::Error::other("not locked")))
    })?;
    let abs = std::path::absolute(path).map_err(io_err("absolute", path))?;
    std::fs::write(&file, abs.as_os_str().as_encoded_bytes()).map_err(io_err("write", &file))?;
    Ok((file, lock))
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|p| *p != self.path);
        }
        if let Some((file, _lock)) = self.mark.take() {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Remove what killed unpacks left: for each mark whose lock nobody holds, the directory it
/// names (only if its name is one of ours) and the mark. Returns how many directories.
pub fn gc_stale(store_root: &Path) -> Result<u64> {
    let dir = marks_dir(store_root);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err("readdir", &dir)(e).into()),
    };
    let mut removed = 0;
    for e in entries {
        let file = e.map_err(io_err("readdir", &dir))?.path();
        let Some(_lock) = flock(&file, true, false)? else {
            continue; // a live unpack
        };
        let named = std::fs::read(&file).map_err(io_err("read", &file))?;
        let path = PathBuf::from(String::from_utf8_lossy(&named).into_owned());
        let ours = path.is_absolute()
            && path
                .file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with('.') && n.contains(".rrun-image-"));
        if ours && path.exists() {
            std::fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
            removed += 1;
        }
        std::fs::remove_file(&file).map_err(io_err("remove", &file))?;
    }
    Ok(removed)
}
