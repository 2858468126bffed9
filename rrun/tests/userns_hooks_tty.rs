//! User namespaces with id mappings, every hook kind, and terminals over a console socket.

mod common;
use common::*;
use serde_json::{json, Value};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

#[test]
fn user_namespace_maps_root_to_100000() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&[]);
    let shared = TempDir::new("rrun-userns-data");
    std::fs::set_permissions(
        shared.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // A user-namespaced rootfs belongs to the mapped ids (as rrun-image --uid-map makes it).
    let st = std::process::Command::new("chown")
        .args(["-R", "100000:100000"])
        .arg(b.rootfs())
        .status()
        .unwrap();
    assert!(st.success());
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/data", "type": "bind", "source": shared.path(), "options": ["rbind"]}));
    b.config["process"]["args"] = json!([
        "/bin/sh",
        "-c",
        "echo uid=$(id -u); cat /proc/self/uid_map; touch /data/made-inside; echo done"
    ]);
    b.save();
    let (code, out, err) = r.run_fg(&b);
    assert_eq!(code, 0, "{err}\n{out}");
    assert!(out.contains("uid=0"), "{out}");
    assert!(out.contains("100000"), "uid_map: {out}");
    let m = std::fs::metadata(shared.path().join("made-inside")).unwrap();
    assert_eq!(m.uid(), 100000);
    assert_eq!(m.gid(), 100000);
}

fn hook(kind: &str, log: &str) -> Value {
    // Each hook appends "kind <state json>" to the log.
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("printf '%s ' {kind} >> {log}; cat >> {log}; echo >> {log}")],
        "env": ["PATH=/bin:/usr/bin"],
        "timeout": 10
    })
}

#[test]
fn every_hook_kind_gets_the_state_in_order() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    let logdir = TempDir::new("rrun-hooklog");
    let host_log = logdir.path().join("log");
    let host_log = host_log.to_str().unwrap();
    // startContainer runs after pivot_root: it sees the log dir through a bind mount.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/hooklog", "type": "bind", "source": logdir.path(), "options": ["rbind"]}));
    b.config["hooks"] = json!({
        "prestart": [hook("prestart", host_log)],
        "createRuntime": [hook("createRuntime", host_log)],
        "createContainer": [hook("createContainer", host_log)],
        "startContainer": [hook("startContainer", "/hooklog/log")],
        "poststart": [hook("poststart", host_log)],
        "poststop": [hook("poststop", host_log)]
    });
    b.save();
    let id = r.id();
    let bundle = b.path().to_str().unwrap();
    r.ok(&["create", "-b", bundle, &id]);
    r.ok(&["start", &id]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.state(&id)["status"] != "stopped" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    r.ok(&["delete", &id]);
    let text = std::fs::read_to_string(logdir.path().join("log")).unwrap();
    let entries: Vec<(String, Value)> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, j) = l.split_once(' ').unwrap();
            (
                k.to_string(),
                serde_json::from_str(j).unwrap_or_else(|e| panic!("{l}: {e}")),
            )
        })
        .collect();
    let kinds: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let statuses: Vec<&str> = entries
        .iter()
        .map(|(_, v)| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["creating", "creating", "creating", "created", "running", "stopped"]
    );
    for (k, v) in &entries {
        assert_eq!(v["id"], id.as_str(), "{k}");
        assert_eq!(v["bundle"], bundle, "{k}");
        if k != "poststop" {
            assert!(v["pid"].as_i64().unwrap() > 0, "{k}");
        }
    }
}

#[test]
fn failing_prestart_hook_aborts_create_and_cleans_up() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    b.config["hooks"] =
        json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]});
    let cg = unique("rrun-hookcg");
    b.config["linux"]["cgroupsPath"] = json!(format!("/{cg}"));
    b.save();
    let id = r.id();
    let e = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
    assert!(e.contains("prestart hook #0") && e.contains("nope"), "{e}");
    assert!(!r.root.path().join(&id).exists());
    assert!(mounts_containing(b.path().to_str().unwrap()).is_empty());
    for ctl in ["memory", "pids", "cpu", "unified"] {
        let p = std::path::Path::new("/sys/fs/cgroup").join(ctl).join(&cg);
        assert!(!p.exists(), "{} left", p.display());
    }
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output();
    if let Ok(ps) = ps {
        assert!(
            !String::from_utf8_lossy(&ps.stdout).contains(&id),
            "a process of {id} is left"
        );
    }
}

#[test]
fn terminal_through_console_socket() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&[]);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 30, "width": 101});
    b.config["process"]["args"] = json!(["/bin/sh", "-c", "tty; stty size; sleep 0.5"]);
    b.save();
    let sockdir = TempDir::new("rrun-console");
    let sock = sockdir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let id = r.id();
    let mut child = r
        .cmd()
        .args([
            "run",
            "-d",
            "--console-socket",
            sock.to_str().unwrap(),
            "-b",
        ])
        .arg(b.path())
        .arg(&id)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (conn, _) = listener.accept().unwrap();
    let (master, name) = librrun::tty::recv_fd(conn.as_fd()).unwrap();
    assert!(name.starts_with("/dev/pts/"), "{name}");
    assert!(child.wait().unwrap().success());
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match nix::unistd::read(master.as_fd(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&out).contains("30 101") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("30 101"), "{text:?}");
}

#[test]
fn console_flags_are_checked() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let id = r.id();
    let e = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
    assert!(e.contains("cannot allocate tty"), "{e}");
    b.config["process"]["terminal"] = json!(false);
    b.save();
    let e = r.fails(&[
        "create",
        "--console-socket",
        "/nonexistent.sock",
        "-b",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(e.contains("cannot use console socket"), "{e}");
}

/// Issue 16: `run` with its own terminal spun at about 15k poll+read calls a second once the
/// container closed its tty but kept running (POLLHUP on the master, forever). rrun's CPU time
/// over those seconds shows whether it waits or spins.
#[test]
fn run_with_terminal_does_not_spin_after_the_tty_closes() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["sh", "-c", "exec </dev/null >/dev/null 2>&1; sleep 3"]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let id = r.id();
    let mut child = r
        .cmd()
        .args(["run", "-b", b.path().to_str().unwrap(), &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // utime and stime (fields 14 and 15 of /proc/PID/stat), in clock ticks (100 a second).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        ticks < 30,
        "rrun used {ticks} ticks of CPU in 2.5 s while the container ran without a tty"
    );
}

/// Issue 16: a hook that does not read its stdin, with a state over the 64 KiB a pipe holds,
/// made `create` wait 25 s past a 2 s timeout. The timeout now covers everything.
#[test]
fn hook_timeout_holds_with_a_large_state_and_a_hook_that_does_not_read() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    b.config["annotations"] = json!({"big": "x".repeat(200_000)});
    b.config["hooks"] = json!({"createRuntime": [
        {"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 2}
    ]});
    b.save();
    let id = r.id();
    let t = std::time::Instant::now();
    let e = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
    let took = t.elapsed();
    assert!(e.contains("timeout after 2s"), "{e}");
    // A hang detector, not a speed goal: 2 s of timeout plus setup, far from 30 s.
    assert!(took.as_secs() < 20, "create took {took:?}");
    assert!(!r.root.path().join(&id).exists());
}

/// Issue 25: a hook without `env` gets the runtime's environment, except a startContainer hook,
/// which runs in the container and gets the container process's (runc's rule); a hook with
/// `env` gets exactly that.
#[test]
fn hooks_without_env_get_runcs_environment() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    b.config["process"]["env"] = json!(["PATH=/bin", "FROM_PROCESS=1"]);
    let logdir = TempDir::new("rrun-hookenv");
    let host_log = logdir.path().join("log");
    let host_log = host_log.to_str().unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/hooklog", "type": "bind", "source": logdir.path(), "options": ["rbind"]}));
    let hook = |kind: &str, log: &str| {
        json!({"path": "/bin/sh", "args": ["sh", "-c",
            format!("echo {kind} mark=$HOOK_MARK process=$FROM_PROCESS >> {log}")]})
    };
    let mut given = hook("given", host_log);
    given["env"] = json!(["HOOK_MARK=given"]);
    b.config["hooks"] = json!({
        "prestart": [hook("prestart", host_log), given],
        "createRuntime": [hook("createRuntime", host_log)],
        "createContainer": [hook("createContainer", host_log)],
        "startContainer": [hook("startContainer", "/hooklog/log")],
        "poststart": [hook("poststart", host_log)],
        "poststop": [hook("poststop", host_log)]
    });
    b.save();
    let id = r.id();
    let out = r
        .cmd()
        .env("HOOK_MARK", "runtime")
        .args(["run", "-b", b.path().to_str().unwrap(), &id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(logdir.path().join("log")).unwrap();
    assert_eq!(
        text,
        "prestart mark=runtime process=\n\
         given mark=given process=\n\
         createRuntime mark=runtime process=\n\
         createContainer mark=runtime process=\n\
         startContainer mark= process=1\n\
         poststart mark=runtime process=\n\
         poststop mark=runtime process=\n"
    );
}
