//! The capability bounding set: prctl(PR_CAPBSET_DROP). The caps crate has it too, but with
//! its own string errors; this keeps the errno.

/// Drop the capability numbered `cap` from the calling thread's bounding set (needs
/// CAP_SETPCAP; EINVAL for a number the kernel does not know).
pub fn drop_from_bounding_set(cap: u8) -> nix::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes the capability number and unused zeros, all integers; it
    // reads no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_capability_is_refused() {
        // Past any cap_last_cap (63 at most): refused before any change.
        assert_eq!(drop_from_bounding_set(200), Err(nix::Error::EINVAL));
    }
}
