//! Applying a layer's tar stream to a root filesystem with OCI layer semantics.
//!
//! Every entry's parent directory is resolved inside the root with `openat2(RESOLVE_IN_ROOT)`
//! (through `librrun::rootfs::resolve::Root`), and the entry itself is then made with an `*at`
//! syscall relative to that directory fd that does not follow its final name. So `../` paths,
//! absolute paths, symlinks from this or an earlier layer, hard links and whiteouts can only
//! ever reach inside the root.
//!
//! This file walks the entries and dispatches them; the parts live beside it: `entry` (path
//! and header decoding), `create` (files, directories, symlinks, nodes), `hardlink`,
//! `whiteout` (both whiteout modes) and `deferred` (directory metadata set at the end).

use super::create::Place;
use super::deferred::{DeferredDirs, DirMeta};
use super::entry::{header_meta, InRoot, Meta};
use super::whiteout::{self, Seen, Whiteout};
use crate::error::{rootfs_err, IoError};
use crate::fsops::{self, cstring};
use crate::idmap::{IdMap, IdMapError};
use librrun::rootfs::resolve::{ResolveError, Root};
use std::collections::HashSet;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("reading the layer's tar stream: {0}")]
    Tar(io::Error),
    #[error(transparent)]
    Fs(#[from] IoError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    IdMap(#[from] IdMapError),
    #[error("{path}: invalid whiteout entry")]
    BadWhiteout { path: PathBuf },
    #[error("{path}: hard link to {target}, which does not exist in this or an earlier layer")]
    MissingLinkTarget { path: PathBuf, target: PathBuf },
    #[error("{path}: header field {field} is out of range")]
    Header { path: PathBuf, field: &'static str },
}

pub(super) type Result<T> = std::result::Result<T, ApplyError>;

/// How entries are written.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub ids: IdMap,
    /// Write whiteouts as overlayfs does (0/0 char devices, `trusted.overlay.opaque`).
    pub overlay_whiteouts: bool,
    /// Skip device nodes (a rootless container cannot use them).
    pub skip_devices: bool,
}

/// Applies layers, in order, to one root.
pub struct Applier<'r> {
    pub(super) root: &'r Root,
    pub(super) opts: &'r Options,
    /// Earlier layers' roots (overlay mode): where hard-link targets from lower layers are.
    pub(super) lowers: &'r [Root],
    pub(super) dirs: DeferredDirs,
    /// The last parent directory resolved (tar entries come grouped by directory).
    pub(super) cache: Option<(PathBuf, Rc<OwnedFd>)>,
    pub(super) seen: Seen,
    /// Overlay mode: the whiteout devices the current layer made.
    pub(super) hidden: HashSet<PathBuf>,
    /// The copy buffer for file contents.
    pub(super) buf: Vec<u8>,
    pub warnings: Vec<String>,
    pub entries: u64,
    /// Shared with an unpack's progress display, when there is one.
    pub counters: Option<std::sync::Arc<crate::progress::UnpackCounters>>,
}

/// `.` for the root itself, so openat2 resolves to the root directory.
pub(super) fn or_dot(p: &Path) -> &Path {
    if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    }
}

impl<'r> Applier<'r> {
    pub fn new(root: &'r Root, opts: &'r Options, lowers: &'r [Root]) -> Applier<'r> {
        Applier {
            root,
            opts,
            lowers,
            dirs: DeferredDirs::default(),
            cache: None,
            seen: Seen::default(),
            hidden: HashSet::new(),
            buf: vec![0; 1 << 20],
            warnings: Vec::new(),
            entries: 0,
            counters: None,
        }
    }

    /// Apply one layer's uncompressed tar stream.
    pub fn apply(&mut self, tar_stream: impl Read) -> Result<()> {
        self.seen.clear();
        self.hidden.clear();
        self.cache = None;
        let mut archive = tar::Archive::new(tar_stream);
        for entry in archive.entries().map_err(ApplyError::Tar)? {
            let mut entry = entry.map_err(ApplyError::Tar)?;
            self.entry(&mut entry)?;
            self.entries += 1;
            if let Some(c) = &self.counters {
                c.entries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Set the deferred directory modes and mtimes. Call once, after the last layer.
    pub fn finish(self) -> Result<()> {
        self.dirs.apply(self.root)
    }

    /// The directory `parent` inside the root (created, 0755, when the layer left it out). A
    /// dangling symlink on the way (`var/run -> /run` with no /run yet) has its target created
    /// inside the root, as tar and containerd do: `Root::mkdir_all` follows it.
    pub(super) fn parent(&mut self, parent: &Path) -> Result<Rc<OwnedFd>> {
        if let Some((p, fd)) = &self.cache {
            if p == parent {
                return Ok(fd.clone());
            }
        }
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let fd = match self.root.open_path(or_dot(parent), flags) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::ENOENT) => self.root.mkdir_all(parent, 0o755)?,
            Err(e) => return Err(e.into()),
        };
        let fd = Rc::new(fd);
        self.cache = Some((parent.to_path_buf(), fd.clone()));
        Ok(fd)
    }

    /// Something was removed or replaced: a cached directory fd may now be stale, and
    /// deferred metadata below `path` belongs to nothing.
    pub(super) fn removed(&mut self, path: &Path) {
        self.cache = None;
        self.dirs.forget_below(path);
    }

    /// The host owner of an entry (through the id map).
    pub(super) fn owner(&self, meta: &Meta, path: &Path) -> Result<(u32, u32)> {
        Ok(self
            .opts
            .ids
            .host_owner(meta.uid, meta.gid, &path.to_string_lossy())?)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let kind = match entry.header().entry_type() {
            // A pax global header holds defaults for the entries after it (in practice a
            // comment, such as `git archive`'s commit id), not a file: skipped, its defaults
            // are not applied.
            tar::EntryType::XGlobalHeader => return Ok(()),
            // Old V7 tars have no directory type: a regular entry (typeflag NUL or '0') whose
            // name ends in `/` is a directory.
            tar::EntryType::Regular if entry.path_bytes().ends_with(b"/") => {
                tar::EntryType::Directory
            }
            kind => kind,
        };
        let raw = entry.path().map_err(ApplyError::Tar)?.into_owned();
        let InRoot { path, split } = InRoot::new(&raw);
        let meta = header_meta(entry, &path)?;
        let Some((parent, name)) = split else {
            // The root directory itself (`./`).
            if kind.is_dir() {
                let (uid, gid) = self.owner(&meta, &path)?;
                let fd = self
                    .root
                    .open_path(Path::new("."), libc::O_RDONLY | libc::O_DIRECTORY)?;
                fsops::fchown(fd.as_fd(), uid, gid).map_err(rootfs_err("fchown", &path))?;
                let (mode, mtime) = (meta.mode, meta.mtime);
                self.dirs.set(PathBuf::new(), DirMeta { mode, mtime });
            }
            return Ok(());
        };
        match whiteout::decode(name) {
            Some(Whiteout::Opaque) => return self.opaque(&parent),
            Some(Whiteout::Invalid) => return Err(ApplyError::BadWhiteout { path }),
            Some(Whiteout::Hide(hidden)) => return self.whiteout(&parent, hidden),
            None => {}
        }
        if !self.hidden.is_empty() {
            self.reopen_hidden(&path)?;
        }
        self.seen.record(&path);
        let dir = self.parent(&parent)?;
        let dir = dir.as_fd();
        let cname = cstring(name).map_err(rootfs_err("name", &path))?;
        let existing = fsops::lstat_at(dir, &cname).map_err(rootfs_err("fstatat", &path))?;
        let at = Place {
            dir,
            name: &cname,
            path: &path,
        };
        if kind.is_dir() {
            return self.directory(at, existing, &meta);
        }
        if kind.is_hard_link() {
            return self.hard_link(entry, at, existing);
        }
        if let Some(st) = existing {
            fsops::remove_all_at(dir, &cname).map_err(rootfs_err("remove", &path))?;
            if fsops::is_dir(&st) {
                self.removed(&path);
            }
        }
        let owner = self.owner(&meta, &path)?;
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.regular(entry, at, &meta, owner)
            }
            tar::EntryType::Symlink => {
                self.symlink(entry.link_name_bytes().as_deref(), at, &meta, owner)
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                self.node(entry.header(), at, &meta, owner)
            }
            other => {
                self.warnings.push(format!(
                    "{}: skipped tar entry of type {other:?}",
                    path.display()
                ));
                Ok(())
            }
        }
    }
}
