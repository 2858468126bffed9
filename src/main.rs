//! The rrun command line: runc's subcommands, flags and defaults. Each subcommand is one
//! module in commands/; this file only parses, sets up logging and reports errors.

mod commands;

use clap::{Parser, Subcommand};
use rrun::logging::{Format, Logger};
use std::path::PathBuf;

const VERSION_TEXT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("RRUN_COMMIT"),
    "\nspec: 1.2.1"
);

#[derive(Parser, Debug)]
#[command(
    name = "rrun",
    version = VERSION_TEXT,
    about = "rrun is a command line client for running applications packaged according to the Open Container Initiative (OCI) format",
    disable_version_flag = true
)]
pub struct Cli {
    /// root directory for storage of container state (this should be located in tmpfs)
    #[arg(long, global = true, default_value = "/run/rrun")]
    pub root: PathBuf,
    /// set the log file to write rrun logs to (default is '/dev/stderr')
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// set the log format ('text' (default), or 'json')
    #[arg(long, global = true, default_value = "text")]
    pub log_format: String,
    /// enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// enable systemd cgroup support, expects cgroupsPath to be of form "slice:prefix:name"
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// print the version
    #[arg(short = 'v', long, action = clap::ArgAction::Version)]
    version: Option<bool>,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// create a container
    Create(commands::create::CreateArgs),
    /// executes the user defined process in a created container
    Start(commands::start::StartArgs),
    /// create and run a container
    Run(commands::run::RunArgs),
    /// output the state of a container
    State(commands::state::StateArgs),
    /// kill sends the specified signal (default: SIGTERM) to the container's init process
    Kill(commands::kill::KillArgs),
    /// delete any resources held by the container often used with detached container
    Delete(commands::delete::DeleteArgs),
    /// lists containers started by rrun with the given root
    List(commands::list::ListArgs),
    /// create a new specification file
    Spec(commands::spec::SpecArgs),
}

fn logger(cli: &Cli) -> Result<Logger, String> {
    let format = match cli.log_format.as_str() {
        "text" => Format::Text,
        "json" => Format::Json,
        other => return Err(format!("invalid log-format: {other}")),
    };
    Ok(Logger {
        file: cli.log.clone(),
        format,
        debug: cli.debug,
    })
}

fn main() {
    let cli = Cli::parse();
    let log = match logger(&cli) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    match commands::dispatch(&cli, &log) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            log.error(&format!("{e:#}"));
            std::process::exit(1);
        }
    }
}
