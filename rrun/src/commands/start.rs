//! `rrun start <id>`: release a created container's init.

use super::lifecycle;
use crate::logging::Logger;
use anyhow::Result;
use librrun::container::ContainerDir;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// the container id
    pub id: String,
}

pub fn cmd(root: &Path, a: &StartArgs, log: &Logger) -> Result<i32> {
    let dir = ContainerDir::open(root, &a.id)?;
    let st = dir.load()?;
    lifecycle::start(&dir, &st, log)?;
    Ok(0)
}
