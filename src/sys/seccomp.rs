//! Installing a seccomp filter: seccomp(SECCOMP_SET_MODE_FILTER), which nix does not have.
//! Building the program is libseccomp's (seccomp/); this only hands it to the kernel, without
//! allocating, so that nothing runs between it and execve but the calls the filter allows.

/// What a [`set_mode_filter`] that did not fail with an errno did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterLoad {
    /// The filter is installed.
    Installed,
    /// With SECCOMP_FILTER_FLAG_TSYNC: thread `tid` could not take the filter, so nothing was
    /// installed.
    TsyncFailed { tid: libc::c_long },
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, program): install the classic BPF `program` on the
/// calling thread (every thread with TSYNC). Without no_new_privs it needs CAP_SYS_ADMIN.
/// EINVAL for an empty program or one longer than the kernel takes.
pub fn set_mode_filter(
    flags: libc::c_ulong,
    program: &[libc::sock_filter],
) -> nix::Result<FilterLoad> {
    let len = libc::c_ushort::try_from(program.len()).map_err(|_| nix::Error::EINVAL)?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads `prog` and the `len` instructions it
    // points to (all of `program`, exactly), both alive for the call; it writes neither.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    match rc {
        0 => Ok(FilterLoad::Installed),
        rc if rc < 0 => Err(nix::Error::last()),
        tid => Ok(FilterLoad::TsyncFailed { tid }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process::fork_child;
    use nix::sys::wait::{waitpid, WaitStatus};

    fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }

    #[test]
    fn empty_and_oversized_programs_are_refused() {
        assert_eq!(set_mode_filter(0, &[]), Err(nix::Error::EINVAL));
        let allow = insn(0x06, 0, 0, libc::SECCOMP_RET_ALLOW);
        let huge = vec![allow; 70_000];
        assert_eq!(set_mode_filter(0, &huge), Err(nix::Error::EINVAL));
    }

    /// In a child (the filter stays with the thread that installs it): getpid fails with
    /// errno 42, everything else is allowed.
    #[test]
    fn a_filter_is_installed_and_enforced() {
        let program = [
            insn(0x20, 0, 0, 0),                       // ld [0] (seccomp_data.nr)
            insn(0x15, 0, 1, libc::SYS_getpid as u32), // jeq getpid
            insn(0x06, 0, 0, libc::SECCOMP_RET_ERRNO | 42),
            insn(0x06, 0, 0, libc::SECCOMP_RET_ALLOW),
        ];
        let (pid, ()) = fork_child((), || {
            if nix::sys::prctl::set_no_new_privs().is_err() {
                return 2;
            }
            if set_mode_filter(0, &program) != Ok(FilterLoad::Installed) {
                return 3;
            }
            // SAFETY: getpid takes no argument; the filter makes it fail.
            let r = unsafe { libc::syscall(libc::SYS_getpid) };
            if r == -1 && nix::Error::last() == nix::Error::from_raw(42) {
                0
            } else {
                4
            }
        })
        .unwrap();
        assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 0));
    }
}
