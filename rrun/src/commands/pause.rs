//! `rrun pause <id>` and `rrun resume <id>`: freeze and thaw every process of the container
//! through its cgroup's freezer.

use super::lifecycle;
use anyhow::{bail, Result};
use librrun::container::state::Status;
use librrun::container::ContainerDir;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct PauseArgs {
    /// the container id
    pub id: String,
}

pub fn pause(root: &Path, a: &PauseArgs) -> Result<i32> {
    let dir = ContainerDir::open(root, &a.id)?;
    let st = dir.load()?;
    match lifecycle::status(&dir, &st) {
        Status::Running | Status::Created => {}
        Status::Paused => bail!("container already paused"),
        _ => bail!("container not running"),
    }
    let cg = lifecycle::cgroup_of(&st)?;
    cg.freeze()?;
    Ok(0)
}

pub fn resume(root: &Path, a: &PauseArgs) -> Result<i32> {
    let dir = ContainerDir::open(root, &a.id)?;
    let st = dir.load()?;
    if lifecycle::status(&dir, &st) != Status::Paused {
        bail!("container not paused");
    }
    let cg = lifecycle::cgroup_of(&st)?;
    cg.thaw()?;
    Ok(0)
}
