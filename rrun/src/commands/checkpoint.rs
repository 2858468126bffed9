//! `rrun checkpoint [flags] <id>`: runc 1.1's flags and defaults (the images in ./checkpoint).

use crate::logging::Logger;
use anyhow::{Context, Result};
use librrun::checkpoint::{self, CgroupsMode, CheckpointOptions, PageServer};
use librrun::container::Container;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct CheckpointArgs {
    /// path for saving criu image files (default: ./checkpoint)
    #[arg(long)]
    pub image_path: Option<PathBuf>,
    /// path for saving work files and logs
    #[arg(long)]
    pub work_path: Option<PathBuf>,
    /// path for previous criu image files in pre-dump
    #[arg(long)]
    pub parent_path: Option<PathBuf>,
    /// leave the process running after checkpointing
    #[arg(long)]
    pub leave_running: bool,
    /// allow open tcp connections
    #[arg(long)]
    pub tcp_established: bool,
    /// allow external unix sockets
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// allow shell jobs
    #[arg(long)]
    pub shell_job: bool,
    /// use userfaultfd to lazily restore memory pages
    #[arg(long)]
    pub lazy_pages: bool,
    /// criu writes \0 to this FD once lazy-pages is ready
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub status_fd: i32,
    /// ADDRESS:PORT of the page server
    #[arg(long)]
    pub page_server: Option<String>,
    /// handle file locks, for safety
    #[arg(long)]
    pub file_locks: bool,
    /// dump container's memory information only, leave the container running after this
    #[arg(long)]
    pub pre_dump: bool,
    /// cgroups mode: 'soft' (default), 'full', 'strict' and 'ignore'
    #[arg(long, default_value = "")]
    pub manage_cgroups_mode: String,
    /// create a namespace, but don't restore its properties (rrun: network only)
    #[arg(long)]
    pub empty_ns: Vec<String>,
    /// enable auto deduplication of memory images
    #[arg(long)]
    pub auto_dedup: bool,
    /// the container id
    pub id: String,
}

/// runc's default image path: `checkpoint` under the current directory.
pub fn default_image_path() -> Result<PathBuf> {
    Ok(std::env::current_dir()
        .context("current directory")?
        .join("checkpoint"))
}

pub fn cmd(root: &Path, criu: &Path, a: &CheckpointArgs, log: &Logger) -> Result<i32> {
    checkpoint::options::parse_empty_ns(&a.empty_ns)?;
    let mut o = CheckpointOptions::new(
        criu.to_path_buf(),
        match &a.image_path {
            Some(p) => p.clone(),
            None => default_image_path()?,
        },
    );
    o.work_path = a.work_path.clone();
    o.parent_path = a.parent_path.clone();
    o.leave_running = a.leave_running;
    o.tcp_established = a.tcp_established;
    o.ext_unix_sk = a.ext_unix_sk;
    o.shell_job = a.shell_job;
    o.lazy_pages = a.lazy_pages;
    o.status_fd = a.status_fd;
    o.page_server = a
        .page_server
        .as_deref()
        .map(PageServer::parse)
        .transpose()?;
    o.file_locks = a.file_locks;
    o.pre_dump = a.pre_dump;
    o.manage_cgroups_mode = CgroupsMode::parse(&a.manage_cgroups_mode)?;
    o.auto_dedup = a.auto_dedup;
    let c = Container::open(root, &a.id)?;
    checkpoint::checkpoint(c, &o, log)?;
    Ok(0)
}
