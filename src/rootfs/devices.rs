//! Device nodes and the standard /dev symlinks inside the rootfs.
//!
//! Nodes are made with mknodat in the resolved parent directory; where mknod is not allowed (a
//! user namespace) the host's node is bind-mounted on an empty file instead, as runc does.

use super::resolve::{fd_path, Root};
use super::RootfsError;
use nix::fcntl::AtFlags;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fchmodat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::ffi::CString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (runc's list): null, zero, full, tty, urandom, random.
pub fn default_devices() -> Vec<DeviceNode> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/tty", 5, 0),
        ("/dev/urandom", 1, 9),
        ("/dev/random", 1, 8),
    ]
    .into_iter()
    .map(|(p, major, minor)| DeviceNode {
        path: p.into(),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// A linux.devices entry as a node; `a` (all) is not a node type.
pub fn from_spec(d: &LinuxDevice) -> Result<DeviceNode, RootfsError> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(RootfsError::Unsupported {
                what: format!("device type 'a' for {}", d.path().display()),
            })
        }
    };
    Ok(DeviceNode {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

fn cname(name: &std::ffi::OsStr) -> CString {
    use std::os::unix::ffi::OsStrExt;
    CString::new(name.as_bytes()).expect("path component without NUL")
}

/// The resolved parent directories of the nodes and links made in a row: the default devices
/// and links all live in /dev, which is then resolved (and made) once rather than once per
/// node. Only the init uses the rootfs at this point (before pivot_root, no container process
/// exists yet), and the fd stays on the directory it resolved inside the root.
pub struct ParentDirs<'r> {
    root: &'r Root,
    last: Option<(PathBuf, std::os::fd::OwnedFd)>,
}

impl<'r> ParentDirs<'r> {
    pub fn new(root: &'r Root) -> Self {
        ParentDirs { root, last: None }
    }

    /// Split an in-root path into its resolved parent directory fd and last component.
    fn parent_and_name(
        &mut self,
        path: &Path,
    ) -> Result<(std::os::fd::BorrowedFd<'_>, CString), RootfsError> {
        let comps = super::resolve::clean_components(path);
        let Some((name, parents)) = comps.split_last() else {
            return Err(RootfsError::Unsupported {
                what: format!("device or link at {}", path.display()),
            });
        };
        let parent: PathBuf = parents.iter().collect();
        if self.last.as_ref().map(|(p, _)| p) != Some(&parent) {
            // An O_PATH directory fd is a valid dirfd for the *at() calls below.
            let dir = self.root.mkdir_all(&parent, 0o755)?;
            self.last = Some((parent, dir));
        }
        let dir = self
            .last
            .as_ref()
            .map(|(_, fd)| fd.as_fd())
            .expect("set above");
        Ok((dir, cname(name)))
    }
}

/// What is at `name` in `dir` now: None if nothing, else (file type bits, rdev).
fn existing(dir: std::os::fd::BorrowedFd<'_>, name: &CString) -> Option<(u32, u64)> {
    let st = nix::sys::stat::fstatat(
        dir,
        name.as_c_str(),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .ok()?;
    Some((st.st_mode & libc::S_IFMT, st.st_rdev))
}

/// The permission bits of a node (mknod applies the umask to them; set_mode_owner does not).
fn permissions(dev: &DeviceNode) -> Mode {
    Mode::from_bits_retain(dev.mode & 0o7777)
}

/// Create one device node (or bind the host's when mknod is refused). With `replace`, whatever
/// is at the path goes (the default devices); otherwise a node already there must be the one
/// asked for (linux.devices: the runtime-spec requires an error on a mismatch).
pub fn create(
    dirs: &mut ParentDirs<'_>,
    dev: &DeviceNode,
    replace: bool,
) -> Result<(), RootfsError> {
    let root = dirs.root;
    let (dir, name) = dirs.parent_and_name(&dev.path)?;
    let devno = libc::makedev(dev.major as u32, dev.minor as u32);
    match existing(dir, &name) {
        None => {}
        Some(_) if replace => {
            // A single component relative to the resolved directory fd.
            let _ = unlinkat(dir, name.as_c_str(), UnlinkatFlags::NoRemoveDir);
        }
        Some((kind, rdev)) if kind == dev.kind.bits() && rdev == devno => {
            return set_mode_owner(dir, &name, dev);
        }
        Some(_) => {
            return Err(RootfsError::DeviceMismatch {
                path: dev.path.clone(),
            })
        }
    }
    // The node is named by one component inside the resolved directory.
    if let Err(err) = mknodat(dir, name.as_c_str(), dev.kind, permissions(dev), devno) {
        if err != nix::Error::EPERM || dev.kind == SFlag::S_IFIFO {
            return Err(RootfsError::Device {
                op: "mknod",
                path: dev.path.clone(),
                source: err,
            });
        }
        return bind_host_device(root, dev);
    }
    set_mode_owner(dir, &name, dev)
}

/// Set the exact mode (mknod went through the umask) and owner of a node.
fn set_mode_owner(
    dir: std::os::fd::BorrowedFd<'_>,
    name: &CString,
    dev: &DeviceNode,
) -> Result<(), RootfsError> {
    // One component relative to the directory fd. Both are tried; the error is chown's if
    // both fail.
    let chmod = fchmodat(
        dir,
        name.as_c_str(),
        permissions(dev),
        FchmodatFlags::FollowSymlink,
    );
    let chown = fchownat(
        dir,
        name.as_c_str(),
        Some(Uid::from_raw(dev.uid)),
        Some(Gid::from_raw(dev.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    );
    chown.and(chmod).map_err(|source| RootfsError::Device {
        op: "chmod/chown",
        path: dev.path.clone(),
        source,
    })
}

/// The host's node at the same path, bound onto an empty file (named in errors as the mount
/// it is: the host's path to the rootfs's).
fn bind_host_device(root: &Root, dev: &DeviceNode) -> Result<(), RootfsError> {
    let bind = || {
        let fd = root.create_file(&dev.path, 0o000)?;
        mount(
            Some(&dev.path),
            &fd_path(fd.as_fd()),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|source| RootfsError::Device {
            op: "bind",
            path: dev.path.clone(),
            source,
        })
    };
    bind().map_err(|e| e.in_mount(dev.path.to_string_lossy(), &dev.path))
}

/// Create the symlink `path` -> `target` inside the root (replacing what is there).
pub fn symlink_in_root(
    dirs: &mut ParentDirs<'_>,
    target: &str,
    path: &Path,
) -> Result<(), RootfsError> {
    let (dir, name) = dirs.parent_and_name(path)?;
    // Single component operations relative to the resolved directory fd (a target with a NUL
    // byte is EINVAL).
    let _ = unlinkat(dir, name.as_c_str(), UnlinkatFlags::NoRemoveDir);
    symlinkat(target, dir, name.as_c_str()).map_err(|source| RootfsError::Device {
        op: "symlink",
        path: path.to_path_buf(),
        source,
    })
}

/// /dev/fd, /dev/stdin, /dev/stdout, /dev/stderr, /dev/core (where the host has /proc/kcore)
/// and /dev/ptmx -> pts/ptmx.
pub fn default_symlinks(dirs: &mut ParentDirs<'_>) -> Result<(), RootfsError> {
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, path) in links {
        symlink_in_root(dirs, target, Path::new(path))?;
    }
    Ok(())
}
