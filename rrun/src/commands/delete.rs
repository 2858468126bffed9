//! `rrun delete [--force] <id>`.

use super::lifecycle;
use crate::logging::Logger;
use anyhow::{bail, Result};
use librrun::container::state::Status;
use librrun::container::{ContainerDir, ContainerError};
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Forcibly deletes the container if it is still running (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// the container id
    pub id: String,
}

pub fn cmd(root: &Path, a: &DeleteArgs, log: &Logger) -> Result<i32> {
    let opened = if a.force {
        ContainerDir::open_even_without_state(root, &a.id)
    } else {
        ContainerDir::open(root, &a.id)
    };
    let dir = match opened {
        Ok(d) => d,
        // runc: deleting a container that does not exist is fine with --force.
        Err(ContainerError::NotExist) if a.force => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    if !dir.has_state() {
        // A create killed before its first state.json (we hold the lock, so it is gone):
        // nothing else of it exists yet.
        dir.remove()?;
        return Ok(0);
    }
    let st = match dir.load() {
        Ok(st) => st,
        // An unreadable state names no process or cgroup: with --force, the directory goes
        // (said in the log), so the id can be used again.
        Err(e @ ContainerError::Corrupt { .. }) if a.force => {
            log.warn(&format!("{e}; removing the container's directory"));
            dir.remove()?;
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
    };
    match lifecycle::status(&dir, &st) {
        Status::Stopped => {}
        Status::Created => lifecycle::kill_init(&st)?,
        s if a.force => {
            let _ = s;
            lifecycle::kill_init(&st)?;
        }
        s => bail!("cannot delete container {} that is not stopped: {s}", a.id),
    }
    librrun::faults::point("delete:killed");
    lifecycle::destroy(dir, &st, log)?;
    Ok(0)
}
