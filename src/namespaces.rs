#![forbid(unsafe_code)]
//! Namespaces: which to create, which to join (`path`), and checking a path names a namespace of
//! the right type before anything is started.

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("open {typ} namespace {path}: {source}")]
    Open {
        typ: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("{path} is not a {typ} namespace")]
    WrongType { typ: &'static str, path: PathBuf },
    #[error("setns {typ} namespace {path}: {source}")]
    Setns {
        typ: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("unshare {flags:?}: {source}")]
    Unshare {
        flags: CloneFlags,
        source: nix::Error,
    },
}

/// The kernel's short name of a namespace type (as in /proc/PID/ns).
pub fn type_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME shares its value with CSIGNAL's range in clone(2) but is valid for
        // unshare(2) and setns(2).
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// A namespace to join, opened (and type-checked) by the parent before the fork.
#[derive(Debug)]
pub struct JoinNs {
    pub typ: LinuxNamespaceType,
    pub path: PathBuf,
    pub fd: OwnedFd,
}

/// The namespace part of the plan: what stage-1 joins and what it creates.
#[derive(Debug, Default)]
pub struct NamespacePlan {
    /// Joined in this order, user namespace first.
    pub join: Vec<JoinNs>,
    /// Created with unshare(2) (the user namespace separately, first).
    pub new: Vec<LinuxNamespaceType>,
}

impl NamespacePlan {
    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(&t)
    }
    pub fn joins(&self, t: LinuxNamespaceType) -> bool {
        self.join.iter().any(|j| j.typ == t)
    }
    /// True when the container has a mount namespace of its own (new or joined).
    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.creates(t) || self.joins(t)
    }
    /// The unshare(2) flags for everything new except the user namespace.
    pub fn unshare_flags(&self) -> CloneFlags {
        self.new
            .iter()
            .filter(|t| **t != LinuxNamespaceType::User)
            .fold(CloneFlags::empty(), |acc, t| acc | clone_flag(*t))
    }
}

/// Open `path` and check with NS_GET_NSTYPE that it is a namespace of type `t`.
pub fn open_checked(t: LinuxNamespaceType, path: &Path) -> Result<OwnedFd, NamespaceError> {
    let typ = type_name(t);
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|source| NamespaceError::Open {
        typ,
        path: path.to_path_buf(),
        source,
    })?;
    let r = crate::sys::ns::namespace_type(fd.as_fd());
    if !matches!(r, Ok(r) if r as i64 == clone_flag(t).bits() as i64) {
        return Err(NamespaceError::WrongType {
            typ,
            path: path.to_path_buf(),
        });
    }
    Ok(fd)
}

/// Build the plan from config.json's namespaces, opening every `path` now.
/// The host uid and gid of root in the user namespace at `path` (a `/proc/PID/ns/user` or a
/// bind mount of one): read from the maps of a process in it, found by the namespace's inode.
/// None when no process is in it or root is not mapped.
pub fn root_of_user_ns(path: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::metadata(path).ok()?;
    let key = (ns.dev(), ns.ino());
    let pid = std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let name = e.file_name();
        let pid = name.to_str()?.parse::<u32>().ok()?;
        let m = std::fs::metadata(format!("/proc/{pid}/ns/user")).ok()?;
        ((m.dev(), m.ino()) == key).then_some(pid)
    })?;
    let root_of = |file: &str| {
        let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
        root_in_map(&text)
    };
    Some((root_of("uid_map")?, root_of("gid_map")?))
}

/// The outside id of inside id 0 in a uid_map/gid_map text (`inside outside count` lines).
fn root_in_map(text: &str) -> Option<u32> {
    text.lines().find_map(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        match f[..] {
            [inside, outside, count] if inside == 0 && count > 0 => u32::try_from(outside).ok(),
            _ => None,
        }
    })
}

pub fn plan(spec_ns: &[LinuxNamespace]) -> Result<NamespacePlan, NamespaceError> {
    let mut p = NamespacePlan::default();
    for ns in spec_ns {
        match ns.path() {
            Some(path) if !path.as_os_str().is_empty() => {
                let fd = open_checked(ns.typ(), path)?;
                p.join.push(JoinNs {
                    typ: ns.typ(),
                    path: path.clone(),
                    fd,
                });
            }
            _ => p.new.push(ns.typ()),
        }
    }
    // The user namespace is joined first so that the others are joined with its privileges.
    p.join.sort_by_key(|j| j.typ != LinuxNamespaceType::User);
    Ok(p)
}

/// setns(2) into every joined namespace.
pub fn join_all(p: &NamespacePlan) -> Result<(), NamespaceError> {
    for j in &p.join {
        nix::sched::setns(&j.fd, clone_flag(j.typ)).map_err(|source| NamespaceError::Setns {
            typ: type_name(j.typ),
            path: j.path.clone(),
            source,
        })?;
    }
    Ok(())
}

pub fn unshare(flags: CloneFlags) -> Result<(), NamespaceError> {
    if flags.is_empty() {
        return Ok(());
    }
    nix::sched::unshare(flags).map_err(|source| NamespaceError::Unshare { flags, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_namespace_type() {
        assert!(open_checked(LinuxNamespaceType::Network, Path::new("/proc/self/ns/net")).is_ok());
        let e = open_checked(LinuxNamespaceType::Pid, Path::new("/proc/self/ns/net")).unwrap_err();
        assert!(e.to_string().contains("is not a pid namespace"), "{e}");
        let e = open_checked(LinuxNamespaceType::Pid, Path::new("/etc/hostname")).unwrap_err();
        assert!(e.to_string().contains("is not a pid namespace"), "{e}");
        assert!(open_checked(LinuxNamespaceType::Uts, Path::new("/nonexistent")).is_err());
    }

    #[test]
    fn root_is_read_from_the_maps() {
        assert_eq!(
            root_in_map("         0     100000      65536\n"),
            Some(100000)
        );
        assert_eq!(
            root_in_map("         1     100000      65536\n         0       1000          1\n"),
            Some(1000)
        );
        assert_eq!(root_in_map("         1     100000      65536\n"), None);
        assert_eq!(root_in_map("garbage"), None);
        // Our own namespace: the host's, whose root is 0.
        assert_eq!(
            root_of_user_ns(Path::new("/proc/self/ns/user")),
            Some((0, 0))
        );
    }
}
