//! Hard-link entries. The target is cleaned like any entry path, so it names something inside
//! the root, and the link is made with `linkat` relative to the target's resolved directory.
//! A target this root does not have (overlay mode, where each layer is its own directory) is
//! copied from the topmost lower layer that has it.

use super::apply::{or_dot, Applier, ApplyError, Result};
use super::create::Place;
use super::entry::InRoot;
use crate::error::rootfs_err;
use crate::fsops::{self, cstring};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where a hard link points, inside the root.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Target<'a> {
    /// The root directory itself: never a valid target.
    Root,
    /// The entry's own path: nothing to do.
    Itself,
    /// `name` in the directory `parent`; `path` is the two joined.
    Other {
        path: PathBuf,
        parent: PathBuf,
        name: &'a OsStr,
    },
}

/// The target of a hard link entry at `path` whose header names `raw`.
pub(super) fn target<'a>(raw: &'a Path, path: &Path) -> Target<'a> {
    let t = InRoot::new(raw);
    match t.split {
        None => Target::Root,
        Some(_) if t.path == path => Target::Itself,
        Some((parent, name)) => Target::Other {
            path: t.path,
            parent,
            name,
        },
    }
}

impl Applier<'_> {
    /// A hard link entry, replacing `existing`.
    pub(super) fn hard_link<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        at: Place<'_>,
        existing: Option<libc::stat>,
    ) -> Result<()> {
        let Place { dir, name, path } = at;
        let raw = entry
            .link_name()
            .map_err(ApplyError::Tar)?
            .ok_or_else(|| rootfs_err("link", path)(io::ErrorKind::InvalidData.into()))?
            .into_owned();
        let (target, tparent, tname) = match target(&raw, path) {
            Target::Root => {
                return Err(ApplyError::MissingLinkTarget {
                    path: path.to_path_buf(),
                    target: PathBuf::new(),
                })
            }
            Target::Itself => return Ok(()),
            Target::Other { path, parent, name } => (path, parent, name),
        };
        let missing = || ApplyError::MissingLinkTarget {
            path: path.to_path_buf(),
            target: target.clone(),
        };
        let tname = cstring(tname).map_err(rootfs_err("name", &target))?;
        if let Some(st) = existing {
            fsops::remove_all_at(dir, name).map_err(rootfs_err("remove", path))?;
            if fsops::is_dir(&st) {
                self.removed(path);
            }
        }
        let tdir = match self
            .root
            .open_path(or_dot(&tparent), libc::O_PATH | libc::O_DIRECTORY)
        {
            Ok(fd) => Some(fd),
            Err(e) if e.errno() == Some(libc::ENOENT) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(tdir) = &tdir {
            match fsops::link_at(tdir.as_fd(), &tname, dir, name) {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(rootfs_err("linkat", path)(e).into()),
            }
        }
        self.copy_from_lower(&target, at)?.ok_or_else(missing)
    }

    /// Overlay mode: a hard link whose target is in a lower layer's directory becomes a copy.
    fn copy_from_lower(&mut self, target: &Path, at: Place<'_>) -> Result<Option<()>> {
        let Place { dir, name, path } = at;
        for lower in self.lowers.iter().rev() {
            let src = match lower.open_path(target, libc::O_RDONLY | libc::O_NOFOLLOW) {
                Ok(fd) => File::from(fd),
                Err(e) if e.errno() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            let md = src.metadata().map_err(rootfs_err("fstat", target))?;
            let mode = md.permissions().mode() & 0o7777;
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
            let fd = fsops::open_at(dir, name, flags, mode).map_err(rootfs_err("create", path))?;
            let mut dst = File::from(fd);
            io::copy(&mut &src, &mut dst).map_err(rootfs_err("copy", path))?;
            fsops::fchown(dst.as_fd(), md.uid(), md.gid()).map_err(rootfs_err("fchown", path))?;
            fsops::fchmod(dst.as_fd(), mode).map_err(rootfs_err("fchmod", path))?;
            fsops::futimes(dst.as_fd(), md.mtime()).map_err(rootfs_err("futimens", path))?;
            return Ok(Some(()));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_cleaned_into_the_root() {
        let t = target(Path::new("../../../etc/passwd"), Path::new("bin/x"));
        assert_eq!(
            t,
            Target::Other {
                path: PathBuf::from("etc/passwd"),
                parent: PathBuf::from("etc"),
                name: OsStr::new("passwd"),
            }
        );
        let t = target(Path::new("/usr/bin/sh"), Path::new("bin/sh"));
        assert_eq!(
            t,
            Target::Other {
                path: PathBuf::from("usr/bin/sh"),
                parent: PathBuf::from("usr/bin"),
                name: OsStr::new("sh"),
            }
        );
        let t = target(Path::new("top"), Path::new("x"));
        assert_eq!(
            t,
            Target::Other {
                path: PathBuf::from("top"),
                parent: PathBuf::new(),
                name: OsStr::new("top"),
            }
        );
    }

    #[test]
    fn the_root_and_the_entry_itself() {
        for raw in ["/", ".", "../..", "a/.."] {
            assert_eq!(
                target(Path::new(raw), Path::new("x")),
                Target::Root,
                "{raw}"
            );
        }
        for raw in ["bin/x", "./bin/x", "/bin/x", "bin/../bin/x"] {
            assert_eq!(
                target(Path::new(raw), Path::new("bin/x")),
                Target::Itself,
                "{raw}"
            );
        }
    }
}
