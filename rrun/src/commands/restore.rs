//! `rrun restore [flags] <id>`: runc 1.1's flags. Without `-d` rrun stays, forwards signals to
//! the restored init, exits with its status and then deletes the container (as `run`).

use super::run::{block_forwarded_signals, supervise};
use crate::logging::Logger;
use anyhow::{Context, Result};
use librrun::cgroups::Driver;
use librrun::checkpoint::{self, CgroupsMode, RestoreOptions};
use librrun::container::Container;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// path to criu image files for restoring (default: ./checkpoint)
    #[arg(long)]
    pub image_path: Option<PathBuf>,
    /// path for saving work files and logs
    #[arg(long)]
    pub work_path: Option<PathBuf>,
    /// allow open tcp connections
    #[arg(long)]
    pub tcp_established: bool,
    /// allow external unix sockets
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// allow shell jobs
    #[arg(long)]
    pub shell_job: bool,
    /// handle file locks, for safety
    #[arg(long)]
    pub file_locks: bool,
    /// cgroups mode: 'soft' (default), 'full', 'strict' and 'ignore'
    #[arg(long, default_value = "")]
    pub manage_cgroups_mode: String,
    /// path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// specify the file to write the process id to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// disable the use of the subreaper used to reap reparented processes
    #[arg(long)]
    pub no_subreaper: bool,
    /// do not use pivot root to jail process inside rootfs (accepted; CRIU restores the mount namespace itself)
    #[arg(long)]
    pub no_pivot: bool,
    /// create a namespace, but don't restore its properties (rrun: network only)
    #[arg(long)]
    pub empty_ns: Vec<String>,
    /// enable auto deduplication of memory images
    #[arg(long)]
    pub auto_dedup: bool,
    /// use userfaultfd to lazily restore memory pages
    #[arg(long)]
    pub lazy_pages: bool,
    /// Specify an LSM profile to be used during restore in the form of TYPE:NAME
    #[arg(long)]
    pub lsm_profile: Option<String>,
    /// Specify an LSM mount context to be used during restore
    #[arg(long)]
    pub lsm_mount_context: Option<String>,
    /// the container id
    pub id: String,
}

#[derive(clap::Args, Debug)]
pub struct CriuActionArgs {
    /// the container id
    pub id: String,
}

pub fn cmd(root: &Path, criu: &Path, a: &RestoreArgs, log: &Logger, driver: Driver) -> Result<i32> {
    checkpoint::options::parse_empty_ns(&a.empty_ns)?;
    let o = RestoreOptions {
        criu: criu.to_path_buf(),
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        console_socket: a.console_socket.clone(),
        image_path: match &a.image_path {
            Some(p) => p.clone(),
            None => super::checkpoint::default_image_path()?,
        },
        work_path: a.work_path.clone(),
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        manage_cgroups_mode: CgroupsMode::parse(&a.manage_cgroups_mode)?,
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        auto_dedup: a.auto_dedup,
        lazy_pages: a.lazy_pages,
        lsm_profile: a.lsm_profile.clone(),
        lsm_mount_context: a.lsm_mount_context.clone(),
        cgroup_driver: driver,
    };
    if a.detach {
        checkpoint::restore(root, &o, log)?;
        return Ok(0);
    }
    // The restored init is our child (CRIU's sibling); what it leaves orphaned is reparented
    // to us unless --no-subreaper.
    if !a.no_subreaper {
        nix::sys::prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")?;
    }
    let sfd = block_forwarded_signals()?;
    let mut r = checkpoint::restore(root, &o, log)?;
    r.container.unlock();
    let code = supervise(r.pid, &sfd, None);
    if let Ok(c) = Container::open(root, &a.id) {
        let _ = c.kill_init();
        c.destroy(log)?;
    }
    code
}

/// `rrun criu-action <id>`, run by CRIU (CRTOOLS_SCRIPT_ACTION, CRTOOLS_INIT_PID).
pub fn criu_action(root: &Path, a: &CriuActionArgs) -> Result<i32> {
    let action = std::env::var("CRTOOLS_SCRIPT_ACTION").unwrap_or_default();
    let pid = std::env::var("CRTOOLS_INIT_PID")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    checkpoint::action(root, &a.id, &action, pid)?;
    Ok(0)
}
