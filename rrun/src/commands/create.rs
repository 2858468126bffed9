//! `rrun create`: set up the container and leave its init blocked before exec until `start`.

use crate::logging::Logger;
use anyhow::Result;
use librrun::cgroups::Driver;
use librrun::container::{Console, Container, CreateOptions};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    /// path to the root of the bundle directory, defaults to the current directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// specify the file to write the process id to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// do not use pivot root to jail process inside rootfs. This should be used whenever the rootfs is on top of a ramdisk
    #[arg(long)]
    pub no_pivot: bool,
    /// do not create a new session keyring for the container. This will cause the container to inherit the calling processes session key
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// the container id
    pub id: String,
}

/// The library's options for these arguments.
pub fn options(
    args: &CreateArgs,
    console: Console,
    detach: bool,
    cgroup_driver: Driver,
    rootless: Option<bool>,
) -> CreateOptions {
    CreateOptions {
        id: args.id.clone(),
        bundle: args.bundle.clone(),
        console,
        detach,
        pid_file: args.pid_file.clone(),
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        preserve_fds: args.preserve_fds,
        cgroup_driver,
        rootless,
    }
}

pub fn cmd(
    root: &Path,
    args: &CreateArgs,
    log: &Logger,
    driver: Driver,
    rootless: Option<bool>,
) -> Result<i32> {
    let console = Console::Socket(args.console_socket.clone());
    Container::create(root, &options(args, console, true, driver, rootless), log)?;
    Ok(0)
}
