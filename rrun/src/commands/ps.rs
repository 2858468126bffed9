//! `rrun ps [--format table|json] <id> [ps options]`: the container's processes, as runc
//! shows them (json: the pids; table: the host's `ps` output, filtered to them).

use anyhow::{anyhow, bail, Context, Result};
use librrun::container::Container;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// select one of: table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// the container id
    pub id: String,
    /// options for ps (default: -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// Keep the header and the rows whose PID column is one of `pids`.
pub fn filter_table(out: &str, pids: &[i32]) -> Result<String> {
    let mut lines = out.lines();
    let header = lines.next().ok_or_else(|| anyhow!("ps printed nothing"))?;
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow!("couldn't find PID field in ps output"))?;
    let mut text = format!("{header}\n");
    for l in lines {
        let pid: Option<i32> = l.split_whitespace().nth(col).and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            text.push_str(l);
            text.push('\n');
        }
    }
    Ok(text)
}

pub fn cmd(root: &Path, a: &PsArgs) -> Result<i32> {
    let pids = Container::open_unlocked(root, &a.id)?.pids()?;
    match a.format.as_str() {
        "json" => {
            super::emit(&(serde_json::to_string(&pids)? + "\n"))?;
            Ok(0)
        }
        "table" => {
            let args = if a.ps_args.is_empty() {
                vec!["-ef".to_string()]
            } else {
                a.ps_args.clone()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .context("run ps")?;
            if !out.status.success() {
                bail!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            super::emit(&filter_table(&String::from_utf8_lossy(&out.stdout), &pids)?)?;
            Ok(0)
        }
        other => bail!("invalid format option {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn filters_by_pid_column() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:00 ? 00:00:00 sleep 1000\n";
        let t = super::filter_table(out, &[42]).unwrap();
        assert_eq!(
            t,
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sleep 1000\n"
        );
    }
}
