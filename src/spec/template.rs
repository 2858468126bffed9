//! The one default config.json: runc's `spec` (and `spec --rootless`) defaults, used by
//! `rrun spec` and as the base of the bundles rrun-image writes.

use serde_json::{json, Value};

/// runc's default spec (1.1.5's `runc spec` on this host: no cgroup namespace, so that tools
/// adding their own do not get a duplicate), with "rrun" as the hostname.
pub fn default_spec() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": crate::container::state::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "rrun",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// What a container started without privileges cannot have (runc's `spec --rootless` changes,
/// without the user namespace): no network namespace, /sys bound from the host, no cgroup
/// mount, no device rules, no devpts gid.
pub fn drop_privileged_parts(s: &mut Value) {
    if let Some(linux) = s["linux"].as_object_mut() {
        linux.remove("resources");
    }
    if let Some(ns) = s["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
    }
    let Some(mounts) = s["mounts"].as_array_mut() else {
        return;
    };
    mounts.retain(|m| m["type"] != "cgroup");
    for m in mounts.iter_mut() {
        if m["type"] == "sysfs" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
        if m["type"] == "devpts" {
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
}

/// The rootless variant: a user namespace mapping the caller to root and
/// [`drop_privileged_parts`] (runc's `spec --rootless`).
pub fn rootless_spec(uid: u32, gid: u32) -> Value {
    let mut s = default_spec();
    drop_privileged_parts(&mut s);
    let linux = &mut s["linux"];
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.push(json!({"type": "user"}));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The namespaces of runc 1.1.5's `spec` and `spec --rootless`.
    #[test]
    fn namespaces_are_runcs() {
        let types = |v: &Value| -> Vec<String> {
            v["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["type"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            types(&default_spec()),
            ["pid", "network", "ipc", "uts", "mount"]
        );
        assert_eq!(
            types(&rootless_spec(1000, 1000)),
            ["pid", "ipc", "uts", "mount", "user"]
        );
    }

    #[test]
    fn defaults_are_valid_specs() {
        for v in [default_spec(), rootless_spec(1000, 1000)] {
            let s: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
            crate::spec::validate(&s).unwrap();
        }
    }
}
