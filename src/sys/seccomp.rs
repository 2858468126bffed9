//! Installing a seccomp filter: seccomp(SECCOMP_SET_MODE_FILTER), which nix does not have.
//! Building the program is libseccomp's (seccomp/); this only hands it to the kernel, without
//! allocating, so that nothing runs between it and execve but the calls the filter allows.

use std::os::fd::OwnedFd;

/// SECCOMP_FILTER_FLAG_NEW_LISTENER: seccomp(2) returns a notify listener fd.
pub const FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
/// SECCOMP_FILTER_FLAG_TSYNC_ESRCH: a TSYNC failure is ESRCH (the return value is the
/// listener then, not a thread id). The kernel refuses TSYNC with NEW_LISTENER without it.
pub const FLAG_TSYNC_ESRCH: libc::c_ulong = 1 << 4;
/// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19): a notified syscall waits killably
/// once the listener has received it. Only valid with NEW_LISTENER.
pub const FLAG_WAIT_KILLABLE_RECV: libc::c_ulong = 1 << 5;

/// What a [`set_mode_filter`] that did not fail with an errno did.
#[derive(Debug)]
pub enum FilterLoad {
    /// The filter is installed; with [`FLAG_NEW_LISTENER`], this is its listener.
    Installed { listener: Option<OwnedFd> },
    /// With SECCOMP_FILTER_FLAG_TSYNC: thread `tid` could not take the filter, so nothing was
    /// installed.
    TsyncFailed { tid: libc::c_long },
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, program): install the classic BPF `program` on the
/// calling thread (every thread with TSYNC). Without no_new_privs it needs CAP_SYS_ADMIN.
/// EINVAL for an empty program or one longer than the kernel takes. With
/// [`FLAG_NEW_LISTENER`] (TSYNC then needs [`FLAG_TSYNC_ESRCH`] too) the listener is returned.
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
        rc if rc < 0 => Err(nix::Error::last()),
        rc if flags & FLAG_NEW_LISTENER != 0 => Ok(FilterLoad::Installed {
            // SAFETY: with NEW_LISTENER seccomp(2) returns a new fd (the listener).
            listener: Some(unsafe { super::fd::adopt(rc) }?),
        }),
        0 => Ok(FilterLoad::Installed { listener: None }),
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
        assert!(matches!(set_mode_filter(0, &[]), Err(nix::Error::EINVAL)));
        let allow = insn(0x06, 0, 0, libc::SECCOMP_RET_ALLOW);
        let huge = vec![allow; 70_000];
        assert!(matches!(set_mode_filter(0, &huge), Err(nix::Error::EINVAL)));
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
            if !matches!(
                set_mode_filter(0, &program),
                Ok(FilterLoad::Installed { listener: None })
            ) {
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

    fn last_errno_of(nr: libc::c_long) -> i32 {
        // SAFETY: the syscalls called here take no pointer: with no arguments they read and
        // write no memory of ours (and the filter answers before the kernel runs them).
        let r = unsafe { libc::syscall(nr) };
        if r == -1 {
            nix::Error::last() as i32
        } else {
            0
        }
    }

    /// runc's -ENOSYS rule on the real kernel: past the profile's largest syscall number a
    /// syscall gets ENOSYS; below it an unlisted one gets the default action (EPERM).
    #[test]
    fn newer_syscalls_than_the_profile_get_enosys() {
        let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["exit_group", "exit", "getpid", "pidfd_open"],
                          "action": "SCMP_ACT_ALLOW"}]}))
        .unwrap();
        let filter = crate::seccomp::Filter::compile(&profile).unwrap();
        let (pid, ()) = fork_child((), || {
            if nix::sys::prctl::set_no_new_privs().is_err() || filter.load().is_err() {
                return 2;
            }
            let got = [
                last_errno_of(libc::SYS_getpid),
                last_errno_of(libc::SYS_getppid),
                last_errno_of(libc::SYS_clone3),
                last_errno_of(1000),
            ];
            if got == [0, libc::EPERM, libc::ENOSYS, libc::ENOSYS] {
                0
            } else {
                10 + got.iter().position(|e| *e == libc::EPERM).unwrap_or(9) as i32
            }
        })
        .unwrap();
        assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 0));
    }

    /// NEW_LISTENER (with TSYNC, hence TSYNC_ESRCH) gives back a listener fd.
    #[test]
    fn a_notify_filter_returns_its_listener() {
        let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/unused",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}))
        .unwrap();
        let filter = crate::seccomp::Filter::compile(&profile).unwrap();
        let (pid, ()) = fork_child((), || {
            if nix::sys::prctl::set_no_new_privs().is_err() {
                return 2;
            }
            match filter.load() {
                Ok(Some(fd)) if std::os::fd::AsRawFd::as_raw_fd(&fd) > 2 => 0,
                Ok(_) => 3,
                Err(_) => 4,
            }
        })
        .unwrap();
        assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 0));
    }
}
