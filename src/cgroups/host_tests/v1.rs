//! Host tests that need v1 controllers (a v1 or hybrid host): limits read back from the v1
//! files, an existing empty cpuset parent filled in, device rules in order, signal_all through
//! the v1 freezer, and the container's `cgroup` mount as [`Manager::mounts`] plans it.

use std::os::unix::process::ExitStatusExt;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::Signal;

use super::*;

/// The need `v1:<controller>`: a v1 hierarchy with `controller`.
fn needs_v1(layout: &Layout, controller: &str) -> bool {
    needs(
        &format!("v1:{controller}"),
        has_v1(layout, controller),
        &format!("no v1 {controller} controller"),
    )
}

#[test]
fn v1_limits_read_back() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    if !["memory", "pids", "cpu", "cpuset"]
        .into_iter()
        .all(|c| needs_v1(&layout, c))
    {
        return;
    }
    let mut cg = TestCgroup::new(&layout, "v1lim");
    cg.add_sleeper();
    let json = r#"{"memory":{"limit":67108864,"reservation":33554432},
        "pids":{"limit":100},
        "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0","mems":"0"}}"#;
    cg.manager
        .apply(&resources(json), &crate::log::Silent)
        .unwrap();
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
    let mut limit = 67108864;
    if part(
        "memory+swap",
        "swap-accounting",
        mem.join("memory.memsw.limit_in_bytes").exists(),
        "no memory.memsw.limit_in_bytes (the kernel does not account swap)",
    ) {
        let more = r#"{"memory":{"limit":134217728,"swap":268435456}}"#;
        cg.manager
            .apply(&resources(more), &crate::log::Silent)
            .unwrap();
        assert_eq!(read(&mem, "memory.limit_in_bytes"), "134217728");
        assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), "268435456");
        limit = 134217728;
    }
    let stats = cg.manager.stats().unwrap();
    assert!(!stats.memory.raw.is_empty());
    assert_eq!(stats.memory.usage.limit, limit);
    assert_eq!(stats.pids.current, 1);
    assert_eq!(stats.pids.limit, 100);
    let json = serde_json::to_value(&stats).unwrap();
    assert!(json["cpu"]["usage"].get("kernel").is_some());

    if part(
        "blkio",
        "v1:blkio",
        has_v1(&layout, "blkio"),
        "no v1 blkio controller",
    ) {
        block_io_limits(&cg);
    }
}

fn block_io_limits(cg: &TestCgroup) {
    let blkio = cg.dir("blkio");
    let weight_file = ["blkio.bfq.weight", "blkio.weight"]
        .into_iter()
        .find(|f| blkio.join(f).exists());
    if let Some(file) = weight_file {
        cg.manager
            .apply(
                &resources(r#"{"blockIO":{"weight":500}}"#),
                &crate::log::Silent,
            )
            .unwrap();
        assert_eq!(read(&blkio, file), "500");
    } else {
        part(
            "blkio weight",
            "blkio-weight",
            false,
            "no blkio.bfq.weight or blkio.weight (the block scheduler takes no weights)",
        );
    }
    let Some(dev) = a_disk() else {
        part(
            "blkio throttle",
            "disk",
            false,
            "no real block device in /sys/block",
        );
        return;
    };
    let (major, minor) = dev.split_once(':').unwrap();
    let json = format!(
        r#"{{"blockIO":{{"throttleReadBpsDevice":[{{"major":{major},"minor":{minor},"rate":1048576}}]}}}}"#
    );
    cg.manager
        .apply(&resources(&json), &crate::log::Silent)
        .unwrap();
    assert_eq!(
        read(&blkio, "blkio.throttle.read_bps_device"),
        format!("{dev} 1048576")
    );
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
        return skip("v1:cpuset", "no v1 cpuset controller");
    };
    // A parent made by someone else, left with empty cpus/mems.
    let parent_name = unique("cpuset");
    let parent = cpuset.mount_point.join(&parent_name);
    std::fs::create_dir(&parent).unwrap();
    let m = manager(
        &layout,
        Some(&format!("/{parent_name}/ctr")),
        "ctr",
        Driver::Cgroupfs,
    )
    .unwrap();
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
    if !needs_v1(&layout, "devices") {
        return;
    }
    let cg = TestCgroup::new(&layout, "dev");
    let rules = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
        {"allow":false,"type":"c","major":10,"minor":229,"access":"rwm"}]}"#;
    cg.manager
        .apply(&resources(rules), &crate::log::Silent)
        .unwrap();
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
fn v1_signal_all_freezes_signals_and_thaws() {
    if !is_root() {
        return;
    }
    let host = detect().unwrap();
    if !needs_v1(&host, "freezer") {
        return;
    }
    // The v1 hierarchies alone, so that signal_all goes through the v1 freezer even on a hybrid
    // host (whose cgroup2 directory may have cgroup.kill).
    let layout = v1_only(&host).expect("the freezer is a v1 hierarchy");
    let mut cg = TestCgroup::new(&layout, "sig");
    cg.add_sleeper();
    cg.add_sleeper();
    assert_eq!(cg.manager.pids().unwrap().len(), 2);
    cg.manager.signal_all(Signal::SIGTERM).unwrap();
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
fn mounts_plan_can_be_performed_and_shows_the_container_cgroup() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    if !needs_v1(&layout, "memory") {
        return;
    }
    let cg = TestCgroup::new(&layout, "mnt");
    cg.manager
        .apply(
            &resources(r#"{"memory":{"limit":33554432}}"#),
            &crate::log::Silent,
        )
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
