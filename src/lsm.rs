#![forbid(unsafe_code)]
//! Linux security module labels of config.json (SELinux process and mount labels, AppArmor
//! profile). rrun does not apply them yet; like runc on a host without that LSM it goes on
//! without them there, and it refuses a config that asks for one on a host where the LSM is on,
//! rather than run the container unconfined.

use oci_spec::runtime::Spec;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("{what} is set in config.json and {lsm} is enabled on this host, but rrun cannot apply {lsm} labels yet")]
pub struct LsmError {
    pub what: &'static str,
    pub lsm: &'static str,
}

pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim_start().starts_with('Y'))
}

/// Check the config's labels against the host.
pub fn check(spec: &Spec) -> Result<(), LsmError> {
    check_with(spec, selinux_enabled(), apparmor_enabled())
}

fn check_with(spec: &Spec, selinux: bool, apparmor: bool) -> Result<(), LsmError> {
    let set = |s: Option<&String>| s.is_some_and(|v| !v.is_empty());
    let process = spec.process().as_ref();
    if selinux {
        if set(process.and_then(|p| p.selinux_label().as_ref())) {
            return Err(LsmError {
                what: "process.selinuxLabel",
                lsm: "SELinux",
            });
        }
        if set(spec.linux().as_ref().and_then(|l| l.mount_label().as_ref())) {
            return Err(LsmError {
                what: "linux.mountLabel",
                lsm: "SELinux",
            });
        }
    }
    if apparmor && set(process.and_then(|p| p.apparmor_profile().as_ref())) {
        return Err(LsmError {
            what: "process.apparmorProfile",
            lsm: "AppArmor",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_refused_only_where_the_lsm_is_on() {
        let s: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","root":{"path":"r"},
                "process":{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh"],"apparmorProfile":"docker-default"},
                "linux":{"mountLabel":"system_u:object_r:container_file_t:s0"}}"#,
        )
        .unwrap();
        assert!(check_with(&s, false, false).is_ok());
        assert!(check_with(&s, true, false)
            .unwrap_err()
            .to_string()
            .contains("mountLabel"));
        assert!(check_with(&s, false, true)
            .unwrap_err()
            .to_string()
            .contains("apparmorProfile"));
    }
}
