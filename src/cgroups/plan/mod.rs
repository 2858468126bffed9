//! `linux.resources` turned into the list of cgroupfs writes that enforce it.
//!
//! The planning is pure: it sees the host only through [`Placement`] (which controller lives
//! on which cgroup version) and a [`Probe`] (does a file exist in the container's cgroup, what
//! does it hold), so every branch is unit-tested with a fake. The manager then performs the
//! writes in order. Values of 0 for `shares`, `blockIO.weight` and the like mean "not set", as
//! engines send them (docker sends `"shares": 0`); a field the host layout cannot honour is an
//! error naming the field, never a silent no-op. The one exception is a per-device block I/O
//! weight for a disk that takes none: left out with a warning ([`Plan::warnings`],
//! [`refused_device_weight`]), as runc goes on.
//!
//! One file per resource, each with its unit tests: `memory`, `cpu` (cpu and cpuset), `pids`,
//! `block_io`, `hugetlb`, `network`, `rdma`, `unified` and `devices`; the tests' shared fakes
//! are in `test_support`. This file holds the types and the driver [`plan`], which fixes the
//! order in which the resources are written.

use std::collections::BTreeSet;

use oci_spec::runtime::LinuxResources;

pub use block_io::refused_device_weight;

use super::devices::DeviceState;
use super::error::CgroupError;

mod block_io;
mod cpu;
mod devices;
mod hugetlb;
mod memory;
mod network;
mod pids;
mod rdma;
#[cfg(test)]
mod test_support;
mod unified;

/// A cgroup version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// Which controllers are mounted on v1 and which are available on the cgroup2 hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub v1: BTreeSet<String>,
    pub v2: BTreeSet<String>,
    /// A cgroup2 hierarchy exists (hybrid or v2), even with no controller in it.
    pub has_unified: bool,
}

impl Placement {
    /// Where a controller is handled: v1 if it has a v1 mount, else v2 if available there.
    pub fn of(&self, controller: &str) -> Option<Version> {
        if self.v1.contains(controller) {
            Some(Version::V1)
        } else if self.v2.contains(controller) {
            Some(Version::V2)
        } else {
            None
        }
    }
}

/// The host as the planner may look at it: files of the container's cgroup, by controller
/// (`""`: the cgroup2 directory's core `cgroup.*` files).
pub trait Probe {
    fn exists(&self, controller: &str, file: &str) -> bool;
    fn read(&self, controller: &str, file: &str) -> Option<String>;
}

/// Everything `apply` does: the writes, in order, then (cgroup2 only) the device program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub writes: Vec<Write>,
    /// The device state to enforce with an eBPF program on the cgroup2 directory.
    pub device_program: Option<DeviceState>,
    /// What was left out and why (per-device weights the host has no file for), for the log.
    pub warnings: Vec<String>,
}

/// One write: `value` into `file` of the container's directory for `controller`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The controller whose directory holds the file; `""` for the cgroup2 directory itself.
    pub controller: String,
    pub file: String,
    pub value: String,
    /// `major:minor` when the write sets a per-device weight: a device whose scheduler takes
    /// no weights refuses it, which is a warning rather than an error (see
    /// [`refused_device_weight`]).
    pub device_weight: Option<String>,
}

struct Planner<'a> {
    placement: &'a Placement,
    probe: &'a dyn Probe,
    writes: Vec<Write>,
    device_program: Option<DeviceState>,
    warnings: Vec<String>,
}

/// Plan the writes for `resources`.
pub fn plan(
    resources: &LinuxResources,
    placement: &Placement,
    probe: &dyn Probe,
) -> Result<Plan, CgroupError> {
    let mut p = Planner {
        placement,
        probe,
        writes: Vec::new(),
        device_program: None,
        warnings: Vec::new(),
    };
    if let Some(cpu) = resources.cpu() {
        p.cpuset(cpu)?;
    }
    if let Some(rules) = resources.devices() {
        p.devices(rules)?;
    }
    if let Some(memory) = resources.memory() {
        p.memory(memory)?;
    }
    if let Some(cpu) = resources.cpu() {
        p.cpu(cpu)?;
    }
    if let Some(pids) = resources.pids() {
        p.pids(pids.limit())?;
    }
    if let Some(io) = resources.block_io() {
        p.block_io(io)?;
    }
    if let Some(limits) = resources.hugepage_limits() {
        for l in limits {
            p.hugepage(l.page_size(), l.limit())?;
        }
    }
    if let Some(net) = resources.network() {
        p.network(net)?;
    }
    if let Some(rdma) = resources.rdma() {
        let mut devices: Vec<_> = rdma.iter().collect();
        devices.sort_by_key(|(name, _)| name.as_str());
        for (device, limit) in devices {
            p.rdma(device, limit.hca_handles(), limit.hca_objects())?;
        }
    }
    if let Some(unified) = resources.unified() {
        p.unified(unified)?;
    }
    Ok(Plan {
        writes: p.writes,
        device_program: p.device_program,
        warnings: p.warnings,
    })
}

impl Planner<'_> {
    fn need(&self, field: &str, controller: &str) -> Result<Version, CgroupError> {
        self.placement
            .of(controller)
            .ok_or_else(|| CgroupError::missing(field, controller))
    }

    fn push(&mut self, controller: &str, file: impl Into<String>, value: impl ToString) {
        self.writes.push(Write {
            controller: controller.to_string(),
            file: file.into(),
            value: value.to_string(),
            device_weight: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn engine_fixtures_plan_on_hybrid() {
        let dir = std::path::Path::new("/work/shared/fixtures/engines");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return; // the fixtures are a development-machine convenience
        };
        let probe = memsw_probe("9223372036854771712");
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let spec: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let Some(res) = spec.pointer("/linux/resources") else {
                continue;
            };
            let res: LinuxResources = serde_json::from_value(res.clone()).unwrap();
            let on_hybrid =
                plan(&res, &hybrid(), &probe).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!on_hybrid.writes.is_empty(), "{}", path.display());
            assert!(on_hybrid.device_program.is_none());
            let v2_probe = FakeProbe::default().with("memory", "memory.swap.max", "max");
            let on_v2 =
                plan(&res, &v2(), &v2_probe).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(on_v2.device_program.is_some(), "{}", path.display());
        }
    }
}
