//! Mounts made through file descriptors only (Linux 5.12+: open_tree, move_mount,
//! mount_setattr, fsopen/fsmount), never through a path name.
//!
//! After pivot_root the container's `/proc` may be a fake directory of the image, so
//! `/proc/self/fd/N` must not be used as a mount source or target there: these calls take the
//! fds themselves. They are also how the rootfs is pinned: the fd opened once is the one that
//! is cloned, attached and pivoted into.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

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

fn empty() -> CString {
    CString::default()
}

fn owned(ret: libc::c_long, syscall: &'static str, what: &str) -> Result<OwnedFd> {
    if ret < 0 {
        return Err(err(syscall, what)(nix::Error::last()));
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}

/// A detached copy (bind mount) of the file or directory `fd` refers to; with `recursive`, of
/// the whole tree of mounts below it too.
pub fn clone_tree(fd: BorrowedFd<'_>, recursive: bool, what: &str) -> Result<OwnedFd> {
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    let path = empty();
    // SAFETY: open_tree reads the NUL-terminated empty path and returns a new fd or -1.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), path.as_ptr(), flags) };
    owned(ret, "open_tree", what)
}

/// Attach the detached mount `tree` on top of what `target` refers to.
pub fn attach(tree: BorrowedFd<'_>, target: BorrowedFd<'_>, what: &str) -> Result<()> {
    let path = empty();
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: move_mount takes two fds and two NUL-terminated (empty) paths.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            path.as_ptr(),
            target.as_raw_fd(),
            path.as_ptr(),
            flags,
        )
    };
    if ret < 0 {
        return Err(err("move_mount", what)(nix::Error::last()));
    }
    Ok(())
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
    attach(tree_fd(&tree), target, what)?;
    Ok(tree)
}

fn tree_fd(fd: &OwnedFd) -> BorrowedFd<'_> {
    std::os::fd::AsFd::as_fd(fd)
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
    let mut attr = libc::mount_attr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    let path = empty();
    // SAFETY: mount_setattr reads a fully initialised mount_attr of the size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            path.as_ptr(),
            flags,
            &mut attr as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if ret < 0 {
        return Err(err("mount_setattr", what)(nix::Error::last()));
    }
    Ok(())
}

/// A new, empty, read-only tmpfs mounted on top of the directory `target` refers to.
pub fn readonly_tmpfs(target: BorrowedFd<'_>, what: &str) -> Result<()> {
    let name = CString::new("tmpfs").expect("no NUL");
    // SAFETY: fsopen reads the NUL-terminated file system name.
    let fs = owned(
        unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), libc::FSOPEN_CLOEXEC) },
        "fsopen",
        what,
    )?;
    // SAFETY: FSCONFIG_CMD_CREATE takes no key, value or aux argument.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if ret < 0 {
        return Err(err("fsconfig(CREATE)", what)(nix::Error::last()));
    }
    // SAFETY: fsmount takes the fs context fd and two flag words.
    let mnt = owned(
        unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                fs.as_raw_fd(),
                libc::FSMOUNT_CLOEXEC,
                libc::MOUNT_ATTR_RDONLY,
            )
        },
        "fsmount",
        what,
    )?;
    attach(tree_fd(&mnt), target, what)
}
