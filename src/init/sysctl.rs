//! `linux.sysctl`: written to /proc/sys in the container (after pivot_root, so the container's
//! own /proc and namespaces are the ones changed).

#[derive(Debug, thiserror::Error)]
#[error("sysctl {key}={value}: {source}")]
pub struct SysctlError {
    pub key: String,
    pub value: String,
    pub source: std::io::Error,
}

/// `net.ipv4.ip_forward` -> `/proc/sys/net/ipv4/ip_forward`. Keys are validated in spec.rs.
pub fn path_of(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

pub fn apply<'a>(
    entries: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<(), SysctlError> {
    for (k, v) in entries {
        std::fs::write(path_of(k), v).map_err(|source| SysctlError {
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
