#![forbid(unsafe_code)]
//! Fault points for the crash-consistency tests (tests/faults.rs): with `RRUN_FAULT=<point>` in
//! its environment, rrun kills itself with SIGKILL when it reaches that point, as an operator's
//! `kill -9` or an OOM kill would at that moment. Without the variable, a point is one
//! environment lookup.

/// Die here (SIGKILL) if `RRUN_FAULT` names this point.
pub fn point(name: &str) {
    if std::env::var_os("RRUN_FAULT").is_some_and(|v| v == name) {
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
    }
}
