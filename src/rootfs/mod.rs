#![forbid(unsafe_code)]
//! The container's file system view, set up by the init inside its new mount namespace:
//!
//! 1. [`prepare`]: propagation of `/`, the rootfs bind-mounted on itself, every config mount,
//!    devices and /dev symlinks (all before pivot_root, resolved inside the rootfs);
//! 2. [`pivot`]: pivot_root (or MS_MOVE + chroot with `--no-pivot`), the old root detached;
//! 3. [`finalize`]: masked paths, readonly paths, a read-only root.

pub mod devices;
pub mod fdmount;
pub mod idmap;
pub mod mount_options;
pub mod mounts;
pub mod plan;
pub mod resolve;

use crate::cgroups::CgroupMount;
use mounts::{bind_remount, sys, MountContext};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use plan::{FinalOp, Op, Plan};
use resolve::{fd_path, ResolveError, Root};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("{op} {path}: {source}")]
    Mount {
        op: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("mount {fstype} at {dest} (options {data:?}): {source}")]
    MountFs {
        fstype: String,
        dest: PathBuf,
        data: String,
        source: nix::Error,
    },
    #[error("bind mount {source_path} at {dest}: {source}")]
    Bind {
        source_path: PathBuf,
        dest: PathBuf,
        source: nix::Error,
    },
    #[error("mount source {path}: {source}")]
    Source {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{op} device {path}: {source}")]
    Device {
        op: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("not supported: {what}")]
    Unsupported { what: String },
    #[error("unknown mount option(s) {options:?}: refused rather than ignored")]
    UnknownOptions { options: String },
    #[error("{path} exists and is not the device linux.devices asks for")]
    DeviceMismatch { path: PathBuf },
    #[error("{path} in the container is not {want}: refusing to use it")]
    NotTheDevice { path: PathBuf, want: &'static str },
    /// One config.json mount (or a host device bound in) failed: `cause` says how. Named as
    /// runc names it, with the host source and the destination inside the rootfs.
    #[error("error mounting {source_path:?} to rootfs at {dest:?}: {cause}")]
    Entry {
        source_path: String,
        dest: PathBuf,
        #[source]
        cause: Box<RootfsError>,
    },
    /// A bind mount of a directory onto something that is not one, or the reverse: the
    /// kernel's ENOTDIR, said with which side is which.
    #[error("{}: not a directory", kind_mismatch_text(*source_is_dir))]
    KindMismatch { source_is_dir: bool },
    #[error(transparent)]
    FdMount(#[from] fdmount::FdMountError),
    #[error("filesystem {fstype:?} must be mounted on an ordinary directory, and {dest} is reached through a symlink")]
    SymlinkedSpecialMount { fstype: String, dest: PathBuf },
    /// An id-mapped mount refused by the plan or failed in the parent (idmap.rs).
    #[error(transparent)]
    Idmap(idmap::IdmapError),
}

fn kind_mismatch_text(source_is_dir: bool) -> &'static str {
    if source_is_dir {
        "the source is a directory and the destination is not"
    } else {
        "the destination is a directory and the source is not"
    }
}

impl RootfsError {
    /// This error as the failure of mounting `source` at `dest` (inside the rootfs).
    pub fn in_mount(self, source: impl Into<String>, dest: &Path) -> RootfsError {
        RootfsError::Entry {
            source_path: source.into(),
            dest: dest.to_path_buf(),
            cause: Box::new(self),
        }
    }
}

/// Where the plan is applied: the rootfs on the host and what the container's namespaces
/// and cgroup add.
pub struct RootfsContext<'a> {
    pub rootfs: &'a Path,
    pub in_userns: bool,
    pub cgroup_steps: &'a [CgroupMount],
    /// The id-mapped mounts the parent made (idmap.rs), attached in their turn.
    pub trees: &'a idmap::Trees,
}

/// Find the mount point holding `path` in /proc/self/mountinfo.
fn mount_point_of(path: &Path) -> Option<PathBuf> {
    crate::procinfo::mountinfo::read_self()
        .ok()?
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|mp| path.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
}

/// Steps before pivot_root. The rootfs is opened once, here, and only that fd is used from
/// then on: a clone of it is attached on top of it (the bind of the rootfs onto itself) and
/// that mount is the one returned, populated and later pivoted into, so a `root.path` symlink
/// swapped while `create` runs cannot make the container enter another directory.
pub fn prepare(ctx: &RootfsContext<'_>, plan: &Plan) -> Result<Root, RootfsError> {
    let prop = plan.propagation;
    // Nothing mounted from here on may propagate back to the host.
    mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
        .map_err(sys("set propagation of", Path::new("/")))?;
    let pinned = Root::open(ctx.rootfs)?;
    // Where the opened directory really is (the host's /proc is still ours here).
    let real = std::fs::read_link(fd_path(pinned.as_fd())).unwrap_or(ctx.rootfs.to_path_buf());
    // pivot_root refuses a new root whose parent mount is shared.
    if let Some(mp) = mount_point_of(&real) {
        mount(
            None::<&str>,
            &mp,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(sys("make private", &mp))?;
    }
    let what = format!("bind rootfs {}", real.display());
    let tree = fdmount::clone_tree(pinned.as_fd(), true, &what)?;
    fdmount::attach(tree.as_fd(), pinned.as_fd(), &what)?;
    let root = Root::from_fd(tree, &real);
    let mctx = MountContext {
        root: &root,
        in_userns: ctx.in_userns,
        cgroup_steps: ctx.cgroup_steps,
        trees: ctx.trees,
    };
    // Device nodes and links made in a row share their resolved parent (/dev); a mount
    // in between may cover it, so the cache does not outlive a mount.
    let mut dirs = devices::ParentDirs::new(&root);
    for (i, op) in plan.before_pivot.iter().enumerate() {
        match op {
            Op::Mount(step) => {
                dirs = devices::ParentDirs::new(&root);
                mounts::mount_one(&mctx, i, step)?
            }
            Op::Device { node, default } => devices::create(&mut dirs, node, *default)?,
            Op::DeviceSymlinks => devices::default_symlinks(&mut dirs)?,
        }
    }
    drop(dirs);
    Ok(root)
}

/// Make the prepared root (from [`prepare`]) the process's `/`. The caller's cwd is changed
/// to the new `/`.
pub fn pivot(plan: &Plan, root: &Root, no_pivot: bool) -> Result<(), RootfsError> {
    nix::unistd::fchdir(root.as_fd()).map_err(sys("fchdir", root.path()))?;
    if no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .map_err(sys("move rootfs to /", root.path()))?;
        nix::unistd::chroot(".").map_err(sys("chroot", root.path()))?;
    } else {
        // pivot_root(".", ".") stacks the old root under the new one at "/"; it is then made
        // a slave (so its unmount does not reach the host) and detached.
        nix::unistd::pivot_root(".", ".").map_err(sys("pivot_root", root.path()))?;
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(sys("make old root rslave", Path::new("/")))?;
        umount2(".", MntFlags::MNT_DETACH).map_err(sys("unmount old root", Path::new("/")))?;
    }
    nix::unistd::chdir("/").map_err(sys("chdir", Path::new("/")))?;
    // Slave and private were applied to the whole tree before the mounts; shared and
    // unbindable are applied to the new root now that it is `/`.
    let prop = plan.propagation;
    if prop.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE) {
        mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .map_err(sys("set propagation of", Path::new("/")))?;
    }
    Ok(())
}

/// Enter `rootfs` with chroot, for a container without a mount namespace of its own: the
/// directory is opened once and entered through that fd.
pub fn chroot_into(rootfs: &Path) -> Result<(), RootfsError> {
    let root = Root::open(rootfs)?;
    nix::unistd::fchdir(root.as_fd()).map_err(sys("fchdir", rootfs))?;
    nix::unistd::chroot(".").map_err(sys("chroot", rootfs))?;
    nix::unistd::chdir("/").map_err(sys("chdir", Path::new("/")))?;
    Ok(())
}

/// Steps after pivot_root, with `/` being the container's root.
pub fn finalize(plan: &Plan) -> Result<(), RootfsError> {
    let root = Root::open(Path::new("/"))?;
    let mut null = None;
    for op in &plan.after_pivot {
        match op {
            FinalOp::Mask(p) => mask(&root, &mut null, p)?,
            FinalOp::ReadonlyPath(p) => make_readonly(&root, p)?,
            FinalOp::RootReadonly => {
                bind_remount(Path::new("/"), MsFlags::MS_RDONLY, MsFlags::empty())?
            }
        }
    }
    Ok(())
}

/// Open a path that may legitimately be absent (masked and readonly paths).
fn open_optional(root: &Root, path: &Path) -> Result<Option<std::os::fd::OwnedFd>, RootfsError> {
    match root.open_path(path, libc::O_PATH) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The container's /dev/null, checked to be the null device (char 1:3) and reached without
/// any symlink: masks bind it, so a /dev/null replaced by a symlink (or by another file, in a
/// /dev shared with a volume) must not be what gets bound over /proc files (CVE-2025-31133).
pub fn verified_dev_null(root: &Root) -> Result<std::os::fd::OwnedFd, RootfsError> {
    let path = Path::new("/dev/null");
    let fd = root.open_no_symlinks(path, libc::O_PATH)?;
    let st = nix::sys::stat::fstat(&fd).map_err(sys("fstat", path))?;
    let is_null = st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3);
    if !is_null {
        return Err(RootfsError::NotTheDevice {
            path: path.to_path_buf(),
            want: "the null character device 1:3",
        });
    }
    Ok(fd)
}

/// Hide `path`: a read-only empty tmpfs over a directory, /dev/null over anything else. Both
/// are attached to the fd of the resolved path (no /proc/self/fd path, which a fake /proc in
/// the image could redirect after pivot_root).
fn mask(
    root: &Root,
    null: &mut Option<std::os::fd::OwnedFd>,
    path: &Path,
) -> Result<(), RootfsError> {
    let Some(fd) = open_optional(root, path)? else {
        return Ok(());
    };
    let is_dir = nix::sys::stat::fstat(&fd)
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false);
    let what = format!("mask {}", path.display());
    if is_dir {
        return fdmount::readonly_tmpfs(fd.as_fd(), &what).map_err(RootfsError::from);
    }
    let null = match null {
        Some(n) => n,
        None => null.insert(verified_dev_null(root)?),
    };
    fdmount::bind(null.as_fd(), fd.as_fd(), false, &what)?;
    Ok(())
}

/// Make `path` read-only: a recursive clone of it, made read-only while still detached, then
/// attached on top of it.
fn make_readonly(root: &Root, path: &Path) -> Result<(), RootfsError> {
    let Some(fd) = open_optional(root, path)? else {
        return Ok(());
    };
    let what = format!("readonly path {}", path.display());
    let tree = fdmount::clone_tree(fd.as_fd(), true, &what)?;
    fdmount::set_attr(tree.as_fd(), libc::MOUNT_ATTR_RDONLY, 0, true, &what)?;
    fdmount::attach(tree.as_fd(), fd.as_fd(), &what)?;
    Ok(())
}
