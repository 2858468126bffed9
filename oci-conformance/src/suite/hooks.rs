//! config.md hooks and runtime.md lifecycle steps that run them: order,
//! state on stdin, namespaces, failures, timeouts.

use crate::bundle::Bundle;
use crate::context::{parse_json, wait_for_file, Ctx};
use crate::harness::{Failure, Outcome, Verdict};
use crate::{cases, check};
use serde_json::{json, Value};
use std::path::PathBuf;

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "config/hooks/order" => order,
        "config/hooks/state/prestart" => state_prestart,
        "config/hooks/state/createRuntime" => state_create_runtime,
        "config/hooks/state/createContainer" => state_create_container,
        "config/hooks/state/startContainer" => state_start_container,
        "config/hooks/state/poststart" => state_poststart,
        "config/hooks/state/poststop" => state_poststop,
        "config/hooks/path-args-env" => args_env,
        "config/hooks/same-kind-in-order" => same_kind_order,
        "config/hooks/createRuntime-runtime-namespace" => create_runtime_ns,
        "config/hooks/createContainer-container-namespace" => create_container_ns,
        "config/hooks/startContainer-container-namespace" => start_container_ns,
        "config/hooks/prestart-failure-error" => prestart_fails,
        "config/hooks/createRuntime-failure-error" => create_runtime_fails,
        "config/hooks/createContainer-failure-error" => create_container_fails,
        "config/hooks/startContainer-failure-error" => start_container_fails,
        "config/hooks/startContainer-process-env" => start_container_env,
        "config/hooks/poststart-failure-continues" => poststart_fails,
        "config/hooks/poststop-failure-continues" => poststop_fails,
        "config/hooks/timeout" => timeout,
        "config/hooks/stdin-not-read" => stdin_not_read,
    ]
}

const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A bundle whose hook log directory is bind-mounted at the same path inside
/// the container, so a hook writes to it from either mount namespace.
fn hook_bundle(ctx: &Ctx) -> Result<(Bundle, PathBuf), Failure> {
    let mut b = ctx.bundle()?;
    let log = b.shared_dir();
    let p = log.display().to_string();
    b.add_mount(json!({"destination": p, "type": "bind", "source": p, "options": ["rbind", "rw"]}));
    b.set_args(&["/bin/sleep", "100000"]);
    Ok((b, log))
}

/// A `sh -c` hook that first consumes the state on its stdin (a hook that
/// does not is tested on its own in `stdin-not-read`).
fn sh_hook(script: &str) -> Value {
    let script = if script.starts_with("cat ") {
        script.to_string()
    } else {
        format!("cat > /dev/null; {script}")
    };
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

fn sh_hook_ignoring_stdin(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

fn add_hook(b: &mut Bundle, kind: &str, hook: Value) {
    if b.config["hooks"].is_null() {
        b.config["hooks"] = json!({});
    }
    if b.config["hooks"][kind].is_null() {
        b.config["hooks"][kind] = json!([]);
    }
    if let Some(list) = b.config["hooks"][kind].as_array_mut() {
        list.push(hook);
    }
}

fn read_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn order(ctx: &Ctx) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let file = log.join("order");
    for kind in KINDS {
        add_hook(
            &mut b,
            kind,
            sh_hook(&format!("echo {kind} >> {}", file.display())),
        );
    }
    let c = ctx.create_ok(&b)?;
    let after_create = read_lines(&file);
    check!(
        after_create == ["prestart", "createRuntime", "createContainer"],
        "hooks run by create: {after_create:?}"
    );
    let inv = c.start()?;
    check!(inv.success(), "start failed: {}", inv.describe());
    let after_start = read_lines(&file);
    check!(
        after_start[3..] == ["startContainer", "poststart"],
        "hooks run by start (before it returned): {:?}",
        &after_start[3..]
    );
    let inv = c.kill("KILL")?;
    check!(inv.success(), "kill failed: {}", inv.describe());
    c.wait_stopped()?;
    let inv = c.delete()?;
    check!(inv.success(), "delete failed: {}", inv.describe());
    let all = read_lines(&file);
    check!(
        all[5..] == ["poststop"],
        "hooks run by delete: {:?}",
        &all[5..]
    );
    Ok(Verdict::Pass)
}

/// Run the whole lifecycle with a hook of `kind` saving its stdin, then
/// check the state it got.
fn hook_state(ctx: &Ctx, kind: &str, status: &str) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let file = log.join(format!("{kind}.json"));
    add_hook(&mut b, kind, sh_hook(&format!("cat > {}", file.display())));
    let c = ctx.create_ok(&b)?;
    let inv = c.start()?;
    check!(inv.success(), "start failed: {}", inv.describe());
    c.kill("KILL")?;
    c.wait_stopped()?;
    let inv = c.delete()?;
    check!(inv.success(), "delete failed: {}", inv.describe());
    wait_for_file(&file)?;
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let st = parse_json("hook stdin", &text)?;
    check!(
        st["id"] == c.id.as_str(),
        "{kind} state id {} != {}",
        st["id"],
        c.id
    );
    check!(
        st["ociVersion"].is_string(),
        "{kind} state has no ociVersion: {st}"
    );
    let same = std::fs::canonicalize(st["bundle"].as_str().unwrap_or("")).ok()
        == std::fs::canonicalize(b.path()).ok();
    check!(
        same,
        "{kind} state bundle {} is not the bundle",
        st["bundle"]
    );
    check!(
        st["status"] == status,
        "{kind} state status {} (want {status})",
        st["status"]
    );
    if kind != "poststop" {
        check!(
            st["pid"].as_i64().unwrap_or(0) > 0,
            "{kind} state has no pid: {st}"
        );
    }
    Ok(Verdict::Pass)
}

fn state_prestart(ctx: &Ctx) -> Outcome {
    hook_state(ctx, "prestart", "creating")
}
fn state_create_runtime(ctx: &Ctx) -> Outcome {
    hook_state(ctx, "createRuntime", "creating")
}
fn state_create_container(ctx: &Ctx) -> Outcome {
    hook_state(ctx, "createContainer", "creating")
}
fn state_start_container(ctx: &Ctx) -> Outcome {
    hook_state(ctx, "startContainer", "created")
}
fn state_poststart(ctx: &Ctx) -> Outcome {
    hook_state(ctx, "poststart", "running")
}
fn state_poststop(ctx: &Ctx) -> Outcome {
    hook_state(ctx, "poststop", "stopped")
}

fn args_env(ctx: &Ctx) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let file = log.join("args");
    add_hook(
        &mut b,
        "createRuntime",
        json!({"path": "/bin/sh",
               "args": ["sh", "-c", format!("cat > /dev/null; echo \"$0|$1|$HOOKVAR\" > {}", file.display()), "zero", "one"],
               "env": ["HOOKVAR=from-config"]}),
    );
    let _c = ctx.create_ok(&b)?;
    let got = std::fs::read_to_string(&file).unwrap_or_default();
    check!(
        got.trim() == "zero|one|from-config",
        "hook saw args/env {got:?}"
    );
    Ok(Verdict::Pass)
}

fn same_kind_order(ctx: &Ctx) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let file = log.join("order");
    for n in 1..=4 {
        add_hook(
            &mut b,
            "createRuntime",
            sh_hook(&format!("echo {n} >> {}", file.display())),
        );
    }
    let _c = ctx.create_ok(&b)?;
    let got = read_lines(&file);
    check!(
        got == ["1", "2", "3", "4"],
        "createRuntime hooks ran as {got:?}"
    );
    Ok(Verdict::Pass)
}

fn ns_hook(ctx: &Ctx, kind: &str) -> Result<(Value, i64), Failure> {
    let (mut b, log) = hook_bundle(ctx)?;
    let file = log.join("ns");
    add_hook(
        &mut b,
        kind,
        sh_hook(&format!(
            "echo \"{{\\\"mnt\\\": \\\"$(readlink /proc/self/ns/mnt)\\\", \\\"uts\\\": \\\"$(readlink /proc/self/ns/uts)\\\"}}\" > {}",
            file.display()
        )),
    );
    let c = ctx.create_ok(&b)?;
    let pid = c.pid()?;
    let v = parse_json(
        "hook output",
        &std::fs::read_to_string(&file).unwrap_or_default(),
    )?;
    // Keep the container alive until its namespaces have been compared.
    let ns = crate::host::namespaces_of(&pid.to_string());
    drop(c);
    Ok((json!({"hook": v, "container": ns}), pid))
}

fn create_runtime_ns(ctx: &Ctx) -> Outcome {
    let (v, _) = ns_hook(ctx, "createRuntime")?;
    for k in ["mnt", "uts"] {
        let host = ctx.host.ns.get(k).cloned().unwrap_or_default();
        check!(
            v["hook"][k] == host.as_str(),
            "createRuntime hook {k} namespace {} is not the runtime's {host}",
            v["hook"][k]
        );
    }
    Ok(Verdict::Pass)
}

fn create_container_ns(ctx: &Ctx) -> Outcome {
    let (v, _) = ns_hook(ctx, "createContainer")?;
    for k in ["mnt", "uts"] {
        check!(
            v["hook"][k] == v["container"][k],
            "createContainer hook {k} namespace {} is not the container's {}",
            v["hook"][k],
            v["container"][k]
        );
    }
    Ok(Verdict::Pass)
}

fn start_container_ns(ctx: &Ctx) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let file = log.join("start");
    // This path exists only in the container's rootfs: startContainer hooks'
    // paths resolve in the container namespace.
    let script = b.rootfs().join("bin/oci-hook");
    let text = format!("#!/bin/sh\nhostname > {}\n", file.display());
    std::fs::write(&script, text).map_err(|source| Failure::Io {
        what: format!("write {}", script.display()),
        source,
    })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).map_err(
        |source| Failure::Io {
            what: format!("chmod {}", script.display()),
            source,
        },
    )?;
    b.config["hostname"] = json!("hook-host");
    add_hook(&mut b, "startContainer", json!({"path": "/bin/oci-hook"}));
    let c = ctx.create_ok(&b)?;
    let inv = c.start()?;
    check!(inv.success(), "start failed: {}", inv.describe());
    wait_for_file(&file)?;
    let got = std::fs::read_to_string(&file).unwrap_or_default();
    check!(
        got.trim() == "hook-host",
        "startContainer hook saw hostname {got:?}"
    );
    Ok(Verdict::Pass)
}

/// A failing hook of `kind` must make create fail, and the process never runs.
fn create_hook_fails(ctx: &Ctx, kind: &str) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let marker = log.join("ran");
    b.shell(&format!("touch {}", marker.display()));
    add_hook(&mut b, kind, sh_hook("exit 3"));
    let (c, inv) = ctx.create(&b)?;
    check!(
        !inv.success(),
        "create succeeded although a {kind} hook failed"
    );
    let st = c.state_raw()?;
    if st.success() {
        let v = parse_json("state output", &st.stdout)?;
        check!(
            v["status"] == "stopped",
            "after a failed {kind} hook the container is {}",
            v["status"]
        );
    }
    let _ = c.start();
    check!(
        !marker.exists(),
        "the process ran although a {kind} hook failed"
    );
    Ok(Verdict::Pass)
}

fn prestart_fails(ctx: &Ctx) -> Outcome {
    create_hook_fails(ctx, "prestart")
}
fn create_runtime_fails(ctx: &Ctx) -> Outcome {
    create_hook_fails(ctx, "createRuntime")
}
fn create_container_fails(ctx: &Ctx) -> Outcome {
    create_hook_fails(ctx, "createContainer")
}

/// runtime.md lifecycle step 8: a failing startContainer hook MUST make the runtime generate
/// an error and stop the container, and the lifecycle continues at delete (so the program does
/// not run and no poststart hook runs).
fn start_container_fails(ctx: &Ctx) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let ran = log.join("program-ran");
    let poststart = log.join("poststart-ran");
    b.shell(&format!("touch {}; sleep 100000", ran.display()));
    add_hook(&mut b, "startContainer", sh_hook("exit 3"));
    add_hook(
        &mut b,
        "poststart",
        sh_hook(&format!("touch {}", poststart.display())),
    );
    let c = ctx.create_ok(&b)?;
    let inv = c.start()?;
    check!(
        !inv.success(),
        "start succeeded although a startContainer hook failed"
    );
    c.wait_stopped()?;
    check!(
        !ran.exists(),
        "the program ran after its startContainer hook failed"
    );
    check!(
        !poststart.exists(),
        "a poststart hook ran after a startContainer hook failed"
    );
    Ok(Verdict::Pass)
}

/// A startContainer hook runs in the container; without an `env` of its own it has the
/// container process's environment (what runc and youki give it).
fn start_container_env(ctx: &Ctx) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let file = log.join("start-env");
    b.config["process"]["env"] = json!(["PATH=/bin", "OCI_PROCESS_VAR=from-process"]);
    add_hook(
        &mut b,
        "startContainer",
        sh_hook(&format!("echo \"$OCI_PROCESS_VAR\" > {}", file.display())),
    );
    let c = ctx.create_ok(&b)?;
    let inv = c.start()?;
    check!(inv.success(), "start failed: {}", inv.describe());
    wait_for_file(&file)?;
    let got = std::fs::read_to_string(&file).unwrap_or_default();
    check!(
        got.trim() == "from-process",
        "the startContainer hook saw OCI_PROCESS_VAR={got:?}"
    );
    Ok(Verdict::Pass)
}

fn poststart_fails(ctx: &Ctx) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let after = log.join("after");
    add_hook(&mut b, "poststart", sh_hook("exit 3"));
    add_hook(
        &mut b,
        "poststart",
        sh_hook(&format!("touch {}", after.display())),
    );
    let c = ctx.create_ok(&b)?;
    let inv = c.start()?;
    check!(
        inv.success(),
        "start failed because a poststart hook failed: {}",
        inv.describe()
    );
    check!(
        after.exists(),
        "the poststart hook after the failing one did not run"
    );
    check!(
        c.status()? == "running",
        "the container is not running after a poststart failure"
    );
    Ok(Verdict::Pass)
}

fn poststop_fails(ctx: &Ctx) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let after = log.join("after");
    add_hook(&mut b, "poststop", sh_hook("exit 3"));
    add_hook(
        &mut b,
        "poststop",
        sh_hook(&format!("touch {}", after.display())),
    );
    let c = ctx.start_ok(&b)?;
    c.kill("KILL")?;
    c.wait_stopped()?;
    let inv = c.delete()?;
    check!(
        inv.success(),
        "delete failed because a poststop hook failed: {}",
        inv.describe()
    );
    check!(
        after.exists(),
        "the poststop hook after the failing one did not run"
    );
    Ok(Verdict::Pass)
}

fn timeout(ctx: &Ctx) -> Outcome {
    let (mut b, _log) = hook_bundle(ctx)?;
    // Long enough to outlive the 1 s timeout, short enough not to hold the
    // suite up when a runtime waits for the hook's orphaned children.
    let mut hook = sh_hook("sleep 5");
    hook["timeout"] = json!(1);
    add_hook(&mut b, "createRuntime", hook);
    let (_c, inv) = ctx.create(&b)?;
    check!(
        !inv.success(),
        "create succeeded although a hook outlived its timeout"
    );
    Ok(Verdict::Pass)
}

/// The state is written to each hook's stdin; a hook that never reads it
/// (and exits at once) must not break the operation (EPIPE/SIGPIPE).
fn stdin_not_read(ctx: &Ctx) -> Outcome {
    let (mut b, log) = hook_bundle(ctx)?;
    let file = log.join("ran");
    for kind in KINDS {
        let script = format!("echo {kind} >> {}", file.display());
        add_hook(&mut b, kind, sh_hook_ignoring_stdin(&script));
    }
    let c = ctx.create_ok(&b)?;
    let inv = c.start()?;
    check!(inv.success(), "start failed: {}", inv.describe());
    c.kill("KILL")?;
    c.wait_stopped()?;
    let inv = c.delete()?;
    check!(inv.success(), "delete failed: {}", inv.describe());
    let ran = read_lines(&file);
    check!(ran.len() == KINDS.len(), "only these hooks ran: {ran:?}");
    Ok(Verdict::Pass)
}
