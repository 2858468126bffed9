//! The `report` subcommand: everything about the calling process that a
//! conformance test may want to compare with config.json.

use serde_json::{json, Map, Value};
use std::ffi::CStr;
use std::fs;

const RLIMITS: [(&str, libc::__rlimit_resource_t); 16] = [
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
];

const NAMESPACES: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

pub fn report() -> Value {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let ids = |name: &str| -> Vec<u64> {
        field(name)
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect()
    };
    let uid = ids("Uid");
    let gid = ids("Gid");
    let caps = json!({
        "inheritable": field("CapInh"),
        "permitted": field("CapPrm"),
        "effective": field("CapEff"),
        "bounding": field("CapBnd"),
        "ambient": field("CapAmb"),
    });
    let (hostname, domainname, machine) = uname();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let env: Vec<String> = std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    let args: Vec<String> = std::env::args().collect();
    let mut ns = Map::new();
    for name in NAMESPACES {
        if let Ok(target) = fs::read_link(format!("/proc/self/ns/{name}")) {
            ns.insert(name.into(), Value::String(target.display().to_string()));
        }
    }
    json!({
        "pid": std::process::id(),
        // SAFETY: getppid has no preconditions and cannot fail.
        "ppid": unsafe { libc::getppid() },
        "uid": uid.first(), "euid": uid.get(1),
        "gid": gid.first(), "egid": gid.get(1),
        "groups": ids("Groups"),
        "umask": field("Umask"),
        "caps": caps,
        "no_new_privs": field("NoNewPrivs"),
        "seccomp": field("Seccomp"),
        "cwd": cwd,
        "hostname": hostname,
        "domainname": domainname,
        "machine": machine,
        "env": env,
        "args": args,
        "rlimits": rlimits(),
        "ns": ns,
        "oom_score_adj": read_trimmed("/proc/self/oom_score_adj"),
        "uid_map": read_trimmed("/proc/self/uid_map"),
        "gid_map": read_trimmed("/proc/self/gid_map"),
        "cgroup": read_trimmed("/proc/self/cgroup"),
        "apparmor": read_trimmed("/proc/self/attr/current"),
        // SAFETY: personality(0xffffffff) only queries the current persona.
        "personality": unsafe { libc::personality(0xffff_ffff) },
        "mounts": mounts(),
        // SAFETY: ioprio_get(IOPRIO_WHO_PROCESS, 0) only queries this process.
        "ioprio": unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) },
        // SAFETY: sched_getscheduler(0) only queries this process.
        "sched_policy": unsafe { libc::sched_getscheduler(0) },
        // SAFETY: getpriority only queries this process.
        "nice": unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) },
        "isatty": isatty_std(),
        "winsize": winsize(),
    })
}

fn isatty_std() -> [bool; 3] {
    // SAFETY: isatty only inspects the descriptor.
    [0, 1, 2].map(|fd| unsafe { libc::isatty(fd) == 1 })
}

/// Terminal size of stdin as [rows, columns], or null when it is no tty.
fn winsize() -> Value {
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it and fails harmlessly on a non-tty.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 and a valid, writable winsize.
    if unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } != 0 {
        return Value::Null;
    }
    json!([ws.ws_row, ws.ws_col])
}

fn read_trimmed(path: &str) -> Value {
    match fs::read_to_string(path) {
        Ok(s) => Value::String(s.trim_end().to_string()),
        Err(_) => Value::Null,
    }
}

fn uname() -> (String, String, String) {
    // SAFETY: utsname is plain old data; uname fills it and we read it only on success.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Default::default();
    }
    let s = |f: &[libc::c_char]| {
        // SAFETY: the kernel NUL-terminates every utsname field.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    (s(&u.nodename), s(&u.domainname), s(&u.machine))
}

fn rlimits() -> Value {
    let mut out = Map::new();
    for (name, res) in RLIMITS {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: rl is a valid rlimit to fill.
        if unsafe { libc::getrlimit(res, &mut rl) } == 0 {
            out.insert(name.into(), json!([rl.rlim_cur, rl.rlim_max]));
        }
    }
    Value::Object(out)
}

/// /proc/self/mountinfo, one object per line.
fn mounts() -> Value {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let list: Vec<Value> = text
        .lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            Some(json!({
                "id": pre.first()?,
                "parent": pre.get(1)?,
                "root": pre.get(3)?,
                "mount_point": unescape(pre.get(4)?),
                "options": pre.get(5)?,
                "optional": pre.get(6..).map(|o| o.join(" ")).unwrap_or_default(),
                "fs_type": post.first()?,
                "source": post.get(1)?,
                "super_options": post.get(2)?,
            }))
        })
        .collect();
    Value::Array(list)
}

/// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
/// Works on bytes so that non-ASCII path names survive.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn mountinfo_octal_escapes_are_decoded() {
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape("/x\\011y\\134z"), "/x\ty\\z");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/d\\303\\251j\\303\\240/\\ü"), "/déjà/\\ü");
        assert_eq!(unescape("/trailing\\04"), "/trailing\\04");
        assert_eq!(unescape("/big\\777"), "/big\\777");
    }
}
