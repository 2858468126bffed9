//! The terminal of a container's process: where its pty master goes (the caller's
//! --console-socket, or rrun itself for a foreground `run`/`exec`), and runc's checks of the
//! console flags.

use super::error::ContainerError;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

/// How the caller wants the terminal handled.
#[derive(Debug, Clone)]
pub enum Console {
    /// No terminal, or the caller's --console-socket.
    Socket(Option<PathBuf>),
    /// `run`/`exec` in the foreground with a terminal: rrun itself receives the pty master.
    Own,
}

impl Console {
    /// The caller's socket when it gave one, else rrun's own end.
    pub fn socket_or_own(socket: Option<PathBuf>) -> Console {
        match socket {
            Some(p) => Console::Socket(Some(p)),
            None => Console::Own,
        }
    }
}

/// Validate the console flags like runc does (create, run and exec alike).
pub fn check(terminal: bool, console_socket: bool, detach: bool) -> Result<(), ContainerError> {
    if console_socket && !terminal {
        return Err(ContainerError::ConsoleSocketWithoutTerminal);
    }
    if !console_socket && terminal && detach {
        return Err(ContainerError::TerminalWithoutConsoleSocket);
    }
    Ok(())
}

/// The console socket the process's init gets (with a terminal), and, when rrun itself is to
/// hold the terminal, the end it receives the pty master on.
pub fn ends(
    console: &Console,
    terminal: bool,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>), ContainerError> {
    Ok(match (console, terminal) {
        (_, false) => (None, None),
        (Console::Socket(Some(p)), true) => (Some(crate::tty::connect_console_socket(p)?), None),
        (Console::Socket(None), true) | (Console::Own, true) => {
            let (a, b) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(ContainerError::ConsolePair)?;
            (Some(a), Some(b))
        }
    })
}

/// The pty master sent to our own end of the console socketpair, if we kept one.
pub fn receive_pty(own_end: Option<OwnedFd>) -> Result<Option<OwnedFd>, ContainerError> {
    match own_end {
        Some(end) => Ok(Some(crate::tty::recv_fd(end.as_fd())?.0)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runcs_console_rules() {
        assert!(check(false, false, true).is_ok());
        assert!(check(true, true, true).is_ok());
        assert!(check(true, false, false).is_ok());
        assert!(matches!(
            check(false, true, false),
            Err(ContainerError::ConsoleSocketWithoutTerminal)
        ));
        assert!(matches!(
            check(true, false, true),
            Err(ContainerError::TerminalWithoutConsoleSocket)
        ));
    }
}
