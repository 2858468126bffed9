//! Applying a layer's tar stream to a root filesystem with OCI layer semantics.
//!
//! Every entry's parent directory is resolved inside the root with `openat2(RESOLVE_IN_ROOT)`
//! (through `librrun::rootfs::resolve::Root`), and the entry itself is then made with an `*at`
//! syscall relative to that directory fd that does not follow its final name. So `../` paths,
//! absolute paths, symlinks from this or an earlier layer, hard links and whiteouts can only
//! ever reach inside the root. In the default mode whiteouts delete what they hide; in overlay
//! mode (for the layer cache) they are written the way overlayfs reads them.

use crate::error::{rootfs_err, IoError};
use crate::fsops::{self, cstring};
use crate::idmap::{IdMap, IdMapError};
use librrun::rootfs::resolve::{clean_components, ResolveError, Root};
use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

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

type Result<T> = std::result::Result<T, ApplyError>;

/// How entries are written.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub ids: IdMap,
    /// Write whiteouts as overlayfs does (0/0 char devices, `trusted.overlay.opaque`).
    pub overlay_whiteouts: bool,
    /// Skip device nodes (a rootless container cannot use them).
    pub skip_devices: bool,
}

struct DirMeta {
    mode: u32,
    mtime: i64,
}

/// Applies layers, in order, to one root.
pub struct Applier<'r> {
    root: &'r Root,
    opts: &'r Options,
    /// Earlier layers' roots (overlay mode): where hard-link targets from lower layers are.
    lowers: &'r [Root],
    /// Directory modes and mtimes, set at the end: writing children changes a directory's
    /// mtime, and a 0555 directory must stay writable while it is being filled.
    dirs: HashMap<PathBuf, DirMeta>,
    /// The last parent directory resolved (tar entries come grouped by directory).
    cache: Option<(PathBuf, Rc<OwnedFd>)>,
    /// Paths this layer created, and their ancestors (an opaque directory keeps them).
    seen: HashSet<PathBuf>,
    buf: Vec<u8>,
    pub warnings: Vec<String>,
    pub entries: u64,
}

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(CString, Vec<u8>)>,
}

fn header_meta<R: Read>(entry: &mut tar::Entry<'_, R>, path: &Path) -> Result<Meta> {
    let h = entry.header();
    let field = |field| ApplyError::Header {
        path: path.to_path_buf(),
        field,
    };
    let mode = h.mode().map_err(|_| field("mode"))? & 0o7777;
    let uid = u32::try_from(h.uid().map_err(|_| field("uid"))?).map_err(|_| field("uid"))?;
    let gid = u32::try_from(h.gid().map_err(|_| field("gid"))?).map_err(|_| field("gid"))?;
    let mtime =
        i64::try_from(h.mtime().map_err(|_| field("mtime"))?).map_err(|_| field("mtime"))?;
    let mut xattrs = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(ApplyError::Tar)? {
        for ext in exts {
            let ext = ext.map_err(ApplyError::Tar)?;
            let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            if let Ok(name) = CString::new(name) {
                xattrs.push((name, ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(Meta {
        mode,
        uid,
        gid,
        mtime,
        xattrs,
    })
}

fn dev_t(h: &tar::Header) -> libc::dev_t {
    let major = h.device_major().ok().flatten().unwrap_or(0);
    let minor = h.device_minor().ok().flatten().unwrap_or(0);
    libc::makedev(major, minor)
}

/// `.` for the root itself, so openat2 resolves to the root directory.
fn or_dot(p: &Path) -> &Path {
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
            dirs: HashMap::new(),
            cache: None,
            seen: HashSet::new(),
            buf: vec![0; 1 << 20],
            warnings: Vec::new(),
            entries: 0,
        }
    }

    /// Apply one layer's uncompressed tar stream.
    pub fn apply(&mut self, tar_stream: impl Read) -> Result<()> {
        self.seen.clear();
        self.cache = None;
        let mut archive = tar::Archive::new(tar_stream);
        for entry in archive.entries().map_err(ApplyError::Tar)? {
            let mut entry = entry.map_err(ApplyError::Tar)?;
            self.entry(&mut entry)?;
            self.entries += 1;
        }
        Ok(())
    }

    /// Set the deferred directory modes and mtimes. Call once, after the last layer.
    pub fn finish(self) -> Result<()> {
        for (path, meta) in &self.dirs {
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
            let fd = match self.root.open_path(or_dot(path), flags) {
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

    /// The directory `parent` inside the root (created, 0755, when the layer left it out). A
    /// dangling symlink on the way (`var/run -> /run` with no /run yet) has its target created
    /// inside the root, as tar and containerd do: `Root::mkdir_all` follows it.
    fn parent(&mut self, parent: &Path) -> Result<Rc<OwnedFd>> {
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
    fn removed(&mut self, path: &Path) {
        self.cache = None;
        self.dirs.retain(|p, _| !p.starts_with(path));
    }

    fn owner(&self, meta: &Meta, path: &Path) -> Result<(u32, u32)> {
        Ok(self
            .opts
            .ids
            .host_owner(meta.uid, meta.gid, &path.to_string_lossy())?)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path().map_err(ApplyError::Tar)?.into_owned();
        let comps = clean_components(&raw);
        let path: PathBuf = comps.iter().collect();
        let kind = entry.header().entry_type();
        let meta = header_meta(entry, &path)?;
        let Some((name, parents)) = comps.split_last() else {
            // The root directory itself (`./`).
            if kind.is_dir() {
                let (uid, gid) = self.owner(&meta, &path)?;
                let fd = self
                    .root
                    .open_path(Path::new("."), libc::O_RDONLY | libc::O_DIRECTORY)?;
                fsops::fchown(fd.as_fd(), uid, gid).map_err(rootfs_err("fchown", &path))?;
                self.dirs.insert(
                    PathBuf::new(),
                    DirMeta {
                        mode: meta.mode,
                        mtime: meta.mtime,
                    },
                );
            }
            return Ok(());
        };
        let parent: PathBuf = parents.iter().collect();
        if let Some(hidden) = name.as_bytes().strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            return if name.as_bytes() == OPAQUE.as_bytes() {
                self.opaque(&parent)
            } else if hidden.is_empty() || hidden == b"." || hidden == b".." {
                Err(ApplyError::BadWhiteout { path })
            } else {
                self.whiteout(&parent, OsStr::from_bytes(hidden))
            };
        }
        for a in path.ancestors() {
            if !self.seen.insert(a.to_path_buf()) {
                break;
            }
        }
        let dir = self.parent(&parent)?;
        let dir = dir.as_fd();
        let cname = cstring(name).map_err(rootfs_err("name", &path))?;
        let existing = fsops::lstat_at(dir, &cname).map_err(rootfs_err("fstatat", &path))?;
        if kind.is_dir() {
            return self.directory(dir, &cname, &path, existing, &meta);
        }
        if kind.is_hard_link() {
            return self.hard_link(entry, dir, &cname, &path, existing);
        }
        if let Some(st) = existing {
            fsops::remove_all_at(dir, &cname).map_err(rootfs_err("remove", &path))?;
            if fsops::is_dir(&st) {
                self.removed(&path);
            }
        }
        let (uid, gid) = self.owner(&meta, &path)?;
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.regular(entry, dir, &cname, &path, &meta, (uid, gid))
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().ok_or_else(|| {
                    rootfs_err("symlink", &path)(io::ErrorKind::InvalidData.into())
                })?;
                let target = CString::new(target.into_owned())
                    .map_err(|_| rootfs_err("symlink", &path)(io::ErrorKind::InvalidData.into()))?;
                fsops::symlink_at(&target, dir, &cname).map_err(rootfs_err("symlinkat", &path))?;
                self.cache = None;
                fsops::lchown_at(dir, &cname, uid, gid).map_err(rootfs_err("lchown", &path))?;
                self.xattrs_at(dir, &cname, &path, &meta)?;
                fsops::lutimes_at(dir, &cname, meta.mtime)
                    .map_err(rootfs_err("utimensat", &path))?;
                Ok(())
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                self.node(entry.header(), kind, dir, &cname, &path, &meta, (uid, gid))
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

    fn directory(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CString,
        path: &Path,
        existing: Option<libc::stat>,
        meta: &Meta,
    ) -> Result<()> {
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
        self.dirs.insert(
            path.to_path_buf(),
            DirMeta {
                mode: meta.mode,
                mtime: meta.mtime,
            },
        );
        Ok(())
    }

    fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        dir: BorrowedFd<'_>,
        name: &CString,
        path: &Path,
        meta: &Meta,
        (uid, gid): (u32, u32),
    ) -> Result<()> {
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

    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        header: &tar::Header,
        kind: tar::EntryType,
        dir: BorrowedFd<'_>,
        name: &CString,
        path: &Path,
        meta: &Meta,
        (uid, gid): (u32, u32),
    ) -> Result<()> {
        let (fmt, is_device) = match kind {
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
        self.xattrs_at(dir, name, path, meta)?;
        fsops::lutimes_at(dir, name, meta.mtime).map_err(rootfs_err("utimensat", path))?;
        Ok(())
    }

    fn xattrs_at(
        &self,
        dir: BorrowedFd<'_>,
        name: &CString,
        path: &Path,
        meta: &Meta,
    ) -> Result<()> {
        for (attr, value) in &meta.xattrs {
            fsops::lsetxattr_at(dir, name, attr, value).map_err(rootfs_err("lsetxattr", path))?;
        }
        Ok(())
    }

    fn hard_link<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        dir: BorrowedFd<'_>,
        name: &CString,
        path: &Path,
        existing: Option<libc::stat>,
    ) -> Result<()> {
        let raw = entry
            .link_name()
            .map_err(ApplyError::Tar)?
            .ok_or_else(|| rootfs_err("link", path)(io::ErrorKind::InvalidData.into()))?
            .into_owned();
        let tcomps = clean_components(&raw);
        let target: PathBuf = tcomps.iter().collect();
        let missing = || ApplyError::MissingLinkTarget {
            path: path.to_path_buf(),
            target: target.clone(),
        };
        let Some((tname, tparents)) = tcomps.split_last() else {
            return Err(missing());
        };
        if target == path {
            return Ok(());
        }
        let tparent: PathBuf = tparents.iter().collect();
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
        self.copy_from_lower(&target, dir, name, path)?
            .ok_or_else(missing)
    }

    /// Overlay mode: a hard link whose target is in a lower layer's directory becomes a copy.
    fn copy_from_lower(
        &mut self,
        target: &Path,
        dir: BorrowedFd<'_>,
        name: &CString,
        path: &Path,
    ) -> Result<Option<()>> {
        for lower in self.lowers.iter().rev() {
            let src = match lower.open_path(target, libc::O_RDONLY | libc::O_NOFOLLOW) {
                Ok(fd) => File::from(fd),
                Err(e) if e.errno() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            let md = src.metadata().map_err(rootfs_err("fstat", target))?;
            let mode = std::os::unix::fs::PermissionsExt::mode(&md.permissions()) & 0o7777;
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
            let fd = fsops::open_at(dir, name, flags, mode).map_err(rootfs_err("create", path))?;
            let mut dst = File::from(fd);
            io::copy(&mut &src, &mut dst).map_err(rootfs_err("copy", path))?;
            use std::os::unix::fs::MetadataExt;
            fsops::fchown(dst.as_fd(), md.uid(), md.gid()).map_err(rootfs_err("fchown", path))?;
            fsops::fchmod(dst.as_fd(), mode).map_err(rootfs_err("fchmod", path))?;
            fsops::futimes(dst.as_fd(), md.mtime()).map_err(rootfs_err("futimens", path))?;
            return Ok(Some(()));
        }
        Ok(None)
    }

    /// `.wh.NAME`: hide NAME of the lower layers.
    fn whiteout(&mut self, parent: &Path, hidden: &OsStr) -> Result<()> {
        let path = parent.join(hidden);
        let cname = cstring(hidden).map_err(rootfs_err("name", &path))?;
        if self.opts.overlay_whiteouts {
            let dir = self.parent(parent)?;
            fsops::remove_all_at(dir.as_fd(), &cname).map_err(rootfs_err("remove", &path))?;
            fsops::mknod_at(dir.as_fd(), &cname, libc::S_IFCHR, 0)
                .map_err(rootfs_err("mknodat(whiteout)", &path))?;
            self.removed(&path);
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

    /// `.wh..wh..opq`: the directory hides everything the lower layers put in it.
    fn opaque(&mut self, dir_path: &Path) -> Result<()> {
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
