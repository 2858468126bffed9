#![forbid(unsafe_code)]
//! Control groups: put the container in its cgroup, limit it, freeze it, count it, remove it.
//!
//! Written directly on the cgroupfs files (no library), with as few syscalls as the job needs.
//!
//! ```text
//! let layout = cgroups::detect()?;                         // one read of /proc/self/mountinfo
//! let cg = cgroups::manager(&layout, spec_cgroups_path, id)?;
//! cg.create(log)?;                                         // mkdir in every hierarchy
//! cg.apply(resources, log)?;                               // linux.resources -> files
//! cg.add_process(init_pid)?;                               // cgroup.procs everywhere
//! state.cgroup_paths = cg.paths();                         // saved in state.json
//! ... later, in another rrun process:
//! let cg = cgroups::manager_from_paths(&layout, &state.cgroup_paths)?;
//! cg.kill_all()?; cg.destroy()?;
//! ```
//!
//! Layouts ([`Layout`], from [`detect`]): v1 (a mount per controller group, plus named
//! hierarchies like `name=systemd`, which the container joins too), hybrid (those plus a
//! cgroup2 mount, whose directory the container also gets; controllers that only exist there,
//! like hugetlb on the development host, are applied there; when its directory cannot be made
//! there, `create` warns and the container goes on without it unless the config needs it), and
//! pure v2.
//!
//! Where the cgroup is ([`path`]): `linux.cgroupsPath` as runc's cgroupfs driver reads it. An
//! absolute path is taken below each hierarchy's root; a relative one (and no path at all,
//! which means `<id>`) below the runtime's own cgroup of each hierarchy, as runc 1.1.5 does
//! on the development host (its memory cgroup is not `/`, so neither is the container's); on
//! cgroup2 below the parent of the own cgroup. The systemd form `slice:prefix:name` needs
//! `--systemd-cgroup` ([`Driver::Systemd`], the [`systemd`] driver), and is refused without it
//! ([`CgroupError::SystemdPathUnsupported`]).
//!
//! How limits are applied ([`plan`]): `linux.resources` becomes a list of (file, value) writes
//! by a pure, unit-tested planner; a field the host cannot honour is an error naming it. Only
//! the fields that are set are written, so `update --resources` calls [`Manager::apply`] too.
//! Device rules get runc's always-allowed devices appended ([`devices`]); on cgroup2 they are
//! enforced by a generated eBPF device program ([`devices_bpf`]).
//!
//! Paths saved by [`Manager::paths`]: controller name -> directory (co-mounted controllers
//! share one), and the key `""` for the cgroup2 directory, as runc's state.json has them.

pub mod convert;
pub mod detached;
pub mod devices;
pub mod devices_bpf;
mod error;
mod freezer;
mod fsio;
pub mod layout;
mod manager;
pub mod mounts;
pub mod path;
pub mod plan;
pub mod stats;
pub mod systemd;

use std::collections::BTreeMap;
use std::path::PathBuf;

use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;

pub use error::CgroupError;
pub use layout::{detect, Layout, UnifiedHierarchy, V1Hierarchy};
pub use manager::{FsManager, UNIFIED_KEY};
pub use mounts::CgroupMount;
pub use stats::Stats;

/// A container's cgroup, whatever the host's layout.
pub trait Manager: std::fmt::Debug {
    /// Make the container's directory in every hierarchy (parents too). On v1 an empty
    /// cpuset gets its parent's cpus and mems; on cgroup2 every available controller is
    /// delegated down to the container's parent.
    fn create(&self, log: &dyn crate::log::Log) -> Result<(), CgroupError>;
    /// Move a process (and its threads) into the container's cgroup in every hierarchy.
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;
    /// Apply `linux.resources` (at create, and for `update`).
    fn apply(
        &self,
        resources: &LinuxResources,
        log: &dyn crate::log::Log,
    ) -> Result<(), CgroupError>;
    /// Every process in the container's cgroup and its sub-cgroups, sorted.
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    /// Freeze every process; returns once the kernel reports the cgroup frozen.
    fn freeze(&self) -> Result<(), CgroupError>;
    /// Thaw; returns once the kernel reports the cgroup thawed.
    fn thaw(&self) -> Result<(), CgroupError>;
    fn is_frozen(&self) -> Result<bool, CgroupError>;
    /// Send `signal` to every process of the container (`kill --all`): SIGKILL through
    /// `cgroup.kill` when the host has it, else freeze, signal each pid, thaw.
    fn signal_all(&self, signal: Signal) -> Result<(), CgroupError>;
    /// SIGKILL every process (`delete --force`). Processes may take a moment to be gone;
    /// [`Manager::destroy`] waits for that.
    fn kill_all(&self) -> Result<(), CgroupError> {
        self.signal_all(Signal::SIGKILL)
    }
    /// Remove the container's directories (and sub-cgroups made inside them), retrying
    /// briefly while exiting processes keep them busy. Parents (`/docker`) are left alone;
    /// directories already gone are no error.
    fn destroy(&self) -> Result<(), CgroupError>;
    /// Usage figures, shaped like the `data` of runc's `events --stats`.
    fn stats(&self) -> Result<Stats, CgroupError>;
    /// How many processes the kernel's OOM killer has killed in the container's memory cgroup
    /// (v1: `oom_kill` of memory.oom_control, or memory.failcnt on kernels before 4.13 that
    /// lack it; v2: `oom_kill` of memory.events). None without a memory controller.
    fn oom_kill_count(&self) -> Result<Option<u64>, CgroupError>;
    /// How to build the container's `cgroup` mount (see [`mounts`]); nothing is mounted here.
    fn mounts(&self, cgroupns: bool) -> Vec<CgroupMount>;
    /// Controller -> the container's directory for it (`""`: the cgroup2 directory).
    fn paths(&self) -> BTreeMap<String, PathBuf>;
}

/// Which driver makes and removes the container's cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// rrun writes the cgroupfs itself (runc's default).
    Cgroupfs,
    /// A transient systemd unit (`--systemd-cgroup`), see [`systemd`].
    Systemd,
}

/// The manager for a new container: `cgroups_path` is `linux.cgroupsPath` (None: the id).
pub fn manager(
    layout: &Layout,
    cgroups_path: Option<&str>,
    id: &str,
    driver: Driver,
) -> Result<Box<dyn Manager>, CgroupError> {
    if driver == Driver::Systemd {
        return Ok(Box::new(systemd::SystemdManager::new(
            layout,
            cgroups_path,
            id,
        )?));
    }
    let path = path::parse_cgroups_path(cgroups_path, id)?;
    Ok(Box::new(FsManager::new(layout, &path)?))
}

/// The manager of an existing container, from the paths its state saved.
pub fn manager_from_paths(
    layout: &Layout,
    paths: &BTreeMap<String, PathBuf>,
) -> Result<Box<dyn Manager>, CgroupError> {
    Ok(Box::new(FsManager::from_paths(layout, paths)?))
}

/// As [`manager_from_paths`], checked to be the container's own cgroup: each directory is the
/// one its `linux.cgroupsPath` (None: `id`) names, and holds its init while that lives.
pub fn container_manager(
    layout: &Layout,
    paths: &BTreeMap<String, PathBuf>,
    cgroups_path: Option<&str>,
    id: &str,
    live_init: Option<i32>,
    driver: Driver,
) -> Result<Box<dyn Manager>, CgroupError> {
    if driver == Driver::Systemd {
        return Ok(Box::new(systemd::SystemdManager::existing(
            layout,
            paths,
            cgroups_path,
            id,
            live_init,
        )?));
    }
    let m = FsManager::from_paths(layout, paths)?;
    let expected = path::parse_cgroups_path(cgroups_path, id)?;
    m.check_owned(&expected, live_init)?;
    Ok(Box::new(m))
}

/// The manager of a container whose state.json saved no cgroup paths (written by hand, or by
/// an older rrun): the directories its linux.cgroupsPath names, checked the same way, so that
/// `delete` does not leak them.
pub fn container_manager_from_config(
    layout: &Layout,
    cgroups_path: Option<&str>,
    id: &str,
    live_init: Option<i32>,
    driver: Driver,
) -> Result<Box<dyn Manager>, CgroupError> {
    if driver == Driver::Systemd {
        return container_manager(
            layout,
            &BTreeMap::new(),
            cgroups_path,
            id,
            live_init,
            driver,
        );
    }
    let expected = path::parse_cgroups_path(cgroups_path, id)?;
    let m = FsManager::new(layout, &expected)?;
    m.check_owned(&expected, live_init)?;
    Ok(Box::new(m))
}

#[cfg(test)]
mod host_tests;
