//! Crash consistency (issue 16): `create`, `start`, `exec` and `delete` killed with SIGKILL at
//! every step (rrun's fault points, `RRUN_FAULT=<point>`, src/faults.rs) and at random moments,
//! each followed by `delete --force`, which must return (bounded here) and leave no state
//! directory, cgroup or process of that container. Nothing here waits without a limit.

mod common;
use common::*;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Wait for `child` at most `limit`; kill it and fail the test if it is still running.
fn wait_bounded(mut child: Child, what: &str, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not return within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn rrun(r: &Rrun, args: &[&str], fault: Option<&str>) -> Child {
    let mut c = r.cmd();
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(f) = fault {
        c.env("RRUN_FAULT", f);
    }
    c.spawn().unwrap()
}

/// Every process whose command line names `marker` (the init before its exec carries rrun's
/// arguments, the container's id among them; the container's shell carries it too).
fn processes_naming(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true);
        if cmd.contains(marker) && !zombie {
            found.push(format!("{pid}: {cmd}"));
        }
    }
    found
}

/// A container bundle whose process names `id` and whose cgroup is `/<cg>`.
fn bundle(id: &str, cg: &str) -> Bundle {
    let mut b = Bundle::busybox(&["sh", "-c", &format!("sleep 1000; : {id}")]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/{cg}"));
    b.save();
    b
}

/// `delete --force` returns within the bound and nothing of the container is left.
fn force_delete_leaves_nothing(r: &Rrun, id: &str, cg: &str, context: &str) {
    let child = rrun(r, &["delete", "--force", id], None);
    let status = wait_bounded(
        child,
        &format!("delete --force after {context}"),
        Duration::from_secs(40),
    );
    assert!(
        status.success(),
        "delete --force after {context}: {status:?}"
    );
    assert!(
        !r.root.path().join(id).exists(),
        "{context}: the state directory is left"
    );
    for ctl in [
        "pids", "memory", "cpu", "devices", "freezer", "blkio", "unified",
    ] {
        let p = std::path::Path::new("/sys/fs/cgroup").join(ctl).join(cg);
        assert!(!p.exists(), "{context}: {} is left", p.display());
    }
    // A killed init is reaped by its parent (gone with the killed rrun): give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_naming(id);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{context}: processes left: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const CREATE_POINTS: &[&str] = &[
    "create:dir",
    "create:first-state",
    "create:cgroup",
    "create:init-started",
    "create:ready",
    "create:limits",
    "create:saved",
];

#[test]
fn create_killed_at_every_step() {
    let r = Rrun::new();
    for point in CREATE_POINTS {
        let id = r.id();
        let cg = unique("rrun-fault");
        let b = bundle(&id, &cg);
        let child = rrun(
            &r,
            &["create", "-b", b.path().to_str().unwrap(), &id],
            Some(point),
        );
        let status = wait_bounded(
            child,
            &format!("create with {point}"),
            Duration::from_secs(30),
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "{point}: create was not killed there"
        );
        // The id is not taken by something nobody can remove: state and delete answer.
        let st = wait_bounded(
            rrun(&r, &["state", &id], None),
            &format!("state after {point}"),
            Duration::from_secs(10),
        );
        let _ = st;
        force_delete_leaves_nothing(&r, &id, &cg, point);
        // And the id can be used again.
        r.ok(&["create", "-b", b.path().to_str().unwrap(), &id]);
        force_delete_leaves_nothing(&r, &id, &cg, &format!("{point}, second create"));
    }
}

/// Stage-1 killed after it forked the init but before it reported it: the init still holds the
/// sync socket, so `create` must notice stage-1's end rather than wait for the socket.
#[test]
fn stage1_killed_after_forking_the_init() {
    let r = Rrun::new();
    let id = r.id();
    let cg = unique("rrun-fault");
    let b = bundle(&id, &cg);
    let child = rrun(
        &r,
        &["create", "-b", b.path().to_str().unwrap(), &id],
        Some("stage1:forked"),
    );
    let status = wait_bounded(child, "create with stage1:forked", Duration::from_secs(30));
    assert!(!status.success(), "create succeeded without its stage-1");
    force_delete_leaves_nothing(&r, &id, &cg, "stage-1 killed after the fork");
}

#[test]
fn create_killed_at_random_moments() {
    let r = Rrun::new();
    let mut seed = std::process::id() as u64;
    for i in 0..20 {
        // A small LCG: the delays differ from run to run and are printed on failure.
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % 30_000);
        let id = r.id();
        let cg = unique("rrun-fault");
        let b = bundle(&id, &cg);
        let mut child = rrun(&r, &["create", "-b", b.path().to_str().unwrap(), &id], None);
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        force_delete_leaves_nothing(
            &r,
            &id,
            &cg,
            &format!("try {i}, create killed after {delay:?}"),
        );
    }
}

#[test]
fn start_killed_after_releasing_the_init() {
    let r = Rrun::new();
    let id = r.id();
    let cg = unique("rrun-fault");
    let b = bundle(&id, &cg);
    r.ok(&["create", "-b", b.path().to_str().unwrap(), &id]);
    let child = rrun(&r, &["start", &id], Some("start:released"));
    wait_bounded(child, "start with start:released", Duration::from_secs(30));
    // The program runs: the status comes from the process, not from the fifo left behind.
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.state(&id)["status"] != "running" {
        assert!(Instant::now() < deadline, "state: {}", r.state(&id));
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = rrun(&r, &["start", &id], None);
    let status = wait_bounded(second, "a second start", Duration::from_secs(10));
    assert!(
        !status.success(),
        "a second start of a running container succeeded"
    );
    let e = r.fails(&["delete", &id]);
    assert!(e.contains("not stopped"), "{e}");
    assert_eq!(r.state(&id)["status"], "running");
    force_delete_leaves_nothing(&r, &id, &cg, "start killed");
}

#[test]
fn delete_and_exec_killed() {
    let r = Rrun::new();
    let id = r.id();
    let cg = unique("rrun-fault");
    let b = bundle(&id, &cg);
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    for i in 0..5 {
        let mut child = rrun(&r, &["exec", &id, "sh", "-c", "sleep 1000"], None);
        std::thread::sleep(Duration::from_millis(3 * i));
        let _ = child.kill();
        let _ = child.wait();
    }
    let child = rrun(&r, &["delete", "--force", &id], Some("delete:killed"));
    wait_bounded(child, "delete with delete:killed", Duration::from_secs(30));
    force_delete_leaves_nothing(&r, &id, &cg, "delete killed after killing the init");
}

#[test]
fn state_and_list_do_not_wait_for_a_create_at_work() {
    let r = Rrun::new();
    let id = r.id();
    let cg = unique("rrun-fault");
    let mut b = bundle(&id, &cg);
    // A createRuntime hook that takes a while: the create holds the lock meanwhile.
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "2"]}]});
    b.save();
    let creating = rrun(&r, &["create", "-b", b.path().to_str().unwrap(), &id], None);
    std::thread::sleep(Duration::from_millis(700));
    let t = Instant::now();
    let st = r.state(&id);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "state waited for the create"
    );
    assert_eq!(st["status"], "creating", "{st}");
    let listed = r.ok(&["list", "-q"]);
    assert!(listed.contains(&id), "{listed}");
    let status = wait_bounded(creating, "create with a slow hook", Duration::from_secs(30));
    assert!(status.success());
    assert_eq!(r.state(&id)["status"], "created");
    force_delete_leaves_nothing(&r, &id, &cg, "slow create");
}

#[test]
fn a_state_directory_without_state_is_removed_by_delete_force() {
    let r = Rrun::new();
    let id = r.id();
    std::fs::create_dir_all(r.root.path().join(&id)).unwrap();
    let e = r.fails(&["state", &id]);
    assert!(e.contains("does not exist"), "{e}");
    r.ok(&["delete", "--force", &id]);
    assert!(!r.root.path().join(&id).exists());
    let _ = Command::new("true").status();
}
