//! Stage-2: the container's init (pid 1 of a new pid namespace). Sets up the container from
//! inside its namespaces, reports `Ready`, blocks on the exec fifo until `start`, and execs.

use super::error::{AtStep, StageError, Step};
use super::procfs::ProcFs;
use super::sync::{send_msg, Message};
use super::{fds, sysctl, wait_for, InitPlan, Launch};
use crate::container::start_fifos::InitEnds;
use crate::container::state::{OciState, Status};
use crate::hooks::{self, DefaultEnv, Kind};
use crate::process::{exec, rlimits, sched, user};
use crate::rootfs::{self, RootfsContext};
use crate::sys;
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

/// The state hooks get on stdin, as far as the init knows it.
fn state_json(plan: &InitPlan, pid: i32, status: Status) -> Vec<u8> {
    OciState::of_bundle(&plan.bundle, &plan.id, pid, status, &plan.created).to_json()
}

/// Join a new session keyring named after the container (as runc does), so containers do
/// not share the host's session keyring.
fn join_session_keyring(id: &str) -> Result<(), StageError> {
    let name = std::ffi::CString::new(format!("_ses.{id}")).expect("id has no NUL");
    let key = match sys::keyring::join_session_keyring(&name) {
        Ok(key) => key,
        Err(nix::Error::ENOSYS) => return Ok(()),
        Err(e) => {
            return Err(StageError::within(
                Step::Keyring,
                "join session keyring",
                &e,
            ))
        }
    };
    // Possessor and user: all; group: view (runc's permissions for the new keyring).
    let perm: u32 = 0x3f3f_0000 | 0x0008_0000;
    sys::keyring::set_permissions(key, perm)
        .map_err(|e| StageError::within(Step::Keyring, "set session keyring permissions", &e))
}

/// The host pid of this process, read before pivot_root through the host's /proc.
fn host_pid() -> i32 {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// Run the init. Returns only with an error message (on success it execs).
pub fn run(plan: &InitPlan, sock: BorrowedFd<'_>) -> StageError {
    match setup(plan, sock) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn setup(plan: &InitPlan, sock: BorrowedFd<'_>) -> Result<std::convert::Infallible, StageError> {
    wait_for(sock, Message::InitProceed, "InitProceed")?;
    let process = plan
        .bundle
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| StageError::msg(Step::Config, "config.json has no process to start"))?;
    // No ptrace and no /proc/PID/fd of this process for unprivileged processes of the
    // container until exec resets it.
    nix::sys::prctl::set_dumpable(false).within(Step::Session, "prctl(PR_SET_DUMPABLE)")?;
    nix::unistd::setsid().within(Step::Session, "setsid")?;
    // The start fifos are opened through the state directory while nothing of the container
    // exists; then every fd not needed any more (the state directory among them) is closed.
    let mut fifos = match &plan.launch {
        Launch::Create { state_dir, .. } => {
            Some(InitEnds::open(state_dir.as_fd()).step(Step::StartFifos)?)
        }
        Launch::Exec { .. } => None,
    };
    let first = 3 + plan.preserve_fds as i32;
    let mut keep = vec![sock.as_raw_fd()];
    keep.extend(fifos.iter().flat_map(|f| f.raw_fds()));
    let console = plan.console.as_ref().map(|c| c.as_raw_fd());
    // The root of a container without a mount namespace, for exec: entered, then closed.
    let exec_root = match &plan.launch {
        Launch::Exec { root, .. } => root.as_ref().map(|r| r.as_raw_fd()),
        Launch::Create { .. } => None,
    };
    // The detached id-mapped mounts: kept until the rootfs is set up.
    let trees = match &plan.launch {
        Launch::Create { idmap_trees, .. } => idmap_trees.raw_fds(),
        Launch::Exec { .. } => Vec::new(),
    };
    let with_console: Vec<i32> = keep
        .iter()
        .copied()
        .chain(console)
        .chain(exec_root)
        .chain(trees)
        .collect();
    fds::close_all_but(first, &with_console)
        .within(Step::Session, "close_range (the runtime's own fds)")?;
    let pid = match &plan.launch {
        Launch::Create {
            no_pivot,
            cgroup_steps,
            rootfs,
            idmap_trees,
            ..
        } => {
            let pid = host_pid();
            let mounts = ContainerMounts {
                plan: rootfs,
                cgroup_steps,
                idmap_trees,
            };
            setup_container(plan, sock, process, pid, &mounts, *no_pivot)?;
            pid
        }
        // `rrun exec`: the container is set up already; this process only joined it (and,
        // without a mount namespace of the container's, enters its root with chroot).
        Launch::Exec { root, .. } => {
            if let Some(root) = root {
                nix::unistd::fchdir(root).within(Step::Pivot, "fchdir to the container's root")?;
                nix::unistd::chroot(".").within(Step::Pivot, "chroot to the container's root")?;
            }
            setup_terminal(plan, process, false)?;
            0
        }
    };
    // Once the pty master is sent, the console socket is closed too.
    fds::close_all_but(first, &keep).within(Step::Session, "close_range (console socket)")?;
    let exec_plan = setup_process(plan, process)?;
    let setgroups_allowed = user::setgroups_allowed();
    if let Launch::Exec {
        final_affinity: Some(set),
        ..
    } = &plan.launch
    {
        crate::process::affinity::apply(0, set).within(
            Step::ProcessAttributes,
            "sched_setaffinity (process.execCPUAffinity.final)",
        )?;
    }
    // Everything the steps after the seccomp filter would otherwise compute is made here.
    let (start_hooks, started) = match fifos {
        Some(_) => (
            Kind::StartContainer.of(&plan.bundle.spec),
            state_json(plan, pid, Status::Created),
        ),
        None => Default::default(),
    };
    exec::prepare_inheritance(plan.preserve_fds).within(Step::Exec, "prepare fds for exec")?;
    exec::restore_sigpipe().within(Step::Exec, "signal(SIGPIPE)")?;
    load_seccomp(plan, process, sock, Load::PrivilegeDrop)?;
    drop_privileges(plan, process, &exec_plan, setgroups_allowed)?;
    load_seccomp(plan, process, sock, Load::Ready)?;
    send_msg(sock, &Message::Ready).step(Step::Sync)?;
    // From here on a failure is told to `start` too (reading the status fifo), when there is
    // one.
    if let Some(f) = fifos.as_mut() {
        f.wait_for_start().step(Step::StartFifos)?;
    }
    let mut report = |e: StageError| {
        if let Some(f) = fifos.as_mut() {
            f.report(&e.detail);
        }
        e
    };
    // A startContainer hook without `env` gets the container process's (runc's rule).
    let process_env = process.env().as_deref().unwrap_or_default();
    hooks::run_all(
        Kind::StartContainer,
        &start_hooks,
        &started,
        DefaultEnv::Process(process_env),
    )
    .step(Step::Hook)
    .map_err(&mut report)?;
    load_seccomp(plan, process, sock, Load::Exec).map_err(&mut report)?;
    let e = exec_plan.exec();
    // Tell `start` and the container's stderr why.
    let e = report(StageError::of(Step::Exec, &e).with_path(&exec_plan.path));
    eprintln!("rrun: {e}");
    Err(e)
}

/// What the seccomp filter is installed right before.
#[derive(PartialEq, Eq)]
enum Load {
    /// Without process.noNewPrivileges installing a filter needs CAP_SYS_ADMIN: right before
    /// the capability drop and the user switch (as runc does). What rrun calls after it is
    /// listed in docs/ARCHITECTURE.md ("After the seccomp filter") and checked by
    /// tests/seccomp_profiles.rs.
    PrivilegeDrop,
    /// With process.noNewPrivileges and a notify listener: before `Ready`, while the parent
    /// that sends the listener to the agent still waits (runc does the same).
    Ready,
    /// With process.noNewPrivileges: last, right before execve.
    Exec,
}

fn load_seccomp(
    plan: &InitPlan,
    process: &oci_spec::runtime::Process,
    sock: BorrowedFd<'_>,
    when: Load,
) -> Result<(), StageError> {
    let Some(filter) = &plan.seccomp else {
        return Ok(());
    };
    let now = match (
        process.no_new_privileges().unwrap_or(false),
        filter.listener().is_some(),
    ) {
        (false, _) => Load::PrivilegeDrop,
        (true, true) => Load::Ready,
        (true, false) => Load::Exec,
    };
    if now != when {
        return Ok(());
    }
    if let Some(listener) = filter.load().step(Step::Seccomp)? {
        // Only write and a read of the socket until the parent has given the listener to the
        // agent: write may not be notified, and the rest waits for an agent that has it.
        let fd = listener.as_raw_fd();
        send_msg(sock, &Message::SeccompListener { fd }).step(Step::Sync)?;
        wait_for(sock, Message::SeccompListenerSent, "SeccompListenerSent")?;
    }
    Ok(())
}

/// With process.terminal, a new pty from the container's /dev/ptmx becomes the process's
/// stdio and its master goes to the console socket.
fn setup_terminal(
    plan: &InitPlan,
    process: &oci_spec::runtime::Process,
    dev_console: bool,
) -> Result<(), StageError> {
    if !process.terminal().unwrap_or(false) {
        return Ok(());
    }
    let console = plan.console.as_ref().ok_or_else(|| {
        StageError::msg(
            Step::Terminal,
            "process.terminal is true but there is no console socket",
        )
    })?;
    let size = process
        .console_size()
        .as_ref()
        .map(|b| (b.height() as u16, b.width() as u16));
    crate::tty::setup_console(console.as_fd(), size, dev_console)
        .within(Step::Terminal, "setting up the terminal")
}

/// What `Launch::Create` gives the rootfs setup.
struct ContainerMounts<'a> {
    plan: &'a rootfs::plan::Plan,
    cgroup_steps: &'a [crate::cgroups::CgroupMount],
    idmap_trees: &'a rootfs::idmap::Trees,
}

/// The container itself, from inside its new namespaces: rootfs, createContainer hooks,
/// pivot_root, terminal, hostname, sysctls, masked and readonly paths, keyring.
fn setup_container(
    plan: &InitPlan,
    sock: BorrowedFd<'_>,
    process: &oci_spec::runtime::Process,
    pid: i32,
    mounts: &ContainerMounts<'_>,
    no_pivot: bool,
) -> Result<(), StageError> {
    let rplan = mounts.plan;
    let spec = &plan.bundle.spec;
    let linux = spec.linux().as_ref();
    // Files are created with exact modes during setup; the process's umask is set at the end.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    // Without a mount namespace of its own (runc accepts that) the container shares the
    // host's: the rootfs is used as it is, entered with chroot, and nothing is mounted (the
    // config fields that need mounts were refused by spec::validate).
    let private_mounts = plan.ns.has(LinuxNamespaceType::Mount);
    let ctx = RootfsContext {
        rootfs: &plan.bundle.rootfs,
        in_userns: plan.ns.has(LinuxNamespaceType::User),
        cgroup_steps: mounts.cgroup_steps,
        trees: mounts.idmap_trees,
    };
    let sysctls = linux
        .and_then(|l| l.sysctl().as_ref())
        .filter(|s| !s.is_empty());
    // The host's /proc, checked, opened before any mount of the container exists.
    let proc = match sysctls {
        Some(_) => Some(ProcFs::open().step(Step::Sysctl)?),
        None => None,
    };
    let root = if private_mounts {
        Some(rootfs::prepare(&ctx, rplan).within(Step::Rootfs, "error preparing rootfs")?)
    } else {
        None
    };
    if crate::hooks::Kind::parent_runs_any(spec) {
        send_msg(sock, &Message::RunCreateHooks).step(Step::Sync)?;
        wait_for(sock, Message::HooksDone, "HooksDone")?;
    }
    let creating = state_json(plan, pid, Status::Creating);
    hooks::run_all(
        Kind::CreateContainer,
        &Kind::CreateContainer.of(spec),
        &creating,
        DefaultEnv::Runtime,
    )
    .step(Step::Hook)?;
    // This process is in the container's namespaces already, so these writes change the
    // container's sysctls; they go through the verified handle, never the image's /proc.
    if let (Some(s), Some(proc)) = (sysctls, &proc) {
        sysctl::apply(proc, s).step(Step::Sysctl)?;
    }
    drop(proc);
    match root {
        Some(root) => {
            rootfs::pivot(rplan, &root, no_pivot)
                .within(Step::Pivot, "error jailing process inside rootfs")?;
            drop(root);
            setup_terminal(plan, process, true)?;
        }
        None => {
            rootfs::chroot_into(&plan.bundle.rootfs)
                .within(Step::Pivot, "error jailing process inside rootfs")?;
            // No /dev/console to bind the terminal onto: the host's mounts are not ours.
            setup_terminal(plan, process, false)?;
        }
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        if !plan.ns.has(LinuxNamespaceType::Uts) {
            return Err(StageError::msg(
                Step::Config,
                "unable to set hostname without a private UTS namespace",
            ));
        }
        nix::unistd::sethostname(h).within(Step::Hostname, &format!("sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        if !plan.ns.has(LinuxNamespaceType::Uts) {
            return Err(StageError::msg(
                Step::Config,
                "unable to set domainname without a private UTS namespace",
            ));
        }
        sys::uts::setdomainname(d)
            .map_err(|e| StageError::within(Step::Hostname, &format!("setdomainname {d:?}"), &e))?;
    }
    // The working directory is created as root (runc does so for the container's process),
    // before root.readonly makes the root read-only (issue 16: a missing cwd under a read-only
    // root was refused).
    // A cwd of `/` (the usual one) is the root itself: nothing to make.
    if !is_root_dir(process.cwd()) {
        let root = crate::rootfs::resolve::Root::open(Path::new("/")).step(Step::Cwd)?;
        root.mkdir_all(process.cwd(), 0o755)
            .within(
                Step::Cwd,
                &format!("create cwd {}", process.cwd().display()),
            )
            .map_err(|e| e.with_path(process.cwd()))?;
    }
    // Masked and readonly paths (/proc/sys among them) come after the sysctls, as in runc.
    if private_mounts {
        rootfs::finalize(rplan).within(Step::Rootfs, "error finalizing rootfs")?;
    }
    if !plan.no_new_keyring {
        join_session_keyring(&plan.id)?;
    }
    Ok(())
}

/// The process's own attributes that need no privilege drop, shared by the init and `exec`:
/// rlimits, scheduling, personality, no_new_privs, umask, cwd; then the executable is looked
/// up (from the cwd) so that a missing one fails the command. Returns what execve needs. All
/// of it comes before the seccomp filter, so a profile need not allow any of it.
fn setup_process(
    plan: &InitPlan,
    process: &oci_spec::runtime::Process,
) -> Result<exec::ExecPlan, StageError> {
    let linux = plan.bundle.spec.linux().as_ref();
    if let Some(r) = process.rlimits() {
        rlimits::apply(r).within(
            Step::ProcessAttributes,
            "error setting rlimits for ready process",
        )?;
    }
    if let Some(s) = process.scheduler() {
        sched::apply_scheduler(s).step(Step::ProcessAttributes)?;
    }
    if let Some(p) = process.io_priority() {
        sched::apply_io_priority(p).step(Step::ProcessAttributes)?;
    }
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        sched::apply_personality(p).step(Step::ProcessAttributes)?;
    }
    if let Some(p) = &plan.mempolicy {
        p.apply().within(
            Step::ProcessAttributes,
            "set_mempolicy (linux.memoryPolicy)",
        )?;
    }
    if process.no_new_privileges().unwrap_or(false) {
        nix::sys::prctl::set_no_new_privs()
            .within(Step::ProcessAttributes, "prctl(PR_SET_NO_NEW_PRIVS)")?;
    }
    nix::sys::stat::umask(user::umask(process.user()));
    chdir_in_root(process.cwd())?;
    let mut env = process.env().clone().unwrap_or_default();
    if env.iter().any(|e| e.starts_with("LISTEN_FDS=")) {
        env.push(format!("LISTEN_PID={}", nix::unistd::getpid()));
    }
    let args = process.args().clone().unwrap_or_default();
    let path = exec::look_path(&args[0], exec::env_path(&env)).step(Step::Exec)?;
    exec::ExecPlan::new(path, &args, &env).step(Step::Exec)
}

/// The capability drop and the user switch: the steps that may come after the seccomp filter
/// (without no_new_privs). Only prctl, setgroups, setgid, setuid, capget, capset, chdir and
/// faccessat2.
fn drop_privileges(
    plan: &InitPlan,
    process: &oci_spec::runtime::Process,
    exec_plan: &exec::ExecPlan,
    setgroups_allowed: bool,
) -> Result<(), StageError> {
    if let Some(caps) = &plan.caps {
        caps.apply_bounding().step(Step::Credentials)?;
    }
    user::switch(process.user(), setgroups_allowed).step(Step::Credentials)?;
    if let Some(caps) = &plan.caps {
        caps.apply_rest().step(Step::Credentials)?;
    }
    // The cwd was entered and the program found before the switch: the process, with its own
    // ids and capabilities, must be allowed to be there and to run it, as when runc does both
    // after its switch.
    nix::unistd::chdir(".").map_err(|e| cwd_failed(process.cwd(), &e))?;
    exec::check_user_may_execute(exec_plan.path_c()).map_err(|e| {
        let not_executable = exec::ExecError::NotExecutable {
            name: exec_plan.path.display().to_string(),
        };
        StageError {
            errno: Some(e as i32),
            ..StageError::of(Step::Exec, &not_executable).with_path(&exec_plan.path)
        }
    })?;
    Ok(())
}

/// Change to the process's cwd, resolved inside the container's root with no magic link on the
/// way: `/proc/self/fd/N` (an fd of the host the process may still hold) must not give it a
/// cwd outside the root (CVE-2024-21626 class).
fn chdir_in_root(cwd: &Path) -> Result<(), StageError> {
    if is_root_dir(cwd) {
        // The process's own root (pivot_root'ed into, or the container's mount namespace
        // joined): no path inside the image is followed.
        return nix::unistd::chdir("/").map_err(|e| cwd_failed(cwd, &e));
    }
    let root =
        crate::rootfs::resolve::Root::open(Path::new("/")).map_err(|e| cwd_failed(cwd, &e))?;
    let dir = root
        .open_path(cwd, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| cwd_failed(cwd, &e))?;
    nix::unistd::fchdir(&dir).map_err(|e| cwd_failed(cwd, &e))
}

/// A cwd that names the root itself (`/`, `/.`, `//`; not `/..`, which the resolver would
/// clamp to the root too, but is left to it).
fn is_root_dir(cwd: &Path) -> bool {
    cwd.is_absolute()
        && cwd.components().all(|c| {
            matches!(
                c,
                std::path::Component::RootDir | std::path::Component::CurDir
            )
        })
}

/// runc's words for a cwd the process cannot have.
fn cwd_failed(cwd: &Path, e: &(dyn std::error::Error + 'static)) -> StageError {
    let context = format!("chdir to cwd ({}) set in config.json failed", cwd.display());
    StageError::within(Step::Cwd, &context, e).with_path(cwd)
}
