//! Single-purpose probes: stat, read, write, one syscall, open fds, signals.

use serde_json::{json, Map, Value};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::process::ExitCode;

fn errno_of(e: &std::io::Error) -> Value {
    json!({"ok": false, "errno": e.raw_os_error().unwrap_or(0), "error": e.to_string()})
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn stat_paths(paths: &[String]) -> Value {
    let mut out = Map::new();
    for p in paths {
        let v = match fs::symlink_metadata(p) {
            Err(e) => errno_of(&e),
            Ok(m) => {
                let ft = m.file_type();
                let kind = if ft.is_symlink() {
                    "symlink"
                } else if ft.is_dir() {
                    "dir"
                } else if ft.is_char_device() {
                    "char"
                } else if ft.is_block_device() {
                    "block"
                } else if ft.is_fifo() {
                    "fifo"
                } else if ft.is_socket() {
                    "socket"
                } else {
                    "file"
                };
                let rdev = m.rdev();
                json!({
                    "ok": true,
                    "type": kind,
                    "mode": m.mode() & 0o7777,
                    "uid": m.uid(),
                    "gid": m.gid(),
                    "size": m.size(),
                    "major": libc::major(rdev),
                    "minor": libc::minor(rdev),
                    "link": fs::read_link(p).ok().map(|t| t.display().to_string()),
                })
            }
        };
        out.insert(p.clone(), v);
    }
    Value::Object(out)
}

pub fn read_path(path: &str) -> Value {
    match fs::read(path) {
        Ok(data) => json!({"ok": true, "data": String::from_utf8_lossy(&data)}),
        Err(e) => errno_of(&e),
    }
}

pub fn write_path(path: &str) -> Value {
    let r = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(b"oci-checker\n"));
    match r {
        Ok(()) => json!({"ok": true}),
        Err(e) => errno_of(&e),
    }
}

pub fn open_path(path: &str) -> Value {
    match fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(_) => json!({"ok": true}),
        Err(e) => errno_of(&e),
    }
}

/// Try one raw syscall (no libc caching) and report its result and errno.
pub fn try_syscall(name: &str, arg: Option<&String>) -> Value {
    let arg_num: libc::c_long = arg.and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut buf = [0u8; 4096];
    // SAFETY: each syscall gets valid arguments: buffers we own, or plain integers.
    let ret = unsafe {
        match name {
            "getcwd" => libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()),
            "uname" => libc::syscall(libc::SYS_uname, buf.as_mut_ptr()),
            "getpid" => libc::syscall(libc::SYS_getpid),
            "personality" => libc::syscall(libc::SYS_personality, arg_num),
            "setpgid" => libc::syscall(libc::SYS_setpgid, 0, 0),
            "sethostname" => {
                let h = b"oci-probe";
                libc::syscall(libc::SYS_sethostname, h.as_ptr(), h.len())
            }
            "chown" => {
                let p = c"/";
                libc::syscall(libc::SYS_chown, p.as_ptr(), -1i32, -1i32)
            }
            // A syscall by number with no arguments: only for numbers no kernel has (a
            // seccomp filter answers before the kernel would run anything).
            n if n.starts_with("nr:") => match n[3..].parse::<libc::c_long>() {
                Ok(nr) if nr >= 1000 => libc::syscall(nr),
                _ => return json!({"ok": false, "errno": -1, "error": "nr:N needs N >= 1000"}),
            },
            _ => return json!({"ok": false, "errno": -1, "error": "unknown syscall name"}),
        }
    };
    if ret < 0 {
        json!({"ok": false, "ret": ret, "errno": last_errno()})
    } else {
        json!({"ok": true, "ret": ret})
    }
}

/// The calling thread's NUMA memory policy: get_mempolicy's mode (flags included) and the
/// nodes of its mask.
pub fn mempolicy() -> Value {
    let mut mode: libc::c_int = 0;
    let mut mask = [0u64; 16];
    let maxnode = (mask.len() * 64) as libc::c_ulong;
    // SAFETY: get_mempolicy writes one int to `mode` and at most `maxnode` bits to `mask`,
    // both ours and large enough; addr is null with flags 0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            mask.as_mut_ptr(),
            maxnode,
            std::ptr::null_mut::<libc::c_void>(),
            0,
        )
    };
    if ret < 0 {
        return json!({"ok": false, "errno": last_errno()});
    }
    let nodes: Vec<usize> = (0..mask.len() * 64)
        .filter(|n| mask[n / 64] & (1 << (n % 64)) != 0)
        .collect();
    json!({"ok": true, "mode": mode, "nodes": nodes})
}

pub fn open_fds() -> Value {
    // read_dir holds its own descriptor; it is the one whose link is the fd dir.
    let mut fds = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc/self/fd") {
        for ent in dir.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let target = fs::read_link(ent.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            if target.starts_with("/proc/") && target.ends_with("/fd") {
                continue;
            }
            if let Ok(n) = name.parse::<i32>() {
                fds.push(json!({"fd": n, "target": target}));
            }
        }
    }
    json!({"fds": fds})
}

/// Block every catchable signal, announce readiness through a file, then
/// report the first signal received. PID 1 ignores signals it has no handler
/// for, so blocking and sigwaitinfo is the way to observe them.
pub fn sigwait(ready: &str, result: &str) -> ExitCode {
    // SAFETY: sigset_t is plain data initialised by sigfillset before use;
    // sigprocmask and sigwaitinfo get valid pointers.
    let sig = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            eprintln!("sigprocmask: errno {}", last_errno());
            return ExitCode::from(3);
        }
        if let Err(e) = fs::write(ready, b"ready\n") {
            eprintln!("write {ready}: {e}");
            return ExitCode::from(3);
        }
        let mut info: libc::siginfo_t = std::mem::zeroed();
        loop {
            let s = libc::sigwaitinfo(&set, &mut info);
            if s > 0 {
                break s;
            }
        }
    };
    match fs::write(result, format!("{sig}\n")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write {result}: {e}");
            ExitCode::from(3)
        }
    }
}
