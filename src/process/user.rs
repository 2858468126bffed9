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
}

/// Switch credentials. With `keep_caps`, the permitted capabilities survive the uid change
/// (PR_SET_KEEPCAPS) so caps.rs can set them afterwards.
pub fn switch(user: &User) -> Result<(), UserError> {
    let err = |op, id: String| move |source| UserError::Set { op, id, source };
    nix::sys::prctl::set_keepcaps(true).map_err(err("prctl(PR_SET_KEEPCAPS)", "1".into()))?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    setgroups(&groups).map_err(err("setgroups", format!("{groups:?}")))?;
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
