//! Device access rules (`linux.resources.devices`).
//!
//! As runc does, the spec's rules are followed by a fixed list of always-allowed devices (mknod
//! of any device, /dev/null, zero, full, random, urandom, tty, ptmx, the pts range and
//! /dev/net/tun), so that a bare "deny all" from an engine still leaves a usable /dev.
//! On v1 the rules are written in order to `devices.deny` / `devices.allow`, which is the
//! kernel's own rule semantics (a type-`a` rule resets the list to deny-all or allow-all).
//! On cgroup2 the rules are reduced with the same semantics ([`emulate`]) and enforced by an
//! eBPF device program (see `devices_bpf`).

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

/// Deny every device: the rule every container's list starts with.
fn deny_all() -> DeviceRule {
    DeviceRule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".to_string(),
    }
}

/// The rules to apply, as runc builds them: deny all, then the spec's, then the always-allowed
/// devices. A config that lists no rule (or none at all) thus gets the default devices only,
/// never every device of the host: CAP_MKNOD plus an empty list must not open 10:237.
pub fn effective_rules(spec: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, CgroupError> {
    let mut rules = vec![deny_all()];
    for r in spec {
        rules.push(validate(r)?);
    }
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

/// Where a list of rules leaves a cgroup, by the kernel's own v1 semantics: a default
/// (allow-all or deny-all) and the exceptions to it. A type-`a` rule resets both; a rule of
/// the other kind than the default adds an exception (or widens the access of one for the
/// same device); a rule of the same kind as the default narrows the access of the exception
/// for exactly that device, and drops it when no access is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    pub default_allow: bool,
    pub exceptions: Vec<DeviceRule>,
}

/// Reduce rules to the state they leave, starting from a fresh cgroup (allow-all).
pub fn emulate(rules: &[DeviceRule]) -> DeviceState {
    let mut state = DeviceState {
        default_allow: true,
        exceptions: Vec::new(),
    };
    for rule in rules {
        if rule.kind == 'a' {
            state.default_allow = rule.allow;
            state.exceptions.clear();
            continue;
        }
        let same = |e: &&mut DeviceRule| {
            e.kind == rule.kind && e.major == rule.major && e.minor == rule.minor
        };
        if rule.allow != state.default_allow {
            match state.exceptions.iter_mut().find(|e| same(e)) {
                Some(e) => {
                    for c in rule.access.chars() {
                        if !e.access.contains(c) {
                            e.access.push(c);
                        }
                    }
                }
                None => state.exceptions.push(rule.clone()),
            }
        } else {
            for e in state.exceptions.iter_mut().filter(|e| same(e)) {
                e.access.retain(|c| !rule.access.contains(c));
            }
            state.exceptions.retain(|e| !e.access.is_empty());
        }
    }
    state
}

/// Whether the rules deny anything (so that dropping them would lose a restriction).
pub fn restricts(rules: &[DeviceRule]) -> bool {
    let state = emulate(rules);
    !state.default_allow || !state.exceptions.is_empty()
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
        assert_eq!(writes[1], ("devices.deny", "a".to_string()));
        assert_eq!(writes[2], ("devices.allow", "c 1:5 rwm".to_string()));
        assert_eq!(writes[3], ("devices.deny", "c 10:229 rwm".to_string()));
        assert_eq!(writes[4], ("devices.allow", "c 136:* rw".to_string()));
        assert_eq!(writes[5], ("devices.allow", "c *:* m".to_string()));
        assert_eq!(writes[6], ("devices.allow", "b *:* m".to_string()));
        assert_eq!(writes[7], ("devices.allow", "c 1:3 rwm".to_string()));
        assert_eq!(writes.len(), 1 + 4 + 11);
        assert!(restricts(&eff));
        let state = emulate(&eff);
        assert!(!state.default_allow);
        // 1:5 and 136:* merge into the defaults' entries for the same devices; the deny of
        // 10:229 has no allow exception to narrow.
        assert_eq!(state.exceptions.len(), 11);
    }

    #[test]
    fn no_rules_means_default_devices_only() {
        let eff = effective_rules(&[]).unwrap();
        assert_eq!(eff[0], deny_all());
        assert_eq!(eff.len(), 1 + 11);
        assert!(restricts(&eff));
        let state = emulate(&eff);
        assert!(!state.default_allow);
        let prog = super::super::devices_bpf::program(&state);
        assert!(!prog.is_empty());
        assert!(!restricts(&[]));
    }

    #[test]
    fn allow_all_rules_lose_nothing_on_v2() {
        let eff = effective_rules(&rules(r#"[{"allow":true,"access":"rwm"}]"#)).unwrap();
        assert!(!restricts(&eff));
        let eff = effective_rules(&rules(
            r#"[{"allow":false,"type":"c","major":1,"minor":1},{"allow":true,"type":"a"}]"#,
        ))
        .unwrap();
        assert!(!restricts(&eff));
        let eff = effective_rules(&rules(r#"[{"allow":false,"type":"b","major":8}]"#)).unwrap();
        assert!(restricts(&eff));
    }

    #[test]
    fn same_kind_rules_narrow_exceptions_like_the_kernel() {
        let r = |allow, major, access: &str| DeviceRule {
            allow,
            kind: 'c',
            major: Some(major),
            minor: Some(0),
            access: access.to_string(),
        };
        let all = |allow| DeviceRule {
            allow,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".to_string(),
        };
        let state = emulate(&[
            all(false),
            r(true, 4, "rw"),
            r(true, 4, "m"),
            r(false, 4, "w"),
        ]);
        assert_eq!(state.exceptions.len(), 1);
        assert_eq!(state.exceptions[0].access, "rm");
        let state = emulate(&[all(false), r(true, 4, "r"), r(false, 4, "r")]);
        assert!(state.exceptions.is_empty() && !state.default_allow);
        let state = emulate(&[r(false, 4, "r"), r(true, 4, "rwm")]);
        assert!(state.exceptions.is_empty() && state.default_allow);
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(effective_rules(&rules(r#"[{"allow":true,"type":"p"}]"#)).is_err());
        assert!(effective_rules(&rules(r#"[{"allow":true,"type":"c","access":"rx"}]"#)).is_err());
    }
}
