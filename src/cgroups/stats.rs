//! Resource usage of a container, shaped like the `data` of runc 1.1.5's `events --stats`
//! (its types/events.go: field names and order, omitted-when-zero fields, `intel_rdt` as `{}`
//! and `network_interfaces` as `null`, as runc prints them for an OCI container), read from v1
//! or v2 files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::error::CgroupError;
use super::fsio;
use super::plan::Version;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The whole `data` object of a stats event.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    /// Keyed by page size (`2MB`).
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT is not supported (a config asking for it is refused): always `{}`.
    pub intel_rdt: IntelRdt,
    /// runc fills this only for interfaces of its own (non-OCI) network config: always `null`.
    pub network_interfaces: Option<Vec<NetworkInterface>>,
}

/// v1 cpuset files, as runc reads them (all zero, and no cpus or mems, on cgroup2).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

/// runc's intel_rdt object; every field of it is omitted when absent, so it prints as `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IntelRdt {}

/// One entry of runc's network_interfaces (never filled here).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkInterface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuUsage {
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// v1 cpuacct.usage_all's system column, per cpu.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// v1 cpuacct.usage_all's user column, per cpu.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// Memory plus swap (v1's memsw semantics, also on v2).
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0: no limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events).
pub fn parse_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A single number; `max` is `u64::MAX`.
pub fn parse_value(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => Some(u64::MAX),
        t => t.parse().ok(),
    }
}

/// v1 blkio lines: `8:0 Read 4096` (the `Total` line is dropped).
pub fn parse_blkio_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`) as (bytes, ios) entries.
pub fn parse_io_stat(text: &str) -> Blkio {
    let mut blkio = Blkio::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some((major, minor)) = fields.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for field in fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse() else { continue };
            let (list, op) = match key {
                "rbytes" => (&mut blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    blkio
}

/// A cpuset list (`0-3,8`) as the cpu or node numbers; None if malformed.
pub fn parse_cpu_list(text: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// cpuacct.usage_all (`cpu user system` then a line per cpu) as (kernel, user) per cpu.
pub fn parse_usage_all(text: &str) -> (Vec<u64>, Vec<u64>) {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let (Some(user), Some(system)) = (column("user"), column("system")) else {
        return (Vec::new(), Vec::new());
    };
    let (mut kernel_ns, mut user_ns) = (Vec::new(), Vec::new());
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let get = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
        if let (Some(u), Some(k)) = (get(user), get(system)) {
            user_ns.push(u);
            kernel_ns.push(k);
        }
    }
    (kernel_ns, user_ns)
}

/// The huge page sizes of the host as cgroup files name them (`2MB`, `1GB`).
pub fn hugepage_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(page_size_name(kb))
        })
        .collect();
    sizes.sort();
    sizes
}

/// 2048 (kB) -> `2MB`.
pub fn page_size_name(kb: u64) -> String {
    if kb >= 1 << 20 && kb.is_multiple_of(1 << 20) {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb.is_multiple_of(1 << 10) {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

/// Reads files of the container's cgroup by controller; missing files read as absent.
pub struct StatsReader<'a> {
    /// Where a controller's files are, and their version (`""`: the cgroup2 directory).
    pub locate: &'a dyn Fn(&str) -> Option<(Version, PathBuf)>,
}

impl StatsReader<'_> {
    fn text(&self, controller: &str, file: &str) -> Result<Option<(Version, String)>, CgroupError> {
        let Some((version, dir)) = (self.locate)(controller) else {
            return Ok(None);
        };
        Ok(fsio::read_optional(&dir.join(file))?.map(|t| (version, t)))
    }

    fn value(&self, controller: &str, file: &str) -> Result<u64, CgroupError> {
        Ok(self
            .text(controller, file)?
            .and_then(|(_, t)| parse_value(&t))
            .unwrap_or(0))
    }

    fn keyed(&self, controller: &str, file: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
        Ok(self
            .text(controller, file)?
            .map(|(_, t)| parse_keyed(&t))
            .unwrap_or_default())
    }

    fn version(&self, controller: &str) -> Option<Version> {
        (self.locate)(controller).map(|(v, _)| v)
    }

    /// Collect every statistic the host's controllers offer.
    pub fn collect(&self) -> Result<Stats, CgroupError> {
        Ok(Stats {
            cpu: self.cpu()?,
            cpuset: self.cpuset()?,
            memory: self.memory()?,
            pids: Pids {
                current: self.value("pids", "pids.current")?,
                limit: match self.value("pids", "pids.max")? {
                    u64::MAX => 0,
                    n => n,
                },
            },
            blkio: self.blkio()?,
            hugetlb: self.hugetlb()?,
            intel_rdt: IntelRdt::default(),
            network_interfaces: None,
        })
    }

    /// The v1 cpuset files runc reports (runc 1.1.5 reports none on cgroup2).
    fn cpuset(&self) -> Result<CpuSet, CgroupError> {
        if self.version("cpuset") != Some(Version::V1) {
            return Ok(CpuSet::default());
        }
        let list = |file: &str| -> Result<Vec<u16>, CgroupError> {
            Ok(self
                .text("cpuset", file)?
                .and_then(|(_, t)| parse_cpu_list(&t))
                .unwrap_or_default())
        };
        let v = |name: &str| self.value("cpuset", &format!("cpuset.{name}"));
        Ok(CpuSet {
            cpus: list("cpuset.cpus")?,
            cpu_exclusive: v("cpu_exclusive")?,
            mems: list("cpuset.mems")?,
            mem_hardwall: v("mem_hardwall")?,
            mem_exclusive: v("mem_exclusive")?,
            memory_migrate: v("memory_migrate")?,
            memory_spread_page: v("memory_spread_page")?,
            memory_spread_slab: v("memory_spread_slab")?,
            memory_pressure: v("memory_pressure")?,
            sched_load_balance: v("sched_load_balance")?,
            sched_relax_domain_level: self
                .text("cpuset", "cpuset.sched_relax_domain_level")?
                .and_then(|(_, t)| t.trim().parse().ok())
                .unwrap_or(0),
        })
    }

    fn cpu(&self) -> Result<Cpu, CgroupError> {
        let mut cpu = Cpu::default();
        // On cgroup2, cpu.stat's usage lines exist even without the cpu controller.
        let (version, controller) = match self.version("cpu") {
            Some(v) => (Some(v), "cpu"),
            None => (self.version(""), ""),
        };
        let stat = self.keyed(controller, "cpu.stat")?;
        let get = |k: &str| stat.get(k).copied().unwrap_or(0);
        cpu.throttling.periods = get("nr_periods");
        cpu.throttling.throttled_periods = get("nr_throttled");
        match version {
            Some(Version::V2) => {
                cpu.usage.total = get("usage_usec") * 1000;
                cpu.usage.user = get("user_usec") * 1000;
                cpu.usage.kernel = get("system_usec") * 1000;
                cpu.throttling.throttled_time = get("throttled_usec") * 1000;
            }
            _ => {
                cpu.throttling.throttled_time = get("throttled_time");
                cpu.usage.total = self.value("cpuacct", "cpuacct.usage")?;
                if let Some((_, t)) = self.text("cpuacct", "cpuacct.usage_percpu")? {
                    cpu.usage.percpu = t
                        .split_whitespace()
                        .filter_map(|v| v.parse().ok())
                        .collect();
                }
                if let Some((_, t)) = self.text("cpuacct", "cpuacct.usage_all")? {
                    (cpu.usage.percpu_kernel, cpu.usage.percpu_user) = parse_usage_all(&t);
                }
                let ticks = self.keyed("cpuacct", "cpuacct.stat")?;
                let hz = match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
                    Ok(Some(n)) if n > 0 => n as u64,
                    _ => 100,
                };
                let ns = |k: &str| ticks.get(k).copied().unwrap_or(0) * 1_000_000_000 / hz;
                cpu.usage.user = ns("user");
                cpu.usage.kernel = ns("system");
            }
        }
        Ok(cpu)
    }

    fn v1_entry(&self, prefix: &str) -> Result<MemoryEntry, CgroupError> {
        let f = |suffix: &str| format!("{prefix}.{suffix}");
        Ok(MemoryEntry {
            usage: self.value("memory", &f("usage_in_bytes"))?,
            max: self.value("memory", &f("max_usage_in_bytes"))?,
            failcnt: self.value("memory", &f("failcnt"))?,
            limit: self.value("memory", &f("limit_in_bytes"))?,
        })
    }

    fn memory(&self) -> Result<Memory, CgroupError> {
        let mut m = Memory {
            raw: self.keyed("memory", "memory.stat")?,
            ..Memory::default()
        };
        match self.version("memory") {
            None => {}
            Some(Version::V1) => {
                m.cache = m.raw.get("cache").copied().unwrap_or(0);
                m.usage = self.v1_entry("memory")?;
                m.swap = self.v1_entry("memory.memsw")?;
                m.kernel = self.v1_entry("memory.kmem")?;
                m.kernel_tcp = self.v1_entry("memory.kmem.tcp")?;
            }
            Some(Version::V2) => {
                m.cache = m.raw.get("file").copied().unwrap_or(0);
                let events = self.keyed("memory", "memory.events")?;
                m.usage = MemoryEntry {
                    usage: self.value("memory", "memory.current")?,
                    max: self.value("memory", "memory.peak")?,
                    failcnt: events.get("max").copied().unwrap_or(0),
                    limit: self.value("memory", "memory.max")?,
                };
                // Report swap as memory+swap, as v1's memsw does.
                let swap_limit = self.value("memory", "memory.swap.max")?;
                m.swap = MemoryEntry {
                    usage: self.value("memory", "memory.swap.current")? + m.usage.usage,
                    limit: if swap_limit == u64::MAX || m.usage.limit == u64::MAX {
                        u64::MAX
                    } else {
                        swap_limit + m.usage.limit
                    },
                    ..MemoryEntry::default()
                };
            }
        }
        Ok(m)
    }

    fn blkio(&self) -> Result<Blkio, CgroupError> {
        match self.version("blkio").or(self.version("io")) {
            Some(Version::V1) => {
                let mut b = Blkio::default();
                for (list, files) in [
                    (
                        &mut b.io_service_bytes_recursive,
                        [
                            "blkio.bfq.io_service_bytes_recursive",
                            "blkio.throttle.io_service_bytes_recursive",
                        ],
                    ),
                    (
                        &mut b.io_serviced_recursive,
                        [
                            "blkio.bfq.io_serviced_recursive",
                            "blkio.throttle.io_serviced_recursive",
                        ],
                    ),
                ] {
                    for file in files {
                        if let Some((_, t)) = self.text("blkio", file)? {
                            *list = parse_blkio_v1(&t);
                            if !list.is_empty() {
                                break;
                            }
                        }
                    }
                }
                Ok(b)
            }
            Some(Version::V2) => Ok(self
                .text("io", "io.stat")?
                .map(|(_, t)| parse_io_stat(&t))
                .unwrap_or_default()),
            None => Ok(Blkio::default()),
        }
    }

    fn hugetlb(&self) -> Result<BTreeMap<String, Hugetlb>, CgroupError> {
        let mut out = BTreeMap::new();
        let Some(version) = self.version("hugetlb") else {
            return Ok(out);
        };
        for size in hugepage_sizes() {
            let entry = match version {
                Version::V1 => Hugetlb {
                    usage: self.value("hugetlb", &format!("hugetlb.{size}.usage_in_bytes"))?,
                    max: self.value("hugetlb", &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                    failcnt: self.value("hugetlb", &format!("hugetlb.{size}.failcnt"))?,
                },
                Version::V2 => Hugetlb {
                    usage: self.value("hugetlb", &format!("hugetlb.{size}.current"))?,
                    max: 0,
                    failcnt: self
                        .keyed("hugetlb", &format!("hugetlb.{size}.events"))?
                        .get("max")
                        .copied()
                        .unwrap_or(0),
                },
            };
            out.insert(size, entry);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_values() {
        let m = parse_keyed("cache 4096\nrss 8192\nbad line here\n");
        assert_eq!(m.get("cache"), Some(&4096));
        assert_eq!(m.get("rss"), Some(&8192));
        assert_eq!(m.len(), 2);
        assert_eq!(parse_value("max\n"), Some(u64::MAX));
        assert_eq!(parse_value("12\n"), Some(12));
    }

    #[test]
    fn blkio_v1_lines() {
        let e = parse_blkio_v1("8:0 Read 4096\n8:0 Write 512\nTotal 4608\n");
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[1],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Write".into(),
                value: 512
            }
        );
    }

    #[test]
    fn io_stat_lines() {
        let b = parse_io_stat("259:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(b.io_service_bytes_recursive[0].value, 100);
        assert_eq!(b.io_serviced_recursive[1].op, "Write");
    }

    #[test]
    fn page_size_names() {
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1_048_576), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }

    #[test]
    fn json_shape_matches_runc() {
        let mut s = Stats::default();
        s.memory.usage.limit = 5;
        s.pids.current = 3;
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["pids"], serde_json::json!({"current": 3}));
        assert_eq!(
            v["memory"]["usage"],
            serde_json::json!({"limit": 5, "failcnt": 0})
        );
        assert!(v["memory"].get("kernelTCP").is_some());
        assert_eq!(
            v["cpu"]["usage"],
            serde_json::json!({"kernel": 0, "user": 0})
        );
        assert_eq!(v["blkio"], serde_json::json!({}));
        assert_eq!(v["intel_rdt"], serde_json::json!({}));
        assert_eq!(v["network_interfaces"], serde_json::Value::Null);
        assert_eq!(
            v["cpuset"],
            serde_json::json!({"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0,
                "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0,
                "memory_pressure": 0, "sched_load_balance": 0, "sched_relax_domain_level": 0})
        );
        // runc's order of the data's keys.
        let text = serde_json::to_string(&s).unwrap();
        let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
        let order = [
            "cpu",
            "cpuset",
            "memory",
            "pids",
            "blkio",
            "hugetlb",
            "intel_rdt",
            "network_interfaces",
        ];
        assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{text}");
    }

    #[test]
    fn cpu_lists_and_usage_all() {
        assert_eq!(parse_cpu_list("0-3,8\n"), Some(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("\n"), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        let (kernel, user) = parse_usage_all("cpu user system\n0 100 7\n1 200 9\n");
        assert_eq!((kernel, user), (vec![7, 9], vec![100, 200]));
        assert_eq!(parse_usage_all(""), (vec![], vec![]));
    }
}
