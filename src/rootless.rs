#![forbid(unsafe_code)]
//! Rootless: rrun run by a user without privileges over the host (an unprivileged uid, or
//! root inside a user namespace, e.g. under `podman unshare`), as runc does it.
//!
//! - Where the state goes by default ([`default_root`]): `$XDG_RUNTIME_DIR/rrun`.
//! - How the container's user namespace gets its id maps ([`IdMapPlan`]): written directly
//!   when the maps are the caller's own ids (and `setgroups` denied first, as the kernel
//!   requires of an unprivileged gid_map writer), through the setuid helpers
//!   newuidmap/newgidmap (package uidmap, checked against /etc/subuid and /etc/subgid)
//!   otherwise.
//! - The cgroup: see `cgroups::detached` and `container::create`.

use oci_spec::runtime::LinuxIdMapping;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("rootless container needs {helper} (package uidmap) to map {what}: {source}")]
    HelperMissing {
        helper: &'static str,
        what: String,
        source: std::io::Error,
    },
    #[error("{helper} {args} failed ({status}): {stderr}")]
    HelperFailed {
        helper: &'static str,
        args: String,
        status: String,
        stderr: String,
    },
}

/// Whether rrun runs without privileges over the host: not uid 0, or uid 0 of a user
/// namespace other than the host's. `--rootless=auto` means this.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || running_in_user_ns()
}

/// Whether this process is in a user namespace other than the initial one: the initial
/// namespace maps every id (`0 0 4294967295`).
pub fn running_in_user_ns() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(text) => !is_initial_map(&text),
        Err(_) => false,
    }
}

fn is_initial_map(text: &str) -> bool {
    let fields: Vec<&str> = text.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// runc's default `--root`: `$XDG_RUNTIME_DIR/rrun` when XDG_RUNTIME_DIR is set and rrun is
/// not the host's root (an unprivileged user; or root in a user namespace whose USER is not
/// `root`), `/run/rrun` otherwise.
pub fn default_root(
    xdg_runtime_dir: Option<&str>,
    euid_is_root: bool,
    in_user_ns: bool,
    user: Option<&str>,
) -> PathBuf {
    let xdg = xdg_runtime_dir.filter(|d| !d.is_empty());
    let honor = match (euid_is_root, in_user_ns) {
        (false, _) => true,
        (true, false) => false,
        (true, true) => user != Some("root"),
    };
    match xdg {
        Some(dir) if honor => Path::new(dir).join("rrun"),
        _ => PathBuf::from("/run/rrun"),
    }
}

/// The default root for this process.
pub fn default_root_here() -> PathBuf {
    let xdg = std::env::var("XDG_RUNTIME_DIR").ok();
    let user = std::env::var("USER").ok();
    default_root(
        xdg.as_deref(),
        nix::unistd::geteuid().is_root(),
        running_in_user_ns(),
        user.as_deref(),
    )
}

/// How one of the two maps is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapWrite {
    /// Nothing to write.
    None,
    /// Write /proc/PID/{uid,gid}_map ourselves (after `deny` to setgroups for an unprivileged
    /// gid_map).
    Direct { text: String, deny_setgroups: bool },
    /// Run the helper (`newuidmap`/`newgidmap`) with these arguments after the pid.
    Helper {
        helper: &'static str,
        args: Vec<String>,
    },
}

/// How a new user namespace's maps are written: gid_map first (as runc), then uid_map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMapPlan {
    pub gid: MapWrite,
    pub uid: MapWrite,
}

/// Whether `maps` is one id mapped to itself: the caller's `own` id, size 1, which an
/// unprivileged process may write.
fn only_own(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn helper_args(maps: &[LinuxIdMapping]) -> Vec<String> {
    maps.iter()
        .flat_map(|m| [m.container_id(), m.host_id(), m.size()])
        .map(|n| n.to_string())
        .collect()
}

impl IdMapPlan {
    /// The plan for `uid`/`gid` maps written by a process that is `privileged` (root of the
    /// host: it may write any map) or not, with effective ids `euid`/`egid`.
    pub fn new(
        uid: &[LinuxIdMapping],
        gid: &[LinuxIdMapping],
        privileged: bool,
        euid: u32,
        egid: u32,
    ) -> IdMapPlan {
        let one = |maps: &[LinuxIdMapping], own: u32, helper: &'static str, is_gid: bool| {
            if maps.is_empty() {
                MapWrite::None
            } else if privileged || only_own(maps, own) {
                MapWrite::Direct {
                    text: map_text(maps),
                    deny_setgroups: is_gid && !privileged,
                }
            } else {
                MapWrite::Helper {
                    helper,
                    args: helper_args(maps),
                }
            }
        };
        IdMapPlan {
            gid: one(gid, egid, "newgidmap", true),
            uid: one(uid, euid, "newuidmap", false),
        }
    }

    /// Write the maps of the user namespace of process `pid`.
    pub fn apply(&self, pid: i32) -> Result<(), RootlessError> {
        for (file, write) in [("gid_map", &self.gid), ("uid_map", &self.uid)] {
            match write {
                MapWrite::None => {}
                MapWrite::Direct {
                    text,
                    deny_setgroups,
                } => {
                    if *deny_setgroups {
                        write_proc(pid, "setgroups", "deny")?;
                    }
                    write_proc(pid, file, text)?;
                }
                MapWrite::Helper { helper, args } => run_helper(helper, pid, args)?,
            }
        }
        Ok(())
    }
}

fn write_proc(pid: i32, file: &str, text: &str) -> Result<(), RootlessError> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text).map_err(|source| RootlessError::Write { path, source })
}

fn run_helper(helper: &'static str, pid: i32, args: &[String]) -> Result<(), RootlessError> {
    let out = Command::new(helper)
        .arg(pid.to_string())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| RootlessError::HelperMissing {
            helper,
            what: args.join(" "),
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(RootlessError::HelperFailed {
        helper,
        args: format!("{pid} {}", args.join(" ")),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        serde_json::from_value(serde_json::json!({"containerID": c, "hostID": h, "size": s}))
            .unwrap()
    }

    #[test]
    fn default_root_is_runcs_rule() {
        let x = Some("/run/user/1000");
        assert_eq!(
            default_root(x, false, false, Some("u")),
            Path::new("/run/user/1000/rrun")
        );
        assert_eq!(
            default_root(x, true, false, Some("u")),
            Path::new("/run/rrun")
        );
        assert_eq!(
            default_root(x, true, true, Some("alice")),
            Path::new("/run/user/1000/rrun")
        );
        assert_eq!(
            default_root(x, true, true, Some("root")),
            Path::new("/run/rrun")
        );
        assert_eq!(
            default_root(x, true, true, None),
            Path::new("/run/user/1000/rrun")
        );
        assert_eq!(
            default_root(None, false, false, None),
            Path::new("/run/rrun")
        );
        assert_eq!(
            default_root(Some(""), false, false, None),
            Path::new("/run/rrun")
        );
    }

    #[test]
    fn the_initial_user_namespace_maps_everything() {
        assert!(is_initial_map("         0          0 4294967295\n"));
        assert!(!is_initial_map("         0       1000          1\n"));
        assert!(!is_initial_map(""));
    }

    #[test]
    fn own_ids_are_written_directly_with_setgroups_denied() {
        let p = IdMapPlan::new(&[map(0, 1000, 1)], &[map(0, 100, 1)], false, 1000, 100);
        assert_eq!(
            p.uid,
            MapWrite::Direct {
                text: "0 1000 1\n".into(),
                deny_setgroups: false
            }
        );
        assert_eq!(
            p.gid,
            MapWrite::Direct {
                text: "0 100 1\n".into(),
                deny_setgroups: true
            }
        );
    }

    #[test]
    fn other_ids_go_through_the_helpers() {
        let uid = [map(0, 1000, 1), map(1, 100000, 65536)];
        let p = IdMapPlan::new(&uid, &[map(0, 1000, 1)], false, 1000, 1000);
        assert_eq!(
            p.uid,
            MapWrite::Helper {
                helper: "newuidmap",
                args: ["0", "1000", "1", "1", "100000", "65536"]
                    .map(String::from)
                    .to_vec()
            }
        );
        // Someone else's id, even one: the helper decides (from /etc/subuid).
        let p = IdMapPlan::new(&[map(0, 2000, 1)], &[], false, 1000, 1000);
        assert!(matches!(p.uid, MapWrite::Helper { .. }));
        assert_eq!(p.gid, MapWrite::None);
    }

    #[test]
    fn root_of_the_host_writes_any_map() {
        let p = IdMapPlan::new(
            &[map(0, 100000, 65536)],
            &[map(0, 100000, 65536)],
            true,
            0,
            0,
        );
        assert_eq!(
            p.gid,
            MapWrite::Direct {
                text: "0 100000 65536\n".into(),
                deny_setgroups: false
            }
        );
    }
}
