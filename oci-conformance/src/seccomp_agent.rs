//! A small seccomp agent for the SCMP_ACT_NOTIFY tests (config-linux.md, "listenerPath"):
//! it listens on a unix socket, takes the container process state and the notify listener
//! (SCM_RIGHTS) the runtime sends, and answers each notified syscall as the test says.
//!
//! Runtime-agnostic and self-contained (std, libc, serde_json), so that rrun's own tests use
//! this same file (`#[path]`). Every unsafe block is a plain syscall on memory owned here.

use serde_json::Value;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One notified syscall.
#[derive(Debug, Clone, Copy)]
pub struct Notif {
    pub id: u64,
    pub pid: u32,
    pub nr: i32,
    pub args: [u64; 6],
}

impl Notif {
    /// The NUL-terminated string at `addr` in the calling process (a path argument).
    pub fn read_string(&self, addr: u64) -> std::io::Result<String> {
        use std::os::unix::fs::FileExt;
        let mem = std::fs::File::open(format!("/proc/{}/mem", self.pid))?;
        let mut buf = vec![0u8; 4096];
        let n = mem.read_at(&mut buf, addr)?;
        let end = buf[..n].iter().position(|b| *b == 0).unwrap_or(n);
        Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
    }
}

/// What the agent answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Let the kernel run the syscall (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
    Continue,
    /// Fail it with this errno.
    Errno(i32),
    /// Succeed with this return value, without running it.
    Value(i64),
}

type Policy = dyn Fn(&Notif) -> Answer + Send + Sync;

/// A running agent. Dropping it stops it: its listeners close, and syscalls notified after
/// that fail with ENOSYS.
pub struct Agent {
    pub path: PathBuf,
    states: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Agent {
    /// Listen on `path` and answer every notification with `policy`.
    pub fn start(
        path: &Path,
        policy: impl Fn(&Notif) -> Answer + Send + Sync + 'static,
    ) -> std::io::Result<Agent> {
        let _ = std::fs::remove_file(path);
        let server = UnixListener::bind(path)?;
        server.set_nonblocking(true)?;
        let states = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let policy: Arc<Policy> = Arc::new(policy);
        let thread = {
            let (states, stop) = (states.clone(), stop.clone());
            std::thread::spawn(move || accept_loop(server, states, stop, policy))
        };
        Ok(Agent {
            path: path.to_path_buf(),
            states,
            stop,
            thread: Some(thread),
        })
    }

    /// The container process states received so far.
    pub fn states(&self) -> Vec<Value> {
        self.states.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The states, once `n` have arrived or 5 s have passed: a runtime sends the state and
    /// goes on, so a short-lived container may be gone before the agent has read it.
    pub fn wait_for_states(&self, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let states = self.states();
            if states.len() >= n || std::time::Instant::now() > deadline {
                return states;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(
    server: UnixListener,
    states: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    policy: Arc<Policy>,
) {
    let mut workers = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match server.accept() {
            Ok((conn, _)) => {
                let _ = conn.set_nonblocking(false);
                let Ok((state, listener)) = receive(conn) else {
                    continue;
                };
                if let Ok(mut s) = states.lock() {
                    s.push(state);
                }
                let (stop, policy) = (stop.clone(), policy.clone());
                workers.push(std::thread::spawn(move || serve(listener, &stop, &*policy)));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

/// The state JSON and the fd of one runtime connection.
fn receive(mut conn: UnixStream) -> std::io::Result<(Value, OwnedFd)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut control = [0u8; 64];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid (no name, no iov, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len();
    // SAFETY: recvmsg writes at most iov_len bytes into `buf` and msg_controllen bytes into
    // `control`, both alive and exclusively borrowed for the call.
    let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut fd: Option<OwnedFd> = None;
    // SAFETY: the CMSG_* walk stays within `control` as recvmsg filled it (msg_controllen).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let raw: RawFd = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                // The kernel installed this fd for us: nobody else owns it.
                fd = Some(OwnedFd::from_raw_fd(raw));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let fd = fd.ok_or_else(|| std::io::Error::other("no fd came with the state"))?;
    // The runtime may keep the connection open (runc does, while the container runs): read
    // until the JSON value is whole, not until end of file.
    let mut data = buf[..n as usize].to_vec();
    loop {
        let mut values = serde_json::Deserializer::from_slice(&data).into_iter::<Value>();
        match values.next() {
            Some(Ok(state)) => return Ok((state, fd)),
            Some(Err(e)) if !e.is_eof() => return Err(std::io::Error::other(e)),
            _ => {}
        }
        let mut more = [0u8; 4096];
        match conn.read(&mut more)? {
            0 => return Err(std::io::Error::other("the state JSON ended early")),
            k => data.extend_from_slice(&more[..k]),
        }
    }
}

/// Answer the notifications of one listener until it has no more processes or we stop.
fn serve(listener: OwnedFd, stop: &AtomicBool, policy: &Policy) {
    while !stop.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll reads and writes the one pollfd above.
        let r = unsafe { libc::poll(&mut pfd, 1, 50) };
        if r <= 0 {
            continue;
        }
        if pfd.revents & libc::POLLHUP != 0 {
            // Every process of the filter is gone.
            return;
        }
        // SAFETY: an all-zero seccomp_notif is what NOTIF_RECV requires.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: NOTIF_RECV writes one seccomp_notif into `req`.
        let r = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV as _,
                &mut req,
            )
        };
        if r < 0 {
            continue;
        }
        let n = Notif {
            id: req.id,
            pid: req.pid,
            nr: req.data.nr,
            args: req.data.args,
        };
        let (val, error, flags) = match policy(&n) {
            Answer::Continue => (0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
            Answer::Errno(e) => (0, -e, 0),
            Answer::Value(v) => (v, 0, 0),
        };
        let mut resp = libc::seccomp_notif_resp {
            id: n.id,
            val,
            error,
            flags,
        };
        // SAFETY: NOTIF_SEND reads one seccomp_notif_resp from `resp`. A target that died
        // meanwhile is ENOENT, which is fine to ignore.
        unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND as _,
                &mut resp,
            )
        };
    }
}
