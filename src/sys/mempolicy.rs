//! set_mempolicy(2), which neither libc's nor nix's safe API has.

/// set_mempolicy(2) for the calling thread: `mode` (an MPOL_* mode, or'ed with MPOL_F_* flags)
/// and the node mask, one bit per node, `mask.len() * 64` bits long.
pub fn set_mempolicy(mode: i32, mask: &[u64]) -> nix::Result<()> {
    let maxnode = (mask.len() * 64) as libc::c_ulong;
    let ptr = if mask.is_empty() {
        std::ptr::null()
    } else {
        mask.as_ptr()
    };
    // SAFETY: the kernel reads at most `maxnode` bits from `ptr`, which is `mask`'s own
    // buffer of exactly that many bits (or null with maxnode 0); nothing is written.
    let rc = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}
