//! config-linux.md: sysctl, seccomp, personality, intelRdt, mountLabel.

use crate::context::{parse_json, Ctx};
use crate::harness::{Outcome, Verdict};
use crate::{cases, check, skip};
use serde_json::{json, Value};

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "config-linux/sysctl/net" => sysctl_net,
        "config-linux/sysctl/ipc" => sysctl_ipc,
        "config-linux/sysctl/unknown-error" => sysctl_unknown,
        "config-linux/seccomp/mode-filter" => seccomp_mode,
        "config-linux/seccomp/errno-default-eperm" => seccomp_errno_default,
        "config-linux/seccomp/errnoRet" => seccomp_errno_ret,
        "config-linux/seccomp/kill" => seccomp_kill,
        "config-linux/seccomp/args" => seccomp_args,
        "config-linux/seccomp/architectures" => seccomp_arches,
        "config-linux/seccomp/unknown-action-error" => seccomp_bad_action,
        "config-linux/personality/linux32" => personality,
        "config-linux/intelRdt" => intel_rdt,
        "config-linux/mountLabel" => mount_label,
    ]
}

fn sysctl_read(ctx: &Ctx, key: &str, value: &str) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["sysctl"] = json!({key: value});
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    b.checker(&["read", &path]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["data"].as_str().map(str::trim) == Some(value),
        "{key}: {out} (want {value})"
    );
    Ok(Verdict::Pass)
}

fn sysctl_net(ctx: &Ctx) -> Outcome {
    sysctl_read(ctx, "net.ipv4.ip_forward", "1")
}

fn sysctl_ipc(ctx: &Ctx) -> Outcome {
    sysctl_read(ctx, "kernel.msgmax", "4321")
}

fn sysctl_unknown(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["sysctl"] = json!({"kernel.no_such_sysctl_oci": "1"});
    let inv = ctx.run(&b)?;
    check!(!inv.success(), "an unknown sysctl was accepted");
    Ok(Verdict::Pass)
}

fn seccomp(rules: Value) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules
    })
}

fn seccomp_mode(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["seccomp"] =
        seccomp(json!([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]));
    let out = ctx.run_checker(&b)?;
    check!(
        out["seccomp"] == "2",
        "Seccomp {} (want 2, filter mode)",
        out["seccomp"]
    );
    Ok(Verdict::Pass)
}

fn seccomp_errno_default(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["seccomp"] =
        seccomp(json!([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]));
    b.checker(&["syscall", "getcwd"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["errno"] == libc::EPERM,
        "getcwd under SCMP_ACT_ERRNO: {out} (want EPERM)"
    );
    Ok(Verdict::Pass)
}

fn seccomp_errno_ret(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["seccomp"] = seccomp(
        json!([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV}]),
    );
    b.checker(&["syscall", "getcwd"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["errno"] == libc::EXDEV,
        "getcwd with errnoRet EXDEV: {out}"
    );
    Ok(Verdict::Pass)
}

fn seccomp_kill(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["seccomp"] =
        seccomp(json!([{"names": ["getcwd"], "action": "SCMP_ACT_KILL"}]));
    b.checker(&["syscall", "getcwd"]);
    let inv = ctx.run(&b)?;
    check!(
        inv.code() == Some(128 + libc::SIGSYS),
        "getcwd under SCMP_ACT_KILL: {} (want death by SIGSYS, exit {})",
        inv.describe(),
        128 + libc::SIGSYS
    );
    Ok(Verdict::Pass)
}

fn seccomp_args(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["seccomp"] = seccomp(json!([{
        "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EDOM,
        "args": [{"index": 0, "value": 0x0008, "op": "SCMP_CMP_EQ"}]
    }]));
    // PER_LINUX | ADDR_NO_RANDOMIZE-free values: 8 is blocked, 0 (PER_LINUX) is allowed.
    b.shell("/bin/oci-checker syscall personality 8; /bin/oci-checker syscall personality 0");
    let inv = ctx.run(&b)?;
    check!(inv.success(), "run failed: {}", inv.describe());
    let mut lines = inv.stdout.lines();
    let blocked = parse_json("checker output", lines.next().unwrap_or(""))?;
    let allowed = parse_json("checker output", lines.next().unwrap_or(""))?;
    check!(
        blocked["errno"] == libc::EDOM,
        "personality(8) matching the arg rule: {blocked}"
    );
    check!(
        allowed["ok"] == true,
        "personality(0) not matching the arg rule: {allowed}"
    );
    Ok(Verdict::Pass)
}

fn seccomp_arches(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let mut profile = seccomp(json!([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]));
    profile["architectures"] = json!(["SCMP_ARCH_X86_64"]);
    b.config["linux"]["seccomp"] = profile;
    b.checker(&["syscall", "getcwd"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["errno"] == libc::EPERM,
        "getcwd with a native-only profile: {out}"
    );
    Ok(Verdict::Pass)
}

fn seccomp_bad_action(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["seccomp"] =
        seccomp(json!([{"names": ["getcwd"], "action": "SCMP_ACT_NOT_AN_ACTION"}]));
    let inv = ctx.run(&b)?;
    check!(!inv.success(), "an unknown seccomp action was accepted");
    Ok(Verdict::Pass)
}

fn personality(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let out = ctx.run_checker(&b)?;
    let machine = out["machine"].as_str().unwrap_or("");
    check!(
        matches!(machine, "i686" | "i386"),
        "uname machine {machine:?} under the LINUX32 personality (personality {})",
        out["personality"]
    );
    Ok(Verdict::Pass)
}

fn intel_rdt(_ctx: &Ctx) -> Outcome {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .contains(" - resctrl ");
    if !mounted {
        skip!("no resctrl filesystem mounted on this host (Intel RDT unavailable)");
    }
    skip!("Intel RDT tests need a known closID layout on the host");
}

fn mount_label(_ctx: &Ctx) -> Outcome {
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        skip!("SELinux is not enabled on this host");
    }
    skip!("mountLabel test needs a policy with container types");
}
