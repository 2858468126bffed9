//! config.md mounts, runtime-spec 1.2: a mount's `uidMappings`/`gidMappings` and the
//! `idmap`/`ridmap` options (id-mapped mounts, mount_setattr(MOUNT_ATTR_IDMAP)).
//!
//! The mapping has the format of the user namespace mappings and converts ids "from the source
//! file system to the destination mount point": an id `containerID + i` stored in the source
//! is seen at the destination as `hostID + i` (what runc 1.2 and crun do, writing the mapping
//! as a user namespace's uid_map). Without a user namespace the container sees those host ids;
//! with one of the same mapping, the stored ids themselves.

use super::mounts::{write_host, HostTmpfs};
use crate::context::{parse_json, Ctx};
use crate::harness::{Failure, Outcome, Verdict};
use crate::{cases, check};
use serde_json::{json, Value};
use std::path::Path;

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "config/mounts/idmap/owners" => owners,
        "config/mounts/idmap/user-namespace" => with_user_namespace,
        "config/mounts/idmap/container-mappings" => container_mappings,
        "config/mounts/ridmap/submounts" => ridmap_submounts,
        "config/mounts/idmap/uidMappings-without-gidMappings-error" => half_mapping,
        "config/mounts/idmap/without-mappings-or-userns-error" => no_mappings,
    ]
}

fn map(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

fn chown(path: &Path, id: u32) -> Result<(), Failure> {
    std::os::unix::fs::chown(path, Some(id), Some(id)).map_err(|source| Failure::Io {
        what: format!("chown {}", path.display()),
        source,
    })
}

fn mkdir(path: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(path).map_err(|source| Failure::Io {
        what: format!("mkdir {}", path.display()),
        source,
    })
}

/// A source directory in the bundle with `files` (name, owner id for uid and gid).
fn source(b: &crate::bundle::Bundle, name: &str, files: &[(&str, u32)]) -> Result<String, Failure> {
    let dir = b.path().join(name);
    mkdir(&dir)?;
    for (f, id) in files {
        let p = dir.join(f);
        write_host(&p, "x")?;
        chown(&p, *id)?;
    }
    Ok(dir.display().to_string())
}

fn with_user_namespace_config(b: &mut crate::bundle::Bundle) {
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] = map(0, 600000, 65536);
    b.config["linux"]["gidMappings"] = map(0, 600000, 65536);
}

/// `uid:gid` of `path` in a checker stat report (the whole entry when the stat failed).
fn ids(report: &Value, path: &str) -> String {
    let e = &report[path];
    match (e["uid"].as_u64(), e["gid"].as_u64()) {
        (Some(u), Some(g)) => format!("{u}:{g}"),
        _ => e.to_string(),
    }
}

/// Without a user namespace: stored 0 and 5/7 are seen as the host ids they map to.
fn owners(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let src = source(&b, "idmap-src", &[("root", 0), ("five", 5)])?;
    b.add_mount(
        json!({"destination": "/mnt/idmap", "type": "bind", "source": src,
        "options": ["rbind", "idmap"],
        "uidMappings": map(0, 100000, 65536), "gidMappings": map(0, 200000, 65536)}),
    );
    b.checker(&["stat", "/mnt/idmap/root", "/mnt/idmap/five"]);
    let out = ctx.run_checker(&b)?;
    check!(
        ids(&out, "/mnt/idmap/root") == "100000:200000",
        "a file stored as 0:0 is seen as {} through the id-mapped mount (want 100000:200000)",
        ids(&out, "/mnt/idmap/root")
    );
    check!(
        ids(&out, "/mnt/idmap/five") == "100005:200005",
        "a file stored as 5:5 is seen as {} (want 100005:200005)",
        ids(&out, "/mnt/idmap/five")
    );
    Ok(Verdict::Pass)
}

/// Run a shell script whose lines are checker JSON reports.
fn reports(ctx: &Ctx, b: &crate::bundle::Bundle) -> Result<Vec<Value>, Failure> {
    let inv = ctx.run(b)?;
    check!(inv.success(), "run failed: {}", inv.describe());
    inv.stdout
        .lines()
        .map(|l| parse_json("checker output", l))
        .collect()
}

/// With a user namespace of the same mapping: what is stored as 0 is the container's root's,
/// and what the container's root creates is stored as 0.
fn with_user_namespace(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    with_user_namespace_config(&mut b);
    let src = source(&b, "idmap-src", &[("root", 0), ("one", 1)])?;
    mkdir(&b.rootfs().join("mnt/idmap"))?;
    b.add_mount(
        json!({"destination": "/mnt/idmap", "type": "bind", "source": &src,
        "options": ["rbind", "idmap"],
        "uidMappings": map(0, 600000, 65536), "gidMappings": map(0, 600000, 65536)}),
    );
    b.shell(
        "/bin/oci-checker stat /mnt/idmap/root /mnt/idmap/one; \
         /bin/oci-checker write /mnt/idmap/new",
    );
    let r = reports(ctx, &b)?;
    check!(r.len() == 2, "expected two reports, got {r:?}");
    check!(
        ids(&r[0], "/mnt/idmap/root") == "0:0",
        "a file stored as 0:0 is seen as {} in the user namespace (want 0:0)",
        ids(&r[0], "/mnt/idmap/root")
    );
    check!(
        ids(&r[0], "/mnt/idmap/one") == "1:1",
        "a file stored as 1:1 is seen as {} (want 1:1)",
        ids(&r[0], "/mnt/idmap/one")
    );
    check!(
        r[1]["ok"] == true,
        "the container's root cannot write: {}",
        r[1]
    );
    use std::os::unix::fs::MetadataExt;
    let created = Path::new(&src).join("new");
    let m = std::fs::metadata(&created).map_err(|source| Failure::Io {
        what: format!("stat {}", created.display()),
        source,
    })?;
    check!(
        (m.uid(), m.gid()) == (0, 0),
        "the container's root created a file stored as {}:{} (want 0:0)",
        m.uid(),
        m.gid()
    );
    Ok(Verdict::Pass)
}

/// `idmap` without mappings of its own takes the container's user namespace mappings.
fn container_mappings(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    with_user_namespace_config(&mut b);
    let src = source(&b, "idmap-src", &[("root", 0)])?;
    mkdir(&b.rootfs().join("mnt/idmap"))?;
    b.add_mount(
        json!({"destination": "/mnt/idmap", "type": "bind", "source": src,
        "options": ["rbind", "idmap"]}),
    );
    b.checker(&["stat", "/mnt/idmap/root"]);
    let out = ctx.run_checker(&b)?;
    check!(
        ids(&out, "/mnt/idmap/root") == "0:0",
        "with the container's mapping a file stored as 0:0 is seen as {} (want 0:0)",
        ids(&out, "/mnt/idmap/root")
    );
    Ok(Verdict::Pass)
}

/// `ridmap` applies the mapping to the submounts of an rbind too.
fn ridmap_submounts(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let src = source(&b, "ridmap-src", &[("top", 0)])?;
    let Some(_sub) = HostTmpfs::mount(&Path::new(&src).join("sub"))? else {
        crate::skip!("cannot mount a tmpfs on the host below {src}");
    };
    write_host(&Path::new(&src).join("sub/f"), "x")?;
    b.add_mount(
        json!({"destination": "/mnt/ridmap", "type": "bind", "source": src,
        "options": ["rbind", "ridmap"],
        "uidMappings": map(0, 100000, 65536), "gidMappings": map(0, 100000, 65536)}),
    );
    b.checker(&["stat", "/mnt/ridmap/top", "/mnt/ridmap/sub/f"]);
    let out = ctx.run_checker(&b)?;
    check!(
        ids(&out, "/mnt/ridmap/top") == "100000:100000",
        "a file stored as 0:0 at the top of a ridmap mount is seen as {} (want 100000:100000)",
        ids(&out, "/mnt/ridmap/top")
    );
    check!(
        ids(&out, "/mnt/ridmap/sub/f") == "100000:100000",
        "a file stored as 0:0 on a submount of a ridmap mount is seen as {} (want 100000:100000)",
        ids(&out, "/mnt/ridmap/sub/f")
    );
    Ok(Verdict::Pass)
}

fn must_fail(ctx: &Ctx, mut b: crate::bundle::Bundle, mount: Value, what: &str) -> Outcome {
    b.add_mount(mount);
    b.checker(&["exit", "0"]);
    let inv = ctx.run(&b)?;
    check!(!inv.success(), "{what}: the container ran");
    Ok(Verdict::Pass)
}

/// "If specified, it MUST be specified along with gidMappings."
fn half_mapping(ctx: &Ctx) -> Outcome {
    let b = ctx.bundle()?;
    let src = source(&b, "idmap-src", &[])?;
    must_fail(
        ctx,
        b,
        json!({"destination": "/mnt/idmap", "type": "bind", "source": src,
            "options": ["rbind", "idmap"], "uidMappings": map(0, 100000, 65536)}),
        "uidMappings without gidMappings",
    )
}

/// "If there are no uidMappings and gidMappings specified and the container isn't using user
/// namespaces, an error MUST be returned."
fn no_mappings(ctx: &Ctx) -> Outcome {
    let b = ctx.bundle()?;
    let src = source(&b, "idmap-src", &[])?;
    must_fail(
        ctx,
        b,
        json!({"destination": "/mnt/idmap", "type": "bind", "source": src,
            "options": ["rbind", "idmap"]}),
        "idmap without mappings or a user namespace",
    )
}
