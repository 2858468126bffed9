//! Namespace files: the NS_GET_NSTYPE ioctl (linux/nsfs.h), which nix does not have.

use std::os::fd::{AsRawFd, BorrowedFd};

/// NS_GET_NSTYPE: _IO(0xb7, 0x3).
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// The type (a `CLONE_NEW*` flag) of the namespace the file `fd` refers to; ENOTTY when it is
/// no namespace file.
pub fn namespace_type(fd: BorrowedFd<'_>) -> nix::Result<libc::c_int> {
    // SAFETY: NS_GET_NSTYPE takes no argument and reads or writes no memory of ours.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    if r < 0 {
        return Err(nix::Error::last());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn types_of_namespace_files() {
        for (path, flag) in [
            ("/proc/self/ns/mnt", libc::CLONE_NEWNS),
            ("/proc/self/ns/uts", libc::CLONE_NEWUTS),
            ("/proc/self/ns/net", libc::CLONE_NEWNET),
        ] {
            let Ok(f) = std::fs::File::open(path) else {
                continue; // no access to our own namespaces here
            };
            assert_eq!(namespace_type(f.as_fd()), Ok(flag), "{path}");
        }
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(namespace_type(f.as_fd()).is_err());
    }
}
