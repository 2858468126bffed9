//! `rrun update [-r FILE|-] [--memory ...] <id>`: change a running container's cgroup limits.
//! The new values are merged into the saved config, so later updates and `state` build on them.

use crate::logging::Logger;
use anyhow::{anyhow, bail, Context, Result};
use librrun::container::{Container, Operation};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// path to the file containing the resources to update or '-' to read from the standard input
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long)]
    pub cpu_share: Option<u64>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU(s) to use
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Memory limit (in bytes, or with a k, m, g suffix)
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes, or with a suffix)
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// the container id
    pub id: String,
}

/// "64m", "1g", "512k", "1024" or "-1" (unlimited) to bytes, as runc's units.RAMInBytes.
pub fn parse_bytes(s: &str) -> Result<i64> {
    if s == "-1" {
        return Ok(-1);
    }
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| anyhow!("invalid size {s:?}"))?;
    if n < 0.0 {
        bail!("invalid size {s:?}");
    }
    Ok((n * mult as f64) as i64)
}

/// The update the flags and -r ask for, as a LinuxResources JSON object.
fn requested(a: &UpdateArgs) -> Result<Value> {
    let mut v = match &a.resources {
        None => json!({}),
        Some(p) => {
            let mut data = Vec::new();
            if p == Path::new("-") {
                std::io::stdin().read_to_end(&mut data)?;
            } else {
                data = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
            }
            let v: Value = serde_json::from_slice(&data).context("parse the resources JSON")?;
            serde_json::from_value::<LinuxResources>(v.clone())
                .context("the resources JSON is not a runtime-spec linux.resources")?;
            v
        }
    };
    let mut set = |path: &[&str], val: Value| {
        let mut cur = &mut v;
        for k in &path[..path.len() - 1] {
            cur = cur
                .as_object_mut()
                .expect("object")
                .entry(k.to_string())
                .or_insert(json!({}));
        }
        cur[path[path.len() - 1]] = val;
    };
    if let Some(w) = a.blkio_weight {
        set(&["blockIO", "weight"], json!(w));
    }
    if let Some(x) = a.cpu_period {
        set(&["cpu", "period"], json!(x));
    }
    if let Some(x) = a.cpu_quota {
        set(&["cpu", "quota"], json!(x));
    }
    if let Some(x) = a.cpu_share {
        set(&["cpu", "shares"], json!(x));
    }
    if let Some(x) = a.cpu_rt_period {
        set(&["cpu", "realtimePeriod"], json!(x));
    }
    if let Some(x) = a.cpu_rt_runtime {
        set(&["cpu", "realtimeRuntime"], json!(x));
    }
    if let Some(x) = &a.cpuset_cpus {
        set(&["cpu", "cpus"], json!(x));
    }
    if let Some(x) = &a.cpuset_mems {
        set(&["cpu", "mems"], json!(x));
    }
    if let Some(x) = &a.memory {
        set(&["memory", "limit"], json!(parse_bytes(x)?));
    }
    if let Some(x) = &a.memory_reservation {
        set(&["memory", "reservation"], json!(parse_bytes(x)?));
    }
    if let Some(x) = &a.memory_swap {
        set(&["memory", "swap"], json!(parse_bytes(x)?));
    }
    if let Some(x) = a.pids_limit {
        set(&["pids", "limit"], json!(x));
    }
    Ok(v)
}

pub fn cmd(root: &Path, a: &UpdateArgs, log: &Logger) -> Result<i32> {
    let mut c = Container::open(root, &a.id)?;
    // The status is checked before -r - is read.
    c.check(Operation::Update)?;
    c.update(requested(a)?, log)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("lots").is_err());
    }
}
