//! `linux.resources.memory`: memory.limit_in_bytes, memsw, soft limit, swappiness and the OOM
//! killer on v1; memory.max, memory.swap.max and memory.low on cgroup2, where the v1-only fields
//! are refused. With `checkBeforeUpdate` a new limit below the current usage is refused.

use oci_spec::runtime::LinuxMemory;

use super::{Planner, Version};
use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;

impl Planner<'_> {
    pub(super) fn memory(&mut self, m: &LinuxMemory) -> Result<(), CgroupError> {
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
        let peak_file = match version {
            Version::V1 => "memory.max_usage_in_bytes",
            Version::V2 => "memory.peak",
        };
        let read = |file| {
            self.probe
                .read("memory", file)
                .and_then(|s| s.trim().parse::<u64>().ok())
        };
        match read(file) {
            Some(usage) if usage > limit as u64 => Err(CgroupError::MemoryBelowUsage {
                limit,
                usage,
                peak: read(peak_file).unwrap_or(0),
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
}

#[cfg(test)]
mod tests {
    use crate::cgroups::plan::test_support::*;

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
}
