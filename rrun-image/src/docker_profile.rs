//! What `docker run IMAGE` gives a container beyond `runc spec`'s defaults, as Docker really
//! hands it to its runtime (../shared/fixtures/engines/docker-run.json): its 14 default
//! capabilities, its masked and read-only paths, its default seccomp profile, the two sysctls
//! that let an unprivileged process bind low ports and ping, a 64 MiB /dev/shm, and no
//! no_new_privs (setuid programs work, as under Docker). rrun-image's default profile; the
//! `runc` profile keeps `runc spec`'s.

use serde_json::{json, Value};

/// Docker's default capability set (bounding, effective and permitted; no ambient).
pub const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Docker's default seccomp profile for x86_64 (profiles/docker-default-seccomp.json).
const SECCOMP: &str = include_str!("../../profiles/docker-default-seccomp.json");

/// Turn a `runc spec`-shaped config into Docker's shape. `own_netns`: the container gets its
/// own network namespace (the network sysctls are only its own then).
pub fn apply(config: &mut Value, own_netns: bool) {
    let caps = json!(CAPABILITIES);
    config["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps,
    });
    config["process"]["noNewPrivileges"] = json!(false);
    let linux = &mut config["linux"];
    linux["maskedPaths"] = json!(MASKED);
    linux["readonlyPaths"] = json!(READONLY);
    // A constant of this crate, checked by a unit test: it always parses.
    linux["seccomp"] = serde_json::from_str(SECCOMP).unwrap_or(Value::Null);
    if own_netns {
        linux["sysctl"] = json!({
            "net.ipv4.ip_unprivileged_port_start": "0",
            "net.ipv4.ping_group_range": "0 2147483647",
        });
    }
    if let Some(mounts) = config["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            match m["destination"].as_str() {
                Some("/proc") => m["options"] = json!(["nosuid", "noexec", "nodev"]),
                Some("/dev/shm") => {
                    m["options"] =
                        json!(["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"])
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_what_docker_sends() {
        let fixture: Value =
            serde_json::from_str(include_str!("../../profiles/docker-default-seccomp.json"))
                .unwrap();
        let mut c = librrun::spec::template::default_spec();
        apply(&mut c, true);
        assert_eq!(c["linux"]["seccomp"], fixture);
        assert_eq!(
            c["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert!(c["process"]["capabilities"].get("ambient").is_none());
        assert_eq!(
            c["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"],
            "0"
        );
        let mut host = librrun::spec::template::default_spec();
        apply(&mut host, false);
        assert!(host["linux"].get("sysctl").is_none());
    }
}
