#![forbid(unsafe_code)]
//! The rrun command line: runc's subcommands, flags and defaults. Each subcommand is one
//! module in commands/; this file only parses, sets up logging and reports errors.

mod commands;
mod logging;

use crate::logging::{Format, Logger};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// `rrun --version`, in runc's layout (dockerd parses the first two lines).
const VERSION_TEXT: &str = concat!(
    "rrun version ",
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("RRUN_COMMIT"),
    "\nspec: 1.2.1"
);

#[derive(Parser, Debug)]
#[command(
    name = "rrun",
    about = "rrun is a command line client for running applications packaged according to the Open Container Initiative (OCI) format",
    disable_version_flag = true
)]
pub struct Cli {
    /// root directory for storage of container state (this should be located in tmpfs)
    /// [default: /run/rrun, or $XDG_RUNTIME_DIR/rrun for a rootless rrun]
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
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
    /// ignore cgroup permission errors ('true', 'false', or 'auto')
    // Not global (it goes before the subcommand, as with runc): `spec --rootless` is another flag.
    #[arg(long, default_value = "auto", value_parser = ["true", "false", "auto"])]
    pub rootless: String,
    /// path to the criu binary used for checkpoint and restore
    #[arg(long, global = true, default_value = "criu")]
    pub criu: PathBuf,
    /// print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Cmd>,
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
    /// pause suspends all processes inside the container
    Pause(commands::pause::PauseArgs),
    /// resumes all processes that have been previously paused
    Resume(commands::pause::PauseArgs),
    /// ps displays the processes running inside a container
    Ps(commands::ps::PsArgs),
    /// show the enabled features
    Features,
    /// execute new process inside the container
    Exec(commands::exec::ExecArgs),
    /// update container resource constraints
    Update(commands::update::UpdateArgs),
    /// display container events such as OOM notifications, cpu, memory, and IO usage statistics
    Events(commands::events::EventsArgs),
    /// checkpoint a running container
    Checkpoint(commands::checkpoint::CheckpointArgs),
    /// restore a container from a previous checkpoint
    Restore(commands::restore::RestoreArgs),
    /// run by criu restore at its action points (runs the hooks at setup-namespaces)
    #[command(hide = true, name = "criu-action")]
    CriuAction(commands::restore::CriuActionArgs),
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

/// The error and its causes on one line. Most of rrun's errors already print their cause, so a
/// cause is appended only when its text is not in the line yet.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    one_line(&text)
}

/// An error is one line (containerd shows the last one; a config value may hold a newline):
/// control characters are written as escapes.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim_end().chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The subcommand of a command line, found without clap: the first word that is neither a
/// flag nor the value of a global flag that takes one.
fn subcommand_word(args: &[std::ffi::OsString]) -> Option<&str> {
    let mut it = args.iter().skip(1).map(|a| a.to_str().unwrap_or(""));
    while let Some(a) = it.next() {
        match a {
            "--root" | "--log" | "--log-format" | "--rootless" | "--criu" => {
                it.next();
            }
            _ if a.starts_with('-') => {}
            _ => return Some(a),
        }
    }
    None
}

fn main() {
    // The commands whose processes enter the container run from a protected copy of rrun:
    // re-execute first thing, before any other work (see librrun::sealed_exe).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let seal_error = match subcommand_word(&args) {
        Some("create" | "run" | "exec") => librrun::sealed_exe::reexec_protected(&args).err(),
        _ => None,
    };
    let cli = Cli::parse_from(args);
    if cli.version {
        // Through emit: `rrun --version | head -1` must not panic on the closed pipe.
        if let Err(e) = commands::emit(&format!("{VERSION_TEXT}\n")) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        return;
    }
    let Some(command) = &cli.command else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        std::process::exit(1);
    };
    let log = match logger(&cli) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // (Reached only when the re-execution below could not be made: say why, and stop.)
    if let Some(e) = seal_error {
        log.error(&e.to_string());
        std::process::exit(1);
    }
    match commands::dispatch(&cli, command, &log) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            log.error(&error_text(&e));
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn errors_are_one_line() {
        assert_eq!(
            one_line("unknown variant `\n`, expected"),
            "unknown variant `\\n`, expected"
        );
        assert_eq!(one_line("a\u{0}b\r\n"), "a\\u{0}b");
        assert_eq!(one_line("tab\there"), "tab here");
    }

    #[test]
    fn subcommand_is_found_past_global_flags() {
        let w = |s: &str| -> Vec<std::ffi::OsString> { s.split(' ').map(Into::into).collect() };
        let a = w("rrun --root /r --log /l --log-format json create --bundle b id");
        assert_eq!(subcommand_word(&a), Some("create"));
        let a = w("rrun --root=/r --debug exec -t id sh");
        assert_eq!(subcommand_word(&a), Some("exec"));
        assert_eq!(subcommand_word(&w("rrun --version")), None);
        let a = w("rrun --criu /usr/sbin/criu checkpoint id");
        assert_eq!(subcommand_word(&a), Some("checkpoint"));
        assert_eq!(
            subcommand_word(&w("rrun --root run state x")),
            Some("state")
        );
    }

    /// Every command line the engines were seen to hand to runc parses.
    #[test]
    fn engine_command_lines_parse() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/engines");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return; // shared/ sits beside the checkout on developer machines and in CI
        };
        let mut n = 0;
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "argv") {
                let text = std::fs::read_to_string(&p).unwrap();
                let args = std::iter::once("rrun").chain(text.split_whitespace());
                let cli =
                    Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                assert!(
                    matches!(cli.command, Some(Cmd::Create(_))),
                    "{}",
                    p.display()
                );
                n += 1;
            }
        }
        assert!(n > 0);
    }

    /// runc's global `--rootless` (before the subcommand) and `spec --rootless` side by side.
    #[test]
    fn rootless_flags_parse() {
        let cli =
            Cli::try_parse_from(["rrun", "--rootless", "true", "spec", "--rootless"]).unwrap();
        assert_eq!(cli.rootless, "true");
        assert!(matches!(cli.command, Some(Cmd::Spec(ref a)) if a.rootless));
        assert_eq!(
            Cli::try_parse_from(["rrun", "state", "x"])
                .unwrap()
                .rootless,
            "auto"
        );
        assert!(Cli::try_parse_from(["rrun", "--rootless", "maybe", "state", "x"]).is_err());
        assert_eq!(
            Cli::try_parse_from(["rrun", "state", "x"]).unwrap().root,
            None
        );
    }

    #[test]
    fn version_layout_like_runc() {
        assert!(Cli::try_parse_from(["rrun", "--version"]).unwrap().version);
        let mut lines = VERSION_TEXT.lines();
        assert!(lines.next().unwrap().starts_with("rrun version 0."));
        assert!(lines.next().unwrap().starts_with("commit: "));
        assert_eq!(lines.next().unwrap(), "spec: 1.2.1");
    }
}
