//! Tests on the real cgroupfs of the host (root needed; skipped otherwise).
//!
//! Each test makes its own cgroup `/rrun-test-<pid>-<n>/ctr`, puts a `sleep` child in it, and
//! a guard kills the children and removes every directory even when the test fails. Pure v2
//! is tested in a private mount namespace with a fresh cgroup2 mount: on a hybrid host that is
//! the real cgroup2 hierarchy, which may hold few controllers (hugetlb only on the
//! development host), so the v2 test checks the controllers it finds and the errors for the
//! ones it does not. For the v2 controllers themselves, `scripts/cgroup2-vm.sh`
//! runs the same test binary in a QEMU guest whose only hierarchy is cgroup2, where
//! `v2_limits_read_back_on_a_v2_host` and the lifecycle tests exercise memory, pids, cpu,
//! cpuset, io and the eBPF device program.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;

use super::*;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    format!(
        "rrun-test-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("skipped: cgroup host tests need root");
    false
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
        TestCgroup::create(manager(layout, Some(&path), "ctr").unwrap())
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
        cg.manager.create().unwrap();
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

#[test]
fn create_limit_freeze_kill_destroy_on_host() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    let mut cg = TestCgroup::new(&layout, "life");
    let paths = cg.manager.paths();
    for dir in paths.values() {
        assert!(dir.is_dir(), "{} was not created", dir.display());
    }
    let pid = cg.add_sleeper();
    assert_eq!(cg.manager.pids().unwrap(), [pid]);

    let json = r#"{"memory":{"limit":67108864,"reservation":33554432},
        "pids":{"limit":100},
        "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0","mems":"0"}}"#;
    if has_v1(&layout, "memory") {
        cg.manager.apply(&resources(json)).unwrap();
        let mem = cg.dir("memory");
        assert_eq!(read(&mem, "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&mem, "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(read(&cg.dir("pids"), "pids.max"), "100");
        let cpu = cg.dir("cpu");
        assert_eq!(read(&cpu, "cpu.shares"), "512");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&cg.dir("cpuset"), "cpuset.cpus"), "0");
        // An update raising the limit with swap (memsw first, then memory).
        if mem.join("memory.memsw.limit_in_bytes").exists() {
            let more = r#"{"memory":{"limit":134217728,"swap":268435456}}"#;
            cg.manager.apply(&resources(more)).unwrap();
            assert_eq!(read(&mem, "memory.limit_in_bytes"), "134217728");
            assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), "268435456");
        }
        let stats = cg.manager.stats().unwrap();
        assert!(!stats.memory.raw.is_empty());
        assert_eq!(stats.memory.usage.limit, 134217728);
        assert_eq!(stats.pids.current, 1);
        assert_eq!(stats.pids.limit, 100);
        let json = serde_json::to_value(&stats).unwrap();
        assert!(json["cpu"]["usage"].get("kernel").is_some());
    }

    if has_v1(&layout, "blkio") {
        block_io_limits(&cg);
    }

    cg.manager.freeze().unwrap();
    assert!(cg.manager.is_frozen().unwrap());
    cg.manager.thaw().unwrap();
    assert!(!cg.manager.is_frozen().unwrap());

    // Killing a paused container: the processes die, the freezer ends up thawed.
    cg.manager.freeze().unwrap();
    cg.manager.kill_all().unwrap();
    let status = cg.children[0].wait().unwrap();
    assert!(!cg.manager.is_frozen().unwrap());
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(cg.manager.pids().unwrap().is_empty());

    cg.manager.destroy().unwrap();
    for dir in paths.values() {
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
    // Destroying what is gone is no error.
    cg.manager.destroy().unwrap();
}

/// On a pure cgroup2 host (a VM in CI; see the module docs): limits through the v2 files.
#[test]
fn v2_limits_read_back_on_a_v2_host() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    let Layout::V2 { unified } = &layout else {
        eprintln!("skipped: the host is not pure cgroup v2");
        return;
    };
    let has = |c: &str| unified.controllers.iter().any(|x| x == c);
    let mut cg = TestCgroup::new(&layout, "v2lim");
    cg.add_sleeper();
    let dir = cg.dir(UNIFIED_KEY);
    if has("memory") {
        let swap = dir.join("memory.swap.max").exists();
        let json = if swap {
            r#"{"memory":{"limit":67108864,"swap":134217728,"reservation":33554432}}"#
        } else {
            r#"{"memory":{"limit":67108864,"reservation":33554432}}"#
        };
        cg.manager.apply(&resources(json)).unwrap();
        assert_eq!(read(&dir, "memory.max"), "67108864");
        assert_eq!(read(&dir, "memory.low"), "33554432");
        if swap {
            assert_eq!(read(&dir, "memory.swap.max"), "67108864");
        }
        let stats = cg.manager.stats().unwrap();
        assert_eq!(stats.memory.usage.limit, 67108864);
    }
    if has("pids") {
        cg.manager
            .apply(&resources(r#"{"pids":{"limit":64}}"#))
            .unwrap();
        assert_eq!(read(&dir, "pids.max"), "64");
        assert_eq!(cg.manager.stats().unwrap().pids.current, 1);
    }
    if has("cpu") {
        let json = r#"{"cpu":{"shares":1024,"quota":50000,"period":100000}}"#;
        cg.manager.apply(&resources(json)).unwrap();
        assert_eq!(read(&dir, "cpu.weight"), "39");
        assert_eq!(read(&dir, "cpu.max"), "50000 100000");
    }
    if has("cpuset") {
        cg.manager
            .apply(&resources(r#"{"cpu":{"cpus":"0","mems":"0"}}"#))
            .unwrap();
        assert_eq!(read(&dir, "cpuset.cpus"), "0");
    }
    if has("io") {
        if let Some(dev) = a_disk() {
            let (major, minor) = dev.split_once(':').unwrap();
            let json = format!(
                r#"{{"blockIO":{{"throttleReadBpsDevice":[{{"major":{major},"minor":{minor},"rate":1048576}}]}}}}"#
            );
            cg.manager.apply(&resources(&json)).unwrap();
            assert!(read(&dir, "io.max").contains("rbps=1048576"));
        }
    }
    let docker = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"}]}"#;
    cg.manager.apply(&resources(docker)).unwrap();
    assert_eq!(devices_bpf::attached_count(&dir).unwrap(), 1);
    cg.manager.freeze().unwrap();
    cg.manager.kill_all().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(cg.children[0].wait().unwrap().signal(), Some(libc::SIGKILL));
    cg.manager.destroy().unwrap();
    assert!(!dir.exists());
}

/// The `major:minor` of a real disk of the host (not loop, ram or zram), if any.
fn a_disk() -> Option<String> {
    std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            !["loop", "ram", "zram"].iter().any(|p| name.starts_with(p))
        })
        .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .map(|s| s.trim().to_string())
}

fn block_io_limits(cg: &TestCgroup) {
    let blkio = cg.dir("blkio");
    let weight_file = ["blkio.bfq.weight", "blkio.weight"]
        .into_iter()
        .find(|f| blkio.join(f).exists());
    if let Some(file) = weight_file {
        cg.manager
            .apply(&resources(r#"{"blockIO":{"weight":500}}"#))
            .unwrap();
        assert_eq!(read(&blkio, file), "500");
    }
    if let Some(dev) = a_disk() {
        let (major, minor) = dev.split_once(':').unwrap();
        let json = format!(
            r#"{{"blockIO":{{"throttleReadBpsDevice":[{{"major":{major},"minor":{minor},"rate":1048576}}]}}}}"#
        );
        cg.manager.apply(&resources(&json)).unwrap();
        assert_eq!(
            read(&blkio, "blkio.throttle.read_bps_device"),
            format!("{dev} 1048576")
        );
    }
}

#[test]
fn existing_empty_cpuset_parent_is_filled_and_sub_cgroups_are_destroyed() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    let Some(cpuset) = layout
        .v1_hierarchies()
        .iter()
        .find(|h| h.controllers.iter().any(|c| c == "cpuset"))
    else {
        return;
    };
    // A parent made by someone else, left with empty cpus/mems.
    let parent_name = unique("cpuset");
    let parent = cpuset.mount_point.join(&parent_name);
    std::fs::create_dir(&parent).unwrap();
    let m = manager(&layout, Some(&format!("/{parent_name}/ctr")), "ctr").unwrap();
    let mut cg = TestCgroup::create(m);
    let root_cpus = read(&cpuset.mount_point, "cpuset.cpus");
    assert_eq!(read(&parent, "cpuset.cpus"), root_cpus);
    assert_eq!(read(&cg.dir("cpuset"), "cpuset.cpus"), root_cpus);
    cg.add_sleeper();

    // Sub-cgroups the container made for itself go with it.
    for dir in cg.manager.paths().values() {
        std::fs::create_dir_all(dir.join("inner/deeper")).unwrap();
    }
    cg.manager.kill_all().unwrap();
    cg.children[0].wait().unwrap();
    cg.manager.destroy().unwrap();
    for dir in cg.manager.paths().values() {
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
}

#[test]
fn v1_devices_rules_are_enforced_in_order() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    if !has_v1(&layout, "devices") {
        eprintln!("skipped: no v1 devices controller");
        return;
    }
    let cg = TestCgroup::new(&layout, "dev");
    let rules = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
        {"allow":false,"type":"c","major":10,"minor":229,"access":"rwm"}]}"#;
    cg.manager.apply(&resources(rules)).unwrap();
    let list = read(&cg.dir("devices"), "devices.list");
    let lines: Vec<&str> = list.lines().collect();
    assert!(!lines.contains(&"a *:* rwm"), "{list}");
    for want in [
        "c 1:5 rwm",
        "c 1:3 rwm",
        "c *:* m",
        "b *:* m",
        "c 136:* rwm",
    ] {
        assert!(lines.contains(&want), "{want} missing from {list}");
    }
    assert!(!list.contains("10:229"), "{list}");
}

#[test]
fn hybrid_applies_unified_only_controllers_there() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    let Some(unified) = layout.unified() else {
        eprintln!("skipped: no cgroup2 hierarchy");
        return;
    };
    let has_2mb = Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
    if !unified.controllers.iter().any(|c| c == "hugetlb") || has_v1(&layout, "hugetlb") || !has_2mb
    {
        eprintln!("skipped: hugetlb is not a cgroup2-only controller here");
        return;
    }
    let mut cg = TestCgroup::new(&layout, "huge");
    cg.add_sleeper();
    let json = r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#;
    cg.manager.apply(&resources(json)).unwrap();
    assert_eq!(read(&cg.dir(UNIFIED_KEY), "hugetlb.2MB.max"), "4194304");
    let stats = cg.manager.stats().unwrap();
    assert!(stats.hugetlb.contains_key("2MB"), "{:?}", stats.hugetlb);
}

#[test]
fn v1_signal_all_freezes_signals_and_thaws() {
    if !is_root() {
        return;
    }
    let Some(layout) = v1_only(&detect().unwrap()) else {
        return;
    };
    if !has_v1(&layout, "freezer") {
        eprintln!("skipped: no v1 freezer");
        return;
    }
    let mut cg = TestCgroup::new(&layout, "sig");
    cg.add_sleeper();
    cg.add_sleeper();
    assert_eq!(cg.manager.pids().unwrap().len(), 2);
    cg.manager.signal_all(Signal::SIGTERM).unwrap();
    use std::os::unix::process::ExitStatusExt;
    for child in &mut cg.children {
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
    }
    assert!(!cg.manager.is_frozen().unwrap());

    // SIGKILL on a paused container: the processes die and the freezer is thawed.
    let pid = cg.add_sleeper();
    cg.manager.freeze().unwrap();
    cg.manager.kill_all().unwrap();
    let status = cg.children.last_mut().unwrap().wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "pid {pid}");
}

#[test]
fn relative_and_default_paths_go_below_own_cgroup() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    let id = unique("rel");
    let m = manager(&layout, None, &id).unwrap();
    let own = path::OwnCgroups::read_self().unwrap();
    for (key, dir) in m.paths() {
        assert!(dir.ends_with(&id), "{key}: {}", dir.display());
        if key == UNIFIED_KEY {
            continue;
        }
        let own_path = own
            .v1
            .iter()
            .find(|(set, _)| set.contains(&key))
            .map(|(_, p)| p.clone())
            .unwrap();
        let rel = own_path.strip_prefix("/").unwrap();
        assert!(
            dir.parent().unwrap().ends_with(rel),
            "{key}: {} not below {}",
            dir.display(),
            own_path.display()
        );
    }
    m.create().unwrap();
    let saved = m.paths();
    let again = manager_from_paths(&layout, &saved).unwrap();
    again.destroy().unwrap();
    assert!(saved.values().all(|d| !d.exists()));
}

#[test]
fn mounts_plan_can_be_performed_and_shows_the_container_cgroup() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    if !has_v1(&layout, "memory") {
        return;
    }
    let cg = TestCgroup::new(&layout, "mnt");
    cg.manager
        .apply(&resources(r#"{"memory":{"limit":33554432}}"#))
        .unwrap();
    let steps = cg.manager.mounts(false);
    let target = std::env::temp_dir().join(unique("mnt"));
    std::fs::create_dir(&target).unwrap();
    let result = std::thread::scope(|s| {
        s.spawn(|| -> Result<(), String> {
            // A private mount namespace for this thread only.
            unshare(CloneFlags::CLONE_NEWNS).map_err(|e| e.to_string())?;
            let none: Option<&str> = None;
            mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
                .map_err(|e| e.to_string())?;
            for step in &steps {
                match step {
                    CgroupMount::Mount {
                        source,
                        relative,
                        fstype,
                        flags,
                        data,
                    } => {
                        let dest = target.join(relative);
                        std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
                        let fstype = (fstype != "bind").then_some(fstype.as_str());
                        let data = (!data.is_empty()).then_some(data.as_str());
                        mount(Some(source.as_str()), &dest, fstype, *flags, data)
                            .map_err(|e| format!("mount {source} on {}: {e}", dest.display()))?;
                    }
                    CgroupMount::Symlink {
                        target: t,
                        relative,
                    } => {
                        std::os::unix::fs::symlink(t, target.join(relative))
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            let limit = std::fs::read_to_string(target.join("memory/memory.limit_in_bytes"))
                .map_err(|e| e.to_string())?;
            if limit.trim() != "33554432" {
                return Err(format!("container memory limit reads {limit}"));
            }
            if layout.unified().is_some() && !target.join("unified/cgroup.procs").exists() {
                return Err("no unified entry".into());
            }
            Ok(())
        })
        .join()
        .unwrap()
    });
    let _ = std::fs::remove_dir(&target);
    result.unwrap();
}

/// Pure cgroup v2: a fresh cgroup2 mount in a private mount namespace, used as the only
/// hierarchy.
#[test]
fn pure_v2_in_a_private_mount_namespace() {
    if !is_root() {
        return;
    }
    let mnt = std::env::temp_dir().join(unique("v2mnt"));
    std::fs::create_dir(&mnt).unwrap();
    let outcome = std::thread::scope(|s| s.spawn(|| pure_v2_checks(&mnt)).join());
    let _ = std::fs::remove_dir(&mnt);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn pure_v2_checks(mnt: &Path) {
    unshare(CloneFlags::CLONE_NEWNS).unwrap();
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).unwrap();
    mount(
        Some("cgroup2"),
        mnt,
        Some("cgroup2"),
        MsFlags::empty(),
        none,
    )
    .unwrap();
    let controllers = layout::parse_words(&read(mnt, "cgroup.controllers"));
    let layout = Layout::V2 {
        unified: UnifiedHierarchy {
            mount_point: mnt.to_path_buf(),
            root: "/".into(),
            controllers: controllers.clone(),
        },
    };
    let mut cg = TestCgroup::new(&layout, "v2");
    let paths: BTreeMap<String, PathBuf> = cg.manager.paths();
    assert_eq!(paths.keys().collect::<Vec<_>>(), [&UNIFIED_KEY.to_string()]);
    let dir = cg.dir(UNIFIED_KEY);
    assert!(dir.starts_with(mnt));
    let pid = cg.add_sleeper();
    assert_eq!(cg.manager.pids().unwrap(), [pid]);

    // Controllers delegated down to the container's parent.
    let parent_control = read(dir.parent().unwrap(), "cgroup.subtree_control");
    for c in &controllers {
        assert!(parent_control.contains(c.as_str()), "{c} not delegated");
    }

    let pids = resources(r#"{"pids":{"limit":10}}"#);
    if controllers.iter().any(|c| c == "pids") {
        cg.manager.apply(&pids).unwrap();
        assert_eq!(read(&dir, "pids.max"), "10");
    } else {
        let err = cg.manager.apply(&pids).unwrap_err().to_string();
        assert!(
            err.contains("linux.resources.pids") && err.contains("pids"),
            "{err}"
        );
    }
    if controllers.iter().any(|c| c == "hugetlb") && dir.join("hugetlb.2MB.max").exists() {
        let huge = resources(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-1}]}"#);
        cg.manager.apply(&huge).unwrap();
        assert_eq!(read(&dir, "hugetlb.2MB.max"), "max");
    }
    // Device rules: the eBPF program lets /dev/null through and stops /dev/kmsg (1:11).
    let devices = resources(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#);
    cg.manager.apply(&devices).unwrap();
    cg.manager.apply(&devices).unwrap();
    assert_eq!(
        devices_bpf::attached_count(&dir).unwrap(),
        1,
        "re-apply replaces"
    );
    let opens = |device: &str| -> bool {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("read go; exec 3<{device}"))
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        cg.manager.add_process(child.id() as i32).unwrap();
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        child.wait().unwrap().success()
    };
    assert!(opens("/dev/null"));
    assert!(!opens("/dev/kmsg"));

    cg.manager.freeze().unwrap();
    assert!(cg.manager.is_frozen().unwrap());
    assert!(read(&dir, "cgroup.events").contains("frozen 1"));
    cg.manager.thaw().unwrap();
    assert!(!cg.manager.is_frozen().unwrap());

    // cpu.stat is a core file on cgroup2: usage is reported even without the cpu controller.
    let usage_ns = || stats::parse_keyed(&read(&dir, "cpu.stat"))["usage_usec"] * 1000;
    let before = usage_ns();
    let total = cg.manager.stats().unwrap().cpu.usage.total;
    assert!(before <= total && total <= usage_ns(), "{before} {total}");

    let steps = cg.manager.mounts(true);
    assert!(matches!(&steps[..], [CgroupMount::Mount { fstype, .. }] if fstype == "cgroup2"));

    cg.manager.kill_all().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(cg.children[0].wait().unwrap().signal(), Some(libc::SIGKILL));
    cg.manager.destroy().unwrap();
    assert!(!dir.exists());
}
