//! File system calls nix does not have as such: faccessat2(2) (nix's faccessat goes through
//! libc, which may use another syscall).

use nix::unistd::AccessFlags;
use std::ffi::CStr;

/// faccessat2(AT_FDCWD, path, mode, 0): whether the real uid and gid may access `path` as
/// `mode` says. ENOSYS before Linux 5.8 (or EPERM from a seccomp profile that predates it).
pub fn faccessat2(path: &CStr, mode: AccessFlags) -> nix::Result<()> {
    // SAFETY: faccessat2 reads the NUL-terminated `path`, alive for the call, and takes
    // integers otherwise.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            libc::AT_FDCWD,
            path.as_ptr(),
            mode.bits(),
            0,
        )
    };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_of_files() {
        match faccessat2(c"/", AccessFlags::X_OK) {
            Ok(()) => {}
            Err(nix::Error::ENOSYS | nix::Error::EPERM) => return, // no faccessat2 here
            Err(e) => panic!("{e}"),
        }
        assert_eq!(
            faccessat2(c"/nonexistent-rrun", AccessFlags::F_OK),
            Err(nix::Error::ENOENT)
        );
        assert_eq!(faccessat2(c"/dev/null", AccessFlags::R_OK), Ok(()));
    }
}
