//! config-linux.md: cgroupsPath and resources, checked in the host's cgroup
//! files of the created container (v1, v2 or hybrid, as the host has them).

use crate::bundle::Bundle;
use crate::context::{Container, Ctx};
use crate::harness::{Failure, Outcome, Verdict};
use crate::{cases, check, fail, skip};
use serde_json::{json, Value};

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "config-linux/cgroupsPath/absolute" => path_absolute,
        "config-linux/cgroupsPath/removed-on-delete" => removed_on_delete,
        "config-linux/resources/memory/limit" => memory_limit,
        "config-linux/resources/memory/reservation" => memory_reservation,
        "config-linux/resources/memory/swap" => memory_swap,
        "config-linux/resources/memory/swappiness" => memory_swappiness,
        "config-linux/resources/memory/disableOOMKiller" => memory_oom,
        "config-linux/resources/cpu/shares" => cpu_shares,
        "config-linux/resources/cpu/quota-period" => cpu_quota,
        "config-linux/resources/cpu/cpus-mems" => cpuset,
        "config-linux/resources/pids/limit" => pids_limit,
        "config-linux/resources/blockIO/weight" => blkio_weight,
        "config-linux/resources/blockIO/throttleReadBpsDevice" => blkio_throttle,
        "config-linux/resources/hugepageLimits" => hugepages,
        "config-linux/resources/network" => network,
        "config-linux/resources/rdma" => rdma,
        "config-linux/resources/unified" => unified,
        "config-linux/resources/devices/deny" => devices_deny,
        "config-linux/resources/devices/allow" => devices_allow,
        "config-linux/resources/devices/order" => devices_order,
    ]
}

fn bundle_in_cgroup(ctx: &Ctx, resources: Value) -> Result<(Bundle, String), Failure> {
    let mut b = ctx.bundle()?;
    let id = ctx.new_id();
    b.config["linux"]["cgroupsPath"] = json!(ctx.cgroups_path(&id));
    if let Some(obj) = resources.as_object() {
        for (k, v) in obj {
            b.config["linux"]["resources"][k] = v.clone();
        }
    }
    b.set_args(&["/bin/sleep", "100000"]);
    Ok((b, id))
}

fn create_in_cgroup<'a>(
    ctx: &'a Ctx,
    resources: Value,
) -> Result<(Container<'a>, Bundle), Failure> {
    let (b, id) = bundle_in_cgroup(ctx, resources)?;
    let (c, inv) = ctx.create_as(&b, id, &[])?;
    check!(inv.success(), "create failed: {}", inv.describe());
    Ok((c, b))
}

fn read_cg(
    ctx: &Ctx,
    c: &Container,
    controller: &str,
    file: &str,
) -> Result<Option<String>, Failure> {
    let pid = c.pid()?;
    let Some(dir) = ctx.host.cgroup_dir_of(pid, controller) else {
        fail!("the container process is in no {controller} cgroup");
    };
    Ok(std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string()))
}

/// One resource test: `v1`/`v2` list (file, expected value) for the
/// hierarchy the host uses for `controller`.
fn resource(
    ctx: &Ctx,
    controller: &str,
    resources: Value,
    v1: &[(&str, &str)],
    v2: &[(&str, &str)],
) -> Outcome {
    if !ctx.host.has_controller(controller) {
        skip!("no {controller} cgroup controller on this host");
    }
    let on_v2 = ctx.host.controller_on_v2(controller);
    let checks = if on_v2 { v2 } else { v1 };
    if checks.is_empty() {
        skip!(
            "no {} interface for this setting ({controller} is on cgroup {})",
            if on_v2 { "cgroup v2" } else { "cgroup v1" },
            if on_v2 { 2 } else { 1 }
        );
    }
    let (c, _b) = create_in_cgroup(ctx, resources.clone())?;
    for (file, want) in checks {
        match read_cg(ctx, &c, controller, file)? {
            None => fail!("{file} is missing in the container's {controller} cgroup"),
            Some(got) => check!(
                got == *want || got.lines().any(|l| l.trim() == *want),
                "{file} is {got:?}, want {want:?} for {resources}"
            ),
        }
    }
    Ok(Verdict::Pass)
}

fn path_absolute(ctx: &Ctx) -> Outcome {
    let (c, _b) = create_in_cgroup(ctx, json!({}))?;
    let pid = c.pid()?;
    let want = ctx.cgroups_path(&c.id);
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut checked = 0;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let relevant = ctrls
            .split(',')
            .any(|c| ["memory", "pids", "cpu", "devices", "freezer"].contains(&c));
        let v2_only = ctrls.is_empty() && ctx.host.cgroup_v1.is_empty();
        if relevant || v2_only {
            check!(
                path == want,
                "cgroup line {line:?} does not use cgroupsPath {want}"
            );
            checked += 1;
        }
    }
    check!(
        checked > 0,
        "no cgroup of the container could be checked: {text:?}"
    );
    Ok(Verdict::Pass)
}

fn removed_on_delete(ctx: &Ctx) -> Outcome {
    let (c, _b) = create_in_cgroup(ctx, json!({}))?;
    let pid = c.pid()?;
    let dirs: Vec<_> = ["memory", "pids", "cpu", ""]
        .iter()
        .filter_map(|ctrl| ctx.host.cgroup_dir_of(pid, ctrl))
        .filter(|d| d.ends_with(&c.id))
        .collect();
    check!(
        !dirs.is_empty(),
        "found no cgroup directory named after the cgroupsPath"
    );
    c.kill("KILL")?;
    c.wait_stopped()?;
    let inv = c.delete()?;
    check!(inv.success(), "delete failed: {}", inv.describe());
    for d in dirs {
        check!(!d.exists(), "{} still exists after delete", d.display());
    }
    Ok(Verdict::Pass)
}

const MIB: i64 = 1 << 20;

fn memory_limit(ctx: &Ctx) -> Outcome {
    resource(
        ctx,
        "memory",
        json!({"memory": {"limit": 64 * MIB}}),
        &[("memory.limit_in_bytes", "67108864")],
        &[("memory.max", "67108864")],
    )
}

fn memory_reservation(ctx: &Ctx) -> Outcome {
    resource(
        ctx,
        "memory",
        json!({"memory": {"limit": 64 * MIB, "reservation": 32 * MIB}}),
        &[("memory.soft_limit_in_bytes", "33554432")],
        &[("memory.low", "33554432")],
    )
}

fn memory_swap(ctx: &Ctx) -> Outcome {
    if !ctx.host.controller_on_v2("memory") {
        if let Some(m) = ctx.host.cgroup_v1.get("memory") {
            if !m.join("memory.memsw.limit_in_bytes").exists() {
                skip!("swap accounting is off on this host (no memory.memsw.limit_in_bytes)");
            }
        }
    }
    resource(
        ctx,
        "memory",
        json!({"memory": {"limit": 64 * MIB, "swap": 128 * MIB}}),
        &[("memory.memsw.limit_in_bytes", "134217728")],
        &[("memory.swap.max", "67108864")],
    )
}

fn memory_swappiness(ctx: &Ctx) -> Outcome {
    resource(
        ctx,
        "memory",
        json!({"memory": {"swappiness": 17}}),
        &[("memory.swappiness", "17")],
        &[],
    )
}

fn memory_oom(ctx: &Ctx) -> Outcome {
    resource(
        ctx,
        "memory",
        json!({"memory": {"limit": 64 * MIB, "disableOOMKiller": true}}),
        &[("memory.oom_control", "oom_kill_disable 1")],
        &[],
    )
}

fn cpu_shares(ctx: &Ctx) -> Outcome {
    // v2: weight = 1 + ((shares - 2) * 9999) / 262142
    resource(
        ctx,
        "cpu",
        json!({"cpu": {"shares": 512}}),
        &[("cpu.shares", "512")],
        &[("cpu.weight", "20")],
    )
}

fn cpu_quota(ctx: &Ctx) -> Outcome {
    resource(
        ctx,
        "cpu",
        json!({"cpu": {"quota": 50000, "period": 100000}}),
        &[
            ("cpu.cfs_quota_us", "50000"),
            ("cpu.cfs_period_us", "100000"),
        ],
        &[("cpu.max", "50000 100000")],
    )
}

fn cpuset(ctx: &Ctx) -> Outcome {
    resource(
        ctx,
        "cpuset",
        json!({"cpu": {"cpus": "0", "mems": "0"}}),
        &[("cpuset.cpus", "0"), ("cpuset.mems", "0")],
        &[("cpuset.cpus", "0"), ("cpuset.mems", "0")],
    )
}

fn pids_limit(ctx: &Ctx) -> Outcome {
    resource(
        ctx,
        "pids",
        json!({"pids": {"limit": 64}}),
        &[("pids.max", "64")],
        &[("pids.max", "64")],
    )
}

fn blkio_weight(ctx: &Ctx) -> Outcome {
    if let Some(m) = ctx.host.cgroup_v1.get("blkio") {
        if !m.join("blkio.weight").exists() {
            skip!("the blkio controller has no blkio.weight on this kernel (no CFQ/BFQ weight interface)");
        }
    }
    resource(
        ctx,
        "blkio",
        json!({"blockIO": {"weight": 500}}),
        &[("blkio.weight", "500")],
        &[("io.bfq.weight", "default 500")],
    )
}

/// major:minor of a block device on the host (the first disk).
fn some_block_device() -> Option<(u64, u64)> {
    let entries = std::fs::read_dir("/sys/block").ok()?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("loop") || name.starts_with("ram") {
            continue;
        }
        let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
        let (maj, min) = dev.trim().split_once(':')?;
        return Some((maj.parse().ok()?, min.parse().ok()?));
    }
    None
}

fn blkio_throttle(ctx: &Ctx) -> Outcome {
    let Some((major, minor)) = some_block_device() else {
        skip!("no block device on this host to throttle");
    };
    let want = format!("{major}:{minor} 1048576");
    let want_v2 = format!("{major}:{minor} rbps=1048576 wbps=max riops=max wiops=max");
    resource(
        ctx,
        "blkio",
        json!({"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}]}}),
        &[("blkio.throttle.read_bps_device", want.as_str())],
        &[("io.max", want_v2.as_str())],
    )
}

fn hugepages(ctx: &Ctx) -> Outcome {
    if !std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        skip!("no 2MB huge pages on this host");
    }
    resource(
        ctx,
        "hugetlb",
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MIB}]}),
        &[("hugetlb.2MB.limit_in_bytes", "4194304")],
        &[("hugetlb.2MB.max", "4194304")],
    )
}

fn network(ctx: &Ctx) -> Outcome {
    if !ctx.host.has_controller("net_cls") && !ctx.host.has_controller("net_prio") {
        skip!("no net_cls/net_prio cgroup controller on this host");
    }
    resource(
        ctx,
        "net_cls",
        json!({"network": {"classID": 1048577}}),
        &[("net_cls.classid", "1048577")],
        &[],
    )
}

fn rdma(ctx: &Ctx) -> Outcome {
    if !ctx.host.has_controller("rdma") {
        skip!("no rdma cgroup controller on this host");
    }
    skip!("no RDMA device on this host to limit");
}

fn unified(ctx: &Ctx) -> Outcome {
    if !ctx.host.cgroup_v1.is_empty() {
        skip!("linux.resources.unified needs a pure cgroup v2 host (this one has v1 controllers)");
    }
    resource(
        ctx,
        "pids",
        json!({"unified": {"pids.max": "42"}}),
        &[],
        &[("pids.max", "42")],
    )
}

/// The device cgroup: a fuse node (10:229, not one of the default devices
/// runtimes always allow) exists; the allow list decides whether it opens.
fn device_access(ctx: &Ctx, allow: bool) -> Outcome {
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    if allow {
        rules.push(json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}));
    }
    device_rules(ctx, rules, allow)
}

/// Entries apply in order: a later deny overrides an earlier allow.
fn devices_order(ctx: &Ctx) -> Outcome {
    let rules = vec![
        json!({"allow": false, "access": "rwm"}),
        json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}),
        json!({"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rw"}),
    ];
    device_rules(ctx, rules, false)
}

fn device_rules(ctx: &Ctx, rules: Vec<Value>, allow: bool) -> Outcome {
    if !std::path::Path::new("/dev/fuse").exists() {
        skip!("no /dev/fuse on this host (the device used for the allow list test)");
    }
    let (mut b, id) = bundle_in_cgroup(ctx, json!({}))?;
    b.config["linux"]["devices"] = json!([{"path": "/dev/oci-fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}]);
    b.config["linux"]["resources"]["devices"] = json!(rules);
    b.checker(&["open", "/dev/oci-fuse"]);
    b.write_config()?;
    let _guard = ctx.guard(id.clone());
    let bundle = b.path().display().to_string();
    let inv = ctx.rt.invoke(&["run", "--bundle", &bundle, &id])?;
    check!(inv.success(), "run failed: {}", inv.describe());
    let out = crate::context::parse_json("checker output", &inv.stdout)?;
    if allow {
        check!(out["ok"] == true, "opening an allowed device failed: {out}");
    } else {
        check!(
            out["errno"] == libc::EPERM,
            "opening a denied device: {out} (want EPERM)"
        );
    }
    Ok(Verdict::Pass)
}

fn devices_deny(ctx: &Ctx) -> Outcome {
    device_access(ctx, false)
}

fn devices_allow(ctx: &Ctx) -> Outcome {
    device_access(ctx, true)
}
