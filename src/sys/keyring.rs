//! The session keyring: keyctl(2), which nix does not have.

use std::ffi::CStr;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
const KEYCTL_SETPERM: libc::c_int = 5;

/// The serial number of a key or keyring.
pub type KeySerial = i32;

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING): join (creating it if needed) the session keyring
/// `name`, for the calling process and its children. ENOSYS without keyrings in the kernel.
pub fn join_session_keyring(name: &CStr) -> nix::Result<KeySerial> {
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING reads the NUL-terminated `name`, alive for the
    // call, and nothing else of ours.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret < 0 {
        return Err(nix::Error::last());
    }
    KeySerial::try_from(ret).map_err(|_| nix::Error::ERANGE)
}

/// keyctl(KEYCTL_SETPERM): set the permission mask of the key `key`.
pub fn set_permissions(key: KeySerial, perm: u32) -> nix::Result<()> {
    // SAFETY: KEYCTL_SETPERM takes two integers and reads no memory of ours.
    if unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, key, perm) } < 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_such_key() {
        // Serial numbers are positive; -1000 is no special keyring either.
        let e = set_permissions(-1000, 0).unwrap_err();
        assert!(
            matches!(
                e,
                nix::Error::EINVAL | nix::Error::ENOKEY | nix::Error::ENOSYS
            ),
            "{e}"
        );
    }
}
