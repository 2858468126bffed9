//! [`Container::create`]: everything up to an init blocked before exec until `start`. The
//! config is checked before anything exists; then, in order, the state directory with a first
//! state, the cgroup, the start fifos and the init (src/init/); a failure on the way undoes
//! what was made ([`Cleanup`]).

use super::console::{self, Console};
use super::dir::{write_pid_file, ContainerDir};
use super::error::ContainerError;
use super::lifecycle::Container;
use super::state::{OciState, SavedState, Status};
use crate::cgroups::{self, Manager};
use crate::hooks::{self, DefaultEnv, Kind};
use crate::init::error::ParentError;
use crate::init::{self, InitPlan, Launch, ParentSide};
use crate::log::Log;
use crate::process::caps::CapPlan;
use crate::process::mempolicy::MemPolicy;
use crate::seccomp::Filter;
use crate::spec::{self, Bundle};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What `create` (and `run`) is asked to do.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub console: Console,
    /// `create` and `run -d`: rrun does not stay (a terminal then needs a console socket).
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// cgroupfs, or a systemd unit (`--systemd-cgroup`).
    pub cgroup_driver: cgroups::Driver,
    /// `--rootless`: cgroup permission errors are not fatal when the config needs no cgroup
    /// (None: auto, true when rrun has no privileges over the host).
    pub rootless: Option<bool>,
}

/// A created container, still locked by the caller.
pub struct Created {
    pub container: Container,
    /// The pty master, with [`Console::Own`] and a terminal.
    pub pty_master: Option<OwnedFd>,
}

/// Undoes a create that did not finish: kills the init (if any), removes the cgroup and the
/// state dir. Disarmed once the container exists.
struct Cleanup {
    dir: PathBuf,
    init_pid: Option<i32>,
    cgroup: Option<Box<dyn Manager>>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.init_pid {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.kill_all();
            let _ = cg.destroy();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Parent<'a> {
    bundle: &'a Bundle,
    id: &'a str,
    created: &'a str,
    cgroup: &'a dyn Manager,
    dir: &'a ContainerDir,
    /// The state saved while creating; the init's pid goes in as soon as the init exists.
    state: &'a mut SavedState,
    /// linux.netDevices, moved into the init's network namespace once the init exists.
    netdevs: &'a [crate::netdev::NetDevice],
    /// The memory cgroup's OOM kill count before the init started (a cgroupsPath may name a
    /// cgroup that existed, with kills of its own).
    oom_kills_before: u64,
}

impl Parent<'_> {
    fn state_json(&self, pid: i32) -> Vec<u8> {
        OciState::of_bundle(self.bundle, self.id, pid, Status::Creating, self.created).to_json()
    }
}

impl ParentSide for Parent<'_> {
    fn stage1_started(&mut self, pid: i32) -> Result<(), ParentError> {
        Ok(self.cgroup.add_process(pid)?)
    }

    fn oom_killed(&mut self) -> bool {
        self.cgroup
            .oom_kill_count()
            .is_ok_and(|n| n.is_some_and(|n| n > self.oom_kills_before))
    }

    fn init_started(&mut self, pid: i32) -> Result<(), ParentError> {
        // From here on a killed `create` leaves a state that names the init.
        self.state.init_pid = pid;
        self.state.init_start_time = crate::procinfo::stat::proc_stat(pid)
            .map(|s| s.start_time)
            .ok_or(ParentError::InitGone { pid })?;
        crate::faults::point("create:init-started");
        self.dir
            .save(self.state)
            .map_err(|e| ParentError::State(Box::new(e)))?;
        if let Some(adj) = self
            .bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.oom_score_adj())
        {
            let path = format!("/proc/{pid}/oom_score_adj");
            std::fs::write(&path, adj.to_string()).map_err(|source| ParentError::OomScoreAdj {
                adj,
                path,
                source,
            })?;
        }
        crate::netdev::move_in(self.netdevs, pid).map_err(ParentError::NetDevice)?;
        Ok(())
    }

    fn agent_state(&mut self, pid: i32) -> serde_json::Value {
        serde_json::to_value(OciState::of_bundle(
            self.bundle,
            self.id,
            pid,
            Status::Creating,
            self.created,
        ))
        .unwrap_or_default()
    }

    fn create_hooks(&mut self, pid: i32) -> Result<(), ParentError> {
        let state = self.state_json(pid);
        for kind in [Kind::Prestart, Kind::CreateRuntime] {
            hooks::run_all(
                kind,
                &kind.of(&self.bundle.spec),
                &state,
                DefaultEnv::Runtime,
            )?;
        }
        Ok(())
    }
}

impl Container {
    /// `create`: set up the container and leave its init blocked before exec until `start`.
    pub fn create(
        root: &Path,
        opts: &CreateOptions,
        log: &dyn Log,
    ) -> Result<Created, ContainerError> {
        super::dir::validate_id(&opts.id)?;
        let mut bundle = spec::load(&opts.bundle)?;
        for w in &bundle.warnings {
            log.warn(w);
        }
        let terminal = bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
        console::check(
            terminal,
            matches!(opts.console, Console::Socket(Some(_))),
            opts.detach,
        )?;
        crate::lsm::check(&bundle.spec)?;
        check_intel_rdt(&bundle.spec)?;
        let seccomp = compile_seccomp(&bundle.spec, log)?;
        let listen_fds = listen_fds(&mut bundle)?;
        crate::init::fds::check_preserved(opts.preserve_fds.saturating_add(listen_fds))?;
        let process = bundle
            .spec
            .process()
            .as_ref()
            .ok_or(ContainerError::NoProcess)?;
        let ns_list = bundle
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        let ns = crate::namespaces::plan(&ns_list)?;
        check_sysctl_namespaces_not_host(&bundle.spec, &ns_list)?;
        let caps = process
            .capabilities()
            .as_ref()
            .map(CapPlan::from_spec)
            .transpose()?;
        let rootfs =
            crate::rootfs::plan::plan(&bundle.spec, &bundle.dir).map_err(ContainerError::Rootfs)?;
        // The id-mapped mounts, detached, made here where the host's privileges are (see
        // rootfs/idmap.rs): what fails fails before the container exists.
        let idmap_trees =
            crate::rootfs::idmap::Trees::make(&rootfs).map_err(ContainerError::Rootfs)?;
        let mempolicy = MemPolicy::of_spec(&bundle.spec)?;
        let netdevs = crate::netdev::plan(&bundle.spec)?;
        // The console: the caller's socket, or (foreground run) a socketpair whose other end
        // we keep.
        let (console_fd, own_end) = console::ends(&opts.console, terminal)?;

        let linux = bundle.spec.linux().as_ref();
        let layout = cgroups::detect()?;
        let cgroups_path = linux
            .and_then(|l| l.cgroups_path().as_ref())
            .map(|p| p.to_string_lossy().into_owned());
        let cgroup = cgroups::manager(
            &layout,
            cgroups_path.as_deref(),
            &opts.id,
            opts.cgroup_driver,
        )?;
        let cgroupns = ns.has(oci_spec::runtime::LinuxNamespaceType::Cgroup);

        let dir = ContainerDir::create(root, &opts.id)?;
        let mut cleanup = Cleanup {
            dir: dir.path.clone(),
            init_pid: None,
            cgroup: None,
            armed: true,
        };
        let created = crate::timefmt::now(true);
        // Saved before anything else exists: a `create` killed from here on leaves a state
        // that names the cgroups (and, once it exists, the init) for `delete --force`.
        let mut state = SavedState {
            id: opts.id.clone(),
            init_pid: 0,
            init_start_time: 0,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: created.clone(),
            owner: String::new(),
            cgroup_paths: cgroup.paths(),
            systemd_cgroup: opts.cgroup_driver == cgroups::Driver::Systemd,
            no_cgroup: false,
            creating: true,
            init_exe: super::state::own_exe_id(),
            stdio: None,
            config: bundle.spec.clone(),
        };
        crate::faults::point("create:dir");
        dir.save(&state)?;
        crate::faults::point("create:first-state");
        let rootless = opts.rootless.unwrap_or_else(crate::rootless::is_rootless);
        let cgroup = match cgroup.create(log) {
            Ok(()) => cgroup,
            Err(e) if rootless && cgroups_path.is_none() && is_permission_error(&e) => {
                let _ = cgroup.destroy();
                let wanted = linux.and_then(|l| l.resources().as_ref());
                if let Some(field) = wanted.and_then(cgroups::detached::needs_limits) {
                    return Err(ContainerError::RootlessCgroup { field, source: e });
                }
                // A debug note, not a warning: nothing asked for is left out (runc is silent).
                log.debug(&format!(
                    "rootless container gets no cgroup ({e}): it runs in the caller's cgroup, without limits"
                ));
                state.no_cgroup = true;
                state.cgroup_paths.clear();
                dir.save(&state)?;
                Box::new(cgroups::detached::Detached::new())
            }
            Err(e) => return Err(e.into()),
        };
        crate::faults::point("create:cgroup");
        let cgroup = &**cleanup.cgroup.insert(cgroup);
        // A hybrid host's cgroup2 part may have been left out (not writable): save what exists.
        if cgroup.paths() != state.cgroup_paths {
            state.cgroup_paths = cgroup.paths();
            dir.save(&state)?;
        }
        // The init opens them as the container's root, before it switches to the process's
        // user.
        super::start_fifos::make(&dir.path, container_root_owner(&bundle.spec))?;
        // Its own open of the directory: the init must not share the lock's descriptor (a
        // killed `create` would leave the container locked for as long as the init lives).
        let state_dir: OwnedFd = dir.reopen()?.into();

        let plan = InitPlan {
            id: opts.id.clone(),
            created: created.clone(),
            bundle: bundle.clone(),
            ns,
            console: console_fd,
            preserve_fds: opts.preserve_fds + listen_fds,
            no_new_keyring: opts.no_new_keyring,
            caps,
            seccomp,
            mempolicy,
            launch: Launch::Create {
                state_dir,
                no_pivot: opts.no_pivot,
                cgroup_steps: cgroup.mounts(cgroupns),
                rootfs,
                idmap_trees,
            },
        };
        let mut parent = Parent {
            bundle: &bundle,
            id: &opts.id,
            created: &created,
            cgroup,
            dir: &dir,
            state: &mut state,
            netdevs: &netdevs,
            oom_kills_before: cgroup.oom_kill_count().ok().flatten().unwrap_or(0),
        };
        let launched = init::launch(&plan, &mut parent);
        if parent.state.init_pid > 0 {
            cleanup.init_pid = Some(parent.state.init_pid);
        }
        let pid = launched.map_err(ContainerError::StartProcess)?;
        log.debug(&format!(
            "container {} init is pid {pid}, waiting on the exec fifo",
            opts.id
        ));
        crate::faults::point("create:ready");
        // The limits, once the init is in the cgroup and set up, before it can exec (where
        // runc writes them): a memory limit below what the container already uses is then an
        // error naming both, not an OOM kill later. Device rules are always applied (deny
        // all, the config's, the defaults), even when the config has no linux.resources.
        let mut resources = linux
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        if rootless {
            // Device rules need privileges over the host (the v1 devices files, a BPF program
            // on cgroup2): runc ignores them for a rootless container; the devices a rootless
            // container has are bind mounts of the host's, which it may open as the user.
            resources.set_devices(None);
        } else if resources.devices().is_none() {
            resources.set_devices(Some(Vec::new()));
        }
        if let Some(mut memory) = *resources.memory() {
            memory.set_check_before_update(Some(true));
            resources.set_memory(Some(memory));
        }
        cgroup.apply(&resources, log)?;
        crate::faults::point("create:limits");
        if crate::procinfo::stat::proc_stat(pid)
            .is_none_or(|s| s.start_time != state.init_start_time)
        {
            return Err(ContainerError::InitExited { pid });
        }
        // The init's stdio as it will exec with them (set up by now, the terminal too).
        state.stdio = Some(super::state::stdio_of(&pid.to_string()));
        state.creating = false;
        dir.save(&state)?;
        crate::faults::point("create:saved");
        if let Some(p) = &opts.pid_file {
            write_pid_file(p, pid)?;
        }
        let pty_master = console::receive_pty(own_end)?;
        cleanup.armed = false;
        Ok(Created {
            container: Container { dir, state },
            pty_master,
        })
    }
}

/// The host uid and gid of the container's root (root itself without a user namespace).
fn container_root_owner(spec: &oci_spec::runtime::Spec) -> (u32, u32) {
    let host_of = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.into_iter()
            .flatten()
            .find(|m| m.container_id() == 0 && m.size() > 0)
            .map(|m| m.host_id())
    };
    let linux = spec.linux().as_ref();
    let uid = host_of(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = host_of(linux.and_then(|l| l.gid_mappings().as_ref()));
    // A user namespace joined by path without mappings in the config: its own maps say.
    let joined = || {
        let ns = linux?.namespaces().as_ref()?.iter().find(|n| {
            n.typ() == oci_spec::runtime::LinuxNamespaceType::User && n.path().is_some()
        })?;
        crate::namespaces::root_of_user_ns(ns.path().as_ref()?)
    };
    match (uid, gid) {
        (Some(u), Some(g)) => (u, g),
        (u, g) => {
            let (ju, jg) = joined().unwrap_or((0, 0));
            (u.unwrap_or(ju), g.unwrap_or(jg))
        }
    }
}

/// A namespaced sysctl is only the container's own when its namespace is not the host's: a
/// `path` that names rrun's own namespace (runc checks the network one) is refused.
fn check_sysctl_namespaces_not_host(
    spec: &oci_spec::runtime::Spec,
    list: &[oci_spec::runtime::LinuxNamespace],
) -> Result<(), ContainerError> {
    use std::os::unix::fs::MetadataExt;
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for key in sysctl.keys() {
        let Some(typ) = crate::spec::sysctl_namespace(key) else {
            continue;
        };
        let Some(path) = list
            .iter()
            .find(|n| n.typ() == typ)
            .and_then(|n| n.path().as_ref())
        else {
            continue;
        };
        let own = format!("/proc/self/ns/{}", crate::namespaces::type_name(typ));
        let same =
            |a: &std::fs::Metadata, b: &std::fs::Metadata| a.dev() == b.dev() && a.ino() == b.ino();
        if let (Ok(a), Ok(b)) = (std::fs::metadata(path), std::fs::metadata(&own)) {
            if same(&a, &b) {
                return Err(ContainerError::HostSysctl {
                    key: key.clone(),
                    namespace: typ.to_string(),
                    path: path.clone(),
                });
            }
        }
    }
    Ok(())
}

/// A cgroup that could not be made for want of permission (a rootless rrun without a
/// delegated cgroup).
fn is_permission_error(e: &cgroups::CgroupError) -> bool {
    matches!(e.errno(), Some(libc::EACCES | libc::EPERM | libc::EROFS))
}

/// The spec's `linux.seccomp` compiled to a filter (before anything exists, so a bad profile
/// fails early).
fn compile_seccomp(
    spec: &oci_spec::runtime::Spec,
    log: &dyn Log,
) -> Result<Option<Filter>, ContainerError> {
    let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let filter = Filter::compile(profile)?;
    if !filter.unknown_syscalls().is_empty() {
        log.debug(&format!(
            "seccomp: skipping syscalls unknown to libseccomp: {}",
            filter.unknown_syscalls().join(", ")
        ));
    }
    Ok(Some(filter))
}

/// Socket activation, as runc does: with LISTEN_FDS=N in our environment, fds 3..3+N go to the
/// container too (before the --preserve-fds ones) and its process gets LISTEN_FDS=N (the init
/// adds LISTEN_PID with its own pid). Returns N.
fn listen_fds(bundle: &mut Bundle) -> Result<u32, ContainerError> {
    let Ok(v) = std::env::var("LISTEN_FDS") else {
        return Ok(0);
    };
    let n: u32 = v
        .parse()
        .map_err(|_| ContainerError::ListenFds(v.clone()))?;
    if n > 0 {
        if let Some(p) = bundle.spec.process_mut().as_mut() {
            let mut env = p.env().clone().unwrap_or_default();
            env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
            env.push(format!("LISTEN_FDS={n}"));
            p.set_env(Some(env));
        }
    }
    Ok(n)
}

/// linux.intelRdt is refused, never ignored: rrun does not apply it (features.json says
/// `"intelRdt": {"enabled": false}`), and the message says whether the host could.
fn check_intel_rdt(spec: &oci_spec::runtime::Spec) -> Result<(), ContainerError> {
    if spec
        .linux()
        .as_ref()
        .and_then(|l| l.intel_rdt().as_ref())
        .is_none()
    {
        return Ok(());
    }
    let resctrl = std::fs::read_to_string("/proc/filesystems")
        .map(|f| f.lines().any(|l| l.ends_with("\tresctrl")))
        .unwrap_or(false);
    Err(ContainerError::IntelRdt { resctrl })
}
