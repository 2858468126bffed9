//! `rrun pause <id>` and `rrun resume <id>`: freeze and thaw every process of the container
//! through its cgroup's freezer.

use anyhow::Result;
use librrun::container::Container;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct PauseArgs {
    /// the container id
    pub id: String,
}

pub fn pause(root: &Path, a: &PauseArgs) -> Result<i32> {
    Container::open(root, &a.id)?.pause()?;
    Ok(0)
}

pub fn resume(root: &Path, a: &PauseArgs) -> Result<i32> {
    Container::open(root, &a.id)?.resume()?;
    Ok(0)
}
