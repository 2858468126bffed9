//! config-linux.md: namespaces (new, inherited, joined by path, errors),
//! user namespace id mappings, time namespace offsets.

use crate::context::Ctx;
use crate::harness::{Failure, Outcome, Verdict};
use crate::{cases, check, skip};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "config-linux/namespaces/pid-new" => pid_new,
        "config-linux/namespaces/network-new" => net_new,
        "config-linux/namespaces/ipc-new" => ipc_new,
        "config-linux/namespaces/uts-new" => uts_new,
        "config-linux/namespaces/mount-new" => mnt_new,
        "config-linux/namespaces/cgroup-new" => cgroup_new,
        "config-linux/namespaces/user-new" => user_new,
        "config-linux/namespaces/time-new" => time_new,
        "config-linux/namespaces/pid-inherit" => pid_inherit,
        "config-linux/namespaces/network-inherit" => net_inherit,
        "config-linux/namespaces/ipc-inherit" => ipc_inherit,
        "config-linux/namespaces/uts-inherit" => uts_inherit,
        "config-linux/namespaces/cgroup-inherit" => cgroup_inherit,
        "config-linux/namespaces/network-path" => net_path,
        "config-linux/namespaces/ipc-path" => ipc_path,
        "config-linux/namespaces/uts-path" => uts_path,
        "config-linux/namespaces/pid-path" => pid_path,
        "config-linux/namespaces/path-wrong-type-error" => path_wrong_type,
        "config-linux/namespaces/duplicate-type-error" => duplicate_type,
        "config-linux/user-namespace-mappings/uid-gid" => user_mappings,
        "config-linux/user-namespace-mappings/multiple-ranges" => user_mappings_multi,
        "config-linux/user-namespace-mappings/rootfs-ownership-unchanged" => userns_ownership,
        "config-linux/timeOffsets" => time_offsets,
        "config-linux/timeOffsets/with-user-namespace" => time_offsets_userns,
        "config-linux/namespaces/mount-absent" => no_mount_namespace,
        "config-linux/netDevices" => net_devices,
    ]
}

/// `ns_kind` is the spec's name, `link` the /proc/<pid>/ns entry.
const KINDS: [(&str, &str); 8] = [
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
    ("user", "user"),
    ("time", "time"),
];

fn link_name(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

fn new_ns(ctx: &Ctx, kind: &str) -> Outcome {
    let link = link_name(kind);
    let Some(host) = ctx.host.ns.get(link) else {
        skip!("the kernel has no {kind} namespaces (/proc/self/ns/{link} missing)");
    };
    let mut b = ctx.bundle()?;
    b.set_namespace(kind, None);
    if kind == "user" {
        b.config["linux"]["uidMappings"] =
            json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        b.config["linux"]["gidMappings"] =
            json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    }
    if kind == "time" {
        b.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 3600, "nanosecs": 0}});
    }
    let out = ctx.run_checker(&b)?;
    let got = &out["ns"][link];
    check!(
        got.is_string(),
        "no {link} namespace in the report: {}",
        out["ns"]
    );
    check!(
        got != host.as_str(),
        "the container shares the runtime's {kind} namespace {host}"
    );
    if kind == "pid" {
        check!(
            out["pid"] == 1,
            "the process is pid {} in its new pid namespace, not 1",
            out["pid"]
        );
    }
    Ok(Verdict::Pass)
}

fn inherit_ns(ctx: &Ctx, kind: &str) -> Outcome {
    let link = link_name(kind);
    let Some(host) = ctx.host.ns.get(link) else {
        skip!("the kernel has no {kind} namespaces");
    };
    let mut b = ctx.bundle()?;
    b.remove_namespace(kind);
    if kind == "uts" {
        // Setting a hostname in the runtime's own uts namespace would change the host's.
        if let Some(o) = b.config.as_object_mut() {
            o.remove("hostname");
        }
    }
    if kind == "network" {
        // sysfs cannot be mounted for a network namespace the container does not own.
        if let Some(m) = b.config["mounts"].as_array_mut() {
            m.retain(|m| m["destination"] != "/sys");
        }
    }
    let out = ctx.run_checker(&b)?;
    let got = &out["ns"][link];
    check!(
        got == host.as_str(),
        "{kind} namespace {got} is not the runtime's {host}"
    );
    if kind == "pid" {
        check!(
            out["pid"] != 1,
            "the process is pid 1 though it shares the host pid namespace"
        );
    }
    Ok(Verdict::Pass)
}

fn pid_new(ctx: &Ctx) -> Outcome {
    new_ns(ctx, "pid")
}
fn net_new(ctx: &Ctx) -> Outcome {
    new_ns(ctx, "network")
}
fn ipc_new(ctx: &Ctx) -> Outcome {
    new_ns(ctx, "ipc")
}
fn uts_new(ctx: &Ctx) -> Outcome {
    new_ns(ctx, "uts")
}
fn mnt_new(ctx: &Ctx) -> Outcome {
    new_ns(ctx, "mount")
}
fn cgroup_new(ctx: &Ctx) -> Outcome {
    new_ns(ctx, "cgroup")
}
fn user_new(ctx: &Ctx) -> Outcome {
    new_ns(ctx, "user")
}
fn time_new(ctx: &Ctx) -> Outcome {
    new_ns(ctx, "time")
}
fn pid_inherit(ctx: &Ctx) -> Outcome {
    inherit_ns(ctx, "pid")
}
fn net_inherit(ctx: &Ctx) -> Outcome {
    inherit_ns(ctx, "network")
}
fn ipc_inherit(ctx: &Ctx) -> Outcome {
    inherit_ns(ctx, "ipc")
}
fn uts_inherit(ctx: &Ctx) -> Outcome {
    inherit_ns(ctx, "uts")
}
fn cgroup_inherit(ctx: &Ctx) -> Outcome {
    inherit_ns(ctx, "cgroup")
}

/// A `sleep` in fresh namespaces made by util-linux unshare(1); killed on drop.
struct Holder {
    child: Child,
    /// The pid whose /proc/<pid>/ns holds the namespaces (the forked child for --pid).
    pid: u32,
}

impl Holder {
    fn start(flags: &[&str], fork: bool) -> Result<Holder, Failure> {
        let mut cmd = Command::new("unshare");
        cmd.args(flags);
        if fork {
            cmd.arg("--fork");
        }
        let child = cmd
            .args(["sleep", "100000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|source| Failure::Io {
                what: "spawning unshare(1)".into(),
                source,
            })?;
        let mut holder = Holder {
            pid: child.id(),
            child,
        };
        // Wait until the namespaces exist: the target process runs `sleep`.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if fork {
                let children = std::fs::read_to_string(format!(
                    "/proc/{0}/task/{0}/children",
                    holder.child.id()
                ))
                .unwrap_or_default();
                if let Some(p) = children
                    .split_whitespace()
                    .next()
                    .and_then(|p| p.parse().ok())
                {
                    holder.pid = p;
                }
            }
            let comm =
                std::fs::read_to_string(format!("/proc/{}/comm", holder.pid)).unwrap_or_default();
            if comm.trim() == "sleep" {
                return Ok(holder);
            }
            check!(
                Instant::now() < deadline,
                "unshare {flags:?} never ran sleep"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn ns_path(&self, link: &str) -> String {
        format!("/proc/{}/ns/{link}", self.pid)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if self.pid != self.child.id() {
            // SAFETY: signalling the holder's own forked child.
            unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn join_ns(ctx: &Ctx, kind: &str, flag: &str) -> Outcome {
    let link = link_name(kind);
    let holder = Holder::start(&[flag], kind == "pid")?;
    let path = holder.ns_path(link);
    let want = std::fs::read_link(&path)
        .map(|t| t.display().to_string())
        .map_err(|source| Failure::Io {
            what: format!("readlink {path}"),
            source,
        })?;
    let mut b = ctx.bundle()?;
    b.set_namespace(kind, Some(&path));
    if kind == "pid" {
        // A pid namespace that already has an init: the process is not pid 1.
        b.checker(&["report"]);
    }
    let out = ctx.run_checker(&b)?;
    check!(
        out["ns"][link] == want.as_str(),
        "{kind} namespace {} is not the one at {path} ({want})",
        out["ns"][link]
    );
    Ok(Verdict::Pass)
}

fn net_path(ctx: &Ctx) -> Outcome {
    join_ns(ctx, "network", "--net")
}
fn ipc_path(ctx: &Ctx) -> Outcome {
    join_ns(ctx, "ipc", "--ipc")
}
fn uts_path(ctx: &Ctx) -> Outcome {
    join_ns(ctx, "uts", "--uts")
}
fn pid_path(ctx: &Ctx) -> Outcome {
    join_ns(ctx, "pid", "--pid")
}

fn path_wrong_type(ctx: &Ctx) -> Outcome {
    let holder = Holder::start(&["--uts"], false)?;
    let mut b = ctx.bundle()?;
    b.set_namespace("ipc", Some(&holder.ns_path("uts")));
    let inv = ctx.run(&b)?;
    check!(
        !inv.success(),
        "an ipc namespace path naming a uts namespace was accepted"
    );
    Ok(Verdict::Pass)
}

fn duplicate_type(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    if let Some(list) = b.config["linux"]["namespaces"].as_array_mut() {
        list.push(json!({"type": "uts"}));
    }
    let inv = ctx.run(&b)?;
    check!(!inv.success(), "two uts namespace entries were accepted");
    Ok(Verdict::Pass)
}

fn normalize_map(s: &str) -> Vec<Vec<String>> {
    s.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn mappings(
    ctx: &Ctx,
    uid: serde_json::Value,
    gid: serde_json::Value,
    uid_map: &str,
    gid_map: &str,
) -> Outcome {
    let mut b = ctx.bundle()?;
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] = uid;
    b.config["linux"]["gidMappings"] = gid;
    let out = ctx.run_checker(&b)?;
    let got_uid = normalize_map(out["uid_map"].as_str().unwrap_or(""));
    let got_gid = normalize_map(out["gid_map"].as_str().unwrap_or(""));
    check!(
        got_uid == normalize_map(uid_map),
        "uid_map {:?} != {uid_map:?}",
        out["uid_map"]
    );
    check!(
        got_gid == normalize_map(gid_map),
        "gid_map {:?} != {gid_map:?}",
        out["gid_map"]
    );
    check!(
        out["uid"] == 0 && out["gid"] == 0,
        "the process is not uid/gid 0 in the container: {} {}",
        out["uid"],
        out["gid"]
    );
    Ok(Verdict::Pass)
}

fn user_mappings(ctx: &Ctx) -> Outcome {
    mappings(
        ctx,
        json!([{"containerID": 0, "hostID": 300000, "size": 65536}]),
        json!([{"containerID": 0, "hostID": 310000, "size": 65536}]),
        "0 300000 65536",
        "0 310000 65536",
    )
}

fn user_mappings_multi(ctx: &Ctx) -> Outcome {
    mappings(
        ctx,
        json!([{"containerID": 0, "hostID": 400000, "size": 1000},
               {"containerID": 1000, "hostID": 500000, "size": 1000}]),
        json!([{"containerID": 0, "hostID": 400000, "size": 1000},
               {"containerID": 1000, "hostID": 500000, "size": 1000}]),
        "0 400000 1000\n1000 500000 1000",
        "0 400000 1000\n1000 500000 1000",
    )
}

fn time_offsets(ctx: &Ctx) -> Outcome {
    offsets_seen(ctx, false)
}

/// The offsets are written also when the container has its own user namespace (whose root
/// the runtime has become by then).
fn time_offsets_userns(ctx: &Ctx) -> Outcome {
    offsets_seen(ctx, true)
}

fn offsets_seen(ctx: &Ctx, userns: bool) -> Outcome {
    if !ctx.host.ns.contains_key("time") {
        skip!("the kernel has no time namespaces");
    }
    let mut b = ctx.bundle()?;
    b.set_namespace("time", None);
    if userns {
        b.set_namespace("user", None);
        b.config["linux"]["uidMappings"] =
            json!([{"containerID": 0, "hostID": 700000, "size": 65536}]);
        b.config["linux"]["gidMappings"] =
            json!([{"containerID": 0, "hostID": 700000, "size": 65536}]);
    }
    b.config["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": 86400, "nanosecs": 0},
        "boottime": {"secs": 172800, "nanosecs": 0}
    });
    b.checker(&["read", "/proc/self/timens_offsets"]);
    let out = ctx.run_checker(&b)?;
    let data = out["data"].as_str().unwrap_or("");
    let lines = normalize_map(data);
    let has = |clock: &str, secs: &str| {
        lines.iter().any(|l| {
            l.first().map(String::as_str) == Some(clock)
                && l.get(1).map(String::as_str) == Some(secs)
        })
    };
    check!(
        has("monotonic", "86400") && has("boottime", "172800"),
        "timens_offsets {data:?} lack the configured offsets"
    );
    Ok(Verdict::Pass)
}

/// The runtime SHOULD NOT chown the rootfs to realise the mapping.
fn userns_ownership(ctx: &Ctx) -> Outcome {
    use std::os::unix::fs::MetadataExt;
    let mut b = ctx.bundle()?;
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 600000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 600000, "size": 65536}]);
    let probe = b.rootfs().join("etc/passwd");
    let before = std::fs::metadata(&probe).map_err(|source| Failure::Io {
        what: format!("stat {}", probe.display()),
        source,
    })?;
    let out = ctx.run_checker(&b)?;
    check!(
        out["uid"] == 0,
        "the process is not root in its user namespace: {}",
        out["uid"]
    );
    let after = std::fs::metadata(&probe).map_err(|source| Failure::Io {
        what: format!("stat {}", probe.display()),
        source,
    })?;
    check!(
        (before.uid(), before.gid()) == (after.uid(), after.gid()),
        "the rootfs was chowned from {}:{} to {}:{}",
        before.uid(),
        before.gid(),
        after.uid(),
        after.gid()
    );
    Ok(Verdict::Pass)
}

/// A config without a mount namespace is valid (config-linux.md: a namespace not listed is
/// inherited from the runtime): with no mounts and no masked paths asked for, the container
/// runs on its rootfs.
fn no_mount_namespace(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    if let Some(ns) = b.config["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "mount");
    }
    b.config["mounts"] = json!([]);
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.config["root"]["readonly"] = json!(false);
    let marker = b.rootfs().join("oci-no-mountns");
    std::fs::write(&marker, "rootfs\n").map_err(|source| Failure::Io {
        what: format!("write {}", marker.display()),
        source,
    })?;
    b.checker(&["read", "/oci-no-mountns"]);
    let leaks = HostMountsBelow(b.path().display().to_string());
    let out = ctx.run_checker(&b)?;
    check!(
        out["data"] == "rootfs\n",
        "the process does not see its rootfs as /: {out}"
    );
    let left = leaks.list();
    check!(
        left.is_empty(),
        "the container shares the host's mount namespace, and left {} mounts there: {left:?}",
        left.len()
    );
    Ok(Verdict::Pass)
}

/// Mounts on the host below a directory: listed, and unmounted when dropped (so a runtime that
/// leaves some does not break the cleanup of the test's files).
struct HostMountsBelow(String);

impl HostMountsBelow {
    fn list(&self) -> Vec<String> {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|mp| mp.starts_with(&self.0))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for HostMountsBelow {
    fn drop(&mut self) {
        let mut left = self.list();
        left.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in left {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

/// One end of a veth pair made on the host for a test, deleted (with its peer) at the end.
struct HostVeth(String);

impl Drop for HostVeth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

/// runtime-spec 1.3 linux.netDevices: the host interface is moved into the container's
/// network namespace under the configured name.
fn net_devices(ctx: &Ctx) -> Outcome {
    let host = format!("ocv{}", std::process::id() % 100000);
    let made = Command::new("ip")
        .args([
            "link",
            "add",
            &host,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{host}p"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        skip!("cannot make a veth pair on the host (ip link add ... type veth)");
    }
    let _veth = HostVeth(host.clone());
    let mut b = ctx.bundle()?;
    b.config["linux"]["netDevices"] = json!({ host.clone(): {"name": "ocinet0"} });
    b.checker(&["read", "/sys/class/net/ocinet0/ifindex"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["ok"] == true,
        "the container has no interface ocinet0: {out}"
    );
    Ok(Verdict::Pass)
}
