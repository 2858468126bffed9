//! The container's file system view, set up by the init inside its new mount namespace:
//!
//! 1. [`prepare`]: propagation of `/`, the rootfs bind-mounted on itself, every config mount,
//!    devices and /dev symlinks (all before pivot_root, resolved inside the rootfs);
//! 2. [`pivot`]: pivot_root (or MS_MOVE + chroot with `--no-pivot`), the old root detached;
//! 3. [`finalize`]: masked paths, readonly paths, a read-only root.

pub mod devices;
pub mod mount_options;
pub mod mounts;
pub mod resolve;

use crate::cgroups::CgroupMount;
use mounts::{bind_remount, sys, MountContext};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::Spec;
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
    #[error("{path} exists and is not the device linux.devices asks for")]
    DeviceMismatch { path: PathBuf },
}

/// What the rootfs code needs from the container's config and environment.
pub struct RootfsPlan<'a> {
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub spec: &'a Spec,
    pub in_userns: bool,
    pub cgroup_steps: &'a [CgroupMount],
}

impl RootfsPlan<'_> {
    fn propagation(&self) -> MsFlags {
        self.spec
            .linux()
            .as_ref()
            .and_then(|l| l.rootfs_propagation().as_deref())
            .and_then(mount_options::propagation_flag)
            .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC)
    }

    fn readonly(&self) -> bool {
        self.spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false)
    }

    /// runc creates the default devices unless /dev is bind-mounted from the host.
    fn dev_is_bind(&self) -> bool {
        self.spec.mounts().iter().flatten().any(|m| {
            m.destination() == Path::new("/dev")
                && mount_options::parse(m.typ().as_deref(), m.options().as_deref().unwrap_or(&[]))
                    .bind
        })
    }
}

/// Find the mount point holding `path` in /proc/self/mountinfo.
fn mount_point_of(path: &Path) -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|mp| PathBuf::from(mp.replace("\\040", " ")))
        .filter(|mp| path.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
}

/// Steps before pivot_root. Returns the opened root for the caller's later steps.
pub fn prepare(plan: &RootfsPlan<'_>) -> Result<(), RootfsError> {
    let prop = plan.propagation();
    // Nothing mounted from here on may propagate back to the host.
    mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
        .map_err(sys("set propagation of", Path::new("/")))?;
    // pivot_root refuses a new root whose parent mount is shared.
    if let Some(mp) = mount_point_of(plan.rootfs) {
        mount(
            None::<&str>,
            &mp,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(sys("make private", &mp))?;
    }
    mount(
        Some(plan.rootfs),
        plan.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys("bind rootfs", plan.rootfs))?;
    let root = Root::open(plan.rootfs)?;
    let ctx = MountContext {
        root: &root,
        bundle: plan.bundle,
        in_userns: plan.in_userns,
        cgroup_steps: plan.cgroup_steps,
    };
    for m in plan.spec.mounts().iter().flatten() {
        mounts::mount_one(&ctx, m)?;
    }
    if !plan.dev_is_bind() {
        for d in devices::default_devices() {
            devices::create(&root, &d, true)?;
        }
        for d in plan
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().as_ref())
            .into_iter()
            .flatten()
        {
            devices::create(&root, &devices::from_spec(d)?, false)?;
        }
        devices::default_symlinks(&root)?;
    }
    Ok(())
}

/// Make the rootfs the process's `/`. The caller's cwd is changed to the new `/`.
pub fn pivot(plan: &RootfsPlan<'_>, no_pivot: bool) -> Result<(), RootfsError> {
    nix::unistd::chdir(plan.rootfs).map_err(sys("chdir", plan.rootfs))?;
    if no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .map_err(sys("move rootfs to /", plan.rootfs))?;
        nix::unistd::chroot(".").map_err(sys("chroot", plan.rootfs))?;
    } else {
        // pivot_root(".", ".") stacks the old root under the new one at "/"; it is then made
        // a slave (so its unmount does not reach the host) and detached.
        nix::unistd::pivot_root(".", ".").map_err(sys("pivot_root", plan.rootfs))?;
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
    let prop = plan.propagation();
    if prop.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE) {
        mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .map_err(sys("set propagation of", Path::new("/")))?;
    }
    Ok(())
}

/// Steps after pivot_root, with `/` being the container's root.
pub fn finalize(plan: &RootfsPlan<'_>) -> Result<(), RootfsError> {
    let root = Root::open(Path::new("/"))?;
    let linux = plan.spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        mask(&root, Path::new(p))?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        make_readonly(&root, Path::new(p))?;
    }
    if plan.readonly() {
        bind_remount(Path::new("/"), MsFlags::MS_RDONLY, MsFlags::empty())?;
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

/// Hide `path`: a read-only empty tmpfs over a directory, /dev/null over anything else.
fn mask(root: &Root, path: &Path) -> Result<(), RootfsError> {
    let Some(fd) = open_optional(root, path)? else {
        return Ok(());
    };
    let target = fd_path(fd.as_fd());
    let is_dir = nix::sys::stat::fstat(&fd)
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false);
    let r = if is_dir {
        mount(
            Some("tmpfs"),
            &target,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
    } else {
        mount(
            Some("/dev/null"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    r.map_err(sys("mask", path))
}

/// Make `path` read-only: bind it on itself, then remount the bind read-only.
fn make_readonly(root: &Root, path: &Path) -> Result<(), RootfsError> {
    let Some(fd) = open_optional(root, path)? else {
        return Ok(());
    };
    mount(
        Some(&fd_path(fd.as_fd())),
        &fd_path(fd.as_fd()),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys("bind for readonly", path))?;
    let top = root.open_path(path, libc::O_PATH)?;
    // bind_remount keeps the flags the path already has (nosuid, noexec, ...).
    bind_remount(&fd_path(top.as_fd()), MsFlags::MS_RDONLY, MsFlags::empty())
}
