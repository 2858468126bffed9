//! Rootless: rrun run by a real unprivileged user (made by the test, with subordinate ids, and
//! removed after). uid 0 inside is the user outside; more ids go through newuidmap and
//! newgidmap; the state goes under $XDG_RUNTIME_DIR/rrun; with no cgroup delegated the
//! container runs without one, and limits are refused as runc refuses them; exec, ps, kill,
//! kill --all and delete work; pause says why it cannot.

mod common;
#[path = "../../oci-conformance/src/test_user.rs"]
mod test_user;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use test_user::{TestUser, SUB_START};

struct Setup {
    user: TestUser,
    bundle: Bundle,
    ids: Vec<String>,
}

impl Setup {
    /// A user and a busybox bundle of theirs made by `rrun spec --rootless` run as them.
    fn new(args: &[&str]) -> Setup {
        let user = TestUser::create("rrt").unwrap();
        let mut bundle = Bundle::busybox(args);
        std::fs::remove_file(bundle.path().join("config.json")).unwrap();
        user.chown(bundle.path()).unwrap();
        let out = user
            .run(Path::new(RRUN), &["spec", "--rootless"], bundle.path())
            .unwrap();
        assert!(out.status.success(), "spec --rootless: {out:?}");
        bundle.config =
            serde_json::from_slice(&std::fs::read(bundle.path().join("config.json")).unwrap())
                .unwrap();
        bundle.config["process"]["terminal"] = json!(false);
        bundle.config["root"]["readonly"] = json!(false);
        bundle.config["process"]["args"] = json!(args);
        let s = Setup {
            user,
            bundle,
            ids: Vec::new(),
        };
        s.save();
        s
    }

    fn save(&self) {
        self.bundle.save();
        self.user.chown(self.bundle.path()).unwrap();
    }

    fn id(&mut self) -> String {
        let id = unique("rl");
        self.ids.push(id.clone());
        id
    }

    fn rrun(&self, args: &[&str]) -> std::process::Output {
        self.rrun_after(None, args)
    }

    fn rrun_after(&self, as_root_first: Option<&str>, args: &[&str]) -> std::process::Output {
        self.user
            .run_after(as_root_first, Path::new(RRUN), args, self.bundle.path())
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.rrun(args);
        assert!(
            out.status.success(),
            "rrun {args:?} as {}: {}",
            self.user.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn state_root(&self) -> std::path::PathBuf {
        self.user.runtime_dir.join("rrun")
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // As root, whatever the test left (before the user and its runtime dir go).
        let root = self.state_root();
        for id in &self.ids {
            let _ = std::process::Command::new(RRUN)
                .arg("--root")
                .arg(&root)
                .args(["delete", "--force", id])
                .output();
        }
    }
}

#[test]
fn uid_0_inside_is_the_user_outside() {
    let mut s = Setup::new(&["sh", "-c", "cat /proc/self/uid_map; id -u; touch /tmp/f"]);
    let id = s.id();
    let out = s.rrun(&["run", &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let map: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", &s.user.uid.to_string(), "1"]);
    assert_eq!(text.lines().nth(1), Some("0"));
    // The file root made inside belongs to the user on the host.
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(s.bundle.rootfs().join("tmp/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (s.user.uid, s.user.gid));
    // The state went to $XDG_RUNTIME_DIR/rrun, and nothing is left of the container.
    assert!(s.state_root().is_dir());
    assert!(!s.state_root().join(&id).exists());
}

#[test]
fn more_ids_through_newuidmap_exec_ps_kill_delete() {
    let mut s = Setup::new(&["sleep", "1000"]);
    let (uid, gid) = (s.user.uid, s.user.gid);
    s.bundle.config["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": uid, "size": 1},
        {"containerID": 1, "hostID": SUB_START, "size": 65536}]);
    s.bundle.config["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": gid, "size": 1},
        {"containerID": 1, "hostID": SUB_START, "size": 65536}]);
    for set in ["bounding", "effective", "permitted"] {
        if let Some(caps) = s.bundle.config["process"]["capabilities"][set].as_array_mut() {
            caps.push(json!("CAP_CHOWN"));
        }
    }
    s.save();
    let id = s.id();
    let out = s.rrun(&["--debug", "run", "-d", &id]);
    assert!(out.status.success(), "{out:?}");
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.contains("gets no cgroup"), "{note}");
    let state: Value = serde_json::from_str(&s.ok(&["state", &id])).unwrap();
    assert_eq!(state["status"], "running");
    // exec enters the user namespace: id 1000 inside is SUB_START + 999 outside.
    let out = s.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "touch /tmp/g && chown 1000:1000 /tmp/g && id -u && cat /proc/self/gid_map",
    ]);
    assert!(out.starts_with("0\n"), "{out}");
    assert!(out.contains(&SUB_START.to_string()), "{out}");
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(s.bundle.rootfs().join("tmp/g")).unwrap();
    assert_eq!((m.uid(), m.gid()), (SUB_START + 999, SUB_START + 999));
    // ps sees the container's processes (its pid namespace), with no cgroup.
    s.ok(&["exec", "-d", &id, "sleep", "999"]);
    let pids: Vec<i64> = serde_json::from_str(&s.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&state["pid"].as_i64().unwrap()));
    // pause needs a cgroup: refused, saying why.
    let out = s.rrun(&["pause", &id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no cgroup"),
        "{out:?}"
    );
    s.ok(&["kill", "--all", &id, "KILL"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let st: Value = serde_json::from_str(&s.ok(&["state", &id])).unwrap();
        if st["status"] == "stopped" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{st}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for p in pids {
        assert!(!alive(p), "{p} survived kill --all");
    }
    s.ok(&["delete", &id]);
    assert!(!s.state_root().join(&id).exists());
}

#[test]
fn limits_without_a_delegated_cgroup_are_refused_and_nothing_is_left() {
    let mut s = Setup::new(&["true"]);
    s.bundle.config["linux"]["resources"] = json!({"pids": {"limit": 10}});
    s.save();
    let id = s.id();
    let out = s.rrun(&["create", &id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rootless needs no limits") && err.contains("linux.resources.pids"),
        "{err}"
    );
    assert!(!s.state_root().join(&id).exists());
}

/// The id maps a user may not have (the host's root as uid 1): newuidmap refuses, and create
/// says so.
#[test]
fn ids_outside_the_users_ranges_are_refused() {
    let mut s = Setup::new(&["true"]);
    let uid = s.user.uid;
    s.bundle.config["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": uid, "size": 1},
        {"containerID": 1, "hostID": 0, "size": 1}]);
    s.save();
    let id = s.id();
    let out = s.rrun(&["run", &id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newuidmap"), "{err}");
    assert!(!s.state_root().join(&id).exists());
}

/// A cgroup delegated to the user (a directory of theirs in every hierarchy, as root would
/// give one, and rrun started in a cgroup2 directory of theirs, as a login manager would start
/// the session: moving a process between cgroup2 directories needs write access to their
/// common ancestor): the container's cgroup is made below it and gets its limits; delete
/// removes it.
#[test]
fn a_delegated_cgroup_gets_the_limits() {
    let mut s = Setup::new(&["sleep", "1000"]);
    let name = unique("rrt-deleg");
    let deleg = Delegation::new(&name, &s.user);
    let id = s.id();
    s.bundle.config["linux"]["cgroupsPath"] = json!(format!("/{name}/{id}"));
    s.bundle.config["linux"]["resources"] = json!({"pids": {"limit": 17}});
    s.save();
    let session = deleg.dir("").join("session");
    std::fs::create_dir(&session).unwrap();
    s.user.chown(&session).unwrap();
    let enter = format!("echo $$ > {}/cgroup.procs", session.display());
    let out = s.rrun_after(Some(&enter), &["run", "-d", &id]);
    assert!(out.status.success(), "{out:?}");
    let pids_max = deleg.dir("pids").join(&id).join("pids.max");
    assert_eq!(std::fs::read_to_string(&pids_max).unwrap().trim(), "17");
    let state: Value = serde_json::from_str(&s.ok(&["state", &id])).unwrap();
    let procs = std::fs::read_to_string(deleg.dir("pids").join(&id).join("cgroup.procs")).unwrap();
    assert!(
        procs
            .lines()
            .any(|p| p.parse::<i64>().ok() == state["pid"].as_i64()),
        "{procs}"
    );
    s.ok(&["kill", &id, "KILL"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    s.ok(&["delete", &id]);
    assert!(!deleg.dir("pids").join(&id).exists());
}

/// `<hierarchy>/<name>` in every cgroup hierarchy, given to the user; removed on drop.
struct Delegation {
    dirs: Vec<std::path::PathBuf>,
}

impl Delegation {
    fn new(name: &str, user: &TestUser) -> Delegation {
        let mut dirs = Vec::new();
        let root = Path::new("/sys/fs/cgroup");
        // Pure cgroup2: one hierarchy, the root itself; else one mount per hierarchy below it.
        let hierarchies: Vec<std::path::PathBuf> = if root.join("cgroup.controllers").exists() {
            vec![root.to_path_buf()]
        } else {
            std::fs::read_dir(root)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .filter(|h| h.join("cgroup.procs").exists())
                .collect()
        };
        for h in hierarchies {
            let d = h.join(name);
            std::fs::create_dir(&d).unwrap();
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(h.join(f)) {
                    std::fs::write(d.join(f), v.trim()).unwrap();
                }
            }
            user.chown(&d).unwrap();
            dirs.push(d);
        }
        Delegation { dirs }
    }

    fn dir(&self, controller: &str) -> std::path::PathBuf {
        if let [only] = &self.dirs[..] {
            return only.clone();
        }
        self.dirs
            .iter()
            .find(|d| {
                d.parent()
                    .and_then(|h| h.file_name())
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| {
                        n.split(',').any(|c| c == controller)
                            || (controller.is_empty() && n == "unified")
                    })
            })
            .cloned()
            .unwrap()
    }
}

impl Drop for Delegation {
    fn drop(&mut self) {
        for d in &self.dirs {
            // Children first (a test that failed may have left the container's).
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        let _ = std::fs::remove_dir(e.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(d);
        }
    }
}
