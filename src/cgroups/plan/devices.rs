//! `linux.resources.devices`: the rules (with runc's always-allowed devices appended) as
//! devices.deny / devices.allow writes on v1, or as the device state that an eBPF program
//! enforces on cgroup2.

use oci_spec::runtime::LinuxDeviceCgroup;

use super::Planner;
use crate::cgroups::devices::{effective_rules, emulate, restricts, v1_writes};
use crate::cgroups::error::CgroupError;

impl Planner<'_> {
    pub(super) fn devices(&mut self, spec_rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
        let rules = effective_rules(spec_rules)?;
        if rules.is_empty() {
            return Ok(());
        }
        if self.placement.v1.contains("devices") {
            for (file, value) in v1_writes(&rules) {
                self.push("devices", file, value);
            }
            Ok(())
        } else if self.placement.has_unified {
            self.device_program = Some(emulate(&rules));
            Ok(())
        } else if restricts(&rules) {
            Err(CgroupError::missing("linux.resources.devices", "devices"))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cgroups::plan::plan;
    use crate::cgroups::plan::test_support::*;

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
}
