//! [`Container::exec`]: a new process in a running container. It joins the init's namespaces
//! and cgroup and gets the same process setup as the init (src/init/stage2.rs), without the
//! container's setup.

use super::console::{self, Console};
use super::dir::write_pid_file;
use super::error::ContainerError;
use super::lifecycle::Container;
use super::operation::Operation;
use super::state::SavedState;
use crate::cgroups::Manager;
use crate::init::error::ParentError;
use crate::init::{self, InitPlan, Launch, ParentSide};
use crate::namespaces::{self, NamespacePlan};
use crate::process::affinity::ExecAffinity;
use crate::process::caps::CapPlan;
use crate::process::mempolicy::MemPolicy;
use crate::spec::Bundle;
use oci_spec::runtime::Process;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// What `exec` is asked to run, and how.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The process (`--process`'s JSON, or config.json's with the command-line flags applied).
    pub process: Process,
    pub console: Console,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    /// Allow exec in a paused container.
    pub ignore_paused: bool,
}

/// A process started in a container.
pub struct Executed {
    /// Its host pid.
    pub pid: i32,
    /// The pty master, with [`Console::Own`] and a terminal.
    pub pty_master: Option<OwnedFd>,
}

/// Join every namespace the container has, through its init's /proc/PID/ns entries (opened,
/// type-checked and ordered by the same planner as config.json's `path` namespaces).
fn join_plan(st: &SavedState) -> Result<NamespacePlan, ContainerError> {
    let mut list = st
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in &mut list {
        let typ = namespaces::type_name(ns.typ());
        ns.set_path(Some(PathBuf::from(format!(
            "/proc/{}/ns/{typ}",
            st.init_pid
        ))));
    }
    Ok(namespaces::plan(&list)?)
}

/// For a container without a mount namespace of its own: its init's root, which the entering
/// process chroots into.
fn shared_mount_ns_root(st: &SavedState) -> Result<Option<OwnedFd>, ContainerError> {
    if crate::spec::has_namespace(&st.config, oci_spec::runtime::LinuxNamespaceType::Mount) {
        return Ok(None);
    }
    let path = PathBuf::from(format!("/proc/{}/root", st.init_pid));
    let fd = nix::fcntl::open(
        &path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| ContainerError::Io {
        op: "open",
        path,
        source: e.into(),
    })?;
    Ok(Some(fd))
}

struct ExecParent<'a> {
    cgroup: &'a dyn Manager,
    /// process.execCPUAffinity.initial: set on stage-1 before it joins the cgroup.
    initial_affinity: Option<nix::sched::CpuSet>,
    /// The container's state, for a seccomp agent.
    state: serde_json::Value,
}

impl ParentSide for ExecParent<'_> {
    fn stage1_started(&mut self, pid: i32) -> Result<(), ParentError> {
        if let Some(set) = &self.initial_affinity {
            crate::process::affinity::apply(pid, set)
                .map_err(|source| ParentError::InitialAffinity { pid, source })?;
        }
        Ok(self.cgroup.add_process(pid)?)
    }
    fn init_started(&mut self, _pid: i32) -> Result<(), ParentError> {
        Ok(())
    }
    fn create_hooks(&mut self, _pid: i32) -> Result<(), ParentError> {
        Ok(())
    }
    fn agent_state(&mut self, _pid: i32) -> serde_json::Value {
        self.state.clone()
    }
}

impl Container {
    /// Start `opts.process` in the container. The container's lock is given up before the
    /// process starts: other commands may act on the container while it runs.
    pub fn exec(mut self, opts: &ExecOptions) -> Result<Executed, ContainerError> {
        self.check(Operation::Exec {
            ignore_paused: opts.ignore_paused,
        })?;
        let st = &self.state;
        let process = &opts.process;
        let terminal = process.terminal().unwrap_or(false);
        console::check(
            terminal,
            matches!(opts.console, Console::Socket(Some(_))),
            opts.detach,
        )?;
        let mut spec = st.config.clone();
        spec.set_process(Some(process.clone()));
        crate::lsm::check(&spec)?;
        let caps = process
            .capabilities()
            .as_ref()
            .map(CapPlan::from_spec)
            .transpose()?;
        // The container's seccomp profile applies to processes exec'd into it too.
        let seccomp = spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .map(crate::seccomp::Filter::compile)
            .transpose()?;
        let mempolicy = MemPolicy::of_spec(&spec)?;
        let affinity = process
            .exec_cpu_affinity()
            .as_ref()
            .map(ExecAffinity::from_spec)
            .transpose()?
            .unwrap_or_default();
        let (console_fd, own_end) = console::ends(&opts.console, terminal)?;
        let cgroup = self.cgroup()?;
        let state = serde_json::to_value(self.oci_state()).unwrap_or_default();
        let plan = InitPlan {
            id: st.id.clone(),
            created: st.created.clone(),
            bundle: Bundle {
                dir: st.bundle.clone(),
                spec,
                rootfs: st.rootfs.clone(),
                warnings: Vec::new(),
            },
            ns: join_plan(st)?,
            console: console_fd,
            preserve_fds: opts.preserve_fds,
            no_new_keyring: true,
            caps,
            seccomp,
            mempolicy,
            // An entering process gets no fd of the host's state directory.
            launch: Launch::Exec {
                final_affinity: affinity.final_,
                root: shared_mount_ns_root(st)?,
            },
        };
        self.unlock();
        let mut parent = ExecParent {
            cgroup: &*cgroup,
            initial_affinity: affinity.initial,
            state,
        };
        let pid = init::launch(&plan, &mut parent).map_err(ContainerError::Exec)?;
        drop(plan);
        if let Some(p) = &opts.pid_file {
            write_pid_file(p, pid)?;
        }
        let pty_master = console::receive_pty(own_end)?;
        Ok(Executed { pid, pty_master })
    }
}
