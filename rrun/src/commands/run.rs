//! `rrun run <id>`: create + start; in the foreground it forwards signals to the container,
//! proxies its terminal, waits for it, deletes it (unless --keep) and exits with its status.

use super::create::{self, CreateArgs};
use crate::logging::Logger;
use anyhow::{Context, Result};
use librrun::container::{Console, Container, Created};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
}

/// Signals the foreground `run` handles itself instead of dying of them.
fn handled_signals() -> SigSet {
    let mut s = SigSet::empty();
    for sig in Signal::iterator() {
        if !matches!(
            sig,
            Signal::SIGKILL
                | Signal::SIGSTOP
                | Signal::SIGSEGV
                | Signal::SIGBUS
                | Signal::SIGILL
                | Signal::SIGFPE
                | Signal::SIGTRAP
                | Signal::SIGABRT
                | Signal::SIGSYS
                | Signal::SIGTSTP
                | Signal::SIGTTIN
                | Signal::SIGTTOU
        ) {
            s.add(sig);
        }
    }
    s
}

/// Block the signals a foreground command forwards, before the process exists, so none is
/// lost (the process unblocks them before its exec); they arrive on the returned signalfd.
pub(super) fn block_forwarded_signals() -> Result<SignalFd> {
    let sigs = handled_signals();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&sigs), None)?;
    Ok(SignalFd::with_flags(&sigs, SfdFlags::SFD_CLOEXEC)?)
}

/// Our terminal in raw mode while the container owns it; restored on drop.
struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    fn enter() -> RawTerminal {
        let stdin = std::io::stdin();
        let Ok(orig) = nix::sys::termios::tcgetattr(&stdin) else {
            return RawTerminal(None);
        };
        let mut raw = orig.clone();
        nix::sys::termios::cfmakeraw(&mut raw);
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &raw);
        RawTerminal(Some(orig))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

fn copy_size_to(master: &OwnedFd) {
    if let Ok((rows, cols)) = librrun::sys::tty::window_size(std::io::stdin().as_fd()) {
        let _ = librrun::tty::set_size(master.as_fd(), rows, cols);
    }
}

/// What one [`pump`] did.
#[derive(PartialEq, Eq)]
enum Pumped {
    Moved,
    /// `from` is at its end (EOF, or EIO on a pty master nobody holds the other side of).
    ReadEnd,
    /// `to` refused the bytes (they are dropped).
    WriteFailed,
}

/// Move bytes from `from` to `to`.
fn pump(from: std::os::fd::BorrowedFd<'_>, to: std::os::fd::BorrowedFd<'_>) -> Pumped {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(from, &mut buf) {
        Ok(0) | Err(_) => Pumped::ReadEnd,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(to, &buf[off..n]) {
                    Ok(w) => off += w,
                    Err(nix::Error::EINTR) => {}
                    Err(_) => return Pumped::WriteFailed,
                }
            }
            Pumped::Moved
        }
    }
}

/// Wait for the init, forwarding signals and the terminal. Returns the exit code.
pub(super) fn supervise(init: i32, sfd: &SignalFd, pty: Option<&OwnedFd>) -> Result<i32> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let _raw = pty.map(|m| {
        copy_size_to(m);
        RawTerminal::enter()
    });
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stdin_open = pty.is_some();
    // Once the container has closed every handle on its terminal, the master reports POLLHUP
    // forever: stop polling it (issue 16: 15k poll+read calls a second otherwise).
    let mut pty_open = pty.is_some();
    loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = pty.filter(|_| pty_open) {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| {
                f.revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP))
            })
            .collect();
        drop(fds);
        if let Some(m) = pty.filter(|_| pty_open) {
            if ready.get(1) == Some(&true) && pump(m.as_fd(), stdout.as_fd()) == Pumped::ReadEnd {
                pty_open = false;
            }
            if ready.get(2) == Some(&true) && pump(stdin.as_fd(), m.as_fd()) != Pumped::Moved {
                stdin_open = false;
            }
        }
        if !ready[0] {
            continue;
        }
        let Some(info) = sfd.read_signal().context("read signalfd")? else {
            continue;
        };
        let sig = info.ssi_signo as i32;
        if sig == libc::SIGCHLD {
            // Reap everything reparented to us; stop at the init.
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(p, code)) if p.as_raw() == init => {
                        drain(pty, &stdout);
                        return Ok(code);
                    }
                    Ok(WaitStatus::Signaled(p, s, _)) if p.as_raw() == init => {
                        drain(pty, &stdout);
                        return Ok(128 + s as i32);
                    }
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        } else if sig == libc::SIGWINCH && pty.is_some() {
            copy_size_to(pty.expect("checked"));
        } else {
            // Forwarded to the container's init (real-time signals too).
            let _ = librrun::signals::send(init, sig);
        }
    }
}

/// Copy what the container wrote last to its terminal before it exited.
fn drain(pty: Option<&OwnedFd>, stdout: &std::io::Stdout) {
    let Some(m) = pty else { return };
    let _ = nix::fcntl::fcntl(
        m,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    while pump(m.as_fd(), stdout.as_fd()) == Pumped::Moved {}
}

pub fn cmd(
    root: &Path,
    a: &RunArgs,
    log: &Logger,
    driver: librrun::cgroups::Driver,
    rootless: Option<bool>,
) -> Result<i32> {
    if a.detach {
        let console = Console::Socket(a.create.console_socket.clone());
        let c = Container::create(
            root,
            &create::options(&a.create, console, true, driver, rootless),
            log,
        )?;
        if let Err(e) = c.container.start(log) {
            c.container.abort(log);
            return Err(e.into());
        }
        return Ok(0);
    }
    let sfd = block_forwarded_signals()?;
    let console = Console::socket_or_own(a.create.console_socket.clone());
    let Created {
        container: mut c,
        pty_master,
    } = Container::create(
        root,
        &create::options(&a.create, console, false, driver, rootless),
        log,
    )?;
    if let Err(e) = c.start(log) {
        c.abort(log);
        return Err(e.into());
    }
    // Other commands (state, kill) must be able to lock the container while it runs.
    c.unlock();
    let code = supervise(c.saved().init_pid, &sfd, pty_master.as_ref());
    if !a.keep {
        // Locked again; a concurrent `delete` may have removed it already.
        if let Ok(c) = Container::open(root, c.id()) {
            let _ = c.kill_init();
            c.destroy(log)?;
        }
    }
    code
}
