//! A structured config.json fuzzer (issue 16). Each case is a valid busybox bundle changed by one
//! to four mutations (a field set to a hostile value of any JSON type, a field removed, an
//! array entry repeated, or a known field added with a hostile value), then `rrun run`. Whatever
//! the config, rrun must:
//! - not panic (no abort, no "panicked") and not hang (bounded here);
//! - when it refuses, say why in one line;
//! - leave nothing behind: no state directory, no mount under the bundle, no cgroup of the case;
//! - change nothing of the host: a set of sysctls and the hostname are compared around each case.
//!
//! CI runs `RRUN_FUZZ_CASES` cases (default 150); `make fuzz` runs 3000. The seed is printed and
//! `RRUN_FUZZ_SEED` replays a run; a failing case's config is printed whole.

mod common;
use common::*;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

fn hostile_string(rng: &mut Rng) -> Value {
    let long = "a".repeat(5000);
    let deep = "../".repeat(40) + "etc/passwd";
    let opts = [
        "",
        "/",
        ".",
        "..",
        "/..",
        "a\u{0}b",
        "é",
        "RTMINé",
        "/proc/self/fd/3",
        "/proc/1/root",
        "/dev/null",
        "/sys/fs/cgroup",
        "-1",
        "4294967295",
        "name:with:colons",
        "\n",
        " ",
        "/tmp",
        "relative/path",
        long.as_str(),
        deep.as_str(),
    ];
    json!(rng.pick(&opts))
}

fn hostile_number(rng: &mut Rng) -> Value {
    let opts = [
        json!(0),
        json!(-1),
        json!(1),
        json!(2147483648u64),
        json!(4294967295u64),
        json!(9223372036854775807i64),
        json!(-9223372036854775808i64),
        json!(18446744073709551615u64),
        json!(1.5),
        json!(1e300),
    ];
    rng.pick(&opts).clone()
}

fn hostile_value(rng: &mut Rng) -> Value {
    match rng.below(7) {
        0 | 1 => hostile_string(rng),
        2 | 3 => hostile_number(rng),
        4 => json!(rng.below(2) == 0),
        5 => Value::Null,
        _ => {
            if rng.below(2) == 0 {
                json!([hostile_string(rng), hostile_number(rng)])
            } else {
                json!({"x": hostile_string(rng)})
            }
        }
    }
}

/// Every path (as keys and indices) in the tree, except the few the fuzzer keeps fixed: the
/// program (always /bin/true, so no fuzzed config runs anything of its choosing) and the root.
fn paths(v: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    let fixed = |p: &[Value]| {
        matches!(p.first().and_then(Value::as_str), Some("root"))
            || (p.len() >= 2 && p[0] == "process" && p[1] == "args")
    };
    if !here.is_empty() && !fixed(here) {
        out.push(here.clone());
    }
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                here.push(json!(k));
                paths(c, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                here.push(json!(i));
                paths(c, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn get_mut<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    let mut cur = v;
    for p in path {
        cur = match p {
            Value::String(k) => cur.get_mut(k.as_str())?,
            Value::Number(i) => cur.get_mut(i.as_u64()? as usize)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Known fields the fuzzer adds (JSON pointer of the parent object, key, value maker).
fn add_known(rng: &mut Rng, config: &mut Value, cg: &str) -> String {
    let v = hostile_value(rng);
    let s = hostile_string(rng);
    let n = hostile_number(rng);
    let idmap = *rng.pick(&["idmap", "ridmap", "bind"]);
    let choices: Vec<(&str, Value)> = vec![
        ("/linux/sysctl", json!({"kernel.shmmax": s.clone()})),
        ("/linux/sysctl", json!({"fs.lease-break-time": "45"})),
        ("/linux/resources/memory", json!({"limit": n.clone()})),
        ("/linux/resources/pids", json!({"limit": n.clone()})),
        (
            "/linux/resources/cpu",
            json!({"shares": n.clone(), "quota": n.clone()}),
        ),
        (
            "/linux/devices",
            json!([{"path": s.clone(), "type": "c", "major": n.clone(), "minor": 1}]),
        ),
        ("/linux/maskedPaths", json!([s.clone()])),
        ("/linux/readonlyPaths", json!([s.clone()])),
        (
            "/linux/cgroupsPath",
            json!(format!("{cg}/{}", s.as_str().unwrap_or("x"))),
        ),
        (
            "/mounts",
            json!([{"destination": s.clone(), "type": "tmpfs", "source": "tmpfs", "options": [v.clone()]}]),
        ),
        (
            "/mounts",
            json!([{"destination": "/mnt", "type": "bind", "source": s.clone(), "options": ["rbind", "ro"]}]),
        ),
        // Id-mapped binds: hostile mappings (the parent makes a user namespace for them).
        (
            "/mounts",
            json!([{"destination": "/mnt", "type": "bind", "source": s.clone(),
                    "options": ["rbind", idmap],
                    "uidMappings": [{"containerID": n.clone(), "hostID": n.clone(), "size": n.clone()}],
                    "gidMappings": [{"containerID": 0, "hostID": n.clone(), "size": v.clone()}]}]),
        ),
        (
            "/mounts",
            json!([{"destination": s.clone(), "type": v.clone(), "source": "/tmp", "options": [idmap]}]),
        ),
        (
            "/process/rlimits",
            json!([{"type": s.clone(), "hard": n.clone(), "soft": n.clone()}]),
        ),
        (
            "/process/user",
            json!({"uid": n.clone(), "gid": n.clone(), "additionalGids": [n.clone()]}),
        ),
        (
            "/process/capabilities",
            json!({"bounding": [s.clone(), "CAP_SYS_ADMIN"], "effective": [s.clone()]}),
        ),
        ("/process/cwd", s.clone()),
        ("/process/env", json!([s.clone()])),
        (
            "/process/consoleSize",
            json!({"height": n.clone(), "width": n.clone()}),
        ),
        ("/process/oomScoreAdj", n.clone()),
        ("/hostname", s.clone()),
        (
            "/linux/namespaces",
            json!([{"type": s.clone()}, {"type": "pid"}, {"type": "mount"}]),
        ),
        (
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": n.clone(), "size": n.clone()}]),
        ),
        ("/linux/rootfsPropagation", s.clone()),
        (
            "/linux/seccomp",
            json!({"defaultAction": s.clone(), "syscalls": [{"names": [s.clone()], "action": "SCMP_ACT_ERRNO"}]}),
        ),
        (
            "/hooks",
            json!({"prestart": [{"path": s.clone(), "timeout": n.clone()}]}),
        ),
        ("/annotations", json!({"k": v.clone()})),
    ];
    let (at, value) = rng.pick(&choices).clone();
    let (parent, key) = at.rsplit_once('/').unwrap();
    let obj = if parent.is_empty() {
        Some(config)
    } else {
        config.pointer_mut(parent)
    };
    if let Some(o) = obj.and_then(|o| o.as_object_mut()) {
        o.insert(key.to_string(), value);
    }
    format!("add {at}")
}

fn mutate(rng: &mut Rng, config: &mut Value, cg: &str) -> String {
    if rng.below(2) == 0 {
        return add_known(rng, config, cg);
    }
    let mut all = Vec::new();
    paths(config, &mut Vec::new(), &mut all);
    let path = rng.pick(&all).clone();
    let (parent_path, last) = path.split_at(path.len() - 1);
    let op = rng.below(4);
    let Some(parent) = get_mut(config, parent_path) else {
        return "none".into();
    };
    match (op, parent, &last[0]) {
        (0, Value::Object(m), Value::String(k)) => {
            m.remove(k);
            format!("remove {path:?}")
        }
        (1, Value::Array(a), Value::Number(i)) => {
            let i = i.as_u64().unwrap_or(0) as usize;
            if i < a.len() {
                let dup = a[i].clone();
                a.push(dup);
            }
            format!("repeat {path:?}")
        }
        (_, parent, _) => {
            if let Some(slot) = get_mut(parent, last) {
                *slot = hostile_value(rng);
            }
            format!("set {path:?}")
        }
    }
}

/// What a case must not change on the host.
fn host_snapshot() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in [
        "kernel/hostname",
        "kernel/domainname",
        "kernel/shmmax",
        "kernel/msgmax",
        "fs/lease-break-time",
        "fs/mqueue/msg_max",
        "net/ipv4/ip_forward",
        "net/core/somaxconn",
        "vm/overcommit_memory",
    ] {
        let p = format!("/proc/sys/{f}");
        out.push((p.clone(), std::fs::read_to_string(&p).unwrap_or_default()));
    }
    out
}

#[test]
fn fuzzed_configs_never_panic_hang_leak_or_touch_the_host() {
    let cases: usize = std::env::var("RRUN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let seed: u64 = std::env::var("RRUN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("fuzz: {cases} cases, RRUN_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);
    let r = Rrun::new();
    let base = Bundle::busybox(&["/bin/true"]);
    let before = host_snapshot();
    let mut refused = 0;
    let mut ran = 0;
    let mut problems = Vec::new();
    for case in 0..cases {
        let cg = unique("rrun-fuzz");
        let mut config = base.config.clone();
        config["linux"]["cgroupsPath"] = json!(format!("/{cg}"));
        let mut what = Vec::new();
        for _ in 0..1 + rng.below(4) {
            what.push(mutate(&mut rng, &mut config, &format!("/{cg}")));
        }
        // The bundle: this case's config; the rootfs is the base bundle's, shared.
        let dir = TempDir::new("rrun-fuzz-bundle");
        config["root"] = json!({"path": base.rootfs(), "readonly": false});
        std::fs::write(
            dir.path().join("config.json"),
            serde_json::to_vec(&config).unwrap(),
        )
        .unwrap();
        let id = r.id();
        let mut child = r
            .cmd()
            .args(["run", "-b", dir.path().to_str().unwrap(), &id])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        let mut bad = Vec::new();
        match status {
            None => bad.push("hung (no exit in 20 s)".to_string()),
            Some(s) => {
                use std::os::unix::process::ExitStatusExt;
                if s.signal().is_some() || matches!(s.code(), Some(101 | 134)) {
                    bad.push(format!("died: {s:?}"));
                }
                if err.contains("panicked") {
                    bad.push("panicked".into());
                }
                if s.success() {
                    ran += 1;
                } else {
                    refused += 1;
                    // Warnings (logged to stderr without --log) may come first.
                    let lines = err
                        .trim()
                        .lines()
                        .filter(|l| !l.contains(" level=warning msg="))
                        .count();
                    if lines != 1 {
                        bad.push(format!("{lines} lines of error"));
                    }
                }
            }
        }
        if r.root.path().join(&id).exists() {
            bad.push("state directory left".into());
        }
        if !mounts_containing(dir.path().to_str().unwrap()).is_empty()
            || !mounts_containing(base.rootfs().to_str().unwrap()).is_empty()
        {
            bad.push("mounts left".into());
        }
        // The case's cgroup is /<cg>, or below it when a mutation made cgroupsPath longer:
        // like runc, rrun removes the container's own cgroup and leaves the parents it had to
        // make (they may be shared), so only the container's own cgroup counts as left.
        let own = config["linux"]["cgroupsPath"]
            .as_str()
            .map(|p| {
                let mut clean = std::path::PathBuf::new();
                for c in std::path::Path::new(p).components() {
                    match c {
                        std::path::Component::Normal(n) => clean.push(n),
                        std::path::Component::ParentDir => {
                            clean.pop();
                        }
                        _ => {}
                    }
                }
                clean
            })
            .filter(|p| p.starts_with(&cg));
        let hierarchies: Vec<std::path::PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        for base_dir in &hierarchies {
            if let Some(own) = &own {
                if base_dir.join(own).exists() {
                    bad.push(format!("{} left", base_dir.join(own).display()));
                }
            }
            // Remove what is left under /<cg>, deepest first.
            let mut dirs = vec![base_dir.join(&cg)];
            let mut i = 0;
            while i < dirs.len() {
                let d = dirs[i].clone();
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        dirs.push(e.path());
                    }
                }
                i += 1;
            }
            for d in dirs.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
        let after = host_snapshot();
        if after != before {
            bad.push(format!("host changed: {before:?} -> {after:?}"));
        }
        if !bad.is_empty() {
            eprintln!("case {case}: {what:?}: {bad:?}\nstderr: {err}");
            problems.push(format!(
                "case {case} ({what:?}): {bad:?}\nstderr: {}\nconfig: {}",
                err.trim(),
                serde_json::to_string(&config).unwrap()
            ));
            let _ = r.cmd().args(["delete", "--force", &id]).output();
        }
    }
    eprintln!(
        "fuzz: {ran} ran, {refused} refused, {} problems",
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "seed {seed}: {} problems:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}
