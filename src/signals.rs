#![forbid(unsafe_code)]
//! Signal names and numbers as `kill` accepts them: `9`, `KILL`, `SIGKILL`, `sigkill`,
//! `RTMIN+3`, `SIGRTMAX-1`.

#[derive(Debug, thiserror::Error)]
#[error("invalid signal: {0}")]
pub struct SignalError(pub String);

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// kill(2) with any signal number, real-time ones included (nix's `Signal` has only the
/// standard ones).
pub fn send(pid: i32, signal: i32) -> nix::Result<()> {
    crate::sys::signal::kill(pid, signal)
}

/// Parse a signal as runc's `kill` does.
pub fn parse(s: &str) -> Result<i32, SignalError> {
    let bad = || SignalError(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(*n);
    }
    let rt = |base: i32, rest: &str| -> Result<i32, SignalError> {
        if rest.is_empty() {
            return Ok(base);
        }
        // Slicing by characters, never by bytes: the input may be any UTF-8.
        let n = if let Some(off) = rest.strip_prefix('+') {
            off.parse::<i32>().ok().and_then(|o| base.checked_add(o))
        } else if let Some(off) = rest.strip_prefix('-') {
            off.parse::<i32>().ok().and_then(|o| base.checked_sub(o))
        } else {
            None
        };
        match n {
            Some(n) if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) => Ok(n),
            _ => Err(bad()),
        }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(libc::SIGRTMIN(), rest);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(libc::SIGRTMAX(), rest);
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGTERM").unwrap(), 15);
        assert_eq!(parse("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse("RTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert_eq!(parse("SIGRTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
        for bad in ["0", "-1", "200", "FOO", "SIG", "RTMIN+x", "RTMAX+1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// Found by a fuzzer: a multi-byte character right after RTMIN aborted rrun (a byte slice
    /// inside the character); an offset near i32::MAX overflowed.
    #[test]
    fn any_utf8_and_any_offset_is_an_error_not_a_panic() {
        for bad in [
            "RTMINé",
            "RTMAXé1",
            "SIGRTMIN€",
            "RTMIN+2147483647",
            "RTMAX-2147483648",
            "RTMIN+",
            "RTMIN-",
            "é",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
