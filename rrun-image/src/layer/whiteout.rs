//! Whiteouts: `.wh.NAME` hides NAME of the lower layers, and `.wh..wh..opq` hides everything
//! the lower layers put in its directory (what this layer itself put there stays). In the
//! default mode they delete what they hide; in overlay mode (the layer cache) they are written
//! the way overlayfs reads them: a 0/0 character device, and the `trusted.overlay.opaque`
//! xattr on the directory.

use super::apply::{or_dot, Applier, Result};
use crate::error::rootfs_err;
use crate::fsops::{self, cstring};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

/// What an entry's final name says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Whiteout<'a> {
    /// `.wh.NAME`: NAME is hidden.
    Hide(&'a OsStr),
    /// `.wh..wh..opq`: the directory is opaque.
    Opaque,
    /// `.wh.`, `.wh..` or `.wh...`: would name the directory itself or its parent.
    Invalid,
}

/// The whiteout an entry named `name` stands for; `None` for an ordinary entry.
pub(super) fn decode(name: &OsStr) -> Option<Whiteout<'_>> {
    let hidden = name.as_bytes().strip_prefix(WHITEOUT_PREFIX)?;
    Some(if name.as_bytes() == OPAQUE {
        Whiteout::Opaque
    } else if hidden.is_empty() || hidden == b"." || hidden == b".." {
        Whiteout::Invalid
    } else {
        Whiteout::Hide(OsStr::from_bytes(hidden))
    })
}

/// The paths the current layer has created, with all their ancestors (the root is the empty
/// path): an opaque directory keeps these and removes the rest.
#[derive(Debug, Default)]
pub(super) struct Seen(HashSet<PathBuf>);

impl Seen {
    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn record(&mut self, path: &Path) {
        for a in path.ancestors() {
            // An ancestor already there has its own ancestors there too.
            if !self.0.insert(a.to_path_buf()) {
                break;
            }
        }
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.0.contains(path)
    }
}

impl Applier<'_> {
    /// `.wh.NAME` in `parent`: hide NAME of the lower layers. What this layer itself wrote at
    /// NAME (before the whiteout in the tar, or after it) stays: a file is kept, and a
    /// directory keeps its own entries and loses the lower layers' ones, as an opaque one does.
    pub(super) fn whiteout(&mut self, parent: &Path, hidden: &OsStr) -> Result<()> {
        let path = parent.join(hidden);
        if self.seen.contains(&path) {
            return self.whiteout_over_own(parent, hidden, &path);
        }
        let cname = cstring(hidden).map_err(rootfs_err("name", &path))?;
        if self.opts.overlay_whiteouts {
            let dir = self.parent(parent)?;
            fsops::remove_all_at(dir.as_fd(), &cname).map_err(rootfs_err("remove", &path))?;
            fsops::mknod_at(dir.as_fd(), &cname, libc::S_IFCHR, 0)
                .map_err(rootfs_err("mknodat(whiteout)", &path))?;
            self.removed(&path);
            self.hidden.insert(path);
            return Ok(());
        }
        let dir = match self
            .root
            .open_path(or_dot(parent), libc::O_PATH | libc::O_DIRECTORY)
        {
            Ok(fd) => fd,
            Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::ENOTDIR)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        fsops::remove_all_at(dir.as_fd(), &cname).map_err(rootfs_err("remove", &path))?;
        self.removed(&path);
        Ok(())
    }

    /// Overlay mode: an entry at or below a whiteout device this layer made (`.wh.d` before
    /// `d/f` in the tar) turns the device back into a directory, opaque so that what the lower
    /// layers hold at `d` stays hidden. An entry that is no directory then replaces it.
    pub(super) fn reopen_hidden(&mut self, path: &Path) -> Result<()> {
        let mut found: Vec<PathBuf> = path
            .ancestors()
            .filter(|a| self.hidden.contains(*a))
            .map(Path::to_path_buf)
            .collect();
        // The outermost first: the inner ones are inside it.
        found.reverse();
        for p in found {
            self.hidden.remove(&p);
            let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
                continue;
            };
            let cname = cstring(name).map_err(rootfs_err("name", &p))?;
            let dir = self.parent(parent)?;
            fsops::remove_all_at(dir.as_fd(), &cname).map_err(rootfs_err("remove", &p))?;
            self.removed(&p);
            fsops::mkdir_at(dir.as_fd(), &cname, 0o755).map_err(rootfs_err("mkdirat", &p))?;
            self.opaque(&p)?;
        }
        Ok(())
    }

    /// `.wh.NAME` where this layer already wrote NAME (or something below it): only a
    /// directory has lower-layer content left to hide, and it is made opaque.
    fn whiteout_over_own(&mut self, parent: &Path, hidden: &OsStr, path: &Path) -> Result<()> {
        let cname = cstring(hidden).map_err(rootfs_err("name", path))?;
        let dir = self
            .root
            .open_path(or_dot(parent), libc::O_PATH | libc::O_DIRECTORY)?;
        match fsops::lstat_at(dir.as_fd(), &cname).map_err(rootfs_err("fstatat", path))? {
            Some(st) if fsops::is_dir(&st) => self.opaque(path),
            _ => Ok(()),
        }
    }

    /// `.wh..wh..opq` in `dir_path`: the directory hides everything the lower layers put in it.
    pub(super) fn opaque(&mut self, dir_path: &Path) -> Result<()> {
        if self.opts.overlay_whiteouts {
            self.parent(dir_path)?;
            let fd = self
                .root
                .open_path(or_dot(dir_path), libc::O_RDONLY | libc::O_DIRECTORY)?;
            fsops::fsetxattr(fd.as_fd(), c"trusted.overlay.opaque", b"y")
                .map_err(rootfs_err("fsetxattr(opaque)", dir_path))?;
            return Ok(());
        }
        let fd = match self
            .root
            .open_path(or_dot(dir_path), libc::O_RDONLY | libc::O_DIRECTORY)
        {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        self.cache = None;
        self.clear_unseen(fd, dir_path)
    }

    /// Remove what is below `dir` and not in `seen`, descending into the directories that are.
    fn clear_unseen(&mut self, dir: OwnedFd, dir_path: &Path) -> Result<()> {
        let listing = dir.try_clone().map_err(rootfs_err("dup", dir_path))?;
        for name in fsops::list_dir(listing).map_err(rootfs_err("readdir", dir_path))? {
            let child = dir_path.join(OsStr::from_bytes(name.to_bytes()));
            if !self.seen.contains(&child) {
                fsops::remove_all_at(dir.as_fd(), &name).map_err(rootfs_err("remove", &child))?;
                self.removed(&child);
                continue;
            }
            let st = fsops::lstat_at(dir.as_fd(), &name).map_err(rootfs_err("fstatat", &child))?;
            if st.is_some_and(|st| fsops::is_dir(&st)) {
                let sub = fsops::open_at(dir.as_fd(), &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                    .map_err(rootfs_err("open", &child))?;
                self.clear_unseen(sub, &child)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decode() {
        fn d(s: &str) -> Option<Whiteout<'_>> {
            decode(OsStr::new(s))
        }
        assert_eq!(d("file"), None);
        assert_eq!(d("a.wh.b"), None);
        assert_eq!(d(".wh"), None);
        assert_eq!(d(".wh.file"), Some(Whiteout::Hide(OsStr::new("file"))));
        assert_eq!(
            d(".wh..hidden"),
            Some(Whiteout::Hide(OsStr::new(".hidden")))
        );
        assert_eq!(d(".wh..wh..opq"), Some(Whiteout::Opaque));
        // Only the exact opaque marker is one; anything longer hides a (strange) name.
        assert_eq!(
            d(".wh..wh..opqx"),
            Some(Whiteout::Hide(OsStr::new(".wh..opqx")))
        );
        for bad in [".wh.", ".wh..", ".wh..."] {
            assert_eq!(d(bad), Some(Whiteout::Invalid), "{bad}");
        }
    }

    #[test]
    fn seen_holds_paths_and_their_ancestors() {
        let mut s = Seen::default();
        s.record(Path::new("a/b/c"));
        s.record(Path::new("a/d"));
        for p in ["", "a", "a/b", "a/b/c", "a/d"] {
            assert!(s.contains(Path::new(p)), "{p}");
        }
        // A sibling of something this layer wrote came from a lower layer: an opaque
        // directory hides it.
        assert!(!s.contains(Path::new("a/b/other")));
        assert!(!s.contains(Path::new("x")));
        s.clear();
        assert!(!s.contains(Path::new("a")));
    }
}
