//! config.md: root, process (args, env, cwd, user, rlimits, capabilities,
//! noNewPrivileges, oomScoreAdj, LSM labels), hostname, domainname.

use super::cap_set;
use crate::context::Ctx;
use crate::harness::{Outcome, Verdict};
use crate::spec::cap_mask;
use crate::{cases, check, skip};
use serde_json::json;

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "config/root/path" => root_path,
        "config/root/path-absolute" => root_path_absolute,
        "config/root/readonly" => root_readonly,
        "config/root/readonly-false" => root_writable,
        "config/root/path-missing-error" => root_missing,
        "config/process/args" => args,
        "config/process/env" => env,
        "config/process/cwd" => cwd,
        "config/process/cwd-relative-error" => cwd_relative,
        "config/process/args-empty-error" => args_empty,
        "config/process/user/uid-gid" => user_ids,
        "config/process/user/additionalGids" => additional_gids,
        "config/process/user/umask" => umask,
        "config/process/rlimits/nofile" => rlimit_nofile,
        "config/process/rlimits/several" => rlimits_several,
        "config/process/rlimits/invalid-type-error" => rlimit_invalid,
        "config/process/capabilities/sets" => caps_sets,
        "config/process/capabilities/empty" => caps_empty,
        "config/process/capabilities/ambient-non-root" => caps_non_root,
        "config/process/capabilities/unknown-warning" => caps_unknown,
        "config/process/noNewPrivileges/true" => nnp_true,
        "config/process/noNewPrivileges/false" => nnp_false,
        "config/process/oomScoreAdj" => oom_score_adj,
        "config/process/ioPriority" => io_priority,
        "config/process/scheduler" => scheduler,
        "config/process/execCPUAffinity" => exec_cpu_affinity,
        "config-linux/memoryPolicy" => memory_policy,
        "config-linux/memoryPolicy/invalid-error" => memory_policy_invalid,
        "config/process/apparmorProfile" => apparmor,
        "config/process/selinuxLabel" => selinux,
        "config/hostname" => hostname,
        "config/domainname" => domainname,
    ]
}

fn root_path(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let marker = b.rootfs().join("etc/oci-root-marker");
    std::fs::write(&marker, "rootfs-marker\n").map_err(|source| crate::harness::Failure::Io {
        what: format!("write {}", marker.display()),
        source,
    })?;
    b.checker(&["read", "/etc/oci-root-marker"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["data"] == "rootfs-marker\n",
        "the process does not see the bundle rootfs as /: {out}"
    );
    Ok(Verdict::Pass)
}

fn root_path_absolute(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["root"]["path"] = json!(b.rootfs().display().to_string());
    let out = ctx.run_checker(&b)?;
    check!(
        out["cwd"] == "/",
        "unexpected report with an absolute root.path: {out}"
    );
    Ok(Verdict::Pass)
}

fn root_readonly(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["root"]["readonly"] = json!(true);
    b.checker(&["write", "/oci-probe"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["errno"] == libc::EROFS,
        "writing / with root.readonly=true: {out} (want EROFS)"
    );
    Ok(Verdict::Pass)
}

fn root_writable(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["root"]["readonly"] = json!(false);
    b.checker(&["write", "/oci-probe"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["ok"] == true,
        "writing / with root.readonly=false: {out}"
    );
    Ok(Verdict::Pass)
}

fn args(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let want = json!(["/bin/oci-checker", "report", "two words", "", "--flag=x"]);
    b.config["process"]["args"] = want.clone();
    let out = ctx.run_checker(&b)?;
    check!(out["args"] == want, "args {} != {want}", out["args"]);
    Ok(Verdict::Pass)
}

fn env(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let want = ["PATH=/bin:/sbin", "ONE=1", "SPACED=a b  c", "EMPTY="];
    b.config["process"]["env"] = json!(want);
    let out = ctx.run_checker(&b)?;
    let got: Vec<&str> = out["env"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    for w in want {
        check!(
            got.contains(&w),
            "{w:?} missing from the environment {got:?}"
        );
    }
    Ok(Verdict::Pass)
}

fn cwd(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["cwd"] = json!("/etc");
    let out = ctx.run_checker(&b)?;
    check!(out["cwd"] == "/etc", "cwd {} != /etc", out["cwd"]);
    Ok(Verdict::Pass)
}

fn user_ids(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1001});
    let out = ctx.run_checker(&b)?;
    for (k, v) in [("uid", 1000), ("euid", 1000), ("gid", 1001), ("egid", 1001)] {
        check!(out[k] == v, "{k} {} != {v}", out[k]);
    }
    Ok(Verdict::Pass)
}

fn additional_gids(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]});
    let out = ctx.run_checker(&b)?;
    let groups: Vec<u64> = out["groups"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
        .unwrap_or_default();
    check!(
        groups.contains(&10) && groups.contains(&20),
        "supplementary groups {groups:?} lack 10 and 20"
    );
    check!(
        groups.iter().all(|g| [10, 20, 1000].contains(g)),
        "supplementary groups {groups:?} hold groups that were not configured"
    );
    Ok(Verdict::Pass)
}

fn umask(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["user"]["umask"] = json!(0o077);
    let out = ctx.run_checker(&b)?;
    check!(out["umask"] == "0077", "umask {} != 0077", out["umask"]);
    Ok(Verdict::Pass)
}

fn rlimit_nofile(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768}]);
    let out = ctx.run_checker(&b)?;
    let got = &out["rlimits"]["RLIMIT_NOFILE"];
    check!(
        *got == json!([512, 768]),
        "RLIMIT_NOFILE {got} != [512, 768]"
    );
    Ok(Verdict::Pass)
}

fn rlimits_several(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let want = [
        ("RLIMIT_CORE", 0u64, 0u64),
        ("RLIMIT_NPROC", 300, 400),
        ("RLIMIT_MSGQUEUE", 4096, 8192),
        ("RLIMIT_NOFILE", 100, 200),
    ];
    b.config["process"]["rlimits"] = json!(want
        .iter()
        .map(|(t, s, h)| json!({"type": t, "soft": s, "hard": h}))
        .collect::<Vec<_>>());
    let out = ctx.run_checker(&b)?;
    for (t, s, h) in want {
        let got = &out["rlimits"][t];
        check!(*got == json!([s, h]), "{t} {got} != [{s}, {h}]");
    }
    Ok(Verdict::Pass)
}

fn rlimit_invalid(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOT_A_LIMIT", "soft": 1, "hard": 1}]);
    let inv = ctx.run(&b)?;
    check!(!inv.success(), "an unknown rlimit type was accepted");
    Ok(Verdict::Pass)
}

fn caps_sets(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    // For uid 0, execve makes the effective set equal to the permitted one,
    // so the two are configured alike; ambient is tested with a non-root user.
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_RAW",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ];
    let permitted = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"];
    let inheritable = ["CAP_CHOWN"];
    b.config["process"]["capabilities"] = json!({
        "bounding": bounding, "permitted": permitted, "effective": permitted,
        "inheritable": inheritable,
    });
    let out = ctx.run_checker(&b)?;
    for (set, names) in [
        ("bounding", &bounding[..]),
        ("permitted", &permitted[..]),
        ("effective", &permitted[..]),
        ("inheritable", &inheritable[..]),
        ("ambient", &[][..]),
    ] {
        let got = cap_set(&out, set);
        let want = cap_mask(names);
        check!(
            got == want,
            "{set} capabilities {got:#x} != {want:#x} ({names:?})"
        );
    }
    Ok(Verdict::Pass)
}

fn caps_empty(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["capabilities"] = json!({
        "bounding": [], "permitted": [], "effective": [], "inheritable": [], "ambient": []
    });
    let out = ctx.run_checker(&b)?;
    for set in [
        "bounding",
        "permitted",
        "effective",
        "inheritable",
        "ambient",
    ] {
        let got = cap_set(&out, set);
        check!(
            got == 0,
            "{set} capabilities {got:#x} though all sets are empty"
        );
    }
    Ok(Verdict::Pass)
}

fn caps_non_root(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    // A non-root process keeps capabilities across execve only through the
    // ambient set, which needs them permitted and inheritable too.
    let caps = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"];
    b.config["process"]["capabilities"] = json!({
        "bounding": caps, "permitted": caps, "effective": caps,
        "inheritable": caps, "ambient": caps
    });
    let out = ctx.run_checker(&b)?;
    for set in ["permitted", "effective", "ambient"] {
        let got = cap_set(&out, set);
        check!(
            got == cap_mask(&caps),
            "{set} capabilities {got:#x} != {:#x} for uid 1000",
            cap_mask(&caps)
        );
    }
    Ok(Verdict::Pass)
}

/// runtime-spec 1.1 and later (config.md, capabilities): a capability that cannot be mapped to
/// a kernel interface or granted MUST be logged as a warning, and the runtime SHOULD NOT fail
/// (1.0 required an error). The container runs with the capabilities it can have.
fn caps_unknown(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let caps = ["CAP_KILL", "CAP_NOT_A_CAPABILITY"];
    b.config["process"]["capabilities"] = json!({
        "bounding": caps, "permitted": caps, "effective": caps
    });
    let out = ctx.run_checker(&b)?;
    let got = cap_set(&out, "effective");
    let want = cap_mask(&["CAP_KILL"]);
    check!(
        got == want,
        "effective capabilities {got:#x} != {want:#x} (CAP_KILL)"
    );
    Ok(Verdict::Pass)
}

fn nnp(ctx: &Ctx, on: bool) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["noNewPrivileges"] = json!(on);
    let out = ctx.run_checker(&b)?;
    let want = if on { "1" } else { "0" };
    check!(
        out["no_new_privs"] == want,
        "NoNewPrivs {} != {want}",
        out["no_new_privs"]
    );
    Ok(Verdict::Pass)
}

fn nnp_true(ctx: &Ctx) -> Outcome {
    nnp(ctx, true)
}

fn nnp_false(ctx: &Ctx) -> Outcome {
    nnp(ctx, false)
}

fn oom_score_adj(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["oomScoreAdj"] = json!(345);
    let out = ctx.run_checker(&b)?;
    check!(
        out["oom_score_adj"] == "345",
        "oom_score_adj {} != 345",
        out["oom_score_adj"]
    );
    Ok(Verdict::Pass)
}

fn apparmor(_ctx: &Ctx) -> Outcome {
    if !std::path::Path::new("/sys/kernel/security/apparmor").exists() {
        skip!("AppArmor is not enabled on this host");
    }
    skip!("no AppArmor profile is known to be loaded for the test");
}

fn selinux(_ctx: &Ctx) -> Outcome {
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        skip!("SELinux is not enabled on this host");
    }
    skip!("SELinux label test needs a policy with container types");
}

fn hostname(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["hostname"] = json!("conformance-host-7");
    let out = ctx.run_checker(&b)?;
    check!(
        out["hostname"] == "conformance-host-7",
        "hostname {}",
        out["hostname"]
    );
    Ok(Verdict::Pass)
}

fn domainname(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["domainname"] = json!("conformance.example");
    let out = ctx.run_checker(&b)?;
    check!(
        out["domainname"] == "conformance.example",
        "domainname {}",
        out["domainname"]
    );
    Ok(Verdict::Pass)
}

fn io_priority(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 3});
    let out = ctx.run_checker(&b)?;
    // ioprio value: class << 13 | level; IOPRIO_CLASS_BE is 2.
    let want = (2 << 13) | 3;
    check!(
        out["ioprio"] == want,
        "ioprio {} != {want} (best-effort, level 3)",
        out["ioprio"]
    );
    Ok(Verdict::Pass)
}

fn scheduler(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    let out = ctx.run_checker(&b)?;
    check!(
        out["sched_policy"] == libc::SCHED_BATCH,
        "scheduling policy {} != SCHED_BATCH ({})",
        out["sched_policy"],
        libc::SCHED_BATCH
    );
    check!(out["nice"] == 7, "nice {} != 7", out["nice"]);
    Ok(Verdict::Pass)
}

fn root_missing(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["root"]["path"] = json!("no-such-rootfs");
    let (c, inv) = ctx.create(&b)?;
    check!(
        !inv.success(),
        "create with a root.path that does not exist succeeded"
    );
    let st = c.state_raw()?;
    check!(
        !st.success(),
        "a failed create left a container: {}",
        st.stdout
    );
    Ok(Verdict::Pass)
}

fn cwd_relative(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["cwd"] = json!("etc");
    let inv = ctx.run(&b)?;
    check!(
        !inv.success(),
        "a relative process.cwd was accepted (config.md: it MUST be absolute)"
    );
    Ok(Verdict::Pass)
}

fn args_empty(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["args"] = json!([]);
    let inv = ctx.run(&b)?;
    check!(!inv.success(), "empty process.args were accepted");
    Ok(Verdict::Pass)
}

/// runtime-spec 1.2: process.execCPUAffinity.final is the affinity of a process `exec` starts
/// (the setting does not apply to the init).
fn exec_cpu_affinity(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.set_args(&["/bin/sleep", "100000"]);
    let c = ctx.start_ok(&b)?;
    let process = json!({
        "terminal": false,
        "user": {"uid": 0, "gid": 0},
        "args": ["/bin/oci-checker", "read", "/proc/self/status"],
        "env": ["PATH=/bin"],
        "cwd": "/",
        "execCPUAffinity": {"initial": "0", "final": "0"}
    });
    let pf = b.path().join("affinity.json");
    std::fs::write(&pf, process.to_string()).map_err(|source| crate::harness::Failure::Io {
        what: format!("write {}", pf.display()),
        source,
    })?;
    let pfs = pf.display().to_string();
    let inv = c.invoke(&["exec", "--process", &pfs, &c.id])?;
    check!(inv.success(), "exec --process failed: {}", inv.describe());
    let out = crate::context::parse_json("checker output", &inv.stdout)?;
    let status = out["data"].as_str().unwrap_or("");
    let cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim);
    check!(
        cpus == Some("0"),
        "the exec'd process may run on CPUs {cpus:?}, execCPUAffinity.final is \"0\""
    );
    Ok(Verdict::Pass)
}

/// runtime-spec 1.3: linux.memoryPolicy is the process's NUMA policy (set_mempolicy).
fn memory_policy(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    b.checker(&["mempolicy"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["mode"] == 2 && out["nodes"] == json!([0]),
        "memory policy {out}, want MPOL_BIND (2) on node 0"
    );
    Ok(Verdict::Pass)
}

/// A memory policy the kernel cannot set (MPOL_LOCAL with nodes) is an error, not ignored.
fn memory_policy_invalid(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_LOCAL", "nodes": "0"});
    b.checker(&["exit", "0"]);
    let inv = ctx.run(&b)?;
    check!(!inv.success(), "MPOL_LOCAL with nodes ran");
    Ok(Verdict::Pass)
}
