//! `events --stats` prints runc 1.1.5's JSON: the same envelope (`type`, `id`, `data`, in that
//! order) and, inside `data`, the same keys with the same shapes (cpu, cpuset, memory, pids,
//! blkio, hugetlb, intel_rdt, network_interfaces). Checked against the `runc` on the host, on
//! the same bundle; values differ, so only the structure is compared.

mod common;
use common::*;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::{Command, Stdio};

/// A runc with its own --root; its container is force-deleted on drop.
struct Runc {
    root: TempDir,
    id: String,
}

impl Runc {
    fn cmd(&self) -> Command {
        let mut c = Command::new("runc");
        c.arg("--root").arg(self.root.path());
        c
    }

    /// Run runc with `args`; its stdout. Output goes through files, not pipes: a detached
    /// container's init inherits runc's stdio and keeps it open after runc exits.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.root.path().join("out");
        let err = self.root.path().join("err");
        let status = self
            .cmd()
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        let stderr = std::fs::read_to_string(&err).unwrap();
        assert!(status.success(), "runc {args:?}: {stderr}");
        std::fs::read_to_string(&out).unwrap()
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        let _ = self
            .cmd()
            .args(["delete", "--force", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn runc_present() -> bool {
    Command::new("runc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The structure of a JSON value: objects keep their keys (values replaced by their
/// structure), arrays become `["array", <structure of the first element>]`, scalars their type.
fn structure(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), structure(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => json!(["array", a.first().map(structure)]),
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
    }
}

/// The top-level keys of a JSON object text, in the order they appear.
fn top_level_keys(text: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(text).unwrap();
    let mut keys: Vec<(usize, String)> = v
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

#[test]
fn events_stats_has_runc_keys_and_shapes() {
    if !runc_present() {
        eprintln!("SKIPPED: no runc on this host to compare with");
        return;
    }
    let mut b = Bundle::busybox(&["/bin/sleep", "1000"]);
    let path = |b: &Bundle| b.path().to_str().unwrap().to_string();

    let runc = Runc {
        root: TempDir::new("runc-root"),
        id: unique("runc-ev"),
    };
    b.config["linux"]["cgroupsPath"] = json!(format!("/{}", runc.id));
    b.save();
    runc.ok(&["run", "-d", "-b", &path(&b), &runc.id]);
    let runc_text = runc.ok(&["events", "--stats", &runc.id]);

    let r = Rrun::new();
    let id = r.id();
    b.config["linux"]["cgroupsPath"] = json!(format!("/{id}"));
    b.save();
    r.ok(&["run", "-d", "-b", &path(&b), &id]);
    let rrun_text = r.ok(&["events", "--stats", &id]);

    assert_eq!(top_level_keys(&rrun_text), top_level_keys(&runc_text));
    let runc_v: Value = serde_json::from_str(&runc_text).unwrap();
    let rrun_v: Value = serde_json::from_str(&rrun_text).unwrap();
    let mut runc_s = structure(&runc_v);
    let mut rrun_s = structure(&rrun_v);
    // hugetlb is keyed by page size, and runc 1.1.5 fills it from a v1 hugetlb hierarchy only
    // (rrun also from the cgroup2 one, where a hybrid host has it): compare each entry's shape.
    let entry_keys = ["usage", "max", "failcnt"];
    for s in [&mut runc_s, &mut rrun_s] {
        let huge = s["data"]["hugetlb"].take();
        for (size, entry) in huge.as_object().unwrap() {
            let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
            assert!(keys.iter().any(|k| *k == "failcnt"), "{size}: {entry}");
            assert!(
                keys.iter().all(|k| entry_keys.contains(&k.as_str())),
                "{size}: {entry}"
            );
        }
    }
    assert_eq!(
        serde_json::to_string_pretty(&rrun_s).unwrap(),
        serde_json::to_string_pretty(&runc_s).unwrap(),
        "rrun (left) and runc (right) differ;\nrrun: {rrun_text}\nrunc: {runc_text}"
    );
    // The data's keys in runc's order too.
    let data_keys = |text: &str| {
        let start = text.find("\"data\":").unwrap();
        top_level_keys(&text[start + 7..text.rfind('}').unwrap()])
    };
    assert_eq!(data_keys(&rrun_text), data_keys(&runc_text));
    assert!(Path::new("/sys/fs/cgroup").exists());
}
