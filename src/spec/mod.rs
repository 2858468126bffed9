#![forbid(unsafe_code)]
//! Loading and validating a bundle's config.json, once, before anything is created.
//!
//! Everything that can be checked without side effects is checked here, so that a bad config
//! fails `create` before a state directory, cgroup or process exists.

pub mod template;

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
    #[error("invalid {path}: {error}")]
    Invalid { path: PathBuf, error: ConfigError },
}

/// A config.json value the runtime refuses: the field (as config.json spells it, with its
/// index in a list) and the whole reason, which names the field too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        reason: reason.into(),
    }
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

/// Checks that need no file system access; each error names the field.
pub fn validate(spec: &Spec) -> Result<(), ConfigError> {
    if spec.version().is_empty() {
        return Err(invalid("ociVersion", "ociVersion is missing"));
    }
    if !spec.version().starts_with("1.") {
        return Err(invalid(
            "ociVersion",
            format!(
                "ociVersion {:?} is not supported (this runtime implements 1.x)",
                spec.version()
            ),
        ));
    }
    let Some(root) = spec.root() else {
        return Err(invalid("root", "root is missing"));
    };
    if root.path().as_os_str().is_empty() {
        return Err(invalid("root.path", "root.path is empty"));
    }
    check_no_nul(spec)?;
    if let Some(process) = spec.process() {
        match process.args() {
            Some(a) if !a.is_empty() && !a[0].is_empty() => {}
            _ => return Err(invalid("process.args", "process.args must name a program")),
        }
        if !process.cwd().is_absolute() {
            return Err(invalid(
                "process.cwd",
                format!("process.cwd {:?} must be an absolute path", process.cwd()),
            ));
        }
        for e in process.env().iter().flatten() {
            if !e.contains('=') {
                return Err(invalid(
                    "process.env",
                    format!("process.env entry {e:?} is not KEY=VALUE"),
                ));
            }
        }
        check_user_ids(process.user())?;
        let mut types = Vec::new();
        for r in process.rlimits().iter().flatten() {
            if types.contains(&r.typ()) {
                return Err(invalid(
                    "process.rlimits",
                    format!("process.rlimits: type {:?} appears twice", r.typ()),
                ));
            }
            types.push(r.typ());
        }
    }
    check_hooks(spec)?;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if m.destination().as_os_str().is_empty() {
            return Err(invalid(
                format!("mounts[{i}].destination"),
                format!("mounts[{i}].destination is empty"),
            ));
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let mut seen = HashSet::new();
    let mut has_user = false;
    let mut new_user = false;
    for ns in linux.namespaces().iter().flatten() {
        if !seen.insert(ns.typ()) {
            return Err(invalid(
                "linux.namespaces",
                format!("linux.namespaces: type {} appears twice", ns.typ()),
            ));
        }
        if ns.typ() == LinuxNamespaceType::User {
            has_user = true;
            new_user = ns.path().as_ref().is_none_or(|p| p.as_os_str().is_empty());
        }
        // An empty path means no path (a new namespace), as in runc.
        if let Some(p) = ns.path().as_ref().filter(|p| !p.as_os_str().is_empty()) {
            if !p.is_absolute() {
                return Err(invalid(
                    "linux.namespaces",
                    format!(
                        "linux.namespaces: {} path {:?} must be absolute",
                        ns.typ(),
                        p
                    ),
                ));
            }
        }
    }
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if has_maps && !has_user {
        return Err(invalid(
            "linux.uidMappings",
            "linux.uidMappings/gidMappings need a user namespace",
        ));
    }
    if new_user {
        // As runc: a new user namespace without mappings would fail later with a bare EINVAL
        // from setgid.
        if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            return Err(invalid(
                "linux.uidMappings",
                "user namespaces enabled, but no uid mappings found (linux.uidMappings)",
            ));
        }
        if linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            return Err(invalid(
                "linux.gidMappings",
                "user namespaces enabled, but no gid mappings found (linux.gidMappings)",
            ));
        }
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !seen.contains(&LinuxNamespaceType::Time)
    {
        return Err(invalid(
            "linux.timeOffsets",
            "linux.timeOffsets need a time namespace",
        ));
    }
    if let Some(p) = linux.rootfs_propagation() {
        if !p.is_empty() && crate::rootfs::mount_options::propagation_flag(p).is_none() {
            return Err(invalid(
                "linux.rootfsPropagation",
                format!("linux.rootfsPropagation {p:?} is not a propagation type"),
            ));
        }
    }
    for (k, _) in linux.sysctl().iter().flatten() {
        if k.is_empty() || k.contains("..") || k.starts_with('/') {
            return Err(invalid(
                "linux.sysctl",
                format!("linux.sysctl key {k:?} is invalid"),
            ));
        }
        check_sysctl_namespaced(k, &seen)?;
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        if !d.path().is_absolute() {
            return Err(invalid(
                format!("linux.devices[{i}].path"),
                format!("linux.devices[{i}].path must be absolute"),
            ));
        }
    }
    Ok(())
}

/// The highest uid or gid a process may be given: (uid_t)-1 means "leave unchanged" to
/// setresuid, so 4294967295 would silently keep root; runc refuses ids above 2^31-1 too.
pub const MAX_ID: u32 = i32::MAX as u32;

/// process.user ids must be real ids (see [`MAX_ID`]).
pub fn check_user_ids(user: &oci_spec::runtime::User) -> Result<(), ConfigError> {
    let bad = |field: &str, v: u32| {
        invalid(
            format!("process.user.{field}"),
            format!("process.user.{field} {v} is out of range (0 to {MAX_ID})"),
        )
    };
    if user.uid() > MAX_ID {
        return Err(bad("uid", user.uid()));
    }
    if user.gid() > MAX_ID {
        return Err(bad("gid", user.gid()));
    }
    for g in user.additional_gids().iter().flatten() {
        if *g > MAX_ID {
            return Err(bad("additionalGids", *g));
        }
    }
    Ok(())
}

/// Which namespace makes a sysctl the container's own, as runc decides it: IPC sysctls need
/// an ipc namespace, net.* a network namespace, kernel.hostname/domainname a uts namespace.
/// Every other sysctl is global to the host and refused.
pub fn sysctl_namespace(key: &str) -> Option<LinuxNamespaceType> {
    let k = key.replace('/', ".");
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
        return Some(LinuxNamespaceType::Ipc);
    }
    if k.starts_with("net.") {
        return Some(LinuxNamespaceType::Network);
    }
    if k == "kernel.hostname" || k == "kernel.domainname" {
        return Some(LinuxNamespaceType::Uts);
    }
    None
}

fn check_sysctl_namespaced(key: &str, ns: &HashSet<LinuxNamespaceType>) -> Result<(), ConfigError> {
    match sysctl_namespace(key) {
        None => Err(invalid(
            "linux.sysctl",
            format!(
            "linux.sysctl {key:?} is not namespaced: it would change the host (only IPC, net.*, \
             kernel.hostname and kernel.domainname sysctls are allowed)"
        ),
        )),
        Some(t) if !ns.contains(&t) => Err(invalid(
            "linux.sysctl",
            format!(
            "linux.sysctl {key:?} needs the container's own {t} namespace, and linux.namespaces \
             has none"
        ),
        )),
        Some(_) => Ok(()),
    }
}

/// Every hook list of the config, with its config.json name.
#[allow(deprecated)]
fn hook_lists(
    hooks: &oci_spec::runtime::Hooks,
) -> [(&'static str, &Option<Vec<oci_spec::runtime::Hook>>); 6] {
    [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ]
}

/// Every hook: an absolute path (runtime-spec: "path ... MUST be absolute") and, when given,
/// a timeout above zero ("timeout ... MUST be greater than zero").
fn check_hooks(spec: &Spec) -> Result<(), ConfigError> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
    for (kind, list) in hook_lists(hooks) {
        for (i, h) in list.iter().flatten().enumerate() {
            if !h.path().is_absolute() {
                return Err(invalid(
                    format!("hooks.{kind}[{i}].path"),
                    format!(
                        "hooks.{kind}[{i}].path {:?} must be an absolute path",
                        h.path()
                    ),
                ));
            }
            if let Some(t) = h.timeout() {
                if t <= 0 {
                    return Err(invalid(
                        format!("hooks.{kind}[{i}].timeout"),
                        format!("hooks.{kind}[{i}].timeout {t} must be greater than zero"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// No path or string the runtime hands to the kernel may hold a NUL byte: it would be cut (or,
/// worse, replaced) and name another file than the config says.
fn check_no_nul(spec: &Spec) -> Result<(), ConfigError> {
    use std::os::unix::ffi::OsStrExt;
    let nul = |field: String, bytes: &[u8]| -> Result<(), ConfigError> {
        if bytes.contains(&0) {
            let reason = format!("{field} holds a NUL byte");
            Err(invalid(field, reason))
        } else {
            Ok(())
        }
    };
    let p = |field: String, path: &Path| nul(field, path.as_os_str().as_bytes());
    if let Some(root) = spec.root() {
        p("root.path".into(), root.path())?;
    }
    nul(
        "hostname".into(),
        spec.hostname().as_deref().unwrap_or("").as_bytes(),
    )?;
    nul(
        "domainname".into(),
        spec.domainname().as_deref().unwrap_or("").as_bytes(),
    )?;
    if let Some(process) = spec.process() {
        p("process.cwd".into(), process.cwd())?;
        for (i, a) in process.args().iter().flatten().enumerate() {
            nul(format!("process.args[{i}]"), a.as_bytes())?;
        }
        for (i, e) in process.env().iter().flatten().enumerate() {
            nul(format!("process.env[{i}]"), e.as_bytes())?;
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        p(format!("mounts[{i}].destination"), m.destination())?;
        if let Some(s) = m.source() {
            p(format!("mounts[{i}].source"), s)?;
        }
        nul(
            format!("mounts[{i}].type"),
            m.typ().as_deref().unwrap_or("").as_bytes(),
        )?;
        for o in m.options().iter().flatten() {
            nul(format!("mounts[{i}].options"), o.as_bytes())?;
        }
    }
    if let Some(hooks) = spec.hooks() {
        for (kind, list) in hook_lists(hooks) {
            for (i, h) in list.iter().flatten().enumerate() {
                p(format!("hooks.{kind}[{i}].path"), h.path())?;
                for a in h.args().iter().flatten().chain(h.env().iter().flatten()) {
                    nul(format!("hooks.{kind}[{i}]"), a.as_bytes())?;
                }
            }
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    for ns in linux.namespaces().iter().flatten() {
        if let Some(path) = ns.path() {
            p(format!("linux.namespaces {} path", ns.typ()), path)?;
        }
    }
    if let Some(c) = linux.cgroups_path() {
        p("linux.cgroupsPath".into(), c)?;
    }
    for (k, v) in linux.sysctl().iter().flatten() {
        nul(format!("linux.sysctl key {k:?}"), k.as_bytes())?;
        nul(format!("linux.sysctl {k:?} value"), v.as_bytes())?;
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        p(format!("linux.devices[{i}].path"), d.path())?;
    }
    for (field, list) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, m) in list.iter().flatten().enumerate() {
            nul(format!("{field}[{i}]"), m.as_bytes())?;
        }
    }
    if let Some(prop) = linux.rootfs_propagation() {
        nul("linux.rootfsPropagation".into(), prop.as_bytes())?;
    }
    Ok(())
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
