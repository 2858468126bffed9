//! What rrun remembers about a container (`<root>/<id>/state.json`) and what it shows callers
//! (`rrun state`, `rrun list`, the state hooks receive on stdin).
//!
//! The status is derived, never trusted from disk: a saved pid whose start time differs (pid
//! reuse) or that is gone or a zombie is `stopped`; a live init that still waits on the exec
//! fifo is `created`; otherwise `running` (or `paused` when its cgroup is frozen).

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The runtime-spec version rrun implements (printed in `state` and `--version`).
pub const OCI_VERSION: &str = "1.2.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The saved state of one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedState {
    pub id: String,
    /// Host pid of the container's init, and its start time (field 22 of /proc/PID/stat), which
    /// together name the process even after its pid is reused.
    pub init_pid: i32,
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 with nanoseconds, UTC.
    pub created: String,
    pub owner: String,
    /// Cgroup directories, by v1 controller (the cgroup2 directory under the empty key,
    /// `cgroups::UNIFIED_KEY`), for delete, kill --all, pause.
    #[serde(default)]
    pub cgroup_paths: BTreeMap<String, PathBuf>,
    #[serde(default)]
    pub systemd_cgroup: bool,
    /// A rootless container that got no cgroup (see `cgroups::detached`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_cgroup: bool,
    /// True until `create` has finished: a state saved early so that a killed `create` leaves
    /// something `delete --force` can clean.
    #[serde(default)]
    pub creating: bool,
    /// (st_dev, st_ino) of the init's program before its execve (rrun itself): while the init
    /// still runs it, the container is created, whatever files a killed `start` left.
    #[serde(default)]
    pub init_exe: Option<(u64, u64)>,
    /// What the init's fds 0, 1 and 2 were when the container was made (`readlink` of
    /// /proc/PID/fd/N, runc's `external_descriptors`): a checkpoint writes them to
    /// descriptors.json, so that a restore hands the caller's pipes to the same fds.
    #[serde(default)]
    pub stdio: Option<Vec<String>>,
    /// The config the container was created from (hooks and annotations are read from it).
    pub config: Spec,
}

/// The runtime-spec state, as `rrun state` prints it and hooks read it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl OciState {
    /// The state of a container of `bundle` (hooks get it on stdin before state.json exists).
    pub fn of_bundle(
        bundle: &crate::spec::Bundle,
        id: &str,
        pid: i32,
        status: Status,
        created: &str,
    ) -> OciState {
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: id.to_string(),
            pid,
            status,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: created.to_string(),
            owner: String::new(),
            annotations: bundle
                .spec
                .annotations()
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("state serialises")
    }
}

/// `readlink /proc/PID/fd/N` for fds 0, 1, 2 (`/dev/null` where one is closed).
pub fn stdio_of(pid: &str) -> Vec<String> {
    (0..3)
        .map(|n| {
            std::fs::read_link(format!("/proc/{pid}/fd/{n}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "/dev/null".into())
        })
        .collect()
}

/// (st_dev, st_ino) of the program `pid` runs (`/proc/PID/exe`).
pub fn exe_id(pid: i32) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(format!("/proc/{pid}/exe")).ok()?;
    Some((m.dev(), m.ino()))
}

/// (st_dev, st_ino) of the running rrun, which the init runs until its execve.
pub fn own_exe_id() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/proc/self/exe").ok()?;
    Some((m.dev(), m.ino()))
}

impl SavedState {
    /// True when the saved init is still the same, living (not zombie) process.
    pub fn init_alive(&self) -> bool {
        if self.init_pid <= 0 {
            return false;
        }
        match crate::procinfo::stat::proc_stat(self.init_pid) {
            Some(st) => st.start_time == self.init_start_time && st.state != 'Z' && st.state != 'X',
            None => false,
        }
    }

    /// The derived status. `dir` is the container's state directory; `create_at_work` tells
    /// whether a `create` still holds the container (asked only of a `creating` state);
    /// `frozen` whether its cgroup is frozen (asked only of a live container).
    pub fn status(
        &self,
        dir: &Path,
        create_at_work: impl FnOnce() -> bool,
        frozen: impl FnOnce() -> bool,
    ) -> Status {
        if self.creating && create_at_work() {
            return Status::Creating;
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        // Created while the init has not executed the program yet: the exec fifo alone could be
        // a leftover of a killed `start`, and a killed `create` leaves no fifo reader's word.
        // A rootless rrun may not read the init's exe (the init is not dumpable, so its /proc
        // entries belong to the namespace's root): the fifo tells then.
        let before_exec = match (self.init_exe, exe_id(self.init_pid)) {
            (Some(id), Some(now)) => now == id,
            _ => dir.join(super::EXEC_FIFO).exists(),
        };
        if before_exec {
            return Status::Created;
        }
        if frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.config
            .annotations()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The runtime-spec state for `status`; the pid is 0 once stopped, like runc.
    pub fn oci(&self, status: Status) -> OciState {
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.init_pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self.annotations(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_state_json_shape() {
        let st = OciState {
            oci_version: OCI_VERSION.into(),
            id: "c1".into(),
            pid: 42,
            status: Status::Created,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2020-01-01T00:00:00Z".into(),
            owner: String::new(),
            annotations: BTreeMap::new(),
        };
        let v: serde_json::Value = serde_json::to_value(&st).unwrap();
        assert_eq!(v["status"], "created");
        assert_eq!(v["ociVersion"], OCI_VERSION);
        assert!(v.get("annotations").is_none());
        assert_eq!(v["owner"], "");
    }
}
