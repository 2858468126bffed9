//! Making one entry of a layer: a directory, regular file, symlink, device node or fifo, with
//! its owner, mode, xattrs and mtime. The owner is set before the mode (a chown clears setuid
//! and setgid) and before the xattrs (it clears `security.capability`).

use super::apply::{Applier, ApplyError, Result};
use super::deferred::DirMeta;
use super::entry::{dev_t, Meta};
use crate::error::rootfs_err;
use crate::fsops;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// Where an entry is made: `name` in the already-resolved directory `dir`. `path` is the
/// entry's path inside the root, for messages and bookkeeping.
#[derive(Clone, Copy)]
pub(super) struct Place<'a> {
    pub dir: BorrowedFd<'a>,
    pub name: &'a CStr,
    pub path: &'a Path,
}

impl Applier<'_> {
    /// A directory entry: an existing directory is kept (a later layer only changes its
    /// metadata), anything else there is replaced. Its mode and mtime are deferred.
    pub(super) fn directory(
        &mut self,
        at: Place<'_>,
        existing: Option<libc::stat>,
        meta: &Meta,
    ) -> Result<()> {
        let Place { dir, name, path } = at;
        match existing {
            Some(st) if fsops::is_dir(&st) => {}
            other => {
                if other.is_some() {
                    fsops::remove_all_at(dir, name).map_err(rootfs_err("remove", path))?;
                    self.removed(path);
                }
                fsops::mkdir_at(dir, name, 0o700).map_err(rootfs_err("mkdirat", path))?;
            }
        }
        let (uid, gid) = self.owner(meta, path)?;
        let fd = fsops::open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(rootfs_err("open", path))?;
        fsops::fchown(fd.as_fd(), uid, gid).map_err(rootfs_err("fchown", path))?;
        for (attr, value) in &meta.xattrs {
            fsops::fsetxattr(fd.as_fd(), attr, value).map_err(rootfs_err("fsetxattr", path))?;
        }
        self.dirs.set(
            path.to_path_buf(),
            DirMeta {
                mode: meta.mode,
                mtime: meta.mtime,
            },
        );
        Ok(())
    }

    /// A regular file with the entry's content.
    pub(super) fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        at: Place<'_>,
        meta: &Meta,
        (uid, gid): (u32, u32),
    ) -> Result<()> {
        let Place { dir, name, path } = at;
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
        // Private until chowned; the mode is set after the chown, which would clear setuid.
        let fd = fsops::open_at(dir, name, flags, 0o600).map_err(rootfs_err("create", path))?;
        let mut file = File::from(fd);
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ApplyError::Tar(e)),
            };
            file.write_all(&self.buf[..n])
                .map_err(rootfs_err("write", path))?;
        }
        fsops::fchown(file.as_fd(), uid, gid).map_err(rootfs_err("fchown", path))?;
        fsops::fchmod(file.as_fd(), meta.mode).map_err(rootfs_err("fchmod", path))?;
        for (attr, value) in &meta.xattrs {
            fsops::fsetxattr(file.as_fd(), attr, value).map_err(rootfs_err("fsetxattr", path))?;
        }
        fsops::futimes(file.as_fd(), meta.mtime).map_err(rootfs_err("futimens", path))?;
        Ok(())
    }

    /// A symlink to `target` (which is stored as it is and never followed here).
    pub(super) fn symlink(
        &mut self,
        target: Option<&[u8]>,
        at: Place<'_>,
        meta: &Meta,
        (uid, gid): (u32, u32),
    ) -> Result<()> {
        let Place { dir, name, path } = at;
        let invalid = || rootfs_err("symlink", path)(io::ErrorKind::InvalidData.into());
        let target = CString::new(target.ok_or_else(invalid)?).map_err(|_| invalid())?;
        fsops::symlink_at(&target, dir, name).map_err(rootfs_err("symlinkat", path))?;
        self.cache = None;
        fsops::lchown_at(dir, name, uid, gid).map_err(rootfs_err("lchown", path))?;
        self.xattrs_at(at, meta)?;
        fsops::lutimes_at(dir, name, meta.mtime).map_err(rootfs_err("utimensat", path))?;
        Ok(())
    }

    /// A character or block device (skipped, with a warning, where devices cannot be made)
    /// or a fifo.
    pub(super) fn node(
        &mut self,
        header: &tar::Header,
        at: Place<'_>,
        meta: &Meta,
        (uid, gid): (u32, u32),
    ) -> Result<()> {
        let Place { dir, name, path } = at;
        let (fmt, is_device) = match header.entry_type() {
            tar::EntryType::Char => (libc::S_IFCHR, true),
            tar::EntryType::Block => (libc::S_IFBLK, true),
            _ => (libc::S_IFIFO, false),
        };
        if is_device && self.opts.skip_devices {
            self.warnings.push(format!(
                "{}: device node skipped (rootless)",
                path.display()
            ));
            return Ok(());
        }
        let dev = if is_device { dev_t(header) } else { 0 };
        match fsops::mknod_at(dir, name, fmt | meta.mode, dev) {
            Ok(()) => {}
            Err(e) if is_device && e.raw_os_error() == Some(libc::EPERM) => {
                self.warnings.push(format!(
                    "{}: device node not allowed here, skipped",
                    path.display()
                ));
                return Ok(());
            }
            Err(e) => return Err(rootfs_err("mknodat", path)(e).into()),
        }
        fsops::lchown_at(dir, name, uid, gid).map_err(rootfs_err("lchown", path))?;
        fsops::chmod_node_at(dir, name, meta.mode).map_err(rootfs_err("fchmodat", path))?;
        self.xattrs_at(at, meta)?;
        fsops::lutimes_at(dir, name, meta.mtime).map_err(rootfs_err("utimensat", path))?;
        Ok(())
    }

    fn xattrs_at(&self, at: Place<'_>, meta: &Meta) -> Result<()> {
        for (attr, value) in &meta.xattrs {
            fsops::lsetxattr_at(at.dir, at.name, attr, value)
                .map_err(rootfs_err("lsetxattr", at.path))?;
        }
        Ok(())
    }
}
