//! Closing every fd a stage does not need, before any process of the container can reach it,
//! and marking the rest close-on-exec before the container's program is executed.
//!
//! A stage is a fork of rrun and inherits whatever rrun had open (the locked state directory,
//! a log file, namespace files). A container process with CAP_SYS_PTRACE can open another's
//! fds through /proc/PID/fd even when it is not dumpable, so the init and an entering `exec`
//! process keep only stdio, the preserved fds and what they still need (the sync socket, the
//! console socket, the start fifos), and close the rest with close_range(2) (no /proc needed).
//!
//! close_range may be refused: ENOSYS before Linux 5.9 (EINVAL for CLOSE_RANGE_CLOEXEC before
//! 5.11), EPERM when rrun itself runs under a seccomp profile written before it existed (a
//! runtime nested in a container). Then the open fds are listed from /proc/self/fd, when that
//! is a real procfs, or else every number below RLIMIT_NOFILE is tried, and each is closed or
//! marked with fcntl(F_SETFD).

use crate::sys;
use nix::fcntl::FdFlag;
use std::os::fd::{AsRawFd, RawFd};

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

/// Whether a close_range error means "not available here" (so the fallback applies) rather
/// than a real failure.
fn unavailable(e: nix::Error) -> bool {
    matches!(
        e,
        nix::Error::ENOSYS | nix::Error::EPERM | nix::Error::EINVAL
    )
}

/// Close every fd from `first` on except those in `keep`. The caller holds no `OwnedFd` it
/// still uses from `first` on outside `keep`.
pub fn close_all_but(first: RawFd, keep: &[RawFd]) -> Result<(), nix::Error> {
    let ranges = ranges_to_close(first, keep);
    for &(from, to) in &ranges {
        match sys::fd::close_range(from, to, false) {
            Ok(()) => {}
            Err(e) if unavailable(e) => return close_all_but_slowly(first, keep),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Mark every fd from `first` on close-on-exec.
pub fn cloexec_from(first: RawFd) -> Result<(), nix::Error> {
    match sys::fd::close_range(first as u32, u32::MAX, true) {
        Ok(()) => Ok(()),
        Err(e) if unavailable(e) => cloexec_from_slowly(first),
        Err(e) => Err(e),
    }
}

/// close_all_but without close_range.
pub fn close_all_but_slowly(first: RawFd, keep: &[RawFd]) -> Result<(), nix::Error> {
    for fd in open_fds(first)? {
        if !keep.contains(&fd) {
            // As for close_range: nothing uses the fd afterwards. EBADF (already closed) is
            // fine.
            let _ = nix::unistd::close(fd);
        }
    }
    Ok(())
}

/// cloexec_from without close_range.
pub fn cloexec_from_slowly(first: RawFd) -> Result<(), nix::Error> {
    for fd in open_fds(first)? {
        if let Ok(flags) = sys::fd::flags(fd) {
            if !flags.contains(FdFlag::FD_CLOEXEC) {
                let _ = sys::fd::set_flags(fd, flags | FdFlag::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// The open fds from `first` on: listed from /proc/self/fd when that is procfs (a container's
/// /proc may be anything), else every number below RLIMIT_NOFILE that fcntl finds open.
fn open_fds(first: RawFd) -> Result<Vec<RawFd>, nix::Error> {
    if let Some(fds) = listed_fds(first) {
        return Ok(fds);
    }
    let (soft, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
    // An fd may sit above a lowered soft limit, never above the hard one (nr_open at most).
    let end = hard.min(soft.max(1 << 20)).min(RawFd::MAX as u64) as RawFd;
    // F_GETFD fails with EBADF where nothing is open.
    Ok((first..end)
        .filter(|&fd| sys::fd::flags(fd).is_ok())
        .collect())
}

fn listed_fds(first: RawFd) -> Option<Vec<RawFd>> {
    let dir = nix::dir::Dir::open(
        "/proc/self/fd",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    let fs = nix::sys::statfs::fstatfs(&dir).ok()?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return None;
    }
    let own = dir.as_raw_fd();
    let mut dir = dir;
    let fds = dir
        .iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().ok()?.parse::<RawFd>().ok())
        .filter(|&fd| fd >= first && fd != own)
        .collect();
    Some(fds)
}

/// `--preserve-fds N` (with LISTEN_FDS, `count` in all) hands the caller's fds 3..3+count to
/// the container process: each must be open now, before rrun opens any of its own. A closed
/// one is refused (runc's rule): rrun's own descriptors (the state directory, the exec fifo,
/// the sync socket) would otherwise take that number and reach the container, and a directory
/// fd of the host is a way out of it (integration/attacks/preserve-fds-gap.sh).
pub fn check_preserved(count: u32) -> Result<(), PreservedFdError> {
    for index in 0..count {
        let fd = 3 + u64::from(index);
        if std::fs::read_link(format!("/proc/self/fd/{fd}")).is_err() {
            return Err(PreservedFdError { fd, index, count });
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("unable to stat preserved-fd {index} (of {count}): fd {fd} is not open in the caller")]
pub struct PreservedFdError {
    pub fd: u64,
    pub index: u32,
    pub count: u32,
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

    /// An fd opened without O_CLOEXEC, at a number far above what the test harness uses.
    fn inheritable_fd(at: RawFd) -> RawFd {
        let f = std::fs::File::open("/dev/null").unwrap();
        // F_DUPFD makes a new fd (without FD_CLOEXEC) that this test owns.
        let fd = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_DUPFD(at)).unwrap();
        assert!(fd >= at);
        fd
    }

    fn cloexec(fd: RawFd) -> bool {
        sys::fd::flags(fd).unwrap().contains(FdFlag::FD_CLOEXEC)
    }

    #[test]
    fn slow_paths_find_the_open_fds() {
        let fd = inheritable_fd(900);
        assert!(!cloexec(fd));
        assert!(open_fds(900).unwrap().contains(&fd));
        cloexec_from_slowly(900).unwrap();
        assert!(cloexec(fd));
        let other = inheritable_fd(950);
        close_all_but_slowly(900, &[fd]).unwrap();
        // EBADF says the fd was closed.
        assert!(sys::fd::flags(other).is_err());
        assert!(cloexec(fd));
        // The test owns fd and closes it once.
        nix::unistd::close(fd).unwrap();
    }

    #[test]
    fn preserved_fds_must_be_open() {
        assert!(check_preserved(0).is_ok());
        // stdin is 0: fd 3 onwards; a huge count reaches a closed number.
        let e = check_preserved(100_000).unwrap_err();
        assert!(
            e.to_string().starts_with("unable to stat preserved-fd "),
            "{e}"
        );
    }
}
