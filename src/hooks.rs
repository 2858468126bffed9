#![forbid(unsafe_code)]
//! Running config.json hooks: the container state on stdin, the hook's own args and env (not
//! rrun's), and its timeout. Which hooks run where and when is the caller's business
//! (init/ for createContainer and startContainer, commands for the others).

use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("error running {kind} hook #{index} ({path}): {reason}{output}")]
    Failed {
        kind: &'static str,
        index: usize,
        path: PathBuf,
        reason: String,
        output: String,
    },
}

/// The hook kinds, with their config.json names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// This kind's hooks from the config, in order.
    /// Whether the config has prestart or createRuntime hooks, the ones the parent runs while
    /// the init waits (sync.rs steps 5 and 6): without any, that exchange is skipped on both
    /// sides, which saves the init a round trip through the scheduler.
    pub fn parent_runs_any(spec: &oci_spec::runtime::Spec) -> bool {
        [Kind::Prestart, Kind::CreateRuntime]
            .into_iter()
            .any(|k| !k.of(spec).is_empty())
    }

    pub fn of(self, spec: &oci_spec::runtime::Spec) -> Vec<Hook> {
        let Some(h) = spec.hooks() else {
            return Vec::new();
        };
        #[allow(deprecated)]
        let list = match self {
            Kind::Prestart => h.prestart(),
            Kind::CreateRuntime => h.create_runtime(),
            Kind::CreateContainer => h.create_container(),
            Kind::StartContainer => h.start_container(),
            Kind::Poststart => h.poststart(),
            Kind::Poststop => h.poststop(),
        };
        list.clone().unwrap_or_default()
    }
}

fn memfd(name: &str) -> std::io::Result<std::fs::File> {
    let fd = nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?;
    Ok(std::fs::File::from(fd))
}

fn read_all(mut f: std::fs::File) -> String {
    let mut s = String::new();
    let _ = f.rewind();
    let _ = f.take(4096).read_to_string(&mut s);
    s.trim_end().to_string()
}

/// The environment of a hook whose `env` is absent (runc's rule, and youki's): a
/// startContainer hook, which runs in the container, gets the container process's; the other
/// hooks get the runtime's own. A hook with `env` (even an empty list) gets exactly that.
#[derive(Debug, Clone, Copy)]
pub enum DefaultEnv<'a> {
    Runtime,
    Process(&'a [String]),
}

/// Run one hook with `state` (the runtime-spec state JSON) on its stdin.
pub fn run_one(
    kind: Kind,
    index: usize,
    hook: &Hook,
    state: &[u8],
    default_env: DefaultEnv<'_>,
) -> Result<(), HookError> {
    let fail = |reason: String, output: String| HookError::Failed {
        kind: kind.name(),
        index,
        path: hook.path().clone(),
        reason,
        output,
    };
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    let env: Option<&[String]> = match (hook.env(), default_env) {
        (Some(env), _) => Some(env),
        (None, DefaultEnv::Process(env)) => Some(env),
        (None, DefaultEnv::Runtime) => None,
    };
    if let Some(env) = env {
        cmd.env_clear();
        for e in env {
            if let Some((k, v)) = e.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    let out = memfd("hook-stdout").map_err(|e| fail(format!("memfd: {e}"), String::new()))?;
    let err = memfd("hook-stderr").map_err(|e| fail(format!("memfd: {e}"), String::new()))?;
    // The state goes in a memfd, not a pipe: writing it can never block (a hook that does not
    // read its stdin and a state over the 64 KiB a pipe holds made `create` wait past the
    // hook's timeout, issue 16), and no SIGPIPE can reach the caller.
    let input = memfd("hook-state")
        .and_then(|mut f| {
            f.write_all(state)?;
            f.rewind()?;
            Ok(f)
        })
        .map_err(|e| fail(format!("memfd for the state: {e}"), String::new()))?;
    cmd.stdin(Stdio::from(input))
        .stdout(out.try_clone().map(Stdio::from).unwrap_or(Stdio::null()))
        .stderr(err.try_clone().map(Stdio::from).unwrap_or(Stdio::null()));
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(e.to_string(), String::new()))?;
    let timeout = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let status = match wait_timeout(&mut child, timeout) {
        Ok(Some(s)) => s,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(
                format!("timeout after {}s", timeout.unwrap_or_default().as_secs()),
                String::new(),
            ));
        }
        Err(e) => return Err(fail(format!("wait: {e}"), String::new())),
    };
    if status.success() {
        return Ok(());
    }
    let (o, e) = (read_all(out), read_all(err));
    Err(fail(
        status.to_string(),
        format!(", stdout: {o}, stderr: {e}"),
    ))
}

/// Wait for `child` at most `timeout` (forever with None); Ok(None) on timeout.
fn wait_timeout(
    child: &mut std::process::Child,
    timeout: Option<Duration>,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let Some(timeout) = timeout else {
        return child.wait().map(Some);
    };
    // Our own child, not reaped before we wait on it: the pid is still its own.
    let pidfd = crate::sys::process::pidfd_open(nix::unistd::Pid::from_raw(child.id() as i32))?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = [nix::poll::PollFd::new(
            pidfd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        match nix::poll::poll(
            &mut pfd,
            nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
        ) {
            Ok(0) => return Ok(None),
            Ok(_) => return child.wait().map(Some),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Run every hook of `kind` even when some fail (poststart, poststop: the runtime-spec has the
/// lifecycle go on with a warning); returns the failures.
pub fn run_all_warn(
    kind: Kind,
    hooks: &[Hook],
    state: &[u8],
    default_env: DefaultEnv<'_>,
) -> Vec<HookError> {
    hooks
        .iter()
        .enumerate()
        .filter_map(|(i, h)| run_one(kind, i, h, state, default_env).err())
        .collect()
}

/// Run every hook of `kind` in order; the first failure stops the list.
pub fn run_all(
    kind: Kind,
    hooks: &[Hook],
    state: &[u8],
    default_env: DefaultEnv<'_>,
) -> Result<(), HookError> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(kind, i, h, state, default_env)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn state_on_stdin_and_env() {
        let out = std::env::temp_dir().join(format!("rrun-hook-{}", std::process::id()));
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {0}; echo \"$FOO\" >> {0}"],"env":["FOO=bar"]}}"#,
            out.display()
        ));
        run_one(
            Kind::Prestart,
            0,
            &h,
            b"{\"id\":\"x\"}\n",
            DefaultEnv::Runtime,
        )
        .unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        std::fs::remove_file(&out).unwrap();
        assert_eq!(got, "{\"id\":\"x\"}\nbar\n");
    }

    #[test]
    fn failure_and_timeout_are_reported() {
        let h = hook(r#"{"path":"/bin/sh","args":["sh","-c","echo oops >&2; exit 3"]}"#);
        let e = run_one(Kind::CreateRuntime, 1, &h, b"{}", DefaultEnv::Runtime)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("createRuntime hook #1")
                && e.contains("exit status: 3")
                && e.contains("oops"),
            "{e}"
        );
        let h = hook(r#"{"path":"/bin/sleep","args":["sleep","5"],"timeout":1}"#);
        let e = run_one(Kind::Poststart, 0, &h, b"{}", DefaultEnv::Runtime)
            .unwrap_err()
            .to_string();
        assert!(e.contains("timeout"), "{e}");
    }
}
