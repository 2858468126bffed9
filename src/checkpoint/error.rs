//! Everything `checkpoint` and `restore` can fail with. A failed CRIU run carries CRIU's own
//! reason: the `Error (file:line): ...` lines of its log (or, without a log, its output).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("invalid manage-cgroups-mode value {0:?}")]
    CgroupsMode(String),
    #[error("namespace {0:?} is not supported")]
    Namespace(String),
    #[error("--empty-ns {0}: criu's command line (which rrun runs) can leave only the network namespace empty")]
    EmptyNsNotNet(String),
    #[error("Use --page-server ADDRESS:PORT to specify page server")]
    PageServerFormat,
    #[error("Invalid port number")]
    PageServerPort,
    #[error("invalid --status-fd argument {fd}: {why}")]
    StatusFd { fd: i32, why: String },
    #[error("invalid directory to save checkpoint")]
    NoImagePath,
    #[error(transparent)]
    Container(#[from] crate::container::ContainerError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{op} {path}: {source}")]
    Sys {
        op: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("cannot run criu ({criu}): {source}")]
    Spawn {
        criu: PathBuf,
        source: std::io::Error,
    },
    /// CRIU ran and failed; `reason` is what its log (or output) says.
    #[error("criu {action} failed ({status}): {reason} (log: {})", log.display())]
    Criu {
        action: &'static str,
        status: String,
        reason: String,
        log: PathBuf,
    },
    #[error("criu restore succeeded but its pid file {path} holds no live pid: {why}")]
    RestoredPid { path: PathBuf, why: String },
    #[error("{} (descriptors.json of the checkpoint): {why}", path.display())]
    Descriptors { path: PathBuf, why: String },
    #[error("restore of a container with process.terminal is not supported: the pty master comes back only through CRIU's RPC notification orphan-pts-master, and rrun runs CRIU's command line")]
    Terminal,
    #[error("namespace path {path} ({ns}): CRIU has no way to join a {ns} namespace on restore")]
    JoinNamespace { ns: String, path: PathBuf },
}
