//! Scheduling attributes of the calling process: sched_setattr(2) and ioprio_set(2), which
//! neither libc's nor nix's safe API has.

/// The kernel's `struct sched_attr` (linux/sched/types.h), version with utilization clamps
/// (SCHED_ATTR_SIZE_VER1, 56 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    /// The size of the struct: [`sched_setattr`] passes the real one whatever is here.
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// The size the kernel is told `SchedAttr` has.
pub const SCHED_ATTR_SIZE: u32 = std::mem::size_of::<SchedAttr>() as u32;

/// sched_setattr(2) on the calling thread (pid 0), with no flags.
pub fn sched_setattr(attr: &SchedAttr) -> nix::Result<()> {
    // The kernel reads `size` bytes: never more than the struct holds.
    let attr = SchedAttr {
        size: SCHED_ATTR_SIZE,
        ..*attr
    };
    // SAFETY: sched_setattr reads `attr.size` bytes from the pointer, which is exactly the
    // size of `attr`, a fully initialised #[repr(C)] struct alive for the call.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// ioprio_set(2) of the calling process (IOPRIO_WHO_PROCESS, pid 0) to `value` (the class in
/// the bits from 13 up, the level below).
pub fn ioprio_set(value: i64) -> nix::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: ioprio_set takes three integers and reads no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_struct_has_the_kernels_size() {
        assert_eq!(SCHED_ATTR_SIZE, 56);
    }

    /// Values the kernel refuses before any permission check, so nothing changes here.
    #[test]
    fn invalid_values_are_refused() {
        let bad_policy = SchedAttr {
            policy: 1000,
            ..SchedAttr::default()
        };
        assert_eq!(sched_setattr(&bad_policy), Err(nix::Error::EINVAL));
        // Class 7 does not exist.
        assert_eq!(ioprio_set(7 << 13), Err(nix::Error::EINVAL));
    }
}
