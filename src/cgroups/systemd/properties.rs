//! `linux.resources` as the unit properties systemd knows, for StartTransientUnit and
//! SetUnitProperties. What systemd has no property for (hugetlb, rdma, swappiness, burst,
//! realtime budgets...) is written to the cgroup files afterwards, as runc does, and so is
//! everything else too: the files are the truth, the properties keep systemd from undoing them
//! (at a `daemon-reload`, systemd re-applies what it knows of the unit).
//!
//! The values are converted as runc converts them: cpu shares to CPUWeight (v2), a CFS quota to
//! CPUQuotaPerSecUSec rounded up to a whole percent, memory+swap to MemorySwapMax, cpusets to
//! bitmasks, and device rules to DevicePolicy=strict with a DeviceAllow list where systemd can
//! express them.

use oci_spec::runtime::LinuxResources;

use super::dbus::Value;
use crate::cgroups::convert;
use crate::cgroups::devices::{self, DeviceRule};
use crate::cgroups::error::CgroupError;
use crate::cgroups::plan::Version;

/// A unit property: name and value.
pub type Property = (String, Value);

fn prop(name: &str, value: Value) -> Property {
    (name.to_string(), value)
}

/// systemd's "infinity".
const INFINITY: u64 = u64::MAX;

fn limit(v: i64) -> u64 {
    if v < 0 {
        INFINITY
    } else {
        v as u64
    }
}

/// The properties of a new unit, besides the resources: what runc sets too.
pub fn base(
    description: &str,
    slice: &str,
    unit_is_slice: bool,
    version: Version,
) -> Vec<Property> {
    let mut p = vec![prop("Description", Value::Str(description.to_string()))];
    if unit_is_slice {
        p.push(prop(
            "Wants",
            Value::Array {
                elem: "s".into(),
                items: vec![Value::Str(slice.to_string())],
            },
        ));
    } else {
        p.push(prop("Slice", Value::Str(slice.to_string())));
        p.push(prop("Delegate", Value::Bool(true)));
    }
    p.push(prop("DefaultDependencies", Value::Bool(false)));
    p.push(prop("MemoryAccounting", Value::Bool(true)));
    p.push(prop("CPUAccounting", Value::Bool(true)));
    p.push(prop(
        match version {
            Version::V1 => "BlockIOAccounting",
            Version::V2 => "IOAccounting",
        },
        Value::Bool(true),
    ));
    p.push(prop("TasksAccounting", Value::Bool(true)));
    p
}

/// A cpuset list (`0-3,6`) as systemd's bitmask: byte i, bit j is cpu 8i+j.
pub fn cpuset_mask(list: &str, field: &str) -> Result<Vec<u8>, CgroupError> {
    let invalid = |reason| CgroupError::InvalidValue {
        field: field.to_string(),
        value: list.to_string(),
        reason,
    };
    let mut mask: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.parse::<usize>(), part.parse::<usize>()),
        };
        let (Ok(lo), Ok(hi)) = (lo, hi) else {
            return Err(invalid("not a list of numbers and ranges"));
        };
        if lo > hi || hi >= 8192 {
            return Err(invalid("range reversed or above 8191"));
        }
        for cpu in lo..=hi {
            if mask.len() <= cpu / 8 {
                mask.resize(cpu / 8 + 1, 0);
            }
            mask[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    Ok(mask)
}

fn bytes(v: Vec<u8>) -> Value {
    Value::Array {
        elem: "y".into(),
        items: v.into_iter().map(Value::Byte).collect(),
    }
}

/// CFS quota and period as CPUQuotaPerSecUSec: microseconds of CPU per second, rounded up to
/// a multiple of 10 ms, since systemd keeps it as a whole percentage.
pub fn quota_per_sec(quota: i64, period: u64) -> u64 {
    if quota <= 0 || period == 0 {
        return INFINITY;
    }
    let per_sec = (quota as u64).saturating_mul(1_000_000) / period;
    per_sec.div_ceil(10_000) * 10_000
}

/// The resource properties of `resources` on a host of cgroup `version`.
/// `proc_devices` is the text of /proc/devices (device majors by driver name).
pub fn resources(
    r: &LinuxResources,
    version: Version,
    proc_devices: &str,
) -> Result<Vec<Property>, CgroupError> {
    let mut p = Vec::new();
    if let Some(m) = r.memory() {
        let mem = m.limit().filter(|&v| v != 0);
        if let Some(l) = mem {
            let name = match version {
                Version::V1 => "MemoryLimit",
                Version::V2 => "MemoryMax",
            };
            p.push(prop(name, Value::U64(limit(l))));
        }
        if version == Version::V2 {
            if let Some(res) = m.reservation().filter(|&v| v != 0) {
                p.push(prop("MemoryLow", Value::U64(limit(res))));
            }
            let swap = m.swap().unwrap_or(0);
            match convert::memory_swap_to_v2(swap, mem.unwrap_or(0)) {
                Ok(Some(s)) => p.push(prop("MemorySwapMax", Value::U64(limit(s)))),
                Ok(None) => {}
                Err(reason) => {
                    return Err(CgroupError::InvalidValue {
                        field: "linux.resources.memory.swap".into(),
                        value: swap.to_string(),
                        reason,
                    })
                }
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|&s| s != 0) {
            match version {
                Version::V1 => p.push(prop("CPUShares", Value::U64(s))),
                Version::V2 => p.push(prop(
                    "CPUWeight",
                    Value::U64(convert::cpu_shares_to_weight(s)),
                )),
            }
        }
        let period = c.period().filter(|&p| p != 0);
        if let Some(period) = period {
            p.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
        }
        if let Some(q) = c.quota().filter(|&q| q != 0) {
            p.push(prop(
                "CPUQuotaPerSecUSec",
                Value::U64(quota_per_sec(q, period.unwrap_or(100_000))),
            ));
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            p.push(prop(
                "AllowedCPUs",
                bytes(cpuset_mask(cpus, "linux.resources.cpu.cpus")?),
            ));
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            p.push(prop(
                "AllowedMemoryNodes",
                bytes(cpuset_mask(mems, "linux.resources.cpu.mems")?),
            ));
        }
    }
    if let Some(pids) = r.pids() {
        let l = pids.limit();
        if l != 0 {
            p.push(prop("TasksMax", Value::U64(limit(l))));
        }
    }
    if let Some(w) = r
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|&w| w != 0)
    {
        match version {
            Version::V1 => p.push(prop("BlockIOWeight", Value::U64(u64::from(w)))),
            Version::V2 => p.push(prop(
                "IOWeight",
                Value::U64(convert::blkio_weight_to_io_weight(u64::from(w))),
            )),
        }
    }
    if version == Version::V2 {
        if let Some(unified) = r.unified() {
            p.extend(unified_properties(unified));
        }
    }
    if let Some(spec_rules) = r.devices() {
        let rules = devices::effective_rules(spec_rules)?;
        p.extend(device_properties(&rules, proc_devices));
    }
    Ok(p)
}

/// The `linux.resources.unified` entries systemd has a property for (they win over the
/// fields above, being later in the list); the files are written anyway.
fn unified_properties(unified: &std::collections::HashMap<String, String>) -> Vec<Property> {
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    let mut p = Vec::new();
    for key in keys {
        let value = unified[key].trim();
        let num = |v: &str| -> Option<u64> {
            if v == "max" {
                Some(INFINITY)
            } else {
                v.parse().ok()
            }
        };
        let name = match key.as_str() {
            "memory.max" => "MemoryMax",
            "memory.high" => "MemoryHigh",
            "memory.low" => "MemoryLow",
            "memory.min" => "MemoryMin",
            "memory.swap.max" => "MemorySwapMax",
            "pids.max" => "TasksMax",
            "cpu.weight" => "CPUWeight",
            _ => continue,
        };
        if let Some(v) = num(value) {
            p.push(prop(name, Value::U64(v)));
        }
    }
    p
}

/// Device rules as DevicePolicy and DeviceAllow, when systemd can express them: a deny-all
/// default with allowed exceptions. An allow-all default (with or without denied exceptions)
/// leaves systemd's policy alone (`auto`): rrun's own rules enforce it.
pub fn device_properties(rules: &[DeviceRule], proc_devices: &str) -> Vec<Property> {
    let state = devices::emulate(rules);
    if state.default_allow {
        return Vec::new();
    }
    let mut allow = Vec::new();
    for e in &state.exceptions {
        let kind = match e.kind {
            'c' => "char",
            'b' => "block",
            _ => continue,
        };
        let node = match (e.major, e.minor) {
            (None, _) => format!("{kind}-*"),
            (Some(major), Some(minor)) => format!("/dev/{kind}/{major}:{minor}"),
            (Some(major), None) => match driver_name(proc_devices, kind, major) {
                Some(name) => format!("{kind}-{name}"),
                None => continue, // no such major here: nothing to allow
            },
        };
        let access: String = e.access.chars().filter(|c| "rwm".contains(*c)).collect();
        if access.is_empty() {
            continue;
        }
        allow.push(Value::Struct(vec![Value::Str(node), Value::Str(access)]));
    }
    vec![
        prop("DevicePolicy", Value::Str("strict".into())),
        prop(
            "DeviceAllow",
            Value::Array {
                elem: "(ss)".into(),
                items: allow,
            },
        ),
    ]
}

/// The driver of `major` in /proc/devices' section for `kind` (`char` or `block`).
fn driver_name(proc_devices: &str, kind: &str, major: i64) -> Option<String> {
    let header = match kind {
        "char" => "Character devices:",
        _ => "Block devices:",
    };
    let mut in_section = false;
    for line in proc_devices.lines() {
        let line = line.trim();
        if line.ends_with("devices:") {
            in_section = line == header;
            continue;
        }
        if !in_section {
            continue;
        }
        let mut it = line.split_whitespace();
        if let (Some(m), Some(name)) = (it.next(), it.next()) {
            if m.parse::<i64>().ok() == Some(major) {
                return Some(name.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn get<'a>(p: &'a [Property], name: &str) -> Option<&'a Value> {
        p.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    const PROC_DEVICES: &str =
        "Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n\nBlock devices:\n  8 sd\n";

    #[test]
    fn v2_values_are_converted_like_runc() {
        let r = res(
            r#"{"memory":{"limit":67108864,"reservation":33554432,"swap":134217728},
            "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-1,3","mems":"0"},
            "pids":{"limit":100},"blockIO":{"weight":500}}"#,
        );
        let p = resources(&r, Version::V2, PROC_DEVICES).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(67108864)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Value::U64(33554432)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(67108864)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(get(&p, "AllowedCPUs"), Some(&bytes(vec![0b1011])));
        assert_eq!(get(&p, "AllowedMemoryNodes"), Some(&bytes(vec![1])));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(100)));
        assert_eq!(get(&p, "IOWeight"), Some(&Value::U64(4950)));
        assert!(get(&p, "MemoryLimit").is_none());
        assert!(get(&p, "DevicePolicy").is_none());
    }

    #[test]
    fn v1_names_and_unlimited_values() {
        let r = res(
            r#"{"memory":{"limit":-1},"cpu":{"shares":512,"quota":-1},"pids":{"limit":-1},
            "blockIO":{"weight":300}}"#,
        );
        let p = resources(&r, Version::V1, PROC_DEVICES).unwrap();
        assert_eq!(get(&p, "MemoryLimit"), Some(&Value::U64(INFINITY)));
        assert_eq!(get(&p, "CPUShares"), Some(&Value::U64(512)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(INFINITY)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(INFINITY)));
        assert_eq!(get(&p, "BlockIOWeight"), Some(&Value::U64(300)));
        assert!(get(&p, "MemoryMax").is_none());
    }

    #[test]
    fn quota_rounds_up_to_a_percent() {
        assert_eq!(quota_per_sec(12_345, 100_000), 130_000);
        assert_eq!(quota_per_sec(100_000, 100_000), 1_000_000);
        assert_eq!(quota_per_sec(-1, 100_000), INFINITY);
    }

    #[test]
    fn unified_entries_win() {
        let r = res(
            r#"{"memory":{"limit":1000},"unified":{"memory.max":"max","memory.high":"5000","io.max":"8:0 rbps=1"}}"#,
        );
        let p = resources(&r, Version::V2, "").unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(INFINITY)));
        assert_eq!(get(&p, "MemoryHigh"), Some(&Value::U64(5000)));
    }

    #[test]
    fn devices_become_a_strict_allow_list() {
        let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":10,"minor":229,"access":"rw"}]}"#);
        let p = resources(&r, Version::V2, PROC_DEVICES).unwrap();
        assert_eq!(get(&p, "DevicePolicy"), Some(&Value::Str("strict".into())));
        let Some(Value::Array { items, .. }) = get(&p, "DeviceAllow") else {
            panic!("no DeviceAllow")
        };
        let pair =
            |a: &str, b: &str| Value::Struct(vec![Value::Str(a.into()), Value::Str(b.into())]);
        assert!(items.contains(&pair("/dev/char/10:229", "rw")));
        assert!(items.contains(&pair("/dev/char/1:3", "rwm")));
        assert!(items.contains(&pair("char-pts", "rwm")));
        assert!(items.contains(&pair("char-*", "m")));
        assert!(items.contains(&pair("block-*", "m")));
        // An allow-all config leaves systemd's policy alone.
        let r = res(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#);
        let p = resources(&r, Version::V2, PROC_DEVICES).unwrap();
        assert!(get(&p, "DevicePolicy").is_none());
    }

    #[test]
    fn cpusets_are_checked() {
        assert_eq!(cpuset_mask("0,9", "f").unwrap(), vec![1, 2]);
        assert!(cpuset_mask("3-1", "f").is_err());
        assert!(cpuset_mask("x", "f").is_err());
        assert!(cpuset_mask("0-100000", "f").is_err());
    }
}
