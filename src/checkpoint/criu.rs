//! Running CRIU's command line and reading why it failed. rrun runs `criu dump|pre-dump|
//! restore|check` as a child (not `criu swrk`'s protobuf RPC): the options are plain words a
//! test can compare, and no protobuf code is needed. What the RPC alone offers is listed in
//! docs/ARCHITECTURE.md ("Checkpoint and restore").

use super::error::CheckpointError;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// How a CRIU run ended, with its output when it was captured.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub output: String,
}

/// Run `criu <args>`. With `capture`, its stdout and stderr are kept (for the error); without,
/// it shares ours (restore: the restored init's stdio are the caller's, handed over by CRIU's
/// `--inherit-fd fd[N]`).
pub fn run(
    criu: &Path,
    args: &[OsString],
    capture: bool,
    log: &dyn crate::log::Log,
) -> Result<Ran, CheckpointError> {
    log.debug(&format!(
        "running {} {}",
        criu.display(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let mut cmd = Command::new(criu);
    cmd.args(args);
    if capture {
        cmd.stdin(Stdio::null());
        let out = cmd.output().map_err(|source| CheckpointError::Spawn {
            criu: criu.to_path_buf(),
            source,
        })?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        return Ok(Ran {
            status: out.status,
            output: text,
        });
    }
    let status = cmd.status().map_err(|source| CheckpointError::Spawn {
        criu: criu.to_path_buf(),
        source,
    })?;
    Ok(Ran {
        status,
        output: String::new(),
    })
}

/// The `Error (file:line): text` lines of a CRIU log or output, without the timestamps.
pub fn error_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.find("Error (").map(|i| l[i..].trim_end().to_string()))
        .collect()
}

/// CRIU's reason for a failure: the error lines of its log (the first is the cause, the last
/// what gave up), else the last line of its output.
pub fn reason(log_text: &str, output: &str) -> String {
    let mut errors = error_lines(log_text);
    if errors.is_empty() {
        errors = error_lines(output);
    }
    errors.dedup();
    if errors.len() > 4 {
        let last = errors.pop().expect("non-empty");
        errors.truncate(3);
        errors.push("...".into());
        errors.push(last);
    }
    if !errors.is_empty() {
        return errors.join("; ");
    }
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "criu gave no reason (no Error line in its log or output)".into())
}

/// The error for a CRIU run that failed, with its reason read from `log`.
pub fn failure(action: &'static str, ran: &Ran, log: PathBuf) -> CheckpointError {
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    CheckpointError::Criu {
        action,
        status: ran.status.to_string(),
        reason: reason(&text, &ran.output),
        log,
    }
}

/// `criu check`: Ok when CRIU says it can work on this kernel, else its reason (tests skip on
/// it).
pub fn check(criu: &Path) -> Result<(), String> {
    let ran = run(criu, &["check".into()], true, &crate::log::Silent).map_err(|e| e.to_string())?;
    if ran.status.success() {
        return Ok(());
    }
    Err(reason("", &ran.output))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRIU 3.17.1 on Linux 6.18 (this development host): the kernel maps [vvar_vclock]
    /// between [vvar] and [vdso].
    const VDSO_LOG: &str = "(00.000000) Version: 3.17.1 (gitid 0)
(00.025701) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds
(00.025703) Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable
(00.025703) Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.
(00.025746) Error (criu/crtools.c:260): Could not initialize kernel features detection.
";

    #[test]
    fn the_cause_comes_first() {
        let r = reason(VDSO_LOG, "");
        assert!(
            r.starts_with("Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds; "),
            "{r}"
        );
        assert!(r.ends_with("Could not initialize kernel features detection."));
    }

    #[test]
    fn output_when_there_is_no_log() {
        assert_eq!(
            reason("", "Error (criu/crtools.c:1): x\n"),
            "Error (criu/crtools.c:1): x"
        );
        assert_eq!(reason("", "usage\n\nUnknown command\n"), "Unknown command");
        assert!(reason("", "").contains("no reason"));
    }

    #[test]
    fn long_lists_keep_first_and_last() {
        let log: String = (0..9)
            .map(|i| format!("(0) Error (f.c:{i}): e{i}\n"))
            .collect();
        let r = reason(&log, "");
        assert!(r.starts_with("Error (f.c:0): e0; "));
        assert!(r.contains("; ...; Error (f.c:8): e8"));
    }
}
