//! `rrun features`: what this runtime implements, as runtime-spec features.json.

use anyhow::Result;
use librrun::container::state::OCI_VERSION;
use serde_json::json;

/// The mount options rrun understands (mount_options.rs), for features.json.
const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "unbindable",
];

pub fn features() -> serde_json::Value {
    let mut caps: Vec<String> = librrun::process::caps::supported()
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": librrun::seccomp::features(),
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "io.github.rrun.version": env!("CARGO_PKG_VERSION"),
            "io.github.rrun.commit": env!("RRUN_COMMIT")
        }
    })
}

pub fn cmd() -> Result<i32> {
    super::emit(&(serde_json::to_string_pretty(&features())? + "\n"))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_as_runtime_spec_features() {
        let f: oci_spec::runtime::Features = serde_json::from_value(super::features()).unwrap();
        assert_eq!(f.oci_version_min(), "1.0.0");
    }
}
