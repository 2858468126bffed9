//! Host tests for every layout: the container's cgroup is made, holds its processes, freezes,
//! thaws, is killed while frozen and removed; a relative or default cgroupsPath goes below the
//! runtime's own cgroup; a per-device weight for a disk that takes none is a warning.

use std::os::unix::process::ExitStatusExt;

use super::*;

#[test]
fn create_freeze_kill_destroy_on_host() {
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

    cg.manager.freeze().unwrap();
    assert!(cg.manager.is_frozen().unwrap());
    cg.manager.thaw().unwrap();
    assert!(!cg.manager.is_frozen().unwrap());

    // Killing a paused container: the processes die, the freezer ends up thawed.
    cg.manager.freeze().unwrap();
    cg.manager.kill_all().unwrap();
    let status = cg.children[0].wait().unwrap();
    assert!(!cg.manager.is_frozen().unwrap());
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(cg.manager.pids().unwrap().is_empty());

    cg.manager.destroy().unwrap();
    for dir in paths.values() {
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
    // Destroying what is gone is no error.
    cg.manager.destroy().unwrap();
}

#[test]
fn relative_and_default_paths_go_below_own_cgroup() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    let id = unique("rel");
    let m = manager(&layout, None, &id, Driver::Cgroupfs).unwrap();
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
    m.create(&crate::log::Silent).unwrap();
    let saved = m.paths();
    let again = manager_from_paths(&layout, &saved).unwrap();
    again.destroy().unwrap();
    assert!(saved.values().all(|d| !d.exists()));
}

/// `linux.resources.blockIO.weightDevice` for a disk whose scheduler takes no per-device
/// weights (neither BFQ nor, on cgroup2, iocost): the kernel refuses the line with EOPNOTSUPP,
/// runc goes on, and so does rrun, with a warning naming the device and the file; the rest of
/// blockIO (a throttle here) is still applied.
#[test]
fn per_device_weight_on_a_disk_without_weights_is_a_warning() {
    if !is_root() {
        return;
    }
    let layout = detect().unwrap();
    let (key, need) = if has_v1(&layout, "blkio") {
        ("blkio", "v1:blkio")
    } else {
        (UNIFIED_KEY, "v2-host:io")
    };
    let has_io = key == "blkio"
        || matches!(&layout, Layout::V2 { unified } if unified.controllers.iter().any(|c| c == "io"));
    if !needs(need, has_io, "no blkio (v1) or io (cgroup2) controller") {
        return;
    }
    let Some((name, dev)) = a_named_disk() else {
        return skip("disk", "no real block device in /sys/block");
    };
    let scheduler =
        std::fs::read_to_string(format!("/sys/block/{name}/queue/scheduler")).unwrap_or_default();
    let bfq = scheduler.contains("[bfq]");
    // iocost is enabled per device in the root's io.cost.qos (`8:0 enable=1 ...`).
    let iocost = key == UNIFIED_KEY
        && layout.unified().is_some_and(|u| {
            std::fs::read_to_string(u.mount_point.join("io.cost.qos"))
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with(&format!("{dev} ")) && l.contains("enable=1"))
        });
    if !needs(
        "disk:no-weights",
        !bfq && !iocost,
        &format!("{name} ({dev}) takes per-device weights (BFQ or iocost)"),
    ) {
        return;
    }
    let mut cg = TestCgroup::new(&layout, "wdev");
    cg.add_sleeper();
    let (major, minor) = dev.split_once(':').unwrap();
    let json = format!(
        r#"{{"blockIO":{{"weightDevice":[{{"major":{major},"minor":{minor},"weight":300}}],
            "throttleReadBpsDevice":[{{"major":{major},"minor":{minor},"rate":1048576}}]}}}}"#
    );
    let log = Collect::default();
    cg.manager
        .apply(&resources(&json), &log)
        .unwrap_or_else(|e| panic!("apply: {e}"));
    let warnings = log.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&format!("device {dev} "))
            && warnings[0].contains("weight")
            && warnings[0].ends_with("skipped"),
        "{warnings:?}"
    );
    let dir = cg.dir(key);
    let throttle = if key == "blkio" {
        read(&dir, "blkio.throttle.read_bps_device")
    } else {
        read(&dir, "io.max")
    };
    assert!(throttle.contains("1048576"), "{throttle}");
}
