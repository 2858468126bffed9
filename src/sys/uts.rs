//! The UTS namespace's NIS domain name: setdomainname(2), which nix does not have (it has
//! sethostname).

/// setdomainname(2): set the domain name of the calling process's UTS namespace to `name`
/// (EINVAL when longer than 64 bytes; needs CAP_SYS_ADMIN over the namespace).
pub fn setdomainname(name: &str) -> nix::Result<()> {
    // SAFETY: setdomainname reads `name.len()` bytes from `name.as_ptr()`, all of `name`,
    // alive for the call; it needs no NUL terminator.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_too_long_is_refused_before_anything_changes() {
        // EPERM without CAP_SYS_ADMIN over the namespace, else EINVAL for the length.
        let e = setdomainname(&"x".repeat(100)).unwrap_err();
        assert!(matches!(e, nix::Error::EINVAL | nix::Error::EPERM), "{e}");
    }
}
