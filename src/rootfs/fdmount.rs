//! Mounts made through file descriptors only (Linux 5.12+: open_tree, move_mount,
//! mount_setattr, fsopen/fsmount), never through a path name.
//!
//! After pivot_root the container's `/proc` may be a fake directory of the image, so
//! `/proc/self/fd/N` must not be used as a mount source or target there: these calls take the
//! fds themselves. They are also how the rootfs is pinned: the fd opened once is the one that
//! is cloned, attached and pivoted into.

use crate::sys;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// A failed mount syscall, with what it was for.
#[derive(Debug, thiserror::Error)]
#[error("{syscall} ({what}): {source}")]
pub struct FdMountError {
    pub syscall: &'static str,
    pub what: String,
    pub source: nix::Error,
}

type Result<T> = std::result::Result<T, FdMountError>;

fn err<'a>(syscall: &'static str, what: &'a str) -> impl FnOnce(nix::Error) -> FdMountError + 'a {
    move |source| FdMountError {
        syscall,
        what: what.to_string(),
        source,
    }
}

/// A detached copy (bind mount) of the file or directory `fd` refers to; with `recursive`, of
/// the whole tree of mounts below it too.
pub fn clone_tree(fd: BorrowedFd<'_>, recursive: bool, what: &str) -> Result<OwnedFd> {
    sys::mount::open_tree_clone(fd, recursive).map_err(err("open_tree", what))
}

/// Attach the detached mount `tree` on top of what `target` refers to.
pub fn attach(tree: BorrowedFd<'_>, target: BorrowedFd<'_>, what: &str) -> Result<()> {
    sys::mount::move_mount(tree, target).map_err(err("move_mount", what))
}

/// Bind what `source` refers to onto what `target` refers to. Returns the new mount (an fd
/// of its root), e.g. to make it read-only.
pub fn bind(
    source: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    recursive: bool,
    what: &str,
) -> Result<OwnedFd> {
    let tree = clone_tree(source, recursive, what)?;
    attach(tree.as_fd(), target, what)?;
    Ok(tree)
}

/// Set (and clear) mount attributes (`MOUNT_ATTR_*`) of the mount `fd` is the root of; with
/// `recursive`, of every mount below it too. Flags not named keep their value.
pub fn set_attr(
    fd: BorrowedFd<'_>,
    set: u64,
    clear: u64,
    recursive: bool,
    what: &str,
) -> Result<()> {
    sys::mount::mount_setattr(fd, set, clear, recursive).map_err(err("mount_setattr", what))
}

/// A new, empty, read-only tmpfs mounted on top of the directory `target` refers to.
pub fn readonly_tmpfs(target: BorrowedFd<'_>, what: &str) -> Result<()> {
    let fs = sys::mount::fsopen(c"tmpfs").map_err(err("fsopen", what))?;
    sys::mount::fsconfig_create(fs.as_fd()).map_err(err("fsconfig(CREATE)", what))?;
    let mnt =
        sys::mount::fsmount(fs.as_fd(), libc::MOUNT_ATTR_RDONLY).map_err(err("fsmount", what))?;
    attach(mnt.as_fd(), target, what)
}
