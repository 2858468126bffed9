//! `linux.resources` turned into the list of cgroupfs writes that enforce it.
//!
//! The planning is pure: it sees the host only through [`Placement`] (which controller lives
//! on which cgroup version) and a [`Probe`] (does a file exist in the container's cgroup, what
//! does it hold), so every branch is unit-tested with a fake. The manager then performs the
//! writes in order. Values of 0 for `shares`, `blockIO.weight` and the like mean "not set", as
//! engines send them (docker sends `"shares": 0`); a field the host layout cannot honour is an
//! error naming the field, never a silent no-op.

use std::collections::BTreeSet;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNetwork, LinuxResources, LinuxThrottleDevice,
};

use super::convert;
use super::devices;
use super::error::CgroupError;

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
    pub device_program: Option<devices::DeviceState>,
}

/// One write: `value` into `file` of the container's directory for `controller`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The controller whose directory holds the file; `""` for the cgroup2 directory itself.
    pub controller: String,
    pub file: String,
    pub value: String,
}

fn is_empty_list<T>(list: &Option<Vec<T>>) -> bool {
    list.as_ref().is_none_or(Vec::is_empty)
}

struct Planner<'a> {
    placement: &'a Placement,
    probe: &'a dyn Probe,
    writes: Vec<Write>,
    device_program: Option<devices::DeviceState>,
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
        });
    }

    fn cpuset(&mut self, cpu: &LinuxCpu) -> Result<(), CgroupError> {
        for (field, file, value) in [
            ("linux.resources.cpu.cpus", "cpuset.cpus", cpu.cpus()),
            ("linux.resources.cpu.mems", "cpuset.mems", cpu.mems()),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                self.need(field, "cpuset")?;
                self.push("cpuset", file, value);
            }
        }
        Ok(())
    }

    fn devices(
        &mut self,
        spec_rules: &[oci_spec::runtime::LinuxDeviceCgroup],
    ) -> Result<(), CgroupError> {
        let rules = devices::effective_rules(spec_rules)?;
        if rules.is_empty() {
            return Ok(());
        }
        if self.placement.v1.contains("devices") {
            for (file, value) in devices::v1_writes(&rules) {
                self.push("devices", file, value);
            }
            Ok(())
        } else if self.placement.has_unified {
            self.device_program = Some(devices::emulate(&rules));
            Ok(())
        } else if devices::restricts(&rules) {
            Err(CgroupError::missing("linux.resources.devices", "devices"))
        } else {
            Ok(())
        }
    }

    fn memory(&mut self, m: &LinuxMemory) -> Result<(), CgroupError> {
        const F: &str = "linux.resources.memory";
        let nonzero = |v: Option<i64>| v.filter(|&v| v != 0);
        let limit = nonzero(m.limit());
        let swap = nonzero(m.swap());
        let reservation = nonzero(m.reservation());
        let kernel_tcp = nonzero(m.kernel_tcp());
        let oom_disable = m.disable_oom_killer() == Some(true);
        let anything = limit.is_some()
            || swap.is_some()
            || reservation.is_some()
            || kernel_tcp.is_some()
            || oom_disable
            || m.swappiness().is_some()
            || m.use_hierarchy().is_some();
        // memory.kernel is deprecated and ignored (kernel memory is always accounted).
        if !anything {
            return Ok(());
        }
        let version = self.need(F, "memory")?;
        if m.check_before_update() == Some(true) {
            if let Some(limit) = limit.filter(|&l| l > 0) {
                self.check_usage_below(version, limit)?;
            }
        }
        match version {
            Version::V1 => self.memory_v1(m, limit, swap, reservation, kernel_tcp, oom_disable),
            Version::V2 => self.memory_v2(m, limit, swap, reservation, kernel_tcp, oom_disable),
        }
    }

    fn check_usage_below(&self, version: Version, limit: i64) -> Result<(), CgroupError> {
        let file = match version {
            Version::V1 => "memory.usage_in_bytes",
            Version::V2 => "memory.current",
        };
        let usage = self
            .probe
            .read("memory", file)
            .and_then(|s| s.trim().parse::<i64>().ok());
        match usage {
            Some(usage) if usage > limit => Err(CgroupError::InvalidValue {
                field: "linux.resources.memory.limit".into(),
                value: limit.to_string(),
                reason: "below the current memory usage (checkBeforeUpdate)",
            }),
            _ => Ok(()),
        }
    }

    fn memory_v1(
        &mut self,
        m: &LinuxMemory,
        limit: Option<i64>,
        swap: Option<i64>,
        reservation: Option<i64>,
        kernel_tcp: Option<i64>,
        oom_disable: bool,
    ) -> Result<(), CgroupError> {
        const LIMIT: &str = "memory.limit_in_bytes";
        const MEMSW: &str = "memory.memsw.limit_in_bytes";
        // Unlimited memory with no swap setting means unlimited memory+swap too.
        let swap = match (limit, swap) {
            (Some(-1), None) if self.probe.exists("memory", MEMSW) => Some(-1),
            _ => swap,
        };
        match swap {
            Some(swap) => {
                if !self.probe.exists("memory", MEMSW) {
                    return Err(CgroupError::unsupported(
                        "linux.resources.memory.swap",
                        "swap accounting is off in this kernel (no memory.memsw.limit_in_bytes)",
                    ));
                }
                // memsw may never be below the memory limit: raise memsw first when growing.
                let current = self
                    .probe
                    .read("memory", LIMIT)
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .unwrap_or(i64::MAX);
                if swap == -1 || current < swap {
                    self.push("memory", MEMSW, swap);
                    if let Some(limit) = limit {
                        self.push("memory", LIMIT, limit);
                    }
                } else {
                    if let Some(limit) = limit {
                        self.push("memory", LIMIT, limit);
                    }
                    self.push("memory", MEMSW, swap);
                }
            }
            None => {
                if let Some(limit) = limit {
                    self.push("memory", LIMIT, limit);
                }
            }
        }
        if let Some(r) = reservation {
            self.push("memory", "memory.soft_limit_in_bytes", r);
        }
        if let Some(t) = kernel_tcp {
            self.push("memory", "memory.kmem.tcp.limit_in_bytes", t);
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(CgroupError::InvalidValue {
                    field: "linux.resources.memory.swappiness".into(),
                    value: s.to_string(),
                    reason: "must be between 0 and 100",
                });
            }
            self.push("memory", "memory.swappiness", s);
        }
        if oom_disable {
            self.push("memory", "memory.oom_control", 1);
        }
        if let Some(h) = m.use_hierarchy() {
            self.push("memory", "memory.use_hierarchy", u8::from(h));
        }
        Ok(())
    }

    fn memory_v2(
        &mut self,
        m: &LinuxMemory,
        limit: Option<i64>,
        swap: Option<i64>,
        reservation: Option<i64>,
        kernel_tcp: Option<i64>,
        oom_disable: bool,
    ) -> Result<(), CgroupError> {
        let v2_only = |field: &str, what: &str| {
            CgroupError::unsupported(field, format!("{what} does not exist on cgroup v2"))
        };
        if m.swappiness().is_some() {
            return Err(v2_only(
                "linux.resources.memory.swappiness",
                "memory.swappiness",
            ));
        }
        if oom_disable {
            return Err(v2_only(
                "linux.resources.memory.disableOOMKiller",
                "disabling the OOM killer",
            ));
        }
        if kernel_tcp.is_some() {
            return Err(v2_only(
                "linux.resources.memory.kernelTCP",
                "a separate TCP buffer limit",
            ));
        }
        if m.use_hierarchy() == Some(false) {
            return Err(v2_only(
                "linux.resources.memory.useHierarchy",
                "non-hierarchical accounting",
            ));
        }
        let swap_max = convert::memory_swap_to_v2(swap.unwrap_or(0), limit.unwrap_or(0)).map_err(
            |reason| CgroupError::InvalidValue {
                field: "linux.resources.memory.swap".into(),
                value: swap.unwrap_or(0).to_string(),
                reason,
            },
        )?;
        if let Some(swap_max) = swap_max {
            if self.probe.exists("memory", "memory.swap.max") {
                self.push("memory", "memory.swap.max", convert::v2_limit(swap_max));
            } else if swap_max > 0 {
                return Err(CgroupError::unsupported(
                    "linux.resources.memory.swap",
                    "swap accounting is off in this kernel (no memory.swap.max)",
                ));
            }
        }
        if let Some(limit) = limit {
            self.push("memory", "memory.max", convert::v2_limit(limit));
        }
        if let Some(r) = reservation {
            self.push("memory", "memory.low", convert::v2_limit(r));
        }
        Ok(())
    }

    fn cpu(&mut self, cpu: &LinuxCpu) -> Result<(), CgroupError> {
        const F: &str = "linux.resources.cpu";
        let shares = cpu.shares().filter(|&s| s != 0);
        let quota = cpu.quota().filter(|&q| q != 0);
        let period = cpu.period().filter(|&p| p != 0);
        let rt_runtime = cpu.realtime_runtime().filter(|&r| r != 0);
        let rt_period = cpu.realtime_period().filter(|&p| p != 0);
        let anything = shares.is_some()
            || quota.is_some()
            || period.is_some()
            || cpu.burst().is_some()
            || rt_runtime.is_some()
            || rt_period.is_some()
            || cpu.idle().is_some();
        if !anything {
            return Ok(());
        }
        match self.need(F, "cpu")? {
            Version::V1 => {
                if let Some(s) = shares {
                    self.push("cpu", "cpu.shares", s);
                }
                // The period first: the quota is checked against it.
                if let Some(p) = period {
                    self.push("cpu", "cpu.cfs_period_us", p);
                }
                if let Some(q) = quota {
                    self.push("cpu", "cpu.cfs_quota_us", q);
                }
                if let Some(b) = cpu.burst() {
                    self.push("cpu", "cpu.cfs_burst_us", b);
                }
                if let Some(p) = rt_period {
                    self.push("cpu", "cpu.rt_period_us", p);
                }
                if let Some(r) = rt_runtime {
                    self.push("cpu", "cpu.rt_runtime_us", r);
                }
            }
            Version::V2 => {
                if rt_runtime.is_some() || rt_period.is_some() {
                    return Err(CgroupError::unsupported(
                        "linux.resources.cpu.realtimeRuntime",
                        "realtime scheduling budgets do not exist on cgroup v2",
                    ));
                }
                if let Some(s) = shares {
                    self.push("cpu", "cpu.weight", convert::cpu_shares_to_weight(s));
                }
                if quota.is_some() || period.is_some() {
                    let mut max = match quota {
                        Some(q) if q > 0 => q.to_string(),
                        _ => "max".to_string(),
                    };
                    if let Some(p) = period {
                        max = format!("{max} {p}");
                    }
                    self.push("cpu", "cpu.max", max);
                }
                if let Some(b) = cpu.burst() {
                    self.push("cpu", "cpu.max.burst", b);
                }
            }
        }
        if let Some(idle) = cpu.idle() {
            self.push("cpu", "cpu.idle", idle);
        }
        Ok(())
    }

    fn pids(&mut self, limit: i64) -> Result<(), CgroupError> {
        // 0 means "not set" (as runc); negative means no limit.
        if limit == 0 {
            return Ok(());
        }
        self.need("linux.resources.pids", "pids")?;
        self.push("pids", "pids.max", convert::v2_limit(limit));
        Ok(())
    }

    fn block_io(&mut self, io: &LinuxBlockIo) -> Result<(), CgroupError> {
        const F: &str = "linux.resources.blockIO";
        let weight = io.weight().filter(|&w| w != 0);
        let leaf_weight = io.leaf_weight().filter(|&w| w != 0);
        let anything = weight.is_some()
            || leaf_weight.is_some()
            || !is_empty_list(io.weight_device())
            || !is_empty_list(io.throttle_read_bps_device())
            || !is_empty_list(io.throttle_write_bps_device())
            || !is_empty_list(io.throttle_read_iops_device())
            || !is_empty_list(io.throttle_write_iops_device());
        if !anything {
            return Ok(());
        }
        match self.need(
            F,
            if self.placement.v1.contains("blkio") {
                "blkio"
            } else {
                "io"
            },
        )? {
            Version::V1 => self.blkio_v1(io, weight, leaf_weight),
            Version::V2 => self.io_v2(io, weight, leaf_weight),
        }
    }

    fn blkio_v1(
        &mut self,
        io: &LinuxBlockIo,
        weight: Option<u16>,
        leaf_weight: Option<u16>,
    ) -> Result<(), CgroupError> {
        let bfq = self.probe.exists("blkio", "blkio.bfq.weight");
        let (weight_file, device_file) = if bfq {
            ("blkio.bfq.weight", "blkio.bfq.weight_device")
        } else {
            ("blkio.weight", "blkio.weight_device")
        };
        let needs_weight = weight.is_some()
            || io
                .weight_device()
                .as_ref()
                .is_some_and(|d| d.iter().any(|d| d.weight().is_some()));
        if needs_weight && !self.probe.exists("blkio", weight_file) {
            return Err(CgroupError::unsupported(
                "linux.resources.blockIO.weight",
                "no blkio weight file (the block scheduler is neither BFQ nor CFQ)",
            ));
        }
        if let Some(w) = weight {
            self.push("blkio", weight_file, w);
        }
        if let Some(w) = leaf_weight {
            if !self.probe.exists("blkio", "blkio.leaf_weight") {
                return Err(CgroupError::unsupported(
                    "linux.resources.blockIO.leafWeight",
                    "leaf weights need the CFQ scheduler, which this kernel lacks",
                ));
            }
            self.push("blkio", "blkio.leaf_weight", w);
        }
        for d in io.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                self.push(
                    "blkio",
                    device_file,
                    format!("{}:{} {w}", d.major(), d.minor()),
                );
            }
            if let Some(w) = d.leaf_weight() {
                if !self.probe.exists("blkio", "blkio.leaf_weight_device") {
                    return Err(CgroupError::unsupported(
                        "linux.resources.blockIO.weightDevice.leafWeight",
                        "leaf weights need the CFQ scheduler, which this kernel lacks",
                    ));
                }
                let line = format!("{}:{} {w}", d.major(), d.minor());
                self.push("blkio", "blkio.leaf_weight_device", line);
            }
        }
        let throttles: [(&str, &Option<Vec<LinuxThrottleDevice>>); 4] = [
            (
                "blkio.throttle.read_bps_device",
                io.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                io.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                io.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                io.throttle_write_iops_device(),
            ),
        ];
        for (file, devices) in throttles {
            for d in devices.iter().flatten() {
                self.push(
                    "blkio",
                    file,
                    format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                );
            }
        }
        Ok(())
    }

    fn io_v2(
        &mut self,
        io: &LinuxBlockIo,
        weight: Option<u16>,
        leaf_weight: Option<u16>,
    ) -> Result<(), CgroupError> {
        let leaf_devices = io
            .weight_device()
            .as_ref()
            .is_some_and(|d| d.iter().any(|d| d.leaf_weight().is_some()));
        if leaf_weight.is_some() || leaf_devices {
            return Err(CgroupError::unsupported(
                "linux.resources.blockIO.leafWeight",
                "leaf weights do not exist on cgroup v2",
            ));
        }
        // BFQ takes the v1 weight range as is; io.weight (io.cost) takes 1..10000.
        let bfq = self.probe.exists("io", "io.bfq.weight");
        let weigh = |w: u16| {
            if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                (
                    "io.weight",
                    convert::blkio_weight_to_io_weight(u64::from(w)),
                )
            }
        };
        if let Some(w) = weight {
            let (file, value) = weigh(w);
            self.push("io", file, value);
        }
        for d in io.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                let (file, value) = weigh(w);
                self.push("io", file, format!("{}:{} {value}", d.major(), d.minor()));
            }
        }
        let throttles: [(&str, &Option<Vec<LinuxThrottleDevice>>); 4] = [
            ("rbps", io.throttle_read_bps_device()),
            ("wbps", io.throttle_write_bps_device()),
            ("riops", io.throttle_read_iops_device()),
            ("wiops", io.throttle_write_iops_device()),
        ];
        for (key, devices) in throttles {
            for d in devices.iter().flatten() {
                let line = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
                self.push("io", "io.max", line);
            }
        }
        Ok(())
    }

    fn hugepage(&mut self, page_size: &str, limit: i64) -> Result<(), CgroupError> {
        const F: &str = "linux.resources.hugepageLimits";
        let digits = page_size.trim_end_matches(['K', 'M', 'G', 'B']);
        let valid = page_size.ends_with("B")
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
            && page_size.len() == digits.len() + 2;
        if !valid {
            return Err(CgroupError::InvalidValue {
                field: format!("{F}.pageSize"),
                value: page_size.to_string(),
                reason: "expected a size like 2MB or 1GB",
            });
        }
        let (file, rsvd, value) = match self.need(F, "hugetlb")? {
            Version::V1 => (
                format!("hugetlb.{page_size}.limit_in_bytes"),
                format!("hugetlb.{page_size}.rsvd.limit_in_bytes"),
                limit.to_string(),
            ),
            Version::V2 => (
                format!("hugetlb.{page_size}.max"),
                format!("hugetlb.{page_size}.rsvd.max"),
                convert::v2_limit(limit),
            ),
        };
        if !self.probe.exists("hugetlb", &file) {
            return Err(CgroupError::unsupported(
                &format!("{F}.pageSize"),
                format!(
                    "no {file} in the container's cgroup: the host has no {page_size} huge \
                     pages, or the hugetlb controller is not enabled for this cgroup"
                ),
            ));
        }
        self.push("hugetlb", file, &value);
        if self.probe.exists("hugetlb", &rsvd) {
            self.push("hugetlb", rsvd, value);
        }
        Ok(())
    }

    fn network(&mut self, net: &LinuxNetwork) -> Result<(), CgroupError> {
        const F: &str = "linux.resources.network";
        if let Some(id) = net.class_id() {
            if !self.placement.v1.contains("net_cls") {
                return Err(self.network_missing(&format!("{F}.classID"), "net_cls"));
            }
            self.push("net_cls", "net_cls.classid", id);
        }
        for p in net.priorities().iter().flatten() {
            if !self.placement.v1.contains("net_prio") {
                return Err(self.network_missing(&format!("{F}.priorities"), "net_prio"));
            }
            self.push(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            );
        }
        Ok(())
    }

    fn network_missing(&self, field: &str, controller: &str) -> CgroupError {
        if self.placement.v1.is_empty() {
            CgroupError::unsupported(field, format!("cgroup v2 has no {controller} controller"))
        } else {
            CgroupError::missing(field, controller)
        }
    }

    fn rdma(
        &mut self,
        device: &str,
        handles: Option<u32>,
        objects: Option<u32>,
    ) -> Result<(), CgroupError> {
        self.need("linux.resources.rdma", "rdma")?;
        let mut line = device.to_string();
        if let Some(h) = handles {
            line += &format!(" hca_handle={h}");
        }
        if let Some(o) = objects {
            line += &format!(" hca_object={o}");
        }
        if handles.is_some() || objects.is_some() {
            self.push("rdma", "rdma.max", line);
        }
        Ok(())
    }

    fn unified(
        &mut self,
        unified: &std::collections::HashMap<String, String>,
    ) -> Result<(), CgroupError> {
        if unified.is_empty() {
            return Ok(());
        }
        if !self.placement.has_unified {
            return Err(CgroupError::unsupported(
                "linux.resources.unified",
                "the host has no cgroup v2 hierarchy",
            ));
        }
        let mut keys: Vec<_> = unified.iter().collect();
        keys.sort();
        for (key, value) in keys {
            let field = format!("linux.resources.unified.{key}");
            let bad = |reason| CgroupError::InvalidValue {
                field: field.clone(),
                value: value.clone(),
                reason,
            };
            let Some((prefix, _)) = key.split_once('.') else {
                return Err(bad("the key must name a cgroup file like memory.high"));
            };
            if key.contains('/') || prefix.is_empty() {
                return Err(bad("the key must name a cgroup file like memory.high"));
            }
            if prefix == "cgroup" {
                const MANAGED: &[&str] = &[
                    "cgroup.procs",
                    "cgroup.threads",
                    "cgroup.subtree_control",
                    "cgroup.kill",
                    "cgroup.freeze",
                ];
                if MANAGED.contains(&key.as_str()) {
                    return Err(bad("this file is managed by the runtime itself"));
                }
                self.push("", key.as_str(), value);
                continue;
            }
            match self.placement.of(prefix) {
                Some(Version::V2) => self.push(prefix, key.as_str(), value),
                Some(Version::V1) => {
                    return Err(CgroupError::unsupported(
                        &field,
                        format!("the {prefix} controller is on cgroup v1 on this host"),
                    ))
                }
                None => return Err(CgroupError::missing(&field, prefix)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A fake container cgroup: the files that exist, with their contents.
    #[derive(Default)]
    struct FakeProbe(BTreeMap<(String, String), String>);

    impl FakeProbe {
        fn with(mut self, controller: &str, file: &str, value: &str) -> Self {
            self.0.insert(
                (controller.to_string(), file.to_string()),
                value.to_string(),
            );
            self
        }
    }

    impl Probe for FakeProbe {
        fn exists(&self, controller: &str, file: &str) -> bool {
            self.0
                .contains_key(&(controller.to_string(), file.to_string()))
        }
        fn read(&self, controller: &str, file: &str) -> Option<String> {
            self.0
                .get(&(controller.to_string(), file.to_string()))
                .cloned()
        }
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn hybrid() -> Placement {
        Placement {
            v1: set(&[
                "cpu",
                "cpuacct",
                "cpuset",
                "memory",
                "devices",
                "freezer",
                "blkio",
                "pids",
                "name=systemd",
            ]),
            v2: set(&["hugetlb"]),
            has_unified: true,
        }
    }

    fn v2() -> Placement {
        Placement {
            v1: BTreeSet::new(),
            v2: set(&["cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma"]),
            has_unified: true,
        }
    }

    fn v1_only() -> Placement {
        let mut p = hybrid();
        p.v2.clear();
        p.has_unified = false;
        p
    }

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn lines(writes: &[Write]) -> Vec<String> {
        writes
            .iter()
            .map(|w| format!("{}:{}={}", w.controller, w.file, w.value))
            .collect()
    }

    fn plan_lines(json: &str, placement: &Placement, probe: &FakeProbe) -> Vec<String> {
        lines(&plan(&resources(json), placement, probe).unwrap().writes)
    }

    fn plan_err(json: &str, placement: &Placement, probe: &FakeProbe) -> String {
        plan(&resources(json), placement, probe)
            .unwrap_err()
            .to_string()
    }

    fn memsw_probe(current_limit: &str) -> FakeProbe {
        FakeProbe::default()
            .with(
                "memory",
                "memory.memsw.limit_in_bytes",
                "9223372036854771712",
            )
            .with("memory", "memory.limit_in_bytes", current_limit)
    }

    #[test]
    fn docker_defaults_write_only_devices() {
        let json = r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"}],
            "memory":{"disableOOMKiller":false},"cpu":{"shares":0},"blockIO":{"weight":0}}"#;
        let got = plan_lines(json, &hybrid(), &FakeProbe::default());
        assert_eq!(got[0], "devices:devices.deny=a");
        assert_eq!(got[1], "devices:devices.deny=a");
        assert_eq!(got[2], "devices:devices.allow=c 1:5 rwm");
        assert!(got.iter().all(|l| l.starts_with("devices:")), "{got:?}");
    }

    #[test]
    fn devices_become_a_program_on_v2() {
        let json = r#"{"devices":[{"allow":false,"access":"rwm"}]}"#;
        let plan = plan(&resources(json), &v2(), &FakeProbe::default()).unwrap();
        assert!(plan.writes.is_empty());
        let state = plan.device_program.unwrap();
        assert!(!state.default_allow);
        assert_eq!(state.exceptions.len(), 11);
        let mut no_devices = v1_only();
        no_devices.v1.remove("devices");
        let err = plan_err(json, &no_devices, &FakeProbe::default());
        assert!(err.contains("linux.resources.devices"), "{err}");
    }

    #[test]
    fn memory_v1_lowering_writes_limit_before_memsw() {
        let json = r#"{"memory":{"limit":67108864,"swap":134217728,"reservation":1024,
            "swappiness":10,"disableOOMKiller":true,"kernel":1}}"#;
        let got = plan_lines(json, &hybrid(), &memsw_probe("9223372036854771712"));
        assert_eq!(
            got,
            [
                "memory:memory.limit_in_bytes=67108864",
                "memory:memory.memsw.limit_in_bytes=134217728",
                "memory:memory.soft_limit_in_bytes=1024",
                "memory:memory.swappiness=10",
                "memory:memory.oom_control=1",
            ]
        );
    }

    #[test]
    fn memory_v1_raising_writes_memsw_first() {
        let json = r#"{"memory":{"limit":268435456,"swap":536870912}}"#;
        let got = plan_lines(json, &hybrid(), &memsw_probe("67108864"));
        assert_eq!(
            got,
            [
                "memory:memory.memsw.limit_in_bytes=536870912",
                "memory:memory.limit_in_bytes=268435456",
            ]
        );
        let unlimited = plan_lines(r#"{"memory":{"limit":-1}}"#, &hybrid(), &memsw_probe("1"));
        assert_eq!(
            unlimited,
            [
                "memory:memory.memsw.limit_in_bytes=-1",
                "memory:memory.limit_in_bytes=-1",
            ]
        );
    }

    #[test]
    fn memory_v1_swap_without_accounting_is_an_error() {
        let err = plan_err(
            r#"{"memory":{"limit":1048576,"swap":2097152}}"#,
            &hybrid(),
            &FakeProbe::default(),
        );
        assert!(err.contains("linux.resources.memory.swap"), "{err}");
        let bad = plan_err(
            r#"{"memory":{"swappiness":101}}"#,
            &hybrid(),
            &FakeProbe::default(),
        );
        assert!(bad.contains("swappiness"), "{bad}");
    }

    #[test]
    fn memory_v2_converts_swap_and_refuses_v1_only_fields() {
        let probe = FakeProbe::default().with("memory", "memory.swap.max", "max");
        let got = plan_lines(
            r#"{"memory":{"limit":67108864,"swap":134217728,"reservation":-1}}"#,
            &v2(),
            &probe,
        );
        assert_eq!(
            got,
            [
                "memory:memory.swap.max=67108864",
                "memory:memory.max=67108864",
                "memory:memory.low=max",
            ]
        );
        for (json, field) in [
            (r#"{"memory":{"swappiness":1}}"#, "swappiness"),
            (
                r#"{"memory":{"disableOOMKiller":true}}"#,
                "disableOOMKiller",
            ),
            (r#"{"memory":{"kernelTCP":1}}"#, "kernelTCP"),
            (r#"{"memory":{"limit":100,"swap":50}}"#, "memory.swap"),
        ] {
            let err = plan_err(json, &v2(), &probe);
            assert!(err.contains(field), "{json}: {err}");
        }
        // Disabling swap without swap accounting is nothing to do.
        let got = plan_lines(
            r#"{"memory":{"limit":100,"swap":100}}"#,
            &v2(),
            &FakeProbe::default(),
        );
        assert_eq!(got, ["memory:memory.max=100"]);
    }

    #[test]
    fn cpu_v1_and_v2() {
        let json = r#"{"cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0","mems":"0","idle":0}}"#;
        assert_eq!(
            plan_lines(json, &hybrid(), &FakeProbe::default()),
            [
                "cpuset:cpuset.cpus=0",
                "cpuset:cpuset.mems=0",
                "cpu:cpu.shares=1024",
                "cpu:cpu.cfs_period_us=100000",
                "cpu:cpu.cfs_quota_us=50000",
                "cpu:cpu.idle=0",
            ]
        );
        assert_eq!(
            plan_lines(json, &v2(), &FakeProbe::default()),
            [
                "cpuset:cpuset.cpus=0",
                "cpuset:cpuset.mems=0",
                "cpu:cpu.weight=39",
                "cpu:cpu.max=50000 100000",
                "cpu:cpu.idle=0",
            ]
        );
        assert_eq!(
            plan_lines(r#"{"cpu":{"quota":-1}}"#, &v2(), &FakeProbe::default()),
            ["cpu:cpu.max=max"]
        );
        let rt = r#"{"cpu":{"realtimeRuntime":950000,"realtimePeriod":1000000}}"#;
        assert_eq!(
            plan_lines(rt, &hybrid(), &FakeProbe::default()),
            [
                "cpu:cpu.rt_period_us=1000000",
                "cpu:cpu.rt_runtime_us=950000"
            ]
        );
        assert!(plan_err(rt, &v2(), &FakeProbe::default()).contains("realtimeRuntime"));
    }

    #[test]
    fn pids_limits() {
        let probe = FakeProbe::default();
        assert_eq!(
            plan_lines(r#"{"pids":{"limit":2048}}"#, &hybrid(), &probe),
            ["pids:pids.max=2048"]
        );
        assert_eq!(
            plan_lines(r#"{"pids":{"limit":-1}}"#, &v2(), &probe),
            ["pids:pids.max=max"]
        );
        assert!(plan_lines(r#"{"pids":{"limit":0}}"#, &v2(), &probe).is_empty());
    }

    #[test]
    fn block_io_v1_and_v2() {
        let json = r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":300}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
            "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":100}]}}"#;
        let bfq = FakeProbe::default().with("blkio", "blkio.bfq.weight", "100");
        assert_eq!(
            plan_lines(json, &hybrid(), &bfq),
            [
                "blkio:blkio.bfq.weight=500",
                "blkio:blkio.bfq.weight_device=8:0 300",
                "blkio:blkio.throttle.read_bps_device=8:0 1048576",
                "blkio:blkio.throttle.write_iops_device=8:0 100",
            ]
        );
        let err = plan_err(json, &hybrid(), &FakeProbe::default());
        assert!(err.contains("blockIO.weight"), "{err}");
        assert_eq!(
            plan_lines(json, &v2(), &FakeProbe::default()),
            [
                "io:io.weight=4950",
                "io:io.weight=8:0 2930",
                "io:io.max=8:0 rbps=1048576",
                "io:io.max=8:0 wiops=100",
            ]
        );
        let v2_bfq = FakeProbe::default().with("io", "io.bfq.weight", "100");
        assert_eq!(plan_lines(json, &v2(), &v2_bfq)[0], "io:io.bfq.weight=500");
        let throttle_only =
            r#"{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]}}"#;
        assert_eq!(
            plan_lines(throttle_only, &hybrid(), &FakeProbe::default()),
            ["blkio:blkio.throttle.read_bps_device=8:0 1"]
        );
    }

    #[test]
    fn hugetlb_goes_to_v2_files_in_hybrid() {
        let json = r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#;
        let probe = FakeProbe::default()
            .with("hugetlb", "hugetlb.2MB.max", "max")
            .with("hugetlb", "hugetlb.2MB.rsvd.max", "max");
        assert_eq!(
            plan_lines(json, &hybrid(), &probe),
            [
                "hugetlb:hugetlb.2MB.max=4194304",
                "hugetlb:hugetlb.2MB.rsvd.max=4194304"
            ]
        );
        let mut v1 = hybrid();
        v1.v1.insert("hugetlb".into());
        let probe = FakeProbe::default().with("hugetlb", "hugetlb.2MB.limit_in_bytes", "0");
        assert_eq!(
            plan_lines(json, &v1, &probe),
            ["hugetlb:hugetlb.2MB.limit_in_bytes=4194304"]
        );
        let err = plan_err(json, &v1_only(), &probe);
        assert!(err.contains("hugetlb"), "{err}");
        let err = plan_err(
            r#"{"hugepageLimits":[{"pageSize":"2XB","limit":1}]}"#,
            &hybrid(),
            &probe,
        );
        assert!(err.contains("pageSize"), "{err}");
    }

    #[test]
    fn network_is_v1_only() {
        let json = r#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]}}"#;
        let mut p = hybrid();
        p.v1.insert("net_cls".into());
        p.v1.insert("net_prio".into());
        assert_eq!(
            plan_lines(json, &p, &FakeProbe::default()),
            [
                "net_cls:net_cls.classid=1048577",
                "net_prio:net_prio.ifpriomap=eth0 5"
            ]
        );
        let err = plan_err(json, &hybrid(), &FakeProbe::default());
        assert!(err.contains("classID") && err.contains("net_cls"), "{err}");
        let err = plan_err(json, &v2(), &FakeProbe::default());
        assert!(err.contains("cgroup v2 has no net_cls"), "{err}");
    }

    #[test]
    fn rdma_limits() {
        let json = r#"{"rdma":{"mlx5_1":{"hcaHandles":3,"hcaObjects":10000}}}"#;
        assert_eq!(
            plan_lines(json, &v2(), &FakeProbe::default()),
            ["rdma:rdma.max=mlx5_1 hca_handle=3 hca_object=10000"]
        );
        assert!(plan_err(json, &hybrid(), &FakeProbe::default()).contains("rdma"));
    }

    #[test]
    fn unified_keys() {
        let json = r#"{"unified":{"memory.high":"1000000","cgroup.max.depth":"3"}}"#;
        assert_eq!(
            plan_lines(json, &v2(), &FakeProbe::default()),
            [":cgroup.max.depth=3", "memory:memory.high=1000000"]
        );
        let err = plan_err(json, &hybrid(), &FakeProbe::default());
        assert!(
            err.contains("memory.high") && err.contains("cgroup v1"),
            "{err}"
        );
        let hugetlb = r#"{"unified":{"hugetlb.2MB.max":"0"}}"#;
        assert_eq!(
            plan_lines(hugetlb, &hybrid(), &FakeProbe::default()),
            ["hugetlb:hugetlb.2MB.max=0"]
        );
        let err = plan_err(json, &v1_only(), &FakeProbe::default());
        assert!(err.contains("linux.resources.unified"), "{err}");
        for bad in [
            r#"{"unified":{"../x.y":"1"}}"#,
            r#"{"unified":{"nodot":"1"}}"#,
            r#"{"unified":{"cgroup.procs":"1"}}"#,
        ] {
            assert!(
                plan(&resources(bad), &v2(), &FakeProbe::default()).is_err(),
                "{bad}"
            );
        }
        let err = plan_err(
            r#"{"unified":{"misc.max":"1"}}"#,
            &v2(),
            &FakeProbe::default(),
        );
        assert!(err.contains("misc"), "{err}");
    }

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
