#![forbid(unsafe_code)]
//! Starting the container's init: parent -> stage-1 -> stage-2 (the init).
//!
//! rrun forks instead of re-executing itself (runc re-executes only because of Go's runtime):
//! the process is single-threaded here, so both children simply continue with the plan already
//! in memory. See [`sync`] for the messages the three processes exchange, in order.
//!
//! - parent (this module): owns the state directory, the cgroup and the sync socket, writes
//!   the id maps, runs the runtime-namespace hooks.
//! - stage-1 ([`stage1`]): joins `path` namespaces, creates the user namespace and then the
//!   others, forks stage-2 (so that it is pid 1 of a new pid namespace and inside the new time
//!   namespace), reports its pid and exits.
//! - stage-2 ([`stage2`]): the container's init: rootfs, pivot_root, terminal, hostname,
//!   sysctls, rlimits, credentials and capabilities; waits on the exec fifo; execve.

pub mod error;
pub mod fds;
pub mod procfs;
pub mod stage1;
pub mod stage2;
pub mod sync;
pub mod sysctl;

use crate::cgroups::CgroupMount;
use crate::namespaces::NamespacePlan;
use crate::process::caps::CapPlan;
use crate::spec::Bundle;
use crate::sys;
use error::{AtStep, ParentError, StageError, Step};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxIdMapping;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};
use sync::{expect, recv_msg, send_msg, Message, SyncError};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A stage reported a failure (its text is complete and user-facing).
    #[error(transparent)]
    Stage(StageError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("fork: {0}")]
    Fork(nix::Error),
    #[error(transparent)]
    IdMap(#[from] crate::rootless::RootlessError),
    /// A parent-side step (cgroup, hook) failed.
    #[error(transparent)]
    Parent(#[from] ParentError),
    #[error("stage-1 of the init ended badly: {0}")]
    Stage1Ended(String),
    /// A stage died of SIGKILL before `Ready` while the container's memory cgroup recorded
    /// an OOM kill (runc's words for it).
    #[error("container init was OOM-killed (memory limit too low?)")]
    OomKilled,
}

/// Everything the stages need, prepared by the parent before the fork.
pub struct InitPlan {
    pub id: String,
    /// Creation time (RFC 3339), as the state will show it.
    pub created: String,
    pub bundle: Bundle,
    pub ns: NamespacePlan,
    /// The connected console socket, when the process has a terminal.
    pub console: Option<OwnedFd>,
    pub preserve_fds: u32,
    pub no_new_keyring: bool,
    pub caps: Option<CapPlan>,
    /// The compiled `linux.seccomp` profile: loaded by stage-2 before the capability drop, or
    /// right before execve with process.noNewPrivileges.
    pub seccomp: Option<crate::seccomp::Filter>,
    /// linux.memoryPolicy, set before the program runs (init and exec alike).
    pub mempolicy: Option<crate::process::mempolicy::MemPolicy>,
    /// A new container, or a process entering one.
    pub launch: Launch,
}

/// What the stages are started for.
pub enum Launch {
    /// `create`: stage-2 becomes the container's init and sets the container up (rootfs,
    /// hooks, the start fifos) before it sets up the process.
    Create {
        /// The container's state directory: the init opens the start fifos through it before
        /// anything of the container exists, then closes it.
        state_dir: OwnedFd,
        /// `--no-pivot`: chroot after moving the root instead of pivot_root.
        no_pivot: bool,
        /// The cgroup mounts inside the container.
        cgroup_steps: Vec<CgroupMount>,
        /// The rootfs setup, planned from the spec before the fork.
        rootfs: crate::rootfs::plan::Plan,
        /// The plan's id-mapped mounts, made detached by the parent (it has the privileges
        /// over the host's file systems that the init, in a user namespace, lacks); the init
        /// attaches them and closes them with the other fds it does not need.
        idmap_trees: crate::rootfs::idmap::Trees,
    },
    /// `exec`: `ns` joins a running container's namespaces and stage-2 only sets up
    /// `bundle.spec.process` and execs it (no rootfs, no hooks, no start fifos; steps 5 and 6
    /// of the protocol are skipped).
    Exec {
        /// process.execCPUAffinity.final: the affinity set once in the container's cgroup.
        final_affinity: Option<nix::sched::CpuSet>,
        /// The init's root (`/proc/<init>/root`, opened by the parent) when the container has
        /// no mount namespace of its own: the process chroots into it (joining the namespaces
        /// does not change its root then).
        root: Option<OwnedFd>,
    },
}

/// What the parent does at its points of the protocol (the create command implements it).
pub trait ParentSide {
    /// Stage-1 exists and is blocked: put it in the container's cgroup.
    fn stage1_started(&mut self, pid: i32) -> Result<(), ParentError>;
    /// The init exists (host pid): e.g. its oom_score_adj.
    fn init_started(&mut self, pid: i32) -> Result<(), ParentError>;
    /// The init's mounts are ready: run prestart and createRuntime hooks.
    fn create_hooks(&mut self, pid: i32) -> Result<(), ParentError>;
    /// The container's state (state.json of the runtime-spec) as the seccomp agent gets it
    /// with the notify listener of process `pid`.
    fn agent_state(&mut self, pid: i32) -> serde_json::Value;
    /// A stage was killed by SIGKILL before `Ready`: did the container's memory cgroup record
    /// an OOM kill? Asked before anything is cleaned up.
    fn oom_killed(&mut self) -> bool {
        false
    }
}

/// Write /proc/PID/{uid_map,gid_map} from the config's mappings: directly as root, or for a
/// rootless rrun its own ids directly and any other through newuidmap/newgidmap.
fn write_id_maps(
    pid: i32,
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
) -> Result<(), InitError> {
    let plan = crate::rootless::IdMapPlan::new(
        uid,
        gid,
        nix::unistd::geteuid().is_root(),
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    Ok(plan.apply(pid)?)
}

fn kill_and_reap(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = waitpid(Pid::from_raw(pid), None);
}

/// Reap `pid`, which is dead or dying: the sync socket reads EOF while the process exits, a
/// moment before it can be waited for. None if it is still there after a while (it is then
/// killed like the rest).
fn reap_dying(pid: i32) -> Option<WaitStatus> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(nix::Error::EINTR) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(status) => return Some(status),
        }
    }
}

/// The processes [`launch`] started, and how they ended once reaped.
struct Children {
    stage1: i32,
    /// Set when stage-1 is reaped (it exits once it has reported the init's pid).
    stage1_status: Option<WaitStatus>,
    init: Option<i32>,
    init_status: Option<WaitStatus>,
}

impl Children {
    /// After `err`: learn how a stage that died without a word ended, then kill and reap
    /// every process still there. True if a stage had been killed by SIGKILL (as the OOM
    /// killer kills), not counting our own kills.
    fn end_after(&mut self, err: &InitError) -> bool {
        if matches!(err, InitError::Sync(e) if e.peer_gone()) {
            // The socket's last holder is the one that died: the init once it exists.
            match self.init {
                Some(pid) => self.init_status = reap_dying(pid),
                None if self.stage1_status.is_none() => {
                    self.stage1_status = reap_dying(self.stage1)
                }
                None => {}
            }
        }
        let sigkilled = [self.stage1_status, self.init_status]
            .iter()
            .any(|s| matches!(s, Some(WaitStatus::Signaled(_, Signal::SIGKILL, _))));
        if self.stage1_status.is_none() {
            kill_and_reap(self.stage1);
        }
        if let (Some(pid), None) = (self.init, self.init_status) {
            kill_and_reap(pid);
        }
        sigkilled
    }
}

/// Run the protocol's parent side. Returns the init's host pid once it is `Ready` (blocked on
/// the exec fifo). On error every process started here is killed and reaped.
pub fn launch(plan: &InitPlan, parent: &mut dyn ParentSide) -> Result<i32, InitError> {
    let (parent_end, child_end) = sync::pair()?;
    // Become the subreaper so that the init, orphaned when stage-1 exits, is our child: we can
    // then reap it on failure, and `run` can wait for it.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    // rrun is single-threaded here (see fork_child); stage-1 closes the parent's end of the
    // socket first and ends in _exit.
    let (stage1_pid, parent_end) =
        sys::process::fork_child(parent_end, || match stage1::run(plan, child_end.as_fd()) {
            Ok(()) => 0,
            Err(error) => {
                let _ = send_msg(child_end.as_fd(), &Message::Error { error });
                1
            }
        })
        .map_err(InitError::Fork)?;
    let stage1_pid = stage1_pid.as_raw();
    drop(child_end);
    let mut children = Children {
        stage1: stage1_pid,
        stage1_status: None,
        init: None,
        init_status: None,
    };
    let err = match parent_protocol(plan, parent, parent_end.as_fd(), &mut children) {
        Ok(pid) => return Ok(pid),
        Err(e) => e,
    };
    // The kernel's OOM killer sends SIGKILL; the memory cgroup counts its kills.
    if children.end_after(&err) && parent.oom_killed() {
        return Err(InitError::OomKilled);
    }
    Err(err)
}

/// Turn a peer's Error message into InitError::Child, other surprises into Sync errors.
fn expect_or_child(
    fd: std::os::fd::BorrowedFd<'_>,
    want: Message,
    name: &'static str,
) -> Result<(), InitError> {
    match recv_msg(fd)? {
        m if m == want => Ok(()),
        got => Err(not_expected(got, name)),
    }
}

/// A message other than the one expected: the stage's own error, or a protocol surprise.
fn not_expected(got: Message, expected: &'static str) -> InitError {
    match got {
        Message::Error { error } => InitError::Stage(error),
        got => SyncError::Unexpected { expected, got }.into(),
    }
}

/// The next message of stage-1, waited for only while stage-1 lives: a stage-1 killed after it
/// forked the init (which holds the socket too, waiting) would otherwise leave `create`
/// waiting forever. A stage-1 gone without a word reads as end of file.
fn recv_from_stage1(
    sock: std::os::fd::BorrowedFd<'_>,
    children: &mut Children,
) -> Result<Message, InitError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let gone = children.stage1_status.is_some();
        let mut pfd = [PollFd::new(sock, PollFlags::POLLIN)];
        let wait = if gone { 0u16 } else { 100u16 };
        match poll(&mut pfd, PollTimeout::from(wait)) {
            Ok(0) if gone => return Err(SyncError::Eof.into()),
            Ok(0) => {
                if let Ok(st @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) =
                    waitpid(Pid::from_raw(children.stage1), Some(WaitPidFlag::WNOHANG))
                {
                    // Its last message may still be in the socket: one more look, then EOF.
                    children.stage1_status = Some(st);
                }
            }
            Ok(_) => return Ok(recv_msg(sock)?),
            Err(nix::Error::EINTR) => {}
            Err(source) => return Err(SyncError::Io { op: "poll", source }.into()),
        }
    }
}

fn parent_protocol(
    plan: &InitPlan,
    parent: &mut dyn ParentSide,
    sock: std::os::fd::BorrowedFd<'_>,
    children: &mut Children,
) -> Result<i32, InitError> {
    let stage1_pid = children.stage1;
    parent.stage1_started(stage1_pid)?;
    send_msg(sock, &Message::Proceed)?;
    let linux = plan.bundle.spec.linux().as_ref();
    if plan.ns.creates(oci_spec::runtime::LinuxNamespaceType::User) {
        match recv_from_stage1(sock, children)? {
            Message::UsernsCreated => {}
            got => return Err(not_expected(got, "UsernsCreated")),
        }
        let uid = linux
            .and_then(|l| l.uid_mappings().clone())
            .unwrap_or_default();
        let gid = linux
            .and_then(|l| l.gid_mappings().clone())
            .unwrap_or_default();
        write_id_maps(stage1_pid, &uid, &gid)?;
        send_msg(sock, &Message::IdMapsWritten)?;
    }
    let pid = match recv_from_stage1(sock, children)? {
        Message::Stage2Started { pid } => pid,
        got => return Err(not_expected(got, "Stage2Started")),
    };
    children.init = Some(pid);
    let stage1_end = match children.stage1_status {
        Some(status) => Ok(status),
        None => waitpid(Pid::from_raw(stage1_pid), None),
    };
    if let Ok(status) = stage1_end {
        children.stage1_status = Some(status);
    }
    match stage1_end {
        Ok(WaitStatus::Exited(_, 0)) => {}
        other => return Err(InitError::Stage1Ended(format!("{other:?}"))),
    }
    parent.init_started(pid)?;
    send_msg(sock, &Message::InitProceed)?;
    let parent_hooks = crate::hooks::Kind::parent_runs_any(&plan.bundle.spec);
    if let (Launch::Create { .. }, true) = (&plan.launch, parent_hooks) {
        expect_or_child(sock, Message::RunCreateHooks, "RunCreateHooks")?;
        parent.create_hooks(pid)?;
        send_msg(sock, &Message::HooksDone)?;
    }
    if let Some(listener) = plan.seccomp.as_ref().and_then(|f| f.listener()) {
        let fd = match recv_msg(sock)? {
            Message::SeccompListener { fd } => fd,
            got => return Err(not_expected(got, "SeccompListener")),
        };
        let copy = crate::seccomp::notify::take_fd(pid, fd).map_err(ParentError::from)?;
        let state = parent.agent_state(pid);
        listener
            .send(&copy, pid, &state)
            .map_err(ParentError::from)?;
        send_msg(sock, &Message::SeccompListenerSent)?;
    }
    expect_or_child(sock, Message::Ready, "Ready")?;
    Ok(pid)
}

/// For the stages: wait for a message the protocol requires.
pub(crate) fn wait_for(
    fd: std::os::fd::BorrowedFd<'_>,
    want: Message,
    name: &'static str,
) -> Result<(), StageError> {
    expect(fd, want, name).step(Step::Sync)
}
