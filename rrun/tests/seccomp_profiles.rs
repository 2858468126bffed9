//! A seccomp profile describes what the container's program may do, not what the runtime needs
//! (issue 24). After installing the filter rrun makes only the few syscalls it cannot avoid, all
//! of which runc makes there too, so every profile runc runs with, rrun runs with:
//!
//! - the matrix: Docker's default profile, the same without close_range, and a minimal profile
//!   (what busybox `true` needs plus what runc makes after its filter), each with
//!   noNewPrivileges true and false, for the init and for `exec`, on rrun and on runc;
//! - strace of rrun after the seccomp(2) call gives exactly the lists in docs/ARCHITECTURE.md
//!   ("After the seccomp filter").
//!
//! Needs root, busybox-static; runc and strace (both installed by scripts/install-deps.sh) are
//! required when CI=true and skipped with a message otherwise.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Docker's default profile as dockerd 20.10 hands it to a runtime (from the config.json of
/// `docker run`; it allows close_range).
const DOCKER_PROFILE: &str = include_str!("../../profiles/docker-default-seccomp.json");

/// What a static busybox `true` calls (strace of `busybox true`).
const BUSYBOX_TRUE: &[&str] = &[
    "execve",
    "brk",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "prlimit64",
    "readlink",
    "getrandom",
    "mprotect",
    "prctl",
    "getuid",
    "exit_group",
];

/// What runc calls after installing its filter, the nearest thing to a documented list that
/// runc has (opencontainers/runc#2097 is still open): moby/moby#22252 and #24661 name capget,
/// capset, chdir, fchown, futex, getdents64, getpid, getppid, lstat, openat, prctl, setgid,
/// setgroups, setuid, stat (runc#789 adds futex, stat, execve); strace of runc 1.1.5 on this
/// machine adds the newer spellings it uses (newfstatat, faccessat2) and its Go runtime's calls.
const RUNC_AFTER_FILTER: &[&str] = &[
    "capget",
    "capset",
    "chdir",
    "fchown",
    "futex",
    "getdents64",
    "getpid",
    "getppid",
    "lstat",
    "openat",
    "prctl",
    "setgid",
    "setgroups",
    "setuid",
    "stat",
    "newfstatat",
    "fstat",
    "fstatfs",
    "faccessat2",
    "getcwd",
    "fcntl",
    "close",
    "read",
    "write",
    "epoll_ctl",
    "epoll_pwait",
    "nanosleep",
    "sched_yield",
    "rt_sigreturn",
    "tgkill",
    "mmap",
    "munmap",
    "madvise",
    "execve",
];

/// What the container's pid 1 needs in the exec cases: busybox `sleep`.
const SLEEP: &[&str] = &["clock_nanosleep", "nanosleep"];

fn docker() -> Value {
    serde_json::from_str(DOCKER_PROFILE).unwrap()
}

fn docker_without_close_range() -> Value {
    let mut p = docker();
    for rule in p["syscalls"].as_array_mut().unwrap() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "close_range");
        }
    }
    let text = p.to_string();
    assert!(!text.contains("close_range"), "close_range is still listed");
    p
}

fn minimal() -> Value {
    let mut names: Vec<&str> = BUSYBOX_TRUE
        .iter()
        .chain(RUNC_AFTER_FILTER)
        .chain(SLEEP)
        .copied()
        .collect();
    names.sort_unstable();
    names.dedup();
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
    })
}

fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// A tool the test needs: required in CI, else None (the caller says it skipped).
fn tool(name: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    if found.is_none() && std::env::var("CI").as_deref() == Ok("true") {
        panic!("{name} is needed (scripts/install-deps.sh installs it)");
    }
    found
}

/// A runtime binary with its own --root; force-deletes the containers it was given on drop.
struct Runtime {
    name: &'static str,
    bin: PathBuf,
    root: TempDir,
    ids: Vec<String>,
}

impl Runtime {
    fn new(name: &'static str, bin: PathBuf) -> Runtime {
        Runtime {
            name,
            bin,
            root: TempDir::new(&format!("seccomp-{name}-root")),
            ids: Vec::new(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(self.root.path()).args(args);
        c.stdin(Stdio::null());
        c
    }

    fn id(&mut self) -> String {
        let id = unique("sp");
        self.ids.push(id.clone());
        id
    }

    /// Run to the end with stdio to pipes (nothing detached keeps them open).
    fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.cmd(&["delete", "--force", id]).output();
        }
    }
}

fn why(o: &Output) -> String {
    format!(
        "exit {:?}: {}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).trim(),
        String::from_utf8_lossy(&o.stdout).trim()
    )
}

#[derive(Clone, Copy, Debug)]
enum Case {
    Init,
    Exec,
}

fn bundle(profile: &Value, nnp: bool, args: &[&str]) -> Bundle {
    let mut b = Bundle::busybox(args);
    b.config["linux"]["seccomp"] = profile.clone();
    b.config["process"]["noNewPrivileges"] = json!(nnp);
    b.save();
    b
}

/// The exec'd process: /bin/true with the container's capabilities and the given
/// noNewPrivileges.
fn exec_process(b: &Bundle, nnp: bool, dir: &Path) -> PathBuf {
    let mut p = b.config["process"].clone();
    p["args"] = json!(["/bin/true"]);
    p["noNewPrivileges"] = json!(nnp);
    let path = dir.join(format!("{}.json", unique("process")));
    std::fs::write(&path, serde_json::to_vec(&p).unwrap()).unwrap();
    path
}

/// One cell of the matrix: Ok or why not.
fn try_case(rt: &mut Runtime, profile: &Value, nnp: bool, case: Case) -> Result<(), String> {
    match case {
        Case::Init => {
            let b = bundle(profile, nnp, &["/bin/true"]);
            let id = rt.id();
            let o = rt.output(&["run", "-b", b.path().to_str().unwrap(), &id]);
            let _ = rt.output(&["delete", "--force", &id]);
            if o.status.success() {
                Ok(())
            } else {
                Err(format!("run: {}", why(&o)))
            }
        }
        Case::Exec => {
            let b = bundle(profile, nnp, &["sleep", "1000"]);
            let id = rt.id();
            // The detached container keeps rrun's stdio: the error goes through a file.
            let err_path = b.path().join("run-d.stderr");
            let status = rt
                .cmd(&["run", "-d", "-b", b.path().to_str().unwrap(), &id])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&err_path).unwrap())
                .status()
                .unwrap();
            if !status.success() {
                let err = std::fs::read_to_string(&err_path).unwrap_or_default();
                return Err(format!("run -d: exit {:?}: {}", status.code(), err.trim()));
            }
            let p = exec_process(&b, nnp, b.path());
            let o = rt.output(&["exec", "--process", p.to_str().unwrap(), &id]);
            let _ = rt.output(&["delete", "--force", &id]);
            if o.status.success() {
                Ok(())
            } else {
                Err(format!("exec: {}", why(&o)))
            }
        }
    }
}

#[test]
fn every_profile_runs_the_init_and_exec_as_with_runc() {
    let profiles = [
        ("docker", docker()),
        ("docker without close_range", docker_without_close_range()),
        ("minimal", minimal()),
    ];
    let mut runtimes = vec![Runtime::new("rrun", PathBuf::from(RRUN))];
    match tool("runc") {
        Some(runc) => runtimes.push(Runtime::new("runc", runc)),
        None => eprintln!("runc is not installed: the matrix runs on rrun only"),
    }
    let mut failed = Vec::new();
    for rt in runtimes.iter_mut() {
        for (pname, profile) in &profiles {
            for nnp in [false, true] {
                for case in [Case::Init, Case::Exec] {
                    let r = try_case(rt, profile, nnp, case);
                    let cell = format!("{} | {pname} | noNewPrivileges {nnp} | {case:?}", rt.name);
                    match r {
                        Ok(()) => eprintln!("ok     {cell}"),
                        Err(e) => {
                            eprintln!("FAILED {cell}: {e}");
                            failed.push(format!("{cell}: {e}"));
                        }
                    }
                }
            }
        }
    }
    assert!(failed.is_empty(), "failed:\n{}", failed.join("\n"));
}

/// The syscalls one process made after it installed a seccomp filter, until its execve
/// succeeded, in order of first use; `None` if no process of the trace did both.
fn after_filter(trace: &str, program: &str) -> Option<Vec<String>> {
    let mut open: std::collections::HashMap<&str, Vec<String>> = Default::default();
    // A filter install strace printed as "<unfinished ...>", waiting for its result.
    let mut installing: std::collections::HashSet<&str> = Default::default();
    // Whether a process's last execve was of `program`.
    let mut execs: std::collections::HashMap<&str, bool> = Default::default();
    for line in trace.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let (name, resumed) = match rest.strip_prefix("<... ") {
            Some(r) => (r.split(' ').next().unwrap_or(""), true),
            None => (rest.split('(').next().unwrap_or(""), false),
        };
        let succeeded = rest.trim_end().ends_with("= 0");
        let install = (rest.starts_with("seccomp(SECCOMP_SET_MODE_FILTER")
            || rest.starts_with("prctl(PR_SET_SECCOMP"))
            && rest.contains("len=");
        if install && rest.trim_end().ends_with("<unfinished ...>") {
            installing.insert(pid);
            continue;
        }
        if (install && succeeded) || (resumed && installing.remove(pid) && succeeded) {
            open.insert(pid, Vec::new());
            continue;
        }
        let Some(calls) = open.get_mut(pid) else {
            continue;
        };
        if !resumed && !calls.iter().any(|c| c == name) {
            calls.push(name.to_string());
        }
        if !resumed && name == "execve" {
            execs.insert(pid, rest.starts_with(&format!("execve(\"{program}\"")));
        }
        if name == "execve" && succeeded {
            let done = open.remove(pid).unwrap();
            if execs.get(pid) == Some(&true) {
                return Some(done);
            }
        }
    }
    None
}

#[test]
fn trace_parser_follows_one_process() {
    let trace = "\
10  seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=3, filter=0x1}) = 0
11 write(1, \"x\", 1) = 1
10 prctl(PR_CAPBSET_DROP, CAP_CHOWN) = 0
10 write(8, \"0\", 1 <unfinished ...>
10 <... write resumed>) = 1
10 prctl(PR_SET_KEEPCAPS, 0) = 0
10 execve(\"/bin/true\", [\"/bin/true\"], 0x1 /* 2 vars */ <unfinished ...>
10 <... execve resumed>) = 0
10 brk(NULL) = 0x1
";
    assert_eq!(
        after_filter(trace, "/bin/true").unwrap(),
        vec!["prctl", "write", "execve"]
    );
    assert_eq!(after_filter(trace, "/bin/sh"), None);
    let split = "\
7 seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=3, filter=0x1} <unfinished ...>
8 read(3, \"\", 1) = 0
7 <... seccomp resumed>) = 0
7 execve(\"/bin/true\", [\"/bin/true\"], 0x1 /* 2 vars */) = 0
";
    assert_eq!(after_filter(split, "/bin/true").unwrap(), vec!["execve"]);
}

/// The rows of docs/ARCHITECTURE.md's "After the seccomp filter" table: (case, syscalls).
fn documented() -> Vec<(String, Vec<String>)> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/ARCHITECTURE.md"
    ))
    .unwrap();
    let section = doc
        .split("\n## After the seccomp filter")
        .nth(1)
        .expect("docs/ARCHITECTURE.md has a section \"After the seccomp filter\"");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| init") || l.starts_with("| exec"))
        .map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            let calls = cols[2]
                .split_whitespace()
                .map(|c| c.trim_matches('`').to_string())
                .collect();
            (cols[1].to_string(), calls)
        })
        .collect()
}

#[test]
fn strace_after_the_filter_matches_the_documented_lists() {
    let Some(strace) = tool("strace") else {
        eprintln!("skipped: strace is not installed");
        return;
    };
    let rows = documented();
    assert_eq!(rows.len(), 4, "four rows expected: {rows:?}");
    let work = TempDir::new("seccomp-strace");
    let rt = Rrun::new();
    let mut wrong = Vec::new();
    for (case, expected) in rows {
        let nnp = case.contains("with noNewPrivileges");
        let trace_file = work.path().join(unique("trace"));
        let traced = |args: &[&str]| {
            let o = Command::new(&strace)
                .args(["-f", "-qq", "-o"])
                .arg(&trace_file)
                .arg(RRUN)
                .arg("--root")
                .arg(rt.root.path())
                .args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(o.status.success(), "strace rrun {args:?}: {}", why(&o));
        };
        if case.starts_with("init") {
            let b = bundle(&docker(), nnp, &["/bin/true"]);
            let id = rt.id();
            traced(&["run", "-b", b.path().to_str().unwrap(), &id]);
        } else {
            let b = bundle(&docker(), nnp, &["sleep", "1000"]);
            let id = rt.id();
            let o = rt
                .cmd()
                .args(["run", "-d", "-b", b.path().to_str().unwrap(), &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(o.success(), "run -d for {case}");
            let p = exec_process(&b, nnp, work.path());
            traced(&["exec", "--process", p.to_str().unwrap(), &id]);
            rt.ok(&["delete", "--force", &id]);
        }
        let trace = std::fs::read_to_string(&trace_file).unwrap();
        let seen = after_filter(&trace, "/bin/true")
            .unwrap_or_else(|| panic!("{case}: no filter install followed by execve in\n{trace}"));
        eprintln!("{case}: {}", seen.join(" "));
        if seen != expected {
            wrong.push(format!(
                "{case}: traced `{}`, documented `{}`",
                seen.join(" "),
                expected.join(" ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/ARCHITECTURE.md is out of date:\n{}",
        wrong.join("\n")
    );
}

/// A classic BPF filter that makes close_range(2) fail with `errno` (x86_64) and allows the rest.
fn deny_close_range(errno: u32) -> Vec<libc::sock_filter> {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    vec![
        stmt(load, 4),                // seccomp_data.arch
        jeq(AUDIT_ARCH_X86_64, 0, 2), // other arches: allow
        stmt(load, 0),                // seccomp_data.nr
        jeq(libc::SYS_close_range as u32, 1, 0),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
        stmt(ret, libc::SECCOMP_RET_ERRNO | errno),
    ]
}

/// rrun itself under a profile that refuses close_range (a runtime nested in a container made
/// by an older engine; ENOSYS as on Linux before 5.9): containers still run and an fd rrun
/// inherited without close-on-exec does not reach them.
#[test]
fn without_close_range_rrun_closes_fds_another_way() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("skipped: the filter is written for x86_64");
        return;
    }
    let rt = Rrun::new();
    for errno in [libc::EPERM, libc::ENOSYS] {
        let b = Bundle::busybox(&["sh", "-c", "ls /proc/self/fd; true"]);
        let id = rt.id();
        let filter = deny_close_range(errno as u32);
        let leak = std::fs::File::open("/dev/null").unwrap();
        let leak_fd = std::os::fd::AsRawFd::as_raw_fd(&leak);
        let mut cmd = rt.cmd();
        cmd.args(["run", "-b", b.path().to_str().unwrap(), &id]);
        // SAFETY: between fork and exec the closure only makes raw syscalls (dup2, seccomp) on
        // memory prepared before the fork.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                if libc::dup2(leak_fd, 42) != 42 {
                    return Err(std::io::Error::last_os_error());
                }
                let prog = libc::sock_fprog {
                    len: filter.len() as u16,
                    filter: filter.as_ptr().cast_mut(),
                };
                let rc = libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &prog as *const libc::sock_fprog,
                );
                if rc != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let o = cmd.output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "errno {errno}: {}", why(&o));
        let fds: Vec<&str> = out.split_whitespace().collect();
        assert!(
            !fds.contains(&"42"),
            "errno {errno}: the inherited fd 42 reached the container: {fds:?}"
        );
        assert!(fds.contains(&"2"), "errno {errno}: ls printed {out:?}");
        drop(leak);
    }
}
