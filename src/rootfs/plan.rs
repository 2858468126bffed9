//! The rootfs setup as a pure plan: the ordered list of mount, device, mask and read-only
//! operations config.json asks for, computed with no system call (unit-tested without root).
//! [`super::prepare`], [`super::pivot`] and [`super::finalize`] apply it inside the
//! container's mount namespace, every path through the in-root resolver.
//!
//! What the plan refuses (an option rrun cannot honour, a bind without a source, a device of
//! an unknown type) fails `create` before the first mount.

use super::devices::{self, DeviceNode};
use super::idmap::{self, ContainerUserns, Idmap};
use super::mount_options::{self, MountOptions};
use super::RootfsError;
use nix::mount::MsFlags;
use oci_spec::runtime::{Mount, Spec};
use std::path::{Path, PathBuf};

/// What kind of mount one config.json entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// The container's cgroup hierarchies (a `cgroup` entry that is not a bind): the cgroup
    /// manager's mount steps go below the destination.
    Cgroup,
    /// A bind of a host path (a relative source is the bundle's); with `idmap`, an id-mapped
    /// one (uidMappings/gidMappings, `idmap`, `ridmap`), made by the parent (idmap.rs).
    Bind {
        source: PathBuf,
        idmap: Option<Idmap>,
    },
    /// A file system. `proc` and `sysfs` must land on an ordinary directory (masks and
    /// sysctls act on them later).
    Fs { fstype: String, source: String },
}

/// One config.json mount, planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountStep {
    /// Destination inside the rootfs.
    pub dest: PathBuf,
    pub kind: MountKind,
    pub opts: MountOptions,
    /// The source as errors name it (runc's `error mounting "SRC" to rootfs at "DEST"`).
    pub shown_source: String,
}

/// An operation before pivot_root, on the new root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Mount(MountStep),
    /// A device node: the defaults (which replace what the image has) or linux.devices.
    Device {
        node: DeviceNode,
        default: bool,
    },
    /// /dev/fd, /dev/stdin, ... and /dev/ptmx -> pts/ptmx.
    DeviceSymlinks,
}

/// An operation after pivot_root (and after the sysctls), on `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalOp {
    /// Hide a path (linux.maskedPaths).
    Mask(PathBuf),
    /// Make a path read-only (linux.readonlyPaths).
    ReadonlyPath(PathBuf),
    /// root.readonly: the whole root, last.
    RootReadonly,
}

/// The whole setup, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// linux.rootfsPropagation (rslave by default): set on `/` before anything is mounted;
    /// shared and unbindable again on the new root after pivot_root.
    pub propagation: MsFlags,
    /// Before pivot_root: mounts in config order, then the devices.
    pub before_pivot: Vec<Op>,
    /// After pivot_root (and after the sysctls): masks, read-only paths, the read-only root.
    pub after_pivot: Vec<FinalOp>,
}

/// The host path of a bind's source: a relative one is the bundle's.
fn source_path(bundle: &Path, m: &Mount) -> Option<PathBuf> {
    let s = m.source().as_ref()?;
    Some(if s.is_relative() {
        bundle.join(s)
    } else {
        s.clone()
    })
}

/// Plan one config.json mount; `userns` is the container's user namespace, whose mappings an
/// `idmap` without mappings of its own takes.
pub fn mount_step(
    bundle: &Path,
    m: &Mount,
    userns: &ContainerUserns,
) -> Result<MountStep, RootfsError> {
    let typ = m.typ().as_deref();
    let opts = mount_options::parse(typ, m.options().as_deref().unwrap_or(&[]));
    let dest = m.destination().clone();
    let bind_source = opts.bind.then(|| source_path(bundle, m)).flatten();
    let shown_source = bind_source
        .clone()
        .or_else(|| m.source().clone())
        .map(|s| s.to_string_lossy().into_owned())
        .or_else(|| m.typ().clone())
        .unwrap_or_else(|| "none".to_string());
    let refuse = |e: RootfsError| e.in_mount(shown_source.clone(), &dest);
    if opts.tmpcopyup {
        return Err(refuse(RootfsError::Unsupported {
            what: format!("mount option tmpcopyup (mount at {})", dest.display()),
        }));
    }
    let idmap = idmap::plan(m, &opts, userns).map_err(|e| refuse(e.into()))?;
    // A bind takes no file-system options: anything left over is an option rrun does not
    // know, refused rather than dropped.
    if opts.bind && !opts.data.is_empty() {
        return Err(refuse(RootfsError::UnknownOptions {
            options: opts.data.clone(),
        }));
    }
    let kind = if typ == Some("cgroup") && !opts.bind {
        MountKind::Cgroup
    } else if opts.bind {
        let source = bind_source.ok_or_else(|| {
            refuse(RootfsError::Unsupported {
                what: format!("bind mount at {} without a source", dest.display()),
            })
        })?;
        MountKind::Bind { source, idmap }
    } else {
        let fstype = typ.unwrap_or("none").to_string();
        let source = m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| fstype.clone());
        MountKind::Fs { fstype, source }
    };
    Ok(MountStep {
        dest,
        kind,
        opts,
        shown_source,
    })
}

/// runc creates the default devices unless /dev is bind-mounted from the host.
fn dev_is_bind(steps: &[Op]) -> bool {
    steps.iter().any(|op| {
        matches!(op, Op::Mount(s) if s.dest == Path::new("/dev") && matches!(s.kind, MountKind::Bind { .. }))
    })
}

/// The plan for `spec`, whose bundle directory is `bundle`.
pub fn plan(spec: &Spec, bundle: &Path) -> Result<Plan, RootfsError> {
    let linux = spec.linux().as_ref();
    let propagation = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mount_options::propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    let userns = ContainerUserns::of_spec(spec);
    let mut before_pivot = spec
        .mounts()
        .iter()
        .flatten()
        .map(|m| mount_step(bundle, m, &userns).map(Op::Mount))
        .collect::<Result<Vec<_>, _>>()?;
    if !dev_is_bind(&before_pivot) {
        for node in devices::default_devices() {
            before_pivot.push(Op::Device {
                node,
                default: true,
            });
        }
        for d in linux
            .and_then(|l| l.devices().as_ref())
            .into_iter()
            .flatten()
        {
            before_pivot.push(Op::Device {
                node: devices::from_spec(d)?,
                default: false,
            });
        }
        before_pivot.push(Op::DeviceSymlinks);
    }
    let paths = |list: Option<&Vec<String>>| -> Vec<PathBuf> {
        list.into_iter().flatten().map(PathBuf::from).collect()
    };
    let mut after_pivot: Vec<FinalOp> = paths(linux.and_then(|l| l.masked_paths().as_ref()))
        .into_iter()
        .map(FinalOp::Mask)
        .collect();
    after_pivot.extend(
        paths(linux.and_then(|l| l.readonly_paths().as_ref()))
            .into_iter()
            .map(FinalOp::ReadonlyPath),
    );
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        after_pivot.push(FinalOp::RootReadonly);
    }
    Ok(Plan {
        propagation,
        before_pivot,
        after_pivot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(v).unwrap()
    }

    fn default_spec() -> Spec {
        spec(crate::spec::template::default_spec())
    }

    fn mounts(p: &Plan) -> Vec<(&Path, &MountKind)> {
        p.before_pivot
            .iter()
            .filter_map(|op| match op {
                Op::Mount(s) => Some((s.dest.as_path(), &s.kind)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_default_spec() {
        let p = plan(&default_spec(), Path::new("/b")).unwrap();
        assert_eq!(p.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        let fs = |t: &str, s: &str| MountKind::Fs {
            fstype: t.into(),
            source: s.into(),
        };
        assert_eq!(
            mounts(&p),
            [
                (Path::new("/proc"), &fs("proc", "proc")),
                (Path::new("/dev"), &fs("tmpfs", "tmpfs")),
                (Path::new("/dev/pts"), &fs("devpts", "devpts")),
                (Path::new("/dev/shm"), &fs("tmpfs", "shm")),
                (Path::new("/dev/mqueue"), &fs("mqueue", "mqueue")),
                (Path::new("/sys"), &fs("sysfs", "sysfs")),
                (Path::new("/sys/fs/cgroup"), &MountKind::Cgroup),
            ]
        );
        // Mounts first, then the default devices, then their symlinks.
        let rest = &p.before_pivot[7..];
        let defaults = devices::default_devices().len();
        assert_eq!(rest.len(), defaults + 1);
        assert!(rest[..defaults]
            .iter()
            .all(|op| matches!(op, Op::Device { default: true, .. })));
        assert_eq!(rest[defaults], Op::DeviceSymlinks);
        // Masks, then read-only paths; the template's root is read-only.
        assert_eq!(p.after_pivot[0], FinalOp::Mask("/proc/acpi".into()));
        assert_eq!(p.after_pivot.last(), Some(&FinalOp::RootReadonly));
        assert_eq!(
            p.after_pivot
                .iter()
                .filter(|op| matches!(op, FinalOp::ReadonlyPath(_)))
                .count(),
            5
        );
        let sys = p
            .before_pivot
            .iter()
            .find_map(|op| match op {
                Op::Mount(s) if s.dest == Path::new("/sys") => Some(s),
                _ => None,
            })
            .unwrap();
        assert!(sys
            .opts
            .flags
            .contains(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID));
    }

    #[test]
    fn binds_take_the_bundles_relative_sources_and_dev_binds_skip_the_devices() {
        let mut v = crate::spec::template::default_spec();
        v["mounts"] = json!([
            {"destination": "/data", "type": "bind", "source": "vol", "options": ["rbind", "ro"]},
            {"destination": "/dev", "type": "none", "source": "/dev", "options": ["rbind"]}
        ]);
        v["linux"]["rootfsPropagation"] = json!("shared");
        let p = plan(&spec(v), Path::new("/b")).unwrap();
        assert_eq!(p.propagation, MsFlags::MS_SHARED);
        assert_eq!(
            mounts(&p),
            [
                (
                    Path::new("/data"),
                    &MountKind::Bind {
                        source: "/b/vol".into(),
                        idmap: None
                    }
                ),
                (
                    Path::new("/dev"),
                    &MountKind::Bind {
                        source: "/dev".into(),
                        idmap: None
                    }
                ),
            ]
        );
        assert_eq!(p.before_pivot.len(), 2, "no devices over a bound /dev");
    }

    #[test]
    fn hostile_specs_are_refused_before_any_mount() {
        let with = |mounts: serde_json::Value| {
            let mut v = crate::spec::template::default_spec();
            v["mounts"] = mounts;
            plan(&spec(v), Path::new("/b"))
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let e = with(json!([{"destination": "/x", "type": "bind", "options": ["bind"]}]));
        assert!(e.contains("without a source"), "{e}");
        assert!(
            e.starts_with("error mounting \"bind\" to rootfs at \"/x\""),
            "{e}"
        );
        let e = with(
            json!([{"destination": "/x", "type": "bind", "source": "/tmp",
                             "options": ["rbind", "rro", "rrrro"]}]),
        );
        assert!(e.contains("unknown mount option(s) \"rrrro\""), "{e}");
        // idmap without mappings, and the container without a user namespace.
        let e = with(
            json!([{"destination": "/x", "type": "bind", "source": "/tmp",
                             "options": ["rbind", "idmap"]}]),
        );
        assert!(
            e.starts_with("error mounting \"/tmp\" to rootfs at \"/x\": mount option idmap"),
            "{e}"
        );
        let e = with(
            json!([{"destination": "/y", "type": "bind", "source": "/tmp",
            "options": ["rbind"], "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}]),
        );
        assert!(
            e.contains("at \"/y\": uidMappings without gidMappings"),
            "{e}"
        );
        let e = with(
            json!([{"destination": "/z", "type": "tmpfs", "source": "tmpfs",
            "options": ["ridmap"]}]),
        );
        assert!(
            e.contains("at \"/z\": id-mapped mounts are only supported for bind mounts"),
            "{e}"
        );
        let e = with(json!([
            {"destination": "/ok", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}
        ]));
        assert!(e.contains("tmpcopyup"), "{e}");
        let mut v = crate::spec::template::default_spec();
        v["linux"]["devices"] = json!([{"path": "/dev/x", "type": "a", "major": 1, "minor": 1}]);
        assert!(plan(&spec(v), Path::new("/b")).is_err());
    }

    /// Id-mapped binds are classified with their mapping: the mount's own, or with `idmap`
    /// alone the container's user namespace mappings; other mounts have none.
    #[test]
    fn idmapped_binds() {
        use super::idmap::{IdRange, IdmapUserns};
        let mut v = crate::spec::template::default_spec();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        v["mounts"] = json!([
            {"destination": "/a", "type": "bind", "source": "a", "options": ["rbind", "ridmap"]},
            {"destination": "/b", "type": "bind", "source": "/b", "options": ["bind"],
             "uidMappings": [{"containerID": 1, "hostID": 2, "size": 3}],
             "gidMappings": [{"containerID": 4, "hostID": 5, "size": 6}]},
            {"destination": "/c", "type": "bind", "source": "/c", "options": ["bind"]}
        ]);
        let p = plan(&spec(v), Path::new("/bundle")).unwrap();
        let r = |container, host, size| IdRange {
            container,
            host,
            size,
        };
        let m = mounts(&p);
        assert_eq!(
            m[0].1,
            &MountKind::Bind {
                source: "/bundle/a".into(),
                idmap: Some(Idmap {
                    userns: IdmapUserns::Mappings {
                        uid: vec![r(0, 100000, 65536)],
                        gid: vec![r(0, 200000, 65536)],
                    },
                    recursive: true,
                }),
            }
        );
        assert_eq!(
            m[1].1,
            &MountKind::Bind {
                source: "/b".into(),
                idmap: Some(Idmap {
                    userns: IdmapUserns::Mappings {
                        uid: vec![r(1, 2, 3)],
                        gid: vec![r(4, 5, 6)],
                    },
                    recursive: false,
                }),
            }
        );
        assert!(matches!(m[2].1, MountKind::Bind { idmap: None, .. }));
        // Joining a user namespace by path: `idmap` alone takes that namespace.
        let mut v = crate::spec::template::default_spec();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "path": "/proc/7/ns/user"}));
        v["mounts"] = json!([{"destination": "/a", "type": "bind", "source": "/a",
                              "options": ["bind", "idmap"]}]);
        let p = plan(&spec(v), Path::new("/bundle")).unwrap();
        assert!(matches!(
            mounts(&p)[0].1,
            MountKind::Bind { idmap: Some(Idmap { userns: IdmapUserns::Path(path), recursive: false }), .. }
                if path == Path::new("/proc/7/ns/user")
        ));
    }

    /// Destinations that climb out or go through symlinks are not the plan's to judge: they
    /// are kept as written and resolved inside the root when applied.
    #[test]
    fn destinations_are_kept_for_the_in_root_resolver() {
        let mut v = crate::spec::template::default_spec();
        v["mounts"] = json!([
            {"destination": "/../../etc", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/proc/../host", "type": "proc", "source": "proc"}
        ]);
        let p = plan(&spec(v), Path::new("/b")).unwrap();
        let dests: Vec<_> = mounts(&p).iter().map(|(d, _)| d.to_path_buf()).collect();
        assert_eq!(dests, [PathBuf::from("/../../etc"), "/proc/../host".into()]);
    }
}
