//! `update` changes a running container's limits; `events --stats` reports its usage.

mod common;
use common::*;
use serde_json::json;

#[test]
fn update_limits_and_stats() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sleep", "1000"]);
    let cg = unique("rrun-update");
    b.config["linux"]["cgroupsPath"] = json!(format!("/{cg}"));
    b.save();
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let res = b.path().join("res.json");
    std::fs::write(&res, r#"{"memory":{"limit":67108864},"pids":{"limit":50}}"#).unwrap();
    r.ok(&["update", "-r", res.to_str().unwrap(), &id]);
    r.ok(&[
        "update",
        "--memory",
        "96m",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        &id,
    ]);
    let read = |p: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{p}"))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        read(&format!("memory/{cg}/memory.limit_in_bytes")),
        (96u64 << 20).to_string()
    );
    assert_eq!(
        read(&format!("pids/{cg}/pids.max")),
        "50",
        "the first update is kept"
    );
    assert_eq!(read(&format!("cpu/{cg}/cpu.cfs_quota_us")), "50000");
    let e = r.fails(&["update", "--memory", "lots", &id]);
    assert!(e.contains("invalid size"), "{e}");

    let out = r.ok(&["events", "--stats", &id]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["data"]["pids"]["current"], 1);
    assert_eq!(v["data"]["memory"]["usage"]["limit"], 96u64 << 20);
    r.ok(&["delete", "--force", &id]);
    assert!(r
        .fails(&["update", "--pids-limit", "5", &id])
        .contains("does not exist"));
}
