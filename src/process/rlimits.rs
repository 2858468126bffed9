//! `process.rlimits` -> setrlimit(2).

use nix::sys::resource::Resource;
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

#[derive(Debug, thiserror::Error)]
#[error("error setting rlimit type {typ} (soft {soft}, hard {hard}): {source}")]
pub struct RlimitError {
    pub typ: String,
    pub soft: u64,
    pub hard: u64,
    pub source: nix::Error,
}

pub fn resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => Resource::RLIMIT_CPU,
        RlimitFsize => Resource::RLIMIT_FSIZE,
        RlimitData => Resource::RLIMIT_DATA,
        RlimitStack => Resource::RLIMIT_STACK,
        RlimitCore => Resource::RLIMIT_CORE,
        RlimitRss => Resource::RLIMIT_RSS,
        RlimitNproc => Resource::RLIMIT_NPROC,
        RlimitNofile => Resource::RLIMIT_NOFILE,
        RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        RlimitAs => Resource::RLIMIT_AS,
        RlimitLocks => Resource::RLIMIT_LOCKS,
        RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        RlimitNice => Resource::RLIMIT_NICE,
        RlimitRtprio => Resource::RLIMIT_RTPRIO,
        RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// Set every rlimit of the config on the calling process.
pub fn apply(limits: &[PosixRlimit]) -> Result<(), RlimitError> {
    for l in limits {
        nix::sys::resource::setrlimit(resource(l.typ()), l.soft(), l.hard()).map_err(|source| {
            RlimitError {
                typ: l.typ().to_string(),
                soft: l.soft(),
                hard: l.hard(),
                source,
            }
        })?;
    }
    Ok(())
}
