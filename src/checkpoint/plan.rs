//! The CRIU command lines of `checkpoint` and `restore`, built from the options, the container's
//! config and what the caller found on the host (pids, inodes, cgroup paths). Pure: no system
//! call, so every flag combination is unit-tested. What goes in follows runc 1.1's
//! `Checkpoint`/`Restore` (libcontainer), translated from its RPC fields to CRIU's options.

use super::options::{CheckpointOptions, RestoreOptions};
use oci_spec::runtime::Spec;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// CRIU's log files, in the work directory (or the image directory), as runc names them.
pub const DUMP_LOG: &str = "dump.log";
pub const RESTORE_LOG: &str = "restore.log";
/// What runc writes next to the images: the init's fds 0-2 at dump time (`pipe:[123]`, a path,
/// `/dev/null`), used on restore to hand the caller's pipes back.
pub const DESCRIPTORS: &str = "descriptors.json";
/// runc's CRIU configuration file, used when it exists and no `org.criu.config` annotation says
/// otherwise.
pub const DEFAULT_CRIU_CONFIG: &str = "/etc/criu/runc.conf";

/// runc's key for an external namespace: `extRoot<Type>NS`.
pub fn external_ns_key(criu_name: &str) -> &'static str {
    match criu_name {
        "net" => "extRootNetNS",
        _ => "extRootPidNS",
    }
}

/// The CRIU configuration file for a config: the `org.criu.config` annotation (empty: none),
/// else runc's default.
pub fn criu_config_file(spec: &Spec) -> Option<PathBuf> {
    match spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get("org.criu.config"))
    {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => Some(PathBuf::from(DEFAULT_CRIU_CONFIG)),
    }
}

/// A mount destination as CRIU names it: absolute, `.` and `..` resolved lexically without
/// leaving `/` (runc's SecureJoin of the destination onto the rootfs, without the rootfs).
pub fn clean_dest(dest: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(dest).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// The config's bind mounts: (destination, source with a relative one under the bundle).
pub fn bind_mounts(spec: &Spec, bundle: &Path) -> Vec<(String, PathBuf)> {
    spec.mounts()
        .iter()
        .flatten()
        .filter(|m| {
            m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind")
        })
        .map(|m| {
            let src = m.source().clone().unwrap_or_default();
            let src = if src.is_absolute() {
                src
            } else {
                bundle.join(src)
            };
            (clean_dest(&m.destination().to_string_lossy()), src)
        })
        .collect()
}

/// The config's device paths (runc maps each as an external mount, in case it is one).
fn device_paths(spec: &Spec) -> Vec<String> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
        .map(|d| clean_dest(&d.path().to_string_lossy()))
        .collect()
}

/// What `checkpoint` found about the container.
#[derive(Debug, Clone)]
pub struct DumpInput<'a> {
    pub opts: &'a CheckpointOptions,
    pub pid: i32,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub spec: &'a Spec,
    /// The freezer cgroup (v1), or the cgroup2 directory on a pure v2 host.
    pub freezer: Option<PathBuf>,
    /// Namespaces the config names by path, dumped as external: (CRIU's name, inode).
    pub external_ns: Vec<(&'static str, u64)>,
    /// Masked paths that are files in the container (each a bind of /dev/null).
    pub masked_files: Vec<String>,
    /// Destinations of the v1 cgroup binds (none with a cgroup namespace or on pure v2).
    pub cgroup_binds: Vec<String>,
    /// The CRIU configuration file, when it exists.
    pub config_file: Option<PathBuf>,
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

/// Each flag whose switch is on.
fn push_flags(args: &mut Vec<OsString>, flags: &[(&str, bool)]) {
    args.extend(
        flags
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| OsString::from(f)),
    );
}

fn push_path(args: &mut Vec<OsString>, flag: &str, p: &Path) {
    args.push(flag.into());
    args.push(p.as_os_str().to_owned());
}

/// The options dump and restore share.
fn common(
    args: &mut Vec<OsString>,
    images: &Path,
    work: Option<&PathBuf>,
    log: &str,
    root: &Path,
    mode: Option<super::options::CgroupsMode>,
) {
    push_path(args, "--images-dir", images);
    if let Some(w) = work {
        push_path(args, "--work-dir", w);
    }
    push(args, &["--log-file", log, "-v4"]);
    push_path(args, "--root", root);
    match mode {
        Some(m) => args.push(format!("--manage-cgroups={}", m.name()).into()),
        None => args.push("--manage-cgroups".into()),
    }
}

/// `criu dump` (or `pre-dump`) for `checkpoint`.
pub fn dump_args(i: &DumpInput<'_>) -> Vec<OsString> {
    let o = i.opts;
    let mut a: Vec<OsString> = vec![if o.pre_dump { "pre-dump" } else { "dump" }.into()];
    push(&mut a, &["--tree", &i.pid.to_string()]);
    common(
        &mut a,
        &o.image_path,
        o.work_path.as_ref(),
        DUMP_LOG,
        i.rootfs,
        o.manage_cgroups_mode,
    );
    push_flags(
        &mut a,
        &[
            ("--shell-job", o.shell_job),
            ("--leave-running", o.leave_running),
            ("--tcp-established", o.tcp_established),
            ("--ext-unix-sk", o.ext_unix_sk),
            ("--file-locks", o.file_locks),
            ("--auto-dedup", o.auto_dedup),
            ("--lazy-pages", o.lazy_pages),
        ],
    );
    // runc always leaves the network namespace empty (it manages no network devices).
    push(&mut a, &["--empty-ns", "net"]);
    if o.lazy_pages && o.status_fd >= 0 {
        push(&mut a, &["--status-fd", &o.status_fd.to_string()]);
    }
    if let Some(ps) = o
        .page_server
        .as_ref()
        .filter(|p| !p.address.is_empty() && p.port != 0)
    {
        push(
            &mut a,
            &[
                "--page-server",
                "--address",
                &ps.address,
                "--port",
                &ps.port.to_string(),
            ],
        );
    }
    if let Some(parent) = &o.parent_path {
        push_path(&mut a, "--prev-images-dir", parent);
        a.push("--track-mem".into());
    }
    if let Some(f) = &i.freezer {
        push_path(&mut a, "--freeze-cgroup", f);
    }
    for (name, ino) in &i.external_ns {
        push(
            &mut a,
            &[
                "--external",
                &format!("{name}[{ino}]:{}", external_ns_key(name)),
            ],
        );
    }
    // The mounts CRIU cannot dump itself are external, named by their destination (pre-dump
    // dumps memory only).
    if !o.pre_dump {
        let mut dests: Vec<String> = bind_mounts(i.spec, i.bundle)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        dests.extend(i.cgroup_binds.iter().cloned());
        for d in dests.iter().chain(device_paths(i.spec).iter()) {
            push(&mut a, &["--ext-mount-map", &format!("{d}:{d}")]);
        }
        for m in &i.masked_files {
            push(
                &mut a,
                &["--ext-mount-map", &format!("{}:/dev/null", clean_dest(m))],
            );
        }
    }
    if let Some(c) = &i.config_file {
        push_path(&mut a, "--config", c);
    }
    a
}

/// What `restore` prepared.
#[derive(Debug, Clone)]
pub struct RestoreInput<'a> {
    pub opts: &'a RestoreOptions,
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    /// The rootfs bind-mounted at a fresh mount point (CRIU wants a mount point whose parent
    /// is not overmounted).
    pub criu_root: &'a Path,
    /// Where CRIU writes the restored init's pid.
    pub pid_file: &'a Path,
    /// `--cgroup-root` values: `controller:/path` per v1 controller, `:/path` for cgroup2.
    pub cgroup_roots: Vec<String>,
    /// The v1 cgroup binds: (destination, the new container's cgroup directory).
    pub cgroup_binds: Vec<(String, PathBuf)>,
    /// Namespaces the config names by path that CRIU joins (`--join-ns`): (name, path).
    pub join_ns: Vec<(&'static str, PathBuf)>,
    /// External namespaces handed over open (`--inherit-fd`): (CRIU's name, fd in CRIU).
    pub inherit_ns: Vec<(&'static str, i32)>,
    /// descriptors.json of the checkpoint.
    pub descriptors: &'a [String],
    /// The command CRIU runs at its action points (hooks), if any.
    pub action_script: Option<String>,
    pub config_file: Option<PathBuf>,
}

/// `criu restore` for `restore`. The restored init is CRIU's sibling (our child), and CRIU
/// exits once it runs (`--restore-detached`).
pub fn restore_args(i: &RestoreInput<'_>) -> Vec<OsString> {
    let o = i.opts;
    let mut a: Vec<OsString> = vec!["restore".into()];
    common(
        &mut a,
        &o.image_path,
        o.work_path.as_ref(),
        RESTORE_LOG,
        i.criu_root,
        o.manage_cgroups_mode,
    );
    push(&mut a, &["--restore-detached", "--restore-sibling"]);
    push_path(&mut a, "--pidfile", i.pid_file);
    a.push("--evasive-devices".into());
    for root in &i.cgroup_roots {
        push(&mut a, &["--cgroup-root", root]);
    }
    push_flags(
        &mut a,
        &[
            ("--shell-job", o.shell_job),
            ("--tcp-established", o.tcp_established),
            ("--ext-unix-sk", o.ext_unix_sk),
            ("--file-locks", o.file_locks),
            ("--auto-dedup", o.auto_dedup),
            ("--lazy-pages", o.lazy_pages),
        ],
    );
    push(&mut a, &["--empty-ns", "net"]);
    if let Some(p) = &o.lsm_profile {
        push(&mut a, &["--lsm-profile", p]);
    }
    if let Some(c) = &o.lsm_mount_context {
        push(&mut a, &["--lsm-mount-context", c]);
    }
    for (name, path) in &i.join_ns {
        push(
            &mut a,
            &["--join-ns", &format!("{name}:{}", path.to_string_lossy())],
        );
    }
    for (name, fd) in &i.inherit_ns {
        push(
            &mut a,
            &[
                "--inherit-fd",
                &format!("fd[{fd}]:{}", external_ns_key(name)),
            ],
        );
    }
    for (dest, src) in bind_mounts(i.spec, i.bundle) {
        push(
            &mut a,
            &[
                "--ext-mount-map",
                &format!("{dest}:{}", src.to_string_lossy()),
            ],
        );
    }
    for (dest, src) in &i.cgroup_binds {
        push(
            &mut a,
            &[
                "--ext-mount-map",
                &format!("{dest}:{}", src.to_string_lossy()),
            ],
        );
    }
    let masks = i
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref())
        .is_some_and(|m| !m.is_empty());
    if masks {
        push(&mut a, &["--ext-mount-map", "/dev/null:/dev/null"]);
    }
    for d in device_paths(i.spec) {
        push(&mut a, &["--ext-mount-map", &format!("{d}:{d}")]);
    }
    // The caller's pipes take the place of the checkpointed init's (runc: InheritFd).
    for (fd, what) in i.descriptors.iter().enumerate() {
        if what.contains("pipe:") {
            push(&mut a, &["--inherit-fd", &format!("fd[{fd}]:{what}")]);
        }
    }
    if let Some(s) = &i.action_script {
        push(&mut a, &["--action-script", s]);
    }
    if let Some(c) = &i.config_file {
        push_path(&mut a, "--config", c);
    }
    a
}

/// A word for `sh -c` (CRIU runs its action script through the shell): single-quoted.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::super::options::{CgroupsMode, PageServer};
    use super::*;

    fn spec() -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data/../vol", "type": "bind", "source": "/srv/vol", "options": ["rbind"]},
                {"destination": "/etc/hosts", "source": "hosts", "options": ["bind", "ro"]}
            ],
            "linux": {
                "maskedPaths": ["/proc/kcore"],
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
            }
        }))
        .unwrap()
    }

    fn s(a: &[OsString]) -> Vec<String> {
        a.iter().map(|x| x.to_string_lossy().into_owned()).collect()
    }

    fn has(a: &[String], seq: &[&str]) -> bool {
        a.windows(seq.len()).any(|w| w == seq)
    }

    #[test]
    fn destinations_are_cleaned_inside_root() {
        assert_eq!(clean_dest("/a/./b/../c"), "/a/c");
        assert_eq!(clean_dest("../../etc"), "/etc");
        assert_eq!(clean_dest("/"), "/");
    }

    #[test]
    fn minimal_dump_as_runc() {
        let spec = spec();
        let o = CheckpointOptions::new("criu".into(), "/img".into());
        let i = DumpInput {
            opts: &o,
            pid: 42,
            rootfs: Path::new("/b/rootfs"),
            bundle: Path::new("/b"),
            spec: &spec,
            freezer: Some("/sys/fs/cgroup/freezer/c1".into()),
            external_ns: vec![],
            masked_files: vec!["/proc/kcore".into()],
            cgroup_binds: vec!["/sys/fs/cgroup/memory".into()],
            config_file: None,
        };
        assert_eq!(
            s(&dump_args(&i)),
            [
                "dump",
                "--tree",
                "42",
                "--images-dir",
                "/img",
                "--log-file",
                "dump.log",
                "-v4",
                "--root",
                "/b/rootfs",
                "--manage-cgroups",
                "--empty-ns",
                "net",
                "--freeze-cgroup",
                "/sys/fs/cgroup/freezer/c1",
                "--ext-mount-map",
                "/vol:/vol",
                "--ext-mount-map",
                "/etc/hosts:/etc/hosts",
                "--ext-mount-map",
                "/sys/fs/cgroup/memory:/sys/fs/cgroup/memory",
                "--ext-mount-map",
                "/dev/fuse:/dev/fuse",
                "--ext-mount-map",
                "/proc/kcore:/dev/null",
            ]
        );
    }

    #[test]
    fn every_dump_flag() {
        let spec = spec();
        let mut o = CheckpointOptions::new("criu".into(), "/img".into());
        o.work_path = Some("/work".into());
        o.parent_path = Some("../parent".into());
        o.leave_running = true;
        o.tcp_established = true;
        o.ext_unix_sk = true;
        o.shell_job = true;
        o.lazy_pages = true;
        o.status_fd = 5;
        o.page_server = Some(PageServer {
            address: "10.0.0.1".into(),
            port: 27,
        });
        o.file_locks = true;
        o.manage_cgroups_mode = Some(CgroupsMode::Strict);
        o.auto_dedup = true;
        let i = DumpInput {
            opts: &o,
            pid: 7,
            rootfs: Path::new("/r"),
            bundle: Path::new("/b"),
            spec: &spec,
            freezer: None,
            external_ns: vec![("net", 4026532000), ("pid", 4026532001)],
            masked_files: vec![],
            cgroup_binds: vec![],
            config_file: Some("/etc/criu/runc.conf".into()),
        };
        let a = s(&dump_args(&i));
        for seq in [
            &["--work-dir", "/work"][..],
            &["--manage-cgroups=strict"],
            &["--shell-job"],
            &["--leave-running"],
            &["--tcp-established"],
            &["--ext-unix-sk"],
            &["--file-locks"],
            &["--auto-dedup"],
            &["--lazy-pages"],
            &["--status-fd", "5"],
            &["--page-server", "--address", "10.0.0.1", "--port", "27"],
            &["--prev-images-dir", "../parent", "--track-mem"],
            &["--external", "net[4026532000]:extRootNetNS"],
            &["--external", "pid[4026532001]:extRootPidNS"],
            &["--config", "/etc/criu/runc.conf"],
        ] {
            assert!(has(&a, seq), "{seq:?} in {a:?}");
        }
        assert!(!a.contains(&"--freeze-cgroup".to_string()));
    }

    #[test]
    fn pre_dump_has_no_external_mounts_and_status_fd_needs_lazy_pages() {
        let spec = spec();
        let mut o = CheckpointOptions::new("criu".into(), "/img".into());
        o.pre_dump = true;
        o.status_fd = 5;
        let i = DumpInput {
            opts: &o,
            pid: 7,
            rootfs: Path::new("/r"),
            bundle: Path::new("/b"),
            spec: &spec,
            freezer: None,
            external_ns: vec![],
            masked_files: vec!["/proc/kcore".into()],
            cgroup_binds: vec![],
            config_file: None,
        };
        let a = s(&dump_args(&i));
        assert_eq!(a[0], "pre-dump");
        assert!(!a.contains(&"--ext-mount-map".to_string()));
        assert!(!a.contains(&"--status-fd".to_string()));
        assert!(o.keeps_container());
    }

    fn restore_opts() -> RestoreOptions {
        RestoreOptions {
            criu: "criu".into(),
            id: "c1".into(),
            bundle: "/b".into(),
            console_socket: None,
            image_path: "/img".into(),
            work_path: None,
            tcp_established: false,
            ext_unix_sk: false,
            shell_job: false,
            file_locks: false,
            manage_cgroups_mode: None,
            detach: true,
            pid_file: None,
            auto_dedup: false,
            lazy_pages: false,
            lsm_profile: None,
            lsm_mount_context: None,
            cgroup_driver: crate::cgroups::Driver::Cgroupfs,
        }
    }

    #[test]
    fn minimal_restore_as_runc() {
        let spec = spec();
        let o = restore_opts();
        let desc = vec![
            "/dev/null".to_string(),
            "pipe:[1234]".to_string(),
            "pipe:[1235]".to_string(),
        ];
        let i = RestoreInput {
            opts: &o,
            spec: &spec,
            bundle: Path::new("/b"),
            criu_root: Path::new("/run/rrun/c1/criu-root"),
            pid_file: Path::new("/run/rrun/c1/criu.pid"),
            cgroup_roots: vec!["memory:/c1".into(), ":/c1".into()],
            cgroup_binds: vec![(
                "/sys/fs/cgroup/memory".into(),
                "/sys/fs/cgroup/memory/c1".into(),
            )],
            join_ns: vec![],
            inherit_ns: vec![],
            descriptors: &desc,
            action_script: None,
            config_file: None,
        };
        assert_eq!(
            s(&restore_args(&i)),
            [
                "restore",
                "--images-dir",
                "/img",
                "--log-file",
                "restore.log",
                "-v4",
                "--root",
                "/run/rrun/c1/criu-root",
                "--manage-cgroups",
                "--restore-detached",
                "--restore-sibling",
                "--pidfile",
                "/run/rrun/c1/criu.pid",
                "--evasive-devices",
                "--cgroup-root",
                "memory:/c1",
                "--cgroup-root",
                ":/c1",
                "--empty-ns",
                "net",
                "--ext-mount-map",
                "/vol:/srv/vol",
                "--ext-mount-map",
                "/etc/hosts:/b/hosts",
                "--ext-mount-map",
                "/sys/fs/cgroup/memory:/sys/fs/cgroup/memory/c1",
                "--ext-mount-map",
                "/dev/null:/dev/null",
                "--ext-mount-map",
                "/dev/fuse:/dev/fuse",
                "--inherit-fd",
                "fd[1]:pipe:[1234]",
                "--inherit-fd",
                "fd[2]:pipe:[1235]",
            ]
        );
    }

    #[test]
    fn every_restore_flag() {
        let spec = spec();
        let mut o = restore_opts();
        o.work_path = Some("/w".into());
        o.tcp_established = true;
        o.ext_unix_sk = true;
        o.shell_job = true;
        o.file_locks = true;
        o.manage_cgroups_mode = Some(CgroupsMode::Full);
        o.auto_dedup = true;
        o.lazy_pages = true;
        o.lsm_profile = Some("apparmor:p".into());
        o.lsm_mount_context = Some("system_u:object_r:container_file_t:s0".into());
        let i = RestoreInput {
            opts: &o,
            spec: &spec,
            bundle: Path::new("/b"),
            criu_root: Path::new("/cr"),
            pid_file: Path::new("/p"),
            cgroup_roots: vec![],
            cgroup_binds: vec![],
            join_ns: vec![("uts", "/run/netns/u".into())],
            inherit_ns: vec![("net", 3)],
            descriptors: &[],
            action_script: Some("'/usr/bin/rrun' --root '/r' criu-action 'c1'".into()),
            config_file: Some("/etc/criu/runc.conf".into()),
        };
        let a = s(&restore_args(&i));
        for seq in [
            &["--work-dir", "/w"][..],
            &["--manage-cgroups=full"],
            &["--shell-job"],
            &["--tcp-established"],
            &["--ext-unix-sk"],
            &["--file-locks"],
            &["--auto-dedup"],
            &["--lazy-pages"],
            &["--lsm-profile", "apparmor:p"],
            &[
                "--lsm-mount-context",
                "system_u:object_r:container_file_t:s0",
            ],
            &["--join-ns", "uts:/run/netns/u"],
            &["--inherit-fd", "fd[3]:extRootNetNS"],
            &[
                "--action-script",
                "'/usr/bin/rrun' --root '/r' criu-action 'c1'",
            ],
            &["--config", "/etc/criu/runc.conf"],
        ] {
            assert!(has(&a, seq), "{seq:?} in {a:?}");
        }
        assert!(!a.contains(&"--cgroup-root".to_string()));
    }

    #[test]
    fn criu_config_file_from_annotation() {
        let mut sp = spec();
        assert_eq!(
            criu_config_file(&sp),
            Some(PathBuf::from("/etc/criu/runc.conf"))
        );
        let mut ann = std::collections::HashMap::new();
        ann.insert("org.criu.config".to_string(), String::new());
        sp.set_annotations(Some(ann.clone()));
        assert_eq!(criu_config_file(&sp), None);
        ann.insert("org.criu.config".to_string(), "/c.conf".to_string());
        sp.set_annotations(Some(ann));
        assert_eq!(criu_config_file(&sp), Some(PathBuf::from("/c.conf")));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
