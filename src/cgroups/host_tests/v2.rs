//! Host tests of cgroup2: limits read back on a pure v2 host (scripts/cgroup2-vm.sh), the
//! controllers that a hybrid host has on cgroup2 only, and pure v2 in a private mount namespace
//! with a fresh cgroup2 mount (any host).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::*;

/// On a pure cgroup2 host (a VM in CI; see the module docs of host_tests): limits through the
/// v2 files.
#[test]
fn v2_limits_read_back_on_a_v2_host() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    let Layout::V2 { unified } = &layout else {
        return skip("v2-host", "the host is not pure cgroup v2");
    };
    // The need `v2-host:<controller>` for one part of the test.
    let has = |c: &str| {
        part(
            &format!("{c} limits"),
            &format!("v2-host:{c}"),
            unified.controllers.iter().any(|x| x == c),
            &format!("no {c} controller in cgroup.controllers"),
        )
    };
    let mut cg = TestCgroup::new(&layout, "v2lim");
    cg.add_sleeper();
    let dir = cg.dir(UNIFIED_KEY);
    if has("memory") {
        let swap = part(
            "memory.swap.max",
            "swap-accounting",
            dir.join("memory.swap.max").exists(),
            "no memory.swap.max (the kernel does not account swap)",
        );
        let json = if swap {
            r#"{"memory":{"limit":67108864,"swap":134217728,"reservation":33554432}}"#
        } else {
            r#"{"memory":{"limit":67108864,"reservation":33554432}}"#
        };
        cg.manager
            .apply(&resources(json), &crate::log::Silent)
            .unwrap();
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
            .apply(&resources(r#"{"pids":{"limit":64}}"#), &crate::log::Silent)
            .unwrap();
        assert_eq!(read(&dir, "pids.max"), "64");
        assert_eq!(cg.manager.stats().unwrap().pids.current, 1);
    }
    if has("cpu") {
        let json = r#"{"cpu":{"shares":1024,"quota":50000,"period":100000}}"#;
        cg.manager
            .apply(&resources(json), &crate::log::Silent)
            .unwrap();
        assert_eq!(read(&dir, "cpu.weight"), "39");
        assert_eq!(read(&dir, "cpu.max"), "50000 100000");
    }
    if has("cpuset") {
        cg.manager
            .apply(
                &resources(r#"{"cpu":{"cpus":"0","mems":"0"}}"#),
                &crate::log::Silent,
            )
            .unwrap();
        assert_eq!(read(&dir, "cpuset.cpus"), "0");
    }
    if has("io") {
        match a_disk() {
            Some(dev) => {
                let (major, minor) = dev.split_once(':').unwrap();
                let json = format!(
                    r#"{{"blockIO":{{"throttleReadBpsDevice":[{{"major":{major},"minor":{minor},"rate":1048576}}]}}}}"#
                );
                cg.manager
                    .apply(&resources(&json), &crate::log::Silent)
                    .unwrap();
                assert!(read(&dir, "io.max").contains("rbps=1048576"));
            }
            None => {
                part(
                    "io.max",
                    "disk",
                    false,
                    "no real block device in /sys/block",
                );
            }
        }
    }
    let docker = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"}]}"#;
    cg.manager
        .apply(&resources(docker), &crate::log::Silent)
        .unwrap();
    assert_eq!(devices_bpf::attached_count(&dir).unwrap(), 1);
    cg.manager.freeze().unwrap();
    cg.manager.kill_all().unwrap();
    assert_eq!(cg.children[0].wait().unwrap().signal(), Some(libc::SIGKILL));
    cg.manager.destroy().unwrap();
    assert!(!dir.exists());
}

#[test]
fn hybrid_applies_unified_only_controllers_there() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    let Some(unified) = layout.unified() else {
        return skip("hybrid:hugetlb", "no cgroup2 hierarchy");
    };
    let has_2mb = Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
    let lacking = if !unified.controllers.iter().any(|c| c == "hugetlb") {
        Some("no hugetlb controller on the cgroup2 hierarchy")
    } else if has_v1(&layout, "hugetlb") {
        Some("hugetlb is a v1 controller here")
    } else if !has_2mb {
        Some("no 2 MB huge pages")
    } else {
        None
    };
    if let Some(reason) = lacking {
        return skip("hybrid:hugetlb", reason);
    }
    let mut cg = TestCgroup::new(&layout, "huge");
    cg.add_sleeper();
    let json = r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#;
    cg.manager
        .apply(&resources(json), &crate::log::Silent)
        .unwrap();
    assert_eq!(read(&cg.dir(UNIFIED_KEY), "hugetlb.2MB.max"), "4194304");
    let stats = cg.manager.stats().unwrap();
    assert!(stats.hugetlb.contains_key("2MB"), "{:?}", stats.hugetlb);
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
        cg.manager.apply(&pids, &crate::log::Silent).unwrap();
        assert_eq!(read(&dir, "pids.max"), "10");
    } else {
        let err = cg
            .manager
            .apply(&pids, &crate::log::Silent)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("linux.resources.pids") && err.contains("pids"),
            "{err}"
        );
    }
    if controllers.iter().any(|c| c == "hugetlb") && dir.join("hugetlb.2MB.max").exists() {
        let huge = resources(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-1}]}"#);
        cg.manager.apply(&huge, &crate::log::Silent).unwrap();
        assert_eq!(read(&dir, "hugetlb.2MB.max"), "max");
    }
    // Device rules: the eBPF program lets /dev/null through and stops /dev/kmsg (1:11).
    let devices = resources(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#);
    cg.manager.apply(&devices, &crate::log::Silent).unwrap();
    cg.manager.apply(&devices, &crate::log::Silent).unwrap();
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
    assert_eq!(cg.children[0].wait().unwrap().signal(), Some(libc::SIGKILL));
    cg.manager.destroy().unwrap();
    assert!(!dir.exists());
}
