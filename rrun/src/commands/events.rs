//! `rrun events [--stats] [--interval 5s] <id>`: the container's resource usage as runc prints
//! it: `{"type":"stats","id":...,"data":{cpu,memory,pids,blkio,hugetlb}}`, once with --stats,
//! else every interval until the container stops; an `oom` event when its OOM kill count grows.

use anyhow::{anyhow, Result};
use librrun::container::{Container, Operation};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// set the stats collection interval
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// display the container's stats then exit
    #[arg(long)]
    pub stats: bool,
    /// the container id
    pub id: String,
}

/// A Go-style duration: "5s", "100ms", "1m", "1m30s", "2h".
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || anyhow!("invalid duration {s:?}");
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[u..];
    }
    if total <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

pub fn cmd(root: &Path, a: &EventsArgs) -> Result<i32> {
    let interval = parse_duration(&a.interval)?;
    let (st, cg) = {
        let c = Container::open_unlocked(root, &a.id)?;
        c.check(Operation::Events)?;
        let cg = c.cgroup()?;
        (c.saved().clone(), cg)
    };
    let mut ooms: Option<u64> = None;
    loop {
        let stats = cg.stats()?;
        let line = json!({"type": "stats", "id": a.id, "data": stats});
        super::emit(&(line.to_string() + "\n"))?;
        if a.stats {
            return Ok(0);
        }
        let now = cg.oom_kill_count().ok().flatten().unwrap_or(0);
        if ooms.is_some_and(|before| now > before) {
            super::emit(&(json!({"type": "oom", "id": a.id}).to_string() + "\n"))?;
        }
        ooms = Some(now);
        std::thread::sleep(interval);
        if !st.init_alive() {
            return Ok(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
