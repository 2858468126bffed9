//! config-linux.md, seccomp: SCMP_ACT_NOTIFY with `listenerPath`/`listenerMetadata` (the
//! runtime sends the container process state and the listener to the agent), and the
//! -ENOSYS answer for syscalls newer than the profile (what runc and crun do so that a newer
//! libc falls back; the spec leaves the default action to the profile, so this is checked as
//! the behaviour engines rely on).

use crate::context::Ctx;
use crate::harness::{Outcome, Verdict};
use crate::seccomp_agent::{Agent, Answer, Notif};
use crate::{cases, check, skip};
use serde_json::{json, Value};

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "config-linux/seccomp/notify/state" => notify_state,
        "config-linux/seccomp/notify/errno" => notify_errno,
        "config-linux/seccomp/notify/value" => notify_value,
        "config-linux/seccomp/notify/no-agent-error" => notify_no_agent,
        "config-linux/seccomp/enosys-newer-syscalls" => enosys_newer,
    ]
}

fn is_mkdir(n: &Notif) -> bool {
    matches!(n.nr as libc::c_long, libc::SYS_mkdir | libc::SYS_mkdirat)
}

fn notify_profile(agent: &Agent) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent.path,
        "listenerMetadata": "oci-meta",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    })
}

fn agent_in(
    b: &crate::bundle::Bundle,
    policy: fn(&Notif) -> Answer,
) -> Result<Agent, crate::harness::Failure> {
    let path = b.path().join("agent.sock");
    Agent::start(&path, policy).map_err(|source| crate::harness::Failure::Io {
        what: format!("start the seccomp agent at {}", path.display()),
        source,
    })
}

fn notify_state(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let agent = agent_in(&b, |_| Answer::Continue)?;
    b.config["linux"]["seccomp"] = notify_profile(&agent);
    b.shell("true");
    let inv = ctx.run(&b)?;
    check!(
        inv.success(),
        "run with a notify profile: {}",
        inv.describe()
    );
    let states = agent.wait_for_states(1);
    check!(
        states.len() == 1,
        "the agent got {} messages: {states:?}",
        states.len()
    );
    let s = &states[0];
    check!(s["fds"] == json!(["seccompFd"]), "fds: {}", s["fds"]);
    check!(s["metadata"] == "oci-meta", "metadata: {}", s["metadata"]);
    check!(
        s["pid"].as_i64().is_some_and(|p| p > 0),
        "pid: {}",
        s["pid"]
    );
    check!(
        s["state"]["pid"] == s["pid"],
        "state.pid {} != pid {}",
        s["state"]["pid"],
        s["pid"]
    );
    check!(
        s["state"]["id"].is_string() && s["state"]["bundle"].is_string(),
        "state: {}",
        s["state"]
    );
    check!(
        s["ociVersion"].is_string(),
        "ociVersion: {}",
        s["ociVersion"]
    );
    Ok(Verdict::Pass)
}

fn notify_errno(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let agent = agent_in(&b, |n| {
        if is_mkdir(n) {
            Answer::Errno(libc::ENOMEDIUM)
        } else {
            Answer::Continue
        }
    })?;
    b.config["linux"]["seccomp"] = notify_profile(&agent);
    b.shell("mkdir /tmp/oci-notify 2>&1; echo rc=$?");
    let inv = ctx.run(&b)?;
    check!(
        inv.stdout.contains("No medium found") && inv.stdout.contains("rc=1"),
        "mkdir answered ENOMEDIUM by the agent: {}",
        inv.describe()
    );
    Ok(Verdict::Pass)
}

fn notify_value(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    // Only the mkdir of that path is faked: the agent reads the path from the process.
    let agent = agent_in(&b, |n| {
        let arg = usize::from(n.nr as libc::c_long == libc::SYS_mkdirat);
        match is_mkdir(n).then(|| n.read_string(n.args[arg])) {
            Some(Ok(p)) if p == "/tmp/oci-notify" => Answer::Value(0),
            _ => Answer::Continue,
        }
    })?;
    b.config["linux"]["seccomp"] = notify_profile(&agent);
    b.shell("mkdir /tmp/oci-notify && test ! -e /tmp/oci-notify && echo faked");
    let inv = ctx.run(&b)?;
    check!(
        inv.stdout.contains("faked"),
        "mkdir answered 0 by the agent without running: {}",
        inv.describe()
    );
    Ok(Verdict::Pass)
}

fn notify_no_agent(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let absent = b.path().join("nobody.sock");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": absent,
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.shell("true");
    let inv = ctx.run(&b)?;
    check!(
        !inv.success(),
        "a listenerPath nobody listens on was accepted"
    );
    Ok(Verdict::Pass)
}

/// Syscall names and numbers of this machine's x86_64 table (the kernel headers).
fn x86_64_syscalls() -> Option<Vec<(String, u32)>> {
    let text = std::fs::read_to_string("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.strip_prefix("#define __NR_"))
            .filter_map(|l| {
                let (name, nr) = l.split_once(' ')?;
                Some((name.to_string(), nr.trim().parse().ok()?))
            })
            .collect(),
    )
}

/// A deny-by-default profile that allows every syscall up to number 334 (rseq) but getcwd:
/// getcwd gets the default action (EPERM), a number past the profile's last gets ENOSYS.
fn enosys_newer(ctx: &Ctx) -> Outcome {
    if !cfg!(target_arch = "x86_64") {
        skip!("the syscall table used here is x86_64's");
    }
    let Some(table) = x86_64_syscalls() else {
        skip!("no /usr/include/x86_64-linux-gnu/asm/unistd_64.h (linux-libc-dev) to list syscalls from");
    };
    let names: Vec<&str> = table
        .iter()
        .filter(|(n, nr)| *nr <= 334 && n != "getcwd")
        .map(|(n, _)| n.as_str())
        .collect();
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
    });
    for (probe, want, what) in [
        (
            "nr:1000",
            libc::ENOSYS,
            "a syscall number past the profile's last",
        ),
        (
            "getcwd",
            libc::EPERM,
            "an older syscall the profile does not list",
        ),
    ] {
        let mut b = ctx.bundle()?;
        b.config["linux"]["seccomp"] = profile.clone();
        b.checker(&["syscall", probe]);
        let out = ctx.run_checker(&b)?;
        check!(
            out["errno"] == want,
            "{what} ({probe}): {out} (want errno {want})"
        );
    }
    Ok(Verdict::Pass)
}
