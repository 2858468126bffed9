//! [`Container`]: an existing container (its state directory, locked or not, and its saved
//! state) and what callers do with it. Every operation asks [`super::operation::decide`]
//! first, so the rules of which status allows what live in one table.

use super::dir::ContainerDir;
use super::error::ContainerError;
use super::operation::{decide, Decision, Operation};
use super::state::{OciState, SavedState, Status};
use crate::cgroups::{self, Manager};
use crate::hooks::{self, DefaultEnv, Kind};
use crate::log::Log;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long `delete` waits for an init to die after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// An existing container.
#[derive(Debug)]
pub struct Container {
    pub(super) dir: ContainerDir,
    pub(super) state: SavedState,
}

impl Container {
    /// Open and lock a container (commands that change it).
    pub fn open(root: &Path, id: &str) -> Result<Container, ContainerError> {
        let dir = ContainerDir::open(root, id)?;
        let state = dir.load()?;
        Ok(Container { dir, state })
    }

    /// Open a container to read it (`state`, `list`, `ps`, `events`), without the lock.
    pub fn open_unlocked(root: &Path, id: &str) -> Result<Container, ContainerError> {
        let dir = ContainerDir::open_unlocked(root, id)?;
        let state = dir.load()?;
        Ok(Container { dir, state })
    }

    /// A container whose directory the caller has just made and locked (`restore`).
    pub(crate) fn from_parts(dir: ContainerDir, state: SavedState) -> Container {
        Container { dir, state }
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// What rrun saved about the container.
    pub fn saved(&self) -> &SavedState {
        &self.state
    }

    /// The container's state directory.
    pub fn path(&self) -> &Path {
        &self.dir.path
    }

    /// Let other commands lock the container (a foreground `run` or `exec` while its process
    /// runs); the state read so far is kept.
    pub fn unlock(&mut self) {
        self.dir.release_lock();
    }

    /// The status, derived from the init process (never trusted from disk).
    pub fn status(&self) -> Status {
        self.state.status(
            &self.dir.path,
            || self.dir.locked_by_another(),
            || {
                self.cgroup()
                    .is_ok_and(|cg| cg.is_frozen().unwrap_or(false))
            },
        )
    }

    /// The runtime-spec state, as `rrun state` prints it.
    pub fn oci_state(&self) -> OciState {
        self.state.oci(self.status())
    }

    /// What the status table says about `op` now; a refusal is an error.
    pub fn check(&self, op: Operation) -> Result<Decision, ContainerError> {
        let status = self.status();
        match decide(op, status) {
            Decision::Refuse(template) => Err(ContainerError::NotAllowed {
                id: self.state.id.clone(),
                op,
                status,
                template,
            }),
            d => Ok(d),
        }
    }

    /// The container's cgroup: the directories its state saved or, for a state that saved
    /// none (written by hand, or by an older rrun), the ones its linux.cgroupsPath names;
    /// either way checked to be the container's own.
    pub fn cgroup(&self) -> Result<Box<dyn Manager>, ContainerError> {
        let st = &self.state;
        if st.no_cgroup {
            return Ok(Box::new(cgroups::detached::Detached::existing(st.init_pid)));
        }
        let layout = cgroups::detect()?;
        let cgroups_path = st
            .config
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().as_ref())
            .map(|p| p.to_string_lossy().into_owned());
        let live_init = st.init_alive().then_some(st.init_pid);
        let driver = if st.systemd_cgroup {
            cgroups::Driver::Systemd
        } else {
            cgroups::Driver::Cgroupfs
        };
        if st.cgroup_paths.is_empty() {
            // Issue 16: a state without cgroup_paths leaked the container's cgroups at delete.
            return Ok(cgroups::container_manager_from_config(
                &layout,
                cgroups_path.as_deref(),
                &st.id,
                live_init,
                driver,
            )?);
        }
        Ok(cgroups::container_manager(
            &layout,
            &st.cgroup_paths,
            cgroups_path.as_deref(),
            &st.id,
            live_init,
            driver,
        )?)
    }

    /// `start`: release the init through the start fifos (waiting until the container's
    /// program is executed, and reporting an init that failed instead), then run the poststart
    /// hooks; a failing one is a warning, the container already runs.
    pub fn start(&self, log: &dyn Log) -> Result<(), ContainerError> {
        self.check(Operation::Start)?;
        let st = &self.state;
        super::start_fifos::release(&self.dir.path, &|| st.init_alive())?;
        let state = st.oci(Status::Running).to_json();
        for e in hooks::run_all_warn(
            Kind::Poststart,
            &Kind::Poststart.of(&st.config),
            &state,
            DefaultEnv::Runtime,
        ) {
            log.warn(&e.to_string());
        }
        Ok(())
    }

    /// Send `signal` to the init, or with `all` to every process of the container.
    pub fn kill(&self, signal: i32, all: bool) -> Result<(), ContainerError> {
        self.check(Operation::Kill)?;
        if all {
            let sig = Signal::try_from(signal).map_err(|_| ContainerError::SignalForAll(signal))?;
            self.cgroup()?.signal_all(sig)?;
            return Ok(());
        }
        let pid = self.state.init_pid;
        match crate::signals::send(pid, signal) {
            Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
            Err(source) => Err(ContainerError::Kill {
                pid,
                signal,
                source,
            }),
        }
    }

    /// Freeze every process of the container.
    pub fn pause(&self) -> Result<(), ContainerError> {
        self.check(Operation::Pause)?;
        Ok(self.cgroup()?.freeze()?)
    }

    /// Thaw a paused container.
    pub fn resume(&self) -> Result<(), ContainerError> {
        self.check(Operation::Resume)?;
        Ok(self.cgroup()?.thaw()?)
    }

    /// The host pids of the container's processes.
    pub fn pids(&self) -> Result<Vec<i32>, ContainerError> {
        self.check(Operation::Ps)?;
        Ok(self.cgroup()?.pids()?)
    }

    /// Change the cgroup limits: `update` (a linux.resources JSON object) is merged into the
    /// saved config, so later updates and `state` build on it. Device rules are set at create
    /// and not changed (rewriting them would deny every device for a moment).
    pub fn update(
        &mut self,
        update: serde_json::Value,
        log: &dyn Log,
    ) -> Result<(), ContainerError> {
        self.check(Operation::Update)?;
        let cg = self.cgroup()?;
        let bad = ContainerError::BadResources;
        let mut config = serde_json::to_value(&self.state.config).map_err(bad)?;
        let mut merged = config["linux"]["resources"].take();
        if merged.is_null() {
            merged = serde_json::json!({});
        }
        merge(&mut merged, update);
        let mut resources: oci_spec::runtime::LinuxResources =
            serde_json::from_value(merged).map_err(bad)?;
        let devices = resources.devices().clone();
        resources.set_devices(None);
        cg.apply(&resources, log)?;
        resources.set_devices(devices);
        config["linux"]["resources"] = serde_json::to_value(&resources).map_err(bad)?;
        self.state.config = serde_json::from_value(config).map_err(bad)?;
        self.dir.save(&self.state)
    }

    /// `delete [--force]`: a stopped container goes; a created one (or, with `force`, a live
    /// one) after its init is killed.
    pub fn delete(self, force: bool, log: &dyn Log) -> Result<(), ContainerError> {
        if self.check(Operation::Delete { force })? == Decision::KillInitFirst {
            self.give_back_net_devices(log);
            self.kill_init()?;
        }
        crate::faults::point("delete:killed");
        self.destroy(log)
    }

    /// `delete` by id, also of what a killed `create` left: with `force`, a directory without
    /// a state or with a corrupt one goes too, and an unknown id is not an error (runc's
    /// rule).
    pub fn delete_by_id(
        root: &Path,
        id: &str,
        force: bool,
        log: &dyn Log,
    ) -> Result<(), ContainerError> {
        if !force {
            return Container::open(root, id)?.delete(false, log);
        }
        let dir = match ContainerDir::open_even_without_state(root, id) {
            Ok(d) => d,
            Err(ContainerError::NotExist) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !dir.has_state() {
            // A create killed before its first state.json (we hold the lock, so it is gone):
            // nothing else of it exists yet.
            return dir.remove();
        }
        match dir.load() {
            Ok(state) => Container { dir, state }.delete(true, log),
            // An unreadable state names no process or cgroup: the directory goes (said in
            // the log), so the id can be used again.
            Err(e @ ContainerError::Corrupt { .. }) => {
                log.warn(&format!("{e}; removing the container's directory"));
                dir.remove()
            }
            Err(e) => Err(e),
        }
    }

    /// linux.netDevices go back to the host while the container's network namespace still
    /// exists (a failure is a warning: the delete goes on).
    fn give_back_net_devices(&self, log: &dyn Log) {
        let st = &self.state;
        let Ok(devices) = crate::netdev::plan(&st.config) else {
            return;
        };
        if devices.is_empty() || !st.init_alive() {
            return;
        }
        if let Err(e) = crate::netdev::move_out(&devices, st.init_pid) {
            log.warn(&e.to_string());
        }
    }

    /// Wait up to `limit` for the init to be gone.
    pub fn wait_gone(&self, limit: Duration) -> bool {
        let st = &self.state;
        let deadline = Instant::now() + limit;
        while st.init_alive() {
            if Instant::now() >= deadline {
                return false;
            }
            // Reap it if it is our child (after `run`); otherwise its parent does.
            let _ = nix::sys::wait::waitpid(
                Pid::from_raw(st.init_pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// SIGKILL the init and wait for it to go.
    pub fn kill_init(&self) -> Result<(), ContainerError> {
        let pid = self.state.init_pid;
        if self.state.init_alive() {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            // A frozen (paused) process takes its SIGKILL only once thawed, as runc does.
            if let Ok(cg) = self.cgroup() {
                if cg.is_frozen().unwrap_or(false) {
                    let _ = cg.thaw();
                }
            }
        }
        if !self.wait_gone(KILL_WAIT) {
            return Err(ContainerError::InitWontDie { pid });
        }
        Ok(())
    }

    /// Remove a stopped container: what is left in its cgroup, the cgroup, poststop hooks
    /// (a failing one is a warning), its state directory.
    pub fn destroy(self, log: &dyn Log) -> Result<(), ContainerError> {
        let cg = self.cgroup()?;
        // Without a pid namespace, processes the init left behind are still in the cgroup.
        cg.kill_all()?;
        cg.destroy()?;
        let st = &self.state;
        let state = st.oci(Status::Stopped).to_json();
        for e in hooks::run_all_warn(
            Kind::Poststop,
            &Kind::Poststop.of(&st.config),
            &state,
            DefaultEnv::Runtime,
        ) {
            log.warn(&e.to_string());
        }
        self.dir.remove()
    }

    /// Undo a container whose start failed: kill the init, destroy; errors are dropped (the
    /// start's error is the one to report).
    pub fn abort(self, log: &dyn Log) {
        let _ = self.kill_init();
        let _ = self.destroy(log);
    }
}

/// Objects merge key by key; anything else is replaced.
fn merge(base: &mut serde_json::Value, update: serde_json::Value) {
    use serde_json::Value;
    match (base, update) {
        (Value::Object(b), Value::Object(u)) => {
            for (k, v) in u {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, u) => *b = u,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_keeps_other_fields() {
        let mut base = json!({"memory": {"limit": 1, "swap": 2}, "pids": {"limit": 5}});
        merge(&mut base, json!({"memory": {"limit": 3}}));
        assert_eq!(
            base,
            json!({"memory": {"limit": 3, "swap": 2}, "pids": {"limit": 5}})
        );
    }
}
