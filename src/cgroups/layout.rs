//! Which cgroup hierarchies the host mounts, read from `/proc/self/mountinfo`.
//!
//! Three layouts exist: v1 (one mount per controller or co-mounted group, plus named
//! hierarchies like `name=systemd`), hybrid (those v1 mounts plus a cgroup2 mount, usually at
//! `/sys/fs/cgroup/unified`, which may hold controllers that have no v1 mount, e.g. hugetlb) and
//! pure v2 (one cgroup2 mount holding every controller).

use std::path::{Path, PathBuf};

use super::error::CgroupError;
use super::fsio;
use crate::procinfo::mountinfo::{self, MountInfo};

/// Controllers a v1 mount's super options may name; anything else there is a mount option.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// One mounted cgroup v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root (`/` unless bind-mounted or in a cgroup namespace).
    pub root: PathBuf,
    /// The controllers of the hierarchy (`cpu`, `cpuacct`), or its name (`name=systemd`).
    pub controllers: Vec<String>,
}

impl V1Hierarchy {
    /// The hierarchy's key in `/proc/<pid>/cgroup`: the controllers joined with a comma.
    pub fn key(&self) -> String {
        self.controllers.join(",")
    }
}

/// The mounted cgroup2 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnifiedHierarchy {
    /// Where it is mounted (`/sys/fs/cgroup` on v2, `/sys/fs/cgroup/unified` in hybrid).
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root.
    pub root: PathBuf,
    /// The controllers listed in the mount's `cgroup.controllers`.
    pub controllers: Vec<String>,
}

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Only v1 hierarchies.
    V1 { hierarchies: Vec<V1Hierarchy> },
    /// v1 hierarchies plus a cgroup2 mount that the container joins too.
    Hybrid {
        hierarchies: Vec<V1Hierarchy>,
        unified: UnifiedHierarchy,
    },
    /// One cgroup2 mount.
    V2 { unified: UnifiedHierarchy },
}

impl Layout {
    /// The v1 hierarchies (none on pure v2).
    pub fn v1_hierarchies(&self) -> &[V1Hierarchy] {
        match self {
            Layout::V1 { hierarchies } | Layout::Hybrid { hierarchies, .. } => hierarchies,
            Layout::V2 { .. } => &[],
        }
    }

    /// The cgroup2 hierarchy, if any.
    pub fn unified(&self) -> Option<&UnifiedHierarchy> {
        match self {
            Layout::V1 { .. } => None,
            Layout::Hybrid { unified, .. } | Layout::V2 { unified } => Some(unified),
        }
    }
}

/// Reads `/proc/self/mountinfo` (and the cgroup2 mount's `cgroup.controllers`) once.
pub fn detect() -> Result<Layout, CgroupError> {
    let mountinfo = Path::new(mountinfo::SELF);
    let mounts = cgroup_mounts(&mountinfo::read(mountinfo)?);
    let controllers = match &mounts.unified {
        Some(m) => {
            let file = m.mount_point.join("cgroup.controllers");
            parse_words(&fsio::read_to_string(&file)?)
        }
        None => Vec::new(),
    };
    mounts.into_layout(controllers, mountinfo)
}

/// The cgroup mounts found in a mountinfo text, before cgroup.controllers is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMounts {
    pub v1: Vec<V1Hierarchy>,
    /// (mount point, root) of the first cgroup2 mount.
    pub unified: Option<UnifiedMount>,
}

/// Where the first cgroup2 filesystem is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnifiedMount {
    pub mount_point: PathBuf,
    pub root: PathBuf,
}

impl CgroupMounts {
    /// Combine with the controllers of the cgroup2 mount into a [`Layout`].
    pub fn into_layout(
        self,
        unified_controllers: Vec<String>,
        mountinfo: &Path,
    ) -> Result<Layout, CgroupError> {
        let unified = self.unified.map(|m| UnifiedHierarchy {
            mount_point: m.mount_point,
            root: m.root,
            controllers: unified_controllers,
        });
        match (self.v1.is_empty(), unified) {
            (true, None) => Err(CgroupError::NoCgroupMount {
                mountinfo: mountinfo.to_path_buf(),
            }),
            (true, Some(unified)) => Ok(Layout::V2 { unified }),
            (false, None) => Ok(Layout::V1 {
                hierarchies: self.v1,
            }),
            (false, Some(unified)) => Ok(Layout::Hybrid {
                hierarchies: self.v1,
                unified,
            }),
        }
    }
}

/// Parse the cgroup and cgroup2 mounts of a mountinfo text (`file` names it in errors).
pub fn parse_mountinfo(text: &str, file: &Path) -> Result<CgroupMounts, CgroupError> {
    Ok(cgroup_mounts(&mountinfo::parse(text.as_bytes(), file)?))
}

/// The cgroup and cgroup2 mounts among `mounts`. A hierarchy mounted twice (a bind mount, a
/// second mount of the same controllers) counts once: the first mount wins.
pub fn cgroup_mounts(mounts: &[MountInfo]) -> CgroupMounts {
    let mut v1: Vec<V1Hierarchy> = Vec::new();
    let mut unified = None;
    for m in mounts {
        match m.fs_type.as_str() {
            "cgroup2" if unified.is_none() => {
                unified = Some(UnifiedMount {
                    mount_point: m.mount_point.clone(),
                    root: m.root.clone(),
                })
            }
            "cgroup" => {
                let controllers: Vec<String> = m
                    .super_options
                    .iter()
                    .filter(|o| V1_CONTROLLERS.contains(&o.as_str()) || o.starts_with("name="))
                    .cloned()
                    .collect();
                if controllers.is_empty() || v1.iter().any(|h| h.controllers == controllers) {
                    continue;
                }
                v1.push(V1Hierarchy {
                    mount_point: m.mount_point.clone(),
                    root: m.root.clone(),
                    controllers,
                });
            }
            _ => {}
        }
    }
    CgroupMounts { v1, unified }
}

/// Split a whitespace-separated list (cgroup.controllers, cgroup.subtree_control).
pub fn parse_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const V1: &str = "\
25 21 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:5 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 /docker/abc /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,pids
99 25 0:26 / /mnt/again rw,relatime - cgroup cgroup rw,cpu,cpuacct
";

    const V2: &str = "\
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
77 30 0:26 / /tmp/my\\040dir rw,relatime - cgroup2 cgroup2 rw
";

    fn parse(text: &str) -> CgroupMounts {
        parse_mountinfo(text, Path::new("mountinfo")).unwrap()
    }

    #[test]
    fn hybrid_has_v1_controllers_named_hierarchy_and_unified() {
        let m = parse(HYBRID);
        let keys: Vec<String> = m.v1.iter().map(V1Hierarchy::key).collect();
        assert_eq!(keys, ["cpu", "cpuacct", "cpuset", "memory", "name=systemd"]);
        assert_eq!(
            m.unified.as_ref().unwrap().mount_point,
            Path::new("/sys/fs/cgroup/unified")
        );
        let layout = m
            .into_layout(vec!["hugetlb".into()], Path::new("x"))
            .unwrap();
        match &layout {
            Layout::Hybrid { unified, .. } => assert_eq!(unified.controllers, ["hugetlb"]),
            other => panic!("expected hybrid, got {other:?}"),
        }
        assert_eq!(layout.v1_hierarchies().len(), 5);
    }

    #[test]
    fn v1_co_mounted_roots_and_duplicates() {
        let m = parse(V1);
        assert!(m.unified.is_none());
        let keys: Vec<String> = m.v1.iter().map(V1Hierarchy::key).collect();
        assert_eq!(
            keys,
            ["name=systemd", "cpu,cpuacct", "net_cls,net_prio", "pids"]
        );
        assert_eq!(m.v1[3].root, Path::new("/docker/abc"));
        assert_eq!(m.v1[1].mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        let layout = m.into_layout(vec![], Path::new("x")).unwrap();
        assert!(matches!(layout, Layout::V1 { .. }));
    }

    #[test]
    fn v2_first_mount_wins_and_escapes_are_undone() {
        let m = parse(V2);
        assert_eq!(m.unified.unwrap().mount_point, Path::new("/sys/fs/cgroup"));
        let only_second = V2.lines().nth(1).unwrap();
        let m = parse(only_second);
        assert_eq!(m.unified.unwrap().mount_point, Path::new("/tmp/my dir"));
        let layout = parse(V2)
            .into_layout(vec!["cpu".into(), "memory".into()], Path::new("x"))
            .unwrap();
        assert!(matches!(layout, Layout::V2 { .. }));
    }

    #[test]
    fn no_cgroup_mount_is_an_error_and_garbage_is_a_parse_error() {
        let m = parse("22 28 0:20 / /sys rw - sysfs sysfs rw\n");
        assert!(matches!(
            m.into_layout(vec![], Path::new("x")),
            Err(CgroupError::NoCgroupMount { .. })
        ));
        assert!(matches!(
            parse_mountinfo("garbage line", Path::new("x")),
            Err(CgroupError::ProcInfo(_))
        ));
    }

    #[test]
    fn detect_on_this_host_finds_a_layout() {
        let layout = detect().unwrap();
        assert!(!layout.v1_hierarchies().is_empty() || layout.unified().is_some());
    }
}
