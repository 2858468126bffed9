//! Checks of a config.json that need no file system access, each refusal a [`ConfigError`]
//! naming the field: versions, paths, process, hooks, namespaces and id mappings, sysctls (only
//! namespaced ones), NUL bytes anywhere a string reaches the kernel.

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::Path;

/// A config.json value the runtime refuses: the field (as config.json spells it, with its
/// index in a list) and the whole reason, which names the field too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

pub(super) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        reason: reason.into(),
    }
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
    check_without_mount_namespace(spec)?;
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

/// Without a mount namespace of its own the container shares the host's: whatever it mounted
/// would be mounted on the host and outlive it (runc does mount there, and leaves the mounts
/// behind). So the fields that need mounts are refused; the rootfs is used as it is.
fn check_without_mount_namespace(spec: &Spec) -> Result<(), ConfigError> {
    if super::has_namespace(spec, LinuxNamespaceType::Mount) {
        return Ok(());
    }
    let linux = spec.linux().as_ref();
    let why = "without a private mount namespace (linux.namespaces has no \"mount\")";
    if spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(invalid(
            "mounts",
            format!(
                "mounts cannot be made {why}: they would be made in the host's mount namespace"
            ),
        ));
    }
    let listed = |v: Option<&Vec<String>>| v.is_some_and(|v| !v.is_empty());
    if listed(linux.and_then(|l| l.masked_paths().as_ref()))
        || listed(linux.and_then(|l| l.readonly_paths().as_ref()))
    {
        // runc's words.
        return Err(invalid(
            "linux.maskedPaths",
            "unable to restrict sys entries without a private MNT namespace",
        ));
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        return Err(invalid(
            "root.readonly",
            format!("root.readonly cannot be applied {why}"),
        ));
    }
    if linux
        .and_then(|l| l.devices().as_ref())
        .is_some_and(|d| !d.is_empty())
    {
        return Err(invalid(
            "linux.devices",
            format!("linux.devices cannot be created {why}"),
        ));
    }
    if linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .is_some_and(|p| !p.is_empty())
    {
        return Err(invalid(
            "linux.rootfsPropagation",
            format!("linux.rootfsPropagation cannot be applied {why}"),
        ));
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
