//! `rrun state <id>`: the runtime-spec state as JSON (indented like runc's).

use anyhow::Result;
use librrun::container::Container;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct StateArgs {
    /// the container id
    pub id: String,
}

pub fn cmd(root: &Path, a: &StateArgs) -> Result<i32> {
    let oci = Container::open_unlocked(root, &a.id)?.oci_state();
    super::emit(&(serde_json::to_string_pretty(&oci)? + "\n"))?;
    Ok(0)
}
