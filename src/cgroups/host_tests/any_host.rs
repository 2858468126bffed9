//! Host tests for every layout: the container's cgroup is made, holds its processes, freezes,
//! thaws, is killed while frozen and removed; a relative or default cgroupsPath goes below the
//! runtime's own cgroup.

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
    m.create(&crate::log::Silent).unwrap();
    let saved = m.paths();
    let again = manager_from_paths(&layout, &saved).unwrap();
    again.destroy().unwrap();
    assert!(saved.values().all(|d| !d.exists()));
}
