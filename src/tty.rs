#![forbid(unsafe_code)]
//! Terminals: the container's pty and the `--console-socket` hand-over.
//!
//! As runc does, the init opens the pty from the container's own /dev/ptmx (after pivot_root,
//! so it belongs to the container's devpts), makes the peer its controlling terminal and stdio,
//! and sends the master over the console socket (a unix stream socket the caller listens on)
//! with SCM_RIGHTS; the message's data is the pty's name.

use crate::sys;
use crate::sys::socket::RecvFdError;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
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
    let (n, fd) = sys::socket::recv_fd(sock, &mut buf).map_err(|e| match e {
        RecvFdError::Recv(e) => sys("recvmsg")(e),
        RecvFdError::Cmsgs(e) => sys("recvmsg cmsgs")(e),
    })?;
    let fd = fd.ok_or(TtyError::NoFd)?;
    Ok((fd, String::from_utf8_lossy(&buf[..n]).into_owned()))
}

/// Set a terminal's size.
pub fn set_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), TtyError> {
    sys::tty::set_window_size(fd, rows, cols).map_err(sys("ioctl(TIOCSWINSZ)"))
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
    sys::tty::unlock_pty(master.as_fd()).map_err(sys("ioctl(TIOCSPTLCK)"))?;
    let n = sys::tty::pty_number(master.as_fd()).map_err(sys("ioctl(TIOCGPTN)"))?;
    let peer = sys::tty::open_pty_peer(master.as_fd()).map_err(sys("ioctl(TIOCGPTPEER)"))?;
    if let Some((rows, cols)) = size {
        set_size(peer.as_fd(), rows, cols)?;
    }
    let name = format!("/dev/pts/{n}");
    if dev_console {
        mount_dev_console(peer.as_fd())?;
    }
    send_fd(console, master.as_raw_fd(), &name)?;
    drop(master);
    // We lead a session (setsid) without a controlling terminal.
    sys::tty::set_controlling_terminal(peer.as_fd()).map_err(sys("ioctl(TIOCSCTTY)"))?;
    // The old fds 0, 1 and 2 are replaced on purpose.
    nix::unistd::dup2_stdin(&peer).map_err(sys("dup2(pty)"))?;
    nix::unistd::dup2_stdout(&peer).map_err(sys("dup2(pty)"))?;
    nix::unistd::dup2_stderr(&peer).map_err(sys("dup2(pty)"))?;
    Ok(())
}
