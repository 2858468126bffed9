//! Tests on the real cgroupfs of the host (root needed).
//!
//! Each test makes its own cgroup `/rrun-test-<pid>-<n>/ctr`, puts a `sleep` child in it, and
//! a guard kills the children and removes every directory even when the test fails. By host:
//! `any_host` runs on every layout, `v1` needs v1 controllers (a v1 or hybrid host), `v2`
//! holds the cgroup2 tests. Pure v2 is tested in a private mount namespace with a fresh cgroup2
//! mount: on a hybrid host that is the real cgroup2 hierarchy, which may hold few controllers
//! (hugetlb only on the development host), so that test checks the controllers it finds and
//! the errors for the ones it does not. For the v2 controllers themselves,
//! `scripts/cgroup2-vm.sh` runs the same test binary in a QEMU guest whose only hierarchy is
//! cgroup2, where `v2_limits_read_back_on_a_v2_host` and the other host tests exercise memory,
//! pids, cpu, cpuset, io and the eBPF device program.
//!
//! A test whose host lacks what it needs (root, a v1 controller, a pure v2 host) is not a
//! silent pass: it prints a numbered `SKIPPED` line, or fails where `RRUN_REQUIRE_HOST_TESTS`
//! says the host has it (see `needs.rs`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

use oci_spec::runtime::LinuxResources;

use super::*;
use needs::{is_root, needs, part, skip};

mod any_host;
mod needs;
mod v1;
mod v2;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    format!(
        "rrun-test-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A container cgroup for one test; removed with its parent and children on drop.
struct TestCgroup {
    manager: Box<dyn Manager>,
    children: Vec<Child>,
    parents: Vec<PathBuf>,
}

impl TestCgroup {
    fn new(layout: &Layout, tag: &str) -> TestCgroup {
        let path = format!("/{}/ctr", unique(tag));
        TestCgroup::create(manager(layout, Some(&path), "ctr", Driver::Cgroupfs).unwrap())
    }

    /// Create the manager's cgroup; its parents are removed on drop too.
    fn create(manager: Box<dyn Manager>) -> TestCgroup {
        let mut parents: Vec<PathBuf> = manager
            .paths()
            .values()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        parents.sort();
        parents.dedup();
        // The guard exists before create(), so a failing create is cleaned up too.
        let cg = TestCgroup {
            manager,
            children: Vec::new(),
            parents,
        };
        cg.manager.create(&crate::log::Silent).unwrap();
        cg
    }

    /// Start a `sleep` and put it in the cgroup; returns its pid.
    fn add_sleeper(&mut self) -> i32 {
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        let pid = child.id() as i32;
        self.children.push(child);
        self.manager.add_process(pid).unwrap();
        pid
    }

    fn dir(&self, key: &str) -> PathBuf {
        self.manager.paths()[key].clone()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = self.manager.thaw();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.manager.destroy();
        for parent in &self.parents {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// The host layout without its cgroup2 part (a plain v1 host), if it has v1 hierarchies.
fn v1_only(layout: &Layout) -> Option<Layout> {
    let hierarchies = layout.v1_hierarchies().to_vec();
    (!hierarchies.is_empty()).then_some(Layout::V1 { hierarchies })
}

fn has_v1(layout: &Layout, controller: &str) -> bool {
    layout
        .v1_hierarchies()
        .iter()
        .any(|h| h.controllers.iter().any(|c| c == controller))
}

/// The `major:minor` of a real disk of the host (not loop, ram or zram), if any.
fn a_disk() -> Option<String> {
    a_named_disk().map(|(_, dev)| dev)
}

/// A real disk of the host (not loop, ram or zram) as (name, `major:minor`), if any.
fn a_named_disk() -> Option<(String, String)> {
    std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            !["loop", "ram", "zram"].iter().any(|p| name.starts_with(p))
        })
        .find_map(|e| {
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
            Some((
                e.file_name().to_string_lossy().to_string(),
                dev.trim().to_string(),
            ))
        })
}

/// A log that keeps what it is told, for the tests to look at.
#[derive(Default)]
struct Collect {
    warnings: std::sync::Mutex<Vec<String>>,
}

impl crate::log::Log for Collect {
    fn warn(&self, msg: &str) {
        self.warnings.lock().unwrap().push(msg.to_string());
    }
    fn debug(&self, _msg: &str) {}
}

impl Collect {
    fn warnings(&self) -> Vec<String> {
        self.warnings.lock().unwrap().clone()
    }
}
