//! The runtime-spec lifecycle with real containers: create -> created -> start -> running ->
//! kill -> stopped -> delete, and the errors of invalid transitions.

mod common;
use common::*;
use std::time::{Duration, Instant};

fn wait_status(r: &Rrun, id: &str, want: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = r.state(id);
        if st["status"] == want || Instant::now() > deadline {
            return st;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn create_start_kill_delete() {
    let r = Rrun::new();
    let b = Bundle::busybox(&["/bin/sh", "-c", "echo started > /tmp/mark; exec sleep 1000"]);
    let id = r.id();
    let pidfile = b.path().join("init.pid");
    r.ok(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
    ]);
    let st = r.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], b.path().to_str().unwrap());
    assert_eq!(st["rootfs"], b.rootfs().to_str().unwrap());
    assert_eq!(st["owner"], "");
    assert!(st["ociVersion"].as_str().unwrap().starts_with("1."));
    assert!(st["created"].as_str().unwrap().ends_with('Z'));
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0 && alive(pid));
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        pid.to_string(),
        "pid file holds the init's pid"
    );
    // Blocked before exec: the program has not run yet.
    std::thread::sleep(Duration::from_millis(50));
    assert!(!b.rootfs().join("tmp/mark").exists());
    let listed = r.ok(&["list", "--format", "json"]);
    assert!(listed.contains(&id), "{listed}");

    r.ok(&["start", &id]);
    let st = wait_status(&r, &id, "running");
    assert_eq!(st["status"], "running");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b.rootfs().join("tmp/mark").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(b.rootfs().join("tmp/mark").exists());
    assert!(r
        .fails(&["start", &id])
        .contains("cannot start an already running container"));
    assert!(r
        .fails(&["delete", &id])
        .contains("cannot delete container"));

    r.ok(&["kill", &id, "KILL"]);
    let st = wait_status(&r, &id, "stopped");
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["pid"], 0);
    assert!(r
        .fails(&["kill", &id, "TERM"])
        .contains("container not running"));
    assert!(r
        .fails(&["start", &id])
        .contains("cannot start a container that has stopped"));
    r.ok(&["delete", &id]);
    assert!(r.fails(&["state", &id]).contains("does not exist"));
    assert!(!r.root.path().join(&id).exists());
}

#[test]
fn run_returns_exit_code_and_output() {
    let r = Rrun::new();
    let b = Bundle::busybox(&["/bin/sh", "-c", "echo out; echo err >&2; exit 7"]);
    let (code, out, err) = r.run_fg(&b);
    assert_eq!(code, 7);
    assert_eq!(out, "out\n");
    assert_eq!(err, "err\n");
    assert_eq!(r.ok(&["list", "-q"]), "", "run without --keep deletes");
}

#[test]
fn run_keep_and_detach() {
    let r = Rrun::new();
    let b = Bundle::busybox(&["/bin/true"]);
    let id = r.id();
    r.ok(&["run", "--keep", "-b", b.path().to_str().unwrap(), &id]);
    assert_eq!(r.state(&id)["status"], "stopped");
    r.ok(&["delete", &id]);

    let b = Bundle::busybox(&["/bin/sleep", "1000"]);
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    assert_eq!(r.state(&id)["status"], "running");
    r.ok(&["delete", "--force", &id]);
    assert!(r.fails(&["state", &id]).contains("does not exist"));
}

#[test]
fn delete_created_container_kills_init() {
    let r = Rrun::new();
    let b = Bundle::busybox(&["/bin/true"]);
    let id = r.id();
    r.ok(&["create", "-b", b.path().to_str().unwrap(), &id]);
    let pid = r.state(&id)["pid"].as_i64().unwrap();
    r.ok(&["delete", &id]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(pid));
}

#[test]
fn kill_signals_by_name_and_number() {
    let r = Rrun::new();
    // The shell traps USR1 and exits with a code that shows it got it.
    let b = Bundle::busybox(&[
        "/bin/sh",
        "-c",
        "trap 'echo got-usr1 > /tmp/sig; exit 0' USR1; while true; do sleep 0.05; done",
    ]);
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    std::thread::sleep(Duration::from_millis(100));
    r.ok(&["kill", &id, "SIGUSR1"]);
    let st = wait_status(&r, &id, "stopped");
    assert_eq!(st["status"], "stopped");
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("tmp/sig")).unwrap(),
        "got-usr1\n"
    );
    r.ok(&["delete", &id]);

    let b = Bundle::busybox(&["/bin/sleep", "1000"]);
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    assert!(r
        .fails(&["kill", &id, "NOSUCHSIG"])
        .contains("invalid signal"));
    r.ok(&["kill", "--all", &id, "9"]);
    assert_eq!(wait_status(&r, &id, "stopped")["status"], "stopped");
}

#[test]
fn pause_resume_ps_features() {
    let r = Rrun::new();
    let b = Bundle::busybox(&["/bin/sh", "-c", "sleep 1000 & exec sleep 1001"]);
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let init = r.state(&id)["pid"].as_i64().unwrap();
    // Both sleeps are in the container (the background one may take a moment to start).
    let deadline = Instant::now() + Duration::from_secs(5);
    let pids: Vec<i64> = loop {
        let p: Vec<i64> = serde_json::from_str(&r.ok(&["ps", "--format", "json", &id])).unwrap();
        if p.len() == 2 || Instant::now() > deadline {
            break p;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&init));
    let table = r.ok(&["ps", &id]);
    assert!(
        table.starts_with("UID") && table.contains("sleep 1001"),
        "{table}"
    );

    r.ok(&["pause", &id]);
    assert_eq!(r.state(&id)["status"], "paused");
    assert!(r.fails(&["pause", &id]).contains("already paused"));
    r.ok(&["resume", &id]);
    assert_eq!(r.state(&id)["status"], "running");
    assert!(r.fails(&["resume", &id]).contains("not paused"));
    r.ok(&["kill", "--all", &id, "KILL"]);
    assert_eq!(wait_status(&r, &id, "stopped")["status"], "stopped");
    assert!(r.fails(&["ps", &id]).contains("container not running"));

    let f: serde_json::Value = serde_json::from_str(&r.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["linux"]["namespaces"].as_array().unwrap().len() >= 7);
}

/// `delete --force` of a paused container: the frozen processes take their SIGKILL once
/// thawed (it waited 10 s and failed with "did not die after SIGKILL" before).
#[test]
fn delete_force_of_a_paused_container() {
    let r = Rrun::new();
    let b = Bundle::busybox(&["/bin/sh", "-c", "sleep 1000 & exec sleep 1001"]);
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let init = r.state(&id)["pid"].as_i64().unwrap();
    r.ok(&["pause", &id]);
    assert_eq!(r.state(&id)["status"], "paused");
    r.ok(&["delete", "--force", &id]);
    assert!(!alive(init));
    assert!(!r.root.path().join(&id).exists());
}

/// Issue 16: `list` silently skipped a container whose state.json is corrupt. It is shown on
/// stderr with its error; the listing itself stays valid.
#[test]
fn list_shows_a_corrupt_state() {
    let r = Rrun::new();
    let id = r.id();
    let dir = r.root.path().join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("state.json"), b"{not json").unwrap();
    let out = r.run(&["list", "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&id), "stderr: {err}");
    r.ok(&["delete", "--force", &id]);
    assert!(!dir.exists(), "delete --force left {}", dir.display());
}

/// Issue 16: a state.json without `cgroup_paths` leaked the container's cgroups at delete.
#[test]
fn delete_without_saved_cgroup_paths_removes_the_cgroups() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    let cg = unique("rrun-nopaths");
    b.config["linux"]["cgroupsPath"] = serde_json::json!(format!("/{cg}"));
    b.save();
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let state_file = r.root.path().join(&id).join("state.json");
    let mut st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    st.as_object_mut().unwrap().remove("cgroup_paths");
    std::fs::write(&state_file, serde_json::to_vec(&st).unwrap()).unwrap();
    let pids = std::path::Path::new("/sys/fs/cgroup/pids").join(&cg);
    assert!(
        pids.exists(),
        "{} should exist while the container runs",
        pids.display()
    );
    r.ok(&["delete", "--force", &id]);
    for ctl in ["memory", "pids", "cpu", "devices", "freezer", "unified"] {
        let p = std::path::Path::new("/sys/fs/cgroup").join(ctl).join(&cg);
        assert!(!p.exists(), "{} left", p.display());
    }
}
