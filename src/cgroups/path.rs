//! Where the container's cgroup lives in each hierarchy, from `linux.cgroupsPath`.
//!
//! As runc's cgroupfs driver does:
//! - an absolute path (`/docker/<id>`) is taken below each hierarchy's mount point;
//! - a relative path is taken below the runtime's own cgroup (from `/proc/self/cgroup`) in v1
//!   hierarchies, and below the *parent* of its own cgroup in the cgroup2 hierarchy (the own
//!   cgroup holds processes, so it could not delegate controllers to a child);
//! - no path at all means the relative path `<id>`.
//!
//! `..` may not climb above the start, and the systemd form `slice:prefix:name` is refused
//! here: it belongs to the systemd driver (`--systemd-cgroup`, `super::systemd::unit`).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use super::error::CgroupError;
use super::layout::{UnifiedHierarchy, V1Hierarchy};

/// A validated, cleaned `linux.cgroupsPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupsPath {
    /// Below each hierarchy's mount point; stored without the leading `/`.
    Absolute(PathBuf),
    /// Below the runtime's own cgroup.
    Relative(PathBuf),
}

/// Validate and clean `linux.cgroupsPath` (`None` or empty: the container id).
pub fn parse_cgroups_path(path: Option<&str>, id: &str) -> Result<CgroupsPath, CgroupError> {
    let raw = match path {
        Some(p) if !p.is_empty() => p,
        _ => id,
    };
    let invalid = |reason| CgroupError::InvalidPath {
        path: raw.to_string(),
        reason,
    };
    if raw.contains('\0') {
        return Err(invalid("contains a NUL byte"));
    }
    if !raw.starts_with('/') && raw.split(':').count() == 3 {
        return Err(CgroupError::SystemdPathUnsupported {
            path: raw.to_string(),
        });
    }
    let mut clean = PathBuf::new();
    for component in Path::new(raw).components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                if !clean.pop() {
                    return Err(invalid("`..` climbs above the cgroup root"));
                }
            }
            Component::Normal(c) => clean.push(c),
            Component::Prefix(_) => return Err(invalid("not a Unix path")),
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(invalid(
            "names the root cgroup itself, not a cgroup below it",
        ));
    }
    Ok(if raw.starts_with('/') {
        CgroupsPath::Absolute(clean)
    } else {
        CgroupsPath::Relative(clean)
    })
}

/// Whether `dir` is strictly below `mount_point`, by plain components only (no `..` or `.`
/// that could climb back up, and not the hierarchy's root itself).
pub fn strictly_below(mount_point: &Path, dir: &Path) -> bool {
    match dir.strip_prefix(mount_point) {
        Ok(rel) => {
            rel.components().next().is_some()
                && rel.components().all(|c| matches!(c, Component::Normal(_)))
        }
        Err(_) => false,
    }
}

/// Whether a saved directory can be the cgroup that `expected` (the container's
/// `linux.cgroupsPath`, cleaned) names in the hierarchy mounted at `mount_point`: exactly it
/// for an absolute path, a directory ending with it for a relative one (which is taken below
/// the runtime's own cgroup, wherever that was at create).
pub fn fits(mount_point: &Path, dir: &Path, expected: &CgroupsPath) -> bool {
    if !strictly_below(mount_point, dir) {
        return false;
    }
    let rel = dir.strip_prefix(mount_point).unwrap_or(dir);
    match expected {
        CgroupsPath::Absolute(p) => rel == p,
        CgroupsPath::Relative(p) => rel.ends_with(p),
    }
}

/// The runtime's own cgroups, from `/proc/self/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnCgroups {
    /// (set of controllers or `name=...`, path) for each v1 line.
    pub v1: Vec<(BTreeSet<String>, PathBuf)>,
    /// The `0::` line.
    pub unified: Option<PathBuf>,
}

impl OwnCgroups {
    /// Parse the text of `/proc/<pid>/cgroup`.
    pub fn parse(text: &str, file: &Path) -> Result<OwnCgroups, CgroupError> {
        let mut own = OwnCgroups::default();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(CgroupError::Parse {
                    file: file.to_path_buf(),
                    line: line.to_string(),
                });
            };
            if id == "0" && controllers.is_empty() {
                own.unified = Some(PathBuf::from(path));
            } else {
                let set = controllers.split(',').map(str::to_string).collect();
                own.v1.push((set, PathBuf::from(path)));
            }
        }
        Ok(own)
    }

    /// Read `/proc/self/cgroup`.
    pub fn read_self() -> Result<OwnCgroups, CgroupError> {
        let file = Path::new("/proc/self/cgroup");
        OwnCgroups::parse(&super::fsio::read_to_string(file)?, file)
    }

    fn v1_path(&self, hierarchy: &V1Hierarchy) -> Option<&Path> {
        let want: BTreeSet<String> = hierarchy.controllers.iter().cloned().collect();
        self.v1
            .iter()
            .find(|(set, _)| *set == want)
            .map(|(_, p)| p.as_path())
    }
}

/// `mount_point` + (`own` seen from the mount's `root`) + `rel`.
fn below_own(
    mount_point: &Path,
    mount_root: &Path,
    own: Option<&Path>,
    rel: &Path,
    hierarchy: String,
) -> Result<PathBuf, CgroupError> {
    let unknown = || CgroupError::OwnCgroupUnknown {
        hierarchy: hierarchy.clone(),
        mount_root: mount_root.to_path_buf(),
    };
    let own = own.ok_or_else(unknown)?;
    let inside = own.strip_prefix(mount_root).map_err(|_| unknown())?;
    Ok(mount_point.join(inside).join(rel))
}

/// The container's directory in a v1 hierarchy.
pub fn v1_dir(
    hierarchy: &V1Hierarchy,
    path: &CgroupsPath,
    own: &OwnCgroups,
) -> Result<PathBuf, CgroupError> {
    match path {
        CgroupsPath::Absolute(p) => Ok(hierarchy.mount_point.join(p)),
        CgroupsPath::Relative(p) => below_own(
            &hierarchy.mount_point,
            &hierarchy.root,
            own.v1_path(hierarchy),
            p,
            hierarchy.key(),
        ),
    }
}

/// The container's directory in the cgroup2 hierarchy.
pub fn unified_dir(
    unified: &UnifiedHierarchy,
    path: &CgroupsPath,
    own: &OwnCgroups,
) -> Result<PathBuf, CgroupError> {
    match path {
        CgroupsPath::Absolute(p) => Ok(unified.mount_point.join(p)),
        CgroupsPath::Relative(p) => {
            let parent = own
                .unified
                .as_deref()
                .map(|o| o.parent().unwrap_or(o).to_path_buf());
            below_own(
                &unified.mount_point,
                &unified.root,
                parent.as_deref(),
                p,
                "cgroup2".to_string(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hierarchy(mount: &str, root: &str, controllers: &[&str]) -> V1Hierarchy {
        V1Hierarchy {
            mount_point: mount.into(),
            root: root.into(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
        }
    }

    const OWN: &str = "9:name=systemd:/\n4:memory:/process_api/c8ea\n2:cpu,cpuacct:/\n0::/user.slice/session-1.scope\n";

    fn own() -> OwnCgroups {
        OwnCgroups::parse(OWN, Path::new("cgroup")).unwrap()
    }

    #[test]
    fn saved_dirs_must_fit_the_configured_path() {
        let mp = Path::new("/sys/fs/cgroup/memory");
        let abs = CgroupsPath::Absolute(PathBuf::from("docker/abc"));
        let rel = CgroupsPath::Relative(PathBuf::from("abc"));
        assert!(fits(
            mp,
            Path::new("/sys/fs/cgroup/memory/docker/abc"),
            &abs
        ));
        assert!(fits(
            mp,
            Path::new("/sys/fs/cgroup/memory/user.slice/abc"),
            &rel
        ));
        for bad in [
            "/sys/fs/cgroup/memory",
            "/sys/fs/cgroup/memory/",
            "/sys/fs/cgroup/memory/docker/abc/..",
            "/sys/fs/cgroup/memory/docker/../docker/abc",
            "/sys/fs/cgroup/memory/other",
            "/sys/fs/cgroup/memory/docker/abc/sub",
            "/sys/fs/cgroup/cpu/docker/abc",
            "/etc",
        ] {
            assert!(!fits(mp, Path::new(bad), &abs), "{bad}");
        }
        assert!(!fits(mp, Path::new("/sys/fs/cgroup/memory/x/../abc"), &rel));
        assert!(!fits(mp, Path::new("/sys/fs/cgroup/memory/abcd"), &rel));
    }

    #[test]
    fn paths_are_cleaned_and_classified() {
        assert_eq!(
            parse_cgroups_path(Some("/docker/abc"), "x").unwrap(),
            CgroupsPath::Absolute("docker/abc".into())
        );
        assert_eq!(
            parse_cgroups_path(Some("/libpod_parent//./libpod-1/"), "x").unwrap(),
            CgroupsPath::Absolute("libpod_parent/libpod-1".into())
        );
        assert_eq!(
            parse_cgroups_path(Some("a/../b"), "x").unwrap(),
            CgroupsPath::Relative("b".into())
        );
        assert_eq!(
            parse_cgroups_path(None, "myid").unwrap(),
            CgroupsPath::Relative("myid".into())
        );
        assert_eq!(
            parse_cgroups_path(Some(""), "myid").unwrap(),
            CgroupsPath::Relative("myid".into())
        );
    }

    #[test]
    fn escaping_root_and_systemd_paths_are_refused() {
        for bad in ["/../etc", "a/../../b", "..", "/", "/a/..", "a\0b"] {
            assert!(
                matches!(
                    parse_cgroups_path(Some(bad), "x"),
                    Err(CgroupError::InvalidPath { .. })
                ),
                "{bad:?} must be refused"
            );
        }
        assert!(matches!(
            parse_cgroups_path(Some("system.slice:docker:abc"), "x"),
            Err(CgroupError::SystemdPathUnsupported { .. })
        ));
        // An absolute path with colons is a plain cgroupfs path.
        assert!(parse_cgroups_path(Some("/a:b:c"), "x").is_ok());
    }

    #[test]
    fn absolute_paths_go_below_each_mount_point() {
        let h = hierarchy("/sys/fs/cgroup/memory", "/", &["memory"]);
        let p = parse_cgroups_path(Some("/docker/abc"), "x").unwrap();
        assert_eq!(
            v1_dir(&h, &p, &own()).unwrap(),
            Path::new("/sys/fs/cgroup/memory/docker/abc")
        );
    }

    #[test]
    fn relative_paths_go_below_own_cgroup_in_v1() {
        let p = parse_cgroups_path(None, "c1").unwrap();
        let mem = hierarchy("/sys/fs/cgroup/memory", "/", &["memory"]);
        assert_eq!(
            v1_dir(&mem, &p, &own()).unwrap(),
            Path::new("/sys/fs/cgroup/memory/process_api/c8ea/c1")
        );
        // Co-mounted controllers match whatever order /proc/self/cgroup lists them in.
        let cpu = hierarchy("/sys/fs/cgroup/cpu,cpuacct", "/", &["cpuacct", "cpu"]);
        assert_eq!(
            v1_dir(&cpu, &p, &own()).unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/c1")
        );
        let named = hierarchy("/sys/fs/cgroup/systemd", "/", &["name=systemd"]);
        assert_eq!(
            v1_dir(&named, &p, &own()).unwrap(),
            Path::new("/sys/fs/cgroup/systemd/c1")
        );
        // A mount whose root is a sub-cgroup: the own path is seen from that root.
        let nested = hierarchy("/sys/fs/cgroup/memory", "/process_api", &["memory"]);
        assert_eq!(
            v1_dir(&nested, &p, &own()).unwrap(),
            Path::new("/sys/fs/cgroup/memory/c8ea/c1")
        );
        let unknown = hierarchy("/sys/fs/cgroup/pids", "/", &["pids"]);
        assert!(matches!(
            v1_dir(&unknown, &p, &own()),
            Err(CgroupError::OwnCgroupUnknown { .. })
        ));
    }

    #[test]
    fn relative_paths_go_below_parent_of_own_cgroup_in_v2() {
        let u = UnifiedHierarchy {
            mount_point: "/sys/fs/cgroup".into(),
            root: "/".into(),
            controllers: vec![],
        };
        let p = parse_cgroups_path(Some("ctr/c1"), "x").unwrap();
        assert_eq!(
            unified_dir(&u, &p, &own()).unwrap(),
            Path::new("/sys/fs/cgroup/user.slice/ctr/c1")
        );
        let at_root = OwnCgroups::parse("0::/\n", Path::new("cgroup")).unwrap();
        assert_eq!(
            unified_dir(&u, &p, &at_root).unwrap(),
            Path::new("/sys/fs/cgroup/ctr/c1")
        );
        let abs = parse_cgroups_path(Some("/docker/x"), "x").unwrap();
        assert_eq!(
            unified_dir(&u, &abs, &own()).unwrap(),
            Path::new("/sys/fs/cgroup/docker/x")
        );
    }
}
