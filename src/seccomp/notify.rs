//! SCMP_ACT_NOTIFY: the seccomp agent at `linux.seccomp.listenerPath` gets the filter's
//! notify listener, as config-linux.md says: one message on a unix stream socket holding the
//! container process state (`ociVersion`, `fds: ["seccompFd"]`, `pid`, `metadata`, `state`)
//! with the listener in SCM_RIGHTS.
//!
//! The init installs the filter and writes the listener's fd number to the parent (write(2) is
//! the one call a notify profile may not name, as in runc); the parent takes a copy of that fd
//! with pidfd_getfd(2), so that the init needs no sendmsg, which a profile may notify before
//! any agent holds the listener. The parent sends it here, then lets the init go on.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use super::SeccompError;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// runc's words, which callers know.
    #[error(
        "failed to connect with seccomp agent specified in the seccomp profile ({path}): {source}"
    )]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("send the seccomp notify listener to the seccomp agent ({path}): {source}")]
    Send {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("take the seccomp notify listener (fd {fd}) from the container process {pid} (pidfd_getfd): {source}")]
    TakeFd {
        pid: i32,
        fd: i32,
        source: nix::Error,
    },
}

/// Where the listener goes: `listenerPath` (`@name` is an abstract socket) and
/// `listenerMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub path: PathBuf,
    pub metadata: String,
}

impl Listener {
    /// The listener of a profile with SCMP_ACT_NOTIFY rules, with runc's limits: not as the
    /// default action, not on write (the init needs it to hand over the listener), and only
    /// with a listenerPath. Without notify rules a listenerPath is ignored.
    pub fn of_profile(profile: &LinuxSeccomp) -> Result<Option<Listener>, SeccompError> {
        if profile.default_action() == LinuxSeccompAction::ScmpActNotify {
            return Err(SeccompError::NotifyDefault);
        }
        let notified: Vec<&String> = profile
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.action() == LinuxSeccompAction::ScmpActNotify)
            .flat_map(|s| s.names())
            .collect();
        if notified.is_empty() {
            return Ok(None);
        }
        if notified.iter().any(|n| *n == "write") {
            return Err(SeccompError::NotifyWrite);
        }
        let path = profile
            .listener_path()
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty())
            .ok_or(SeccompError::NotifyWithoutListener)?;
        Ok(Some(Listener {
            path: path.clone(),
            metadata: profile.listener_metadata().clone().unwrap_or_default(),
        }))
    }

    /// The message for the agent: the container process state. `state` is the container's
    /// state (state.json of the runtime-spec) as `rrun state` would print it.
    pub fn message(&self, pid: i32, state: &serde_json::Value) -> Vec<u8> {
        let version = state
            .get("ociVersion")
            .cloned()
            .unwrap_or_else(|| serde_json::Value::from(crate::container::state::OCI_VERSION));
        serde_json::json!({
            "ociVersion": version,
            "fds": ["seccompFd"],
            "pid": pid,
            "metadata": self.metadata,
            "state": state,
        })
        .to_string()
        .into_bytes()
    }

    fn connect(&self) -> Result<UnixStream, NotifyError> {
        let connect_err = |source| NotifyError::Connect {
            path: self.path.clone(),
            source,
        };
        let text = self.path.to_string_lossy();
        match text.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .map_err(connect_err)?;
                UnixStream::connect_addr(&addr).map_err(connect_err)
            }
            None => UnixStream::connect(&self.path).map_err(connect_err),
        }
    }

    /// Send `listener` with the state of process `pid` to the agent.
    pub fn send(
        &self,
        listener: &OwnedFd,
        pid: i32,
        state: &serde_json::Value,
    ) -> Result<(), NotifyError> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        let mut stream = self.connect()?;
        let send_err = |source| NotifyError::Send {
            path: self.path.clone(),
            source,
        };
        let data = self.message(pid, state);
        let fds = [listener.as_raw_fd()];
        let sent = loop {
            match sendmsg::<()>(
                stream.as_raw_fd(),
                &[std::io::IoSlice::new(&data)],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Err(nix::Error::EINTR) => continue,
                other => break other.map_err(|e| send_err(e.into()))?,
            }
        };
        // A stream may take the message in parts; the fd went with the first.
        stream.write_all(&data[sent..]).map_err(send_err)
    }
}

/// A copy of the fd `fd` of process `pid` (the init's notify listener).
pub fn take_fd(pid: i32, fd: i32) -> Result<OwnedFd, NotifyError> {
    let err = |source| NotifyError::TakeFd { pid, fd, source };
    let pidfd = crate::sys::process::pidfd_open(nix::unistd::Pid::from_raw(pid)).map_err(err)?;
    crate::sys::process::pidfd_getfd(std::os::fd::AsFd::as_fd(&pidfd), fd).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_message_is_the_container_process_state() {
        let l = Listener {
            path: "/x".into(),
            metadata: "bar".into(),
        };
        let state = serde_json::json!({"ociVersion": "1.2.0", "id": "c1", "status": "creating",
            "pid": 42, "bundle": "/b"});
        let m: serde_json::Value = serde_json::from_slice(&l.message(42, &state)).unwrap();
        assert_eq!(m["ociVersion"], "1.2.0");
        assert_eq!(m["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(m["pid"], 42);
        assert_eq!(m["metadata"], "bar");
        assert_eq!(m["state"], state);
    }

    #[test]
    fn listener_path_is_ignored_without_notify_rules() {
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/a.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}));
        assert_eq!(Listener::of_profile(&p).unwrap(), None);
    }

    /// The agent's side of the exchange, on a real socket: the state and the fd arrive
    /// together, and the fd is the listener (here any fd: a pipe's write end).
    #[test]
    fn sends_state_and_fd_to_a_listening_agent() {
        let dir = std::env::temp_dir().join(format!("rrun-notify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("agent.sock");
        let _ = std::fs::remove_file(&path);
        let server = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let l = Listener {
            path: path.clone(),
            metadata: "m".into(),
        };
        let (r, w) = nix::unistd::pipe().unwrap();
        let big = "x".repeat(300_000);
        let state = serde_json::json!({"id": "c", "annotations": {"a": big}});
        let agent = std::thread::spawn(move || {
            use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
            let (mut conn, _) = server.accept().unwrap();
            let mut buf = vec![0u8; 4096];
            let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
            let (n, fd) = {
                let mut iov = [std::io::IoSliceMut::new(&mut buf)];
                let msg = recvmsg::<()>(
                    conn.as_raw_fd(),
                    &mut iov,
                    Some(&mut space),
                    MsgFlags::empty(),
                )
                .unwrap();
                let fd = msg
                    .cmsgs()
                    .unwrap()
                    .find_map(|c| match c {
                        ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                        _ => None,
                    })
                    .unwrap();
                (msg.bytes, fd)
            };
            let mut all = buf[..n].to_vec();
            conn.read_to_end(&mut all).unwrap();
            (all, fd)
        });
        l.send(&w, 7, &state).unwrap();
        let (data, fd) = agent.join().unwrap();
        let m: serde_json::Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(m["pid"], 7);
        assert_eq!(
            m["state"]["annotations"]["a"].as_str().unwrap().len(),
            300_000
        );
        // The received fd is the pipe's write end.
        let link = |fd: i32| std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        assert_eq!(link(fd), link(w.as_raw_fd()));
        let _ = nix::unistd::close(fd);
        drop(r);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_agent_is_runcs_connect_error() {
        let l = Listener {
            path: "/nonexistent-rrun-agent.sock".into(),
            metadata: String::new(),
        };
        let (_r, w) = nix::unistd::pipe().unwrap();
        let e = l
            .send(&w, 1, &serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("failed to connect with seccomp agent"), "{e}");
        let l = Listener {
            path: "@rrun-no-such-abstract-agent".into(),
            metadata: String::new(),
        };
        let e = l
            .send(&w, 1, &serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("failed to connect with seccomp agent"), "{e}");
    }
}
