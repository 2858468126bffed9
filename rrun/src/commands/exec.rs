//! `rrun exec <id> [command...]` / `rrun exec --process process.json <id>`: run a new process
//! in a running container. It joins the init's namespaces and cgroup and gets the same process
//! setup as the init (src/init/stage2.rs, `setup_process`), without the container's setup.

use super::create::{check_console, console_ends, receive_pty, write_pid_file, Console};
use super::lifecycle;
use super::run::{block_forwarded_signals, supervise};
use crate::logging::Logger;
use anyhow::{anyhow, bail, Context, Result};
use librrun::cgroups::Manager;
use librrun::container::state::{SavedState, Status};
use librrun::container::ContainerDir;
use librrun::init::{self, InitPlan, ParentSide};
use librrun::namespaces::{self, NamespacePlan};
use librrun::process::caps::CapPlan;
use librrun::spec::Bundle;
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
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
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

/// Join every namespace the container has, through its init's /proc/PID/ns entries (opened,
/// type-checked and ordered by the same planner as config.json's `path` namespaces).
fn join_plan(st: &SavedState) -> Result<NamespacePlan> {
    let mut list = st
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in &mut list {
        let typ = namespaces::type_name(ns.typ());
        ns.set_path(Some(PathBuf::from(format!(
            "/proc/{}/ns/{typ}",
            st.init_pid
        ))));
    }
    Ok(namespaces::plan(&list)?)
}

struct ExecParent<'a> {
    cgroup: &'a dyn Manager,
}

impl ParentSide for ExecParent<'_> {
    fn stage1_started(&mut self, pid: i32) -> Result<(), String> {
        self.cgroup.add_process(pid).map_err(|e| e.to_string())
    }
    fn init_started(&mut self, _pid: i32) -> Result<(), String> {
        Ok(())
    }
    fn create_hooks(&mut self, _pid: i32) -> Result<(), String> {
        Ok(())
    }
}

pub fn cmd(root: &Path, a: &ExecArgs, log: &Logger) -> Result<i32> {
    let dir = ContainerDir::open(root, &a.id)?;
    let st = dir.load()?;
    match lifecycle::status(&dir, &st) {
        Status::Running | Status::Created => {}
        Status::Paused if a.ignore_paused => {}
        Status::Paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        _ => bail!("cannot exec in a stopped container"),
    }
    let process = exec_process(a, &st.config, log)?;
    let terminal = process.terminal().unwrap_or(false);
    check_console(terminal, a.console_socket.is_some(), a.detach)?;
    let mut spec = st.config.clone();
    spec.set_process(Some(process.clone()));
    librrun::lsm::check(&spec)?;
    let caps = process
        .capabilities()
        .as_ref()
        .map(CapPlan::from_spec)
        .transpose()?;
    // The container's seccomp profile applies to processes exec'd into it too.
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(librrun::seccomp::Filter::compile)
        .transpose()?;
    let console = match &a.console_socket {
        Some(p) => Console::Socket(Some(p.clone())),
        None => Console::Own,
    };
    let (console_fd, own_end) = console_ends(&console, terminal)?;
    let cgroup = lifecycle::cgroup_of(&st)?;
    let sfd = if a.detach {
        None
    } else {
        Some(block_forwarded_signals()?)
    };
    let plan = InitPlan {
        id: a.id.clone(),
        created: st.created.clone(),
        bundle: Bundle {
            dir: st.bundle.clone(),
            spec,
            rootfs: st.rootfs.clone(),
            warnings: Vec::new(),
        },
        ns: join_plan(&st)?,
        // An entering process gets no fd of the host's state directory.
        state_dir: None,
        console: console_fd,
        preserve_fds: a.preserve_fds,
        no_pivot: false,
        no_new_keyring: true,
        cgroup_steps: Vec::new(),
        caps,
        seccomp,
        exec: true,
    };
    // Other commands may lock the container while this process runs.
    drop(dir);
    let mut parent = ExecParent { cgroup: &*cgroup };
    let pid = init::launch(&plan, &mut parent).map_err(|e| anyhow!("exec failed: {e}"))?;
    drop(plan);
    if let Some(p) = &a.pid_file {
        write_pid_file(p, pid)?;
    }
    let pty = receive_pty(own_end)?;
    match sfd {
        None => Ok(0),
        Some(sfd) => supervise(pid, &sfd, pty.as_ref()),
    }
}
