//! Closing every fd a stage does not need, before any process of the container can reach it.
//!
//! A stage is a fork of rrun and inherits whatever rrun had open (the locked state directory,
//! a log file, namespace files). A container process with CAP_SYS_PTRACE can open another's
//! fds through /proc/PID/fd even when it is not dumpable, so the init and an entering `exec`
//! process keep only stdio, the preserved fds and what they still need (the sync socket, the
//! console socket, the start fifos), and close the rest with close_range(2) (no /proc needed).

use std::os::fd::RawFd;

/// The ranges of fds at or above `first` that are not in `keep`, as (from, to) inclusive.
pub fn ranges_to_close(first: RawFd, keep: &[RawFd]) -> Vec<(u32, u32)> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&k| k >= first).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut out = Vec::new();
    let mut from = first as u32;
    for k in keep {
        let k = k as u32;
        if k > from {
            out.push((from, k - 1));
        }
        from = k + 1;
    }
    out.push((from, u32::MAX));
    out
}

/// Close every fd from `first` on except those in `keep`.
pub fn close_all_but(first: RawFd, keep: &[RawFd]) -> Result<(), nix::Error> {
    for (from, to) in ranges_to_close(first, keep) {
        // SAFETY: close_range only closes this process's own fds in the range; the callers
        // (the stages) never use or drop an owned fd in the closed ranges afterwards.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, from, to, 0u32) };
        if rc != 0 {
            return Err(nix::Error::last());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_skip_kept_fds() {
        assert_eq!(ranges_to_close(3, &[]), vec![(3, u32::MAX)]);
        assert_eq!(
            ranges_to_close(3, &[5, 4, 9, 1]),
            vec![(3, 3), (6, 8), (10, u32::MAX)]
        );
        assert_eq!(ranges_to_close(3, &[3]), vec![(4, u32::MAX)]);
    }
}
