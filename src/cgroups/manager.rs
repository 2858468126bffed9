//! The cgroupfs manager: the container's directory in every hierarchy of the host (each v1
//! hierarchy and/or the cgroup2 one), and the [`Manager`] operations on them.
//!
//! On a hybrid host the cgroup2 part is optional, as for runc: when its directory cannot be
//! made (a read-only mount, no permission, no space), `create` warns and the container goes
//! on without it, unless `apply` is then asked for something only cgroup2 has here (hugetlb on
//! the development host, `linux.resources.unified`), which fails naming the field and the
//! cause. [`Manager::paths`] then has no `""` key, so later commands do not look for it.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::error::CgroupError;
use super::layout::{parse_words, Layout, V1Hierarchy};
use super::mounts::{self, CgroupMount, UnifiedSource, V1Source};
use super::path::{self, CgroupsPath, OwnCgroups};
use super::plan::{self, Placement, Probe, Version};
use super::stats::{self, Stats, StatsReader};
use super::{devices_bpf, freezer, fsio, Manager};

/// The key of the cgroup2 directory in [`Manager::paths`] (runc's key for it too).
pub const UNIFIED_KEY: &str = "";

#[derive(Debug, Clone)]
struct V1Dir {
    hierarchy: V1Hierarchy,
    dir: PathBuf,
}

/// A container's cgroup on a cgroupfs host (v1, hybrid or v2).
#[derive(Debug, Clone)]
pub struct FsManager {
    v1: Vec<V1Dir>,
    /// (mount point, container dir) in the cgroup2 hierarchy.
    unified: Option<(PathBuf, PathBuf)>,
    /// The host is pure v2 (no v1 hierarchy at all).
    pure_v2: bool,
    placement: Placement,
    /// Hybrid only: why the cgroup2 directory could not be made (`create` went on without it).
    unified_unusable: OnceCell<String>,
}

impl FsManager {
    /// The manager for `path` on `layout`; reads /proc/self/cgroup only for a relative path.
    pub fn new(layout: &Layout, path: &CgroupsPath) -> Result<FsManager, CgroupError> {
        let own = match path {
            CgroupsPath::Relative(_) => OwnCgroups::read_self()?,
            CgroupsPath::Absolute(_) => OwnCgroups::default(),
        };
        Self::with_own(layout, path, &own)
    }

    /// As [`FsManager::new`], with the runtime's own cgroups given.
    pub fn with_own(
        layout: &Layout,
        path: &CgroupsPath,
        own: &OwnCgroups,
    ) -> Result<FsManager, CgroupError> {
        let v1 = layout
            .v1_hierarchies()
            .iter()
            .map(|h| {
                Ok(V1Dir {
                    hierarchy: h.clone(),
                    dir: path::v1_dir(h, path, own)?,
                })
            })
            .collect::<Result<Vec<_>, CgroupError>>()?;
        let unified = match layout.unified() {
            Some(u) => Some((u.mount_point.clone(), path::unified_dir(u, path, own)?)),
            None => None,
        };
        Ok(FsManager {
            v1,
            unified,
            pure_v2: matches!(layout, Layout::V2 { .. }),
            placement: placement(layout),
            unified_unusable: OnceCell::new(),
        })
    }

    /// The manager of an existing container from the paths saved by [`Manager::paths`].
    pub fn from_paths(
        layout: &Layout,
        paths: &BTreeMap<String, PathBuf>,
    ) -> Result<FsManager, CgroupError> {
        let mismatch = |key: &str, dir: &Path| CgroupError::SavedPathMismatch {
            key: key.to_string(),
            path: dir.to_path_buf(),
        };
        let mut v1: Vec<V1Dir> = Vec::new();
        let mut unified = None;
        for (key, dir) in paths {
            if key == UNIFIED_KEY {
                let u = layout.unified().ok_or_else(|| mismatch(key, dir))?;
                if !path::strictly_below(&u.mount_point, dir) {
                    return Err(mismatch(key, dir));
                }
                unified = Some((u.mount_point.clone(), dir.clone()));
                continue;
            }
            let h = layout
                .v1_hierarchies()
                .iter()
                .find(|h| h.controllers.iter().any(|c| c == key))
                .ok_or_else(|| mismatch(key, dir))?;
            if !path::strictly_below(&h.mount_point, dir) {
                return Err(mismatch(key, dir));
            }
            match v1.iter().find(|d| d.hierarchy == *h) {
                Some(existing) if existing.dir != *dir => return Err(mismatch(key, dir)),
                Some(_) => {}
                None => v1.push(V1Dir {
                    hierarchy: h.clone(),
                    dir: dir.clone(),
                }),
            }
        }
        let mut placement = placement(layout);
        placement
            .v1
            .retain(|c| v1.iter().any(|d| d.hierarchy.controllers.contains(c)));
        if unified.is_none() {
            placement.v2.clear();
            placement.has_unified = false;
        }
        Ok(FsManager {
            v1,
            unified,
            pure_v2: matches!(layout, Layout::V2 { .. }),
            placement,
            unified_unusable: OnceCell::new(),
        })
    }

    /// Check that every directory is the one `expected` (the container's cgroupsPath) names
    /// and, while the container's init lives, that it is in there: a state file naming some
    /// other cgroup (`..`, the hierarchy root, a sibling) must never get its processes killed.
    pub fn check_owned(
        &self,
        expected: &CgroupsPath,
        init_pid: Option<i32>,
    ) -> Result<(), CgroupError> {
        let dirs = self
            .v1
            .iter()
            .map(|d| (&d.hierarchy.mount_point, &d.dir))
            .chain(self.unified().map(|(m, d)| (m, d)));
        for (mount_point, dir) in dirs {
            if !path::fits(mount_point, dir, expected) {
                return Err(CgroupError::NotTheContainers {
                    path: dir.clone(),
                    reason: "it is not the cgroup the container's linux.cgroupsPath names",
                });
            }
        }
        if let (Some(pid), Some(dir)) = (init_pid, self.procs_dir()) {
            let mut pids = Vec::new();
            fsio::procs_recursive(dir, &mut pids)?;
            if !pids.contains(&pid) {
                return Err(CgroupError::NotTheContainers {
                    path: dir.to_path_buf(),
                    reason: "the container's init is not in it",
                });
            }
        }
        Ok(())
    }

    /// (mount point, container dir) in the cgroup2 hierarchy, unless `create` left it out.
    fn unified(&self) -> Option<&(PathBuf, PathBuf)> {
        match self.unified_unusable.get() {
            Some(_) => None,
            None => self.unified.as_ref(),
        }
    }

    /// Which controllers are handled where: without the cgroup2 directory, nowhere there.
    fn effective_placement(&self) -> Placement {
        let mut placement = self.placement.clone();
        if self.unified().is_none() {
            placement.v2.clear();
            placement.has_unified = false;
        }
        placement
    }

    /// A planning error for lack of the cgroup2 hierarchy, when `create` left it out, told as
    /// such: the field needs the hierarchy that could not be used, and why.
    fn explain_unusable(&self, e: CgroupError) -> CgroupError {
        let (Some(cause), Some((mount_point, _))) = (self.unified_unusable.get(), &self.unified)
        else {
            return e;
        };
        let field = match &e {
            CgroupError::ControllerMissing { field, controller }
                if self.placement.v2.contains(controller) =>
            {
                field.clone()
            }
            CgroupError::Unsupported { field, .. } if field == "linux.resources.unified" => {
                field.clone()
            }
            _ => return e,
        };
        CgroupError::UnifiedUnusable {
            field,
            mount_point: mount_point.clone(),
            cause: cause.clone(),
        }
    }

    /// The container's directory that holds `controller`'s files (`""`: the cgroup2 one).
    fn dir_for(&self, controller: &str) -> Option<&Path> {
        if controller == UNIFIED_KEY {
            return self.unified().map(|(_, d)| d.as_path());
        }
        if let Some(d) = self
            .v1
            .iter()
            .find(|d| d.hierarchy.controllers.iter().any(|c| c == controller))
        {
            return Some(&d.dir);
        }
        if self.placement.v2.contains(controller) {
            return self.unified().map(|(_, d)| d.as_path());
        }
        None
    }

    fn all_dirs(&self) -> impl Iterator<Item = &Path> {
        self.v1
            .iter()
            .map(|d| d.dir.as_path())
            .chain(self.unified().map(|(_, d)| d.as_path()))
    }

    fn freezer(&self) -> Result<(Version, &Path), CgroupError> {
        if let Some(d) = self.dir_for("freezer") {
            return Ok((Version::V1, d));
        }
        match self.unified() {
            Some((_, d)) => Ok((Version::V2, d)),
            None => Err(CgroupError::missing("freeze", "freezer")),
        }
    }

    /// A new v1 cpuset cgroup starts with empty cpus/mems, which no task may join: give every
    /// empty level from the mount point down its parent's values (a directory just created is
    /// known to be empty, so only pre-existing ones are read).
    fn fill_cpuset(mount_point: &Path, dir: &Path, created: &[PathBuf]) -> Result<(), CgroupError> {
        let Ok(rel) = dir.strip_prefix(mount_point) else {
            return Ok(());
        };
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mut current = mount_point.to_path_buf();
            let mut inherited: Option<String> = None;
            for component in rel.components() {
                current.push(component);
                let own = if created.contains(&current) {
                    String::new()
                } else {
                    fsio::read_to_string(&current.join(file))?
                        .trim()
                        .to_string()
                };
                if !own.is_empty() {
                    inherited = Some(own);
                    continue;
                }
                let value = match inherited.take() {
                    Some(v) => v,
                    None => {
                        let parent = current.parent().unwrap_or(mount_point);
                        fsio::read_to_string(&parent.join(file))?.trim().to_string()
                    }
                };
                fsio::write(&current.join(file), &value)?;
                inherited = Some(value);
            }
        }
        Ok(())
    }

    /// Delegate every available controller down the cgroup2 path, from the mount point to the
    /// container's parent (the container's own directory stays a leaf). Failures are left to
    /// apply(), which names the controller that is missing.
    fn enable_controllers(mount_point: &Path, dir: &Path) -> Result<(), CgroupError> {
        let Ok(rel) = dir.strip_prefix(mount_point) else {
            return Ok(());
        };
        let mut current = mount_point.to_path_buf();
        for component in rel.components() {
            let available =
                parse_words(&fsio::read_to_string(&current.join("cgroup.controllers"))?);
            let control = current.join("cgroup.subtree_control");
            let enabled: BTreeSet<String> = parse_words(&fsio::read_to_string(&control)?)
                .into_iter()
                .collect();
            let missing: Vec<String> = available
                .into_iter()
                .filter(|c| !enabled.contains(c))
                .map(|c| format!("+{c}"))
                .collect();
            if !missing.is_empty() && fsio::write(&control, &missing.join(" ")).is_err() {
                for one in &missing {
                    let _ = fsio::write(&control, one);
                }
            }
            current.push(component);
        }
        Ok(())
    }

    /// The directory whose cgroup.procs lists every process of the container.
    fn procs_dir(&self) -> Option<&Path> {
        if let Some((_, d)) = self.unified() {
            return Some(d);
        }
        ["pids", "freezer", "memory", "cpu", "devices"]
            .iter()
            .find_map(|c| self.dir_for(c))
            .or_else(|| self.v1.first().map(|d| d.dir.as_path()))
    }
}

impl FsManager {
    /// `create`'s work; `made` collects the directories made, for the undo of a failure.
    fn create_dirs(
        &self,
        made: &mut Vec<PathBuf>,
        log: &dyn crate::log::Log,
    ) -> Result<(), CgroupError> {
        for d in &self.v1 {
            let created = fsio::mkdir_below(&d.hierarchy.mount_point, &d.dir)?;
            made.extend(created.iter().cloned());
            if d.hierarchy.controllers.iter().any(|c| c == "cpuset") {
                Self::fill_cpuset(&d.hierarchy.mount_point, &d.dir, &created)?;
            }
        }
        if let Some((mount_point, dir)) = &self.unified {
            let hybrid = !self.pure_v2 && !self.v1.is_empty();
            match fsio::mkdir_below(mount_point, dir) {
                Ok(created) => made.extend(created),
                Err(e) if hybrid && unified_is_optional(e.errno()) => {
                    log.warn(&self.going_on_without_unified(&e));
                    let _ = self.unified_unusable.set(e.to_string());
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
            Self::enable_controllers(mount_point, dir)?;
        }
        Ok(())
    }

    fn going_on_without_unified(&self, e: &CgroupError) -> String {
        let only_there: Vec<&str> = self
            .placement
            .v2
            .iter()
            .filter(|c| !self.placement.v1.contains(*c))
            .map(String::as_str)
            .collect();
        let needs = match only_there.as_slice() {
            [] => "linux.resources.unified".to_string(),
            list => format!("{} limits and linux.resources.unified", list.join(", ")),
        };
        format!("{e}: going on without the container's cgroup2 directory (only {needs} need it on this host)")
    }
}

/// On a hybrid host, a cgroup2 directory that cannot be made for one of these reasons (the
/// hierarchy read-only, no permission, no space) is left out rather than failing the container.
fn unified_is_optional(errno: Option<i32>) -> bool {
    matches!(
        errno,
        Some(libc::EROFS | libc::EACCES | libc::EPERM | libc::ENOSPC)
    )
}

/// v1 refuses a memory limit below what it cannot reclaim with EBUSY: say so as runc does.
fn below_usage(e: CgroupError, dir: &Path, file: &str) -> CgroupError {
    let limit = match &e {
        CgroupError::Write { value, source, .. }
            if file == "memory.limit_in_bytes" && source.raw_os_error() == Some(libc::EBUSY) =>
        {
            value.trim().parse::<i64>().ok()
        }
        _ => None,
    };
    let read = |f: &str| {
        fsio::read_optional(&dir.join(f))
            .ok()
            .flatten()
            .and_then(|s| stats::parse_value(&s))
    };
    match (limit, read("memory.usage_in_bytes")) {
        (Some(limit), Some(usage)) => CgroupError::MemoryBelowUsage {
            limit,
            usage,
            peak: read("memory.max_usage_in_bytes").unwrap_or(0),
        },
        _ => e,
    }
}

/// Which controllers the layout handles on which version.
fn placement(layout: &Layout) -> Placement {
    Placement {
        v1: layout
            .v1_hierarchies()
            .iter()
            .flat_map(|h| h.controllers.iter().cloned())
            .collect(),
        v2: layout
            .unified()
            .map(|u| u.controllers.iter().cloned().collect())
            .unwrap_or_default(),
        has_unified: layout.unified().is_some(),
    }
}

impl Probe for FsManager {
    fn exists(&self, controller: &str, file: &str) -> bool {
        self.dir_for(controller)
            .is_some_and(|d| d.join(file).exists())
    }

    fn read(&self, controller: &str, file: &str) -> Option<String> {
        let dir = self.dir_for(controller)?;
        fsio::read_optional(&dir.join(file)).ok().flatten()
    }
}

impl Manager for FsManager {
    fn create(&self, log: &dyn crate::log::Log) -> Result<(), CgroupError> {
        let mut made = Vec::new();
        let result = self.create_dirs(&mut made, log);
        if result.is_err() {
            // Nothing half-made is left behind: the caller has no manager to destroy yet.
            for dir in made.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        result
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        let pid = pid.to_string();
        for dir in self.all_dirs() {
            fsio::write(&dir.join("cgroup.procs"), &pid)?;
        }
        Ok(())
    }

    fn apply(
        &self,
        resources: &LinuxResources,
        log: &dyn crate::log::Log,
    ) -> Result<(), CgroupError> {
        let plan = plan::plan(resources, &self.effective_placement(), self)
            .map_err(|e| self.explain_unusable(e))?;
        for warning in &plan.warnings {
            log.warn(warning);
        }
        let mut writer = fsio::Writer::default();
        for w in &plan.writes {
            let dir = self
                .dir_for(&w.controller)
                .ok_or_else(|| CgroupError::missing(&w.file, &w.controller))?;
            match writer.write(&dir.join(&w.file), &w.value) {
                Ok(()) => {}
                Err(e) => match plan::refused_device_weight(w, e.errno()) {
                    Some(warning) => log.warn(&warning),
                    None => return Err(below_usage(e, dir, &w.file)),
                },
            }
        }
        if let Some(state) = &plan.device_program {
            let dir = self
                .dir_for(UNIFIED_KEY)
                .ok_or_else(|| CgroupError::missing("linux.resources.devices", "devices"))?;
            devices_bpf::install(dir, state)?;
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut pids = Vec::new();
        if let Some(dir) = self.procs_dir() {
            fsio::procs_recursive(dir, &mut pids)?;
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        match self.freezer()? {
            (Version::V1, d) => freezer::v1_set(d, true),
            (Version::V2, d) => freezer::v2_set(d, true),
        }
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        match self.freezer()? {
            (Version::V1, d) => freezer::v1_set(d, false),
            (Version::V2, d) => freezer::v2_set(d, false),
        }
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.freezer()? {
            (Version::V1, d) => freezer::v1_is_frozen(d),
            (Version::V2, d) => freezer::v2_is_frozen(d),
        }
    }

    fn signal_all(&self, signal: Signal) -> Result<(), CgroupError> {
        if signal == Signal::SIGKILL {
            if let Some((_, dir)) = self.unified() {
                let kill_file = dir.join("cgroup.kill");
                if kill_file.exists() {
                    fsio::write(&kill_file, "1")?;
                    // A v1 freezer holds the killed tasks until thawed.
                    if self.is_frozen().unwrap_or(false) {
                        self.thaw()?;
                    }
                    return Ok(());
                }
            }
        }
        // Freeze so that no process forks a child between the listing and the signals.
        let was_frozen = self.is_frozen().unwrap_or(false);
        let froze = !was_frozen && self.freeze().is_ok();
        let mut result = Ok(());
        for pid in self.pids()? {
            match kill(Pid::from_raw(pid), signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => {
                    result = Err(CgroupError::Syscall {
                        syscall: "kill",
                        what: format!("pid {pid} with {signal}"),
                        source: e.into(),
                    })
                }
            }
        }
        // A frozen task does not act on SIGKILL until thawed.
        if froze || (was_frozen && signal == Signal::SIGKILL) {
            self.thaw()?;
        }
        result
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        let mut first_error = None;
        for dir in self.all_dirs() {
            if let Err(e) = fsio::remove_cgroup_tree(dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let placement = self.effective_placement();
        let locate = |controller: &str| {
            let version = match controller {
                UNIFIED_KEY => Version::V2,
                _ => placement.of(controller)?,
            };
            Some((version, self.dir_for(controller)?.to_path_buf()))
        };
        StatsReader { locate: &locate }.collect()
    }

    fn oom_kill_count(&self) -> Result<Option<u64>, CgroupError> {
        let (Some(version), Some(dir)) = (self.placement.of("memory"), self.dir_for("memory"))
        else {
            return Ok(None);
        };
        let keyed = |file: &str, key: &str| -> Result<Option<u64>, CgroupError> {
            Ok(fsio::read_optional(&dir.join(file))?
                .and_then(|text| stats::parse_keyed(&text).get(key).copied()))
        };
        match version {
            Version::V2 => keyed("memory.events", "oom_kill"),
            Version::V1 => match keyed("memory.oom_control", "oom_kill")? {
                Some(n) => Ok(Some(n)),
                // Before Linux 4.13 there is no count of kills: that the limit was hit is the
                // closest sign.
                None => Ok(fsio::read_optional(&dir.join("memory.failcnt"))?
                    .and_then(|text| stats::parse_value(&text))),
            },
        }
    }

    fn mounts(&self, cgroupns: bool) -> Vec<CgroupMount> {
        let unified = self.unified().map(|(m, d)| UnifiedSource {
            mount_point: m,
            dir: d,
        });
        if self.pure_v2 {
            return unified
                .map(|u| mounts::v2_mounts(&u, cgroupns))
                .unwrap_or_default();
        }
        let v1: Vec<V1Source<'_>> = self
            .v1
            .iter()
            .map(|d| V1Source {
                mount_point: &d.hierarchy.mount_point,
                controllers: &d.hierarchy.controllers,
                dir: &d.dir,
            })
            .collect();
        mounts::v1_mounts(&v1, unified.as_ref(), cgroupns)
    }

    fn paths(&self) -> BTreeMap<String, PathBuf> {
        let mut paths = BTreeMap::new();
        for d in &self.v1 {
            for c in &d.hierarchy.controllers {
                paths.insert(c.clone(), d.dir.clone());
            }
        }
        if let Some((_, dir)) = self.unified() {
            paths.insert(UNIFIED_KEY.to_string(), dir.clone());
        }
        paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::layout::UnifiedHierarchy;

    fn hybrid_layout() -> Layout {
        let h = |m: &str, c: &[&str]| V1Hierarchy {
            mount_point: m.into(),
            root: "/".into(),
            controllers: c.iter().map(|s| s.to_string()).collect(),
        };
        Layout::Hybrid {
            hierarchies: vec![
                h("/sys/fs/cgroup/cpu,cpuacct", &["cpu", "cpuacct"]),
                h("/sys/fs/cgroup/memory", &["memory"]),
                h("/sys/fs/cgroup/systemd", &["name=systemd"]),
            ],
            unified: UnifiedHierarchy {
                mount_point: "/sys/fs/cgroup/unified".into(),
                root: "/".into(),
                controllers: vec!["hugetlb".into()],
            },
        }
    }

    #[test]
    fn paths_cover_every_controller_and_round_trip() {
        let layout = hybrid_layout();
        let p = path::parse_cgroups_path(Some("/docker/abc"), "abc").unwrap();
        let m = FsManager::with_own(&layout, &p, &OwnCgroups::default()).unwrap();
        let paths = m.paths();
        assert_eq!(
            paths.keys().map(String::as_str).collect::<Vec<_>>(),
            ["", "cpu", "cpuacct", "memory", "name=systemd"]
        );
        assert_eq!(
            paths["cpuacct"],
            Path::new("/sys/fs/cgroup/cpu,cpuacct/docker/abc")
        );
        assert_eq!(paths[""], Path::new("/sys/fs/cgroup/unified/docker/abc"));
        let again = FsManager::from_paths(&layout, &paths).unwrap();
        assert_eq!(again.paths(), paths);
        assert_eq!(
            again.dir_for("hugetlb"),
            Some(Path::new("/sys/fs/cgroup/unified/docker/abc"))
        );
    }

    #[test]
    fn saved_paths_outside_the_hierarchy_are_refused() {
        let layout = hybrid_layout();
        let mut paths = BTreeMap::new();
        paths.insert("memory".to_string(), PathBuf::from("/etc"));
        assert!(matches!(
            FsManager::from_paths(&layout, &paths),
            Err(CgroupError::SavedPathMismatch { .. })
        ));
        for bad in ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/x/../.."] {
            let mut paths = BTreeMap::new();
            paths.insert("memory".to_string(), PathBuf::from(bad));
            assert!(FsManager::from_paths(&layout, &paths).is_err(), "{bad}");
        }
        let mut paths = BTreeMap::new();
        paths.insert(
            "memory".to_string(),
            PathBuf::from("/sys/fs/cgroup/memory/other"),
        );
        let m = FsManager::from_paths(&layout, &paths).unwrap();
        let expected = CgroupsPath::Absolute(PathBuf::from("docker/abc"));
        assert!(matches!(
            m.check_owned(&expected, None),
            Err(CgroupError::NotTheContainers { .. })
        ));
        let mut paths = BTreeMap::new();
        paths.insert(
            "cpu".to_string(),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/a"),
        );
        paths.insert(
            "cpuacct".to_string(),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/b"),
        );
        assert!(FsManager::from_paths(&layout, &paths).is_err());
    }

    #[test]
    fn only_a_not_writable_cgroup2_hierarchy_is_optional() {
        for errno in [libc::EROFS, libc::EACCES, libc::EPERM, libc::ENOSPC] {
            assert!(unified_is_optional(Some(errno)), "{errno}");
        }
        for errno in [None, Some(libc::ENOENT), Some(libc::EIO), Some(libc::EBUSY)] {
            assert!(!unified_is_optional(errno), "{errno:?}");
        }
    }

    #[test]
    fn without_its_cgroup2_directory_a_hybrid_container_refuses_what_only_cgroup2_has() {
        let layout = hybrid_layout();
        let p = path::parse_cgroups_path(Some("/docker/abc"), "abc").unwrap();
        let m = FsManager::with_own(&layout, &p, &OwnCgroups::default()).unwrap();
        let cause = "mkdir /sys/fs/cgroup/unified/docker: Read-only file system (os error 30)";
        m.unified_unusable.set(cause.to_string()).unwrap();
        assert_eq!(
            m.paths().keys().map(String::as_str).collect::<Vec<_>>(),
            ["cpu", "cpuacct", "memory", "name=systemd"]
        );
        assert_eq!(m.dir_for("hugetlb"), None);
        assert_eq!(
            m.procs_dir(),
            Some(Path::new("/sys/fs/cgroup/memory/docker/abc"))
        );
        assert!(m
            .mounts(false)
            .iter()
            .all(|s| !format!("{s:?}").contains("unified")));
        let plan = |json: &str| {
            let res: LinuxResources = serde_json::from_str(json).unwrap();
            plan::plan(&res, &m.effective_placement(), &m).map_err(|e| m.explain_unusable(e))
        };
        let memory = plan(r#"{"memory":{"limit":1048576}}"#).unwrap();
        assert_eq!(memory.writes.len(), 1);
        for (json, field) in [
            (
                r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1048576}]}"#,
                "linux.resources.hugepageLimits",
            ),
            (
                r#"{"unified":{"hugetlb.2MB.max":"1048576"}}"#,
                "linux.resources.unified",
            ),
            (
                r#"{"unified":{"cgroup.max.depth":"3"}}"#,
                "linux.resources.unified",
            ),
        ] {
            let err = plan(json).unwrap_err();
            assert!(
                matches!(&err, CgroupError::UnifiedUnusable { field: f, .. } if f == field),
                "{json}: {err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "{field} needs the cgroup2 hierarchy /sys/fs/cgroup/unified, which cannot \
                     be used here: {cause}"
                )
            );
        }
        // Errors that have nothing to do with cgroup2 are left as they are.
        let err = plan(r#"{"rdma":{"mlx":{"hcaHandles":1}}}"#).unwrap_err();
        assert!(
            matches!(err, CgroupError::ControllerMissing { .. }),
            "{err:?}"
        );
    }
}
