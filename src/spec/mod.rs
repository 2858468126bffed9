#![forbid(unsafe_code)]
//! Loading and validating a bundle's config.json, once, before anything is created.
//!
//! Everything that can be checked without side effects is checked here, so that a bad config
//! fails `create` before a state directory, cgroup or process exists.

pub mod template;
mod validate;

use validate::invalid;
pub use validate::{check_user_ids, sysctl_namespace, validate, ConfigError, MAX_ID};

use oci_spec::runtime::Spec;
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
    #[error("invalid {path}: {error}")]
    Invalid { path: PathBuf, error: ConfigError },
}

/// A loaded and validated bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// Absolute path of the root filesystem on the host.
    pub rootfs: PathBuf,
    /// What was accepted but cannot be honoured (unknown capability names), for the log.
    pub warnings: Vec<String>,
}

/// Parse config.json. A capability name this runtime does not know is dropped with a warning
/// instead of failing the parse: runtime-spec says a capability that cannot be granted is
/// logged as a warning and SHOULD NOT fail the container (runc does the same).
pub fn parse_spec(data: &[u8]) -> Result<(Spec, Vec<String>), serde_json::Error> {
    parse_with_known_capabilities(data, |v| v.get_mut("process"))
}

/// Parse a process JSON (`exec --process`), dropping unknown capability names likewise.
pub fn parse_process(
    data: &[u8],
) -> Result<(oci_spec::runtime::Process, Vec<String>), serde_json::Error> {
    parse_with_known_capabilities(data, |v| Some(v))
}

fn parse_with_known_capabilities<T: serde::de::DeserializeOwned>(
    data: &[u8],
    process: impl FnOnce(&mut serde_json::Value) -> Option<&mut serde_json::Value>,
) -> Result<(T, Vec<String>), serde_json::Error> {
    let first = match serde_json::from_slice::<T>(data) {
        Ok(t) => return Ok((t, Vec::new())),
        Err(e) => e,
    };
    // Only when the plain parse failed: look for unknown capability names, drop them, retry.
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return Err(first);
    };
    let mut warnings = Vec::new();
    if let Some(caps) = process(&mut v)
        .and_then(|p| p.get_mut("capabilities"))
        .and_then(|c| c.as_object_mut())
    {
        for (set, names) in caps.iter_mut() {
            let Some(names) = names.as_array_mut() else {
                continue;
            };
            names.retain(|n| {
                let known = serde_json::from_value::<oci_spec::runtime::Capability>(n.clone())
                    .is_ok()
                    || !n.is_string();
                if !known {
                    warnings.push(format!(
                        "process.capabilities.{set}: unknown capability {n}, ignored"
                    ));
                }
                known
            });
        }
    }
    if warnings.is_empty() {
        return Err(first);
    }
    Ok((serde_json::from_value(v)?, warnings))
}

/// Whether linux.namespaces lists a namespace of type `t` (to create or to join).
pub fn has_namespace(spec: &Spec, t: oci_spec::runtime::LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == t))
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
    let (spec, warnings) = parse_spec(&data).map_err(|source| SpecError::Parse {
        path: path.clone(),
        source,
    })?;
    let invalid_at = |error: ConfigError| SpecError::Invalid {
        path: path.clone(),
        error,
    };
    validate(&spec).map_err(invalid_at)?;
    let root = spec.root().as_ref().expect("validated");
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(invalid_at(invalid(
                "root.path",
                format!("root.path {} is not a directory", rootfs.display()),
            )))
        }
        Err(e) => {
            return Err(invalid_at(invalid(
                "root.path",
                format!("root.path {}: {e}", rootfs.display()),
            )))
        }
    }
    Ok(Bundle {
        dir,
        spec,
        rootfs,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Spec {
        serde_json::from_str(s).unwrap()
    }

    /// Callers can tell which field was refused.
    #[test]
    fn errors_name_the_field() {
        for (extra, field) in [
            (
                r#""process":{"cwd":"rel","args":["x"],"user":{"uid":0,"gid":0}}"#,
                "process.cwd",
            ),
            (r#""mounts":[{"destination":""}]"#, "mounts[0].destination"),
            (
                r#""hooks":{"poststop":[{"path":"/x","timeout":0}]}"#,
                "hooks.poststop[0].timeout",
            ),
            (r#""linux":{"sysctl":{"kernel.panic":"1"}}"#, "linux.sysctl"),
            (r#""hostname":"a\u0000b""#, "hostname"),
        ] {
            let s = parse(&format!(
                r#"{{"ociVersion":"1.0.2","root":{{"path":"r"}},{extra}}}"#
            ));
            assert_eq!(validate(&s).unwrap_err().field, field, "{extra}");
        }
    }

    #[test]
    fn rejects_missing_root_and_args() {
        assert!(validate(&parse(r#"{"ociVersion":"1.0.2"}"#))
            .unwrap_err()
            .reason
            .contains("root"));
        let s = parse(
            r#"{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/","user":{"uid":0,"gid":0},"args":[]}}"#,
        );
        assert!(validate(&s).unwrap_err().reason.contains("args"));
    }

    #[test]
    fn rejects_duplicate_namespace_and_maps_without_userns() {
        let s = parse(
            r#"{"ociVersion":"1.0.2","root":{"path":"r"},"linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}}"#,
        );
        assert!(validate(&s).unwrap_err().reason.contains("twice"));
        let s = parse(
            r#"{"ociVersion":"1.0.2","root":{"path":"r"},"linux":{"uidMappings":[{"hostID":1,"containerID":0,"size":1}]}}"#,
        );
        assert!(validate(&s).unwrap_err().reason.contains("user namespace"));
    }

    const BASE: &str = r#""ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh"]}"#;

    fn with(extra: &str) -> Spec {
        parse(&format!("{{{BASE},{extra}}}"))
    }

    /// Found by a config fuzzer (issue 16): what runtime-spec says MUST be refused, and what
    /// runc accepts.
    #[test]
    fn hooks_rlimits_and_empty_namespace_paths() {
        for (extra, want) in [
            (r#""hooks":{"prestart":[{"path":"bin/true"}]}"#, "absolute"),
            (
                r#""hooks":{"poststop":[{"path":"/bin/true","timeout":0}]}"#,
                "greater than zero",
            ),
            (
                r#""hooks":{"createRuntime":[{"path":"/bin/true","timeout":-5}]}"#,
                "greater than zero",
            ),
        ] {
            let err = validate(&with(extra)).unwrap_err().reason;
            assert!(err.contains(want), "{extra}: {err}");
        }
        assert!(validate(&with(
            r#""hooks":{"prestart":[{"path":"/bin/true","timeout":2}]}"#
        ))
        .is_ok());
        let dup = parse(&format!(
            "{{{},\"rlimits\":[{{\"type\":\"RLIMIT_NOFILE\",\"hard\":10,\"soft\":10}},{{\"type\":\"RLIMIT_NOFILE\",\"hard\":20,\"soft\":20}}]}}}}",
            BASE.trim_end_matches('}')
        ));
        assert!(validate(&dup).unwrap_err().reason.contains("appears twice"));
        let empty_path = with(r#""linux":{"namespaces":[{"type":"network","path":""}]}"#);
        assert!(validate(&empty_path).is_ok());
        let unmapped = with(r#""linux":{"namespaces":[{"type":"user"}]}"#);
        assert!(validate(&unmapped)
            .unwrap_err()
            .reason
            .contains("no uid mappings"));
        let joined = with(r#""linux":{"namespaces":[{"type":"user","path":"/proc/1/ns/user"}]}"#);
        assert!(validate(&joined).is_ok());
    }

    #[test]
    fn unknown_capabilities_are_dropped_with_a_warning() {
        let text = format!(
            "{{{},\"capabilities\":{{\"bounding\":[\"CAP_KILL\",\"CAP_BOGUS\"],\"effective\":[\"CAP_NEW_2030\"]}}}}}}",
            BASE.trim_end_matches('}')
        );
        let (spec, warnings) = parse_spec(text.as_bytes()).unwrap();
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 1);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("CAP_BOGUS"), "{warnings:?}");
        // Other errors stay errors, with their position.
        assert!(parse_spec(b"{\"ociVersion\": 3}").is_err());
        let (_, none) = parse_spec(format!("{{{BASE}}}").as_bytes()).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn rejects_nul_in_every_path() {
        for extra in [
            r#""mounts":[{"destination":"/tmp\u0000x","type":"tmpfs","source":"tmpfs"}]"#,
            r#""mounts":[{"destination":"/m","type":"bind","source":"/a\u0000b","options":["bind"]}]"#,
            r#""linux":{"maskedPaths":["/proc/kc\u0000ore"]}"#,
            r#""linux":{"readonlyPaths":["/proc/\u0000"]}"#,
            r#""linux":{"devices":[{"path":"/dev/x\u0000","type":"c","major":1,"minor":3}]}"#,
            r#""linux":{"cgroupsPath":"/a\u0000"}"#,
            r#""hooks":{"prestart":[{"path":"/bin/tr\u0000ue"}]}"#,
            r#""hostname":"h\u0000""#,
        ] {
            let err = validate(&with(extra)).unwrap_err().reason;
            assert!(err.contains("NUL"), "{extra}: {err}");
        }
        let s = parse(r#"{"ociVersion":"1.0.2","root":{"path":"r\u0000"}}"#);
        assert!(validate(&s)
            .unwrap_err()
            .reason
            .contains("root.path holds a NUL"));
    }

    #[test]
    fn sysctls_must_be_namespaced() {
        let ns = r#""namespaces":[{"type":"ipc"},{"type":"network"},{"type":"uts"}]"#;
        for ok in [
            "kernel.shmmax",
            "kernel.msgmax",
            "kernel.sem",
            "fs.mqueue.msg_max",
            "net.ipv4.ip_forward",
            "net/ipv4/ip_forward",
            "kernel.hostname",
            "kernel.domainname",
        ] {
            let s = with(&format!(r#""linux":{{{ns},"sysctl":{{"{ok}":"1"}}}}"#));
            assert!(validate(&s).is_ok(), "{ok}");
        }
        for host in [
            "fs.lease-break-time",
            "kernel.core_pattern",
            "vm.overcommit_memory",
            "kernel.shm_next_id",
        ] {
            let s = with(&format!(r#""linux":{{{ns},"sysctl":{{"{host}":"1"}}}}"#));
            assert!(
                validate(&s).unwrap_err().reason.contains("not namespaced"),
                "{host}"
            );
        }
        for (key, missing) in [
            ("net.ipv4.ip_forward", "net namespace"),
            ("kernel.shmmax", "ipc"),
            ("kernel.hostname", "uts"),
        ] {
            let s = with(&format!(
                r#""linux":{{"namespaces":[],"sysctl":{{"{key}":"1"}}}}"#
            ));
            let err = validate(&s).unwrap_err().reason;
            assert!(err.contains(missing), "{key}: {err}");
        }
    }

    #[test]
    fn user_ids_are_bounded() {
        for (field, v) in [
            ("uid", 4294967295u64),
            ("gid", 4294967295),
            ("uid", 2147483648),
        ] {
            let other = if field == "uid" { "gid" } else { "uid" };
            let s = parse(&format!(
                r#"{{"ociVersion":"1.0.2","root":{{"path":"r"}},"process":{{"cwd":"/","user":{{"{field}":{v},"{other}":0}},"args":["sh"]}}}}"#
            ));
            let err = validate(&s).unwrap_err().reason;
            assert!(err.contains(&format!("process.user.{field}")), "{err}");
        }
        let s = parse(
            r#"{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/","user":{"uid":2147483647,"gid":0,"additionalGids":[4294967295]},"args":["sh"]}}"#,
        );
        assert!(validate(&s).unwrap_err().reason.contains("additionalGids"));
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
