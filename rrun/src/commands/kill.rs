//! `rrun kill [--all] <id> [SIGNAL]`: signal the init (or, with --all, every process of the
//! container).

use super::lifecycle;
use anyhow::{bail, Result};
use librrun::container::state::Status;
use librrun::container::ContainerDir;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// send the specified signal to all processes inside the container
    #[arg(short, long)]
    pub all: bool,
    /// the container id
    pub id: String,
    /// the signal (name or number), SIGTERM by default
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn cmd(root: &Path, a: &KillArgs) -> Result<i32> {
    let sig = librrun::signals::parse(&a.signal)?;
    let dir = ContainerDir::open(root, &a.id)?;
    let st = dir.load()?;
    if lifecycle::status(&dir, &st) == Status::Stopped {
        bail!("container not running");
    }
    if a.all {
        let sig = nix::sys::signal::Signal::try_from(sig)
            .map_err(|_| anyhow::anyhow!("signal {sig} cannot be sent to all processes"))?;
        lifecycle::cgroup_of(&st)?.signal_all(sig)?;
        return Ok(0);
    }
    // SAFETY: kill(2) of the init, whose pid and start time were just checked.
    if unsafe { libc::kill(st.init_pid, sig) } != 0 {
        let e = nix::Error::last();
        if e != nix::Error::ESRCH {
            bail!("kill pid {} with signal {sig}: {e}", st.init_pid);
        }
    }
    Ok(0)
}
