#![forbid(unsafe_code)]
//! The runtime binary, out of the container's reach (CVE-2019-5736 class).
//!
//! The init and an entering `exec` process are forks of rrun until their final execve, so
//! their /proc/PID/exe is rrun's own binary; a container program started as `#!/proc/self/exe`
//! runs it too. A process of the container that opens that link and reopens it for writing
//! once rrun has exited would overwrite the host's binary.
//!
//! So `create`, `run` and `exec` first re-execute rrun from a copy that cannot be written: a
//! clone of the binary's mount, made read-only while detached (open_tree + mount_setattr; no
//! copy, nothing attached anywhere), or, where that is not allowed (no CAP_SYS_ADMIN over the
//! mount namespace), a sealed memfd copy. Every process forked after that has the protected
//! file as its exe. Nothing is done when the binary is protected already (a read-only mount,
//! a sealed memfd), which is also how the re-executed rrun knows it is done.

use nix::fcntl::{FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("protect the runtime binary: {op}: {source}")]
    Sys {
        op: &'static str,
        source: std::io::Error,
    },
    #[error("protect the runtime binary: an argument or environment entry holds a NUL byte")]
    Nul,
}

fn sys(op: &'static str) -> impl FnOnce(std::io::Error) -> SealError {
    move |source| SealError::Sys { op, source }
}

fn nix_sys(op: &'static str) -> impl FnOnce(nix::Error) -> SealError {
    move |e| SealError::Sys {
        op,
        source: e.into(),
    }
}

const WRITE_SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// Whether the running binary can no longer be written through /proc/PID/exe.
pub fn is_protected() -> Result<bool, SealError> {
    let exe = File::open("/proc/self/exe").map_err(sys("open /proc/self/exe"))?;
    let vfs = nix::sys::statvfs::fstatvfs(&exe).map_err(nix_sys("fstatvfs /proc/self/exe"))?;
    if vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Ok(true);
    }
    // F_GET_SEALS fails (EINVAL) when the file is no memfd.
    let seals = nix::fcntl::fcntl(&exe, FcntlArg::F_GET_SEALS);
    Ok(matches!(seals, Ok(seals) if seals & libc::F_SEAL_WRITE != 0))
}

/// A read-only, detached clone of the mount the binary is on, rooted at the binary.
fn readonly_clone(exe: &OwnedFd) -> Result<OwnedFd, crate::rootfs::fdmount::FdMountError> {
    use crate::rootfs::fdmount;
    let what = "rrun binary";
    let tree = fdmount::clone_tree(exe.as_fd(), false, what)?;
    let attrs = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NODEV;
    fdmount::set_attr(tree.as_fd(), attrs, 0, false, what)?;
    Ok(tree)
}

/// A sealed memfd holding a copy of the binary.
fn sealed_copy() -> Result<OwnedFd, SealError> {
    let name = c"rrun";
    let base = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    // nix does not name MFD_EXEC (Linux 6.3).
    let exec = MFdFlags::from_bits_retain(libc::MFD_EXEC);
    let mem = memfd_create(name, base | exec)
        // Kernels before 6.3 do not know MFD_EXEC (and make every memfd executable).
        .or_else(|_| memfd_create(name, base))
        .map_err(nix_sys("memfd_create"))?;
    let mut src = File::open("/proc/self/exe").map_err(sys("open /proc/self/exe"))?;
    let mut dst = File::from(mem);
    std::io::copy(&mut src, &mut dst).map_err(sys("copy the binary into a memfd"))?;
    nix::fcntl::fcntl(&dst, FcntlArg::F_ADD_SEALS(WRITE_SEALS))
        .map_err(nix_sys("seal the memfd"))?;
    Ok(dst.into())
}

fn cstrings(v: impl Iterator<Item = OsString>) -> Result<Vec<CString>, SealError> {
    v.map(|s| CString::new(s.into_vec()).map_err(|_| SealError::Nul))
        .collect()
}

/// Re-execute rrun, with the same arguments and environment, from a protected copy, unless
/// it runs from one already. Returns only when nothing had to be done, or with an error.
pub fn reexec_protected(args: &[OsString]) -> Result<(), SealError> {
    if is_protected()? {
        return Ok(());
    }
    let args = cstrings(args.iter().cloned())?;
    let env = cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        kv
    }))?;
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(nix_sys("open /proc/self/exe"))?;
    let fd = match readonly_clone(&exe) {
        Ok(fd) => fd,
        Err(_) => sealed_copy()?,
    };
    let e = nix::unistd::execveat(
        fd.as_fd(),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .unwrap_err();
    Err(nix_sys("execveat the protected binary")(e))
}
