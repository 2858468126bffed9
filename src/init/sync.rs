//! The sync protocol between `rrun` (the parent) and the two init stages.
//!
//! One `SOCK_SEQPACKET` socketpair, made by the parent before it forks stage-1; stage-2 (the
//! container init) inherits stage-1's end. Every message is one packet holding one JSON
//! [`Message`]. The exchange, in order (→ means "sends to"):
//!
//! | # | who → whom          | message            | what the receiver does next                       |
//! |---|---------------------|--------------------|---------------------------------------------------|
//! | 1 | parent → stage-1    | `Proceed`          | parent has put stage-1 in the container's cgroup;  |
//! |   |                     |                    | stage-1 joins `path` namespaces                   |
//! | 2 | stage-1 → parent    | `UsernsCreated`    | (only with a new user ns) parent writes           |
//! |   |                     |                    | /proc/<stage-1>/{uid,gid}_map                      |
//! | 3 | parent → stage-1    | `IdMapsWritten`    | stage-1 becomes root in the ns, unshares the rest, |
//! |   |                     |                    | sets time offsets, forks stage-2                  |
//! | 4 | stage-1 → parent    | `Stage2Started`    | host pid of the init; stage-1 exits 0, parent     |
//! |   |                     |                    | reaps it, sets the init's oom_score_adj           |
//! | 4b| parent → stage-2    | `InitProceed`      | the init starts its setup (it waits for this so   |
//! |   |                     |                    | that its messages cannot overtake step 4)         |
//! | 5 | stage-2 → parent    | `RunCreateHooks`   | (only with prestart or createRuntime hooks) init  |
//! |   |                     |                    | has set up its mounts (not yet pivoted); parent   |
//! |   |                     |                    | runs prestart + createRuntime hooks               |
//! | 6 | parent → stage-2    | `HooksDone`        | init runs createContainer hooks, pivots, sets up  |
//! |   |                     |                    | the process, checks the executable                |
//! | 6b| stage-2 → parent    | `SeccompListener`  | (only with SCMP_ACT_NOTIFY rules) the filter is   |
//! |   |                     |                    | installed; parent copies the listener fd with     |
//! |   |                     |                    | pidfd_getfd and sends it to the seccomp agent     |
//! | 6c| parent → stage-2    | `SeccompListenerSent` | the init closes its listener and goes on       |
//! | 7 | stage-2 → parent    | `Ready`            | parent writes state.json and the pid file; the    |
//! |   |                     |                    | init blocks on the exec fifo until `start`        |
//!
//! Errors: a stage that fails sends `Error` (a [`StageError`]: step, errno, path, text) and exits
//! 1; the parent reports that text, kills what is left and cleans up. A stage that dies without
//! a word shows as end-of-file (a zero-length read) on the parent's end, because the parent
//! closes its copy of the child's end right after the fork. The parent never blocks on a
//! child that cannot answer: every wait is a read on this socket.

use super::error::StageError;
use nix::sys::socket::{recv, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    Proceed,
    UsernsCreated,
    IdMapsWritten,
    Stage2Started {
        pid: i32,
    },
    InitProceed,
    RunCreateHooks,
    HooksDone,
    /// The notify listener is fd `fd` of the init (it is not sent as SCM_RIGHTS: sendmsg may
    /// be a notified syscall, which nobody could answer yet).
    SeccompListener {
        fd: i32,
    },
    SeccompListenerSent,
    Ready,
    /// A stage failed: the step, errno, path and the whole, user-facing reason.
    Error {
        error: StageError,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("sync socket {op}: {source}")]
    Io {
        op: &'static str,
        source: nix::Error,
    },
    #[error("the container init exited before it was ready")]
    Eof,
    #[error("sync socket: bad message: {0}")]
    Bad(String),
    #[error("sync: expected {expected}, got {got:?}")]
    Unexpected {
        expected: &'static str,
        got: Message,
    },
}

impl SyncError {
    /// The peer is gone without a word: end-of-file on a read, or a write that found no
    /// reader (EPIPE, ECONNRESET). The stage that held the other end died (or is dying).
    pub fn peer_gone(&self) -> bool {
        match self {
            SyncError::Eof => true,
            SyncError::Io { source, .. } => {
                matches!(source, nix::Error::EPIPE | nix::Error::ECONNRESET)
            }
            _ => false,
        }
    }
}

/// A new socketpair: (parent end, child end), both close-on-exec.
pub fn pair() -> Result<(OwnedFd, OwnedFd), SyncError> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|source| SyncError::Io {
        op: "socketpair",
        source,
    })
}

/// Send one message. write(2) rather than send(2): the init sends `Ready` (and an `Error`)
/// after a seccomp filter may be installed, and profiles list write far more often than
/// sendto. The Rust runtime ignores SIGPIPE, so a closed peer is an EPIPE error; in the init
/// after SIGPIPE got its default back, the peer is gone and so is the reason to go on.
pub fn send_msg(fd: BorrowedFd<'_>, m: &Message) -> Result<(), SyncError> {
    let data = encode_bounded(m)?;
    loop {
        match nix::unistd::write(fd, &data) {
            Ok(_) => return Ok(()),
            Err(nix::Error::EINTR) => continue,
            Err(source) => {
                return Err(SyncError::Io {
                    op: "write",
                    source,
                })
            }
        }
    }
}

/// The largest packet [`recv_msg`] reads.
pub const MAX_PACKET: usize = 64 * 1024;

/// A message as one packet of at most [`MAX_PACKET`] bytes: an `Error` whose text is longer
/// (a hook's output, a long path list) is cut, at a character boundary, with a note, so the
/// reader never sees a truncated packet.
fn encode_bounded(m: &Message) -> Result<Vec<u8>, SyncError> {
    let encode = |m: &Message| serde_json::to_vec(m).map_err(|e| SyncError::Bad(e.to_string()));
    let data = encode(m)?;
    let Message::Error { error } = m else {
        return Ok(data);
    };
    if data.len() <= MAX_PACKET {
        return Ok(data);
    }
    // JSON escapes can make a character up to 6 bytes (\u0000): the detail and the path get
    // a twelfth of the packet each.
    let mut error = error.bounded(MAX_PACKET / 12);
    if error
        .path
        .as_ref()
        .is_some_and(|p| p.len() > MAX_PACKET / 12)
    {
        error.path = None;
    }
    encode(&Message::Error { error })
}

pub fn recv_msg(fd: BorrowedFd<'_>) -> Result<Message, SyncError> {
    let mut buf = vec![0u8; MAX_PACKET];
    let n = loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => break n,
            Err(nix::Error::EINTR) => continue,
            Err(source) => return Err(SyncError::Io { op: "recv", source }),
        }
    };
    if n == 0 {
        return Err(SyncError::Eof);
    }
    serde_json::from_slice(&buf[..n]).map_err(|e| SyncError::Bad(e.to_string()))
}

/// Receive and require `want` (the stages' waits; the parent's are in mod.rs).
pub fn expect(fd: BorrowedFd<'_>, want: Message, name: &'static str) -> Result<(), SyncError> {
    match recv_msg(fd)? {
        m if m == want => Ok(()),
        got => Err(SyncError::Unexpected {
            expected: name,
            got,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn roundtrip_and_eof() {
        let (a, b) = pair().unwrap();
        send_msg(a.as_fd(), &Message::Stage2Started { pid: 7 }).unwrap();
        send_msg(a.as_fd(), &Message::Ready).unwrap();
        assert_eq!(
            recv_msg(b.as_fd()).unwrap(),
            Message::Stage2Started { pid: 7 }
        );
        expect(b.as_fd(), Message::Ready, "Ready").unwrap();
        drop(a);
        assert!(matches!(recv_msg(b.as_fd()), Err(SyncError::Eof)));
    }

    /// Issue 16: an error text over 64 KiB reached the parent as "sync socket: bad message".
    #[test]
    fn long_errors_are_cut_by_the_sender() {
        let (a, b) = pair().unwrap();
        for text in [
            "é".repeat(100_000),
            "\u{1}".repeat(200_000),
            "x".repeat(70_000),
        ] {
            let error = StageError::msg(super::super::error::Step::Hook, text.clone());
            send_msg(a.as_fd(), &Message::Error { error }).unwrap();
            match recv_msg(b.as_fd()).unwrap() {
                Message::Error { error } => {
                    let message = error.detail;
                    assert!(message.len() < MAX_PACKET);
                    assert!(text.starts_with(message.split(" ... (").next().unwrap()));
                    assert!(
                        message.ends_with("more bytes cut)"),
                        "{}",
                        &message[message.len() - 40..]
                    );
                }
                m => panic!("{m:?}"),
            }
        }
    }
}
