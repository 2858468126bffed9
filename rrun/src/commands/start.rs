//! `rrun start <id>`: release a created container's init.

use crate::logging::Logger;
use anyhow::Result;
use librrun::container::Container;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// the container id
    pub id: String,
}

pub fn cmd(root: &Path, a: &StartArgs, log: &Logger) -> Result<i32> {
    Container::open(root, &a.id)?.start(log)?;
    Ok(0)
}
