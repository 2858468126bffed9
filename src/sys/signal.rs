//! Signals nix cannot send or set safely: kill(2) with any signal number (nix's `Signal` has
//! only the standard ones, not SIGRTMIN+n), and the default disposition (nix's `signal` is
//! unsafe because it can install a handler).

use nix::sys::signal::{SigHandler, Signal};

/// kill(2): send the signal number `signal` (0 only checks that `pid` exists) to `pid`, with
/// kill's meaning of 0 and negative pids.
pub fn kill(pid: i32, signal: i32) -> nix::Result<()> {
    // SAFETY: kill takes two integers and reads no memory of ours.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}

/// Give `signal` its default disposition (SIG_DFL), e.g. back from ignored.
pub fn set_default_disposition(signal: Signal) -> nix::Result<()> {
    // SAFETY: SIG_DFL installs no handler, so no code of ours can run in a signal context.
    unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_checks_and_reports() {
        let me = nix::unistd::getpid().as_raw();
        // Signal 0 sends nothing: it only checks the pid.
        kill(me, 0).unwrap();
        assert_eq!(kill(me, 100_000), Err(nix::Error::EINVAL));
        // A pid no process can have (above PID_MAX_LIMIT).
        assert_eq!(kill(1 << 23, 0), Err(nix::Error::ESRCH));
    }

    #[test]
    fn dispositions() {
        // SIGWINCH is ignored by default; the test harness installs no handler for it.
        set_default_disposition(Signal::SIGWINCH).unwrap();
        assert_eq!(
            set_default_disposition(Signal::SIGKILL),
            Err(nix::Error::EINVAL)
        );
    }
}
