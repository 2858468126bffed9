//! Docker's copy-up for a new volume: the volume starts with what the image holds at its path
//! (MariaDB's initialised /var/lib/mysql, nginx's /var/cache/nginx), owners, modes, symlinks,
//! special files and times kept. The walk is by directory fd with every name opened
//! O_NOFOLLOW, so a symlink in the image is copied as a symlink and never followed out of the
//! rootfs. Hard links become separate copies; extended attributes are not copied (Docker's
//! copy-up keeps them; none of the images tried has any there).

use crate::fsops::{self, list_dir, lstat_at, open_at};
use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// How deep a tree may nest (a hostile image cannot exhaust the stack).
const MAX_DEPTH: usize = 512;

/// Copy the contents of directory `src` into the empty directory `dst`. Returns the number of
/// entries copied.
pub fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<u64> {
    copy_level(src, dst, 0)
}

fn copy_level(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, depth: usize) -> io::Result<u64> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!(
            "directories nested more than {MAX_DEPTH} deep"
        )));
    }
    let mut copied = 0;
    for name in list_dir(src.try_clone_to_owned()?)? {
        let Some(st) = lstat_at(src, &name)? else {
            continue;
        };
        copy_entry(src, dst, &name, &st)?;
        copied += 1;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            let s = open_at(src, &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            let d = open_at(dst, &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            copied += copy_level(s.as_fd(), d.as_fd(), depth + 1)?;
            // After the children: their creation changed the directory's times.
            fsops::lutimes_at(dst, &name, st.st_mtime)?;
        }
    }
    Ok(copied)
}

fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    st: &libc::stat,
) -> io::Result<()> {
    let perm = st.st_mode & 0o7777;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            fsops::mkdir_at(dst, name, 0o700)?;
            fsops::lchown_at(dst, name, st.st_uid, st.st_gid)?;
            fsops::chmod_node_at(dst, name, perm)?;
        }
        libc::S_IFREG => {
            let s = File::from(open_at(src, name, libc::O_RDONLY, 0)?);
            let d = File::from(open_at(
                dst,
                name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                0o600,
            )?);
            io::copy(&mut &s, &mut &d)?;
            // chown first: it clears the setuid and setgid bits that chmod then sets.
            fsops::fchown(d.as_fd(), st.st_uid, st.st_gid)?;
            fsops::fchmod(d.as_fd(), perm)?;
            fsops::futimes(d.as_fd(), st.st_mtime)?;
        }
        libc::S_IFLNK => {
            let target = nix::fcntl::readlinkat(src, name)?;
            let target = fsops::cstring(&target)?;
            fsops::symlink_at(&target, dst, name)?;
            fsops::lchown_at(dst, name, st.st_uid, st.st_gid)?;
            fsops::lutimes_at(dst, name, st.st_mtime)?;
        }
        libc::S_IFIFO | libc::S_IFCHR | libc::S_IFBLK => {
            fsops::mknod_at(dst, name, st.st_mode, st.st_rdev)?;
            fsops::lchown_at(dst, name, st.st_uid, st.st_gid)?;
            fsops::chmod_node_at(dst, name, perm)?;
            fsops::lutimes_at(dst, name, st.st_mtime)?;
        }
        _ => {} // sockets: nothing to copy
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    #[test]
    fn contents_owners_modes_and_symlinks_are_copied_never_followed() {
        let base = std::env::temp_dir().join(format!("rrun-image-copyup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (src, dst) = (base.join("src"), base.join("dst"));
        std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(src.join("sub/file"), b"data").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("escape")).unwrap();
        std::os::unix::fs::symlink("../..", src.join("sub/up")).unwrap();
        let root = nix::unistd::geteuid().is_root();
        if root {
            std::os::unix::fs::lchown(src.join("sub"), Some(33), Some(34)).unwrap();
            std::os::unix::fs::chown(src.join("sub/file"), Some(33), Some(34)).unwrap();
        }
        // After the chown, which clears setuid.
        std::fs::set_permissions(
            src.join("sub/file"),
            std::fs::Permissions::from_mode(0o4750),
        )
        .unwrap();
        let open = |p: &Path| {
            open_at(
                File::open("/").unwrap().as_fd(),
                &fsops::cstring(p.strip_prefix("/").unwrap().as_os_str()).unwrap(),
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
            )
            .unwrap()
        };
        let n = copy_tree(open(&src).as_fd(), open(&dst).as_fd()).unwrap();
        assert_eq!(n, 5);
        assert_eq!(std::fs::read(dst.join("sub/file")).unwrap(), b"data");
        let md = std::fs::metadata(dst.join("sub/file")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o4750);
        assert_eq!(
            std::fs::read_link(dst.join("escape")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert!(std::fs::symlink_metadata(dst.join("sub/up"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(dst.join("sub/deeper").is_dir());
        if root {
            let md = std::fs::metadata(dst.join("sub")).unwrap();
            assert_eq!((md.uid(), md.gid()), (33, 34));
            let md = std::fs::metadata(dst.join("sub/file")).unwrap();
            assert_eq!((md.uid(), md.gid()), (33, 34));
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
