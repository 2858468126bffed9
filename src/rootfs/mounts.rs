//! Executing config.json `mounts` inside the rootfs, before pivot_root.
//!
//! Every destination is created and opened through the in-root resolver and mounted on through
//! its fd (`/proc/self/fd/N`), so a symlink planted in the image cannot send a mount outside the
//! rootfs.

use super::mount_options::{self, bind_remount_flags, MountOptions};
use super::resolve::{fd_path, Root};
use super::RootfsError;
use crate::cgroups::CgroupMount;
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Mount;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

pub(crate) fn sys<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(nix::Error) -> RootfsError + 'a {
    move |source| RootfsError::Mount {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The flags of the mount at `path` that a bind remount must keep: in a user namespace the
/// kernel refuses to clear nodev/nosuid/noexec/ro locked by a more privileged mount.
pub fn locked_flags(path: &Path) -> MsFlags {
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return MsFlags::empty();
    };
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (a, b) in [
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(a) {
            out |= b;
        }
    }
    out
}

/// Remount the bind mount at `path` with `flags`, keeping what is locked unless `flags` sets
/// it anyway; `cleared` are flags the config explicitly turned off.
pub fn bind_remount(path: &Path, flags: MsFlags, cleared: MsFlags) -> Result<(), RootfsError> {
    let locked = locked_flags(path) & !cleared;
    let all = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | locked;
    match mount(None::<&str>, path, None::<&str>, all, None::<&str>) {
        Ok(()) => Ok(()),
        // A flag the config cleared may be locked (a user namespace): keep it rather than fail.
        Err(nix::Error::EPERM) if !cleared.is_empty() => {
            let all = all | (locked_flags(path) & cleared);
            mount(None::<&str>, path, None::<&str>, all, None::<&str>).map_err(sys("remount", path))
        }
        Err(e) => Err(sys("remount", path)(e)),
    }
}

/// Everything the mount code needs to know about the container.
pub struct MountContext<'a> {
    pub root: &'a Root,
    pub bundle: &'a Path,
    pub in_userns: bool,
    pub cgroup_steps: &'a [CgroupMount],
}

fn source_path(ctx: &MountContext<'_>, m: &Mount) -> Option<PathBuf> {
    let s = m.source().as_ref()?;
    Some(if s.is_relative() {
        ctx.bundle.join(s)
    } else {
        s.clone()
    })
}

/// Perform one config.json mount.
pub fn mount_one(ctx: &MountContext<'_>, m: &Mount) -> Result<(), RootfsError> {
    let typ = m.typ().as_deref();
    let opts = mount_options::parse(typ, m.options().as_deref().unwrap_or(&[]));
    let dest = m.destination();
    if opts.tmpcopyup {
        return Err(RootfsError::Unsupported {
            what: format!("mount option tmpcopyup (mount at {})", dest.display()),
        });
    }
    if typ == Some("cgroup") && !opts.bind {
        return mount_cgroup(ctx, dest, &opts);
    }
    if opts.bind {
        return mount_bind(ctx, m, &opts);
    }
    let target_fd = ctx.root.mkdir_all(dest, 0o755)?;
    let target = fd_path(target_fd.as_fd());
    let fstype = typ.unwrap_or("none");
    if matches!(fstype, "proc" | "sysfs") {
        // proc and sysfs are what masks and sysctls act on later: their destination must be
        // the ordinary directory the config names, not a symlink the image planted (runc's
        // rule too), or the masks would land elsewhere.
        if let Err(e) = ctx
            .root
            .open_no_symlinks(dest, libc::O_PATH | libc::O_DIRECTORY)
        {
            if e.errno() == Some(libc::ELOOP) {
                return Err(RootfsError::SymlinkedSpecialMount {
                    fstype: fstype.to_string(),
                    dest: dest.clone(),
                });
            }
            return Err(e.into());
        }
    }
    let src = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| fstype.to_string());
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    let flags = opts.flags & !MsFlags::MS_REMOUNT;
    let r = mount(Some(src.as_str()), &target, Some(fstype), flags, data);
    match (r, fstype) {
        (Ok(()), _) => {}
        // sysfs needs a network namespace owned by our user namespace; without one, runc binds
        // the host's /sys instead, and so does rrun.
        (Err(nix::Error::EPERM), "sysfs") if ctx.in_userns => {
            mount(
                Some("/sys"),
                &target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(sys("rbind /sys", dest))?;
            let top = ctx.root.open_path(dest, libc::O_PATH)?;
            bind_remount(
                &fd_path(top.as_fd()),
                bind_remount_flags(&opts),
                opts.cleared,
            )?;
        }
        // devpts's gid= fails with EINVAL when that gid is not mapped in our user namespace.
        (Err(nix::Error::EINVAL), "devpts") if opts.data.contains("gid=") => {
            let data: Vec<&str> = opts
                .data
                .split(',')
                .filter(|o| !o.starts_with("gid="))
                .collect();
            mount(
                Some(src.as_str()),
                &target,
                Some(fstype),
                flags,
                Some(data.join(",").as_str()),
            )
            .map_err(sys("mount devpts", dest))?;
        }
        (Err(e), _) => {
            return Err(RootfsError::MountFs {
                fstype: fstype.to_string(),
                dest: dest.clone(),
                data: opts.data.clone(),
                source: e,
            })
        }
    }
    apply_propagation(ctx, dest, &opts)
}

fn apply_propagation(
    ctx: &MountContext<'_>,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    if opts.propagation.is_empty() {
        return Ok(());
    }
    let top = ctx.root.open_path(dest, libc::O_PATH)?;
    let p = fd_path(top.as_fd());
    for flag in &opts.propagation {
        mount(None::<&str>, &p, None::<&str>, *flag, None::<&str>)
            .map_err(sys("set propagation", dest))?;
    }
    Ok(())
}

fn mount_bind(ctx: &MountContext<'_>, m: &Mount, opts: &MountOptions) -> Result<(), RootfsError> {
    let dest = m.destination();
    let src = source_path(ctx, m).ok_or_else(|| RootfsError::Unsupported {
        what: format!("bind mount at {} without a source", dest.display()),
    })?;
    let meta = std::fs::metadata(&src).map_err(|source| RootfsError::Source {
        path: src.clone(),
        source,
    })?;
    let target_fd = if meta.is_dir() {
        ctx.root.mkdir_all(dest, 0o755)?
    } else {
        ctx.root.create_file(dest, 0o644)?
    };
    let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    mount(
        Some(&src),
        &fd_path(target_fd.as_fd()),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .map_err(|e| RootfsError::Bind {
        source_path: src.clone(),
        dest: dest.clone(),
        source: e,
    })?;
    let remount = bind_remount_flags(opts);
    if !remount.is_empty() {
        let top = ctx.root.open_path(dest, libc::O_PATH)?;
        bind_remount(&fd_path(top.as_fd()), remount, opts.cleared)?;
    }
    apply_propagation(ctx, dest, opts)
}

fn mount_cgroup(
    ctx: &MountContext<'_>,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    // The entry's own options (nosuid, relatime, ...) apply to every mount below it; `ro` is
    // applied last, once everything is in place.
    let extra = opts.flags
        & !(MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC);
    let mut binds = Vec::new();
    let mut tmpfs_base = false;
    for step in ctx.cgroup_steps {
        match step {
            CgroupMount::Mount {
                source,
                relative,
                fstype,
                flags,
                data,
            } => {
                let d = dest.join(relative);
                let fd = ctx.root.mkdir_all(&d, 0o755)?;
                let target = fd_path(fd.as_fd());
                let r = if fstype == "bind" {
                    mount(
                        Some(source.as_str()),
                        &target,
                        None::<&str>,
                        *flags,
                        None::<&str>,
                    )
                } else {
                    mount(
                        Some(source.as_str()),
                        &target,
                        Some(fstype.as_str()),
                        *flags | extra,
                        (!data.is_empty()).then_some(data.as_str()),
                    )
                };
                r.map_err(|e| RootfsError::MountFs {
                    fstype: fstype.clone(),
                    dest: d.clone(),
                    data: format!("{source} {data}"),
                    source: e,
                })?;
                if fstype == "bind" {
                    binds.push(d);
                } else if fstype == "tmpfs" && relative.as_os_str().is_empty() {
                    tmpfs_base = true;
                } else {
                    binds.push(d);
                }
            }
            CgroupMount::Symlink { target, relative } => {
                super::devices::symlink_in_root(ctx.root, target, &dest.join(relative))?;
            }
        }
    }
    let ro = opts.flags & MsFlags::MS_RDONLY;
    for d in binds {
        let fd = ctx.root.open_path(&d, libc::O_PATH)?;
        bind_remount(&fd_path(fd.as_fd()), ro | extra, opts.cleared)?;
    }
    if tmpfs_base && !ro.is_empty() {
        // A bind remount changes only the flags of this one mount (the tmpfs just made), never
        // a super block that something else shares.
        let fd = ctx.root.open_path(dest, libc::O_PATH)?;
        bind_remount(&fd_path(fd.as_fd()), ro | extra, opts.cleared)?;
    }
    apply_propagation(ctx, dest, opts)
}
