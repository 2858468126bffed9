//! eBPF programs attached to cgroups: bpf(2) for loading a program, attaching and detaching
//! it, and listing (and opening) the programs attached. Neither libc nor nix wraps bpf(2).
//!
//! Each command gets its own part of `union bpf_attr`, a #[repr(C)] prefix filled here, so
//! that every pointer the kernel follows is one made here from a live slice of the caller.

use super::fd::adopt;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// One eBPF instruction (`struct bpf_insn`). Any value is safe to hand to the kernel: its
/// verifier refuses a program that could misbehave.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// BPF_PROG_TYPE_CGROUP_DEVICE: a program that allows or denies device access in a cgroup.
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// BPF_CGROUP_DEVICE: the attach type of device programs.
pub const BPF_CGROUP_DEVICE: u32 = 6;
/// BPF_F_ALLOW_MULTI: attach next to the programs there (all must allow).
pub const BPF_F_ALLOW_MULTI: u32 = 2;

// bpf(2) commands (linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;

/// The BPF_PROG_LOAD part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH / BPF_PROG_DETACH part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The BPF_PROG_QUERY part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

/// The BPF_PROG_GET_FD_BY_ID part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// bpf(2) with one of the attr structs above; the non-negative result.
///
/// # Safety
///
/// `attr` must be the part of `union bpf_attr` that `cmd` reads, and every address in it must
/// point to memory that stays alive (and, where the kernel writes, writable and unaliased) for
/// the call, at least as large as the length next to it says.
unsafe fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, initialised #[repr(C)] prefix of `union bpf_attr` whose size
    // is passed along: the kernel reads (and for queries writes) at most that many bytes; the
    // addresses inside it are valid by this function's contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn too_big() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::E2BIG)
}

/// BPF_PROG_LOAD: load `insns` as a program of type `prog_type` under `license`. With a `log`
/// buffer, the verifier writes what it found there (a NUL-terminated text; at least 128 bytes
/// or the kernel refuses it).
pub fn prog_load(
    prog_type: u32,
    insns: &[Insn],
    license: &CStr,
    log: Option<&mut [u8]>,
) -> std::io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| too_big())?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..ProgLoadAttr::default()
    };
    if let Some(log) = log {
        attr.log_level = 1;
        // A shorter length than the buffer is always fine.
        attr.log_size = u32::try_from(log.len()).unwrap_or(u32::MAX);
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    // SAFETY: the kernel reads `insn_cnt` instructions from `insns` (all of the slice), the
    // NUL-terminated `license`, and writes at most `log_size` bytes to `log_buf` (the caller's
    // exclusively borrowed buffer); all outlive the call.
    let ret = unsafe { bpf(BPF_PROG_LOAD, &mut attr) }?;
    // SAFETY: `ret` is what BPF_PROG_LOAD, which returns a new program fd, just returned.
    Ok(unsafe { adopt(ret) }?)
}

/// BPF_PROG_ATTACH: attach the program `prog` to the cgroup `target` as `attach_type`.
pub fn prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> std::io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        ..AttachAttr::default()
    };
    // SAFETY: BPF_PROG_ATTACH reads only the integers of `attr`.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr) }?;
    Ok(())
}

/// BPF_PROG_DETACH: detach the program `prog` (attached as `attach_type`) from `target`.
pub fn prog_detach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
) -> std::io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        ..AttachAttr::default()
    };
    // SAFETY: BPF_PROG_DETACH reads only the integers of `attr`.
    unsafe { bpf(BPF_PROG_DETACH, &mut attr) }?;
    Ok(())
}

/// BPF_PROG_QUERY: the ids of the programs attached to `target` as `attach_type`, written to
/// the start of `ids`; returns how many there are (ENOSPC when more than `ids` holds).
pub fn prog_query(
    target: BorrowedFd<'_>,
    attach_type: u32,
    ids: &mut [u32],
) -> std::io::Result<usize> {
    let mut attr = QueryAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_type,
        prog_ids: ids.as_mut_ptr() as u64,
        // A shorter length than the slice is always fine.
        prog_cnt: u32::try_from(ids.len()).unwrap_or(u32::MAX),
        ..QueryAttr::default()
    };
    // SAFETY: the kernel writes at most `prog_cnt` ids to `prog_ids`, the caller's exclusively
    // borrowed slice, alive for the call; and the count back into `attr`.
    unsafe { bpf(BPF_PROG_QUERY, &mut attr) }?;
    Ok((attr.prog_cnt as usize).min(ids.len()))
}

/// BPF_PROG_GET_FD_BY_ID: an fd of the loaded program `id`.
pub fn prog_fd_by_id(id: u32) -> std::io::Result<OwnedFd> {
    let mut attr = GetFdAttr {
        prog_id: id,
        ..GetFdAttr::default()
    };
    // SAFETY: BPF_PROG_GET_FD_BY_ID reads only the integers of `attr`.
    let ret = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) }?;
    // SAFETY: `ret` is what BPF_PROG_GET_FD_BY_ID, which returns a new program fd, just
    // returned.
    Ok(unsafe { adopt(ret) }?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// bpf(2) needs CAP_BPF (or CAP_SYS_ADMIN) for these program types: without, EPERM.
    fn denied(e: &std::io::Error) -> bool {
        e.raw_os_error() == Some(libc::EPERM)
    }

    const MOV_R0_1: Insn = Insn {
        code: 0xb7,
        regs: 0,
        off: 0,
        imm: 1,
    };
    const EXIT: Insn = Insn {
        code: 0x95,
        regs: 0,
        off: 0,
        imm: 0,
    };

    #[test]
    fn the_struct_sizes_are_the_kernels() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
    }

    #[test]
    fn a_program_loads_and_a_bad_one_has_a_log() {
        match prog_load(
            BPF_PROG_TYPE_CGROUP_DEVICE,
            &[MOV_R0_1, EXIT],
            c"Apache-2.0",
            None,
        ) {
            Ok(_prog) => {}
            Err(e) if denied(&e) => return,
            Err(e) => panic!("{e}"),
        }
        // No exit at the end: the verifier refuses it and says why.
        let mut log = vec![0u8; 4096];
        let e = prog_load(
            BPF_PROG_TYPE_CGROUP_DEVICE,
            &[MOV_R0_1],
            c"Apache-2.0",
            Some(&mut log),
        )
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert_ne!(log[0], 0, "the verifier wrote nothing");
        // No instruction at all: E2BIG (EINVAL on older kernels).
        let e = prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, &[], c"Apache-2.0", None).unwrap_err();
        assert!(
            matches!(e.raw_os_error(), Some(libc::E2BIG | libc::EINVAL)),
            "{e}"
        );
    }

    #[test]
    fn queries_and_lookups_of_what_is_not_there() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let mut ids = [0u32; 4];
        // Not a cgroup directory.
        assert!(prog_query(f.as_fd(), BPF_CGROUP_DEVICE, &mut ids).is_err());
        // Ids start at 1.
        let e = prog_fd_by_id(0).unwrap_err();
        assert!(denied(&e) || e.raw_os_error() == Some(libc::ENOENT), "{e}");
    }
}
