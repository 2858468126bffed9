//! `rrun events [--stats] [--interval 5s] <id>`: the container's resource usage as runc prints
//! it: `{"type":"stats","id":...,"data":{cpu,cpuset,memory,pids,blkio,hugetlb,intel_rdt,
//! network_interfaces}}` (keys in runc's order), once with --stats, else every interval until
//! the container stops; an `oom` event (`{"type":"oom","id":...}`) when its OOM kill count grows.

use anyhow::{anyhow, Result};
use librrun::cgroups::Stats;
use librrun::container::{Container, Operation};
use serde::Serialize;
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
        super::emit(&Event::line("stats", &a.id, Some(&stats)))?;
        if a.stats {
            return Ok(0);
        }
        let now = cg.oom_kill_count().ok().flatten().unwrap_or(0);
        if ooms.is_some_and(|before| now > before) {
            super::emit(&Event::line("oom", &a.id, None))?;
        }
        ooms = Some(now);
        std::thread::sleep(interval);
        if !st.init_alive() {
            return Ok(0);
        }
    }
}

/// One event as runc prints it: its keys in this order, no `data` when there is none.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Stats>,
}

impl Event<'_> {
    fn line(kind: &str, id: &str, data: Option<&Stats>) -> String {
        let event = Event { kind, id, data };
        serde_json::to_string(&event).expect("an event serializes") + "\n"
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

    #[test]
    fn events_are_in_runc_key_order() {
        assert_eq!(
            Event::line("oom", "c1", None),
            "{\"type\":\"oom\",\"id\":\"c1\"}\n"
        );
        let stats = Event::line("stats", "c1", Some(&Stats::default()));
        assert!(
            stats.starts_with("{\"type\":\"stats\",\"id\":\"c1\",\"data\":{\"cpu\":"),
            "{stats}"
        );
    }
}
