//! `rrun create`: set up the container and leave its init blocked before exec until `start`.

use super::lifecycle::Cleanup;
use crate::logging::Logger;
use anyhow::{anyhow, bail, Context, Result};
use librrun::cgroups::{self, Manager};
use librrun::container::state::{OciState, SavedState, Status};
use librrun::container::{write_atomic, ContainerDir};
use librrun::hooks::{self, Kind};
use librrun::init::{self, InitPlan, ParentSide};
use librrun::process::caps::CapPlan;
use librrun::seccomp::Filter;
use librrun::spec::{self, Bundle};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    /// path to the root of the bundle directory, defaults to the current directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// specify the file to write the process id to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// do not use pivot root to jail process inside rootfs. This should be used whenever the rootfs is on top of a ramdisk
    #[arg(long)]
    pub no_pivot: bool,
    /// do not create a new session keyring for the container. This will cause the container to inherit the calling processes session key
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// the container id
    pub id: String,
}

/// How the caller wants the terminal handled.
pub enum Console {
    /// No terminal, or the caller's --console-socket.
    Socket(Option<PathBuf>),
    /// `run` in the foreground with a terminal: rrun itself receives the pty master.
    Own,
}

/// A created container, still locked by the caller.
pub struct Created {
    pub dir: ContainerDir,
    pub state: SavedState,
    /// The pty master, with [`Console::Own`].
    pub pty_master: Option<OwnedFd>,
}

struct Parent<'a> {
    bundle: &'a Bundle,
    id: &'a str,
    created: &'a str,
    cgroup: &'a dyn Manager,
    dir: &'a ContainerDir,
    /// The state saved while creating; the init's pid goes in as soon as the init exists.
    state: &'a mut SavedState,
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
    fn stage1_started(&mut self, pid: i32) -> Result<(), String> {
        self.cgroup.add_process(pid).map_err(|e| e.to_string())
    }

    fn oom_killed(&mut self) -> bool {
        self.cgroup
            .oom_kill_count()
            .is_ok_and(|n| n.is_some_and(|n| n > self.oom_kills_before))
    }

    fn init_started(&mut self, pid: i32) -> Result<(), String> {
        // From here on a killed `create` leaves a state that names the init.
        self.state.init_pid = pid;
        self.state.init_start_time = librrun::container::state::proc_stat(pid)
            .map(|s| s.start_time)
            .ok_or_else(|| format!("container init (pid {pid}) exited during create"))?;
        librrun::faults::point("create:init-started");
        self.dir.save(self.state).map_err(|e| e.to_string())?;
        if let Some(adj) = self
            .bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.oom_score_adj())
        {
            let path = format!("/proc/{pid}/oom_score_adj");
            std::fs::write(&path, adj.to_string())
                .map_err(|e| format!("set oom_score_adj to {adj} ({path}): {e}"))?;
        }
        Ok(())
    }

    fn create_hooks(&mut self, pid: i32) -> Result<(), String> {
        let state = self.state_json(pid);
        for kind in [Kind::Prestart, Kind::CreateRuntime] {
            hooks::run_all(kind, &kind.of(&self.bundle.spec), &state).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The console socket the process's init gets (with a terminal), and, when rrun itself is to
/// hold the terminal (foreground run/exec without --console-socket), the end it receives on.
pub fn console_ends(
    console: &Console,
    terminal: bool,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    Ok(match (console, terminal) {
        (_, false) => (None, None),
        (Console::Socket(Some(p)), true) => (Some(librrun::tty::connect_console_socket(p)?), None),
        (Console::Socket(None), true) | (Console::Own, true) => {
            let (a, b) = nix::sys::socket::socketpair(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::Stream,
                None,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            )
            .context("console socketpair")?;
            (Some(a), Some(b))
        }
    })
}

/// The pty master sent to our own end of the console socketpair, if we kept one.
pub fn receive_pty(own_end: Option<OwnedFd>) -> Result<Option<OwnedFd>> {
    match own_end {
        Some(end) => Ok(Some(
            librrun::tty::recv_fd(std::os::fd::AsFd::as_fd(&end))?.0,
        )),
        None => Ok(None),
    }
}

/// Validate the console flags like runc does (create, run and exec alike).
pub fn check_console(terminal: bool, console_socket: bool, detach: bool) -> Result<()> {
    if console_socket && !terminal {
        bail!("cannot use console socket if rrun will not detach or allocate tty")
    }
    if !console_socket && terminal && detach {
        bail!("cannot allocate tty if rrun will detach without setting console socket")
    }
    Ok(())
}

pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = std::path::absolute(path).with_context(|| format!("pid file {}", path.display()))?;
    write_atomic(&abs, pid.to_string().as_bytes()).map_err(|e| anyhow!("{e}"))
}

/// The whole of `create`; `run` calls it too. `detach` is true for `create` and `run -d`.
pub fn create(
    root: &Path,
    args: &CreateArgs,
    console: Console,
    detach: bool,
    log: &Logger,
) -> Result<Created> {
    librrun::container::validate_id(&args.id)?;
    let mut bundle = spec::load(&args.bundle)?;
    for w in &bundle.warnings {
        log.warn(w);
    }
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    check_console(
        terminal,
        matches!(console, Console::Socket(Some(_))),
        detach,
    )?;
    librrun::lsm::check(&bundle.spec)?;
    check_intel_rdt(&bundle.spec)?;
    let seccomp = compile_seccomp(&bundle.spec, log)?;
    let listen_fds = listen_fds(&mut bundle)?;
    let process = bundle
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("config.json has no process"))?;
    let ns_list = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let ns = librrun::namespaces::plan(&ns_list)?;
    check_sysctl_namespaces_not_host(&bundle.spec, &ns_list)?;
    let caps = process
        .capabilities()
        .as_ref()
        .map(CapPlan::from_spec)
        .transpose()?;
    let terminal = process.terminal().unwrap_or(false);
    // The console: the caller's socket, or (foreground run) a socketpair whose other end we keep.
    let (console_fd, own_end) = console_ends(&console, terminal)?;

    let linux = bundle.spec.linux().as_ref();
    let layout = cgroups::detect()?;
    let cgroups_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let cgroup = cgroups::manager(&layout, cgroups_path.as_deref(), &args.id)?;
    let cgroupns = ns.has(oci_spec::runtime::LinuxNamespaceType::Cgroup);

    let dir = ContainerDir::create(root, &args.id)?;
    let mut cleanup = Cleanup::new(dir.path.clone());
    let created = librrun::timefmt::now(true);
    // Saved before anything else exists: a `create` killed from here on leaves a state that
    // names the cgroups (and, once it exists, the init) for `delete --force`.
    let mut state = SavedState {
        id: args.id.clone(),
        init_pid: 0,
        init_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: created.clone(),
        owner: String::new(),
        cgroup_paths: cgroup.paths(),
        systemd_cgroup: false,
        creating: true,
        init_exe: librrun::container::state::own_exe_id(),
        config: bundle.spec.clone(),
    };
    librrun::faults::point("create:dir");
    dir.save(&state)?;
    librrun::faults::point("create:first-state");
    cgroup.create()?;
    librrun::faults::point("create:cgroup");
    let cgroup = &**cleanup.cgroup.insert(cgroup);
    // Device rules are always applied (deny all, the config's, the defaults), even when the
    // config has no linux.resources at all.
    let mut resources = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    if resources.devices().is_none() {
        resources.set_devices(Some(Vec::new()));
    }
    cgroup.apply(&resources)?;
    // The init opens them as the container's root, before it switches to the process's user.
    librrun::container::start_fifos::make(&dir.path, container_root_owner(&bundle.spec))?;
    // Its own open of the directory: the init must not share the lock's descriptor (a killed
    // `create` would leave the container locked for as long as the init lives).
    let state_dir: OwnedFd = dir.reopen()?.into();

    let plan = InitPlan {
        id: args.id.clone(),
        created: created.clone(),
        bundle: bundle.clone(),
        ns,
        state_dir: Some(state_dir),
        console: console_fd,
        preserve_fds: args.preserve_fds + listen_fds,
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        cgroup_steps: cgroup.mounts(cgroupns),
        caps,
        seccomp,
        exec: false,
    };
    let mut parent = Parent {
        bundle: &bundle,
        id: &args.id,
        created: &created,
        cgroup,
        dir: &dir,
        state: &mut state,
        oom_kills_before: cgroup.oom_kill_count().ok().flatten().unwrap_or(0),
    };
    let launched = init::launch(&plan, &mut parent);
    if parent.state.init_pid > 0 {
        cleanup.init_pid = Some(parent.state.init_pid);
    }
    let pid = launched.map_err(|e| anyhow!("unable to start container process: {e}"))?;
    log.debug(&format!(
        "container {} init is pid {pid}, waiting on the exec fifo",
        args.id
    ));
    librrun::faults::point("create:ready");
    if librrun::container::state::proc_stat(pid)
        .is_none_or(|s| s.start_time != state.init_start_time)
    {
        bail!("container init (pid {pid}) exited during create");
    }
    state.creating = false;
    dir.save(&state)?;
    librrun::faults::point("create:saved");
    if let Some(p) = &args.pid_file {
        write_pid_file(p, pid)?;
    }
    let pty_master = receive_pty(own_end)?;
    cleanup.disarm();
    Ok(Created {
        dir,
        state,
        pty_master,
    })
}

/// The host uid and gid of the container's root (root itself without a user namespace).
fn container_root_owner(spec: &oci_spec::runtime::Spec) -> (u32, u32) {
    let host_of = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.into_iter()
            .flatten()
            .find(|m| m.container_id() == 0 && m.size() > 0)
            .map_or(0, |m| m.host_id())
    };
    let linux = spec.linux().as_ref();
    (
        host_of(linux.and_then(|l| l.uid_mappings().as_ref())),
        host_of(linux.and_then(|l| l.gid_mappings().as_ref())),
    )
}

/// A namespaced sysctl is only the container's own when its namespace is not the host's: a
/// `path` that names rrun's own namespace (runc checks the network one) is refused.
fn check_sysctl_namespaces_not_host(
    spec: &oci_spec::runtime::Spec,
    list: &[oci_spec::runtime::LinuxNamespace],
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for key in sysctl.keys() {
        let Some(typ) = librrun::spec::sysctl_namespace(key) else {
            continue;
        };
        let Some(path) = list
            .iter()
            .find(|n| n.typ() == typ)
            .and_then(|n| n.path().as_ref())
        else {
            continue;
        };
        let own = format!("/proc/self/ns/{}", librrun::namespaces::type_name(typ));
        let same =
            |a: &std::fs::Metadata, b: &std::fs::Metadata| a.dev() == b.dev() && a.ino() == b.ino();
        if let (Ok(a), Ok(b)) = (std::fs::metadata(path), std::fs::metadata(&own)) {
            if same(&a, &b) {
                bail!(
                    "linux.sysctl {key:?}: the {typ} namespace {} is the host's: refusing to change the host",
                    path.display()
                );
            }
        }
    }
    Ok(())
}

/// The spec's `linux.seccomp` compiled to a filter (before anything exists, so a bad profile
/// fails early).
fn compile_seccomp(spec: &oci_spec::runtime::Spec, log: &Logger) -> Result<Option<Filter>> {
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
fn listen_fds(bundle: &mut Bundle) -> Result<u32> {
    let Ok(v) = std::env::var("LISTEN_FDS") else {
        return Ok(0);
    };
    let n: u32 = v
        .parse()
        .map_err(|_| anyhow!("LISTEN_FDS={v:?} is not a number"))?;
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
fn check_intel_rdt(spec: &oci_spec::runtime::Spec) -> Result<()> {
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
    if resctrl {
        bail!("linux.intelRdt is not supported by rrun (features: intelRdt.enabled is false)");
    }
    bail!("linux.intelRdt is set, but this host has no resctrl file system (no Intel RDT or AMD QoS): refusing rather than running without it");
}

pub fn cmd(root: &Path, args: &CreateArgs, log: &Logger) -> Result<i32> {
    let console = Console::Socket(args.console_socket.clone());
    create(root, args, console, true, log)?;
    Ok(0)
}
