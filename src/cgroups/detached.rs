//! A rootless container without a cgroup of its own: what runc does when an unprivileged
//! user was given no cgroup (cgroup v1, or a cgroup2 tree not delegated) and the config asks
//! for no limits. The container runs in the caller's cgroup; [`Detached`] answers the
//! [`Manager`] questions from the processes instead: the container's processes are those of
//! the init's pid namespace (or the init alone when it shares ours), `kill --all` signals
//! each of them, and what needs a cgroup (pause, stats, limits) is refused with the reason.

use super::{CgroupError, CgroupMount, Manager, Stats};
use nix::mount::MsFlags;
use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Why: the text every refusal carries.
const NO_CGROUP: &str =
    "the container has no cgroup (rootless, and no cgroup was delegated to the user)";

/// The fields of `linux.resources` that need a cgroup (devices do not: a rootless container
/// cannot have device rules enforced anyway, and runc ignores them there).
pub fn needs_limits(r: &LinuxResources) -> Option<&'static str> {
    let set = [
        ("memory", r.memory().is_some()),
        ("cpu", r.cpu().is_some()),
        ("pids", r.pids().is_some()),
        ("blockIO", r.block_io().is_some()),
        (
            "hugepageLimits",
            r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
        ),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().as_ref().is_some_and(|m| !m.is_empty())),
        (
            "unified",
            r.unified().as_ref().is_some_and(|m| !m.is_empty()),
        ),
    ];
    set.into_iter().find(|(_, on)| *on).map(|(name, _)| name)
}

#[derive(Debug, Default)]
pub struct Detached {
    init: Cell<i32>,
}

impl Detached {
    /// For a new container: the init is learnt from `add_process` (stage-1, whose child the
    /// init is, shares its pid namespace membership for the namespace test).
    pub fn new() -> Detached {
        Detached::default()
    }

    /// For an existing container whose init is `pid`.
    pub fn existing(init: i32) -> Detached {
        Detached {
            init: Cell::new(init),
        }
    }

    fn refused(what: &str) -> CgroupError {
        CgroupError::unsupported(what, NO_CGROUP)
    }
}

/// The pid namespace of `pid` (the link's text, e.g. `pid:[4026531836]`).
fn pid_ns(pid: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

impl Manager for Detached {
    fn create(&self, _log: &dyn crate::log::Log) -> Result<(), CgroupError> {
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        if self.init.get() == 0 {
            self.init.set(pid);
        }
        Ok(())
    }

    fn apply(
        &self,
        resources: &LinuxResources,
        _log: &dyn crate::log::Log,
    ) -> Result<(), CgroupError> {
        match needs_limits(resources) {
            Some(field) => Err(Self::refused(&format!("linux.resources.{field}"))),
            None => Ok(()),
        }
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let init = self.init.get();
        if init <= 0 {
            return Ok(Vec::new());
        }
        let Some(ns) = pid_ns(&init.to_string()) else {
            return Ok(Vec::new());
        };
        if pid_ns("self").as_ref() == Some(&ns) {
            return Ok(vec![init]);
        }
        let mut pids: Vec<i32> = std::fs::read_dir("/proc")
            .map_err(|source| CgroupError::Read {
                path: "/proc".into(),
                source,
            })?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| pid_ns(&p.to_string()).as_ref() == Some(&ns))
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        Err(Self::refused("pause"))
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        Err(Self::refused("resume"))
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(false)
    }

    fn signal_all(&self, signal: Signal) -> Result<(), CgroupError> {
        for pid in self.pids()? {
            // A process gone meanwhile is no error.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
        Ok(())
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        Ok(())
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        Err(Self::refused("stats"))
    }

    fn oom_kill_count(&self) -> Result<Option<u64>, CgroupError> {
        Ok(None)
    }

    /// The container's /sys/fs/cgroup: an empty read-only tmpfs, as it has no cgroup to show.
    fn mounts(&self, _cgroupns: bool) -> Vec<CgroupMount> {
        vec![CgroupMount::Mount {
            source: "tmpfs".into(),
            relative: PathBuf::new(),
            fstype: "tmpfs".into(),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY,
            data: "mode=755".into(),
        }]
    }

    fn paths(&self) -> BTreeMap<String, PathBuf> {
        BTreeMap::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn only_limits_need_a_cgroup() {
        assert_eq!(needs_limits(&resources(serde_json::json!({}))), None);
        assert_eq!(
            needs_limits(&resources(
                serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]})
            )),
            None
        );
        assert_eq!(
            needs_limits(&resources(serde_json::json!({"pids": {"limit": 10}}))),
            Some("pids")
        );
        assert_eq!(
            needs_limits(&resources(serde_json::json!({"unified": {}}))),
            None
        );
    }

    #[test]
    fn refusals_say_why() {
        let d = Detached::existing(1);
        let e = d.freeze().unwrap_err().to_string();
        assert!(e.contains("pause") && e.contains("no cgroup"), "{e}");
        let e = d
            .apply(
                &resources(serde_json::json!({"memory": {"limit": 1048576}})),
                &crate::log::Silent,
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux.resources.memory"), "{e}");
    }

    #[test]
    fn an_init_in_our_pid_namespace_is_alone() {
        let me = std::process::id() as i32;
        assert_eq!(Detached::existing(me).pids().unwrap(), vec![me]);
        assert_eq!(Detached::new().pids().unwrap(), Vec::<i32>::new());
    }
}
