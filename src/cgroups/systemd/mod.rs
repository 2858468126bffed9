//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient
//! scope that systemd creates, owns and removes, as runc's, crun's and youki's drivers do.
//!
//! ```text
//! cgroupsPath "system.slice:docker:<id>"   -> unit docker-<id>.scope in system.slice
//!                                              ([`unit`], runc's rules, slices expanded)
//! add_process(stage-1 pid)  (first call)   -> StartTransientUnit(unit, PIDs=[pid],
//!                                              Delegate=yes, accounting on), job waited for;
//!                                              then the directories systemd does not make
//!                                              (v1 hierarchies it does not manage) and the
//!                                              pid written to each, as for cgroupfs
//! apply(resources)                         -> the cgroup files (as cgroupfs), then
//!                                              SetUnitProperties with what systemd knows
//!                                              ([`properties`]) so that systemd keeps it
//! destroy()                                -> StopUnit, job waited for, leftovers removed
//! ```
//! Everything else (freeze, pids, stats, signals, the container's cgroup mounts) works on the
//! files, through the same [`FsManager`] as the cgroupfs driver, at the unit's cgroup.
//! The bus is spoken by a small client of our own ([`dbus`]); it is only opened by commands
//! that need systemd (create, update, delete), so `run` with cgroupfs pays nothing for it.

pub mod client;
pub mod dbus;
pub mod properties;
pub mod unit;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::PathBuf;

use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;

use super::error::CgroupError;
use super::layout::Layout;
use super::manager::FsManager;
use super::mounts::CgroupMount;
use super::path::{CgroupsPath, OwnCgroups};
use super::plan::Version;
use super::stats::Stats;
use super::Manager;
use client::Systemd;
use unit::Unit;

/// A container's cgroup as a systemd unit.
#[derive(Debug)]
pub struct SystemdManager {
    unit: Unit,
    id: String,
    version: Version,
    fs: FsManager,
    /// The unit exists (started by this command, or by the create of an existing container).
    started: Cell<bool>,
    /// Opened on first use.
    client: RefCell<Option<Systemd>>,
}

fn version_of(layout: &Layout) -> Version {
    match layout {
        Layout::V2 { .. } => Version::V2,
        _ => Version::V1,
    }
}

impl SystemdManager {
    /// The manager of a new container whose unit is named by `cgroups_path`.
    pub fn new(
        layout: &Layout,
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<SystemdManager, CgroupError> {
        if !client::running() {
            return Err(CgroupError::SystemdNotRunning);
        }
        let unit = unit::parse(cgroups_path, id)?;
        let fs = FsManager::with_own(
            layout,
            &CgroupsPath::Absolute(unit.cgroup.clone()),
            &OwnCgroups::default(),
        )?;
        Ok(SystemdManager {
            unit,
            id: id.to_string(),
            version: version_of(layout),
            fs,
            started: Cell::new(false),
            client: RefCell::new(None),
        })
    }

    /// The manager of an existing container, from the paths its state saved, checked to be
    /// its unit's cgroup (holding its init while that lives).
    pub fn existing(
        layout: &Layout,
        paths: &BTreeMap<String, PathBuf>,
        cgroups_path: Option<&str>,
        id: &str,
        live_init: Option<i32>,
    ) -> Result<SystemdManager, CgroupError> {
        let unit = unit::parse(cgroups_path, id)?;
        let fs = if paths.is_empty() {
            FsManager::with_own(
                layout,
                &CgroupsPath::Absolute(unit.cgroup.clone()),
                &OwnCgroups::default(),
            )?
        } else {
            FsManager::from_paths(layout, paths)?
        };
        fs.check_owned(&CgroupsPath::Absolute(unit.cgroup.clone()), live_init)?;
        Ok(SystemdManager {
            unit,
            id: id.to_string(),
            version: version_of(layout),
            fs,
            started: Cell::new(true),
            client: RefCell::new(None),
        })
    }

    /// The unit's name (`docker-<id>.scope`).
    pub fn unit_name(&self) -> &str {
        &self.unit.name
    }

    fn with_client<T>(
        &self,
        f: impl FnOnce(&mut Systemd) -> Result<T, CgroupError>,
    ) -> Result<T, CgroupError> {
        let mut slot = self.client.borrow_mut();
        if slot.is_none() {
            *slot = Some(Systemd::connect()?);
        }
        match slot.as_mut() {
            Some(c) => f(c),
            None => Err(CgroupError::SystemdNotRunning),
        }
    }

    /// On v1, systemd places a unit's processes in each hierarchy by its own mask, and with a
    /// nested slice it put the container's init in the pod slice's `devices` cgroup (runc's
    /// too; seen in the guest of scripts/systemd-vm.sh): there the container's device rules
    /// would not apply. Every process goes back into the unit's own directory of every
    /// hierarchy.
    fn rejoin(&self) -> Result<(), CgroupError> {
        for pid in self.fs.pids()? {
            match self.fs.add_process(pid) {
                // Gone in the meantime.
                Err(e) if e.errno() == Some(libc::ESRCH) => {}
                other => other?,
            }
        }
        Ok(())
    }

    fn start(&self, pid: Option<i32>) -> Result<(), CgroupError> {
        let mut props = properties::base(
            &format!("rrun container {}", self.id),
            &self.unit.slice,
            self.unit.is_slice(),
            self.version,
        );
        if let Some(pid) = pid {
            let pid = u32::try_from(pid).map_err(|_| CgroupError::InvalidValue {
                field: "pid".into(),
                value: pid.to_string(),
                reason: "negative",
            })?;
            props.push((
                "PIDs".into(),
                dbus::Value::Array {
                    elem: "u".into(),
                    items: vec![dbus::Value::U32(pid)],
                },
            ));
        }
        self.with_client(|c| c.start_transient_unit(&self.unit.name, &props))?;
        self.started.set(true);
        Ok(())
    }
}

impl Manager for SystemdManager {
    /// A slice unit is started here; a scope needs a process, so it starts at the first
    /// [`Manager::add_process`]. The connection is opened now, so that a host without a
    /// reachable systemd fails before anything exists.
    fn create(&self, log: &dyn crate::log::Log) -> Result<(), CgroupError> {
        self.with_client(|_| Ok(()))?;
        if self.unit.is_slice() && !self.started.get() {
            self.start(None)?;
            self.fs.create(log)?;
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        if !self.started.get() {
            self.start(Some(pid))?;
            // The directories systemd does not make (v1 hierarchies it does not manage), and
            // on cgroup2 the controllers delegated down to the scope. add_process has no log:
            // a warning of this late create (a hybrid host's cgroup2 part left out) is dropped.
            self.fs.create(&crate::log::Silent)?;
        }
        self.fs.add_process(pid)
    }

    fn apply(
        &self,
        resources: &LinuxResources,
        log: &dyn crate::log::Log,
    ) -> Result<(), CgroupError> {
        self.fs.apply(resources, log)?;
        let proc_devices = std::fs::read_to_string("/proc/devices").unwrap_or_default();
        let props = properties::resources(resources, self.version, &proc_devices)?;
        if self.started.get() && !props.is_empty() {
            self.with_client(|c| c.set_unit_properties(&self.unit.name, &props))?;
            if self.version == Version::V1 {
                self.rejoin()?;
            }
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        self.fs.pids()
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        self.fs.freeze()
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        self.fs.thaw()
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        self.fs.is_frozen()
    }

    /// As cgroupfs; but systemd removes a scope's cgroup as soon as its last process is gone,
    /// at any moment: a cgroup that vanished has nobody left to signal.
    fn signal_all(&self, signal: Signal) -> Result<(), CgroupError> {
        match self.fs.signal_all(signal) {
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
            other => other,
        }
    }

    /// Stop the unit (systemd removes its cgroup), then whatever systemd left: the
    /// directories in hierarchies it does not manage.
    fn destroy(&self) -> Result<(), CgroupError> {
        if self.started.get() {
            self.with_client(|c| c.stop_unit(&self.unit.name))?;
        }
        self.fs.destroy()
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        self.fs.stats()
    }

    fn oom_kill_count(&self) -> Result<Option<u64>, CgroupError> {
        self.fs.oom_kill_count()
    }

    fn mounts(&self, cgroupns: bool) -> Vec<CgroupMount> {
        self.fs.mounts(cgroupns)
    }

    fn paths(&self) -> BTreeMap<String, PathBuf> {
        self.fs.paths()
    }
}
