//! `linux.resources.cpu`: the cpuset fields (`cpus`, `mems`) and the cpu controller's (shares,
//! CFS quota and period, burst, realtime budgets, idle), as v1 files or their cgroup2 forms
//! (cpu.weight, cpu.max, cpu.max.burst).

use oci_spec::runtime::LinuxCpu;

use super::{Planner, Version};
use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;

impl Planner<'_> {
    pub(super) fn cpuset(&mut self, cpu: &LinuxCpu) -> Result<(), CgroupError> {
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

    pub(super) fn cpu(&mut self, cpu: &LinuxCpu) -> Result<(), CgroupError> {
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
}

#[cfg(test)]
mod tests {
    use crate::cgroups::plan::test_support::*;

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
}
