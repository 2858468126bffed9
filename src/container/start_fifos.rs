//! The hand-over between `create` and `start`: two fifos in the state directory.
//!
//! - `exec.fifo` (start -> init): the init holds it open read-write from before the container
//!   exists and blocks reading it; `start` opens it for writing (ENXIO: no init is left to
//!   read) and writes one byte. Its presence is what makes a live init `created`.
//! - `exec.status` (init -> start): the init holds it open read-write too and, once released,
//!   writes `0` and, if the exec fails, why; its copy closes on execve, so `start` reads until
//!   end of file and knows the program really started.
//!
//! Both are opened by the init through the state directory's fd while nothing of the container
//! can reach it yet (before `Ready`); the directory fd is then closed, so the init never holds
//! a host directory that a process of the container could reach through /proc/PID/fd.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

/// start -> init.
pub const EXEC_FIFO: &str = "exec.fifo";
/// init -> start.
pub const EXEC_STATUS: &str = "exec.status";

#[derive(Debug, thiserror::Error)]
pub enum FifoError {
    #[error("{op} {name}: {source}")]
    Sys {
        op: &'static str,
        name: &'static str,
        source: nix::Error,
    },
    #[error("container init exited before start")]
    InitGone,
    /// The init reported why it could not exec the container's program.
    #[error("{0}")]
    Init(String),
}

fn sys(op: &'static str, name: &'static str) -> impl FnOnce(nix::Error) -> FifoError {
    move |source| FifoError::Sys { op, name, source }
}

/// Make both fifos in the (new) state directory, owned by the container's root (`owner`, as
/// host ids) and private to it.
pub fn make(dir: &Path, owner: (u32, u32)) -> Result<(), FifoError> {
    for name in [EXEC_FIFO, EXEC_STATUS] {
        let p = dir.join(name);
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(sys("mkfifo", name))?;
        nix::unistd::chown(
            &p,
            Some(nix::unistd::Uid::from_raw(owner.0)),
            Some(nix::unistd::Gid::from_raw(owner.1)),
        )
        .map_err(sys("chown", name))?;
    }
    Ok(())
}

/// The init's ends.
#[derive(Debug)]
pub struct InitEnds {
    go: OwnedFd,
    status: File,
}

impl InitEnds {
    /// Open both fifos read-write (which never blocks) through the state directory's fd.
    pub fn open(state_dir: BorrowedFd<'_>) -> Result<InitEnds, FifoError> {
        let open = |name: &'static str| {
            nix::fcntl::openat(
                state_dir,
                name,
                nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(sys("open", name))
        };
        Ok(InitEnds {
            go: open(EXEC_FIFO)?,
            status: File::from(open(EXEC_STATUS)?),
        })
    }

    /// The fd numbers, to keep when every other fd is closed.
    pub fn raw_fds(&self) -> [RawFd; 2] {
        [self.go.as_raw_fd(), self.status.as_raw_fd()]
    }

    /// Block until `start` writes its byte, then say we are going.
    pub fn wait_for_start(&mut self) -> Result<(), FifoError> {
        let mut b = [0u8; 1];
        loop {
            match nix::unistd::read(self.go.as_fd(), &mut b) {
                Ok(1) => break,
                Ok(_) | Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(sys("read", EXEC_FIFO)(e)),
            }
        }
        self.status.write_all(b"0").map_err(|e| {
            sys("write", EXEC_STATUS)(nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
        })
    }

    /// Tell `start` why the program was not executed.
    pub fn report(&mut self, msg: &str) {
        let _ = self.status.write_all(msg.as_bytes());
    }
}

/// `start`'s side: release the init and wait until its program was executed (or it said why
/// not). `alive` tells whether the init still exists (checked while waiting).
pub fn release(dir: &Path, alive: &dyn Fn() -> bool) -> Result<(), FifoError> {
    let open = |name: &'static str, flags: nix::fcntl::OFlag| {
        nix::fcntl::open(
            &dir.join(name),
            flags | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
    };
    // Read end first: it never blocks, and the init's copy keeps it from reading EOF early.
    let status = match open(EXEC_STATUS, nix::fcntl::OFlag::O_RDONLY) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return Err(FifoError::InitGone),
        Err(e) => return Err(sys("open", EXEC_STATUS)(e)),
    };
    let go = match open(EXEC_FIFO, nix::fcntl::OFlag::O_WRONLY) {
        Ok(fd) => fd,
        // No reader: the init is gone.
        Err(nix::Error::ENXIO) | Err(nix::Error::ENOENT) => return Err(FifoError::InitGone),
        Err(e) => return Err(sys("open", EXEC_FIFO)(e)),
    };
    match nix::unistd::write(&go, b"1") {
        Ok(1) => {}
        Ok(_) | Err(nix::Error::EPIPE) => return Err(FifoError::InitGone),
        Err(e) => return Err(sys("write", EXEC_FIFO)(e)),
    }
    drop(go);
    crate::faults::point("start:released");
    let _ = std::fs::remove_file(dir.join(EXEC_FIFO));
    let mut buf = Vec::new();
    let mut f = File::from(status);
    loop {
        let mut pfd = [nix::poll::PollFd::new(
            f.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16)) {
            Ok(0) => {
                if !alive() {
                    // Whatever it wrote before dying is still in the pipe.
                    let _ = f.read_to_end(&mut buf);
                    break;
                }
                continue;
            }
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(sys("poll", EXEC_STATUS)(e)),
        }
        let mut chunk = [0u8; 4096];
        match f.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(sys("read", EXEC_STATUS)(nix::Error::from_raw(
                    e.raw_os_error().unwrap_or(libc::EIO),
                )))
            }
        }
    }
    let _ = std::fs::remove_file(dir.join(EXEC_STATUS));
    match buf.split_first() {
        Some((b'0', [])) => Ok(()),
        Some((b'0', rest)) => Err(FifoError::Init(String::from_utf8_lossy(rest).into_owned())),
        _ => Err(FifoError::InitGone),
    }
}
