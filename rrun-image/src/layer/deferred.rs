//! Directory modes and mtimes, set once after the last layer: writing a child changes its
//! directory's mtime, and a read-only (0555) directory must stay writable while it is filled.
//! They are set deepest first, so a directory whose mode takes away search permission from
//! its owner never blocks the way to one below it.

use super::apply::{or_dot, Result};
use crate::error::rootfs_err;
use crate::fsops;
use librrun::rootfs::resolve::Root;
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DirMeta {
    pub mode: u32,
    pub mtime: i64,
}

/// The directories met so far (by path inside the root; the root itself is the empty path)
/// and the metadata their last entry gave them.
#[derive(Debug, Default)]
pub(super) struct DeferredDirs(BTreeMap<PathBuf, DirMeta>);

impl DeferredDirs {
    /// Remember `meta` for the directory at `path`, replacing what an earlier entry gave it.
    pub fn set(&mut self, path: PathBuf, meta: DirMeta) {
        self.0.insert(path, meta);
    }

    /// `path` was removed or replaced: forget it and everything below it.
    pub fn forget_below(&mut self, path: &Path) {
        self.0.retain(|p, _| !p.starts_with(path));
    }

    /// The directories to set, and their metadata: every directory after all those below
    /// it. Paths compare component by component and a path sorts before its descendants, so
    /// the reversed order has them first.
    fn iter(&self) -> impl Iterator<Item = (&PathBuf, &DirMeta)> {
        self.0.iter().rev()
    }

    /// Set every remembered directory's mode and mtime inside `root`.
    pub fn apply(&self, root: &Root) -> Result<()> {
        for (path, meta) in self.iter() {
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
            let fd = match root.open_path(or_dot(path), flags) {
                Ok(fd) => fd,
                // Replaced by a non-directory or removed by a later layer.
                Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::ELOOP | libc::ENOTDIR)) => {
                    continue
                }
                Err(e) => return Err(e.into()),
            };
            fsops::fchmod(fd.as_fd(), meta.mode).map_err(rootfs_err("fchmod", path))?;
            fsops::futimes(fd.as_fd(), meta.mtime).map_err(rootfs_err("futimens", path))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(mode: u32) -> DirMeta {
        DirMeta { mode, mtime: 0 }
    }

    fn listed(d: &DeferredDirs) -> Vec<(String, u32)> {
        let mut v: Vec<_> = d
            .iter()
            .map(|(p, m)| (p.display().to_string(), m.mode))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn directories_are_set_after_those_below_them() {
        let mut d = DeferredDirs::default();
        for p in ["a", "", "a/b/c", "b", "a/b", "a.b", "a/b.c", "b/a"] {
            d.set(PathBuf::from(p), meta(0o755));
        }
        let order: Vec<&Path> = d.iter().map(|(p, _)| p.as_path()).collect();
        for (i, p) in order.iter().enumerate() {
            for later in &order[i + 1..] {
                assert!(!later.starts_with(p), "{p:?} comes before {later:?}");
            }
        }
        assert_eq!(order.last(), Some(&Path::new("")));
    }

    #[test]
    fn a_later_entry_for_a_directory_wins() {
        let mut d = DeferredDirs::default();
        d.set(PathBuf::from("etc"), meta(0o755));
        d.set(PathBuf::from("etc"), meta(0o700));
        assert_eq!(listed(&d), [("etc".to_string(), 0o700)]);
    }

    #[test]
    fn a_removed_directory_takes_its_subtree_along() {
        let mut d = DeferredDirs::default();
        for p in ["", "a", "a/b", "a/b/c", "ab", "x"] {
            d.set(PathBuf::from(p), meta(0o755));
        }
        d.forget_below(Path::new("a"));
        // By component: `ab` is not below `a`.
        let paths: Vec<String> = listed(&d).into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["", "ab", "x"]);
    }
}
