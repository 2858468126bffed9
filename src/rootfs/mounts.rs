//! Applying the planned config.json `mounts` (src/rootfs/plan.rs) inside the rootfs, before
//! pivot_root.
//!
//! Every destination is created and opened through the in-root resolver and mounted on through
//! its fd (`/proc/self/fd/N`), so a symlink planted in the image cannot send a mount outside the
//! rootfs.

use super::idmap::{IdmapError, Trees};
use super::mount_options::{bind_remount_flags, MountOptions};
use super::plan::{MountKind, MountStep};
use super::resolve::{fd_path, ResolveError, Root};
use super::RootfsError;
use crate::cgroups::CgroupMount;
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

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
    pub in_userns: bool,
    pub cgroup_steps: &'a [CgroupMount],
    /// The detached id-mapped mounts the parent made, by step index.
    pub trees: &'a Trees,
}

/// What a bind mounts: a host path, or a detached (id-mapped) mount the parent made.
enum BindFrom<'a> {
    Path(&'a Path),
    Tree(BorrowedFd<'a>),
}

/// Perform one planned config.json mount, step `index` of the plan. Whatever fails is
/// reported as the failure of this mount, naming its source and destination as runc does
/// (`error mounting "SRC" to rootfs at "DEST": ...`).
pub fn mount_one(
    ctx: &MountContext<'_>,
    index: usize,
    step: &MountStep,
) -> Result<(), RootfsError> {
    let r = match &step.kind {
        MountKind::Cgroup => mount_cgroup(ctx, &step.dest, &step.opts),
        MountKind::Bind {
            source,
            idmap: None,
        } => mount_bind(ctx, BindFrom::Path(source), &step.dest, &step.opts),
        MountKind::Bind { idmap: Some(_), .. } => match ctx.trees.get(index) {
            Some(tree) => mount_bind(ctx, BindFrom::Tree(tree), &step.dest, &step.opts),
            None => Err(IdmapError::NoTree.into()),
        },
        MountKind::Fs { fstype, source } => mount_fs(ctx, fstype, source, &step.dest, &step.opts),
    };
    r.map_err(|e| e.in_mount(step.shown_source.clone(), &step.dest))
}

fn mount_fs(
    ctx: &MountContext<'_>,
    fstype: &str,
    src: &str,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let target_fd = ctx.root.mkdir_all(dest, 0o755)?;
    let target = fd_path(target_fd.as_fd());
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
                    dest: dest.to_path_buf(),
                });
            }
            return Err(e.into());
        }
    }
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    let flags = opts.flags & !MsFlags::MS_REMOUNT;
    let r = mount(Some(src), &target, Some(fstype), flags, data);
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
                bind_remount_flags(opts),
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
                Some(src),
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
                dest: dest.to_path_buf(),
                data: opts.data.clone(),
                source: e,
            })
        }
    }
    finish_mount(ctx, dest, opts)
}

/// What every mount does once it is in place: the recursive options (`rro`, `rnosuid`, ...:
/// mount_setattr with AT_RECURSIVE on it and every mount below it), then the propagation
/// changes. The mount's top is resolved once, only when either is asked for.
fn finish_mount(
    ctx: &MountContext<'_>,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let recursive = opts.rec_attr_set != 0 || opts.rec_attr_clr != 0;
    if !recursive && opts.propagation.is_empty() {
        return Ok(());
    }
    let top = ctx.root.open_path(dest, libc::O_PATH)?;
    if recursive {
        let what = format!("recursive options of {}", dest.display());
        super::fdmount::set_attr(
            top.as_fd(),
            opts.rec_attr_set,
            opts.rec_attr_clr,
            true,
            &what,
        )?;
    }
    let p = fd_path(top.as_fd());
    for flag in &opts.propagation {
        mount(None::<&str>, &p, None::<&str>, *flag, None::<&str>)
            .map_err(sys("set propagation", dest))?;
    }
    Ok(())
}

fn mount_bind(
    ctx: &MountContext<'_>,
    from: BindFrom<'_>,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let source_is_dir = match &from {
        BindFrom::Path(src) => std::fs::metadata(src)
            .map_err(|source| RootfsError::Source {
                path: src.to_path_buf(),
                source,
            })?
            .is_dir(),
        BindFrom::Tree(tree) => is_dir(*tree),
    };
    let target_fd = if source_is_dir {
        ctx.root
            .mkdir_all(dest, 0o755)
            .map_err(|e| dir_onto_non_dir(ctx.root, dest, e))?
    } else {
        ctx.root.create_file(dest, 0o644)?
    };
    // The kernel refuses a directory onto a non-directory and the reverse with ENOTDIR; say
    // which side is which.
    let mismatch = |e: nix::Error| {
        (e == nix::Error::ENOTDIR && source_is_dir != is_dir(target_fd.as_fd()))
            .then_some(RootfsError::KindMismatch { source_is_dir })
    };
    match from {
        BindFrom::Path(src) => {
            let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
            mount(
                Some(src),
                &fd_path(target_fd.as_fd()),
                None::<&str>,
                flags,
                None::<&str>,
            )
            .map_err(|e| {
                mismatch(e).unwrap_or_else(|| RootfsError::Bind {
                    source_path: src.to_path_buf(),
                    dest: dest.to_path_buf(),
                    source: e,
                })
            })?;
        }
        // Attached on the fd of the destination, resolved inside the rootfs.
        BindFrom::Tree(tree) => {
            crate::sys::mount::move_mount(tree, target_fd.as_fd()).map_err(|e| {
                mismatch(e).unwrap_or_else(|| RootfsError::Mount {
                    op: "move_mount (id-mapped mount) to",
                    path: dest.to_path_buf(),
                    source: e,
                })
            })?;
        }
    }
    let remount = bind_remount_flags(opts);
    if !remount.is_empty() {
        let top = ctx.root.open_path(dest, libc::O_PATH)?;
        bind_remount(&fd_path(top.as_fd()), remount, opts.cleared)?;
    }
    finish_mount(ctx, dest, opts)
}

fn is_dir(fd: BorrowedFd<'_>) -> bool {
    nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// The error of making the destination of a directory bind: when the destination exists and
/// is not a directory (a file of the image, or a symlink inside the root to one), the
/// resolver's ENOTDIR becomes [`RootfsError::KindMismatch`]; anything else stays as it is.
fn dir_onto_non_dir(root: &Root, dest: &Path, e: ResolveError) -> RootfsError {
    if e.errno() != Some(libc::ENOTDIR) {
        return e.into();
    }
    // Resolved inside the root as the destination was; ENOTDIR on the way (a file used as a
    // parent directory) leaves the resolver's own message.
    let not_a_dir = root
        .open_path(dest, libc::O_PATH)
        .ok()
        .and_then(|fd| nix::sys::stat::fstat(&fd).ok())
        .is_some_and(|st| st.st_mode & libc::S_IFMT != libc::S_IFDIR);
    if not_a_dir {
        return RootfsError::KindMismatch {
            source_is_dir: true,
        };
    }
    e.into()
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
    // The tmpfs made at `dest` (v1 and hybrid): its controller directories are made in it
    // through this fd, and it is the mount made read-only at the end.
    let mut tmpfs_base: Option<std::os::fd::OwnedFd> = None;
    let mut dirs = super::devices::ParentDirs::new(ctx.root);
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
                let mut comps = relative.components();
                let child = match (&tmpfs_base, comps.next(), comps.next()) {
                    (Some(base), Some(std::path::Component::Normal(name)), None) => {
                        Root::mkdir_child(base.as_fd(), name, 0o755).ok()
                    }
                    _ => None,
                };
                let fd = match child {
                    Some(fd) => fd,
                    None => ctx.root.mkdir_all(&d, 0o755)?,
                };
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
                    // Opened again: now the fresh tmpfs, not the directory under it.
                    tmpfs_base = Some(ctx.root.open_path(dest, libc::O_PATH | libc::O_DIRECTORY)?);
                } else {
                    binds.push(d);
                }
            }
            CgroupMount::Symlink { target, relative } => {
                super::devices::symlink_in_root(&mut dirs, target, &dest.join(relative))?;
            }
        }
    }
    let ro = opts.flags & MsFlags::MS_RDONLY;
    drop(dirs);
    // v1 and hybrid: the tmpfs and every controller mount below it get the entry's flags in
    // one recursive mount_setattr on the tmpfs's fd (flags not named stay as they are, so what
    // a user namespace locks is kept). Per-mount flags only: no super block is changed.
    if let (Some(base), Some((set, clr))) = (&tmpfs_base, mount_attrs(ro | extra, opts.cleared)) {
        let what = format!("flags of the cgroup mounts under {}", dest.display());
        match super::fdmount::set_attr(base.as_fd(), set, clr, true, &what) {
            Ok(()) => {}
            // A flag the config cleared may be locked (a user namespace): kept, as below.
            Err(_) if clr != 0 => super::fdmount::set_attr(base.as_fd(), set, 0, true, &what)?,
            Err(e) => return Err(e.into()),
        }
        return finish_mount(ctx, dest, opts);
    }
    for d in binds {
        let fd = ctx.root.open_path(&d, libc::O_PATH)?;
        bind_remount(&fd_path(fd.as_fd()), ro | extra, opts.cleared)?;
    }
    if let Some(fd) = tmpfs_base.filter(|_| !ro.is_empty()) {
        // A bind remount changes only the flags of this one mount (the tmpfs just made), never
        // a super block that something else shares.
        bind_remount(&fd_path(fd.as_fd()), ro | extra, opts.cleared)?;
    }
    finish_mount(ctx, dest, opts)
}

/// `flags` (set) and `cleared` as `MOUNT_ATTR_*` bits to set and clear, or None when one of
/// them has no such bit (sync, dirsync, lazytime, ...: those need a remount).
fn mount_attrs(flags: MsFlags, cleared: MsFlags) -> Option<(u64, u64)> {
    let table = [
        (MsFlags::MS_RDONLY, libc::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, libc::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, libc::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, libc::MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, libc::MOUNT_ATTR_NODIRATIME),
    ];
    let atime = [
        (MsFlags::MS_RELATIME, libc::MOUNT_ATTR_RELATIME),
        (MsFlags::MS_NOATIME, libc::MOUNT_ATTR_NOATIME),
        (MsFlags::MS_STRICTATIME, libc::MOUNT_ATTR_STRICTATIME),
    ];
    let (mut set, mut clr) = (0u64, 0u64);
    let mut known = MsFlags::empty();
    for (f, a) in table {
        known |= f;
        if flags.contains(f) {
            set |= a;
        } else if cleared.contains(f) {
            clr |= a;
        }
    }
    let mut atimes = 0;
    for (f, a) in atime {
        known |= f;
        if flags.contains(f) {
            atimes += 1;
            // The access-time mode is one field: it is replaced as a whole.
            set |= a;
            clr |= libc::MOUNT_ATTR__ATIME;
        }
    }
    if atimes > 1 || !(flags - known).is_empty() {
        return None;
    }
    Some((set, clr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_flags_as_mount_attrs() {
        let f = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        let (set, clr) = mount_attrs(f | MsFlags::MS_RELATIME, MsFlags::empty()).unwrap();
        assert_eq!(
            set,
            libc::MOUNT_ATTR_RDONLY
                | libc::MOUNT_ATTR_NOSUID
                | libc::MOUNT_ATTR_NODEV
                | libc::MOUNT_ATTR_NOEXEC
                | libc::MOUNT_ATTR_RELATIME
        );
        assert_eq!(clr, libc::MOUNT_ATTR__ATIME);
        let (set, clr) = mount_attrs(MsFlags::MS_NODEV, MsFlags::MS_NOSUID).unwrap();
        assert_eq!(
            (set, clr),
            (libc::MOUNT_ATTR_NODEV, libc::MOUNT_ATTR_NOSUID)
        );
        assert_eq!(mount_attrs(MsFlags::MS_SYNCHRONOUS, MsFlags::empty()), None);
        assert_eq!(
            mount_attrs(
                MsFlags::MS_NOATIME | MsFlags::MS_STRICTATIME,
                MsFlags::empty()
            ),
            None
        );
    }
}
