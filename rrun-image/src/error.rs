//! The one error-context type for a failed filesystem operation: which operation, on which
//! path, and the OS error. Every module's error enum carries it as a transparent variant, so a
//! message reads `OP PATH: ERROR` wherever it comes from.

use std::io;
use std::path::{Path, PathBuf};

/// What a path in an [`IoError`] is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A path on the host.
    Host,
    /// A path inside the root filesystem being built (a layer entry's path).
    InRootfs,
}

/// `op` on `path` failed with `source`.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}{}: {source}", .path.display(), .kind.note())]
pub struct IoError {
    pub op: &'static str,
    pub path: PathBuf,
    pub kind: PathKind,
    pub source: io::Error,
}

impl PathKind {
    /// What a message adds after the path.
    fn note(self) -> &'static str {
        match self {
            PathKind::Host => "",
            PathKind::InRootfs => " (inside the rootfs)",
        }
    }
}

/// For `map_err`: an [`IoError`] saying that `op` on the host path `path` failed.
pub fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> IoError + 'a {
    move |source| IoError {
        op,
        path: path.to_path_buf(),
        kind: PathKind::Host,
        source,
    }
}

/// For `map_err`: an [`IoError`] saying that `op` on `path`, inside the rootfs being built,
/// failed.
pub fn rootfs_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> IoError + 'a {
    move |source| IoError {
        op,
        path: path.to_path_buf(),
        kind: PathKind::InRootfs,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_operation_and_the_path() {
        let e = io_err("open", Path::new("/a/b"))(io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(
            e.to_string(),
            format!("open /a/b: {}", io::Error::from_raw_os_error(libc::ENOENT))
        );
        let e =
            rootfs_err("mkdirat", Path::new("etc/x"))(io::Error::from_raw_os_error(libc::EEXIST));
        assert_eq!(
            e.to_string(),
            format!(
                "mkdirat etc/x (inside the rootfs): {}",
                io::Error::from_raw_os_error(libc::EEXIST)
            )
        );
    }

    #[test]
    fn the_os_error_is_the_source() {
        let e = io_err("read", Path::new("f"))(io::Error::from_raw_os_error(libc::EIO));
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(
            source,
            Some(io::Error::from_raw_os_error(libc::EIO).to_string())
        );
    }
}
