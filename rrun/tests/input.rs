//! Input a config fuzzer and hostile command lines found mishandled (issue 16), end to end:
//! each is a clear error (or a logged warning where runtime-spec says not to fail), never a
//! panic, and leaves nothing behind.

mod common;
use common::*;
use serde_json::json;

fn nothing_left(r: &Rrun, id: &str) {
    assert!(!r.root.path().join(id).exists(), "state dir of {id} left");
}

#[test]
fn kill_with_any_utf8_signal_is_an_error_not_an_abort() {
    let r = Rrun::new();
    for sig in ["RTMINé", "SIGRTMAX€1", "RTMIN+99999999999", "é"] {
        let out = r.run(&["kill", "no-such-container", sig]);
        assert_eq!(out.status.code(), Some(1), "{sig}: {out:?}");
    }
}

#[test]
fn unknown_capabilities_are_logged_and_skipped() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["sh", "-c", "grep CapBnd /proc/self/status"]);
    b.config["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_FROM_THE_FUTURE"]);
    b.save();
    let log = r.root.path().join("log.json");
    let id = r.id();
    let out = r.run(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "run",
        "-b",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{out:?}");
    // Only CAP_KILL (bit 5) is left in the bounding set.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0000000000000020"),
        "{out:?}"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(r#""level":"warning""#) && log.contains("CAP_FROM_THE_FUTURE"),
        "{log}"
    );
}

#[test]
fn hook_paths_timeouts_and_rlimits_are_checked_before_anything_exists() {
    let r = Rrun::new();
    for (field, value, want) in [
        ("hooks", json!({"prestart": [{"path": "true"}]}), "absolute"),
        (
            "hooks",
            json!({"poststart": [{"path": "/bin/true", "timeout": 0}]}),
            "greater than zero",
        ),
    ] {
        let mut b = Bundle::busybox(&["/bin/true"]);
        b.config[field] = value;
        b.save();
        let id = r.id();
        let e = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
        assert!(e.contains(want), "{e}");
        nothing_left(&r, &id);
    }
    let mut b = Bundle::busybox(&["/bin/true"]);
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "hard": 100, "soft": 100},
        {"type": "RLIMIT_NOFILE", "hard": 200, "soft": 200}
    ]);
    b.save();
    let id = r.id();
    let e = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
    assert!(e.contains("appears twice"), "{e}");
    nothing_left(&r, &id);
}

#[test]
fn empty_namespace_path_means_a_new_namespace() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["sh", "-c", "readlink /proc/self/ns/net"]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "network");
    ns.push(json!({"type": "network", "path": ""}));
    b.save();
    let (code, out, err) = r.run_fg(&b);
    assert_eq!(code, 0, "{err}");
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(
        out.trim(),
        host.to_string_lossy(),
        "joined the host's network namespace"
    );
}

#[test]
fn intel_rdt_is_refused_not_ignored() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    b.config["linux"]["intelRdt"] = json!({"closID": "rrun-test", "l3CacheSchema": "L3:0=ff"});
    b.save();
    let id = r.id();
    let e = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
    assert!(e.contains("intelRdt"), "{e}");
    nothing_left(&r, &id);
}

/// linux.netDevices needs a new network namespace: without one the interface would stay on
/// the host (or land in a namespace the container does not own).
#[test]
fn net_devices_need_a_new_network_namespace() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    b.config["linux"]["netDevices"] = json!({"dummy0": {"name": "eth1"}});
    b.save();
    let id = r.id();
    let e = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
    assert!(
        e.contains("linux.netDevices needs a new network namespace"),
        "{e}"
    );
    nothing_left(&r, &id);
}

/// linux.memoryPolicy is applied (runtime-spec 1.3): a valid policy runs, a node the host does
/// not have fails in set_mempolicy, a bad combination fails before anything exists.
#[test]
fn memory_policy_is_applied() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    b.save();
    r.ok(&["run", "-b", b.path().to_str().unwrap(), &r.id()]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "1000"});
    b.save();
    let id = r.id();
    let e = r.fails(&["run", "-b", b.path().to_str().unwrap(), &id]);
    assert!(e.contains("set_mempolicy (linux.memoryPolicy)"), "{e}");
    nothing_left(&r, &id);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_LOCAL", "nodes": "0"});
    b.save();
    let id = r.id();
    let e = r.fails(&["run", "-b", b.path().to_str().unwrap(), &id]);
    assert!(
        e.contains("linux.memoryPolicy: mode MPOL_LOCAL takes no nodes"),
        "{e}"
    );
    nothing_left(&r, &id);
}

/// runc creates a missing cwd before it makes the root read-only; rrun refused the config.
#[test]
fn missing_cwd_under_a_read_only_root_is_created() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["sh", "-c", "pwd; touch /x 2>/dev/null || echo ro"]);
    b.config["root"]["readonly"] = json!(true);
    b.config["process"]["cwd"] = json!("/work/dir");
    b.save();
    let (code, out, err) = r.run_fg(&b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "/work/dir\nro\n");
}
