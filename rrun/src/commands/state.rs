//! `rrun state <id>`: the runtime-spec state as JSON (indented like runc's).

use super::lifecycle;
use anyhow::Result;
use librrun::container::ContainerDir;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct StateArgs {
    /// the container id
    pub id: String,
}

pub fn cmd(root: &Path, a: &StateArgs) -> Result<i32> {
    let dir = ContainerDir::open_unlocked(root, &a.id)?;
    let st = dir.load()?;
    let oci = st.oci(lifecycle::status(&dir, &st));
    super::emit(&(serde_json::to_string_pretty(&oci)? + "\n"))?;
    Ok(0)
}
