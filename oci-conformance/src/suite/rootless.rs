//! Rootless (config-linux.md, user namespace mappings; runc's `spec --rootless` shape): the
//! runtime run by an unprivileged user, made for the test with subordinate ids, on a bundle of
//! theirs, with its state under their XDG_RUNTIME_DIR. uid 0 inside is the user outside, more
//! ids come from /etc/subuid through newuidmap, and the lifecycle works as the user.

use crate::bundle::Bundle;
use crate::context::{parse_json, Ctx};
use crate::harness::{Failure, Outcome, Verdict};
use crate::test_user::{TestUser, SUB_START};
use crate::{cases, check};
use serde_json::{json, Value};
use std::process::Output;

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "rootless/uid-0-is-the-user" => uid_0_is_the_user,
        "rootless/subordinate-ids" => subordinate_ids,
        "rootless/lifecycle" => lifecycle,
    ]
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |source| Failure::Io {
        what: what.to_string(),
        source,
    }
}

/// A bundle in runc's rootless shape (no network namespace, a user namespace mapping the user
/// to root, sysfs bound, no cgroup mount, no devpts gid, no resources), owned by `user`.
fn rootless_bundle(ctx: &Ctx, user: &TestUser) -> Result<Bundle, Failure> {
    let mut b = ctx.bundle()?;
    let c = &mut b.config;
    if let Some(ns) = c["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "user"}));
    }
    c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": user.uid, "size": 1}]);
    c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": user.gid, "size": 1}]);
    if let Some(l) = c["linux"].as_object_mut() {
        l.remove("resources");
    }
    if let Some(mounts) = c["mounts"].as_array_mut() {
        mounts.retain(|m| m["type"] != "cgroup");
        for m in mounts.iter_mut() {
            if m["type"] == "sysfs" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
    Ok(b)
}

/// Write the config and hand the bundle (and the dirs above it) to the user.
fn prepare(b: &Bundle, user: &TestUser) -> Result<(), Failure> {
    b.write_config()?;
    user.chown(b.path()).map_err(io("chown the bundle"))?;
    // The scratch dirs above are root's: the user needs to pass through them.
    let mut p = b.path().parent();
    while let Some(dir) = p {
        if dir == std::path::Path::new("/tmp") || dir.as_os_str().is_empty() {
            break;
        }
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(dir, mode).map_err(io("chmod the scratch dir"))?;
        p = dir.parent();
    }
    Ok(())
}

/// The runtime as the user: `<runtime> [global args] --root <user's runtime dir> args...`.
fn as_user(ctx: &Ctx, user: &TestUser, b: &Bundle, args: &[&str]) -> Result<Output, Failure> {
    let root = user.runtime_dir.join("oci-rt");
    let root = root.display().to_string();
    let mut all: Vec<&str> = ctx.rt.global_args.iter().map(String::as_str).collect();
    all.extend(["--root", root.as_str()]);
    all.extend(args);
    user.run(&ctx.rt.path, &all, b.path())
        .map_err(io("run the runtime as the test user"))
}

/// `run --bundle B <new id>` as the user.
fn run_as_user(ctx: &Ctx, user: &TestUser, b: &Bundle) -> Result<Output, Failure> {
    let id = ctx.new_id();
    as_user(
        ctx,
        user,
        b,
        &["run", "--bundle", &b.path().display().to_string(), &id],
    )
}

fn describe(out: &Output) -> String {
    format!(
        "{} stdout: {} stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

fn user(ctx: &Ctx) -> Result<TestUser, Failure> {
    let _ = ctx;
    TestUser::create("ocirl").map_err(io("make the test user (useradd)"))
}

fn uid_0_is_the_user(ctx: &Ctx) -> Outcome {
    let u = user(ctx)?;
    let mut b = rootless_bundle(ctx, &u)?;
    b.shell("cat /proc/self/uid_map; id -u; touch /tmp/rootless-file");
    prepare(&b, &u)?;
    let out = run_as_user(ctx, &u, &b)?;
    check!(out.status.success(), "run as the user: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let map: Vec<&str> = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    check!(
        map == ["0", &u.uid.to_string(), "1"],
        "uid_map inside: {text}"
    );
    check!(text.lines().nth(1) == Some("0"), "id -u inside: {text}");
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(b.rootfs().join("tmp/rootless-file"))
        .map_err(io("stat the file made inside"))?;
    check!(
        (m.uid(), m.gid()) == (u.uid, u.gid),
        "the file root made inside is owned by {}:{} on the host, not the user's {}:{}",
        m.uid(),
        m.gid(),
        u.uid,
        u.gid
    );
    Ok(Verdict::Pass)
}

fn subordinate_ids(ctx: &Ctx) -> Outcome {
    let u = user(ctx)?;
    let mut b = rootless_bundle(ctx, &u)?;
    for (key, own) in [("uidMappings", u.uid), ("gidMappings", u.gid)] {
        b.config["linux"][key] = json!([
            {"containerID": 0, "hostID": own, "size": 1},
            {"containerID": 1, "hostID": SUB_START, "size": 65536}]);
    }
    for set in ["bounding", "effective", "permitted"] {
        if let Some(caps) = b.config["process"]["capabilities"][set].as_array_mut() {
            caps.push(json!("CAP_CHOWN"));
        }
    }
    b.shell("touch /tmp/sub && chown 1000:1000 /tmp/sub && wc -l < /proc/self/uid_map");
    prepare(&b, &u)?;
    let out = run_as_user(ctx, &u, &b)?;
    check!(
        out.status.success(),
        "run with subordinate ids: {}",
        describe(&out)
    );
    check!(
        String::from_utf8_lossy(&out.stdout).trim() == "2",
        "uid_map lines: {}",
        describe(&out)
    );
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(b.rootfs().join("tmp/sub")).map_err(io("stat /tmp/sub"))?;
    let want = SUB_START + 999;
    check!(
        (m.uid(), m.gid()) == (want, want),
        "uid 1000 inside is {}:{} on the host (want {want}:{want})",
        m.uid(),
        m.gid()
    );
    Ok(Verdict::Pass)
}

fn state_of(ctx: &Ctx, u: &TestUser, b: &Bundle, id: &str) -> Result<Value, Failure> {
    let out = as_user(ctx, u, b, &["state", id])?;
    check!(out.status.success(), "state: {}", describe(&out));
    parse_json("state", &String::from_utf8_lossy(&out.stdout))
}

fn lifecycle(ctx: &Ctx) -> Outcome {
    let u = user(ctx)?;
    let mut b = rootless_bundle(ctx, &u)?;
    b.set_args(&["/bin/sleep", "1000"]);
    prepare(&b, &u)?;
    let id = ctx.new_id();
    let bundle = b.path().display().to_string();
    let out = as_user(ctx, &u, &b, &["create", "--bundle", &bundle, &id])?;
    check!(out.status.success(), "create: {}", describe(&out));
    let st = state_of(ctx, &u, &b, &id)?;
    check!(st["status"] == "created", "after create: {st}");
    let out = as_user(ctx, &u, &b, &["start", &id])?;
    check!(out.status.success(), "start: {}", describe(&out));
    let st = state_of(ctx, &u, &b, &id)?;
    check!(st["status"] == "running", "after start: {st}");
    let out = as_user(ctx, &u, &b, &["exec", &id, "/bin/sh", "-c", "id -u"])?;
    check!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0",
        "exec: {}",
        describe(&out)
    );
    let out = as_user(ctx, &u, &b, &["kill", &id, "KILL"])?;
    check!(out.status.success(), "kill: {}", describe(&out));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let st = state_of(ctx, &u, &b, &id)?;
        if st["status"] == "stopped" {
            break;
        }
        check!(
            std::time::Instant::now() < deadline,
            "not stopped after kill: {st}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = as_user(ctx, &u, &b, &["delete", &id])?;
    check!(out.status.success(), "delete: {}", describe(&out));
    let out = as_user(ctx, &u, &b, &["state", &id])?;
    check!(
        !out.status.success(),
        "state after delete succeeded: {}",
        describe(&out)
    );
    Ok(Verdict::Pass)
}
