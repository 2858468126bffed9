//! `rrun features`: what this runtime implements, as runtime-spec features.json.

use anyhow::Result;
use librrun::container::state::OCI_VERSION;
use serde_json::json;

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
        "mountOptions": librrun::rootfs::mount_options::known(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            // systemd: the driver works where systemd is pid 1; rootless (the user's manager)
            // is not done yet.
            "cgroup": {"v1": true, "v2": true, "systemd": librrun::cgroups::systemd::client::running(),
                       "systemdUser": false, "rdma": false},
            "seccomp": librrun::seccomp::features(),
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            // Probed: a user namespace and MOUNT_ATTR_IDMAP on a detached mount (needs root,
            // Linux 5.12 and a file system that allows it); runc 1.2 says true unprobed.
            "mountExtensions": {"idmap": {"enabled": librrun::rootfs::idmap::supported()}},
            "memoryPolicy": {
                "modes": ["MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
                          "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
            },
            "netDevices": {"enabled": true}
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
