//! `restore`: a new container (state directory, first state, cgroup) around a process CRIU
//! brings back. As runc: the rootfs is bind-mounted at `<state dir>/criu-root` (CRIU wants a
//! mount point whose parent is not overmounted), the config's mount points are made in the
//! rootfs (not below a tmpfs, whose content CRIU restores), bind mounts and cgroup binds are
//! handed to CRIU as external mounts, namespaces named by path are joined (net and pid handed
//! over open, as runc's `extRoot<Type>NS`), the caller's pipes replace the checkpointed
//! init's (descriptors.json), prestart and createRuntime hooks run when CRIU has set up the
//! namespaces (CRIU's `setup-namespaces` action, through `rrun criu-action`). The restored
//! init is CRIU's sibling, so the caller's child; its pid goes into state.json and
//! `--pid-file`. A failure undoes everything (the mount first, then the cgroup and the
//! directory).

use super::criu;
use super::dump::{cgroup_binds, existing_config_file, mkdir};
use super::error::CheckpointError;
use super::options::RestoreOptions;
use super::plan::{self, RestoreInput};
use crate::cgroups::{self, Layout, Manager};
use crate::container::state::SavedState;
use crate::container::{Container, ContainerDir, ContainerError};
use crate::hooks::{self, DefaultEnv, Kind};
use crate::log::Log;
use nix::mount::{MntFlags, MsFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The mount point of the rootfs for CRIU, in the state directory (runc's name).
pub const CRIU_ROOT: &str = "criu-root";
/// Where CRIU writes the restored init's pid.
pub const CRIU_PID: &str = "criu.pid";

/// A restored container, still locked by the caller, and its init.
pub struct Restored {
    pub container: Container,
    pub pid: i32,
}

/// Undoes a restore that did not finish. The rootfs mount goes first: the state directory is
/// removed recursively only once nothing is mounted below it.
struct Undo {
    dir: PathBuf,
    criu_root: Option<PathBuf>,
    cgroup: Option<Box<dyn Manager>>,
    pid: Option<i32>,
    armed: bool,
}

impl Undo {
    /// Unmount and remove the rootfs mount point; false if it is still there.
    fn unmount_root(&mut self) -> bool {
        let Some(r) = self.criu_root.take() else {
            return true;
        };
        let _ = nix::mount::umount2(&r, MntFlags::MNT_DETACH);
        match std::fs::remove_dir(&r) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(_) => {
                self.criu_root = Some(r);
                false
            }
        }
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        let unmounted = self.unmount_root();
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.kill_all();
            let _ = cg.destroy();
        }
        if unmounted {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = path.to_path_buf();
    move |source| CheckpointError::Io { op, path, source }
}

/// The checkpoint's descriptors.json (runc fails without it too).
fn read_descriptors(images: &Path) -> Result<Vec<String>, CheckpointError> {
    let path = images.join(plan::DESCRIPTORS);
    let bad = |why: String| CheckpointError::Descriptors {
        path: path.clone(),
        why,
    };
    let data = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
    serde_json::from_slice(&data).map_err(|e| bad(e.to_string()))
}

/// CRIU's name of a namespace it joins (`--join-ns`); net and pid are external instead, and a
/// cgroup namespace cannot be joined (runc: "Do not know how to handle namespace").
fn join_name(typ: LinuxNamespaceType) -> Option<&'static str> {
    match typ {
        LinuxNamespaceType::Mount => Some("mnt"),
        LinuxNamespaceType::Uts => Some("uts"),
        LinuxNamespaceType::Ipc => Some("ipc"),
        LinuxNamespaceType::User => Some("user"),
        LinuxNamespaceType::Time => Some("time"),
        _ => None,
    }
}

/// The namespaces the config names by path: joined by CRIU, or (net, pid) opened here and
/// handed to CRIU, whose fd numbers are the same as ours (close-on-exec cleared).
#[allow(clippy::type_complexity)]
fn namespaces(
    spec: &Spec,
) -> Result<
    (
        Vec<(&'static str, PathBuf)>,
        Vec<(&'static str, i32)>,
        Vec<OwnedFd>,
    ),
    CheckpointError,
> {
    let (mut join, mut inherit, mut keep) = (Vec::new(), Vec::new(), Vec::new());
    let list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in &list {
        let Some(path) = ns.path().as_ref() else {
            continue;
        };
        let typ = ns.typ();
        let external = match typ {
            LinuxNamespaceType::Network => Some("net"),
            LinuxNamespaceType::Pid => Some("pid"),
            _ => None,
        };
        if let Some(name) = external {
            let f = std::fs::File::open(path).map_err(io("open", path))?;
            let fd: OwnedFd = f.into();
            nix::fcntl::fcntl(
                fd.as_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
            )
            .map_err(|source| CheckpointError::Sys {
                op: "fcntl F_SETFD",
                path: path.clone(),
                source,
            })?;
            inherit.push((name, fd.as_raw_fd()));
            keep.push(fd);
            continue;
        }
        match join_name(typ) {
            Some(name) => join.push((name, path.clone())),
            None => {
                return Err(CheckpointError::JoinNamespace {
                    ns: typ.to_string(),
                    path: path.clone(),
                })
            }
        }
    }
    Ok((join, inherit, keep))
}

/// Where CRIU restores the container's cgroups (`--cgroup-root`), as runc's `CgRoot` entries:
/// the container's cgroup as /proc/PID/cgroup names it, for each v1 controller (`cpu:/c1`,
/// `name=systemd:/c1`) and for the cgroup2 hierarchy, whose controller CRIU names `""`
/// (`:/c1`; CRIU's `cgroup_contains` matches an empty name to cgroup2 only, where a default
/// root without a controller would also move other named hierarchies). A hierarchy holding
/// none of the container's directories gets no entry.
fn cgroup_roots(
    layout: &Layout,
    paths: &std::collections::BTreeMap<String, PathBuf>,
) -> Vec<String> {
    let rel = |dir: &Path, mp: &Path, root: &Path| -> Option<String> {
        let r = Path::new("/").join(root).join(dir.strip_prefix(mp).ok()?);
        Some(r.to_string_lossy().into_owned())
    };
    let dir_in = |mp: &Path| {
        paths
            .values()
            .find(|d| d.starts_with(mp) && d.as_path() != mp)
    };
    let mut out = Vec::new();
    for h in layout.v1_hierarchies() {
        let Some(r) = dir_in(&h.mount_point).and_then(|d| rel(d, &h.mount_point, &h.root)) else {
            continue;
        };
        for c in &h.controllers {
            out.push(format!("{c}:{r}"));
        }
    }
    if let Some(u) = layout.unified() {
        // On hybrid hosts the v1 hierarchies are mounted below the cgroup2 one's parent, not
        // below it: a v1 directory never starts with the cgroup2 mount point.
        if let Some(r) = paths
            .get(cgroups::UNIFIED_KEY)
            .and_then(|d| rel(d, &u.mount_point, &u.root))
        {
            out.push(format!(":{r}"));
        }
    }
    out
}

/// The config's bind mounts made for a moment while the mount points are made (runc issue
/// 2748: a mount point inside a bind mount must exist in its source); unmounted in reverse
/// order on drop, each found again by its path in the root (the fd of the mount point taken
/// before the bind names what is below it).
struct TempBinds<'a> {
    root: &'a crate::rootfs::resolve::Root,
    dests: Vec<String>,
}

impl Drop for TempBinds<'_> {
    fn drop(&mut self) {
        for d in self.dests.iter().rev() {
            if let Ok(fd) = self.root.open_path(Path::new(d), libc::O_PATH) {
                let _ = nix::mount::umount2(
                    &crate::rootfs::resolve::fd_path(fd.as_fd()),
                    MntFlags::MNT_DETACH,
                );
            }
        }
    }
}

/// Make the config's mount points in the rootfs, except below a tmpfs of the config (CRIU
/// restores those contents) and for the cgroup mount (CRIU restores the tmpfs of v1; the
/// cgroup2 mount point appears with /sys): runc's `prepareCriuRestoreMounts`. Bind mounts are
/// made in config order for the time this takes, so that mount points inside them are made in
/// their sources, as `create` makes them; none stays.
fn make_mount_points(spec: &Spec, rootfs: &Path, bundle: &Path) -> Result<(), CheckpointError> {
    let mounts = spec.mounts().clone().unwrap_or_default();
    let tmpfs: Vec<String> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| plan::clean_dest(&m.destination().to_string_lossy()))
        .collect();
    let root = crate::rootfs::resolve::Root::open(rootfs).map_err(|e| CheckpointError::Io {
        op: "open rootfs",
        path: rootfs.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let binds = plan::bind_mounts(spec, bundle);
    let mut temp = TempBinds {
        root: &root,
        dests: Vec::new(),
    };
    for m in &mounts {
        let dest = plan::clean_dest(&m.destination().to_string_lossy());
        if tmpfs.iter().any(|t| dest.starts_with(&format!("{t}/"))) {
            continue;
        }
        if m.typ().as_deref() == Some("cgroup") {
            continue;
        }
        let bind = binds.iter().find(|(d, _)| *d == dest).map(|(_, s)| s);
        let file_source =
            bind.is_some_and(|src| std::fs::metadata(src).is_ok_and(|md| !md.is_dir()));
        let made = if file_source {
            root.create_file(Path::new(&dest), 0o644)
        } else {
            root.mkdir_all(Path::new(&dest), 0o755)
        };
        let target = made.map_err(|e| CheckpointError::Io {
            op: "create criu restore mountpoint",
            path: PathBuf::from(&dest),
            source: std::io::Error::other(e.to_string()),
        })?;
        let Some(src) = bind else {
            continue;
        };
        nix::mount::mount(
            Some(src),
            &crate::rootfs::resolve::fd_path(target.as_fd()),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|source| CheckpointError::Sys {
            op: "bind mount (to make the mount points inside it)",
            path: src.clone(),
            source,
        })?;
        temp.dests.push(dest);
    }
    Ok(())
}

/// The action script CRIU runs when the config has hooks to run on restore.
fn action_script(spec: &Spec, root: &Path, id: &str) -> Result<Option<String>, CheckpointError> {
    if Kind::Prestart.of(spec).is_empty() && Kind::CreateRuntime.of(spec).is_empty() {
        return Ok(None);
    }
    let exe = std::env::current_exe().map_err(io("readlink", Path::new("/proc/self/exe")))?;
    let root = std::path::absolute(root).map_err(io("absolute", root))?;
    Ok(Some(format!(
        "{} --root {} criu-action {}",
        plan::shell_quote(&exe.to_string_lossy()),
        plan::shell_quote(&root.to_string_lossy()),
        plan::shell_quote(id)
    )))
}

/// `rrun criu-action <id>`, run by CRIU at its action points (`CRTOOLS_SCRIPT_ACTION`): at
/// `setup-namespaces` the prestart and createRuntime hooks run, with the state of the
/// container being restored and the restored init's pid (`CRTOOLS_INIT_PID`), as runc runs
/// them from CRIU's notification. Other actions do nothing.
pub fn action(root: &Path, id: &str, action: &str, pid: i32) -> Result<(), CheckpointError> {
    if action != "setup-namespaces" {
        return Ok(());
    }
    let c = Container::open_unlocked(root, id)?;
    let st = c.saved();
    let mut state = st.oci(crate::container::state::Status::Creating);
    state.pid = pid;
    let json = state.to_json();
    for kind in [Kind::Prestart, Kind::CreateRuntime] {
        hooks::run_all(kind, &kind.of(&st.config), &json, DefaultEnv::Runtime)?;
    }
    Ok(())
}

/// `restore`.
pub fn restore(
    root: &Path,
    opts: &RestoreOptions,
    log: &dyn Log,
) -> Result<Restored, CheckpointError> {
    crate::container::validate_id(&opts.id)?;
    let bundle = crate::spec::load(&opts.bundle)?;
    for w in &bundle.warnings {
        log.warn(w);
    }
    let spec = &bundle.spec;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal {
        return Err(CheckpointError::Terminal);
    }
    if opts.console_socket.is_some() {
        return Err(ContainerError::ConsoleSocketWithoutTerminal.into());
    }
    if opts.image_path.as_os_str().is_empty() {
        return Err(CheckpointError::NoImagePath);
    }
    let descriptors = read_descriptors(&opts.image_path)?;
    let (join_ns, inherit_ns, _ns_fds) = namespaces(spec)?;

    let layout = cgroups::detect()?;
    let cgroups_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let cgroup = cgroups::manager(
        &layout,
        cgroups_path.as_deref(),
        &opts.id,
        opts.cgroup_driver,
    )?;
    let dir = ContainerDir::create(root, &opts.id)?;
    let mut undo = Undo {
        dir: dir.path.clone(),
        criu_root: None,
        cgroup: None,
        pid: None,
        armed: true,
    };
    let mut state = SavedState {
        id: opts.id.clone(),
        init_pid: 0,
        init_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::timefmt::now(true),
        owner: String::new(),
        cgroup_paths: cgroup.paths(),
        systemd_cgroup: opts.cgroup_driver == cgroups::Driver::Systemd,
        no_cgroup: false,
        creating: true,
        // Never rrun's program: a restored init is running, not created.
        init_exe: None,
        // CRIU hands our stdio to the restored init (--inherit-fd), as runc records them.
        stdio: Some(crate::container::state::stdio_of("self")),
        config: spec.clone(),
    };
    dir.save(&state)?;
    cgroup.create(log)?;
    let cgroup = &**undo.cgroup.insert(cgroup);
    if cgroup.paths() != state.cgroup_paths {
        state.cgroup_paths = cgroup.paths();
        dir.save(&state)?;
    }

    if let Some(w) = &opts.work_path {
        mkdir(w)?;
    }
    make_mount_points(spec, &bundle.rootfs, &bundle.dir)?;
    let criu_root = dir.path.join(CRIU_ROOT);
    std::fs::create_dir(&criu_root).map_err(io("mkdir", &criu_root))?;
    undo.criu_root = Some(criu_root.clone());
    nix::mount::mount(
        Some(&bundle.rootfs),
        &criu_root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|source| CheckpointError::Sys {
        op: "bind mount the rootfs at",
        path: criu_root.clone(),
        source,
    })?;
    let pid_path = dir.path.join(CRIU_PID);
    let input = RestoreInput {
        opts,
        spec,
        bundle: &bundle.dir,
        criu_root: &criu_root,
        pid_file: &pid_path,
        cgroup_roots: cgroup_roots(&layout, &cgroup.paths()),
        cgroup_binds: cgroup_binds(spec, cgroup),
        join_ns,
        inherit_ns,
        descriptors: &descriptors,
        action_script: action_script(spec, root, &opts.id)?,
        config_file: existing_config_file(spec),
    };
    let args = plan::restore_args(&input);
    let ran = criu::run(&opts.criu, &args, false, log)?;
    if !ran.status.success() {
        let log_dir = opts.work_path.as_ref().unwrap_or(&opts.image_path);
        return Err(criu::failure(
            "restore",
            &ran,
            log_dir.join(plan::RESTORE_LOG),
        ));
    }
    let bad_pid = |why: String| CheckpointError::RestoredPid {
        path: pid_path.clone(),
        why,
    };
    let text = std::fs::read_to_string(&pid_path).map_err(|e| bad_pid(e.to_string()))?;
    let pid: i32 = text
        .trim()
        .parse()
        .map_err(|_| bad_pid(format!("{:?} is not a pid", text.trim())))?;
    undo.pid = Some(pid);
    let start_time = crate::procinfo::stat::proc_stat(pid)
        .filter(|s| s.state != 'Z' && s.state != 'X')
        .map(|s| s.start_time)
        .ok_or_else(|| bad_pid(format!("pid {pid} is not running")))?;
    state.init_pid = pid;
    state.init_start_time = start_time;
    dir.save(&state)?;
    // CRIU placed the processes under --cgroup-root (or where they were); the init is in the
    // container's cgroup in any case, with the config's limits.
    cgroup.add_process(pid)?;
    let mut resources = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    if resources.devices().is_none() {
        resources.set_devices(Some(Vec::new()));
    }
    cgroup.apply(&resources, log)?;
    state.creating = false;
    state.created = crate::timefmt::now(true);
    dir.save(&state)?;
    let _ = std::fs::remove_file(&pid_path);
    if let Some(p) = &opts.pid_file {
        crate::container::dir::write_pid_file(p, pid)?;
    }
    if !undo.unmount_root() {
        log.warn(&format!(
            "{} is still mounted after the restore",
            criu_root.display()
        ));
    }
    undo.armed = false;
    undo.cgroup = None;
    Ok(Restored {
        container: Container::from_parts(dir, state),
        pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::{UnifiedHierarchy, V1Hierarchy};

    fn hybrid() -> Layout {
        Layout::Hybrid {
            hierarchies: vec![
                V1Hierarchy {
                    mount_point: "/sys/fs/cgroup/memory".into(),
                    root: "/".into(),
                    controllers: vec!["memory".into()],
                },
                V1Hierarchy {
                    mount_point: "/sys/fs/cgroup/cpu,cpuacct".into(),
                    root: "/".into(),
                    controllers: vec!["cpu".into(), "cpuacct".into()],
                },
            ],
            unified: UnifiedHierarchy {
                mount_point: "/sys/fs/cgroup/unified".into(),
                root: "/".into(),
                controllers: vec![],
            },
        }
    }

    #[test]
    fn cgroup_roots_per_controller_and_for_cgroup2() {
        let mut p = std::collections::BTreeMap::new();
        p.insert(
            "memory".to_string(),
            PathBuf::from("/sys/fs/cgroup/memory/nested/c1"),
        );
        p.insert(
            "cpu".to_string(),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/c1"),
        );
        p.insert(String::new(), PathBuf::from("/sys/fs/cgroup/unified/c1"));
        assert_eq!(
            cgroup_roots(&hybrid(), &p),
            ["memory:/nested/c1", "cpu:/c1", "cpuacct:/c1", ":/c1"]
        );
        p.remove("");
        p.remove("memory");
        assert_eq!(cgroup_roots(&hybrid(), &p), ["cpu:/c1", "cpuacct:/c1"]);
    }

    #[test]
    fn join_names() {
        assert_eq!(join_name(LinuxNamespaceType::Mount), Some("mnt"));
        assert_eq!(join_name(LinuxNamespaceType::Cgroup), None);
    }
}
