//! Terminal ioctls: the window size, and opening a pty from its master (unlock, number, peer)
//! and making it the controlling terminal. Nix has none of these as safe functions.

use super::fd::adopt;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// TIOCGWINSZ: the size of the terminal `fd`, as (rows, columns).
pub fn window_size(fd: BorrowedFd<'_>) -> nix::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize to the pointer, which points to `ws`, a winsize
    // alive for the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCGWINSZ,
            &mut ws as *mut libc::winsize,
        )
    };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok((ws.ws_row, ws.ws_col))
}

/// TIOCSWINSZ: set the size of the terminal `fd` (pixel sizes 0).
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> nix::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which points to `ws`, fully
    // initialised and alive for the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCSWINSZ,
            &ws as *const libc::winsize,
        )
    };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// TIOCSPTLCK with 0: unlock the pty `master` so that its peer can be opened.
pub fn unlock_pty(master: BorrowedFd<'_>) -> nix::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from the pointer, which points to `unlock`.
    let rc = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCSPTLCK,
            &unlock as *const libc::c_int,
        )
    };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// TIOCGPTN: the number N of the pty `master` (its peer is /dev/pts/N of its devpts).
pub fn pty_number(master: BorrowedFd<'_>) -> nix::Result<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int to the pointer, which points to `n`.
    let rc = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTN,
            &mut n as *mut libc::c_uint,
        )
    };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(n)
}

/// TIOCGPTPEER (Linux 4.13): open the peer of the pty `master` (O_RDWR | O_NOCTTY) without a
/// path, so it is the peer of this very master whatever /dev/pts holds.
pub fn open_pty_peer(master: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes the open flags as an integer and reads no memory of ours.
    let ret = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY,
        )
    };
    // SAFETY: `ret` is what TIOCGPTPEER, which returns a new fd, just returned.
    unsafe { adopt(ret.into()) }
}

/// TIOCSCTTY with 0: make the terminal `fd` the controlling terminal of the calling process,
/// which must lead a session that has none (setsid). Never steals it from another session.
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer (0: do not steal) and reads no memory of ours.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// A new pty from the host's /dev/ptmx (nothing else uses it).
    fn ptmx() -> Option<OwnedFd> {
        nix::fcntl::open(
            "/dev/ptmx",
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ok()
    }

    #[test]
    fn a_pty_peer_and_its_size() {
        let Some(master) = ptmx() else {
            return; // no ptys here
        };
        unlock_pty(master.as_fd()).unwrap();
        let n = pty_number(master.as_fd()).unwrap();
        let peer = open_pty_peer(master.as_fd()).unwrap();
        // The peer is /dev/pts/N when the host's devpts is at /dev/pts.
        if let Ok(st) = nix::sys::stat::stat(format!("/dev/pts/{n}").as_str()) {
            let own = nix::sys::stat::fstat(&peer).unwrap();
            assert_eq!(st.st_rdev, own.st_rdev);
        }
        set_window_size(peer.as_fd(), 33, 120).unwrap();
        assert_eq!(window_size(peer.as_fd()).unwrap(), (33, 120));
        assert_eq!(window_size(master.as_fd()).unwrap(), (33, 120));
    }

    #[test]
    fn not_a_terminal() {
        let f = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(window_size(f.as_fd()), Err(nix::Error::ENOTTY));
        assert_eq!(set_window_size(f.as_fd(), 1, 1), Err(nix::Error::ENOTTY));
        assert_eq!(pty_number(f.as_fd()), Err(nix::Error::ENOTTY));
        assert!(open_pty_peer(f.as_fd()).is_err());
        assert_eq!(set_controlling_terminal(f.as_fd()), Err(nix::Error::ENOTTY));
    }
}
