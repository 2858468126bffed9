//! Loading and validating a bundle's config.json, once, before anything is created.
//!
//! Everything that can be checked without side effects is checked here, so that a bad config
//! fails `create` before a state directory, cgroup or process exists.

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parse {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("invalid {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// A loaded and validated bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// Absolute path of the root filesystem on the host.
    pub rootfs: PathBuf,
}

/// The file name of the configuration inside a bundle.
pub const CONFIG_FILE: &str = "config.json";

/// Load `<bundle>/config.json`, parse and validate it.
pub fn load(bundle: &Path) -> Result<Bundle, SpecError> {
    let dir = std::path::absolute(bundle).map_err(|source| SpecError::Read {
        path: bundle.to_path_buf(),
        source,
    })?;
    let path = dir.join(CONFIG_FILE);
    let data = std::fs::read(&path).map_err(|source| SpecError::Read {
        path: path.clone(),
        source,
    })?;
    let spec: Spec = serde_json::from_slice(&data).map_err(|source| SpecError::Parse {
        path: path.clone(),
        source,
    })?;
    let invalid = |reason: String| SpecError::Invalid {
        path: path.clone(),
        reason,
    };
    validate(&spec).map_err(invalid)?;
    let root = spec.root().as_ref().expect("validated");
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(invalid(format!(
                "root.path {} is not a directory",
                rootfs.display()
            )))
        }
        Err(e) => return Err(invalid(format!("root.path {}: {e}", rootfs.display()))),
    }
    Ok(Bundle { dir, spec, rootfs })
}

/// Checks that need no file system access; each error names the field.
pub fn validate(spec: &Spec) -> Result<(), String> {
    if spec.version().is_empty() {
        return Err("ociVersion is missing".into());
    }
    if !spec.version().starts_with("1.") {
        return Err(format!(
            "ociVersion {:?} is not supported (this runtime implements 1.x)",
            spec.version()
        ));
    }
    let Some(root) = spec.root() else {
        return Err("root is missing".into());
    };
    if root.path().as_os_str().is_empty() {
        return Err("root.path is empty".into());
    }
    if let Some(process) = spec.process() {
        match process.args() {
            Some(a) if !a.is_empty() && !a[0].is_empty() => {}
            _ => return Err("process.args must name a program".into()),
        }
        if !process.cwd().is_absolute() {
            return Err(format!(
                "process.cwd {:?} must be an absolute path",
                process.cwd()
            ));
        }
        for e in process.env().iter().flatten() {
            if !e.contains('=') {
                return Err(format!("process.env entry {e:?} is not KEY=VALUE"));
            }
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if m.destination().as_os_str().is_empty() {
            return Err(format!("mounts[{i}].destination is empty"));
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let mut seen = HashSet::new();
    let mut has_user = false;
    for ns in linux.namespaces().iter().flatten() {
        if !seen.insert(ns.typ()) {
            return Err(format!("linux.namespaces: type {} appears twice", ns.typ()));
        }
        if ns.typ() == LinuxNamespaceType::User {
            has_user = true;
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(format!(
                    "linux.namespaces: {} path {:?} must be absolute",
                    ns.typ(),
                    p
                ));
            }
        }
    }
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if has_maps && !has_user {
        return Err("linux.uidMappings/gidMappings need a user namespace".into());
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !seen.contains(&LinuxNamespaceType::Time)
    {
        return Err("linux.timeOffsets need a time namespace".into());
    }
    if let Some(p) = linux.rootfs_propagation() {
        if !p.is_empty() && crate::rootfs::mount_options::propagation_flag(p).is_none() {
            return Err(format!(
                "linux.rootfsPropagation {p:?} is not a propagation type"
            ));
        }
    }
    for (k, _) in linux.sysctl().iter().flatten() {
        if k.is_empty() || k.contains("..") || k.starts_with('/') {
            return Err(format!("linux.sysctl key {k:?} is invalid"));
        }
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        if !d.path().is_absolute() {
            return Err(format!("linux.devices[{i}].path must be absolute"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Spec {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn rejects_missing_root_and_args() {
        assert!(validate(&parse(r#"{"ociVersion":"1.0.2"}"#))
            .unwrap_err()
            .contains("root"));
        let s = parse(
            r#"{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/","user":{"uid":0,"gid":0},"args":[]}}"#,
        );
        assert!(validate(&s).unwrap_err().contains("args"));
    }

    #[test]
    fn rejects_duplicate_namespace_and_maps_without_userns() {
        let s = parse(
            r#"{"ociVersion":"1.0.2","root":{"path":"r"},"linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}}"#,
        );
        assert!(validate(&s).unwrap_err().contains("twice"));
        let s = parse(
            r#"{"ociVersion":"1.0.2","root":{"path":"r"},"linux":{"uidMappings":[{"hostID":1,"containerID":0,"size":1}]}}"#,
        );
        assert!(validate(&s).unwrap_err().contains("user namespace"));
    }

    #[test]
    fn engine_fixtures_parse_and_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/engines");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return; // shared/ is beside the checkout in CI and on developer machines
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".json") && !name.contains("process") {
                let s: Spec = serde_json::from_slice(&std::fs::read(&p).unwrap())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                validate(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}
