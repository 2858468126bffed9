//! Id-mapped bind mounts (runtime-spec 1.2: a mount's uidMappings/gidMappings, `idmap`,
//! `ridmap`): owners seen through the mount and stored on disk, with and without a user
//! namespace, recursion over submounts, refusals that leave nothing behind.
//!
//! The direction (as the kernel and runc 1.2 do it): a range `{containerID: C, hostID: H}` is
//! the uid_map line "C H size" of the mount's user namespace, so an id C stored in the file
//! system is seen through the mount as host id H, and a file created by host id H is stored
//! as C.

mod common;
use common::*;
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn map(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// A bundle running `script`, with /mnt/d (and /mnt/f) made in its rootfs beforehand (a
/// container in a user namespace may not create them in the host-owned rootfs).
fn bundle(script: &str) -> Bundle {
    let b = Bundle::busybox(&["/bin/sh", "-c", script]);
    std::fs::create_dir_all(b.rootfs().join("mnt/d")).unwrap();
    b
}

fn with_userns(b: &mut Bundle) {
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = map(0, 100000, 65536);
    b.config["linux"]["gidMappings"] = map(0, 100000, 65536);
}

fn add_mount(b: &mut Bundle, m: Value) {
    b.config["mounts"].as_array_mut().unwrap().push(m);
    b.save();
}

/// A host directory for the mount's source, with `files` (name, uid) in it.
fn source(name: &str, dir_owner: u32, files: &[(&str, u32)]) -> TempDir {
    let t = TempDir::new(name);
    for (f, owner) in files {
        let p = t.path().join(f);
        std::fs::write(&p, "x").unwrap();
        std::os::unix::fs::chown(&p, Some(*owner), Some(*owner)).unwrap();
    }
    std::os::unix::fs::chown(t.path(), Some(dir_owner), Some(dir_owner)).unwrap();
    t
}

fn owner(p: &Path) -> (u32, u32) {
    let m = std::fs::metadata(p).unwrap();
    (m.uid(), m.gid())
}

fn run_ok(r: &Rrun, b: &Bundle) -> String {
    let (code, out, err) = r.run_fg(b);
    assert_eq!(code, 0, "container failed: {err}\n{out}");
    out
}

/// The brief's case, without a user namespace: `{containerID: 100000, hostID: 0}` makes files
/// stored as 100000 the container root's, and what it writes is stored as 100000; a file of
/// the host's root is nobody's inside. A single file can be id-mapped too.
#[test]
fn root_writes_as_the_mapped_owner_without_a_user_namespace() {
    let r = Rrun::new();
    let src = source("idmap-src", 100000, &[("owned", 100000), ("hosts", 0)]);
    let file = source("idmap-file", 0, &[("one", 100005)]);
    let mut b = bundle(
        "stat -c owned=%u:%g /mnt/d/owned; stat -c hosts=%u:%g /mnt/d/hosts; \
         stat -c file=%u:%g /mnt/f; echo new > /mnt/d/new && stat -c new=%u:%g /mnt/d/new",
    );
    add_mount(
        &mut b,
        json!({"destination": "/mnt/d", "type": "bind", "source": src.path(),
               "options": ["bind", "idmap"],
               "uidMappings": map(100000, 0, 65536), "gidMappings": map(100000, 0, 65536)}),
    );
    add_mount(
        &mut b,
        json!({"destination": "/mnt/f", "type": "bind", "source": file.path().join("one"),
               "options": ["bind"],
               "uidMappings": map(100000, 0, 65536), "gidMappings": map(100000, 0, 65536)}),
    );
    let out = run_ok(&r, &b);
    assert!(out.contains("owned=0:0\n"), "{out}");
    assert!(out.contains("hosts=65534:65534\n"), "{out}");
    assert!(out.contains("file=5:5\n"), "{out}");
    assert!(out.contains("new=0:0\n"), "{out}");
    assert_eq!(owner(&src.path().join("new")), (100000, 100000));
    assert!(mounts_containing(src.path().to_str().unwrap()).is_empty());
}

/// runc's direction check (its idmap.bats, no user namespace): with 0 -> 100000, what is
/// stored as 0 is seen as 100000, and the host's root (unmapped) cannot create files.
#[test]
fn an_unmapped_writer_gets_eoverflow() {
    let r = Rrun::new();
    let src = source("idmap-src", 0, &[("f", 0), ("g", 7)]);
    let mut b = bundle(
        "stat -c f=%u:%g /mnt/d/f; stat -c g=%u:%g /mnt/d/g; \
         touch /mnt/d/new 2>&1 | sed 's/^/touch=/'",
    );
    add_mount(
        &mut b,
        json!({"destination": "/mnt/d", "type": "none", "source": src.path(),
               "options": ["rbind", "ridmap"],
               "uidMappings": map(0, 100000, 65536), "gidMappings": map(0, 100000, 65536)}),
    );
    let out = run_ok(&r, &b);
    assert!(out.contains("f=100000:100000\n"), "{out}");
    assert!(out.contains("g=100007:100007\n"), "{out}");
    assert!(out.contains("Value too large"), "{out}");
    assert!(!src.path().join("new").exists());
}

/// With a user namespace of the same mapping, files stored as 0 are the container root's and
/// what it writes is stored as 0 (the usual use); `idmap` alone takes the container's mapping.
#[test]
fn with_a_user_namespace_stored_root_is_the_containers_root() {
    for own_mappings in [true, false] {
        let r = Rrun::new();
        let src = source("idmap-src", 0, &[("f", 0), ("g", 1)]);
        let mut b = bundle(
            "stat -c f=%u:%g /mnt/d/f; stat -c g=%u:%g /mnt/d/g; \
             echo x > /mnt/d/new && stat -c new=%u:%g /mnt/d/new; echo id=$(id -u)",
        );
        with_userns(&mut b);
        let mut m = json!({"destination": "/mnt/d", "type": "bind", "source": src.path(),
                           "options": ["rbind", "idmap"]});
        if own_mappings {
            m["uidMappings"] = map(0, 100000, 65536);
            m["gidMappings"] = map(0, 100000, 65536);
        }
        add_mount(&mut b, m);
        let out = run_ok(&r, &b);
        assert!(out.contains("id=0\n"), "{out}");
        assert!(out.contains("f=0:0\n"), "{own_mappings}: {out}");
        assert!(out.contains("g=1:1\n"), "{own_mappings}: {out}");
        assert!(out.contains("new=0:0\n"), "{own_mappings}: {out}");
        assert_eq!(owner(&src.path().join("new")), (0, 0));
    }
}

/// A mapping different from the container's: stored 0 shows as the container's 1000 (host
/// 101000); a plain bind of the same source next to it shows the host's root as nobody.
#[test]
fn a_mount_mapping_other_than_the_containers() {
    let r = Rrun::new();
    let src = source("idmap-src", 0, &[("f", 0)]);
    let mut b = bundle("stat -c mapped=%u /mnt/d/f; stat -c plain=%u /mnt/p/f");
    std::fs::create_dir_all(b.rootfs().join("mnt/p")).unwrap();
    with_userns(&mut b);
    add_mount(
        &mut b,
        json!({"destination": "/mnt/d", "type": "bind", "source": src.path(),
               "options": ["bind", "idmap"],
               "uidMappings": map(0, 101000, 10), "gidMappings": map(0, 101000, 10)}),
    );
    add_mount(
        &mut b,
        json!({"destination": "/mnt/p", "type": "bind", "source": src.path(), "options": ["bind"]}),
    );
    let out = run_ok(&r, &b);
    assert!(out.contains("mapped=1000\n"), "{out}");
    assert!(out.contains("plain=65534\n"), "{out}");
}

/// `ridmap` maps the submounts of an rbind too; `idmap` only its top mount (runc's rule). The
/// submount is a tmpfs mounted in a private mount namespace rrun is started in.
#[test]
fn ridmap_maps_submounts_and_idmap_only_the_top() {
    for (opt, sub_owner) in [("ridmap", "100000"), ("idmap", "0")] {
        let r = Rrun::new();
        let src = source("idmap-src", 0, &[("top", 0)]);
        std::fs::create_dir(src.path().join("sub")).unwrap();
        let mut b = bundle("stat -c top=%u /mnt/d/top; stat -c sub=%u /mnt/d/sub/f");
        add_mount(
            &mut b,
            json!({"destination": "/mnt/d", "type": "bind", "source": src.path(),
                   "options": ["rbind", opt],
                   "uidMappings": map(0, 100000, 65536), "gidMappings": map(0, 100000, 65536)}),
        );
        let sub = src.path().join("sub");
        let setup = format!(
            "mount -t tmpfs tmpfs {0} && touch {0}/f && exec \"$@\"",
            sub.display()
        );
        let id = r.id();
        let out = r.run_wrapped(
            &[
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &setup,
                "sh",
            ],
            &["run", "-b", b.path().to_str().unwrap(), &id],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{opt}: {out:?}");
        assert!(text.contains("top=100000\n"), "{opt}: {text}");
        assert!(
            text.contains(&format!("sub={sub_owner}\n")),
            "{opt}: {text}"
        );
        // The tmpfs lived in the private namespace only.
        assert!(mounts_containing(src.path().to_str().unwrap()).is_empty());
    }
}

/// Options after the mapping still apply: `ro` on an id-mapped bind.
#[test]
fn readonly_idmapped_bind() {
    let r = Rrun::new();
    let src = source("idmap-src", 100000, &[]);
    let mut b =
        bundle("touch /mnt/d/x 2>&1 | sed 's/^/touch=/'; grep ' /mnt/d ' /proc/self/mountinfo");
    add_mount(
        &mut b,
        json!({"destination": "/mnt/d", "type": "bind", "source": src.path(),
               "options": ["bind", "ro", "idmap"],
               "uidMappings": map(100000, 0, 1), "gidMappings": map(100000, 0, 1)}),
    );
    let out = run_ok(&r, &b);
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains(" ro,") || out.contains(" ro "), "{out}");
    assert!(
        out.contains("idmapped"),
        "mountinfo shows the mapping: {out}"
    );
}

/// Bad configurations fail `create` with the mount's destination in the error, before the
/// container exists: no state, no mount left.
#[test]
fn bad_configurations_are_refused_and_leave_nothing() {
    let src = source("idmap-src", 0, &[]);
    let s = src.path().to_str().unwrap();
    let cases: Vec<(Value, bool, &str)> = vec![
        (
            json!({"destination": "/mnt/d", "type": "bind", "source": s, "options": ["bind"],
                   "uidMappings": map(0, 100000, 65536)}),
            false,
            "uidMappings without gidMappings",
        ),
        (
            json!({"destination": "/mnt/d", "type": "bind", "source": s, "options": ["bind", "idmap"],
                   "gidMappings": map(0, 100000, 65536)}),
            false,
            "gidMappings without uidMappings",
        ),
        (
            json!({"destination": "/mnt/d", "type": "tmpfs", "source": "tmpfs",
                   "options": ["idmap"],
                   "uidMappings": map(0, 100000, 65536), "gidMappings": map(0, 100000, 65536)}),
            false,
            "only supported for bind mounts",
        ),
        (
            json!({"destination": "/mnt/d", "type": "bind", "source": s, "options": ["bind"],
                   "uidMappings": map(0, 100000, 0), "gidMappings": map(0, 100000, 1)}),
            false,
            "uidMappings[0] {containerID: 0, hostID: 100000, size: 0}: size is 0",
        ),
        (
            json!({"destination": "/mnt/d", "type": "bind", "source": s, "options": ["bind"],
                   "uidMappings": map(0, 4294967000, 65536), "gidMappings": map(0, 1, 1)}),
            false,
            "hostID + size is beyond 4294967295",
        ),
        (
            json!({"destination": "/mnt/d", "type": "bind", "source": s, "options": ["bind", "idmap"]}),
            false,
            "mount option idmap without uidMappings/gidMappings",
        ),
        // Refused by the kernel (sysfs cannot be id-mapped), in the parent.
        (
            json!({"destination": "/mnt/d", "type": "bind", "source": "/sys/kernel",
                   "options": ["bind", "idmap"],
                   "uidMappings": map(0, 100000, 65536), "gidMappings": map(0, 100000, 65536)}),
            false,
            "mount_setattr(MOUNT_ATTR_IDMAP) /sys/kernel: EINVAL",
        ),
        (
            json!({"destination": "/mnt/d", "type": "bind", "source": format!("{s}/missing"),
                   "options": ["bind", "ridmap"]}),
            true,
            "open",
        ),
    ];
    for (m, userns, want) in cases {
        let r = Rrun::new();
        let mut b = bundle("true");
        if userns {
            with_userns(&mut b);
        }
        add_mount(&mut b, m.clone());
        let id = r.id();
        let err = r.fails(&["create", "-b", b.path().to_str().unwrap(), &id]);
        assert!(err.contains(want), "{m}: {err}");
        assert!(
            err.contains("rootfs at \"/mnt/d\""),
            "{m}: names the mount: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        let list: Value = serde_json::from_str(&r.ok(&["list", "--format", "json"])).unwrap();
        assert!(
            list.as_array().is_none_or(|l| l.is_empty()),
            "{m}: left {list}"
        );
        assert!(mounts_containing(s).is_empty());
        assert!(mounts_containing(b.path().to_str().unwrap()).is_empty());
    }
}

#[test]
fn features_report_idmap() {
    let r = Rrun::new();
    let f: Value = serde_json::from_str(&r.ok(&["features"])).unwrap();
    assert_eq!(
        f["linux"]["mountExtensions"]["idmap"]["enabled"],
        json!(true)
    );
    let opts = f["mountOptions"].as_array().unwrap();
    assert!(opts.contains(&json!("idmap")) && opts.contains(&json!("ridmap")));
}

/// A process in a user namespace of its own (uids 0 -> 100000, gids 0 -> 300000), killed on
/// drop.
struct UsernsHolder(std::process::Child);

impl UsernsHolder {
    fn new() -> UsernsHolder {
        let child = std::process::Command::new("unshare")
            .args(["--user", "sleep", "1000"])
            .spawn()
            .unwrap();
        let h = UsernsHolder(child);
        let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/user")).ok();
        let pid = h.0.id().to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ns(&pid) == ns("self") || ns(&pid).is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "unshare --user did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::fs::write(format!("/proc/{pid}/uid_map"), "0 100000 65536\n").unwrap();
        std::fs::write(format!("/proc/{pid}/gid_map"), "0 300000 65536\n").unwrap();
        h
    }

    fn ns_path(&self) -> String {
        format!("/proc/{}/ns/user", self.0.id())
    }
}

impl Drop for UsernsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Joining a user namespace by path: `idmap` alone takes that namespace's mapping.
#[test]
fn idmap_alone_in_a_joined_user_namespace() {
    let holder = UsernsHolder::new();
    let r = Rrun::new();
    let src = source("idmap-src", 0, &[("f", 0), ("g", 3)]);
    let mut b = bundle("stat -c f=%u:%g /mnt/d/f; stat -c g=%u:%g /mnt/d/g; echo id=$(id -u)");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user", "path": holder.ns_path()}));
    // Mappings stated beside the joined namespace (the gids differ from the namespace's): the
    // mount must take the namespace's own.
    b.config["linux"]["uidMappings"] = map(0, 100000, 65536);
    b.config["linux"]["gidMappings"] = map(0, 100000, 65536);
    add_mount(
        &mut b,
        json!({"destination": "/mnt/d", "type": "bind", "source": src.path(),
               "options": ["bind", "idmap"]}),
    );
    let out = run_ok(&r, &b);
    assert!(out.contains("id=0\n"), "{out}");
    assert!(out.contains("f=0:0\n"), "{out}");
    assert!(out.contains("g=3:3\n"), "{out}");
}

/// A user namespace joined by path with no mappings in the config: the start fifos belong to
/// the host id of that namespace's root, read from its maps (they were root's, and the init,
/// uid 100000 on the host, could not open them: `open exec.fifo: EACCES`).
#[test]
fn a_user_namespace_joined_by_path_needs_no_mappings() {
    let holder = UsernsHolder::new();
    let r = Rrun::new();
    let mut b = bundle("echo id=$(id -u) map=$(head -1 /proc/self/uid_map | tr -s ' ')");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user", "path": holder.ns_path()}));
    b.save();
    let out = run_ok(&r, &b);
    assert!(out.contains("id=0 map= 0 100000 65536"), "{out}");
}

/// rrun killed while the short-lived process holding a mapping's user namespace exists: that
/// process sees the end of its socket and goes (nothing of the container existed yet).
#[test]
fn killed_while_making_a_user_namespace_leaves_no_process() {
    let r = Rrun::new();
    let src = source("idmap-src", 0, &[]);
    let mut b = bundle("true");
    add_mount(
        &mut b,
        json!({"destination": "/mnt/d", "type": "bind", "source": src.path(),
               "options": ["bind", "idmap"],
               "uidMappings": map(0, 100000, 65536), "gidMappings": map(0, 100000, 65536)}),
    );
    let id = r.id();
    let status = r
        .cmd()
        .env("RRUN_FAULT", "idmap:userns-made")
        .args(["create", "-b", b.path().to_str().unwrap(), &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status:?}");
    // Forked from rrun, the child has rrun's command line, the container id in it.
    let with_id = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter(|e| {
                std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(id.as_str()))
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !with_id().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "left running: {:?}",
            with_id()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    r.ok(&["delete", "--force", &id]);
}
