//! 200 create/start/delete cycles leave no mount, cgroup, state dir or process behind.

mod common;
use common::*;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

fn cgroup_dirs(name: &str) -> Vec<String> {
    let mut left = Vec::new();
    for e in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let p = e.path().join(name);
        if p.exists() {
            left.push(p.display().to_string());
        }
    }
    left
}

#[test]
fn two_hundred_cycles_leave_nothing() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    let parent = unique("rrun-cycles");
    b.config["linux"]["cgroupsPath"] = json!(format!("/{parent}/c"));
    b.save();
    let bundle = b.path().to_str().unwrap().to_string();
    let mut pids = Vec::new();
    for i in 0..200 {
        let id = format!("cyc-{}-{i}", std::process::id());
        r.ok(&["create", "-b", &bundle, &id]);
        pids.push(r.state(&id)["pid"].as_i64().unwrap());
        r.ok(&["start", &id]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.state(&id)["status"] != "stopped" {
            assert!(
                Instant::now() < deadline,
                "cycle {i}: container did not stop"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        r.ok(&["delete", &id]);
    }
    let entries: Vec<_> = std::fs::read_dir(r.root.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(entries.is_empty(), "state left: {entries:?}");
    assert!(mounts_containing(&bundle).is_empty());
    assert!(cgroup_dirs(&format!("{parent}/c")).is_empty());
    for pid in pids {
        assert!(!alive(pid), "init {pid} is still there");
        // Not even as a zombie of ours.
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let ppid: u32 = s[s.rfind(')').unwrap() + 4..]
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_ne!(ppid, std::process::id(), "zombie {pid} left to the test");
        }
    }
    // The parent cgroup rrun created on the way is the caller's business (runc leaves it too);
    // remove it here so the test leaves nothing either.
    for d in cgroup_dirs(&parent) {
        let _ = std::fs::remove_dir(Path::new(&d));
    }
}
