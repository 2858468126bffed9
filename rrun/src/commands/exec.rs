//! `rrun exec <id> [command...]` / `rrun exec --process process.json <id>`: run a new process
//! in a running container (librrun's `Container::exec`); this file turns the flags into the
//! process to run and, in the foreground, forwards signals and the terminal.

use super::run::{block_forwarded_signals, supervise};
use crate::logging::Logger;
use anyhow::{anyhow, bail, Context, Result};
use librrun::container::{Console, Container, ExecOptions};
use oci_spec::runtime::{Capability, Process, Spec};
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// additional gids
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// path to the process.json
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// specify the file to write the process id to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// set the no new privileges value for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// add a capability to the bounding set for the process
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// allow exec in a paused container
    #[arg(long)]
    pub ignore_paused: bool,
    /// the container id
    pub id: String,
    /// the command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The process to run: --process's JSON, or config.json's process with the flags applied.
fn exec_process(a: &ExecArgs, config: &Spec, log: &Logger) -> Result<Process> {
    if let Some(p) = &a.process {
        let data = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
        let (process, warnings) = librrun::spec::parse_process(&data)
            .with_context(|| format!("parse {}", p.display()))?;
        for w in warnings {
            log.warn(&format!("{}: {w}", p.display()));
        }
        return Ok(process);
    }
    if a.command.is_empty() {
        bail!("exec: no command given (name the program to run, or use --process)");
    }
    let mut p = config
        .process()
        .clone()
        .ok_or_else(|| anyhow!("the container's config.json has no process"))?;
    p.set_args(Some(a.command.clone()));
    p.set_env(Some(override_env(
        p.env().clone().unwrap_or_default(),
        &a.env,
    )?));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u.parse()?, g.parse()?),
            None => (u.parse()?, 0),
        };
        let mut user = p.user().clone();
        user.set_uid(uid);
        user.set_gid(gid);
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let c = Capability::from_str(name.trim_start_matches("CAP_"))
                .map_err(|_| anyhow!("unknown capability {name:?}"))?;
            let add = |s: Option<oci_spec::runtime::Capabilities>| {
                let mut s = s.unwrap_or_default();
                s.insert(c);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding().clone()));
            caps.set_effective(add(caps.effective().clone()));
            caps.set_permitted(add(caps.permitted().clone()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

/// config.json's env with `-e NAME=value` applied: a name already there gets the new value in
/// its place, and no second entry (getenv finds the first; runc drops duplicates keeping the
/// last value); a new name is appended.
fn override_env(mut env: Vec<String>, overrides: &[String]) -> Result<Vec<String>> {
    for entry in overrides {
        let Some((name, _)) = entry.split_once('=') else {
            bail!("exec --env {entry:?}: not NAME=value");
        };
        let same = |e: &String| e.split_once('=').is_some_and(|(n, _)| n == name);
        match env.iter().position(same) {
            Some(i) => {
                env[i] = entry.clone();
                let mut first = true;
                env.retain(|e| !same(e) || std::mem::replace(&mut first, false));
            }
            None => env.push(entry.clone()),
        }
    }
    Ok(env)
}

pub fn cmd(root: &Path, a: &ExecArgs, log: &Logger) -> Result<i32> {
    let c = Container::open(root, &a.id)?;
    let opts = ExecOptions {
        process: exec_process(a, &c.saved().config, log)?,
        console: Console::socket_or_own(a.console_socket.clone()),
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
    };
    // Blocked before the process exists, so that no signal to forward is lost.
    let sfd = if a.detach {
        None
    } else {
        Some(block_forwarded_signals()?)
    };
    let started = c.exec(&opts)?;
    match sfd {
        None => Ok(0),
        Some(sfd) => supervise(started.pid, &sfd, started.pty_master.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::override_env;

    #[test]
    fn exec_env_replaces_the_same_name() {
        let env = vec![
            "PATH=/bin".to_string(),
            "A=1".into(),
            "B=2".into(),
            "A=3".into(),
        ];
        let got = override_env(env, &["A=9".into(), "C=4".into(), "C=5".into()]).unwrap();
        assert_eq!(got, ["PATH=/bin", "A=9", "B=2", "C=5"]);
        assert!(override_env(Vec::new(), &["NOEQ".into()]).is_err());
    }
}
