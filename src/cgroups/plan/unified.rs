//! `linux.resources.unified`: cgroup2 files written as given, each key checked to name a file
//! of a controller that is on cgroup2 here (or a core `cgroup.*` file the runtime does not
//! manage itself).

use std::collections::HashMap;

use super::{Planner, Version};
use crate::cgroups::error::CgroupError;

impl Planner<'_> {
    pub(super) fn unified(&mut self, unified: &HashMap<String, String>) -> Result<(), CgroupError> {
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
    use crate::cgroups::plan::plan;
    use crate::cgroups::plan::test_support::*;

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
}
