//! SCMP_ACT_NOTIFY: the seccomp agent at listenerPath gets the notify listener with the
//! container process state, for the init and for `exec`, with and without noNewPrivileges,
//! and answers the container's syscalls. runc's limits (no notify as the default action or
//! on write, listenerPath required) and a missing agent fail `create` and leave nothing.
//! The agent is oci-conformance's (the same file).

mod common;
#[path = "../../oci-conformance/src/seccomp_agent.rs"]
mod seccomp_agent;

use common::*;
use seccomp_agent::{Agent, Answer, Notif};
use serde_json::{json, Value};

/// The agent's mkdir: made on the agent's side, in the container's root, with the metadata
/// appended to the name ("-bar"), as runc's example agent does.
fn mkdir_bar(n: &Notif) -> Answer {
    let arg = match n.nr as i64 {
        libc::SYS_mkdir => 0,
        libc::SYS_mkdirat => 1,
        _ => return Answer::Continue,
    };
    let Ok(path) = n.read_string(n.args[arg]) else {
        return Answer::Errno(libc::EFAULT);
    };
    match std::fs::create_dir(format!("/proc/{}/root{path}-bar", n.pid)) {
        Ok(()) => Answer::Value(0),
        Err(e) => Answer::Errno(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

fn agent(dir: &TempDir, policy: fn(&Notif) -> Answer) -> Agent {
    Agent::start(&dir.path().join("agent.sock"), policy).unwrap()
}

fn notify(agent: &Agent, names: &[&str]) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent.path,
        "listenerMetadata": "bar",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]
    })
}

fn run_with(profile: Value, nnp: bool, script: &str) -> (i32, String, String) {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sh", "-c", script]);
    b.config["linux"]["seccomp"] = profile;
    b.config["process"]["noNewPrivileges"] = json!(nnp);
    b.save();
    r.run_fg(&b)
}

#[test]
fn the_agent_answers_the_containers_mkdir() {
    for nnp in [false, true] {
        let dir = TempDir::new("rrun-agent");
        let a = agent(&dir, mkdir_bar);
        let (code, out, err) = run_with(
            notify(&a, &["mkdir", "mkdirat"]),
            nnp,
            "mkdir /tmp/foo && stat -c %F /tmp/foo-bar && ! test -e /tmp/foo",
        );
        assert_eq!(code, 0, "nnp={nnp}: {out} {err}");
        assert!(out.contains("directory"), "{out}");
        let states = a.wait_for_states(1);
        assert_eq!(states.len(), 1, "{states:?}");
        let s = &states[0];
        assert_eq!(s["fds"], json!(["seccompFd"]));
        assert_eq!(s["metadata"], "bar");
        assert_eq!(s["state"]["status"], "creating");
        assert_eq!(s["state"]["pid"], s["pid"]);
        assert!(s["pid"].as_i64().unwrap() > 0);
    }
}

/// The syscalls rrun's init itself makes after the filter (close, read, openat, execve) may
/// be notified: the agent holds the listener before any of them runs.
#[test]
fn syscalls_of_the_init_may_be_notified() {
    for nnp in [false, true] {
        let dir = TempDir::new("rrun-agent");
        let a = agent(&dir, |_| Answer::Continue);
        let (code, out, err) = run_with(
            notify(
                &a,
                &[
                    "execve", "openat", "open", "read", "close", "recvfrom", "recvmsg",
                ],
            ),
            nnp,
            "true",
        );
        assert_eq!(code, 0, "nnp={nnp}: {out} {err}");
    }
}

#[test]
fn an_agent_errno_reaches_the_process() {
    let dir = TempDir::new("rrun-agent");
    let a = agent(&dir, |_| Answer::Errno(libc::ENOMEDIUM));
    let (code, out, _) = run_with(
        notify(&a, &["chmod", "fchmod", "fchmodat"]),
        false,
        "touch /tmp/foo && chmod 777 /tmp/foo 2>&1",
    );
    assert_ne!(code, 0);
    assert!(out.contains("No medium found"), "{out}");
}

/// runc's rule: with the agent gone, notified syscalls fail with ENOSYS instead of hanging.
#[test]
fn without_the_agent_notified_syscalls_fail_with_enosys() {
    let dir = TempDir::new("rrun-agent");
    let a = agent(&dir, mkdir_bar);
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sh", "-c", "sleep 3; mkdir /tmp/foo 2>&1"]);
    b.config["linux"]["seccomp"] = notify(&a, &["mkdir", "mkdirat"]);
    b.save();
    let (code, out, err) = std::thread::scope(|s| {
        let run = s.spawn(|| r.run_fg(&b));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        drop(a);
        run.join().unwrap()
    });
    assert_ne!(code, 0, "{out} {err}");
    assert!(out.contains("Function not implemented"), "{out} {err}");
}

#[test]
fn exec_sends_its_own_listener_with_the_containers_state() {
    let dir = TempDir::new("rrun-agent");
    let a = agent(&dir, mkdir_bar);
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["sleep", "60"]);
    b.config["linux"]["seccomp"] = notify(&a, &["mkdir", "mkdirat"]);
    b.save();
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let out = r.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mkdir /tmp/e && stat -c %F /tmp/e-bar",
    ]);
    assert!(out.contains("directory"), "{out}");
    let states = a.wait_for_states(2);
    assert_eq!(states.len(), 2, "{states:?}");
    assert_eq!(states[1]["state"]["status"], "running");
    assert_eq!(states[1]["state"]["id"], id.as_str());
    assert_ne!(states[1]["pid"], states[0]["pid"]);
}

/// The startContainer hook runs in the container without the init's listener fd.
#[test]
fn the_listener_does_not_leak_into_start_container_hooks() {
    let dir = TempDir::new("rrun-agent");
    let a = agent(&dir, mkdir_bar);
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["true"]);
    b.config["linux"]["seccomp"] = notify(&a, &["mkdir", "mkdirat"]);
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/sh",
        "args": ["sh", "-c", "ls /proc/self/fd > /fds"]}]});
    b.save();
    let (code, out, err) = r.run_fg(&b);
    assert_eq!(code, 0, "{out} {err}");
    let fds = std::fs::read_to_string(b.rootfs().join("fds")).unwrap();
    // stdin, stdout, stderr and the directory ls reads.
    assert_eq!(fds.lines().count(), 4, "{fds}");
}

#[test]
fn bad_notify_setups_fail_create_and_leave_nothing() {
    let dir = TempDir::new("rrun-agent");
    let absent = dir.path().join("nobody.sock");
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": absent,
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "failed to connect with seccomp agent",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "@rrun-nobody-listens",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "failed to connect with seccomp agent",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": absent,
                   "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}),
            "SCMP_ACT_NOTIFY cannot be used for the write syscall",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": absent}),
            "SCMP_ACT_NOTIFY cannot be used as default action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "needs listenerPath",
        ),
    ];
    for (profile, needle) in cases {
        let r = Rrun::new();
        let mut b = Bundle::busybox(&["true"]);
        b.config["linux"]["seccomp"] = profile;
        let cg = unique("rrun-notify-cg");
        b.config["linux"]["cgroupsPath"] = json!(format!("/{cg}"));
        b.save();
        let id = r.id();
        let err = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
        assert!(!r.root.path().join(&id).exists(), "state left for {needle}");
        for ctl in ["pids", "memory", "unified"] {
            let p = std::path::Path::new("/sys/fs/cgroup").join(ctl).join(&cg);
            assert!(!p.exists(), "{} left for {needle}", p.display());
        }
    }
}

/// A listenerPath without a notify rule is ignored.
#[test]
fn listener_path_without_notify_rules_is_ignored() {
    let (code, out, err) = run_with(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent.sock",
               "listenerMetadata": "bar"}),
        false,
        "mkdir /tmp/foo && test -d /tmp/foo",
    );
    assert_eq!(code, 0, "{out} {err}");
}
