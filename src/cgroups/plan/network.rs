//! `linux.resources.network`: net_cls.classid and net_prio.ifpriomap, which exist on v1 only.

use oci_spec::runtime::LinuxNetwork;

use super::Planner;
use crate::cgroups::error::CgroupError;

impl Planner<'_> {
    pub(super) fn network(&mut self, net: &LinuxNetwork) -> Result<(), CgroupError> {
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
}

#[cfg(test)]
mod tests {
    use crate::cgroups::plan::test_support::*;

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
}
