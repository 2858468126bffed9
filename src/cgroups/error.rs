//! The one error type of the cgroup layer.

use std::path::PathBuf;

/// What went wrong in the cgroup layer; every variant names the file, field or syscall involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroupfs file or /proc file could not be read.
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A value could not be written to a cgroupfs file.
    #[error("write {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    /// A directory operation (mkdir, rmdir, readdir) failed.
    #[error("{syscall} {path}: {source}")]
    Dir {
        syscall: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A syscall not tied to a file (kill, poll) failed.
    #[error("{syscall} {what}: {source}")]
    Syscall {
        syscall: &'static str,
        what: String,
        source: std::io::Error,
    },
    /// The kernel refused the generated eBPF device program.
    #[error("bpf(BPF_PROG_LOAD) of the device program for {path}: {source}; verifier log: {log}")]
    BpfLoad {
        path: PathBuf,
        log: String,
        source: std::io::Error,
    },
    /// /proc/self/mountinfo could not be read or parsed.
    #[error(transparent)]
    ProcInfo(#[from] crate::procinfo::ProcInfoError),
    /// /proc/self/mountinfo shows no cgroup filesystem at all.
    #[error("no cgroup filesystem is mounted (looked in {mountinfo})")]
    NoCgroupMount { mountinfo: PathBuf },
    /// A line of `/proc/<pid>/cgroup` could not be parsed.
    #[error("malformed line in {file}: {line:?}")]
    Parse { file: PathBuf, line: String },
    /// The cgroupsPath of the spec is not acceptable.
    #[error("invalid linux.cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// The systemd form `slice:prefix:name` without `--systemd-cgroup`.
    #[error(
        "linux.cgroupsPath {path:?} is in the systemd form slice:prefix:name: \
         use --systemd-cgroup, or give a cgroupfs path like /parent/name"
    )]
    SystemdPathUnsupported { path: String },
    /// `--systemd-cgroup` on a host whose pid 1 is not systemd (runc's words).
    #[error("systemd not running on this host, cannot use systemd cgroups manager")]
    SystemdNotRunning,
    /// A call to systemd's manager failed.
    #[error("systemd {op} {unit}: {source}")]
    Systemd {
        op: &'static str,
        unit: String,
        source: Box<crate::cgroups::systemd::dbus::DbusError>,
    },
    /// A systemd job ended otherwise than `done`.
    #[error("systemd could not {op} unit {unit}: job result {result:?}")]
    SystemdJob {
        op: &'static str,
        unit: String,
        result: String,
    },
    /// A memory limit below what the container already uses (runc's words).
    #[error("unable to set memory limit to {limit} (current usage: {usage}, peak usage: {peak})")]
    MemoryBelowUsage { limit: i64, usage: u64, peak: u64 },
    /// The runtime's own cgroup in a hierarchy is not known (needed for a relative cgroupsPath).
    #[error("own cgroup for {hierarchy} not found in /proc/self/cgroup, or outside its mount root {mount_root}")]
    OwnCgroupUnknown {
        hierarchy: String,
        mount_root: PathBuf,
    },
    /// A field of linux.resources that the host's cgroup layout cannot honour.
    #[error("{field}: {reason}")]
    Unsupported { field: String, reason: String },
    /// A field of linux.resources has a value out of range or malformed.
    #[error("{field}: invalid value {value:?}: {reason}")]
    InvalidValue {
        field: String,
        value: String,
        reason: &'static str,
    },
    /// A resource needs a controller that is not mounted (v1) or not available (v2).
    #[error(
        "{field} needs the {controller} cgroup controller, which is not available on this host"
    )]
    ControllerMissing { field: String, controller: String },
    /// A field only the cgroup2 part of a hybrid host can honour, whose directory there could
    /// not be made.
    #[error(
        "{field} needs the cgroup2 hierarchy {mount_point}, which cannot be used here: {cause}"
    )]
    UnifiedUnusable {
        field: String,
        mount_point: PathBuf,
        cause: String,
    },
    /// The freezer did not reach the wanted state in time.
    #[error("{path}: freezer did not reach state {wanted} (last seen {seen:?})")]
    FreezeTimeout {
        path: PathBuf,
        wanted: &'static str,
        seen: String,
    },
    /// A cgroup directory stayed busy (processes left in it) after the retries of destroy().
    #[error("rmdir {path}: still busy after retries (processes left in the cgroup?)")]
    Busy { path: PathBuf },
    /// The saved paths do not fit the host's cgroup layout.
    #[error("saved cgroup path for {key:?} ({path}) does not fit the host cgroup layout")]
    SavedPathMismatch { key: String, path: PathBuf },
    /// A saved cgroup that is not the container's own: nothing is done to it.
    #[error("refusing to act on cgroup {path}: {reason}")]
    NotTheContainers { path: PathBuf, reason: &'static str },
}

impl CgroupError {
    /// The errno behind the error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CgroupError::Read { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::Dir { source, .. }
            | CgroupError::Syscall { source, .. }
            | CgroupError::BpfLoad { source, .. } => source.raw_os_error(),
            CgroupError::ProcInfo(e) => e.errno(),
            _ => None,
        }
    }

    pub(crate) fn unsupported(field: &str, reason: impl Into<String>) -> Self {
        CgroupError::Unsupported {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing(field: &str, controller: &str) -> Self {
        CgroupError::ControllerMissing {
            field: field.to_string(),
            controller: controller.to_string(),
        }
    }
}
