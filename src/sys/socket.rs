//! Receiving a file descriptor over a unix socket (SCM_RIGHTS). Nix receives it as a bare
//! number; only here, where it is known to come from the kernel, does it become owned.

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// A failed [`recv_fd`], by step.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecvFdError {
    /// recvmsg(2) itself failed.
    #[error("recvmsg: {0}")]
    Recv(nix::Error),
    /// The control data was truncated (MSG_CTRUNC): fds were lost.
    #[error("recvmsg cmsgs: {0}")]
    Cmsgs(nix::Error),
}

/// Receive one message into `buf` with the fds sent along (close-on-exec): the number of bytes
/// and the first fd, if any. Further fds of the message are closed.
pub fn recv_fd(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(usize, Option<OwnedFd>), RecvFdError> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(RecvFdError::Recv)?;
    let mut first = None;
    for c in msg.cmsgs().map_err(RecvFdError::Cmsgs)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: recvmsg just installed this fd in our table for this message (the
                // numbers come from the kernel's SCM_RIGHTS data, not from the sender); nothing
                // else knows or owns it.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                first.get_or_insert(owned);
            }
        }
    }
    Ok((msg.bytes, first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{
        sendmsg, socketpair, AddressFamily, ControlMessage, SockFlag, SockType,
    };
    use std::io::IoSlice;
    use std::os::fd::AsFd;

    fn pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap()
    }

    #[test]
    fn an_fd_and_its_message() {
        let (a, b) = pair();
        let file = std::fs::File::open("/dev/null").unwrap();
        let fds = [file.as_raw_fd()];
        sendmsg::<()>(
            a.as_raw_fd(),
            &[IoSlice::new(b"/dev/pts/3")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .unwrap();
        let mut buf = [0u8; 64];
        let (n, fd) = recv_fd(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"/dev/pts/3");
        let fd = fd.unwrap();
        assert_ne!(fd.as_raw_fd(), file.as_raw_fd());
        let (got, want) = (
            nix::sys::stat::fstat(&fd).unwrap(),
            nix::sys::stat::fstat(&file).unwrap(),
        );
        assert_eq!((got.st_dev, got.st_ino), (want.st_dev, want.st_ino));
        let flags = super::super::fd::flags(fd.as_raw_fd()).unwrap();
        assert!(flags.contains(nix::fcntl::FdFlag::FD_CLOEXEC));
    }

    #[test]
    fn a_message_without_fd() {
        let (a, b) = pair();
        nix::unistd::write(&a, b"x").unwrap();
        let mut buf = [0u8; 8];
        let (n, fd) = recv_fd(b.as_fd(), &mut buf).unwrap();
        assert_eq!((n, fd.is_none()), (1, true));
        drop(a);
        let (n, fd) = recv_fd(b.as_fd(), &mut buf).unwrap();
        assert_eq!((n, fd.is_none()), (0, true));
    }
}
