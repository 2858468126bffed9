//! Device access rules (`linux.resources.devices`).
//!
//! As runc does, the spec's rules are followed by a fixed list of always-allowed devices (mknod
//! of any device, /dev/null, zero, full, random, urandom, tty, ptmx, the pts range and
//! /dev/net/tun), so that a bare "deny all" from an engine still leaves a usable /dev.
//! On v1 the rules are written in order to `devices.deny` / `devices.allow`, which is the
//! kernel's own rule semantics (a type-`a` rule resets the list to deny-all or allow-all).
//! On cgroup2 enforcing rules needs an eBPF device program, which rrun does not load yet: rules
//! that leave every device allowed are accepted (nothing to enforce), any others are an error.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::error::CgroupError;

const FIELD: &str = "linux.resources.devices";

/// One device rule, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// `a` (all), `c` or `b`.
    pub kind: char,
    /// `None` is the wildcard `*`.
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Some of `r`, `w`, `m`.
    pub access: String,
}

impl DeviceRule {
    const fn allow_char(major: i64, minor: Option<i64>) -> DeviceRule {
        DeviceRule {
            allow: true,
            kind: 'c',
            major: Some(major),
            minor,
            access: String::new(),
        }
    }

    /// The rule as devices.allow / devices.deny want it: `c 1:3 rwm`, or `a` for all.
    pub fn v1_line(&self) -> String {
        if self.kind == 'a' {
            return "a".to_string();
        }
        let num = |n: Option<i64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

/// The devices runc allows in every container, after the spec's rules.
fn default_rules() -> Vec<DeviceRule> {
    let rwm = |mut r: DeviceRule| {
        r.access = "rwm".to_string();
        r
    };
    let mknod_any = |kind| DeviceRule {
        allow: true,
        kind,
        major: None,
        minor: None,
        access: "m".to_string(),
    };
    vec![
        mknod_any('c'),
        mknod_any('b'),
        rwm(DeviceRule::allow_char(1, Some(3))), // /dev/null
        rwm(DeviceRule::allow_char(1, Some(8))), // /dev/random
        rwm(DeviceRule::allow_char(1, Some(7))), // /dev/full
        rwm(DeviceRule::allow_char(5, Some(0))), // /dev/tty
        rwm(DeviceRule::allow_char(1, Some(5))), // /dev/zero
        rwm(DeviceRule::allow_char(1, Some(9))), // /dev/urandom
        rwm(DeviceRule::allow_char(136, None)),  // /dev/pts/*
        rwm(DeviceRule::allow_char(5, Some(2))), // /dev/ptmx
        rwm(DeviceRule::allow_char(10, Some(200))), // /dev/net/tun
    ]
}

fn validate(rule: &LinuxDeviceCgroup) -> Result<DeviceRule, CgroupError> {
    let kind = match rule.typ().unwrap_or_default() {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::P => {
            return Err(CgroupError::InvalidValue {
                field: FIELD.to_string(),
                value: rule.to_string(),
                reason: "type p (fifo) is not a device cgroup type; use a, b or c",
            })
        }
    };
    let access = match rule.access().as_deref() {
        None | Some("") => "rwm".to_string(),
        Some(a) if a.chars().all(|c| "rwm".contains(c)) => a.to_string(),
        Some(_) => {
            return Err(CgroupError::InvalidValue {
                field: FIELD.to_string(),
                value: rule.to_string(),
                reason: "access must be made of r, w and m",
            })
        }
    };
    let wildcard = |n: Option<i64>| n.filter(|&n| n >= 0);
    Ok(DeviceRule {
        allow: rule.allow(),
        kind,
        major: wildcard(rule.major()),
        minor: wildcard(rule.minor()),
        access,
    })
}

/// The rules to apply: the spec's, then runc's defaults. No spec rules: nothing to apply (the
/// defaults only add to a cgroup that allows everything).
pub fn effective_rules(spec: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, CgroupError> {
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    let mut rules = spec.iter().map(validate).collect::<Result<Vec<_>, _>>()?;
    rules.extend(default_rules());
    Ok(rules)
}

/// The (file, value) writes of the rules on v1, in order.
pub fn v1_writes(rules: &[DeviceRule]) -> Vec<(&'static str, String)> {
    rules
        .iter()
        .map(|r| {
            let file = if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            (file, r.v1_line())
        })
        .collect()
}

/// Whether the rules deny anything (so that dropping them would lose a restriction): the list
/// ends in deny-all mode, or a deny rule follows the last type-`a` rule.
pub fn restricts(rules: &[DeviceRule]) -> bool {
    let last_all = rules.iter().rposition(|r| r.kind == 'a');
    let default_allow = last_all.is_none_or(|i| rules[i].allow);
    let after = last_all.map_or(0, |i| i + 1);
    !default_allow || rules[after..].iter().any(|r| !r.allow)
}

/// On cgroup2, accept rules only when nothing would be lost without an eBPF program.
pub fn check_v2(rules: &[DeviceRule]) -> Result<(), CgroupError> {
    if restricts(rules) {
        return Err(CgroupError::unsupported(
            FIELD,
            "restricting devices on cgroup v2 needs an eBPF device program, which rrun \
             does not load yet",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn docker_rules_are_followed_by_defaults_in_order() {
        let spec = rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
                {"allow":false,"type":"c","major":10,"minor":229,"access":"rwm"},
                {"allow":true,"type":"c","major":136,"access":"rw"}]"#,
        );
        let eff = effective_rules(&spec).unwrap();
        let writes = v1_writes(&eff);
        assert_eq!(writes[0], ("devices.deny", "a".to_string()));
        assert_eq!(writes[1], ("devices.allow", "c 1:5 rwm".to_string()));
        assert_eq!(writes[2], ("devices.deny", "c 10:229 rwm".to_string()));
        assert_eq!(writes[3], ("devices.allow", "c 136:* rw".to_string()));
        assert_eq!(writes[4], ("devices.allow", "c *:* m".to_string()));
        assert_eq!(writes[5], ("devices.allow", "b *:* m".to_string()));
        assert_eq!(writes[6], ("devices.allow", "c 1:3 rwm".to_string()));
        assert_eq!(writes.len(), 4 + 11);
        assert!(restricts(&eff));
        assert!(check_v2(&eff).is_err());
    }

    #[test]
    fn no_rules_means_nothing_to_do() {
        assert!(effective_rules(&[]).unwrap().is_empty());
        assert!(check_v2(&[]).is_ok());
    }

    #[test]
    fn allow_all_rules_lose_nothing_on_v2() {
        let eff = effective_rules(&rules(r#"[{"allow":true,"access":"rwm"}]"#)).unwrap();
        assert!(!restricts(&eff));
        assert!(check_v2(&eff).is_ok());
        let eff = effective_rules(&rules(
            r#"[{"allow":false,"type":"c","major":1,"minor":1},{"allow":true,"type":"a"}]"#,
        ))
        .unwrap();
        assert!(!restricts(&eff));
        let eff = effective_rules(&rules(r#"[{"allow":false,"type":"b","major":8}]"#)).unwrap();
        assert!(restricts(&eff));
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(effective_rules(&rules(r#"[{"allow":true,"type":"p"}]"#)).is_err());
        assert!(effective_rules(&rules(r#"[{"allow":true,"type":"c","access":"rx"}]"#)).is_err());
    }
}
