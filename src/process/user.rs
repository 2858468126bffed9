//! Switching to `process.user`: supplementary groups, gid, uid, umask.

use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
use oci_spec::runtime::User;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{op}({id}): {source}")]
    Set {
        op: &'static str,
        id: String,
        source: nix::Error,
    },
    #[error("process.user.additionalGids {gids:?}: setgroups is denied in this user namespace (its gid_map was written without privileges: map more ids, through newgidmap)")]
    SetgroupsDenied { gids: Vec<u32> },
}

/// Whether setgroups(2) may be called in this user namespace: /proc/self/setgroups says
/// `deny` where an unprivileged process wrote the gid map. Read before the seccomp filter.
pub fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

/// Switch credentials. The permitted capabilities survive the uid change (PR_SET_KEEPCAPS) so
/// caps.rs can set them afterwards. Where setgroups is denied ([`setgroups_allowed`]) the
/// groups are left as they are (a rootless container's only group), unless the config asks
/// for supplementary ones.
pub fn switch(user: &User, setgroups_allowed: bool) -> Result<(), UserError> {
    let err = |op, id: String| move |source| UserError::Set { op, id, source };
    nix::sys::prctl::set_keepcaps(true).map_err(err("prctl(PR_SET_KEEPCAPS)", "1".into()))?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if setgroups_allowed {
        setgroups(&groups).map_err(err("setgroups", format!("{groups:?}")))?;
    } else if !groups.is_empty() {
        return Err(UserError::SetgroupsDenied {
            gids: groups.iter().map(|g| g.as_raw()).collect(),
        });
    }
    // With CAP_SETGID/CAP_SETUID, setgid and setuid set the real, effective and saved ids
    // alike, as setres[ug]id would; they are what seccomp profiles written for runc allow.
    setgid(Gid::from_raw(user.gid())).map_err(err("setgid", user.gid().to_string()))?;
    setuid(Uid::from_raw(user.uid())).map_err(err("setuid", user.uid().to_string()))?;
    nix::sys::prctl::set_keepcaps(false).map_err(err("prctl(PR_SET_KEEPCAPS)", "0".into()))?;
    Ok(())
}

/// The umask of the process: config.json's, or 0022 as runc uses.
pub fn umask(user: &User) -> nix::sys::stat::Mode {
    nix::sys::stat::Mode::from_bits_truncate(user.umask().unwrap_or(0o022))
}
