//! Everything a container operation can fail with, each naming what failed (which container,
//! path, syscall or step). The texts of the first variants are runc's, which callers match.

use super::operation::{refusal_text, Operation};
use super::state::Status;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("invalid container id {0:?}: use letters, digits, '_', '-', '.', '+' (1 to 1024 characters, not '.' or '..')")]
    InvalidId(String),
    #[error("container does not exist")]
    NotExist,
    #[error("container with given ID already exists")]
    Exists,
    /// The status table ([`super::operation::decide`]) refuses `op` in `status`.
    #[error("{}", refusal_text(template, id, *status))]
    NotAllowed {
        id: String,
        op: Operation,
        status: Status,
        template: &'static str,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("container {id} is busy: another rrun command has held its lock for {secs} s")]
    Busy { id: String, secs: u64 },
    #[error("state file {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error("config.json has no process")]
    NoProcess,
    #[error(transparent)]
    Lsm(#[from] crate::lsm::LsmError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error(transparent)]
    Namespace(#[from] crate::namespaces::NamespaceError),
    #[error(transparent)]
    Caps(#[from] crate::process::caps::CapsError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    PreservedFd(#[from] crate::init::fds::PreservedFdError),
    /// runc's words for a rootless container that needs a cgroup it may not make.
    #[error("rootless needs no limits + no cgrouppath when no permission is granted for cgroups (linux.resources.{field} is set): {source}")]
    RootlessCgroup {
        field: &'static str,
        source: crate::cgroups::CgroupError,
    },
    #[error(transparent)]
    Tty(#[from] crate::tty::TtyError),
    #[error(transparent)]
    Fifo(#[from] crate::container::start_fifos::FifoError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// The rootfs plan refuses the config (before anything exists).
    #[error("error preparing rootfs: {0}")]
    Rootfs(crate::rootfs::RootfsError),
    #[error("cannot use console socket if rrun will not detach or allocate tty")]
    ConsoleSocketWithoutTerminal,
    #[error("cannot allocate tty if rrun will detach without setting console socket")]
    TerminalWithoutConsoleSocket,
    #[error("console socketpair: {0}")]
    ConsolePair(nix::Error),
    /// linux.intelRdt is refused, never ignored (features.json: intelRdt.enabled is false).
    #[error("{}", if *resctrl { "linux.intelRdt is not supported by rrun (features: intelRdt.enabled is false)" } else { "linux.intelRdt is set, but this host has no resctrl file system (no Intel RDT or AMD QoS): refusing rather than running without it" })]
    IntelRdt { resctrl: bool },
    #[error("linux.sysctl {key:?}: the {namespace} namespace {} is the host's: refusing to change the host", path.display())]
    HostSysctl {
        key: String,
        namespace: String,
        path: PathBuf,
    },
    #[error(transparent)]
    MemoryPolicy(#[from] crate::process::mempolicy::MemPolicyError),
    #[error(transparent)]
    CpuList(#[from] crate::process::cpus::ListError),
    #[error(transparent)]
    NetDevice(#[from] crate::netdev::NetDevError),
    #[error("LISTEN_FDS={0:?} is not a number")]
    ListenFds(String),
    /// The init could not be started or set up (the stage's own error inside).
    #[error("unable to start container process: {0}")]
    StartProcess(#[source] crate::init::InitError),
    /// The exec'd process could not be started or set up.
    #[error("exec failed: {0}")]
    Exec(#[source] crate::init::InitError),
    #[error("container init (pid {pid}) exited during create")]
    InitExited { pid: i32 },
    #[error("container init (pid {pid}) did not die after SIGKILL")]
    InitWontDie { pid: i32 },
    #[error("kill pid {pid} with signal {signal}: {source}")]
    Kill {
        pid: i32,
        signal: i32,
        source: nix::Error,
    },
    #[error("signal {0} cannot be sent to all processes")]
    SignalForAll(i32),
    #[error("update: the merged resources are not a runtime-spec linux.resources: {0}")]
    BadResources(serde_json::Error),
}
