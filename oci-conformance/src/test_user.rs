//! A real unprivileged user for the rootless tests: made with useradd (its own group, and
//! 65536 subordinate uids and gids in /etc/subuid and /etc/subgid for newuidmap/newgidmap),
//! removed with its processes and its entries when dropped. The caller must be root.
//!
//! Self-contained (std only), so that rrun's own tests use this same file (`#[path]`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// The subordinate ids every test user gets (newuidmap only checks the files).
pub const SUB_START: u32 = 200_000;
pub const SUB_COUNT: u32 = 65_536;

pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Its XDG_RUNTIME_DIR (mode 0700, its own), removed on drop.
    pub runtime_dir: PathBuf,
}

/// Run a shadow tool, retrying while another one holds the lock of /etc/passwd (tests run in
/// parallel).
fn shadow(program: &str, args: &[&str]) -> std::io::Result<()> {
    let mut last = String::new();
    for _ in 0..100 {
        let out = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        if out.status.success() {
            return Ok(());
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        if !last.contains("lock") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(std::io::Error::other(format!("{program} {args:?}: {last}")))
}

fn id_of(flag: &str, name: &str) -> std::io::Result<u32> {
    let out = Command::new("id").args([flag, name]).output()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("id {flag} {name}: no such user")))
}

impl TestUser {
    pub fn create(prefix: &str) -> std::io::Result<TestUser> {
        let mut name = format!(
            "{prefix}{}x{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        name.truncate(31);
        shadow(
            "useradd",
            &[
                "--no-create-home",
                "--shell",
                "/bin/sh",
                "--user-group",
                &name,
            ],
        )?;
        let range = format!("{SUB_START}-{}", SUB_START + SUB_COUNT - 1);
        let mut user = TestUser {
            uid: 0,
            gid: 0,
            runtime_dir: std::env::temp_dir().join(format!("{name}-xdg")),
            name,
        };
        // From here on, drop removes what exists.
        shadow(
            "usermod",
            &["--add-subuids", &range, "--add-subgids", &range, &user.name],
        )?;
        user.uid = id_of("-u", &user.name)?;
        user.gid = id_of("-g", &user.name)?;
        std::fs::create_dir_all(&user.runtime_dir)?;
        user.chown(&user.runtime_dir)?;
        std::fs::set_permissions(
            &user.runtime_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        Ok(user)
    }

    /// Give `path` (recursively) to the user.
    pub fn chown(&self, path: &Path) -> std::io::Result<()> {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "chown -R {}",
                path.display()
            )))
        }
    }

    /// `program args...` as the user, with a clean environment (PATH, HOME, USER and its
    /// XDG_RUNTIME_DIR), in `cwd`. With `as_root_first`, that shell snippet runs as root just
    /// before (e.g. to put the process in a cgroup, as a login manager would).
    pub fn command(
        &self,
        program: &Path,
        args: &[&str],
        cwd: &Path,
        as_root_first: Option<&str>,
    ) -> Command {
        let mut c = match as_root_first {
            Some(snippet) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("{snippet} && exec \"$@\""))
                    .arg("sh")
                    .arg("setpriv");
                c
            }
            None => Command::new("setpriv"),
        };
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--clear-groups")
            .arg("--reset-env")
            .arg("env")
            .arg(format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display()))
            .arg(format!("USER={}", self.name))
            .arg(program)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null());
        c
    }

    /// Run as the user, stdout and stderr through files (a container's init may keep pipes
    /// open after the runtime exits).
    pub fn run(&self, program: &Path, args: &[&str], cwd: &Path) -> std::io::Result<Output> {
        self.run_after(None, program, args, cwd)
    }

    /// As [`TestUser::run`], after `as_root_first` (see [`TestUser::command`]).
    pub fn run_after(
        &self,
        as_root_first: Option<&str>,
        program: &Path,
        args: &[&str],
        cwd: &Path,
    ) -> std::io::Result<Output> {
        let tag = format!("{}-{}", self.name, SEQ.fetch_add(1, Ordering::SeqCst));
        let out_path = std::env::temp_dir().join(format!(".{tag}.out"));
        let err_path = std::env::temp_dir().join(format!(".{tag}.err"));
        let status = self
            .command(program, args, cwd, as_root_first)
            .stdout(std::fs::File::create(&out_path)?)
            .stderr(std::fs::File::create(&err_path)?)
            .status();
        let stdout = std::fs::read(&out_path).unwrap_or_default();
        let stderr = std::fs::read(&err_path).unwrap_or_default();
        let _ = std::fs::remove_file(&out_path);
        let _ = std::fs::remove_file(&err_path);
        Ok(Output {
            status: status?,
            stdout,
            stderr,
        })
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        if self.uid != 0 {
            let _ = Command::new("pkill")
                .args(["-KILL", "-U", &self.uid.to_string()])
                .status();
            std::thread::sleep(Duration::from_millis(100));
        }
        let range = format!("{SUB_START}-{}", SUB_START + SUB_COUNT - 1);
        let _ = shadow(
            "usermod",
            &["--del-subuids", &range, "--del-subgids", &range, &self.name],
        );
        let _ = shadow("userdel", &[&self.name]);
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
    }
}
