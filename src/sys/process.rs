//! Processes: fork with the child's whole life in a closure, and pidfd_open. Nix leaves fork
//! unsafe and does not have pidfd_open.

use super::fd::adopt;
use nix::unistd::{ForkResult, Pid};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// The exit code of a child whose closure panicked (the code Rust gives a panicking `main`).
pub const PANICKED: i32 = 101;

/// Fork. The child drops `parent_only` (what only the parent may keep open, such as its end of
/// a socket pair), runs `child` and leaves with `_exit` and the code `child` returns (or
/// [`PANICKED`]): it never returns from here, never unwinds into the stack frames it copied
/// from the parent, and skips the atexit handlers and stdio buffers, which are the parent's.
/// The parent gets the child's pid and `parent_only` back.
///
/// The child has a copy of the parent's memory but only the calling thread; a lock another
/// thread held at the fork (stdout's, a `Mutex` of the program) stays held in the child
/// forever. So this must be called while no other thread exists, or while none can hold a lock
/// that `child` takes (glibc's fork resets the allocator's). That holds for rrun: the binary
/// never starts a thread (hooks are processes, waited for through a pidfd; `run` forwards
/// signals through a signalfd) and neither does librrun. The callers are the parent's fork of
/// stage-1 in init/mod.rs and stage-1's fork of the init in init/stage1.rs, a process forked
/// from a single thread. A program embedding librrun with threads of its own must create
/// containers while they hold no such lock (librrun's library test runs one test function).
pub fn fork_child<T>(parent_only: T, child: impl FnOnce() -> i32) -> nix::Result<(Pid, T)> {
    // SAFETY: the calling process is single-threaded (see the doc above), so the child's copy
    // of every lock is free; the child only runs `child` and ends in _exit.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { child: pid } => Ok((pid, parent_only)),
        ForkResult::Child => {
            drop(parent_only);
            let code =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(PANICKED);
            // SAFETY: _exit ends the process at once; nothing of ours runs after it.
            unsafe { libc::_exit(code) }
        }
    }
}

/// pidfd_open(2): an fd (close-on-exec) that refers to the process `pid`, readable (POLLIN)
/// once it has exited. For a child, open it before reaping it: the pid may be reused after.
pub fn pidfd_open(pid: Pid) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and reads no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: `ret` is what pidfd_open, which returns a new fd, just returned.
    unsafe { adopt(ret) }
}

/// pidfd_getfd(2): a copy (close-on-exec) of the fd `target_fd` of the process behind `pidfd`.
/// The caller needs ptrace access to that process (PTRACE_MODE_ATTACH_REALCREDS).
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, target_fd: RawFd) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_getfd takes three integers and reads no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target_fd, 0) };
    // SAFETY: `ret` is what pidfd_getfd, which returns a new fd, just returned.
    unsafe { adopt(ret) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{waitpid, WaitStatus};
    use std::os::fd::AsFd;

    /// The test harness has other threads: the children here only compute and exit.
    #[test]
    fn the_child_exits_with_the_code_of_its_closure() {
        let (pid, kept) = fork_child("parent only", || 7).unwrap();
        assert_eq!(kept, "parent only");
        assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 7));
    }

    #[test]
    fn a_pidfd_becomes_readable_when_the_process_exits() {
        let (pid, ()) = fork_child((), || 0).unwrap();
        let pidfd = pidfd_open(pid).unwrap();
        let mut pfd = [nix::poll::PollFd::new(
            pidfd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ready = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(10_000u16)).unwrap();
        assert_eq!(ready, 1);
        assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 0));
    }

    #[test]
    fn pidfd_open_of_no_process_is_an_error() {
        // Pid 0 is no process (pidfd_open refuses it).
        assert!(pidfd_open(Pid::from_raw(0)).is_err());
    }
}
