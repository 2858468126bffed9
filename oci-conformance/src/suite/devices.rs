//! config-linux.md: devices (created nodes, default devices).

use crate::context::Ctx;
use crate::harness::{Failure, Outcome, Verdict};
use crate::{cases, check};
use serde_json::json;

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "config-linux/devices/default-devices" => default_devices,
        "config-linux/devices/char" => char_device,
        "config-linux/devices/block" => block_device,
        "config-linux/devices/fifo" => fifo_device,
        "config-linux/devices/outside-dev" => outside_dev,
        "config-linux/devices/existing-file-mismatch-error" => mismatch,
    ]
}

fn default_devices(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let want = [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ];
    let mut args = vec!["stat", "/dev/ptmx"];
    args.extend(want.iter().map(|(p, _, _)| *p));
    b.checker(&args);
    let out = ctx.run_checker(&b)?;
    for (p, major, minor) in want {
        let s = &out[p];
        check!(
            s["type"] == "char" && s["major"] == major && s["minor"] == minor,
            "{p}: {s} (want char {major}:{minor})"
        );
    }
    let ptmx = &out["/dev/ptmx"];
    let ok = (ptmx["type"] == "symlink"
        && (ptmx["link"] == "pts/ptmx" || ptmx["link"] == "/dev/pts/ptmx"))
        || (ptmx["type"] == "char" && ptmx["major"] == 5 && ptmx["minor"] == 2);
    check!(
        ok,
        "/dev/ptmx: {ptmx} (want a link to pts/ptmx or the pts ptmx node)"
    );
    Ok(Verdict::Pass)
}

fn device(ctx: &Ctx, dev: serde_json::Value, kind: &str) -> Outcome {
    let mut b = ctx.bundle()?;
    let path = dev["path"].as_str().unwrap_or("").to_string();
    b.config["linux"]["devices"] = json!([dev.clone()]);
    b.checker(&["stat", &path]);
    let out = ctx.run_checker(&b)?;
    let s = &out[&path];
    check!(s["type"] == kind, "{path}: {s} (want {kind})");
    if kind != "fifo" {
        check!(
            s["major"] == dev["major"] && s["minor"] == dev["minor"],
            "{path}: {s} numbers differ from {dev}"
        );
    }
    if let Some(mode) = dev["fileMode"].as_u64() {
        check!(
            s["mode"] == mode,
            "{path}: mode {:o} != {mode:o}",
            s["mode"].as_u64().unwrap_or(0)
        );
    }
    for k in ["uid", "gid"] {
        if !dev[k].is_null() {
            check!(s[k] == dev[k], "{path}: {k} {} != {}", s[k], dev[k]);
        }
    }
    Ok(Verdict::Pass)
}

fn char_device(ctx: &Ctx) -> Outcome {
    device(
        ctx,
        json!({"path": "/dev/oci-null", "type": "c", "major": 1, "minor": 3,
        "fileMode": 0o640, "uid": 1, "gid": 2}),
        "char",
    )
}

fn block_device(ctx: &Ctx) -> Outcome {
    device(
        ctx,
        json!({"path": "/dev/oci-loop", "type": "b", "major": 7, "minor": 100,
        "fileMode": 0o600, "uid": 0, "gid": 0}),
        "block",
    )
}

fn fifo_device(ctx: &Ctx) -> Outcome {
    device(
        ctx,
        json!({"path": "/dev/oci-fifo", "type": "p", "fileMode": 0o620}),
        "fifo",
    )
}

fn outside_dev(ctx: &Ctx) -> Outcome {
    device(
        ctx,
        json!({"path": "/opt/devices/zero", "type": "c", "major": 1, "minor": 5,
        "fileMode": 0o666}),
        "char",
    )
}

fn mismatch(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let f = b.rootfs().join("etc/not-a-device");
    std::fs::write(&f, "regular file\n").map_err(|source| Failure::Io {
        what: format!("write {}", f.display()),
        source,
    })?;
    b.config["linux"]["devices"] = json!([{"path": "/etc/not-a-device", "type": "c",
        "major": 1, "minor": 3}]);
    let inv = ctx.run(&b)?;
    check!(
        !inv.success(),
        "a device over an existing regular file was accepted"
    );
    Ok(Verdict::Pass)
}
