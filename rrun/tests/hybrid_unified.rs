//! On a hybrid host the cgroup2 part (/sys/fs/cgroup/unified) is optional, as for runc: when it
//! cannot be written, a container goes on without its cgroup2 directory (with a warning), and
//! `exec`, `ps`, `events`, `kill --all` and `delete` work on it; a config asking for what only
//! cgroup2 has here (hugetlb limits, `linux.resources.unified`) fails clearly, leaving nothing.
//!
//! Every rrun command runs in a private mount namespace where /sys/fs/cgroup/unified is
//! bind-remounted read-only (`unshare -m --propagation private`); the host's mounts are not
//! touched.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const UNIFIED: &str = "/sys/fs/cgroup/unified";

/// `unshare` + a read-only bind of the cgroup2 mount over itself, then the rrun command.
const READ_ONLY_UNIFIED: &[&str] = &[
    "unshare",
    "-m",
    "--propagation",
    "private",
    "sh",
    "-c",
    "mount --bind -o ro /sys/fs/cgroup/unified /sys/fs/cgroup/unified && exec \"$@\"",
    "sh",
];

/// The host is hybrid (v1 hierarchies and a cgroup2 mount at /sys/fs/cgroup/unified) and we are
/// root; else the test says why it does not run.
fn hybrid_host() -> bool {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let has = |fstype: &str, point: Option<&str>| {
        mountinfo.lines().any(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-").unwrap_or(0);
            fields.get(sep + 1) == Some(&fstype) && point.is_none_or(|p| fields[4] == p)
        })
    };
    let ok =
        nix::unistd::geteuid().is_root() && has("cgroup2", Some(UNIFIED)) && has("cgroup", None);
    if !ok {
        eprintln!("SKIPPED: needs root on a hybrid cgroup host (v1 plus cgroup2 at {UNIFIED})");
    }
    ok
}

/// The container's directories in every v1 hierarchy and the cgroup2 one, for `cg` (an
/// absolute cgroupsPath's name); removed on drop, so a failing test leaves none behind.
struct CgroupDirs(Vec<PathBuf>);

impl CgroupDirs {
    fn of(cg: &str) -> CgroupDirs {
        let mut dirs = Vec::new();
        for entry in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                dirs.push(entry.path().join(cg));
            }
        }
        CgroupDirs(dirs)
    }

    fn existing(&self) -> Vec<&Path> {
        self.0
            .iter()
            .map(PathBuf::as_path)
            .filter(|d| d.exists())
            .collect()
    }
}

impl Drop for CgroupDirs {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn bundle_in(cg: &str, args: &[&str]) -> Bundle {
    let mut b = Bundle::busybox(args);
    b.config["linux"]["cgroupsPath"] = json!(format!("/{cg}"));
    b.save();
    b
}

fn text(out: &[u8]) -> String {
    messages(&String::from_utf8_lossy(out))
}

#[test]
fn read_only_unified_is_left_out_with_a_warning() {
    if !hybrid_host() {
        return;
    }
    let r = Rrun::new();
    let cg = unique("rrun-rounified");
    let dirs = CgroupDirs::of(&cg);
    let b = bundle_in(&cg, &["/bin/sleep", "1000"]);
    let id = r.id();
    let ro = |args: &[&str]| r.run_wrapped(READ_ONLY_UNIFIED, args);

    let out = ro(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "run: {err}");
    assert!(
        err.contains(&format!("mkdir {UNIFIED}/{cg}: Read-only file system"))
            && err.contains("going on without the container's cgroup2 directory"),
        "{err}"
    );
    let raw = String::from_utf8_lossy(&out.stderr);
    assert!(raw.contains("level=warning"), "{raw}");
    let state: Value =
        serde_json::from_slice(&std::fs::read(r.root.path().join(&id).join("state.json")).unwrap())
            .unwrap();
    let paths = state["cgroup_paths"].as_object().unwrap();
    assert!(!paths.is_empty() && !paths.contains_key(""), "{paths:?}");
    assert!(!Path::new(UNIFIED).join(&cg).exists());

    let out = ro(&["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    let cgroups = String::from_utf8_lossy(&out.stdout);
    assert!(cgroups.contains(&format!(":memory:/{cg}")), "{cgroups}");

    let out = ro(&["ps", &id]);
    assert!(out.status.success(), "ps: {}", text(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sleep"));

    let out = ro(&["events", "--stats", &id]);
    assert!(out.status.success(), "events: {}", text(&out.stderr));
    let ev: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ev["data"]["pids"]["current"], 1, "{ev}");

    let out = ro(&["kill", "--all", &id, "KILL"]);
    assert!(out.status.success(), "kill --all: {}", text(&out.stderr));
    let pid = state["init_pid"].as_i64().unwrap();
    for _ in 0..200 {
        if !alive(pid) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!alive(pid), "kill --all left the init");

    let out = ro(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert!(dirs.existing().is_empty(), "left: {:?}", dirs.existing());
    assert!(!r.root.path().join(&id).exists());
}

#[test]
fn read_only_unified_refuses_what_only_cgroup2_has_and_leaves_nothing() {
    if !hybrid_host() {
        return;
    }
    let unified_controllers =
        std::fs::read_to_string(Path::new(UNIFIED).join("cgroup.controllers")).unwrap();
    let v1_hugetlb = Path::new("/sys/fs/cgroup/hugetlb").exists();
    let mut cases = vec![(
        json!({"unified": {"cgroup.max.depth": "5"}}),
        "linux.resources.unified",
    )];
    if unified_controllers
        .split_whitespace()
        .any(|c| c == "hugetlb")
        && !v1_hugetlb
        && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists()
    {
        cases.push((
            json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
            "linux.resources.hugepageLimits",
        ));
    } else {
        eprintln!("SKIPPED (hugetlb part): hugetlb is not a cgroup2-only controller here");
    }
    for (resources, field) in cases {
        let r = Rrun::new();
        let cg = unique("rrun-rounified");
        let dirs = CgroupDirs::of(&cg);
        let mut b = bundle_in(&cg, &["/bin/true"]);
        b.config["linux"]["resources"] = resources;
        b.save();
        let id = r.id();
        let out = r.run_wrapped(
            READ_ONLY_UNIFIED,
            &["create", "-b", b.path().to_str().unwrap(), &id],
        );
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{field}: create should fail");
        assert!(
            err.contains(&format!(
                "{field} needs the cgroup2 hierarchy {UNIFIED}, which cannot be used here: \
                 mkdir {UNIFIED}/{cg}: Read-only file system"
            )),
            "{err}"
        );
        assert!(!r.root.path().join(&id).exists(), "{field}: state dir left");
        assert!(
            dirs.existing().is_empty(),
            "{field}: left {:?}",
            dirs.existing()
        );
    }
}
