//! linux.seccomp: the profile is enforced in the container's process (errno, arguments,
//! kill), with and without noNewPrivileges, and a bad profile fails `create` cleanly.

mod common;
use common::*;
use serde_json::{json, Value};

/// The docker engine's config.json fixture, whose `linux.seccomp` is docker's default profile.
/// The engines' fixtures sit in shared/, beside the checkout (as in CI).
const DOCKER_RUN_JSON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/engines/docker-run.json"
);

/// Run `script` under `profile` (with and without noNewPrivileges): (exit code, stdout, stderr).
fn run_with(profile: &Value, nnp: bool, script: &str) -> (i32, String, String) {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sh", "-c", script]);
    b.config["linux"]["seccomp"] = profile.clone();
    b.config["process"]["noNewPrivileges"] = json!(nnp);
    b.save();
    r.run_fg(&b)
}

fn allow_but(syscalls: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls})
}

#[test]
fn errno_action_blocks_only_the_listed_syscall() {
    let profile = allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]));
    for nnp in [false, true] {
        let (code, out, err) = run_with(
            &profile,
            nnp,
            "mkdir /x 2>&1; touch /y && echo touched; grep '^Seccomp:' /proc/self/status",
        );
        assert_eq!(code, 0, "nnp={nnp}: {err}");
        assert!(out.contains("Operation not permitted"), "nnp={nnp}: {out}");
        assert!(out.contains("touched"), "nnp={nnp}: {out}");
        // 2: SECCOMP_MODE_FILTER.
        assert!(out.contains("Seccomp:\t2"), "nnp={nnp}: {out}");
    }
}

#[test]
fn errno_ret_is_returned() {
    let profile = allow_but(json!([
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSPC}
    ]));
    let (code, out, err) = run_with(&profile, true, "mkdir /x 2>&1; echo done");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("No space left on device"), "{out}");
    assert!(out.contains("done"), "{out}");
}

#[test]
fn argument_conditions_select_calls() {
    // chmod(path, mode): refuse mode 0700 exactly, and any mode with the setuid bit.
    let profile = allow_but(json!([
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]},
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0o4000, "valueTwo": 0o4000, "op": "SCMP_CMP_MASKED_EQ"}]}
    ]));
    let script = "touch /f; \
        chmod 700 /f 2>/dev/null && echo c700=ok || echo c700=denied; \
        chmod 4755 /f 2>/dev/null && echo c4755=ok || echo c4755=denied; \
        chmod 755 /f 2>/dev/null && echo c755=ok || echo c755=denied";
    let (code, out, err) = run_with(&profile, false, script);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("c700=denied"), "{out}");
    assert!(out.contains("c4755=denied"), "{out}");
    assert!(out.contains("c755=ok"), "{out}");
}

#[test]
fn kill_process_action_kills_with_sigsys() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sync"]);
    b.config["linux"]["seccomp"] =
        allow_but(json!([{"names": ["sync"], "action": "SCMP_ACT_KILL_PROCESS"}]));
    b.save();
    let (code, _, err) = r.run_fg(&b);
    assert_eq!(code, 128 + libc::SIGSYS, "{err}");
}

#[test]
fn docker_default_profile_runs_a_shell() {
    let Ok(data) = std::fs::read(DOCKER_RUN_JSON) else {
        eprintln!("skipped: {DOCKER_RUN_JSON} (docker's default profile) is not on this host");
        return;
    };
    let docker: Value = serde_json::from_slice(&data).unwrap();
    let profile = docker["linux"]["seccomp"].clone();
    assert!(profile.is_object(), "no linux.seccomp in {DOCKER_RUN_JSON}");
    for nnp in [false, true] {
        let (code, out, err) = run_with(&profile, nnp, "echo ok");
        assert_eq!((code, out.trim()), (0, "ok"), "nnp={nnp}: {err}");
    }
    // The init switches user and drops capabilities under the filter.
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sh", "-c", "id -u; echo ok"]);
    b.config["linux"]["seccomp"] = profile.clone();
    b.config["process"]["user"] = json!({"uid": 65534, "gid": 65534, "additionalGids": [1]});
    b.save();
    let (code, out, err) = r.run_fg(&b);
    assert_eq!((code, out.as_str()), (0, "65534\nok\n"), "{err}");
    // So does `exec` into the container.
    let mut b = Bundle::busybox(&["sleep", "60"]);
    b.config["linux"]["seccomp"] = profile.clone();
    b.save();
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    assert_eq!(
        r.ok(&["exec", "-u", "65534", &id, "sh", "-c", "id -u"]),
        "65534\n"
    );
    // The profile refuses what it does not list: unshare (docker allows it only with
    // CAP_SYS_ADMIN, which this container does not have).
    let (code, out, _) = run_with(
        &profile,
        false,
        "unshare -m true 2>/dev/null && echo unshare=ok || echo unshare=denied",
    );
    assert_eq!((code, out.trim()), (0, "unshare=denied"));
}

#[test]
fn bad_profile_fails_create_and_leaves_nothing() {
    let cases = [
        (
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOPE"}])),
            "SCMP_ACT_NOPE",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}),
            "SCMP_ARCH_VAX",
        ),
        (
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}])),
            "SCMP_ACT_NOTIFY needs listenerPath",
        ),
    ];
    for (profile, needle) in cases {
        let r = Rrun::new();
        let mut b = Bundle::busybox(&["true"]);
        b.config["linux"]["seccomp"] = profile;
        b.save();
        let id = r.id();
        let err = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
        assert!(
            !r.root.path().join(&id).exists(),
            "state dir left behind for {needle}"
        );
    }
}

#[test]
fn exec_gets_the_container_profile() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["sleep", "60"]);
    b.config["linux"]["seccomp"] =
        allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]));
    b.save();
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let out = r.run(&["exec", &id, "sh", "-c", "mkdir /x 2>&1; echo done"]);
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("done"), "{out}");
}
