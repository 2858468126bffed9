//! The errors of the init's processes. A stage that fails sends a [`StageError`] over the sync
//! socket (src/init/sync.rs): the step it was at, the errno when a syscall failed, the path
//! when one is involved, and the whole user-facing text, so that callers can match on the
//! first three and users read one clear line. The parent's own failures at its points of the
//! protocol are [`ParentError`]s.

use serde::{Deserialize, Serialize};
use std::error::Error;
use std::path::Path;

/// Where in the protocol or the setup a stage was when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Waiting for or sending a protocol message.
    Sync,
    /// Joining `path` namespaces, creating the others.
    Namespaces,
    /// Becoming root of the user namespace.
    UserNamespace,
    /// linux.timeOffsets.
    TimeOffsets,
    /// Forking the init.
    Fork,
    /// setsid, dumpable, closing the runtime's fds.
    Session,
    /// Opening the start fifos.
    StartFifos,
    /// Mounts, devices, masked and readonly paths, the cgroup mount.
    Rootfs,
    /// pivot_root (or the chroot of --no-pivot).
    Pivot,
    /// A hook (createContainer, startContainer).
    Hook,
    Sysctl,
    Terminal,
    Hostname,
    /// Creating or entering the process's cwd.
    Cwd,
    Keyring,
    /// rlimits, scheduler, ioprio, personality, no_new_privs.
    ProcessAttributes,
    /// Loading the seccomp filter.
    Seccomp,
    /// The capability sets and the user switch.
    Credentials,
    /// Finding the program, preparing fds, execve.
    Exec,
    /// config.json asks for what cannot be done.
    Config,
}

/// A stage's failure, as it crosses the sync socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{detail}")]
pub struct StageError {
    pub step: Step,
    /// The errno of the syscall that failed, when one did.
    pub errno: Option<i32>,
    /// The path involved, when there is one (lossy UTF-8: the message must always encode).
    pub path: Option<String>,
    /// The whole reason, as users read it.
    pub detail: String,
}

impl StageError {
    /// A failure without an underlying error (a config the step cannot honour).
    pub fn msg(step: Step, detail: impl Into<String>) -> StageError {
        StageError {
            step,
            errno: None,
            path: None,
            detail: detail.into(),
        }
    }

    /// `err` at `step`, its text as it is.
    pub fn of(step: Step, err: &(dyn Error + 'static)) -> StageError {
        StageError {
            step,
            errno: errno_in(err),
            path: None,
            detail: err.to_string(),
        }
    }

    /// `err` at `step`, its text after `context: `.
    pub fn within(step: Step, context: &str, err: &(dyn Error + 'static)) -> StageError {
        StageError {
            detail: format!("{context}: {err}"),
            ..StageError::of(step, err)
        }
    }

    pub fn with_path(mut self, path: &Path) -> StageError {
        self.path = Some(path.to_string_lossy().into_owned());
        self
    }

    /// The detail cut to at most `max` bytes (at a character boundary), with a note of how
    /// much was cut: what the sync socket can carry.
    pub fn bounded(&self, max: usize) -> StageError {
        if self.detail.len() <= max {
            return self.clone();
        }
        let mut keep = max;
        while !self.detail.is_char_boundary(keep) {
            keep -= 1;
        }
        StageError {
            detail: format!(
                "{} ... ({} more bytes cut)",
                &self.detail[..keep],
                self.detail.len() - keep
            ),
            ..self.clone()
        }
    }
}

/// The first errno found along an error's chain of sources.
fn errno_in(err: &(dyn Error + 'static)) -> Option<i32> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(n) = e.downcast_ref::<nix::Error>() {
            return Some(*n as i32);
        }
        if let Some(n) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|e| e.raw_os_error())
        {
            return Some(n);
        }
        cur = e.source();
    }
    None
}

/// `.step(..)` and `.within(..)` on results, for the stages' `?`.
pub trait AtStep<T> {
    fn step(self, step: Step) -> Result<T, StageError>;
    fn within(self, step: Step, context: &str) -> Result<T, StageError>;
}

impl<T, E: Error + 'static> AtStep<T> for Result<T, E> {
    fn step(self, step: Step) -> Result<T, StageError> {
        self.map_err(|e| StageError::of(step, &e))
    }
    fn within(self, step: Step, context: &str) -> Result<T, StageError> {
        self.map_err(|e| StageError::within(step, context, &e))
    }
}

/// A failure of the parent at one of its points of the protocol (src/init/mod.rs,
/// [`super::ParentSide`]).
#[derive(Debug, thiserror::Error)]
pub enum ParentError {
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error("set oom_score_adj to {adj} ({path}): {source}")]
    OomScoreAdj {
        adj: i32,
        path: String,
        source: std::io::Error,
    },
    #[error("container init (pid {pid}) exited during create")]
    InitGone { pid: i32 },
    #[error(transparent)]
    State(Box<crate::container::ContainerError>),
    #[error(transparent)]
    NetDevice(crate::netdev::NetDevError),
    #[error("set the CPU affinity of pid {pid} to process.execCPUAffinity.initial: {source}")]
    InitialAffinity { pid: i32, source: nix::Error },
    #[error(transparent)]
    SeccompAgent(#[from] crate::seccomp::notify::NotifyError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_and_text_survive_the_socket() {
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let e = StageError::within(
            Step::Cwd,
            "chdir to cwd (/x) set in config.json failed",
            &io,
        )
        .with_path(Path::new("/x"));
        let back: StageError = serde_json::from_slice(&serde_json::to_vec(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.errno, Some(libc::ENOENT));
        assert_eq!(back.step, Step::Cwd);
        assert!(back
            .to_string()
            .starts_with("chdir to cwd (/x) set in config.json failed: "));
    }

    #[test]
    fn errno_is_found_along_the_sources() {
        let inner = crate::rootfs::RootfsError::Mount {
            op: "mount",
            path: "/a".into(),
            source: nix::Error::EPERM,
        };
        assert_eq!(
            StageError::of(Step::Rootfs, &inner).errno,
            Some(libc::EPERM)
        );
        assert_eq!(StageError::msg(Step::Config, "x").errno, None);
    }

    #[test]
    fn bounded_cuts_at_a_char_boundary() {
        let e = StageError::msg(Step::Hook, "é".repeat(10));
        let b = e.bounded(5);
        assert!(b.detail.starts_with("éé ... ("), "{}", b.detail);
        assert_eq!(e.bounded(100), e);
    }
}
