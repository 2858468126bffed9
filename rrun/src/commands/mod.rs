//! One module per subcommand; each is thin: parse, call the library, print.

pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod restore;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use crate::logging::Logger;
use crate::{Cli, Cmd};
use anyhow::Result;

/// Write a command's output to stdout. A reader that went away (`rrun list | head`) ends the
/// command quietly, as SIGPIPE would end a C program; other write errors are errors.
pub fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => Ok(r?),
    }
}

/// Run the chosen subcommand; returns the process exit code.
pub fn dispatch(cli: &Cli, command: &Cmd, log: &Logger) -> Result<i32> {
    let root = &cli
        .root
        .clone()
        .unwrap_or_else(librrun::rootless::default_root_here);
    let driver = if cli.systemd_cgroup {
        librrun::cgroups::Driver::Systemd
    } else {
        librrun::cgroups::Driver::Cgroupfs
    };
    // Before rrun opens anything of its own: the fds it is to pass on must all be the
    // caller's (see librrun::init::fds::check_preserved).
    let listen_fds = || {
        std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let preserved = match command {
        Cmd::Create(a) => Some(a.preserve_fds.saturating_add(listen_fds())),
        Cmd::Run(a) => Some(a.create.preserve_fds.saturating_add(listen_fds())),
        Cmd::Exec(a) => Some(a.preserve_fds),
        _ => None,
    };
    if let Some(count) = preserved {
        librrun::init::fds::check_preserved(count)?;
    }
    let rootless = match cli.rootless.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    match command {
        Cmd::Create(a) => create::cmd(root, a, log, driver, rootless),
        Cmd::Start(a) => start::cmd(root, a, log),
        Cmd::Run(a) => run::cmd(root, a, log, driver, rootless),
        Cmd::State(a) => state::cmd(root, a),
        Cmd::Kill(a) => kill::cmd(root, a),
        Cmd::Delete(a) => delete::cmd(root, a, log),
        Cmd::List(a) => list::cmd(root, a),
        Cmd::Spec(a) => spec::cmd(a),
        Cmd::Pause(a) => pause::pause(root, a),
        Cmd::Resume(a) => pause::resume(root, a),
        Cmd::Ps(a) => ps::cmd(root, a),
        Cmd::Features => features::cmd(),
        Cmd::Exec(a) => exec::cmd(root, a, log),
        Cmd::Update(a) => update::cmd(root, a, log),
        Cmd::Events(a) => events::cmd(root, a),
        Cmd::Checkpoint(a) => checkpoint::cmd(root, &cli.criu, a, log),
        Cmd::Restore(a) => restore::cmd(root, &cli.criu, a, log, driver),
        Cmd::CriuAction(a) => restore::criu_action(root, a),
    }
}
