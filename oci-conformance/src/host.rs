//! Facts about the host the suite compares containers against: the runner's
//! own namespaces and where each cgroup controller is mounted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const NS_KINDS: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

#[derive(Debug, Default)]
pub struct Host {
    /// Namespace links of the runner (= the runtime namespace), e.g. "uts" -> "uts:[4026531838]".
    pub ns: HashMap<String, String>,
    /// v1 controller name -> mount point of its hierarchy.
    pub cgroup_v1: HashMap<String, PathBuf>,
    /// The cgroup2 mount point, if any.
    pub cgroup_v2: Option<PathBuf>,
    /// Controllers enabled in the cgroup2 root.
    pub v2_controllers: Vec<String>,
    /// Every cgroup mount point, named v1 hierarchies (name=systemd) included.
    pub cgroup_mounts: Vec<PathBuf>,
}

/// Namespace links of a process.
pub fn namespaces_of(pid: &str) -> HashMap<String, String> {
    NS_KINDS
        .iter()
        .filter_map(|k| {
            std::fs::read_link(format!("/proc/{pid}/ns/{k}"))
                .ok()
                .map(|t| (k.to_string(), t.display().to_string()))
        })
        .collect()
}

impl Host {
    pub fn probe() -> Host {
        let mut host = Host {
            ns: namespaces_of("self"),
            ..Host::default()
        };
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            let (Some(mp), Some(fstype), Some(opts)) = (pre.get(4), post.first(), post.get(2))
            else {
                continue;
            };
            if matches!(*fstype, "cgroup" | "cgroup2") {
                host.cgroup_mounts.push(PathBuf::from(mp));
            }
            match *fstype {
                "cgroup" => {
                    for opt in opts.split(',') {
                        if matches!(opt, "rw" | "ro") || opt.contains('=') {
                            continue;
                        }
                        host.cgroup_v1
                            .entry(opt.to_string())
                            .or_insert_with(|| PathBuf::from(mp));
                    }
                }
                "cgroup2" if host.cgroup_v2.is_none() => host.cgroup_v2 = Some(PathBuf::from(mp)),
                _ => {}
            }
        }
        if let Some(v2) = &host.cgroup_v2 {
            host.v2_controllers = std::fs::read_to_string(v2.join("cgroup.controllers"))
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
        }
        host
    }

    /// Host directory of `pid`'s cgroup for `controller` ("" = the cgroup2 group).
    pub fn cgroup_dir_of(&self, pid: i64, controller: &str) -> Option<PathBuf> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            let rel = path.trim_start_matches('/');
            if controller.is_empty() || self.controller_on_v2(controller) {
                if ctrls.is_empty() {
                    return self.cgroup_v2.as_ref().map(|m| m.join(rel));
                }
            } else if ctrls.split(',').any(|c| c == controller) {
                return self.cgroup_v1.get(controller).map(|m| m.join(rel));
            }
        }
        None
    }

    /// True when `controller` is served by cgroup2 (not mounted as v1 and
    /// enabled in the v2 root).
    pub fn controller_on_v2(&self, controller: &str) -> bool {
        !self.cgroup_v1.contains_key(controller)
            && self.v2_controllers.iter().any(|c| c == controller)
    }

    pub fn has_controller(&self, controller: &str) -> bool {
        self.cgroup_v1.contains_key(controller) || self.controller_on_v2(controller)
    }

    /// Every hierarchy's mount point (v1 with controllers or named, and v2).
    pub fn hierarchies(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.cgroup_mounts.clone();
        v.sort();
        v.dedup();
        v
    }

    /// Remove `rel` (e.g. "oci-conformance-123") and everything below it in
    /// every hierarchy: leftover processes are killed first, then the
    /// directories are removed deepest first.
    pub fn remove_cgroup_tree(&self, rel: &str) {
        for h in self.hierarchies() {
            let top = h.join(rel.trim_start_matches('/'));
            if top.is_dir() {
                remove_cgroup_dir(&top);
            }
        }
    }
}

fn remove_cgroup_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_dir(&e.path());
            }
        }
    }
    for attempt in 0..50 {
        if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            for pid in procs
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                // SAFETY: kill with a pid read from the cgroup we own; worst case ESRCH.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) if attempt == 49 => {
                eprintln!("# warning: removing cgroup {}: {e}", dir.display());
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}
