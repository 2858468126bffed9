//! runtime.md: state, lifecycle, operations and their errors; kill signals.

use crate::context::{wait_for_file, Ctx};
use crate::harness::{Outcome, Verdict};
use crate::{cases, check};
use serde_json::json;

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "runtime/state/created" => state_created,
        "runtime/state/running" => state_running,
        "runtime/state/stopped" => state_stopped,
        "runtime/state/annotations" => state_annotations,
        "runtime/state/pid-is-container-process" => state_pid,
        "runtime/state/unknown-id-error" => state_unknown,
        "runtime/lifecycle/create-does-not-run-process" => create_not_run,
        "runtime/lifecycle/start-runs-process" => start_runs,
        "runtime/lifecycle/namespaces-exist-after-create" => ns_after_create,
        "runtime/create/duplicate-id-error" => create_duplicate,
        "runtime/create/missing-config-error" => create_missing_config,
        "runtime/create/invalid-config-error" => create_invalid_json,
        "runtime/start/twice-error" => start_twice,
        "runtime/start/stopped-error" => start_stopped,
        "runtime/start/unknown-id-error" => start_unknown,
        "runtime/start/args-not-executable-error" => start_bad_exec,
        "runtime/delete/running-error" => delete_running,
        "runtime/delete/created-error" => delete_created,
        "runtime/delete/stopped" => delete_stopped,
        "runtime/delete/unknown-id-error" => delete_unknown,
        "runtime/delete/keeps-bundle" => delete_keeps_bundle,
        "runtime/kill/created" => kill_created,
        "runtime/kill/stopped-error" => kill_stopped,
        "runtime/kill/unknown-id-error" => kill_unknown,
        "runtime/kill/sigkill-stops" => kill_sigkill,
        "runtime/kill/signal-sigterm" => kill_term,
        "runtime/kill/signal-name-without-prefix" => kill_usr1_short,
        "runtime/kill/signal-name-with-prefix" => kill_usr2_long,
        "runtime/kill/signal-number" => kill_number,
    ]
}

fn sleeper(ctx: &Ctx) -> Result<crate::bundle::Bundle, crate::harness::Failure> {
    let mut b = ctx.bundle()?;
    b.set_args(&["/bin/sleep", "100000"]);
    Ok(b)
}

fn state_created(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.create_ok(&b)?;
    let st = c.state()?;
    check!(
        st["status"] == "created",
        "status {} after create",
        st["status"]
    );
    check!(
        st["id"] == c.id.as_str(),
        "state id {} != {}",
        st["id"],
        c.id
    );
    check!(
        st["pid"].as_i64().unwrap_or(0) > 0,
        "no positive pid in state of a created container: {st}"
    );
    check!(
        st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "state has no ociVersion: {st}"
    );
    let bundle = st["bundle"].as_str().unwrap_or("");
    check!(
        bundle.starts_with('/'),
        "state bundle {bundle:?} is not absolute"
    );
    let same = std::fs::canonicalize(bundle).ok() == std::fs::canonicalize(b.path()).ok();
    check!(
        same,
        "state bundle {bundle:?} is not {}",
        b.path().display()
    );
    Ok(Verdict::Pass)
}

fn state_running(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.start_ok(&b)?;
    let status = c.status()?;
    check!(
        status == "running",
        "status {status:?} after start of a sleeping process"
    );
    Ok(Verdict::Pass)
}

fn state_stopped(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&["exit", "0"]);
    let c = ctx.start_ok(&b)?;
    c.wait_stopped()?;
    Ok(Verdict::Pass)
}

fn state_annotations(ctx: &Ctx) -> Outcome {
    let mut b = sleeper(ctx)?;
    let ann = json!({"org.opencontainers.conformance": "yes", "com.example.key": "value"});
    b.config["annotations"] = ann.clone();
    let c = ctx.create_ok(&b)?;
    let st = c.state()?;
    check!(
        st["annotations"] == ann,
        "state annotations {} != {ann}",
        st["annotations"]
    );
    Ok(Verdict::Pass)
}

fn state_pid(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.start_ok(&b)?;
    let pid = c.pid()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    check!(
        cmdline.trim() == "/bin/sleep 100000",
        "state pid {pid} runs {cmdline:?}, not the container process"
    );
    Ok(Verdict::Pass)
}

fn state_unknown(ctx: &Ctx) -> Outcome {
    let inv = ctx.rt.invoke(&["state", &ctx.new_id()])?;
    check!(
        !inv.success(),
        "state of an unknown id succeeded: {}",
        inv.stdout
    );
    Ok(Verdict::Pass)
}

fn marker_bundle(
    ctx: &Ctx,
) -> Result<(crate::bundle::Bundle, std::path::PathBuf), crate::harness::Failure> {
    let mut b = ctx.bundle()?;
    let dir = b.share();
    b.shell("touch /shared/ran; sleep 100000");
    Ok((b, dir.join("ran")))
}

fn create_not_run(ctx: &Ctx) -> Outcome {
    let (b, marker) = marker_bundle(ctx)?;
    let c = ctx.create_ok(&b)?;
    // Give a wrongly early process every chance to show itself: state
    // round-trips take a few ms each.
    for _ in 0..20 {
        c.state()?;
    }
    check!(!marker.exists(), "the user process ran before start");
    Ok(Verdict::Pass)
}

fn start_runs(ctx: &Ctx) -> Outcome {
    let (b, marker) = marker_bundle(ctx)?;
    let c = ctx.start_ok(&b)?;
    wait_for_file(&marker)?;
    drop(c);
    Ok(Verdict::Pass)
}

fn ns_after_create(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.create_ok(&b)?;
    let pid = c.pid()?;
    let ns = crate::host::namespaces_of(&pid.to_string());
    for kind in ["uts", "ipc", "net", "mnt", "pid"] {
        let mine = ctx.host.ns.get(kind);
        check!(
            ns.contains_key(kind) && ns.get(kind) != mine,
            "after create, pid {pid} is still in the runtime's {kind} namespace"
        );
    }
    Ok(Verdict::Pass)
}

fn create_duplicate(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.create_ok(&b)?;
    let b2 = sleeper(ctx)?;
    let (c2, inv) = ctx.create_as(&b2, c.id.clone(), &[])?;
    // c2 guards the same id as c; keep only one guard alive.
    std::mem::forget(c2);
    check!(!inv.success(), "a second create with the same id succeeded");
    let st = c.state()?;
    check!(
        st["status"] == "created",
        "the first container changed to {}",
        st["status"]
    );
    let same = std::fs::canonicalize(st["bundle"].as_str().unwrap_or("")).ok()
        == std::fs::canonicalize(b.path()).ok();
    check!(
        same,
        "the first container's bundle changed to {}",
        st["bundle"]
    );
    Ok(Verdict::Pass)
}

fn create_missing_config(ctx: &Ctx) -> Outcome {
    let b = ctx.bundle()?;
    let id = ctx.new_id();
    let _guard = ctx.guard(id.clone());
    let bundle = b.path().display().to_string();
    let inv = ctx.rt.invoke(&["create", "--bundle", &bundle, &id])?;
    check!(!inv.success(), "create without config.json succeeded");
    let st = ctx.rt.invoke(&["state", &id])?;
    check!(
        !st.success(),
        "a failed create left a container: {}",
        st.stdout
    );
    Ok(Verdict::Pass)
}

fn create_invalid_json(ctx: &Ctx) -> Outcome {
    let b = ctx.bundle()?;
    b.write_raw_config("{\"ociVersion\": \"1.0.2\", \"process\": ")?;
    let id = ctx.new_id();
    let _guard = ctx.guard(id.clone());
    let bundle = b.path().display().to_string();
    let inv = ctx.rt.invoke(&["create", "--bundle", &bundle, &id])?;
    check!(
        !inv.success(),
        "create with a truncated config.json succeeded"
    );
    let st = ctx.rt.invoke(&["state", &id])?;
    check!(
        !st.success(),
        "a failed create left a container: {}",
        st.stdout
    );
    Ok(Verdict::Pass)
}

fn start_twice(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.start_ok(&b)?;
    let inv = c.start()?;
    check!(!inv.success(), "a second start succeeded");
    check!(
        c.status()? == "running",
        "the second start changed the container"
    );
    Ok(Verdict::Pass)
}

fn start_stopped(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&["exit", "0"]);
    let c = ctx.start_ok(&b)?;
    c.wait_stopped()?;
    let inv = c.start()?;
    check!(!inv.success(), "start of a stopped container succeeded");
    Ok(Verdict::Pass)
}

fn start_unknown(ctx: &Ctx) -> Outcome {
    let inv = ctx.rt.invoke(&["start", &ctx.new_id()])?;
    check!(!inv.success(), "start of an unknown id succeeded");
    Ok(Verdict::Pass)
}

fn start_bad_exec(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.set_args(&["/does/not/exist"]);
    let (c, inv) = ctx.create(&b)?;
    if !inv.success() {
        return Ok(Verdict::Pass);
    }
    let inv = c.start()?;
    check!(
        !inv.success(),
        "create and start of a missing executable both succeeded"
    );
    Ok(Verdict::Pass)
}

fn delete_running(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.start_ok(&b)?;
    let inv = c.delete()?;
    check!(!inv.success(), "delete of a running container succeeded");
    check!(
        c.status()? == "running",
        "delete changed the running container"
    );
    Ok(Verdict::Pass)
}

fn delete_created(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.create_ok(&b)?;
    let inv = c.delete()?;
    check!(
        !inv.success(),
        "delete of a created (not stopped) container succeeded"
    );
    check!(
        c.status()? == "created",
        "delete changed the created container"
    );
    Ok(Verdict::Pass)
}

fn delete_stopped(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&["exit", "0"]);
    let c = ctx.start_ok(&b)?;
    c.wait_stopped()?;
    let inv = c.delete()?;
    check!(
        inv.success(),
        "delete of a stopped container failed: {}",
        inv.describe()
    );
    let st = c.state_raw()?;
    check!(
        !st.success(),
        "state still works after delete: {}",
        st.stdout
    );
    Ok(Verdict::Pass)
}

fn delete_unknown(ctx: &Ctx) -> Outcome {
    let inv = ctx.rt.invoke(&["delete", &ctx.new_id()])?;
    check!(!inv.success(), "delete of an unknown id succeeded");
    Ok(Verdict::Pass)
}

fn kill_created(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.create_ok(&b)?;
    let inv = c.kill("KILL")?;
    check!(
        inv.success(),
        "kill of a created container failed: {}",
        inv.describe()
    );
    c.wait_stopped()?;
    Ok(Verdict::Pass)
}

fn kill_stopped(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&["exit", "0"]);
    let c = ctx.start_ok(&b)?;
    c.wait_stopped()?;
    let inv = c.kill("KILL")?;
    check!(!inv.success(), "kill of a stopped container succeeded");
    Ok(Verdict::Pass)
}

fn kill_unknown(ctx: &Ctx) -> Outcome {
    let inv = ctx.rt.invoke(&["kill", &ctx.new_id(), "KILL"])?;
    check!(!inv.success(), "kill of an unknown id succeeded");
    Ok(Verdict::Pass)
}

fn kill_sigkill(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.start_ok(&b)?;
    let inv = c.kill("KILL")?;
    check!(inv.success(), "kill KILL failed: {}", inv.describe());
    c.wait_stopped()?;
    Ok(Verdict::Pass)
}

/// Start a checker that waits for signals, send `signal`, expect `number`.
fn signal_roundtrip(ctx: &Ctx, signal: &str, number: i32) -> Outcome {
    let mut b = ctx.bundle()?;
    let shared = b.share();
    b.checker(&["sigwait", "/shared/ready", "/shared/result"]);
    let c = ctx.start_ok(&b)?;
    wait_for_file(&shared.join("ready"))?;
    let inv = c.kill(signal)?;
    check!(inv.success(), "kill {signal} failed: {}", inv.describe());
    let result = shared.join("result");
    wait_for_file(&result)?;
    c.wait_stopped()?;
    let got = std::fs::read_to_string(&result).unwrap_or_default();
    check!(
        got.trim() == number.to_string(),
        "kill {signal}: the process received signal {} instead of {number}",
        got.trim()
    );
    Ok(Verdict::Pass)
}

fn kill_term(ctx: &Ctx) -> Outcome {
    signal_roundtrip(ctx, "TERM", libc::SIGTERM)
}

fn kill_usr1_short(ctx: &Ctx) -> Outcome {
    signal_roundtrip(ctx, "USR1", libc::SIGUSR1)
}

fn kill_usr2_long(ctx: &Ctx) -> Outcome {
    signal_roundtrip(ctx, "SIGUSR2", libc::SIGUSR2)
}

fn kill_number(ctx: &Ctx) -> Outcome {
    signal_roundtrip(ctx, "10", libc::SIGUSR1)
}

/// delete removes what create made, and nothing the container did not
/// create: the bundle, its rootfs and bind-mount sources stay.
fn delete_keeps_bundle(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let shared = b.share();
    std::fs::write(shared.join("keep"), "x").map_err(|source| crate::harness::Failure::Io {
        what: "write shared/keep".into(),
        source,
    })?;
    b.checker(&["exit", "0"]);
    let c = ctx.start_ok(&b)?;
    c.wait_stopped()?;
    let inv = c.delete()?;
    check!(inv.success(), "delete failed: {}", inv.describe());
    for p in [
        b.path().join("config.json"),
        b.rootfs().join("bin/busybox"),
        shared.join("keep"),
    ] {
        check!(p.exists(), "delete removed {}", p.display());
    }
    Ok(Verdict::Pass)
}
