//! A verified handle on procfs, for the writes the init makes to /proc (sysctls).
//!
//! The handle is opened from the host's /proc before any mount is made in the container's
//! mount namespace, and checked to be the root of a procfs mount. Files are opened below it
//! with no symlink and no mount crossing on the way, and checked again to be procfs files, so
//! neither a fake /proc in the image nor a mount over part of /proc can redirect a write
//! (CVE-2025-52881 class). The handle is dropped before the container can reach the init.

use crate::rootfs::resolve::openat2;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("{syscall} {path}: {source}")]
    Sys {
        syscall: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not on procfs: refusing to write it")]
    NotProc { path: PathBuf },
}

/// An fd of the root of a real procfs mount.
#[derive(Debug)]
pub struct ProcFs {
    fd: OwnedFd,
}

fn is_proc(fd: BorrowedFd<'_>) -> bool {
    nix::sys::statfs::fstatfs(fd)
        .map(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        .unwrap_or(false)
}

impl ProcFs {
    /// Open `/proc` (no symlink) and check that it is procfs.
    pub fn open() -> Result<ProcFs, ProcError> {
        let path = Path::new("/proc");
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_NOFOLLOW
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| ProcError::Sys {
            syscall: "open",
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        if !is_proc(fd.as_fd()) {
            return Err(ProcError::NotProc {
                path: path.to_path_buf(),
            });
        }
        Ok(ProcFs { fd })
    }

    /// Open `rel` (e.g. `sys/net/ipv4/ip_forward`) below the handle: no `..` out of it, no
    /// symlink, no other mount on the way; the file must be a procfs file.
    pub fn open_file(&self, rel: &Path, flags: i32) -> Result<OwnedFd, ProcError> {
        let full = Path::new("/proc").join(rel);
        let resolve = libc::RESOLVE_BENEATH
            | libc::RESOLVE_NO_SYMLINKS
            | libc::RESOLVE_NO_MAGICLINKS
            | libc::RESOLVE_NO_XDEV;
        let fd =
            openat2(self.fd.as_fd(), rel, flags, 0, resolve).map_err(|source| ProcError::Sys {
                syscall: "openat2",
                path: full.clone(),
                source,
            })?;
        if !is_proc(fd.as_fd()) {
            return Err(ProcError::NotProc { path: full });
        }
        Ok(fd)
    }
}
