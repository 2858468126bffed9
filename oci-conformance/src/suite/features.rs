//! features.md: the document printed by `<runtime> features`.

use crate::context::{parse_json, Ctx};
use crate::harness::{Failure, Outcome, Verdict};
use crate::{cases, check, skip};
use serde_json::Value;

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "features/ociVersionMin-Max" => versions,
        "features/hooks" => hooks,
        "features/mountOptions" => mount_options,
        "features/linux/namespaces" => namespaces,
        "features/linux/capabilities" => capabilities,
        "features/linux/cgroup" => cgroup,
        "features/linux/seccomp" => seccomp,
        "features/linux/lsm" => lsm,
        "features/annotations" => annotations,
    ]
}

/// The features document, or None when the runtime has no `features` command.
fn document(ctx: &Ctx) -> Result<Option<Value>, Failure> {
    let inv = ctx.rt.invoke(&["features"])?;
    if !inv.success() {
        return Ok(None);
    }
    Ok(Some(parse_json("features output", &inv.stdout)?))
}

macro_rules! doc_or_skip {
    ($ctx:expr) => {
        match document($ctx)? {
            Some(d) => d,
            None => skip!("the runtime has no working `features` command (runtime.md does not require one)"),
        }
    };
}

fn is_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn semver_key(s: &str) -> Vec<u64> {
    s.split(['-', '+'])
        .next()
        .unwrap_or("")
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn versions(ctx: &Ctx) -> Outcome {
    let d = doc_or_skip!(ctx);
    let min = d["ociVersionMin"].as_str().unwrap_or("");
    let max = d["ociVersionMax"].as_str().unwrap_or("");
    check!(
        is_semver(min),
        "ociVersionMin {:?} is missing or not SemVer",
        d["ociVersionMin"]
    );
    check!(
        is_semver(max),
        "ociVersionMax {:?} is missing or not SemVer",
        d["ociVersionMax"]
    );
    check!(
        semver_key(min) <= semver_key(max),
        "ociVersionMin {min} > ociVersionMax {max}"
    );
    Ok(Verdict::Pass)
}

/// `field` is absent, or an array of strings each accepted by `valid`.
fn string_list(d: &Value, field: &str, valid: impl Fn(&str) -> bool) -> Result<(), Failure> {
    let v = &d.pointer(field).cloned().unwrap_or(Value::Null);
    if v.is_null() {
        return Ok(());
    }
    let Some(list) = v.as_array() else {
        crate::fail!("{field} is not an array: {v}");
    };
    for item in list {
        match item.as_str() {
            Some(s) if valid(s) => {}
            _ => crate::fail!("{field} holds an invalid entry {item}"),
        }
    }
    Ok(())
}

fn hooks(ctx: &Ctx) -> Outcome {
    let d = doc_or_skip!(ctx);
    let known = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    string_list(&d, "/hooks", |h| known.contains(&h))?;
    Ok(Verdict::Pass)
}

fn mount_options(ctx: &Ctx) -> Outcome {
    let d = doc_or_skip!(ctx);
    string_list(&d, "/mountOptions", |o| !o.is_empty())?;
    Ok(Verdict::Pass)
}

fn namespaces(ctx: &Ctx) -> Outcome {
    let d = doc_or_skip!(ctx);
    let known = [
        "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time",
    ];
    string_list(&d, "/linux/namespaces", |n| known.contains(&n))?;
    Ok(Verdict::Pass)
}

fn capabilities(ctx: &Ctx) -> Outcome {
    let d = doc_or_skip!(ctx);
    string_list(&d, "/linux/capabilities", |c| c.starts_with("CAP_"))?;
    Ok(Verdict::Pass)
}

fn bool_fields(obj: &Value, path: &str, fields: &[&str]) -> Result<(), Failure> {
    if obj.is_null() {
        return Ok(());
    }
    check!(obj.is_object(), "{path} is not an object: {obj}");
    for f in fields {
        let v = &obj[*f];
        check!(
            v.is_null() || v.is_boolean(),
            "{path}.{f} is not a boolean: {v}"
        );
    }
    Ok(())
}

fn cgroup(ctx: &Ctx) -> Outcome {
    let d = doc_or_skip!(ctx);
    bool_fields(
        &d["linux"]["cgroup"],
        "linux.cgroup",
        &["v1", "v2", "systemd", "systemdUser", "rdma"],
    )?;
    Ok(Verdict::Pass)
}

fn seccomp(ctx: &Ctx) -> Outcome {
    let d = doc_or_skip!(ctx);
    bool_fields(&d["linux"]["seccomp"], "linux.seccomp", &["enabled"])?;
    string_list(&d, "/linux/seccomp/actions", |a| a.starts_with("SCMP_ACT_"))?;
    string_list(&d, "/linux/seccomp/operators", |o| {
        o.starts_with("SCMP_CMP_")
    })?;
    string_list(&d, "/linux/seccomp/archs", |a| a.starts_with("SCMP_ARCH_"))?;
    string_list(&d, "/linux/seccomp/knownFlags", |f| {
        f.starts_with("SECCOMP_FILTER_FLAG_")
    })?;
    string_list(&d, "/linux/seccomp/supportedFlags", |f| {
        f.starts_with("SECCOMP_FILTER_FLAG_")
    })?;
    Ok(Verdict::Pass)
}

fn lsm(ctx: &Ctx) -> Outcome {
    let d = doc_or_skip!(ctx);
    for k in ["apparmor", "selinux", "intelRdt"] {
        bool_fields(&d["linux"][k], &format!("linux.{k}"), &["enabled"])?;
    }
    Ok(Verdict::Pass)
}

fn annotations(ctx: &Ctx) -> Outcome {
    let d = doc_or_skip!(ctx);
    let a = &d["annotations"];
    if !a.is_null() {
        let Some(obj) = a.as_object() else {
            crate::fail!("annotations is not an object: {a}");
        };
        for (k, v) in obj {
            check!(v.is_string(), "annotation {k} is not a string: {v}");
        }
    }
    Ok(Verdict::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_checks() {
        assert!(is_semver("1.0.2"));
        assert!(is_semver("1.0.2-dev"));
        assert!(is_semver("1.2.0+build.5"));
        assert!(!is_semver("1.0"));
        assert!(!is_semver("v1.0.0"));
        assert!(semver_key("1.0.2-dev") < semver_key("1.1.0"));
    }
}
