//! `checkpoint`: what rrun finds about a running container for CRIU, the descriptors.json runc
//! writes beside the images, the `criu dump` run, and after it runc's state transition: the
//! container is destroyed (its processes are gone, CRIU killed them) unless it was left
//! running or only pre-dumped. A failed dump leaves the container as it was, and the image
//! directory with only what CRIU wrote (its log).

use super::criu;
use super::error::CheckpointError;
use super::options::CheckpointOptions;
use super::plan::{self, DumpInput};
use crate::cgroups::{CgroupMount, Manager};
use crate::container::{Container, Operation};
use crate::log::Log;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = path.to_path_buf();
    move |source| CheckpointError::Io { op, path, source }
}

/// mkdir that accepts an existing directory (a container can be checkpointed many times).
pub(super) fn mkdir(path: &Path) -> Result<(), CheckpointError> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(io("mkdir", path)(e)),
        _ => Ok(()),
    }
}

/// `--status-fd` must be open for writing (runc checks with F_GETFL; the flags are read from
/// /proc/self/fdinfo here).
fn check_status_fd(fd: i32) -> Result<(), CheckpointError> {
    let bad = |why: &str| CheckpointError::StatusFd {
        fd,
        why: why.to_string(),
    };
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .map_err(|e| bad(&e.to_string()))?;
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .ok_or_else(|| bad("no flags in fdinfo"))?;
    if flags & 3 == 0 {
        return Err(bad("not writable"));
    }
    Ok(())
}

/// The config's namespaces of `typ` given by path, as CRIU's external namespace (inode).
fn external_ns(spec: &Spec) -> Result<Vec<(&'static str, u64)>, CheckpointError> {
    let mut out = Vec::new();
    let list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for (typ, name) in [
        (LinuxNamespaceType::Network, "net"),
        (LinuxNamespaceType::Pid, "pid"),
    ] {
        if let Some(p) = list
            .iter()
            .find(|n| n.typ() == typ)
            .and_then(|n| n.path().as_ref())
        {
            let m = std::fs::metadata(p).map_err(io("stat", p))?;
            out.push((name, m.ino()));
        }
    }
    Ok(out)
}

/// Masked paths that are files in the running container (runc: stat through
/// /proc/PID/root; directories are masked with a tmpfs, which CRIU dumps itself).
fn masked_files(spec: &Spec, pid: i32) -> Vec<String> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| {
            std::fs::metadata(format!("/proc/{pid}/root/{}", p.trim_start_matches('/')))
                .is_ok_and(|m| !m.is_dir())
        })
        .collect()
}

/// The v1 cgroup binds of the container's `cgroup` mount: (destination, host directory).
/// None with a cgroup namespace (real mounts) or on pure v2.
pub(super) fn cgroup_binds(spec: &Spec, cg: &dyn Manager) -> Vec<(String, PathBuf)> {
    if crate::spec::has_namespace(spec, LinuxNamespaceType::Cgroup) {
        return Vec::new();
    }
    let Some(dest) = spec
        .mounts()
        .iter()
        .flatten()
        .find(|m| m.typ().as_deref() == Some("cgroup"))
        .map(|m| m.destination().clone())
    else {
        return Vec::new();
    };
    cg.mounts(false)
        .into_iter()
        .filter_map(|m| match m {
            CgroupMount::Mount {
                source,
                relative,
                flags,
                ..
            } if flags.contains(nix::mount::MsFlags::MS_BIND)
                && !relative.as_os_str().is_empty() =>
            {
                Some((
                    plan::clean_dest(&dest.join(relative).to_string_lossy()),
                    PathBuf::from(source),
                ))
            }
            _ => None,
        })
        .collect()
}

/// The config file CRIU reads, when it exists.
pub(super) fn existing_config_file(spec: &Spec) -> Option<PathBuf> {
    plan::criu_config_file(spec).filter(|p| p.exists())
}

/// `checkpoint`. On success without `--leave-running`/`--pre-dump` the container is
/// destroyed (poststop hooks run, as runc's `destroy`).
pub fn checkpoint(
    c: Container,
    opts: &CheckpointOptions,
    log: &dyn Log,
) -> Result<(), CheckpointError> {
    c.check(Operation::Checkpoint)?;
    if opts.image_path.as_os_str().is_empty() {
        return Err(CheckpointError::NoImagePath);
    }
    if opts.lazy_pages && opts.status_fd >= 0 {
        check_status_fd(opts.status_fd)?;
    }
    let st = c.saved();
    let pid = st.init_pid;
    let cg = c.cgroup()?;
    let paths = cg.paths();
    let freezer = paths
        .get("freezer")
        .or_else(|| {
            // Pure v2: the cgroup2 directory freezes.
            (paths.len() == 1)
                .then(|| paths.get(crate::cgroups::UNIFIED_KEY))
                .flatten()
        })
        .cloned();
    let input = DumpInput {
        opts,
        pid,
        rootfs: &st.rootfs,
        bundle: &st.bundle,
        spec: &st.config,
        freezer,
        external_ns: external_ns(&st.config)?,
        masked_files: masked_files(&st.config, pid),
        cgroup_binds: cgroup_binds(&st.config, &*cg)
            .into_iter()
            .map(|(d, _)| d)
            .collect(),
        config_file: existing_config_file(&st.config),
    };
    let args = plan::dump_args(&input);

    mkdir(&opts.image_path)?;
    let log_dir = match &opts.work_path {
        Some(w) => {
            mkdir(w)?;
            w.clone()
        }
        None => opts.image_path.clone(),
    };
    let descriptors_path = opts.image_path.join(plan::DESCRIPTORS);
    if !opts.pre_dump {
        // What the container was made with (runc's rule); a state saved by an older rrun has
        // none, and the init's fds now stand in.
        let stdio = st
            .stdio
            .clone()
            .unwrap_or_else(|| crate::container::state::stdio_of(&pid.to_string()));
        let json = serde_json::to_vec(&stdio).expect("strings serialise");
        std::fs::write(&descriptors_path, json).map_err(io("write", &descriptors_path))?;
    }
    let ran = criu::run(&opts.criu, &args, true, log);
    let ran = match ran {
        Ok(r) if r.status.success() => r,
        failed => {
            // Nothing of ours stays beside what CRIU wrote; the container is untouched.
            if !opts.pre_dump {
                let _ = std::fs::remove_file(&descriptors_path);
            }
            let r = failed?;
            let action = if opts.pre_dump { "pre-dump" } else { "dump" };
            return Err(criu::failure(action, &r, log_dir.join(plan::DUMP_LOG)));
        }
    };
    drop(ran);
    if opts.keeps_container() {
        return Ok(());
    }
    // CRIU killed the container's processes after the dump; what is left goes with it. A
    // container checkpointed while paused is thawed first (SIGKILL waits for the thaw).
    if cg.is_frozen().unwrap_or(false) {
        cg.thaw()?;
    }
    c.kill_init()?;
    c.destroy(log)?;
    Ok(())
}
