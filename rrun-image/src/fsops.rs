//! Thin, fd-relative wrappers of the syscalls that build a root filesystem. Every function acts
//! on one name inside an already-resolved directory fd and never follows a symlink in that
//! name, so together with `librrun::rootfs::resolve::Root` (which resolves the directory inside the
//! root) nothing can be created, changed or removed outside the root.

use crate::sys;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags};
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

pub fn cstring(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// The permission bits of `mode` (setuid, setgid, sticky and rwx) as given, for nix.
fn perm(mode: u32) -> Mode {
    Mode::from_bits_retain(mode & !libc::S_IFMT)
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)`.
pub fn open_at(dir: BorrowedFd<'_>, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    Ok(nix::fcntl::openat(dir, name, flags, perm(mode))?)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; `None` when the name does not exist.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Option<libc::stat>> {
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

pub fn mkdir_at(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    Ok(nix::sys::stat::mkdirat(dir, name, perm(mode))?)
}

pub fn symlink_at(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    Ok(nix::unistd::symlinkat(target, dir, name)?)
}

/// `mknodat(dir, name, mode, dev)`; `mode` holds the file type (`S_IFCHR`, ...) and the
/// permission bits.
pub fn mknod_at(dir: BorrowedFd<'_>, name: &CStr, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    let kind = SFlag::from_bits_retain(mode & libc::S_IFMT);
    Ok(nix::sys::stat::mknodat(dir, name, kind, perm(mode), dev)?)
}

/// `linkat(old_dir, old_name, new_dir, new_name, 0)`: a hard link to the entry itself (a
/// symlink is linked, not followed).
pub fn link_at(
    old_dir: BorrowedFd<'_>,
    old_name: &CStr,
    new_dir: BorrowedFd<'_>,
    new_name: &CStr,
) -> io::Result<()> {
    Ok(nix::unistd::linkat(
        old_dir,
        old_name,
        new_dir,
        new_name,
        AtFlags::empty(),
    )?)
}

pub fn unlink_at(dir: BorrowedFd<'_>, name: &CStr, is_dir: bool) -> io::Result<()> {
    let flags = if is_dir {
        UnlinkatFlags::RemoveDir
    } else {
        UnlinkatFlags::NoRemoveDir
    };
    Ok(nix::unistd::unlinkat(dir, name, flags)?)
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`.
pub fn lchown_at(dir: BorrowedFd<'_>, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    Ok(nix::unistd::fchownat(
        dir,
        name,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?)
}

/// `fchmodat(dir, name, mode, 0)`: only used on a device node or fifo this process has just
/// created with `mknodat`, so the name cannot be a symlink.
pub fn chmod_node_at(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    Ok(nix::sys::stat::fchmodat(
        dir,
        name,
        perm(mode),
        FchmodatFlags::FollowSymlink,
    )?)
}

/// Set atime and mtime of the name itself (not a symlink's target).
pub fn lutimes_at(dir: BorrowedFd<'_>, name: &CStr, mtime: i64) -> io::Result<()> {
    let t = TimeSpec::new(mtime, 0);
    Ok(nix::sys::stat::utimensat(
        dir,
        name,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )?)
}

pub fn futimes(fd: BorrowedFd<'_>, mtime: i64) -> io::Result<()> {
    let t = TimeSpec::new(mtime, 0);
    Ok(nix::sys::stat::futimens(fd, &t, &t)?)
}

pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    Ok(nix::unistd::fchown(
        fd,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
    )?)
}

pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    Ok(nix::sys::stat::fchmod(fd, perm(mode))?)
}

pub fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    sys::fsetxattr(fd, name, value)
}

/// `lsetxattr` on `name` inside `dir`, through `/proc/self/fd/<dir>/<name>`: the directory is
/// the already-resolved fd and the final name is not followed.
pub fn lsetxattr_at(dir: BorrowedFd<'_>, name: &CStr, attr: &CStr, value: &[u8]) -> io::Result<()> {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.to_bytes());
    let path = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    sys::lsetxattr(&path, attr, value)
}

/// The names in a directory opened for reading (without `.` and `..`).
pub fn list_dir(dir: OwnedFd) -> io::Result<Vec<CString>> {
    let d = nix::dir::Dir::from_fd(dir).map_err(io::Error::from)?;
    let mut names = Vec::new();
    for e in d {
        let e = e.map_err(io::Error::from)?;
        let n = e.file_name();
        if n.to_bytes() != b"." && n.to_bytes() != b".." {
            names.push(n.to_owned());
        }
    }
    Ok(names)
}

/// Remove `name` inside `dir` and, if it is a directory, everything under it, descending by fd
/// (never by path), so a symlink in the tree is removed, not followed. A missing name is fine.
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if is_dir(&st) {
        let sub = open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        let children = list_dir(open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?)?;
        for c in children {
            remove_all_at(std::os::fd::AsFd::as_fd(&sub), &c)?;
        }
    }
    match unlink_at(dir, name, is_dir(&st)) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}
