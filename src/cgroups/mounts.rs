//! What the container's `cgroup` mount (usually at /sys/fs/cgroup) is made of, as plain data
//! for the rootfs code to perform; nothing here mounts.
//!
//! - v1 and hybrid: a tmpfs at the destination, then one directory per hierarchy named like the
//!   host's (`cpu,cpuacct`, `systemd`) holding either a bind of the container's own cgroup
//!   directory or, with a cgroup namespace, a fresh `cgroup` mount of the same controllers
//!   (which the namespace roots at the container's cgroup); then symlinks `cpu -> cpu,cpuacct`
//!   for co-mounted controllers; in hybrid also the cgroup2 hierarchy under its host name
//!   (`unified`).
//! - v2: a fresh `cgroup2` mount at the destination with a cgroup namespace, else a bind of the
//!   container's cgroup2 directory.
//!
//! The flags returned are what makes each mount what it is (MS_BIND for binds, the
//! nosuid/nodev/noexec every cgroupfs mount gets); the caller adds the spec entry's own options
//! (`ro`, ...) on top, for binds by a remount (MS_REMOUNT | MS_BIND | flags), and for the v1
//! tmpfs by remounting it read-only after the entries below it are in place.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

/// One step of building the container's cgroup mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupMount {
    /// `mount(source, <destination>/<relative>, fstype, flags, data)`; `relative` empty for the
    /// destination itself.
    Mount {
        source: String,
        relative: PathBuf,
        fstype: String,
        flags: MsFlags,
        data: String,
    },
    /// `symlink(target, <destination>/<relative>)`.
    Symlink { target: String, relative: PathBuf },
}

/// One v1 hierarchy as the container sees it.
#[derive(Debug, Clone)]
pub struct V1Source<'a> {
    /// The host mount point (its last component names the directory in the container).
    pub mount_point: &'a Path,
    pub controllers: &'a [String],
    /// The container's directory in it.
    pub dir: &'a Path,
}

/// The cgroup2 hierarchy as the container sees it.
#[derive(Debug, Clone)]
pub struct UnifiedSource<'a> {
    pub mount_point: &'a Path,
    pub dir: &'a Path,
}

fn base_flags() -> MsFlags {
    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
}

fn name_of(mount_point: &Path) -> PathBuf {
    PathBuf::from(mount_point.file_name().unwrap_or(mount_point.as_os_str()))
}

fn bind(dir: &Path, relative: PathBuf) -> CgroupMount {
    CgroupMount::Mount {
        source: dir.display().to_string(),
        relative,
        fstype: "bind".to_string(),
        flags: MsFlags::MS_BIND | MsFlags::MS_REC,
        data: String::new(),
    }
}

fn fresh(fstype: &str, relative: PathBuf, data: String) -> CgroupMount {
    CgroupMount::Mount {
        source: "cgroup".to_string(),
        relative,
        fstype: fstype.to_string(),
        flags: base_flags(),
        data,
    }
}

/// The steps for a v1 or hybrid host (`unified` is the hybrid's cgroup2 part).
pub fn v1_mounts(
    hierarchies: &[V1Source<'_>],
    unified: Option<&UnifiedSource<'_>>,
    cgroupns: bool,
) -> Vec<CgroupMount> {
    let mut steps = vec![CgroupMount::Mount {
        source: "tmpfs".to_string(),
        relative: PathBuf::new(),
        fstype: "tmpfs".to_string(),
        flags: base_flags(),
        data: "mode=755".to_string(),
    }];
    let mut links = Vec::new();
    for h in hierarchies {
        let name = name_of(h.mount_point);
        if cgroupns {
            let data = if h.controllers.iter().all(|c| c.starts_with("name=")) {
                format!("none,{}", h.controllers.join(","))
            } else {
                h.controllers.join(",")
            };
            steps.push(fresh("cgroup", name.clone(), data));
        } else {
            steps.push(bind(h.dir, name.clone()));
        }
        for c in h.controllers {
            if !c.starts_with("name=") && Path::new(c) != name {
                links.push(CgroupMount::Symlink {
                    target: name.display().to_string(),
                    relative: PathBuf::from(c),
                });
            }
        }
    }
    if let Some(u) = unified {
        let name = name_of(u.mount_point);
        steps.push(if cgroupns {
            fresh("cgroup2", name, String::new())
        } else {
            bind(u.dir, name)
        });
    }
    steps.extend(links);
    steps
}

/// The steps for a pure v2 host.
pub fn v2_mounts(unified: &UnifiedSource<'_>, cgroupns: bool) -> Vec<CgroupMount> {
    vec![if cgroupns {
        fresh("cgroup2", PathBuf::new(), String::new())
    } else {
        bind(unified.dir, PathBuf::new())
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn v1_binds_own_dirs_and_links_co_mounted_controllers() {
        let cpu = owned(&["cpu", "cpuacct"]);
        let sd = owned(&["name=systemd"]);
        let mem = owned(&["memory"]);
        let h = [
            V1Source {
                mount_point: Path::new("/sys/fs/cgroup/cpu,cpuacct"),
                controllers: &cpu,
                dir: Path::new("/sys/fs/cgroup/cpu,cpuacct/docker/x"),
            },
            V1Source {
                mount_point: Path::new("/sys/fs/cgroup/systemd"),
                controllers: &sd,
                dir: Path::new("/sys/fs/cgroup/systemd/docker/x"),
            },
            V1Source {
                mount_point: Path::new("/sys/fs/cgroup/memory"),
                controllers: &mem,
                dir: Path::new("/sys/fs/cgroup/memory/docker/x"),
            },
        ];
        let u = UnifiedSource {
            mount_point: Path::new("/sys/fs/cgroup/unified"),
            dir: Path::new("/sys/fs/cgroup/unified/docker/x"),
        };
        let steps = v1_mounts(&h, Some(&u), false);
        assert!(
            matches!(&steps[0], CgroupMount::Mount { fstype, relative, .. }
            if fstype == "tmpfs" && relative.as_os_str().is_empty())
        );
        assert_eq!(steps[1], bind(h[0].dir, "cpu,cpuacct".into()));
        assert_eq!(steps[2], bind(h[1].dir, "systemd".into()));
        assert_eq!(steps[3], bind(h[2].dir, "memory".into()));
        assert_eq!(steps[4], bind(u.dir, "unified".into()));
        assert_eq!(
            &steps[5..],
            [
                CgroupMount::Symlink {
                    target: "cpu,cpuacct".into(),
                    relative: "cpu".into()
                },
                CgroupMount::Symlink {
                    target: "cpu,cpuacct".into(),
                    relative: "cpuacct".into()
                },
            ]
        );

        let ns = v1_mounts(&h, Some(&u), true);
        assert_eq!(
            ns[1],
            fresh("cgroup", "cpu,cpuacct".into(), "cpu,cpuacct".into())
        );
        assert_eq!(
            ns[2],
            fresh("cgroup", "systemd".into(), "none,name=systemd".into())
        );
        assert_eq!(ns[4], fresh("cgroup2", "unified".into(), String::new()));
    }

    #[test]
    fn v2_is_one_mount() {
        let u = UnifiedSource {
            mount_point: Path::new("/sys/fs/cgroup"),
            dir: Path::new("/sys/fs/cgroup/docker/x"),
        };
        assert_eq!(v2_mounts(&u, false), [bind(u.dir, PathBuf::new())]);
        assert_eq!(
            v2_mounts(&u, true),
            [fresh("cgroup2", PathBuf::new(), String::new())]
        );
    }
}
