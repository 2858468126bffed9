//! Id-mapped bind mounts (runtime-spec 1.2 config.md: a mount's `uidMappings`/`gidMappings`
//! and the `idmap`/`ridmap` options): [`plan`] classifies and validates a mount (pure,
//! unit-tested without root); [`Trees::make`] builds the detached id-mapped mounts.
//!
//! The direction is the kernel's and runc's: a mount's mappings are written, as they are, as
//! the uid_map/gid_map of a user namespace (`containerID hostID size`), and that namespace is
//! the mount's id mapping. An id `containerID + i` stored in the file system is seen through
//! the mount as the host id `hostID + i`, and a file created through the mount by host id
//! `hostID + i` is stored as `containerID + i`. Ids outside the mapping read as the overflow
//! id (65534) and cannot create files (EOVERFLOW). So with a user namespace whose
//! linux.uidMappings are the same (0 -> 100000), files stored as 0 belong to the container's
//! root; without one, `{"containerID": 100000, "hostID": 0}` lets the container's root (host
//! id 0) own files stored as 100000.
//!
//! Where the mounts are made: in the parent, before the fork (`Container::create`).
//! mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN over the mapping's user namespace and
//! over the user namespace that owns the source's file system (the host's), which the init
//! does not have once it is in the container's user namespace; creating a user namespace with
//! arbitrary mappings needs the host's privileges too. The parent has them, is single-threaded
//! there, and anything refused fails `create` before the container exists (the detached
//! mounts vanish with their fds). The trees are inherited by the forked stages; the init
//! attaches each with move_mount onto its destination resolved inside the rootfs (which needs
//! only CAP_SYS_ADMIN over its own mount namespace), then closes them with every other fd it
//! does not need. The same path serves containers with and without a user namespace.

use super::mount_options::{IdmapOption, MountOptions};
use super::plan::{MountKind, Op, Plan};
use super::RootfsError;
use crate::sys;
use oci_spec::runtime::{LinuxIdMapping, Mount};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// The kernel's limit of ranges in one uid_map or gid_map (since Linux 4.15).
pub const MAX_RANGES: usize = 340;

/// One range of a mapping: `size` ids from `container` (the id in the file system) to `host`
/// (the id seen through the mount).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdRange {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl From<&LinuxIdMapping> for IdRange {
    fn from(m: &LinuxIdMapping) -> IdRange {
        IdRange {
            container: m.container_id(),
            host: m.host_id(),
            size: m.size(),
        }
    }
}

/// The user namespace whose mapping a mount gets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdmapUserns {
    /// A new one with these mappings (the mount's own, or the container's for `idmap` alone).
    Mappings {
        uid: Vec<IdRange>,
        gid: Vec<IdRange>,
    },
    /// The one the container joins (`linux.namespaces[user].path`), for `idmap` alone.
    Path(PathBuf),
}

/// An id-mapped bind, planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idmap {
    pub userns: IdmapUserns,
    /// `ridmap`: every mount of the cloned tree; otherwise (`idmap`, or mappings without an
    /// option) its top mount only, as runc does.
    pub recursive: bool,
}

/// The container's own user namespace, as far as `idmap` without mappings needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerUserns {
    None,
    New {
        uid: Vec<IdRange>,
        gid: Vec<IdRange>,
    },
    Join(PathBuf),
}

impl ContainerUserns {
    pub fn of_spec(spec: &oci_spec::runtime::Spec) -> ContainerUserns {
        use oci_spec::runtime::LinuxNamespaceType;
        let Some(linux) = spec.linux().as_ref() else {
            return ContainerUserns::None;
        };
        let user = linux
            .namespaces()
            .iter()
            .flatten()
            .find(|n| n.typ() == LinuxNamespaceType::User);
        match user {
            None => ContainerUserns::None,
            Some(n) => match n.path() {
                Some(p) => ContainerUserns::Join(p.clone()),
                None => ContainerUserns::New {
                    uid: ranges(linux.uid_mappings().as_deref()),
                    gid: ranges(linux.gid_mappings().as_deref()),
                },
            },
        }
    }
}

fn ranges(maps: Option<&[LinuxIdMapping]>) -> Vec<IdRange> {
    maps.into_iter().flatten().map(IdRange::from).collect()
}

/// Why a mount's id mapping is refused or failed. Shown inside runc's `error mounting "SRC"
/// to rootfs at "DEST": ...`, which names the mount.
#[derive(Debug, thiserror::Error)]
pub enum IdmapError {
    #[error("{given} without {missing}: an id-mapped mount needs both")]
    Half {
        given: &'static str,
        missing: &'static str,
    },
    #[error("id-mapped mounts are only supported for bind mounts (this one is type {fstype:?})")]
    NotBind { fstype: String },
    #[error("mount option {option} without uidMappings/gidMappings uses the container's user namespace, and the container has none")]
    NoMappings { option: &'static str },
    #[error(
        "{field}[{index}] {{containerID: {container}, hostID: {host}, size: {size}}}: {reason}"
    )]
    Range {
        field: &'static str,
        index: usize,
        container: u32,
        host: u32,
        size: u32,
        reason: String,
    },
    #[error("{field}: {count} ranges, more than the kernel's {MAX_RANGES}")]
    TooMany { field: &'static str, count: usize },
    #[error("user namespace for the id mapping: {what}: {source}")]
    Userns {
        what: String,
        source: std::io::Error,
    },
    #[error("{syscall} {path}: {source}")]
    Source {
        syscall: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("mount_setattr(MOUNT_ATTR_IDMAP{}) {path}: {source}{}", if *recursive { ", AT_RECURSIVE" } else { "" }, setattr_hint(*source))]
    SetAttr {
        path: PathBuf,
        recursive: bool,
        source: nix::Error,
    },
    #[error("no id-mapped mount was prepared for this mount")]
    NoTree,
}

fn setattr_hint(e: nix::Error) -> &'static str {
    match e {
        nix::Error::EINVAL => " (the file system, or with ridmap a mount below it, does not support id-mapped mounts on this kernel)",
        nix::Error::EPERM => " (an id-mapped mount cannot be mapped again, and the caller needs CAP_SYS_ADMIN over the file system)",
        nix::Error::ENOSYS => " (mount_setattr needs Linux 5.12)",
        _ => "",
    }
}

impl From<IdmapError> for RootfsError {
    fn from(e: IdmapError) -> RootfsError {
        RootfsError::Idmap(e)
    }
}

/// Check one mapping as the kernel will (map_write): at least one range and at most
/// [`MAX_RANGES`], no empty range, none that wraps past 2^32 - 1 on either side, none that
/// overlaps another on either side.
pub fn check_ranges(field: &'static str, r: &[IdRange]) -> Result<(), IdmapError> {
    if r.len() > MAX_RANGES {
        return Err(IdmapError::TooMany {
            field,
            count: r.len(),
        });
    }
    let bad = |index: usize, reason: String| {
        let x = r[index];
        IdmapError::Range {
            field,
            index,
            container: x.container,
            host: x.host,
            size: x.size,
            reason,
        }
    };
    let end = |start: u32, size: u32| u64::from(start) + u64::from(size);
    for (i, x) in r.iter().enumerate() {
        if x.size == 0 {
            return Err(bad(i, "size is 0".into()));
        }
        // The kernel refuses a range whose end wraps (or reaches 2^32, which is (u32)-1 + 1).
        if end(x.container, x.size) > u64::from(u32::MAX) {
            return Err(bad(i, "containerID + size is beyond 4294967295".into()));
        }
        if end(x.host, x.size) > u64::from(u32::MAX) {
            return Err(bad(i, "hostID + size is beyond 4294967295".into()));
        }
        for (j, y) in r[..i].iter().enumerate() {
            let overlap =
                |a: u32, b: u32| u64::from(a) < end(b, y.size) && u64::from(b) < end(a, x.size);
            if overlap(x.container, y.container) || overlap(x.host, y.host) {
                return Err(bad(i, format!("overlaps range {j}")));
            }
        }
    }
    Ok(())
}

/// The mappings a config.json mount gives, empty arrays counting as none (runtime-spec 1.2
/// allows empty mappings with `idmap`).
fn given(m: &Mount) -> (Option<Vec<IdRange>>, Option<Vec<IdRange>>) {
    let of = |v: &Option<Vec<LinuxIdMapping>>| {
        v.as_ref()
            .filter(|v| !v.is_empty())
            .map(|v| v.iter().map(IdRange::from).collect())
    };
    (of(m.uid_mappings()), of(m.gid_mappings()))
}

/// Plan the id mapping of one config.json mount, whose options are parsed as `opts`: None for
/// a mount without mappings or option. Refused: one of uidMappings and gidMappings without the
/// other, an id mapping on anything but a bind, `idmap`/`ridmap` alone without a user namespace
/// of the container, a range the kernel would refuse.
pub fn plan(
    m: &Mount,
    opts: &MountOptions,
    container: &ContainerUserns,
) -> Result<Option<Idmap>, IdmapError> {
    let (uid, gid) = given(m);
    if uid.is_none() && gid.is_none() && opts.idmap.is_none() {
        return Ok(None);
    }
    match (&uid, &gid) {
        (Some(_), None) => {
            return Err(IdmapError::Half {
                given: "uidMappings",
                missing: "gidMappings",
            })
        }
        (None, Some(_)) => {
            return Err(IdmapError::Half {
                given: "gidMappings",
                missing: "uidMappings",
            })
        }
        _ => {}
    }
    if !opts.bind {
        return Err(IdmapError::NotBind {
            fstype: m.typ().clone().unwrap_or_else(|| "none".into()),
        });
    }
    let recursive = opts.idmap == Some(IdmapOption::Ridmap);
    let userns = match (uid, gid) {
        (Some(uid), Some(gid)) => IdmapUserns::Mappings { uid, gid },
        _ => match container {
            ContainerUserns::New { uid, gid } => IdmapUserns::Mappings {
                uid: uid.clone(),
                gid: gid.clone(),
            },
            ContainerUserns::Join(p) => IdmapUserns::Path(p.clone()),
            ContainerUserns::None => {
                return Err(IdmapError::NoMappings {
                    option: opts.idmap.map(IdmapOption::name).unwrap_or("idmap"),
                })
            }
        },
    };
    if let IdmapUserns::Mappings { uid, gid } = &userns {
        check_ranges("uidMappings", uid)?;
        check_ranges("gidMappings", gid)?;
        if uid.is_empty() || gid.is_empty() {
            return Err(IdmapError::NoMappings {
                option: opts.idmap.map(IdmapOption::name).unwrap_or("idmap"),
            });
        }
    }
    Ok(Some(Idmap { userns, recursive }))
}

/// The detached id-mapped mounts of a plan, by the index of their step in
/// `Plan::before_pivot`. Dropping them (before they are attached) removes them.
#[derive(Debug, Default)]
pub struct Trees(Vec<(usize, OwnedFd)>);

impl Trees {
    /// Make every id-mapped mount the plan has (none: no system call at all). Runs in the
    /// parent, in the host's namespaces; a refusal names the mount as runc does.
    pub fn make(plan: &Plan) -> Result<Trees, RootfsError> {
        let mut trees = Vec::new();
        let mut userns: HashMap<IdmapUserns, OwnedFd> = HashMap::new();
        for (i, op) in plan.before_pivot.iter().enumerate() {
            let Op::Mount(step) = op else { continue };
            let MountKind::Bind {
                source,
                idmap: Some(idmap),
            } = &step.kind
            else {
                continue;
            };
            let rec = step.opts.flags.contains(nix::mount::MsFlags::MS_REC);
            let tree = make_tree(source, rec, idmap, &mut userns).map_err(|e| {
                RootfsError::from(e).in_mount(step.shown_source.clone(), &step.dest)
            })?;
            trees.push((i, tree));
        }
        Ok(Trees(trees))
    }

    /// The detached mount for step `index`.
    pub fn get(&self, index: usize) -> Option<BorrowedFd<'_>> {
        self.0
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, fd)| fd.as_fd())
    }

    /// Their fds, which the init keeps open until its mounts are made.
    pub fn raw_fds(&self) -> Vec<RawFd> {
        self.0.iter().map(|(_, fd)| fd.as_raw_fd()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One detached id-mapped mount: the source cloned (with `rec`, its submounts too), then
/// given the mapping (with `idmap.recursive`, on every mount of the clone).
fn make_tree(
    source: &Path,
    rec: bool,
    idmap: &Idmap,
    cache: &mut HashMap<IdmapUserns, OwnedFd>,
) -> Result<OwnedFd, IdmapError> {
    let src = nix::fcntl::open(
        source,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| IdmapError::Source {
        syscall: "open",
        path: source.to_path_buf(),
        source: e,
    })?;
    let tree = sys::mount::open_tree_clone(src.as_fd(), rec).map_err(|e| IdmapError::Source {
        syscall: "open_tree(OPEN_TREE_CLONE)",
        path: source.to_path_buf(),
        source: e,
    })?;
    if !cache.contains_key(&idmap.userns) {
        let fd = match &idmap.userns {
            IdmapUserns::Mappings { uid, gid } => new_userns(uid, gid)?,
            IdmapUserns::Path(p) => std::fs::File::open(p)
                .map_err(|source| IdmapError::Userns {
                    what: format!("open {}", p.display()),
                    source,
                })?
                .into(),
        };
        cache.insert(idmap.userns.clone(), fd);
    }
    let userns = cache[&idmap.userns].as_fd();
    sys::mount::mount_setattr_idmap(tree.as_fd(), userns, idmap.recursive).map_err(|e| {
        IdmapError::SetAttr {
            path: source.to_path_buf(),
            recursive: idmap.recursive,
            source: e,
        }
    })?;
    Ok(tree)
}

fn map_text(r: &[IdRange]) -> String {
    r.iter()
        .map(|x| format!("{} {} {}\n", x.container, x.host, x.size))
        .collect()
}

/// A user namespace with these mappings, as an fd of it: a short-lived child unshares one and
/// waits; the caller writes its maps (setgroups denied first, as an unprivileged writer would
/// have to), opens /proc/<child>/ns/user, lets the child go (closing the socket it waits on:
/// it also goes if we die) and reaps it. The namespace lives on as long as the fd.
pub fn new_userns(uid: &[IdRange], gid: &[IdRange]) -> Result<OwnedFd, IdmapError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| IdmapError::Userns { what, source }
    };
    let (ours, theirs) = UnixStream::pair().map_err(io("socketpair"))?;
    // fork_child's precondition: rrun's parent is single-threaded here (create, before the
    // init exists; features). The child only makes system calls and _exits.
    let (pid, ours) = sys::process::fork_child(ours, move || {
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
            return e as i32;
        }
        let mut s = &theirs;
        if s.write_all(b"u").is_err() {
            return 255;
        }
        let mut b = [0u8; 1];
        // End of file: the parent is done (or gone).
        let _ = s.read(&mut b);
        0
    })
    .map_err(|e| IdmapError::Userns {
        what: "fork".into(),
        source: e.into(),
    })?;
    let made = (|| {
        let mut b = [0u8; 1];
        let n = (&ours).read(&mut b).map_err(io("wait for the child"))?;
        if n == 0 {
            // The child is gone without a word: it could not unshare (its exit code says why).
            return Err(None);
        }
        // The child waits on its socket now: if we die here it sees the end and goes.
        crate::faults::point("idmap:userns-made");
        let proc = format!("/proc/{pid}");
        for (file, text) in [
            ("setgroups", "deny".to_string()),
            ("gid_map", map_text(gid)),
            ("uid_map", map_text(uid)),
        ] {
            let path = format!("{proc}/{file}");
            std::fs::write(&path, text).map_err(io(&format!("write {path}")))?;
        }
        let ns = format!("{proc}/ns/user");
        let f = std::fs::File::open(&ns).map_err(io(&format!("open {ns}")))?;
        Ok::<_, Option<IdmapError>>(OwnedFd::from(f))
    })();
    drop(ours);
    let status = nix::sys::wait::waitpid(pid, None);
    match made {
        Ok(fd) => Ok(fd),
        Err(Some(e)) => Err(e),
        Err(None) => {
            let code = match status {
                Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
                _ => 0,
            };
            Err(IdmapError::Userns {
                what: "unshare(CLONE_NEWUSER)".into(),
                source: std::io::Error::from_raw_os_error(code),
            })
        }
    }
}

/// Whether id-mapped mounts work here: a user namespace can be made, and a fresh detached
/// tmpfs (or, where tmpfs cannot be id-mapped, before Linux 6.3, a clone of the temp
/// directory's mount) accepts MOUNT_ATTR_IDMAP. For `features`; costs one short-lived process.
pub fn supported() -> bool {
    let r = IdRange {
        container: 0,
        host: 100000,
        size: 65536,
    };
    let Ok(userns) = new_userns(&[r], &[r]) else {
        return false;
    };
    let tmpfs = || -> nix::Result<OwnedFd> {
        let fs = sys::mount::fsopen(c"tmpfs")?;
        sys::mount::fsconfig_create(fs.as_fd())?;
        sys::mount::fsmount(fs.as_fd(), 0)
    };
    if let Ok(mnt) = tmpfs() {
        if sys::mount::mount_setattr_idmap(mnt.as_fd(), userns.as_fd(), false).is_ok() {
            return true;
        }
    }
    let Ok(dir) = std::fs::File::open(std::env::temp_dir()) else {
        return false;
    };
    sys::mount::open_tree_clone(dir.as_fd(), false)
        .and_then(|t| sys::mount::mount_setattr_idmap(t.as_fd(), userns.as_fd(), false))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(container: u32, host: u32, size: u32) -> IdRange {
        IdRange {
            container,
            host,
            size,
        }
    }

    fn mount(v: serde_json::Value) -> Mount {
        serde_json::from_value(v).unwrap()
    }

    fn planned(v: serde_json::Value, c: &ContainerUserns) -> Result<Option<Idmap>, String> {
        let m = mount(v);
        let opts = super::super::mount_options::parse(
            m.typ().as_deref(),
            m.options().as_deref().unwrap_or(&[]),
        );
        plan(&m, &opts, c).map_err(|e| e.to_string())
    }

    #[test]
    fn ranges_the_kernel_accepts() {
        assert!(check_ranges("uidMappings", &[r(0, 100000, 65536)]).is_ok());
        assert!(check_ranges("uidMappings", &[r(0, 1000, 1), r(1, 2000, 10)]).is_ok());
        // The whole id space but (u32)-1.
        assert!(check_ranges("uidMappings", &[r(0, 0, u32::MAX)]).is_ok());
        assert!(check_ranges("uidMappings", &[]).is_ok());
    }

    #[test]
    fn ranges_the_kernel_refuses() {
        let e = |v: &[IdRange]| check_ranges("uidMappings", v).unwrap_err().to_string();
        assert!(e(&[r(0, 1, 0)]).contains("size is 0"));
        assert!(e(&[r(u32::MAX, 1, 1)]).contains("containerID + size"));
        assert!(e(&[r(1, u32::MAX - 1, 2)]).contains("hostID + size"));
        assert!(e(&[r(0, 0, u32::MAX), r(5, 5, 0)]).contains("uidMappings[1]"));
        let o = e(&[r(0, 1000, 10), r(5, 5000, 10)]);
        assert!(
            o.contains("uidMappings[1]") && o.contains("overlaps range 0"),
            "{o}"
        );
        // Overlapping on the host side only.
        assert!(e(&[r(0, 1000, 10), r(100, 1009, 1)]).contains("overlaps"));
        let many: Vec<IdRange> = (0..=MAX_RANGES as u32).map(|i| r(i, i + 1000, 1)).collect();
        assert!(e(&many).contains("more than the kernel's 340"));
    }

    #[test]
    fn mounts_without_a_mapping_are_not_idmapped() {
        let p = planned(
            json!({"destination": "/d", "type": "bind", "source": "/s", "options": ["rbind"]}),
            &ContainerUserns::None,
        );
        assert_eq!(p, Ok(None));
        // Empty arrays are no mapping.
        let p = planned(
            json!({"destination": "/d", "type": "bind", "source": "/s", "options": ["rbind"],
                   "uidMappings": [], "gidMappings": []}),
            &ContainerUserns::None,
        );
        assert_eq!(p, Ok(None));
    }

    #[test]
    fn the_mounts_own_mappings_and_the_options() {
        let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        let with = |options: serde_json::Value| {
            planned(
                json!({"destination": "/d", "type": "bind", "source": "/s", "options": options,
                       "uidMappings": maps, "gidMappings": maps}),
                &ContainerUserns::None,
            )
            .unwrap()
            .unwrap()
        };
        let want = IdmapUserns::Mappings {
            uid: vec![r(0, 100000, 65536)],
            gid: vec![r(0, 100000, 65536)],
        };
        // Mappings without an option: applied (as runc does), to the top mount.
        let i = with(json!(["rbind"]));
        assert_eq!((i.userns, i.recursive), (want.clone(), false));
        let i = with(json!(["rbind", "idmap"]));
        assert_eq!((i.userns, i.recursive), (want.clone(), false));
        let i = with(json!(["rbind", "ridmap"]));
        assert_eq!((i.userns, i.recursive), (want, true));
    }

    #[test]
    fn idmap_alone_takes_the_containers_user_namespace() {
        let m = json!({"destination": "/d", "type": "bind", "source": "/s",
                       "options": ["bind", "idmap"]});
        let new = ContainerUserns::New {
            uid: vec![r(0, 200000, 1000)],
            gid: vec![r(0, 300000, 1000)],
        };
        let i = planned(m.clone(), &new).unwrap().unwrap();
        assert_eq!(
            i.userns,
            IdmapUserns::Mappings {
                uid: vec![r(0, 200000, 1000)],
                gid: vec![r(0, 300000, 1000)],
            }
        );
        let join = ContainerUserns::Join("/proc/1/ns/user".into());
        let i = planned(m.clone(), &join).unwrap().unwrap();
        assert_eq!(i.userns, IdmapUserns::Path("/proc/1/ns/user".into()));
        let e = planned(m, &ContainerUserns::None).unwrap_err();
        assert!(e.contains("idmap without uidMappings/gidMappings"), "{e}");
        assert!(e.contains("has none"), "{e}");
    }

    #[test]
    fn refusals() {
        let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        let e = planned(
            json!({"destination": "/d", "type": "bind", "source": "/s", "options": ["bind"],
                   "uidMappings": maps}),
            &ContainerUserns::None,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "uidMappings without gidMappings: an id-mapped mount needs both"
        );
        let e = planned(
            json!({"destination": "/d", "type": "bind", "source": "/s", "options": ["bind", "ridmap"],
                   "gidMappings": maps, "uidMappings": []}),
            &ContainerUserns::None,
        )
        .unwrap_err();
        assert!(e.starts_with("gidMappings without uidMappings"), "{e}");
        let e = planned(
            json!({"destination": "/d", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"],
                   "uidMappings": maps, "gidMappings": maps}),
            &ContainerUserns::None,
        )
        .unwrap_err();
        assert!(
            e.contains("only supported for bind mounts") && e.contains("tmpfs"),
            "{e}"
        );
        let e = planned(
            json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["ridmap"]}),
            &ContainerUserns::New { uid: vec![r(0, 1, 1)], gid: vec![r(0, 1, 1)] },
        )
        .unwrap_err();
        assert!(e.contains("only supported for bind mounts"), "{e}");
        let e = planned(
            json!({"destination": "/d", "type": "bind", "source": "/s", "options": ["bind"],
                   "uidMappings": [{"containerID": 4294967295u32, "hostID": 0, "size": 1}],
                   "gidMappings": maps}),
            &ContainerUserns::None,
        )
        .unwrap_err();
        assert!(e.starts_with("uidMappings[0]"), "{e}");
        let e = planned(
            json!({"destination": "/d", "type": "bind", "source": "/s", "options": ["bind"],
                   "uidMappings": maps,
                   "gidMappings": [{"containerID": 0, "hostID": 0, "size": 0}]}),
            &ContainerUserns::None,
        )
        .unwrap_err();
        assert!(
            e.starts_with("gidMappings[0]") && e.contains("size is 0"),
            "{e}"
        );
    }

    /// Writing the maps and opening the namespace need root; elsewhere the error comes back.
    #[test]
    fn a_user_namespace_with_given_mappings() {
        let uid = [r(0, 100000, 65536)];
        let gid = [r(0, 200000, 1000), r(1000, 300000, 1)];
        match new_userns(&uid, &gid) {
            Ok(fd) => {
                assert_eq!(sys::ns::namespace_type(fd.as_fd()), Ok(libc::CLONE_NEWUSER));
            }
            Err(e) => assert!(!nix::unistd::geteuid().is_root(), "{e}"),
        }
        // A range the kernel refuses fails the write, and the child is reaped.
        if nix::unistd::geteuid().is_root() {
            let e = new_userns(&[r(0, 1, 0)], &gid).unwrap_err().to_string();
            assert!(e.contains("uid_map"), "{e}");
        }
    }
}
