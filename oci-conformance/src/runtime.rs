//! Invoking the runtime under test: `<runtime> [global args] --root R <command...>`,
//! with stdout/stderr captured in files (a detached container keeps its
//! inherited descriptors open, so pipes would never reach EOF) and a time
//! limit after which the invocation is killed and reported as hung.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("creating output file {path}: {source}")]
    OutputFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spawning `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("waiting for `{command}`: {source}")]
    Wait {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {secs}s and was killed")]
    Hung { command: String, secs: u64 },
}

/// The runtime binary under test and where its state lives.
#[derive(Debug)]
pub struct Runtime {
    pub path: PathBuf,
    pub global_args: Vec<String>,
    /// Private `--root` state directory.
    pub root: PathBuf,
    /// Scratch directory for captured output.
    io_dir: PathBuf,
    timeout: Duration,
    counter: AtomicU64,
}

/// The result of one runtime invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Invocation {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// One line for failure messages: status and stderr first (what a
    /// reader needs), then the command.
    pub fn describe(&self) -> String {
        let err = self.stderr.trim();
        let err: String = err.chars().take(400).collect();
        format!(
            "{} with stderr {err:?} from `{}`",
            self.status, self.command
        )
    }
}

/// Where a runtime invocation's stdio goes.
pub struct Io<'a> {
    pub stdout: &'a Path,
    pub stderr: &'a Path,
}

impl Runtime {
    pub fn new(path: PathBuf, global_args: Vec<String>, root: PathBuf, io_dir: PathBuf) -> Self {
        Runtime {
            path,
            global_args,
            root,
            io_dir,
            timeout: Duration::from_secs(60),
            counter: AtomicU64::new(0),
        }
    }

    fn command_line(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = self.global_args.clone();
        v.push("--root".into());
        v.push(self.root.display().to_string());
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    /// Run the runtime with `args`, capturing its output in private files.
    pub fn invoke(&self, args: &[&str]) -> Result<Invocation, RuntimeError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let out = self.io_dir.join(format!("out-{n}"));
        let err = self.io_dir.join(format!("err-{n}"));
        let r = self.invoke_io(
            args,
            &Io {
                stdout: &out,
                stderr: &err,
            },
        );
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(&err);
        r
    }

    /// Run the runtime with its stdout/stderr sent to the given files (which a
    /// created container inherits as its own stdio).
    pub fn invoke_io(&self, args: &[&str], io: &Io) -> Result<Invocation, RuntimeError> {
        let argv = self.command_line(args);
        let command = format!("{} {}", self.path.display(), argv.join(" "));
        let open = |p: &Path| {
            File::create(p).map_err(|source| RuntimeError::OutputFile {
                path: p.to_path_buf(),
                source,
            })
        };
        let mut child = Command::new(&self.path)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(open(io.stdout)?)
            .stderr(open(io.stderr)?)
            .spawn()
            .map_err(|source| RuntimeError::Spawn {
                command: command.clone(),
                source,
            })?;
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(RuntimeError::Hung {
                        command,
                        secs: self.timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(source) => return Err(RuntimeError::Wait { command, source }),
            }
        };
        Ok(Invocation {
            command,
            status,
            stdout: std::fs::read_to_string(io.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(io.stderr).unwrap_or_default(),
        })
    }
}
