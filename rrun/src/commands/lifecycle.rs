//! The steps several commands share: the cleanup of a failed create, `start`'s hand-over
//! through the exec fifo, waiting for an init to die, and destroying a stopped container.

use crate::logging::Logger;
use anyhow::{bail, Result};
use librrun::cgroups::{self, Manager};
use librrun::container::state::{SavedState, Status};
use librrun::container::ContainerDir;
use librrun::hooks::{self, Kind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Undoes a create that did not finish: kills the init (if any) and removes the state dir.
/// Disarmed once the container exists.
pub struct Cleanup {
    dir: PathBuf,
    pub init_pid: Option<i32>,
    pub cgroup: Option<Box<dyn Manager>>,
    armed: bool,
}

impl Cleanup {
    pub fn new(dir: PathBuf) -> Cleanup {
        Cleanup {
            dir,
            init_pid: None,
            cgroup: None,
            armed: true,
        }
    }
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.init_pid {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.kill_all();
            let _ = cg.destroy();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The cgroup of an existing container: the directories its state saved or, for a state that
/// saved none (written by hand, or by an older rrun), the ones its linux.cgroupsPath names;
/// either way checked to be the container's own.
pub fn cgroup_of(st: &SavedState) -> Result<Box<dyn Manager>> {
    let layout = cgroups::detect()?;
    let cgroups_path = st
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let live_init = st.init_alive().then_some(st.init_pid);
    if st.cgroup_paths.is_empty() {
        // Issue 16: a state without cgroup_paths leaked the container's cgroups at delete.
        return Ok(cgroups::container_manager_from_config(
            &layout,
            cgroups_path.as_deref(),
            &st.id,
            live_init,
        )?);
    }
    Ok(cgroups::container_manager(
        &layout,
        &st.cgroup_paths,
        cgroups_path.as_deref(),
        &st.id,
        live_init,
    )?)
}

/// The derived status of a container.
pub fn status(dir: &ContainerDir, st: &SavedState) -> Status {
    st.status(
        &dir.path,
        || dir.locked_by_another(),
        || cgroup_of(st).is_ok_and(|cg| cg.is_frozen().unwrap_or(false)),
    )
}

/// Release the init through the start fifos; waits until the container's program is executed
/// and reports an init that failed instead.
pub fn release_init(dir: &ContainerDir, st: &SavedState) -> Result<()> {
    librrun::container::start_fifos::release(&dir.path, &|| st.init_alive())?;
    Ok(())
}

/// `start` on a locked, created container: release the init, then run poststart hooks.
pub fn start(dir: &ContainerDir, st: &SavedState, log: &Logger) -> Result<()> {
    match status(dir, st) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Running => bail!("cannot start an already running container"),
        s => bail!("cannot start a container in the {s} state"),
    }
    release_init(dir, st)?;
    let state = serde_json::to_vec(&st.oci(Status::Running))?;
    // A failing poststart hook is a warning: the container is already running.
    for e in hooks::run_all_warn(Kind::Poststart, &Kind::Poststart.of(&st.config), &state) {
        log.warn(&e.to_string());
    }
    Ok(())
}

/// Wait up to `limit` for the init to be gone.
pub fn wait_gone(st: &SavedState, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while st.init_alive() {
        if Instant::now() >= deadline {
            return false;
        }
        // Reap it if it is our child (after `run`); otherwise its parent does.
        let _ = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(st.init_pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// SIGKILL the init and wait for it to go.
pub fn kill_init(st: &SavedState) -> Result<()> {
    if st.init_alive() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(st.init_pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    if !wait_gone(st, Duration::from_secs(10)) {
        bail!(
            "container init (pid {}) did not die after SIGKILL",
            st.init_pid
        );
    }
    Ok(())
}

/// Remove a stopped container: what is left in its cgroup, the cgroup, poststop hooks, its
/// state directory.
pub fn destroy(dir: ContainerDir, st: &SavedState, log: &Logger) -> Result<()> {
    let cg = cgroup_of(st)?;
    // Without a pid namespace, processes the init left behind are still in the cgroup.
    cg.kill_all()?;
    cg.destroy()?;
    let state = serde_json::to_vec(&st.oci(Status::Stopped))?;
    for e in hooks::run_all_warn(Kind::Poststop, &Kind::Poststop.of(&st.config), &state) {
        log.warn(&e.to_string());
    }
    dir.remove()?;
    Ok(())
}
