//! The test cases, one module per area of the runtime-spec.

mod cgroups;
mod checkpoint;
mod cli;
mod devices;
mod features;
mod hooks;
mod idmap;
mod lifecycle;
mod mounts;
mod namespaces;
mod process;
mod rootless;
mod seccomp_notify;
mod security;

use crate::harness::TestCase;
use serde_json::Value;

/// Every test, in report order.
pub fn all() -> Vec<TestCase> {
    let mut v = Vec::new();
    v.extend(lifecycle::tests());
    v.extend(process::tests());
    v.extend(namespaces::tests());
    v.extend(rootless::tests());
    v.extend(mounts::tests());
    v.extend(idmap::tests());
    v.extend(devices::tests());
    v.extend(security::tests());
    v.extend(seccomp_notify::tests());
    v.extend(hooks::tests());
    v.extend(cgroups::tests());
    v.extend(features::tests());
    v.extend(cli::tests());
    v.extend(checkpoint::tests());
    v
}

/// Build a `TestCase` list from `name => function` pairs.
#[macro_export]
macro_rules! cases {
    ($($name:literal => $func:path),* $(,)?) => {
        vec![$($crate::harness::TestCase { name: $name, func: $func }),*]
    };
}

/// A capability set from the checker report, as a bit mask.
pub fn cap_set(report: &Value, set: &str) -> u64 {
    report["caps"][set]
        .as_str()
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(u64::MAX)
}

/// Find the mountinfo entry for `mount_point` (the last one, i.e. the top of the stack).
pub fn mount_at<'a>(report: &'a Value, mount_point: &str) -> Option<&'a Value> {
    report["mounts"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["mount_point"] == mount_point)
}

/// The per-mount options of a mountinfo entry, split.
pub fn mount_options(m: &Value) -> Vec<String> {
    m["options"]
        .as_str()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect()
}
