//! `rrun kill [--all] <id> [SIGNAL]`: signal the init (or, with --all, every process of the
//! container).

use anyhow::Result;
use librrun::container::Container;
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
    Container::open(root, &a.id)?.kill(sig, a.all)?;
    Ok(0)
}
