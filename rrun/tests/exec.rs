//! `rrun exec`: a new process in a running container's namespaces and cgroup.

mod common;
use common::*;
use serde_json::json;

fn running(r: &Rrun) -> (Bundle, String) {
    let mut b = Bundle::busybox(&["/bin/sleep", "1000"]);
    b.config["hostname"] = json!("exechost");
    b.config["process"]["env"] = json!(["PATH=/bin", "FROM_CONFIG=1"]);
    b.save();
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    (b, id)
}

#[test]
fn exec_joins_the_container() {
    let r = Rrun::new();
    let (_b, id) = running(&r);
    let init = r.state(&id)["pid"].as_i64().unwrap();
    let out = r.ok(&[
        "exec", "-e", "EXTRA=2", &id, "/bin/sh", "-c",
        "echo host=$(hostname) env=$FROM_CONFIG$EXTRA pid1=$(cat /proc/1/comm); readlink /proc/self/ns/mnt; readlink /proc/self/ns/net",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), "host=exechost env=12 pid1=sleep");
    for t in ["mnt", "net"] {
        let want = std::fs::read_link(format!("/proc/{init}/ns/{t}")).unwrap();
        assert_eq!(lines.next().unwrap(), want.to_str().unwrap());
    }
    // The exit code is the process's.
    let out = r.run(&["exec", &id, "/bin/sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    // A missing program fails exec with runc's message.
    let e = r.fails(&["exec", &id, "nosuchprog"]);
    assert!(
        e.contains("exec: \"nosuchprog\": executable file not found in $PATH"),
        "{e}"
    );
}

/// Issue 25: `exec -e NAME=value` replaces config.json's NAME (getenv finds the first, so an
/// appended second NAME would be ignored).
#[test]
fn exec_env_overrides_the_configs() {
    let r = Rrun::new();
    let (_b, id) = running(&r);
    let out = r.ok(&[
        "exec",
        "-e",
        "FROM_CONFIG=9",
        &id,
        "/bin/sh",
        "-c",
        "echo $FROM_CONFIG; env | grep -c '^FROM_CONFIG='",
    ]);
    assert_eq!(out, "9\n1\n");
}

/// process.execCPUAffinity.final (runtime-spec 1.2) is the exec'd process's affinity.
#[test]
fn exec_cpu_affinity() {
    let r = Rrun::new();
    let (b, id) = running(&r);
    let process = json!({
        "args": ["/bin/sh", "-c", "grep Cpus_allowed_list /proc/self/status"],
        "env": ["PATH=/bin"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "execCPUAffinity": {"initial": "0", "final": "0"}
    });
    let pj = b.path().join("affinity.json");
    std::fs::write(&pj, process.to_string()).unwrap();
    let out = r.ok(&["exec", "--process", pj.to_str().unwrap(), &id]);
    assert_eq!(out.split_whitespace().last(), Some("0"), "{out}");
}

#[test]
fn exec_process_json_user_and_detach() {
    let r = Rrun::new();
    let (b, id) = running(&r);
    let process = json!({
        "args": ["/bin/sh", "-c", "id -u; id -G; pwd"],
        "env": ["PATH=/bin"],
        "cwd": "/tmp",
        "user": {"uid": 65534, "gid": 65534, "additionalGids": [3]}
    });
    let pj = b.path().join("process.json");
    std::fs::write(&pj, process.to_string()).unwrap();
    let out = r.ok(&["exec", "--process", pj.to_str().unwrap(), &id]);
    assert_eq!(out, "65534\n65534 3\n/tmp\n");

    let pidfile = b.path().join("exec.pid");
    r.ok(&[
        "exec",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
        "/bin/sleep",
        "999",
    ]);
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    let pids: Vec<i32> = serde_json::from_str(&r.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(pids.contains(&pid), "{pids:?} lacks {pid}");
}

#[test]
fn exec_with_terminal_and_in_stopped_container() {
    let r = Rrun::new();
    let (_b, id) = running(&r);
    let out = r.ok(&["exec", "-t", &id, "/bin/sh", "-c", "tty"]);
    assert!(out.contains("/dev/pts/"), "{out:?}");
    r.ok(&["kill", &id, "KILL"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let e = r.fails(&["exec", &id, "/bin/true"]);
    assert!(e.contains("cannot exec in a stopped container"), "{e}");
}
