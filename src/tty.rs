//! Terminals: the container's pty and the `--console-socket` hand-over.
//!
//! As runc does, the init opens the pty from the container's own /dev/ptmx (after pivot_root,
//! so it belongs to the container's devpts), makes the peer its controlling terminal and stdio,
//! and sends the master over the console socket (a unix stream socket the caller listens on)
//! with SCM_RIGHTS; the message's data is the pty's name.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TtyError {
    #[error("console socket {path}: {source}")]
    Connect {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        source: nix::Error,
    },
    #[error("console socket: no file descriptor received")]
    NoFd,
    #[error("/dev/console: {0}")]
    Console(String),
}

fn sys(op: &'static str) -> impl FnOnce(nix::Error) -> TtyError {
    move |source| TtyError::Sys { op, source }
}

/// Connect to the caller's console socket (done by the parent before the fork).
pub fn connect_console_socket(path: &Path) -> Result<OwnedFd, TtyError> {
    let s = std::os::unix::net::UnixStream::connect(path).map_err(|source| TtyError::Connect {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(OwnedFd::from(s))
}

/// Send `fd` with `name` as the message data.
pub fn send_fd(sock: BorrowedFd<'_>, fd: RawFd, name: &str) -> Result<(), TtyError> {
    let iov = [IoSlice::new(name.as_bytes())];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(sys("sendmsg(SCM_RIGHTS)"))?;
    Ok(())
}

/// Receive one fd and its name (the receiving side of a console socket).
pub fn recv_fd(sock: BorrowedFd<'_>) -> Result<(OwnedFd, String), TtyError> {
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(sys("recvmsg"))?;
    let mut got = None;
    for c in msg.cmsgs().map_err(sys("recvmsg cmsgs"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel installed these fds in our table for us.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                got.get_or_insert(owned);
            }
        }
    }
    let n = msg.bytes;
    let fd = got.ok_or(TtyError::NoFd)?;
    Ok((fd, String::from_utf8_lossy(&buf[..n]).into_owned()))
}

/// Set a terminal's size.
pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> Result<(), TtyError> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a fully initialised winsize.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
    if rc != 0 {
        return Err(TtyError::Sys {
            op: "ioctl(TIOCSWINSZ)",
            source: nix::Error::last(),
        });
    }
    Ok(())
}

/// Bind the pty peer over /dev/console, as runc does, so programs that write to the console
/// reach the terminal. The target is reached without any symlink: a /dev/console that is a
/// symlink (or anything but a file or device) is replaced by an empty file first, and the
/// peer's own fd is what is bound, so neither end can be redirected (CVE-2025-52565 class).
fn mount_dev_console(peer: BorrowedFd<'_>) -> Result<(), TtyError> {
    use crate::rootfs::resolve::{openat2, Root};
    use std::os::fd::AsFd;
    let console_err = |e: &dyn std::fmt::Display| TtyError::Console(e.to_string());
    let root = Root::open(Path::new("/")).map_err(|e| console_err(&e))?;
    let dev = root
        .open_no_symlinks(Path::new("/dev"), libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| console_err(&e))?;
    let name = c"console";
    let kind = |st: &libc::stat| st.st_mode & libc::S_IFMT;
    match nix::sys::stat::fstatat(&dev, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if kind(&st) == libc::S_IFREG || kind(&st) == libc::S_IFCHR => {}
        Ok(st) if kind(&st) == libc::S_IFDIR => {
            return Err(TtyError::Console("/dev/console is a directory".into()))
        }
        Ok(_) => nix::unistd::unlinkat(&dev, name, nix::unistd::UnlinkatFlags::NoRemoveDir)
            .map_err(sys("unlink /dev/console (not a file)"))?,
        Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(sys("stat /dev/console")(e)),
    }
    match nix::fcntl::openat(
        &dev,
        name,
        nix::fcntl::OFlag::O_CREAT
            | nix::fcntl::OFlag::O_EXCL
            | nix::fcntl::OFlag::O_WRONLY
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
    ) {
        Ok(_) | Err(nix::Error::EEXIST) => {}
        Err(e) => return Err(sys("create /dev/console")(e)),
    }
    let resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    let target = openat2(dev.as_fd(), Path::new("console"), libc::O_PATH, 0, resolve)
        .map_err(|e| console_err(&format!("open /dev/console: {e}")))?;
    let st = nix::sys::stat::fstat(&target).map_err(sys("fstat /dev/console"))?;
    if kind(&st) != libc::S_IFREG && kind(&st) != libc::S_IFCHR {
        return Err(TtyError::Console("/dev/console is not a file".into()));
    }
    crate::rootfs::fdmount::bind(
        peer,
        target.as_fd(),
        false,
        "bind the pty over /dev/console",
    )
    .map_err(|e| console_err(&e))?;
    Ok(())
}

/// Open the container's /dev/ptmx (resolved inside the root) and check that it is the pty
/// multiplexer (char 5:2), not a fifo or file the image put there.
fn open_ptmx() -> Result<OwnedFd, TtyError> {
    use crate::rootfs::resolve::Root;
    let root = Root::open(Path::new("/")).map_err(|e| TtyError::Console(format!("open /: {e}")))?;
    let fd = root
        .open_path(
            Path::new("/dev/ptmx"),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK,
        )
        .map_err(|e| TtyError::Console(e.to_string()))?;
    let st = nix::sys::stat::fstat(&fd).map_err(sys("fstat /dev/ptmx"))?;
    let ptmx = st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && libc::major(st.st_rdev) == 5
        && libc::minor(st.st_rdev) == 2;
    if !ptmx {
        return Err(TtyError::Console(
            "/dev/ptmx is not the pty multiplexer (char 5:2)".into(),
        ));
    }
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_RDWR),
    )
    .map_err(sys("fcntl(/dev/ptmx, F_SETFL)"))?;
    Ok(fd)
}

/// Open a new pty in the current root's /dev/ptmx, send its master over `console`, and make
/// its peer the calling process's controlling terminal and fds 0, 1 and 2 (and, for the
/// container's init, its /dev/console). The caller has already called setsid().
pub fn setup_console(
    console: BorrowedFd<'_>,
    size: Option<(u16, u16)>,
    dev_console: bool,
) -> Result<(), TtyError> {
    let master = open_ptmx()?;
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int from the pointer we pass.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) } != 0 {
        return Err(TtyError::Sys {
            op: "ioctl(TIOCSPTLCK)",
            source: nix::Error::last(),
        });
    }
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes the pty number to the uint we pass.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) } != 0 {
        return Err(TtyError::Sys {
            op: "ioctl(TIOCGPTN)",
            source: nix::Error::last(),
        });
    }
    // SAFETY: TIOCGPTPEER opens the peer of this master and returns a new fd (or -1).
    let peer = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY,
        )
    };
    if peer < 0 {
        return Err(TtyError::Sys {
            op: "ioctl(TIOCGPTPEER)",
            source: nix::Error::last(),
        });
    }
    // SAFETY: the fd was just returned by the kernel and nobody else owns it.
    let peer = unsafe { OwnedFd::from_raw_fd(peer) };
    if let Some((rows, cols)) = size {
        set_size(peer.as_raw_fd(), rows, cols)?;
    }
    let name = format!("/dev/pts/{n}");
    if dev_console {
        mount_dev_console(std::os::fd::AsFd::as_fd(&peer))?;
    }
    send_fd(console, master.as_raw_fd(), &name)?;
    drop(master);
    // SAFETY: TIOCSCTTY with arg 0 makes this tty our controlling terminal (we lead a session).
    if unsafe { libc::ioctl(peer.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(TtyError::Sys {
            op: "ioctl(TIOCSCTTY)",
            source: nix::Error::last(),
        });
    }
    // The old fds 0, 1 and 2 are replaced on purpose.
    nix::unistd::dup2_stdin(&peer).map_err(sys("dup2(pty)"))?;
    nix::unistd::dup2_stdout(&peer).map_err(sys("dup2(pty)"))?;
    nix::unistd::dup2_stderr(&peer).map_err(sys("dup2(pty)"))?;
    Ok(())
}
