//! config.md mounts; config-linux.md default filesystems, maskedPaths,
//! readonlyPaths, rootfsPropagation; runtime-linux.md /dev symlinks.

use super::{mount_at, mount_options};
use crate::context::Ctx;
use crate::harness::{Failure, Outcome, Verdict};
use crate::{cases, check, fail};
use serde_json::{json, Value};
use std::path::Path;

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "config/mounts/tmpfs-options" => tmpfs_options,
        "config/mounts/bind" => bind_dir,
        "config/mounts/bind-file" => bind_file,
        "config/mounts/bind-readonly" => bind_ro,
        "config/mounts/bind-relative-source" => bind_relative,
        "config/mounts/bind-flags" => bind_flags,
        "config/mounts/recursive-readonly" => bind_rro,
        "config/mounts/unknown-option-error" => unknown_option,
        "config/mounts/destination-created" => destination_created,
        "config/mounts/order" => mount_order,
        "config/mounts/cgroup" => cgroup_mount,
        "config/mounts/proc-sysfs-options" => sysfs_ro,
        "config-linux/default-filesystems" => default_filesystems,
        "config-linux/maskedPaths/file" => masked_file,
        "config-linux/maskedPaths/directory" => masked_dir,
        "config-linux/maskedPaths/missing-path" => masked_missing,
        "config-linux/readonlyPaths/proc-sys" => readonly_proc_sys,
        "config-linux/readonlyPaths/directory" => readonly_dir,
        "config-linux/rootfsPropagation/private" => prop_private,
        "config-linux/rootfsPropagation/slave" => prop_slave,
        "config-linux/rootfsPropagation/shared" => prop_shared,
        "config-linux/rootfsPropagation/unbindable" => prop_unbindable,
        "runtime-linux/dev-symbolic-links" => dev_symlinks,
        "runtime-linux/file-descriptors" => only_stdio,
    ]
}

pub(super) fn write_host(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Failure::Io {
            what: format!("mkdir {}", parent.display()),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| Failure::Io {
        what: format!("write {}", path.display()),
        source,
    })
}

fn find_mount<'a>(report: &'a Value, at: &str) -> Result<&'a Value, Failure> {
    match mount_at(report, at) {
        Some(m) => Ok(m),
        None => fail!("no mount at {at} in the container's mountinfo"),
    }
}

fn tmpfs_options(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.add_mount(
        json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]}),
    );
    let out = ctx.run_checker(&b)?;
    let m = find_mount(&out, "/mnt/t")?;
    check!(
        m["fs_type"] == "tmpfs",
        "/mnt/t is {} not tmpfs",
        m["fs_type"]
    );
    let opts = mount_options(m);
    for o in ["nosuid", "nodev", "noexec"] {
        check!(
            opts.iter().any(|x| x == o),
            "{o} missing from /mnt/t options {opts:?}"
        );
    }
    let sup = m["super_options"].as_str().unwrap_or("");
    check!(
        sup.contains("size=1024k") && sup.contains("mode=700"),
        "tmpfs options {sup:?} lack size=1024k,mode=700"
    );
    Ok(Verdict::Pass)
}

fn bind_dir(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let src = b.path().join("bind-src");
    write_host(&src.join("hello"), "from the host\n")?;
    b.add_mount(json!({"destination": "/mnt/b", "type": "bind",
        "source": src.display().to_string(), "options": ["rbind"]}));
    b.checker(&["read", "/mnt/b/hello"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["data"] == "from the host\n",
        "bind-mounted file reads {out}"
    );
    Ok(Verdict::Pass)
}

fn bind_file(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let src = b.path().join("bind-file");
    write_host(&src, "single file\n")?;
    b.add_mount(json!({"destination": "/etc/bound", "type": "bind",
        "source": src.display().to_string(), "options": ["bind"]}));
    b.checker(&["read", "/etc/bound"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["data"] == "single file\n",
        "bind-mounted file reads {out}"
    );
    Ok(Verdict::Pass)
}

fn bind_ro(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let src = b.path().join("bind-ro");
    write_host(&src.join("f"), "x")?;
    b.add_mount(json!({"destination": "/mnt/ro", "type": "bind",
        "source": src.display().to_string(), "options": ["rbind", "ro"]}));
    b.checker(&["write", "/mnt/ro/new"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["errno"] == libc::EROFS,
        "write into a ro bind mount: {out} (want EROFS)"
    );
    check!(
        !src.join("new").exists(),
        "the write reached the host directory"
    );
    Ok(Verdict::Pass)
}

/// A tmpfs mounted on the host for one test, unmounted (lazily) when the test ends.
pub(super) struct HostTmpfs(std::path::PathBuf);

impl HostTmpfs {
    /// None when the host refuses the mount (the test then skips).
    pub(super) fn mount(at: &Path) -> Result<Option<HostTmpfs>, Failure> {
        std::fs::create_dir_all(at).map_err(|source| Failure::Io {
            what: format!("mkdir {}", at.display()),
            source,
        })?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        Ok(ok.then(|| HostTmpfs(at.to_path_buf())))
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// runtime-spec 1.1 recursive options: `rro` makes the mounts below the bound directory
/// read-only too (plain `ro` reaches only the top mount).
fn bind_rro(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let src = b.path().join("bind-rro");
    write_host(&src.join("f"), "x")?;
    let Some(_sub) = HostTmpfs::mount(&src.join("sub"))? else {
        crate::skip!("cannot mount a tmpfs on the host below {}", src.display());
    };
    b.add_mount(json!({"destination": "/mnt/rro", "type": "bind",
        "source": src.display().to_string(), "options": ["rbind", "rro"]}));
    b.checker(&["write", "/mnt/rro/sub/new"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["errno"] == libc::EROFS,
        "write into a submount of an rro bind mount: {out} (want EROFS)"
    );
    Ok(Verdict::Pass)
}

/// An option the runtime does not know is an error, never silently dropped.
fn unknown_option(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let src = b.path().join("bind-unknown");
    write_host(&src.join("f"), "x")?;
    b.add_mount(json!({"destination": "/mnt/unknown", "type": "bind",
        "source": src.display().to_string(), "options": ["rbind", "rnosuchoption"]}));
    b.checker(&["exit", "0"]);
    let inv = ctx.run(&b)?;
    check!(
        !inv.success(),
        "a bind mount with the option \"rnosuchoption\" ran"
    );
    Ok(Verdict::Pass)
}

fn bind_flags(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let src = b.path().join("bind-flags");
    write_host(&src.join("f"), "x")?;
    b.add_mount(json!({"destination": "/mnt/flags", "type": "bind",
        "source": src.display().to_string(), "options": ["rbind", "nosuid", "nodev", "noexec", "ro"]}));
    let out = ctx.run_checker(&b)?;
    let m = find_mount(&out, "/mnt/flags")?;
    let opts = mount_options(m);
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        check!(
            opts.iter().any(|x| x == o),
            "{o} missing from the bind mount's options {opts:?}"
        );
    }
    Ok(Verdict::Pass)
}

fn bind_relative(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    write_host(&b.path().join("relsrc/f"), "relative\n")?;
    b.add_mount(json!({"destination": "/mnt/rel", "type": "bind",
        "source": "relsrc", "options": ["rbind"]}));
    b.checker(&["read", "/mnt/rel/f"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["data"] == "relative\n",
        "a source relative to the bundle reads {out}"
    );
    Ok(Verdict::Pass)
}

fn destination_created(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.add_mount(json!({"destination": "/not/yet/there", "type": "tmpfs", "source": "tmpfs"}));
    let out = ctx.run_checker(&b)?;
    find_mount(&out, "/not/yet/there")?;
    Ok(Verdict::Pass)
}

fn mount_order(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.add_mount(json!({"destination": "/mnt/outer", "type": "tmpfs", "source": "tmpfs"}));
    b.add_mount(json!({"destination": "/mnt/outer/inner", "type": "tmpfs", "source": "tmpfs"}));
    let out = ctx.run_checker(&b)?;
    let outer = find_mount(&out, "/mnt/outer")?;
    let inner = find_mount(&out, "/mnt/outer/inner")?;
    check!(
        inner["parent"] == outer["id"],
        "/mnt/outer/inner (parent {}) is not mounted on /mnt/outer (id {}): mounts not applied in order",
        inner["parent"],
        outer["id"]
    );
    Ok(Verdict::Pass)
}

fn cgroup_mount(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.add_mount(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    );
    let out = ctx.run_checker(&b)?;
    let found = out["mounts"].as_array().is_some_and(|ms| {
        ms.iter().any(|m| {
            m["mount_point"]
                .as_str()
                .is_some_and(|p| p.starts_with("/sys/fs/cgroup"))
                && (m["fs_type"] == "cgroup" || m["fs_type"] == "cgroup2")
        })
    });
    check!(found, "no cgroup filesystem under /sys/fs/cgroup");
    Ok(Verdict::Pass)
}

fn sysfs_ro(ctx: &Ctx) -> Outcome {
    let b = ctx.bundle()?;
    let out = ctx.run_checker(&b)?;
    let sys = find_mount(&out, "/sys")?;
    let opts = mount_options(sys);
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        check!(opts.iter().any(|x| x == o), "/sys lacks {o}: {opts:?}");
    }
    Ok(Verdict::Pass)
}

fn default_filesystems(ctx: &Ctx) -> Outcome {
    let b = ctx.bundle()?;
    let out = ctx.run_checker(&b)?;
    for (at, fs) in [
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
    ] {
        let m = find_mount(&out, at)?;
        check!(m["fs_type"] == fs, "{at} is {} not {fs}", m["fs_type"]);
    }
    Ok(Verdict::Pass)
}

fn masked_file(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    write_host(&b.rootfs().join("etc/secret"), "top secret\n")?;
    b.config["linux"]["maskedPaths"] = json!(["/proc/kcore", "/etc/secret"]);
    b.shell("/bin/oci-checker read /etc/secret; /bin/oci-checker read /proc/kcore");
    let inv = ctx.run(&b)?;
    check!(inv.success(), "run failed: {}", inv.describe());
    for line in inv.stdout.lines() {
        let v = crate::context::parse_json("checker output", line)?;
        check!(
            v["ok"] == false || v["data"] == "",
            "a masked file is readable: {v}"
        );
    }
    Ok(Verdict::Pass)
}

fn masked_dir(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    write_host(&b.rootfs().join("opt/hidden/file"), "hidden\n")?;
    b.config["linux"]["maskedPaths"] = json!(["/opt/hidden"]);
    b.shell("ls -A /opt/hidden | wc -l; /bin/oci-checker write /opt/hidden/new");
    let inv = ctx.run(&b)?;
    check!(inv.success(), "run failed: {}", inv.describe());
    let mut lines = inv.stdout.lines();
    let count = lines.next().unwrap_or("").trim();
    check!(count == "0", "the masked directory lists {count} entries");
    let w = crate::context::parse_json("checker output", lines.next().unwrap_or(""))?;
    check!(w["ok"] == false, "a masked directory is writable: {w}");
    Ok(Verdict::Pass)
}

fn masked_missing(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["maskedPaths"] = json!(["/does/not/exist", "/proc/kcore"]);
    let inv = ctx.run(&b)?;
    check!(
        inv.success(),
        "a maskedPaths entry that does not exist made run fail: {}",
        inv.describe()
    );
    Ok(Verdict::Pass)
}

fn readonly_proc_sys(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_SYS_ADMIN"], "permitted": ["CAP_SYS_ADMIN"], "effective": ["CAP_SYS_ADMIN"]
    });
    b.checker(&["write", "/proc/sys/kernel/hostname"]);
    let out = ctx.run_checker(&b)?;
    check!(
        out["errno"] == libc::EROFS,
        "writing /proc/sys/kernel/hostname: {out} (want EROFS)"
    );
    Ok(Verdict::Pass)
}

fn readonly_dir(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    std::fs::create_dir_all(b.rootfs().join("opt/ro")).map_err(|source| Failure::Io {
        what: "mkdir opt/ro".into(),
        source,
    })?;
    b.config["linux"]["readonlyPaths"] = json!(["/opt/ro"]);
    b.shell("/bin/oci-checker write /opt/ro/x; /bin/oci-checker write /opt/rw");
    let inv = ctx.run(&b)?;
    check!(inv.success(), "run failed: {}", inv.describe());
    let mut lines = inv.stdout.lines();
    let ro = crate::context::parse_json("checker output", lines.next().unwrap_or(""))?;
    let rw = crate::context::parse_json("checker output", lines.next().unwrap_or(""))?;
    check!(
        ro["errno"] == libc::EROFS,
        "write under a readonlyPaths dir: {ro} (want EROFS)"
    );
    check!(
        rw["ok"] == true,
        "write outside the readonlyPaths dir failed: {rw}"
    );
    Ok(Verdict::Pass)
}

fn propagation(ctx: &Ctx, mode: &str, want: &str) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["linux"]["rootfsPropagation"] = json!(mode);
    let out = ctx.run_checker(&b)?;
    let root = find_mount(&out, "/")?;
    let optional = root["optional"].as_str().unwrap_or("");
    let ok = match want {
        // A slave of a private mount is private; either way it never sends events.
        "slave" => !optional.contains("shared:") && !optional.contains("unbindable"),
        "" => {
            !optional.contains("shared:")
                && !optional.contains("master:")
                && !optional.contains("unbindable")
        }
        w => optional.contains(w),
    };
    check!(
        ok,
        "rootfsPropagation {mode}: / has propagation fields {optional:?} (want {want:?})"
    );
    Ok(Verdict::Pass)
}

fn prop_private(ctx: &Ctx) -> Outcome {
    propagation(ctx, "private", "")
}
fn prop_slave(ctx: &Ctx) -> Outcome {
    propagation(ctx, "slave", "slave")
}
fn prop_shared(ctx: &Ctx) -> Outcome {
    propagation(ctx, "shared", "shared:")
}
fn prop_unbindable(ctx: &Ctx) -> Outcome {
    propagation(ctx, "unbindable", "unbindable")
}

fn dev_symlinks(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&[
        "stat",
        "/dev/fd",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
    ]);
    let out = ctx.run_checker(&b)?;
    for (p, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        check!(
            out[p]["type"] == "symlink" && out[p]["link"] == target,
            "{p}: {} (want a symlink to {target})",
            out[p]
        );
    }
    Ok(Verdict::Pass)
}

fn only_stdio(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&["fds"]);
    let out = ctx.run_checker(&b)?;
    let fds: Vec<i64> = out["fds"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["fd"].as_i64()).collect())
        .unwrap_or_default();
    check!(
        fds.iter().all(|f| *f <= 2),
        "descriptors beyond stdio leaked into the process: {}",
        out["fds"]
    );
    Ok(Verdict::Pass)
}
