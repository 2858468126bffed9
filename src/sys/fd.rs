//! File descriptors as numbers: taking ownership of the fd a raw syscall returned,
//! close_range(2), and the fd flags (close-on-exec) of a number whether or not it is open.
//!
//! The functions that take a bare number act on whatever the process has there, which memory
//! safety allows but I/O safety (an `OwnedFd` is the only user of its number) does not check:
//! see each one for why its callers hold no `OwnedFd` they still use over those numbers.

use nix::fcntl::FdFlag;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The fd a syscall that creates one returned, owned; or the errno it failed with.
///
/// # Safety
///
/// `ret` must be the return value of such a syscall made just before (errno is read here when
/// it is negative), so that a non-negative value is a new fd that nothing else owns.
pub(super) unsafe fn adopt(ret: libc::c_long) -> nix::Result<OwnedFd> {
    if ret < 0 {
        return Err(nix::Error::last());
    }
    let fd = RawFd::try_from(ret).map_err(|_| nix::Error::EBADF)?;
    // SAFETY: by this function's contract `fd` is new and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// close_range(2) from `first` to `last` (inclusive): close every fd there or, with
/// `cloexec`, mark each close-on-exec (CLOSE_RANGE_CLOEXEC, Linux 5.11).
///
/// Closing numbers does not touch memory, but an `OwnedFd` over a closed number would later
/// close or use another file that reuses it. The only caller, init/fds.rs, runs in the init or
/// an `exec` process (a fork that ends in execve or `_exit`, never dropping the plan it was
/// forked with) and keeps out of the ranges every fd it still uses.
pub fn close_range(first: u32, last: u32, cloexec: bool) -> nix::Result<()> {
    let flags = if cloexec {
        libc::CLOSE_RANGE_CLOEXEC
    } else {
        0
    };
    // SAFETY: close_range takes three integers and only closes (or flags) fds of this process's
    // table; no memory of ours is read or written.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// The fd flags of the number `fd` (F_GETFD); EBADF when nothing is open there.
pub fn flags(fd: RawFd) -> nix::Result<FdFlag> {
    // SAFETY: F_GETFD takes no argument and only reads a flag of the fd table entry.
    let rc = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if rc < 0 {
        return Err(nix::Error::last());
    }
    Ok(FdFlag::from_bits_retain(rc))
}

/// Set the fd flags of the number `fd` (F_SETFD); EBADF when nothing is open there.
///
/// Only the close-on-exec flag changes, which decides whether the fd survives an execve: the
/// callers (init/fds.rs, process/exec.rs) set it on every fd of a stage about to exec, and clear
/// it on the fds the config preserves for the container.
pub fn set_flags(fd: RawFd, flags: FdFlag) -> nix::Result<()> {
    // SAFETY: F_SETFD takes an integer and only changes a flag of the fd table entry.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, flags.bits()) };
    if rc < 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn flags_of_open_and_unused_numbers() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = f.as_raw_fd();
        // std opens with O_CLOEXEC.
        assert_eq!(flags(fd).unwrap(), FdFlag::FD_CLOEXEC);
        set_flags(fd, FdFlag::empty()).unwrap();
        assert_eq!(flags(fd).unwrap(), FdFlag::empty());
        set_flags(fd, FdFlag::FD_CLOEXEC).unwrap();
        assert_eq!(flags(fd).unwrap(), FdFlag::FD_CLOEXEC);
        // Numbers nothing can have open (other tests run in parallel: no closed fd is reused).
        assert_eq!(flags(-1), Err(nix::Error::EBADF));
        assert_eq!(flags(RawFd::MAX), Err(nix::Error::EBADF));
        assert_eq!(
            set_flags(RawFd::MAX, FdFlag::empty()),
            Err(nix::Error::EBADF)
        );
    }

    #[test]
    fn close_range_of_one_owned_fd() {
        let f = std::fs::File::open("/dev/null").unwrap();
        // A copy this test owns alone, above what the harness uses and below the numbers the
        // tests of init/fds.rs close (900 on).
        let fd = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_DUPFD(500)).unwrap();
        assert_eq!(flags(fd).unwrap(), FdFlag::empty());
        let n = fd as u32;
        match close_range(n, n, true) {
            Ok(()) => assert_eq!(flags(fd).unwrap(), FdFlag::FD_CLOEXEC),
            // Before Linux 5.11, or under a seccomp profile that predates close_range.
            Err(e) => assert!(matches!(
                e,
                nix::Error::EINVAL | nix::Error::ENOSYS | nix::Error::EPERM
            )),
        }
        nix::unistd::close(fd).unwrap();
    }

    #[test]
    fn adopt_owns_a_new_fd_and_reports_a_failure() {
        let f = std::fs::File::open("/dev/null").unwrap();
        // SAFETY: dup only creates a new fd (or fails with -1 and errno).
        let ret = unsafe { libc::dup(f.as_raw_fd()) };
        // SAFETY: `ret` is the return value of the dup just made.
        let copy = unsafe { adopt(ret.into()) }.unwrap();
        assert!(copy.as_raw_fd() != f.as_raw_fd());
        // SAFETY: as above; dup(-1) fails with EBADF.
        let ret = unsafe { libc::dup(-1) };
        // SAFETY: as above.
        let got = unsafe { adopt(ret.into()) };
        assert_eq!(got.err(), Some(nix::Error::EBADF));
    }
}
