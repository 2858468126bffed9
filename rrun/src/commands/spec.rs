//! `rrun spec [--rootless] [--bundle DIR]`: write a starting config.json (runc's defaults).

use anyhow::{bail, Context, Result};
use librrun::spec::template::{default_spec, rootless_spec};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

pub fn cmd(a: &SpecArgs) -> Result<i32> {
    let path = a.bundle.join(librrun::spec::CONFIG_FILE);
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let spec = if a.rootless {
        rootless_spec(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    } else {
        default_spec()
    };
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}
