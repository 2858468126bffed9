//! Safe path resolution inside a container root.
//!
//! Every path that names something *inside* a rootfs (mount destinations, device nodes, masked
//! paths, the process cwd, image layer entries) is resolved here with `openat2(2)` and
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: the kernel walks the path with the rootfs as `/`,
//! so neither `..` nor an absolute or relative symlink can make the walk leave the rootfs. The
//! result is a file descriptor; callers use it (or `/proc/self/fd/N` as a mount target) and never
//! a joined string, so a symlink swapped in after the check cannot redirect them either.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Errors of the resolver, each naming the path inside the root and the syscall that failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("open root {path}: {source}")]
    OpenRoot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{syscall} {path} (inside {root}): {source}")]
    Syscall {
        syscall: &'static str,
        path: PathBuf,
        root: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} (inside {root}) is a dangling symlink or was removed while it was created")]
    Dangling { path: PathBuf, root: PathBuf },
}

impl ResolveError {
    /// The errno behind the error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ResolveError::OpenRoot { source, .. } | ResolveError::Syscall { source, .. } => {
                source.raw_os_error()
            }
            ResolveError::Dangling { .. } => None,
        }
    }
}

type Result<T> = std::result::Result<T, ResolveError>;

/// An open directory that acts as `/` for every lookup made through it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// The path of an fd in `/proc/self/fd`, usable as a mount source or target.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Lexically clean `path` to a list of normal components: `.`, `/` and a leading `..` vanish and
/// `..` removes the previous component, clamped at the root (as the kernel does at `/`).
pub fn clean_components(path: &Path) -> Vec<&OsStr> {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A path as the kernel takes it. A NUL byte inside would cut the path short (and name another
/// file), so it is an error (EINVAL), never replaced; `spec::validate` refuses it earlier.
fn cstr(p: &Path) -> std::io::Result<CString> {
    CString::new(p.as_os_str().as_bytes().to_vec())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

/// `openat2(dirfd, path, how)` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`.
fn openat2_in_root(
    dirfd: BorrowedFd<'_>,
    path: &Path,
    flags: i32,
    mode: u32,
) -> std::io::Result<OwnedFd> {
    openat2(
        dirfd,
        path,
        flags,
        mode,
        libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    )
}

/// `openat2(dirfd, path, how)` with the given `RESOLVE_*` flags (`O_CLOEXEC` is added).
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &Path,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> std::io::Result<OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let c = cstr(path)?;
    let mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        mode
    } else {
        0
    };
    let how = OpenHow::new()
        .flags(OFlag::from_bits_retain(flags | libc::O_CLOEXEC))
        .mode(nix::sys::stat::Mode::from_bits_retain(mode))
        .resolve(ResolveFlag::from_bits_retain(resolve));
    loop {
        match nix::fcntl::openat2(dirfd, c.as_c_str(), how) {
            Ok(fd) => return Ok(fd),
            // openat2 returns EAGAIN when a rename raced the walk: retry, as the man page says.
            Err(nix::Error::EAGAIN) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

impl Root {
    /// Open `path` (a directory on the host) as a root for lookups.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| ResolveError::OpenRoot {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// A root from an fd already open (e.g. a pinned, cloned rootfs mount).
    pub fn from_fd(fd: OwnedFd, path: &Path) -> Root {
        Root {
            fd,
            path: path.to_path_buf(),
        }
    }

    /// Open `path` inside the root with no symlink at all on the way (not even one that stays
    /// inside): for the files the runtime itself trusts, such as /dev/null as a mask source
    /// or the /dev/console mount target.
    pub fn open_no_symlinks(&self, path: &Path, flags: i32) -> Result<OwnedFd> {
        let resolve =
            libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_SYMLINKS;
        openat2(self.fd.as_fd(), path, flags, 0, resolve)
            .map_err(|e| self.err("openat2(RESOLVE_NO_SYMLINKS)", path, e))
    }

    /// The host path this root was opened from (for messages only).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, syscall: &'static str, path: &Path, source: std::io::Error) -> ResolveError {
        ResolveError::Syscall {
            syscall,
            path: path.to_path_buf(),
            root: self.path.clone(),
            source,
        }
    }

    /// Open `path` inside the root with `flags` (`O_PATH`, `O_RDONLY`, ...; `O_CLOEXEC` is added).
    pub fn open_path(&self, path: &Path, flags: i32) -> Result<OwnedFd> {
        openat2_in_root(self.fd.as_fd(), path, flags, 0).map_err(|e| self.err("openat2", path, e))
    }

    /// The directory `name` (one component) in `dir`, a directory already resolved inside this
    /// root: made if missing, then opened without following any symlink or leaving `dir`
    /// (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`). Two system calls where [`Root::mkdir_all`]
    /// resolves the parent again; an error (a symlink there, say) is for the caller to fall back
    /// to [`Root::mkdir_all`].
    pub fn mkdir_child(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> std::io::Result<OwnedFd> {
        let c = cstr(Path::new(name))?;
        if c.as_bytes().is_empty() || c.as_bytes().contains(&b'/') || name == ".." || name == "." {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        // `c` is a single component, so the directory is made inside `dir`.
        match nix::sys::stat::mkdirat(
            dir,
            c.as_c_str(),
            nix::sys::stat::Mode::from_bits_retain(mode),
        ) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        openat2(
            dir,
            Path::new(name),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
        )
    }

    /// Open `path` inside the root, creating it as a regular file (and its parent directories)
    /// when it does not exist. Returns an `O_PATH` fd.
    pub fn create_file(&self, path: &Path, mode: u32) -> Result<OwnedFd> {
        match openat2_in_root(self.fd.as_fd(), path, libc::O_PATH, 0) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(self.err("openat2", path, e)),
        }
        let comps = clean_components(path);
        let Some((name, parents)) = comps.split_last() else {
            return self.open_path(Path::new("/"), libc::O_PATH);
        };
        let parent: PathBuf = parents.iter().collect();
        let dir = self.mkdir_all(&parent, 0o755)?;
        let fd = openat2_in_root(
            dir.as_fd(),
            Path::new(name),
            libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW,
            mode,
        )
        .map_err(|e| self.err("openat2(O_CREAT)", path, e))?;
        drop(fd);
        self.open_path(path, libc::O_PATH)
    }

    /// `mkdir -p` inside the root: each missing component is created with `mkdirat` relative to
    /// the fd of its already-resolved parent. A dangling symlink on the way is followed inside
    /// the root (its target is created there, as securejoin-style resolution would place it).
    /// Returns an `O_PATH` fd of the final directory.
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> Result<OwnedFd> {
        // Most destinations exist already: one lookup then.
        match openat2_in_root(self.fd.as_fd(), path, libc::O_PATH | libc::O_DIRECTORY, 0) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(self.err("openat2", path, e)),
        }
        // Start below the deepest ancestor that exists (usually the parent).
        let comps = clean_components(path);
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let mut start = 0;
        let mut cur = None;
        for k in (1..comps.len()).rev() {
            let prefix: PathBuf = comps[..k].iter().collect();
            match openat2_in_root(self.fd.as_fd(), &Path::new("/").join(&prefix), flags, 0) {
                Ok(fd) => {
                    cur = Some(fd);
                    start = k;
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(self.err("openat2", &prefix, e)),
            }
        }
        let mut cur = match cur {
            Some(fd) => fd,
            None => self.open_path(Path::new("/"), flags)?,
        };
        let mut so_far: PathBuf = Path::new("/").join(comps[..start].iter().collect::<PathBuf>());
        let mut todo: Vec<std::ffi::OsString> = comps[start..]
            .iter()
            .rev()
            .map(|c| c.to_os_string())
            .collect();
        let mut links = 0;
        while let Some(name) = todo.pop() {
            let next = so_far.join(&name);
            let c = cstr(Path::new(&name)).map_err(|e| self.err("mkdirat", &next, e))?;
            // `c` is a single component (no `/`), so the new directory is made inside `cur`.
            match nix::sys::stat::mkdirat(
                &cur,
                c.as_c_str(),
                nix::sys::stat::Mode::from_bits_retain(mode),
            ) {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => return Err(self.err("mkdirat", &next, e.into())),
            }
            // Made by us or there already: it must resolve (inside the root) to a directory.
            match openat2_in_root(self.fd.as_fd(), &next, flags, 0) {
                Ok(fd) => {
                    cur = fd;
                    so_far = next;
                    continue;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(self.err("openat2", &next, e)),
            }
            // It exists but does not resolve: a dangling symlink. Follow it inside the root.
            let target =
                nix::fcntl::readlinkat(&cur, c.as_c_str()).map_err(|_| ResolveError::Dangling {
                    path: next.clone(),
                    root: self.path.clone(),
                })?;
            links += 1;
            if links > 40 {
                return Err(self.err(
                    "mkdir (following symlinks)",
                    &next,
                    std::io::Error::from_raw_os_error(libc::ELOOP),
                ));
            }
            let target = Path::new(&target);
            let base = if target.is_absolute() {
                PathBuf::from("/")
            } else {
                so_far.clone()
            };
            for comp in clean_components(&base.join(target)).into_iter().rev() {
                todo.push(comp.to_os_string());
            }
            cur = self.open_path(Path::new("/"), flags)?;
            so_far = PathBuf::from("/");
        }
        Ok(cur)
    }
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn real(fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(fd_path(fd.as_fd())).unwrap()
    }

    #[test]
    fn clean_clamps_at_root() {
        let c = clean_components(Path::new("/../a/./b/../../../c"));
        assert_eq!(c, vec![OsStr::new("c")]);
    }

    #[test]
    fn symlinks_stay_inside_root() {
        let tmp = std::env::temp_dir().join(format!("rrun-resolve-{}", std::process::id()));
        let root = tmp.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/", root.join("abs")).unwrap();
        symlink("../../../../", root.join("etc/up")).unwrap();
        let r = Root::open(&root).unwrap();
        let fd = r.mkdir_all(Path::new("abs/x/y"), 0o755).unwrap();
        assert_eq!(real(&fd), root.canonicalize().unwrap().join("x/y"));
        let fd = r.mkdir_all(Path::new("etc/up/tmp/z"), 0o755).unwrap();
        assert_eq!(real(&fd), root.canonicalize().unwrap().join("tmp/z"));
        let fd = r.create_file(Path::new("../../f"), 0o644).unwrap();
        assert_eq!(real(&fd), root.canonicalize().unwrap().join("f"));
        symlink("/outside/dir", root.join("dangling")).unwrap();
        let fd = r.mkdir_all(Path::new("dangling/sub"), 0o755).unwrap();
        assert_eq!(
            real(&fd),
            root.canonicalize().unwrap().join("outside/dir/sub")
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
