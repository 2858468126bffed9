//! Finding the container's executable (as runc does, before `create` returns, so a missing
//! binary fails `create` with `exec: "foo": executable file not found in $PATH`) and the final
//! execve.

use nix::unistd::AccessFlags;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("exec: {name:?}: executable file not found in $PATH")]
    NotFound { name: String },
    #[error("exec: {name:?}: stat {name}: {}", go_errno(.source))]
    Stat {
        name: String,
        source: std::io::Error,
    },
    #[error("exec: {name:?}: permission denied")]
    NotExecutable { name: String },
    #[error("exec: {name:?}: is a directory")]
    IsDir { name: String },
    #[error("argument or environment entry holds a NUL byte: {0:?}")]
    Nul(String),
    #[error("exec {path}: {source}")]
    Execve { path: PathBuf, source: nix::Error },
}

/// An errno's text as Go prints it ("no such file or directory"), without Rust's "(os error N)".
fn go_errno(e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(n) => nix::Error::from_raw(n).desc().to_string(),
        None => e.to_string(),
    };
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => text,
    }
}

/// The PATH of an environment list (`KEY=VALUE` entries).
pub fn env_path(env: &[String]) -> Option<&str> {
    env.iter().rev().find_map(|e| e.strip_prefix("PATH="))
}

fn check_file(name: &str, p: &Path) -> Result<(), ExecError> {
    let m = std::fs::metadata(p).map_err(|source| ExecError::Stat {
        name: name.to_string(),
        source,
    })?;
    if m.is_dir() {
        return Err(ExecError::IsDir {
            name: name.to_string(),
        });
    }
    if m.permissions().mode() & 0o111 == 0 || nix::unistd::access(p, AccessFlags::X_OK).is_err() {
        return Err(ExecError::NotExecutable {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Resolve `name` the way exec.LookPath does: a name with a `/` is used as it is (relative to
/// the cwd); otherwise each PATH entry is tried in turn.
pub fn look_path(name: &str, path_var: Option<&str>) -> Result<PathBuf, ExecError> {
    if name.contains('/') {
        check_file(name, Path::new(name))?;
        return Ok(PathBuf::from(name));
    }
    for dir in path_var.unwrap_or("").split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(name);
        if check_file(name, &cand).is_ok() {
            return Ok(cand);
        }
    }
    Err(ExecError::NotFound {
        name: name.to_string(),
    })
}

fn cstrings(v: &[String]) -> Result<Vec<CString>, ExecError> {
    v.iter()
        .map(|s| CString::new(s.as_bytes()).map_err(|_| ExecError::Nul(s.clone())))
        .collect()
}

/// Everything execve needs, converted before the last steps so nothing can fail late but the
/// call itself.
#[derive(Debug)]
pub struct ExecPlan {
    pub path: PathBuf,
    path_c: CString,
    args: Vec<CString>,
    env: Vec<CString>,
}

impl ExecPlan {
    pub fn new(path: PathBuf, args: &[String], env: &[String]) -> Result<ExecPlan, ExecError> {
        let path_c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| ExecError::Nul(path.display().to_string()))?;
        Ok(ExecPlan {
            path,
            path_c,
            args: cstrings(args)?,
            env: cstrings(env)?,
        })
    }

    /// The path execve is given.
    pub fn path_c(&self) -> &CString {
        &self.path_c
    }

    /// Replace the process image. Returns only on failure.
    pub fn exec(&self) -> ExecError {
        match nix::unistd::execve(&self.path_c, &self.args, &self.env) {
            Err(source) => ExecError::Execve {
                path: self.path.clone(),
                source,
            },
            Ok(never) => match never {},
        }
    }
}

/// Prepare the fds and the signal mask the new program inherits: fds 0-2 and the next
/// `preserve` stay open, every other fd is marked close-on-exec, the signal mask is emptied.
/// Done before the seccomp filter is installed (close_range and rt_sigprocmask need not be in
/// the profile).
pub fn prepare_inheritance(preserve: u32) -> Result<(), nix::Error> {
    for fd in 3..3 + preserve as i32 {
        // A preserved fd must survive the exec: clear its close-on-exec flag. A number that is
        // not open just fails with EBADF, which is fine.
        let _ = crate::sys::fd::set_flags(fd, nix::fcntl::FdFlag::empty());
    }
    crate::init::fds::cloexec_from(3 + preserve as i32)?;
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )?;
    Ok(())
}

/// Give SIGPIPE (which the Rust runtime ignores, and an ignored signal stays ignored across
/// execve) back its default disposition.
pub fn restore_sigpipe() -> Result<(), nix::Error> {
    crate::sys::signal::set_default_disposition(nix::sys::signal::SIGPIPE)
}

/// After the switch to the container's user: may that user execute `path`? look_path ran as
/// root before the seccomp filter; this keeps runc's create-time "permission denied" for a
/// program the user may not run. faccessat2 (which runc also calls here), else access.
pub fn check_user_may_execute(path: &CString) -> Result<(), nix::Error> {
    match crate::sys::fs::faccessat2(path, AccessFlags::X_OK) {
        Err(nix::Error::ENOSYS | nix::Error::EPERM) => {
            nix::unistd::access(path.as_c_str(), AccessFlags::X_OK)
        }
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_like_go() {
        assert_eq!(
            look_path("sh", Some("/nonexistent:/bin")).unwrap(),
            PathBuf::from("/bin/sh")
        );
        let e = look_path("no-such-prog-rrun", Some("/bin:/usr/bin")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: \"no-such-prog-rrun\": executable file not found in $PATH"
        );
        let e = look_path("/etc/passwd", None).unwrap_err();
        assert_eq!(e.to_string(), "exec: \"/etc/passwd\": permission denied");
        assert!(look_path("/nonexistent/x", None)
            .unwrap_err()
            .to_string()
            .contains("no such file"));
    }

    #[test]
    fn path_from_env() {
        let env = vec!["A=1".to_string(), "PATH=/x:/y".to_string()];
        assert_eq!(env_path(&env), Some("/x:/y"));
    }
}
