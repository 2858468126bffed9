//! `rrun delete [--force] <id>`.

use crate::logging::Logger;
use anyhow::Result;
use librrun::container::Container;
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
    Container::delete_by_id(root, &a.id, a.force, log)?;
    Ok(0)
}
