//! What a process sees inside a container: namespaces, mounts, masked and readonly paths,
//! credentials, capabilities, rlimits, devices.

mod common;
use common::*;
use serde_json::json;
use std::collections::HashMap;

/// Run `script` in a container made from `bundle` and parse its `key=value` lines.
fn probe(r: &Rrun, b: &mut Bundle, script: &str) -> HashMap<String, String> {
    b.config["process"]["args"] = json!(["/bin/sh", "-c", script]);
    b.save();
    let (code, out, err) = r.run_fg(b);
    assert_eq!(code, 0, "container failed: {err}\n{out}");
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn namespaces_and_proc() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&[]);
    b.config["hostname"] = json!("box1");
    b.config["domainname"] = json!("example.org");
    let v = probe(
        &r,
        &mut b,
        "echo host=$(hostname); echo domain=$(cat /proc/sys/kernel/domainname); \
         echo pid=$$; echo nets=$(ls /sys/class/net | tr '\\n' ' '); \
         echo procs=$(ls -d /proc/[0-9]* | wc -l); echo init=$(cat /proc/1/comm)",
    );
    assert_eq!(v["host"], "box1");
    assert_eq!(v["domain"], "example.org");
    assert_eq!(v["pid"], "1");
    assert_eq!(v["nets"].trim(), "lo");
    // sh (pid 1), ls and wc in the pipeline: nothing of the host.
    assert!(v["procs"].parse::<u32>().unwrap() <= 4, "{}", v["procs"]);
    assert_eq!(v["init"], "sh");
}

#[test]
fn masked_and_readonly_paths() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&[]);
    std::fs::write(b.rootfs().join("etc/secret"), "top secret\n").unwrap();
    std::fs::create_dir_all(b.rootfs().join("secretdir")).unwrap();
    std::fs::write(b.rootfs().join("secretdir/f"), "x").unwrap();
    let masked = b.config["linux"]["maskedPaths"].as_array_mut().unwrap();
    masked.push(json!("/etc/secret"));
    masked.push(json!("/secretdir"));
    masked.push(json!("/does/not/exist"));
    let v = probe(
        &r,
        &mut b,
        "echo secret=$(wc -c < /etc/secret); echo secretdir=$(ls /secretdir | wc -l); \
         echo keys=$(cat /proc/keys 2>/dev/null | wc -c); \
         echo firmware=$(ls /sys/firmware | wc -l); \
         if echo x > /proc/sys/kernel/hostname 2>/dev/null; then echo sys=writable; else echo sys=ro; fi; \
         if echo 1 > /proc/sysrq-trigger 2>/dev/null; then echo sysrq=writable; else echo sysrq=ro; fi; \
         if touch /x 2>/dev/null; then echo root=rw; else echo root=ro; fi",
    );
    assert_eq!(v["secret"], "0");
    assert_eq!(v["secretdir"], "0");
    assert_eq!(v["keys"], "0");
    assert_eq!(v["firmware"], "0");
    assert_eq!(v["sys"], "ro");
    assert_eq!(v["sysrq"], "ro");
    assert_eq!(v["root"], "rw");

    b.config["root"]["readonly"] = json!(true);
    let v = probe(
        &r,
        &mut b,
        "if touch /x 2>/dev/null; then echo root=rw; else echo root=ro; fi; \
         if touch /dev/shm/x; then echo shm=rw; fi",
    );
    assert_eq!(v["root"], "ro");
    assert_eq!(v["shm"], "rw", "mounts on a readonly root stay writable");
}

#[test]
fn user_caps_rlimits_env_cwd() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&[]);
    b.config["process"]["user"] =
        json!({"uid": 65534, "gid": 65534, "additionalGids": [5, 7], "umask": 63});
    b.config["process"]["cwd"] = json!("/work/dir");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    let v = probe(
        &r,
        &mut b,
        "echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G); echo cwd=$(pwd); \
         echo foo=$FOO; echo nofile=$(ulimit -n); echo nofile_hard=$(ulimit -Hn); echo umask=$(umask); \
         grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status | tr -d '\\t' | sed 's/:/=/'",
    );
    assert_eq!(v["uid"], "65534");
    assert_eq!(v["gid"], "65534");
    assert_eq!(v["groups"], "65534 5 7");
    assert_eq!(v["cwd"], "/work/dir");
    assert_eq!(v["foo"], "bar baz");
    assert_eq!(v["nofile"], "256");
    assert_eq!(v["nofile_hard"], "512");
    assert_eq!(v["umask"], "0077");
    // KILL = 5, NET_BIND_SERVICE = 10, CHOWN = 0.
    assert_eq!(v["CapBnd"], "0000000000000421");
    // As a non-root user after exec, only ambient capabilities remain in the permitted and
    // effective sets.
    assert_eq!(v["CapAmb"], "0000000000000400");
    assert_eq!(v["CapInh"], "0000000000000400");
    assert_eq!(v["CapPrm"], "0000000000000400");
    assert_eq!(v["CapEff"], "0000000000000400");
    assert_eq!(v["NoNewPrivs"], "1");
}

#[test]
fn root_caps_as_configured() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&[]);
    let v = probe(
        &r,
        &mut b,
        "grep -E '^(CapPrm|CapEff|CapBnd):' /proc/self/status | tr -d '\\t' | sed 's/:/=/'",
    );
    // runc's default set: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10).
    for k in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(v[k], "0000000020000420", "{k}");
    }
}

#[test]
fn mounts_devices_sysctl() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&[]);
    let host = TempDir::new("rrun-bind");
    std::fs::write(host.path().join("hello"), "from host\n").unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/data", "type": "bind", "source": host.path(), "options": ["rbind", "ro"]}));
    mounts.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m", "mode=700"]}));
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}]);
    b.config["linux"]["sysctl"] = json!({"kernel.shm_rmid_forced": "1"});
    let v = probe(
        &r,
        &mut b,
        "echo hello=$(cat /data/hello); if touch /data/x 2>/dev/null; then echo data=rw; else echo data=ro; fi; \
         echo scratch=$(stat -c %a /scratch); echo fuse=$(stat -c '%F %t %T %a' /dev/fuse); \
         echo null=$(stat -c '%F %t %T' /dev/null); echo ptmx=$(readlink /dev/ptmx); echo fd=$(readlink /dev/fd); \
         echo shm=$(cat /proc/sys/kernel/shm_rmid_forced)",
    );
    assert_eq!(v["hello"], "from host");
    assert_eq!(v["data"], "ro");
    assert_eq!(v["scratch"], "700");
    assert_eq!(v["fuse"], "character special file a e5 666");
    assert_eq!(v["null"], "character special file 1 3");
    assert_eq!(v["ptmx"], "pts/ptmx");
    assert_eq!(v["fd"], "/proc/self/fd");
    assert_eq!(v["shm"], "1");
    assert!(!host.path().join("x").exists());
}

#[test]
fn join_network_namespace_by_path() {
    let r = Rrun::new();
    let first = Bundle::busybox(&["/bin/sleep", "1000"]);
    let id = r.id();
    r.ok(&["run", "-d", "-b", first.path().to_str().unwrap(), &id]);
    let pid = r.state(&id)["pid"].as_i64().unwrap();
    let want = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let mut b = Bundle::busybox(&[]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    for n in ns.iter_mut() {
        if n["type"] == "network" {
            n["path"] = json!(format!("/proc/{pid}/ns/net"));
        }
    }
    let v = probe(&r, &mut b, "echo net=$(readlink /proc/self/ns/net)");
    assert_eq!(v["net"], want.to_str().unwrap());
}

#[test]
fn time_namespace_offsets() {
    time_offsets_seen(false);
}

/// Issue 25: with a user namespace too, switching to its root made the process non-dumpable
/// and /proc/self/timens_offsets unwritable (EACCES).
#[test]
fn time_namespace_offsets_in_a_user_namespace() {
    time_offsets_seen(true);
}

fn time_offsets_seen(userns: bool) {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&[]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(json!({"type": "time"}));
    if userns {
        ns.push(json!({"type": "user"}));
        b.config["linux"]["uidMappings"] =
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.config["linux"]["gidMappings"] =
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    }
    b.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1000000, "nanosecs": 0}});
    let v = probe(&r, &mut b, "echo up=$(cut -d. -f1 /proc/uptime)");
    let host_up: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let up: f64 = v["up"].parse().unwrap();
    assert!(
        up >= 1_000_000.0 + host_up - 5.0,
        "uptime {up} vs host {host_up}"
    );
}

#[test]
fn oom_score_adj_and_cgroups_path() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sleep", "1000"]);
    let cg = unique("rrun-cgpath");
    b.config["linux"]["cgroupsPath"] = json!(format!("/{cg}"));
    b.config["process"]["oomScoreAdj"] = json!(500);
    b.save();
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let pid = r.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
            .unwrap()
            .trim(),
        "500"
    );
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cgroups
            .lines()
            .any(|l| l.contains(":memory:") && l.ends_with(&format!("/{cg}"))),
        "{cgroups}"
    );
    let procs =
        std::fs::read_to_string(format!("/sys/fs/cgroup/memory/{cg}/cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == pid.to_string()), "{procs}");
    r.ok(&["delete", "--force", &id]);
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/{cg}")).exists());
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/unified/{cg}")).exists());
}

#[test]
fn foreground_run_with_terminal_and_signals() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sh", "-c", "tty"]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let (code, out, err) = r.run_fg(&b);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/dev/pts/0"), "{out:?}");

    // SIGTERM to a foreground `run` reaches the container's process.
    let b = Bundle::busybox(&[
        "/bin/sh",
        "-c",
        "trap 'exit 42' TERM; echo ready; while true; do sleep 0.05; done",
    ]);
    let id = r.id();
    let mut child = r
        .cmd()
        .args(["run", "-b", b.path().to_str().unwrap(), &id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
}

/// Unmounts a host mount made by a test, also when it fails.
struct HostMount(std::path::PathBuf);

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Recursive mount options (runtime-spec 1.1: `rro`, `rnosuid`, ...) reach the mounts below
/// the bound one; an option rrun does not know is refused, never dropped (issues 22 and 25).
#[test]
fn recursive_mount_options() {
    let r = Rrun::new();
    let host = TempDir::new("rrun-rro");
    let sub = host.path().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    let _guard = HostMount(sub.clone());
    let mut b = Bundle::busybox(&["/bin/true"]);
    for (dest, opts) in [
        ("/plain", json!(["rbind", "ro"])),
        ("/rec", json!(["rbind", "rro"])),
    ] {
        b.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": dest, "type": "bind", "source": host.path(), "options": opts
        }));
    }
    let seen = probe(
        &r,
        &mut b,
        "touch /plain/sub/f 2>/dev/null && echo plain=rw || echo plain=ro; \
         touch /rec/sub/f 2>/dev/null && echo rec=rw || echo rec=ro",
    );
    assert_eq!(
        seen["plain"], "rw",
        "ro reaches only the top mount: {seen:?}"
    );
    assert_eq!(seen["rec"], "ro", "rro reaches the submount: {seen:?}");

    let mut b = Bundle::busybox(&["/bin/true"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/x", "type": "bind", "source": host.path(),
        "options": ["rbind", "rnosuchoption"]
    }));
    b.save();
    let id = r.id();
    let e = r.fails(&["run", "-b", b.path().to_str().unwrap(), &id]);
    assert!(
        e.contains("unknown mount option(s) \"rnosuchoption\""),
        "{e}"
    );
}

/// Issue 25: without a mount namespace of its own (runc accepts that) the container uses its
/// rootfs as it is, entered with chroot; nothing is mounted on the host; exec enters the same
/// root. Config fields that would need mounts are refused.
#[test]
fn no_mount_namespace() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sleep", "1000"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "mount");
    b.config["mounts"] = json!([]);
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    std::fs::write(b.rootfs().join("marker"), "in the rootfs\n").unwrap();
    b.save();
    let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let out = r.ok(&["exec", &id, "/bin/cat", "/marker"]);
    assert_eq!(out, "in the rootfs\n");
    let bundle = b.path().to_str().unwrap();
    let mounts_during = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert_eq!(
        mounts_before.matches(bundle).count(),
        mounts_during.matches(bundle).count(),
        "mounts of the bundle appeared on the host"
    );
    r.ok(&["delete", "--force", &id]);

    let mut b2 = Bundle::busybox(&["/bin/true"]);
    b2.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "mount");
    b2.save();
    let id = r.id();
    let e = r.fails(&["run", "-b", b2.path().to_str().unwrap(), &id]);
    assert!(e.contains("without a private mount namespace"), "{e}");
}

/// A host interface made by a test (one end of a veth pair: this kernel has no dummy
/// driver), deleted with its peer when the test ends, wherever it is.
struct HostDummy(String);

impl Drop for HostDummy {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .status();
    }
}

fn host_has_link(name: &str) -> bool {
    std::process::Command::new("ip")
        .args(["link", "show", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// linux.netDevices (runtime-spec 1.3): the host interface is in the container under its new
/// name while it runs, gone from the host, and back on the host under its own name after delete.
#[test]
fn net_devices_move_in_and_back() {
    let r = Rrun::new();
    let host = format!("rrd{}", std::process::id() % 100000);
    let peer = format!("{host}p");
    let ok = std::process::Command::new("ip")
        .args(["link", "add", &host, "type", "veth", "peer", "name", &peer])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip link add {host} type veth peer name {peer}");
    let _guard = HostDummy(host.clone());
    let mut b = Bundle::busybox(&["/bin/sleep", "1000"]);
    b.config["linux"]["netDevices"] = json!({ host.clone(): {"name": "eth7"} });
    b.save();
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let out = r.ok(&["exec", &id, "/bin/cat", "/sys/class/net/eth7/ifindex"]);
    assert!(out.trim().parse::<u32>().is_ok(), "{out}");
    assert!(!host_has_link(&host), "{host} is still on the host");
    r.ok(&["delete", "--force", &id]);
    assert!(host_has_link(&host), "{host} did not come back to the host");
}
