//! Test helpers: a busybox bundle in a temp dir, an rrun with a private --root, and guards that
//! delete containers and remove temp dirs even when a test fails.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub const RRUN: &str = env!("CARGO_BIN_EXE_rrun");

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique name for this test process: prefix-pid-seq.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// A temp dir removed on drop (after unmounting anything left below it).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Path of a static busybox on the host.
pub fn busybox() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox-static is needed for the tests (apt-get install busybox-static)");
}

/// A bundle: rootfs with busybox and its applets, and a config.json.
pub struct Bundle {
    pub dir: TempDir,
    pub config: Value,
}

impl Bundle {
    /// `rrun spec` defaults, no terminal, running `args`.
    pub fn busybox(args: &[&str]) -> Bundle {
        let dir = TempDir::new("rrun-bundle");
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(busybox(), rootfs.join("bin/busybox")).unwrap();
        let list = Command::new(busybox()).arg("--list").output().unwrap();
        for name in String::from_utf8_lossy(&list.stdout).lines() {
            if name != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(name));
            }
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let out = Command::new(RRUN)
            .args(["spec", "-b"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "rrun spec: {out:?}");
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        config["process"]["terminal"] = json!(false);
        config["root"]["readonly"] = json!(false);
        config["process"]["args"] = json!(args);
        let b = Bundle { dir, config };
        b.save();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    pub fn save(&self) {
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
}

/// An rrun with its own --root; every container id it hands out is force-deleted on drop.
pub struct Rrun {
    pub root: TempDir,
    ids: std::sync::Mutex<Vec<String>>,
}

impl Rrun {
    pub fn new() -> Rrun {
        Rrun {
            root: TempDir::new("rrun-root"),
            ids: Default::default(),
        }
    }

    /// A fresh container id, cleaned up with this Rrun.
    pub fn id(&self) -> String {
        let id = unique("c");
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(RRUN);
        c.arg("--root").arg(self.root.path());
        c.stdin(Stdio::null());
        c
    }

    /// Run rrun with `args`, capturing its output. Output goes through files, not pipes: a
    /// created container's init inherits rrun's stdio and keeps it open after rrun exits.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args);
        self.capture(cmd)
    }

    /// As [`Rrun::run`], with `env` added to rrun's environment.
    pub fn run_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = self.cmd();
        cmd.envs(env.iter().copied()).args(args);
        self.capture(cmd)
    }

    /// As [`Rrun::run`], with rrun started by `wrapper` (a program and its arguments, which
    /// end by running the rrun command line appended to them, e.g. `unshare ... sh -c 'exec
    /// "$@"' sh`).
    pub fn run_wrapped(&self, wrapper: &[&str], args: &[&str]) -> Output {
        let mut cmd = Command::new(wrapper[0]);
        cmd.args(&wrapper[1..])
            .arg(RRUN)
            .arg("--root")
            .arg(self.root.path())
            .args(args)
            .stdin(Stdio::null());
        self.capture(cmd)
    }

    /// Run `cmd` with its stdout and stderr in files under the root, read back after.
    fn capture(&self, mut cmd: Command) -> Output {
        let out = tempfile_in(self.root.path(), "stdout");
        let err = tempfile_in(self.root.path(), "stderr");
        let status = cmd
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .status()
            .unwrap();
        Output {
            status,
            stdout: read_back(out),
            stderr: read_back(err),
        }
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rrun {args:?} failed: {}\nstdout: {}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run and require failure; returns stderr.
    /// Run a command that must fail; its stderr, each runc-style log line
    /// (`time="..." level=error msg="..."`) given as its message.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "rrun {args:?} should fail: {out:?}");
        messages(&String::from_utf8_lossy(&out.stderr))
    }

    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    /// `run` a bundle in the foreground: (exit code, stdout, stderr).
    pub fn run_fg(&self, bundle: &Bundle) -> (i32, String, String) {
        let id = self.id();
        let out = self.run(&["run", "-b", bundle.path().to_str().unwrap(), &id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            messages(&String::from_utf8_lossy(&out.stderr)),
        )
    }
}

/// stderr with each logrus text line (`time="..." level=L msg="..."`, what runc and rrun print
/// without --log) replaced by its message; other lines as they are.
pub fn messages(stderr: &str) -> String {
    let mut out = String::new();
    for line in stderr.lines() {
        let msg = line
            .strip_prefix("time=\"")
            .and_then(|l| l.split_once("\" level="))
            .and_then(|(_, l)| l.split_once(" msg=\""))
            .and_then(|(_, m)| m.strip_suffix('"'))
            .map(unquote);
        out.push_str(msg.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Undo the quoting of a log line's msg (backslash escapes).
fn unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

impl Drop for Rrun {
    fn drop(&mut self) {
        for id in self.ids.lock().unwrap().iter() {
            let _ = self.cmd().args(["delete", "--force", id]).output();
        }
    }
}

fn tempfile_in(dir: &Path, what: &str) -> std::fs::File {
    let p = dir.join(format!(".{what}-{}", unique("o")));
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    std::fs::remove_file(&p).unwrap();
    f
}

fn read_back(mut f: std::fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut v = Vec::new();
    f.rewind().unwrap();
    f.read_to_end(&mut v).unwrap();
    v
}

/// Mount points whose path contains `needle` (to check nothing is left behind).
pub fn mounts_containing(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.contains(needle))
        .collect()
}

/// True if `pid` exists and is not a zombie.
pub fn alive(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let rest = &s[s.rfind(')').unwrap() + 2..];
            !rest.starts_with('Z') && !rest.starts_with('X')
        }
        Err(_) => false,
    }
}
