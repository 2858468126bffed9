//! `linux.sysctl`: written by the init once it is in the container's namespaces (the
//! net/ipc/uts sysctls a write changes are those of the writer's namespaces), through the
//! verified procfs handle ([`super::procfs`]), never through the image's /proc. Only
//! namespaced keys get here (`spec::validate`).

use super::procfs::{ProcError, ProcFs};
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    #[error("sysctl {key}={value}: {source}")]
    Open {
        key: String,
        value: String,
        source: ProcError,
    },
    #[error("sysctl {key}={value}: write: {source}")]
    Write {
        key: String,
        value: String,
        source: std::io::Error,
    },
}

/// `net.ipv4.ip_forward` -> `/proc/sys/net/ipv4/ip_forward`. Keys are validated in spec.rs.
pub fn path_of(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

pub fn apply<'a>(
    proc: &ProcFs,
    entries: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<(), SysctlError> {
    for (k, v) in entries {
        let rel = format!("sys/{}", k.replace('.', "/"));
        let fd = proc
            .open_file(std::path::Path::new(&rel), libc::O_WRONLY)
            .map_err(|source| SysctlError::Open {
                key: k.clone(),
                value: v.clone(),
                source,
            })?;
        std::fs::File::from(fd)
            .write_all(v.as_bytes())
            .map_err(|source| SysctlError::Write {
                key: k.clone(),
                value: v.clone(),
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_to_path() {
        assert_eq!(
            super::path_of("net.ipv4.ip_forward"),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert_eq!(super::path_of("kernel/msgmax"), "/proc/sys/kernel/msgmax");
    }
}
