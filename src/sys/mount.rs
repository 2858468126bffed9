//! The mount API that works on file descriptors (Linux 5.2+, mount_setattr 5.12+): open_tree,
//! move_mount, mount_setattr, fsopen/fsconfig/fsmount. Every path argument is the empty string
//! with AT_EMPTY_PATH: the fds alone say what is meant. Nix wraps none of them.

use super::fd::adopt;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// open_tree(OPEN_TREE_CLONE): a detached copy (bind mount) of what `fd` refers to; with
/// `recursive`, of the whole tree of mounts below it too. The new fd is close-on-exec.
pub fn open_tree_clone(fd: BorrowedFd<'_>, recursive: bool) -> nix::Result<OwnedFd> {
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    // SAFETY: open_tree reads the NUL-terminated empty path (a static) and takes integers.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) };
    // SAFETY: `ret` is what open_tree, which returns a new fd, just returned.
    unsafe { adopt(ret) }
}

/// move_mount: attach the mount `tree` (detached, or moved from where it is) on top of what
/// `target` refers to.
pub fn move_mount(tree: BorrowedFd<'_>, target: BorrowedFd<'_>) -> nix::Result<()> {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: move_mount takes two fds, two NUL-terminated paths (the static empty string)
    // and a flag word; it reads nothing else of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    };
    if ret < 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// mount_setattr: set the `MOUNT_ATTR_*` flags in `set` and clear those in `clear` on the
/// mount `fd` is the root of; with `recursive`, on every mount below it too. The propagation
/// and the id mapping are left as they are.
pub fn mount_setattr(fd: BorrowedFd<'_>, set: u64, clear: u64, recursive: bool) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    setattr(fd, &attr, recursive)
}

/// mount_setattr(MOUNT_ATTR_IDMAP): give the detached mount `fd` is the root of (with
/// `recursive`, every mount below it too) the id mapping of the user namespace `userns`: a
/// file owned by id N of the file system is seen through the mount as the id that N maps to
/// in `userns` (uid_map line "N K 1": seen as K). The kernel accepts this only for a mount that
/// was never attached (a fresh OPEN_TREE_CLONE), of a file system that allows it, by a caller
/// with CAP_SYS_ADMIN over `userns` and over the file system's own user namespace.
pub fn mount_setattr_idmap(
    fd: BorrowedFd<'_>,
    userns: BorrowedFd<'_>,
    recursive: bool,
) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // `userns` is borrowed for the whole call.
    setattr(fd, &attr, recursive)
}

/// mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attr).
fn setattr(fd: BorrowedFd<'_>, attr: &libc::mount_attr, recursive: bool) -> nix::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: mount_setattr reads the static empty path and exactly `size_of::<mount_attr>()`
    // bytes of `attr`, a fully initialised mount_attr borrowed for the call; it writes none.
    // An fd `attr` names (userns_fd) is one its caller borrows for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if ret < 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// fsopen: a new file system context of type `fstype` (close-on-exec), to configure with
/// [`fsconfig_create`] and mount with [`fsmount`].
pub fn fsopen(fstype: &CStr) -> nix::Result<OwnedFd> {
    // SAFETY: fsopen reads the NUL-terminated `fstype`, alive for the call.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) };
    // SAFETY: `ret` is what fsopen, which returns a new fd, just returned.
    unsafe { adopt(ret) }
}

/// fsconfig(FSCONFIG_CMD_CREATE): create the superblock of the context `fs`.
pub fn fsconfig_create(fs: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: FSCONFIG_CMD_CREATE reads no key, value or aux argument: they are null and 0.
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
        return Err(nix::Error::last());
    }
    Ok(())
}

/// fsmount: a detached mount (close-on-exec fd) of the created context `fs`, with the
/// `MOUNT_ATTR_*` flags `attrs`.
pub fn fsmount(fs: BorrowedFd<'_>, attrs: u64) -> nix::Result<OwnedFd> {
    // SAFETY: fsmount takes the context fd and two flag words, and reads no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attrs,
        )
    };
    // SAFETY: `ret` is what fsmount, which returns a new fd, just returned.
    unsafe { adopt(ret) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::statvfs::{fstatvfs, FsFlags};
    use std::os::fd::AsFd;

    /// Without CAP_SYS_ADMIN the mount calls fail with EPERM: the tests then only check that
    /// the errno comes back.
    fn privileged<T>(r: nix::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(nix::Error::EPERM) => None,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn readonly(fd: BorrowedFd<'_>) -> bool {
        fstatvfs(fd).unwrap().flags().contains(FsFlags::ST_RDONLY)
    }

    /// A clone of a directory's mount, made read-only while detached: nothing is attached
    /// anywhere, and closing the fd drops it.
    #[test]
    fn a_detached_clone_made_readonly() {
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        let Some(tree) = privileged(open_tree_clone(dir.as_fd(), false)) else {
            return;
        };
        let was_readonly = readonly(tree.as_fd());
        mount_setattr(tree.as_fd(), libc::MOUNT_ATTR_RDONLY, 0, false).unwrap();
        assert!(readonly(tree.as_fd()));
        if !was_readonly {
            mount_setattr(tree.as_fd(), 0, libc::MOUNT_ATTR_RDONLY, false).unwrap();
            assert!(!readonly(tree.as_fd()));
        }
    }

    /// A new tmpfs, read-only, detached.
    #[test]
    fn a_detached_readonly_tmpfs() {
        let Some(fs) = privileged(fsopen(c"tmpfs")) else {
            return;
        };
        fsconfig_create(fs.as_fd()).unwrap();
        let mnt = fsmount(fs.as_fd(), libc::MOUNT_ATTR_RDONLY).unwrap();
        assert!(readonly(mnt.as_fd()));
    }

    #[test]
    fn errors_are_errnos() {
        let f = std::fs::File::open("/dev/null").unwrap();
        // A file system type nobody registered: ENODEV (EPERM without the capability).
        let e = fsopen(c"no-such-filesystem-rrun").unwrap_err();
        assert!(matches!(e, nix::Error::ENODEV | nix::Error::EPERM), "{e}");
        // Not a file system context.
        let e = fsconfig_create(f.as_fd()).unwrap_err();
        assert!(matches!(e, nix::Error::EINVAL | nix::Error::EPERM), "{e}");
    }
}
