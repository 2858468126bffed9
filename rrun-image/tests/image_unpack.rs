//! rrun-image unpack: OCI layer semantics, config conversion, the result compared with umoci's,
//! a run with rrun, docker-archive input and id-mapped bundles.
mod image_common;

use image_common::*;
use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;
use tar::EntryType;

/// cap_net_bind_service in the permitted set: a VFS_CAP_REVISION_2 security.capability value.
const CAP_XATTR: [u8; 20] = [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// The test image's layers; umoci 0.4 and docker archives know no zstd, so `zstd` can be off.
fn layers(zstd: bool) -> Vec<(Vec<u8>, Compression)> {
    let mut l1 = busybox_layer();
    l1.dir("data/").file("data/a", b"a").file("data/b", b"b");
    l1.dir("opq/")
        .file("opq/old1", b"1")
        .dir("opq/sub/")
        .file("opq/sub/old2", b"2");
    l1.dir("del/").file("del/x", b"x").file("del/y", b"y");
    let mut e = Entry::new("suid", EntryType::Regular);
    e.mode = 0o4755;
    e.data = b"#!/bin/sh\n";
    l1.entry(e);
    let mut e = Entry::new("sticky/", EntryType::Directory);
    e.mode = 0o1777;
    l1.entry(e);
    let mut e = Entry::new("owned", EntryType::Regular);
    e.uid = 1000;
    e.gid = 1000;
    e.mode = 0o600;
    l1.entry(e);
    let mut e = Entry::new("xattr", EntryType::Regular);
    e.xattrs = vec![("user.test", b"hello"), ("security.capability", &CAP_XATTR)];
    e.mode = 0o755;
    l1.entry(e);
    l1.file("hl-src", b"shared");
    l1.dir("dev/");
    let mut e = Entry::new("dev/null0", EntryType::Char);
    e.dev = (1, 3);
    e.mode = 0o666;
    l1.entry(e);
    l1.entry(Entry::new("fifo", EntryType::Fifo));

    let mut l2 = Layer::new();
    l2.dir("data/").file("data/.wh.a", b"");
    l2.dir("opq/")
        .file("opq/.wh..wh..opq", b"")
        .file("opq/new", b"n");
    l2.hardlink("hl2", "hl-src");
    l2.dir("del/").file("del/.wh.y", b"");
    l2.dir("del/x/").file("del/x/inside", b"was a file");
    l2.symlink("lnk", "/etc/passwd");

    let mut l3 = Layer::new();
    let mut e = Entry::new("data/c", EntryType::Regular);
    e.mtime = 1_234_567_890;
    e.data = b"c";
    l3.entry(e);
    l3.hardlink("hl3", "hl2");
    let second = if zstd {
        Compression::Zstd
    } else {
        Compression::Gzip
    };
    vec![
        (l1.tar(), Compression::Gzip),
        (l2.tar(), second),
        (l3.tar(), Compression::None),
    ]
}

fn getxattr(path: &Path, name: &str) -> Vec<u8> {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: NUL-terminated strings and a buffer of the length passed.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    assert!(
        len >= 0,
        "getxattr {name} on {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    buf.truncate(len as usize);
    buf
}

fn exec_config() -> Value {
    json!({"Cmd": ["/bin/sh", "-c", "echo hello-from-image; id -u; id -G; pwd; echo $FOO"],
           "User": "app", "Env": ["FOO=bar"], "WorkingDir": "/tmp",
           "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGQUIT", "Labels": {"l1": "v1"}})
}

fn unpack(source: &str, bundle: &Path, extra: &[&str]) {
    let store = bundle.with_file_name("store");
    run(
        rrun_image()
            .arg("--root")
            .arg(&store)
            .arg("unpack")
            .args(extra)
            .arg(source)
            .arg(bundle),
        true,
    );
}

#[test]
fn layer_semantics_match_umoci_and_run() {
    let tmp = TempDir::new("semantics");
    let mut layout = Layout::new(&tmp.path().join("layout"));
    layout.image("v1", &layers(true), exec_config());
    layout.image("v1gz", &layers(false), exec_config());
    let bundle = tmp.path().join("bundle");
    unpack(&format!("{}:v1", layout.dir.display()), &bundle, &[]);
    let r = bundle.join("rootfs");

    // Whiteouts, opaque directories, replacement, links.
    assert!(!r.join("data/a").exists());
    assert!(r.join("data/b").exists() && r.join("data/c").exists());
    assert!(!r.join("opq/old1").exists() && !r.join("opq/sub").exists());
    assert!(r.join("opq/new").exists());
    assert!(!r.join("del/y").exists());
    assert_eq!(
        std::fs::read(r.join("del/x/inside")).unwrap(),
        b"was a file"
    );
    let ino = |p: &str| std::fs::metadata(r.join(p)).unwrap().ino();
    assert_eq!(ino("hl-src"), ino("hl2"));
    assert_eq!(ino("hl-src"), ino("hl3"));
    assert_eq!(
        std::fs::read_link(r.join("lnk")).unwrap(),
        Path::new("/etc/passwd")
    );
    // Modes, owners, times, xattrs, special files.
    let md = |p: &str| std::fs::symlink_metadata(r.join(p)).unwrap();
    assert_eq!(md("suid").mode() & 0o7777, 0o4755);
    assert_eq!(md("sticky").mode() & 0o7777, 0o1777);
    assert_eq!(
        (
            md("owned").uid(),
            md("owned").gid(),
            md("owned").mode() & 0o777
        ),
        (1000, 1000, 0o600)
    );
    assert_eq!(md("data/c").mtime(), 1_234_567_890);
    assert_eq!(
        md("data").mtime(),
        1_600_000_000,
        "directory mtimes are set after their children"
    );
    assert!(md("dev/null0").file_type().is_char_device());
    assert_eq!(md("dev/null0").rdev(), libc::makedev(1, 3));
    assert!(md("fifo").file_type().is_fifo());
    assert_eq!(getxattr(&r.join("xattr"), "user.test"), b"hello");
    assert_eq!(getxattr(&r.join("xattr"), "security.capability"), CAP_XATTR);

    // config.json follows the image config.
    let config: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["process"]["user"],
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10]})
    );
    assert_eq!(config["process"]["cwd"], "/tmp");
    assert_eq!(
        config["annotations"]["org.opencontainers.image.exposedPorts"],
        "80/tcp"
    );
    assert_eq!(
        config["annotations"]["org.opencontainers.image.stopSignal"],
        "SIGQUIT"
    );
    assert_eq!(config["annotations"]["l1"], "v1");

    // umoci unpacks the same layout to the same files, modes, owners and links.
    let umoci_bundle = tmp.path().join("umoci");
    run(
        Command::new("umoci")
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:v1gz", layout.dir.display()))
            .arg(&umoci_bundle),
        true,
    );
    assert_eq!(tree(&r), tree(&umoci_bundle.join("rootfs")));

    // rrun starts the bundle and the image's command prints what the image says.
    let state = TempDir::new("runc");
    let id = format!("rrun-image-test-{}", std::process::id());
    let out = rrun_run(state.path(), &bundle, &id);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello-from-image\n1000\n1000 10\n/tmp\nbar\n"
    );
}

#[test]
fn docker_archive_unpacks_like_the_layout() {
    let tmp = TempDir::new("archive");
    let mut layout = Layout::new(&tmp.path().join("layout"));
    layout.image("v1", &layers(false), exec_config());
    let archive = tmp.path().join("image.tar");
    run(
        Command::new("skopeo")
            .arg("copy")
            .arg(format!("oci:{}:v1", layout.dir.display()))
            .arg(format!("docker-archive:{}:test/app:v1", archive.display())),
        true,
    );
    let (a, b) = (
        tmp.path().join("from-archive"),
        tmp.path().join("from-layout"),
    );
    unpack(archive.to_str().unwrap(), &a, &[]);
    unpack(&format!("{}:v1", layout.dir.display()), &b, &[]);
    assert_eq!(tree(&a.join("rootfs")), tree(&b.join("rootfs")));
}

#[test]
fn id_mapped_and_rootless_bundles() {
    let tmp = TempDir::new("idmap");
    let mut layout = Layout::new(&tmp.path().join("layout"));
    layout.image("v1", &layers(true), exec_config());
    let src = format!("{}:v1", layout.dir.display());
    let mapped = tmp.path().join("mapped");
    unpack(
        &src,
        &mapped,
        &["--uid-map", "0:100000:65536", "--gid-map", "0:200000:65536"],
    );
    let md = std::fs::metadata(mapped.join("rootfs/owned")).unwrap();
    assert_eq!((md.uid(), md.gid()), (101000, 201000));
    assert_eq!(
        std::fs::metadata(mapped.join("rootfs/bin/busybox"))
            .unwrap()
            .uid(),
        100000
    );
    let config: Value =
        serde_json::from_slice(&std::fs::read(mapped.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
    );
    assert!(config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!({"type": "user"})));

    let rootless = tmp.path().join("rootless");
    unpack(&src, &rootless, &["--rootless"]);
    assert!(
        !rootless.join("rootfs/dev/null0").exists(),
        "no device nodes in a rootless rootfs"
    );
    let config: Value =
        serde_json::from_slice(&std::fs::read(rootless.join("config.json")).unwrap()).unwrap();
    assert!(!config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!({"type": "network"})));
}

#[test]
fn overlay_snapshots_share_the_layer_cache() {
    let tmp = TempDir::new("snapshot");
    let mut layout = Layout::new(&tmp.path().join("layout"));
    layout.image("v1", &layers(true), exec_config());
    let src = format!("{}:v1", layout.dir.display());
    let store = tmp.path().join("store");
    let plain = tmp.path().join("plain");
    unpack(&src, &plain, &[]);
    let (b1, b2) = (tmp.path().join("b1"), tmp.path().join("b2"));
    struct Unmount(Vec<std::path::PathBuf>);
    impl Drop for Unmount {
        fn drop(&mut self) {
            for b in &self.0 {
                let _ = Command::new("umount")
                    .arg(b.join("rootfs"))
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
    let _guard = Unmount(vec![b1.clone(), b2.clone()]);
    for b in [&b1, &b2] {
        unpack(&src, b, &["--snapshot", "overlay"]);
    }
    assert_eq!(
        std::fs::read_dir(store.join("layers"))
            .unwrap()
            .filter(|e| !e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".lock"))
            .count(),
        3
    );
    // The same files as a plain unpack; hard links across layers are copies in the cache.
    let no_nlink = |t: std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
        let strip = |v: String| match v.find(":nlink") {
            Some(i) => {
                let j = v[i..].find(' ').map_or(v.len(), |j| i + j);
                format!("{}{}", &v[..i], &v[j..])
            }
            None => v,
        };
        t.into_iter().map(|(k, v)| (k, strip(v))).collect()
    };
    assert_eq!(
        no_nlink(tree(&b1.join("rootfs"))),
        no_nlink(tree(&plain.join("rootfs")))
    );
    // Bundles do not see each other's writes.
    std::fs::write(b1.join("rootfs/data/b"), "changed").unwrap();
    assert_eq!(std::fs::read(b2.join("rootfs/data/b")).unwrap(), b"b");
    let state = TempDir::new("runc-snap");
    let id = format!("rrun-image-snap-{}", std::process::id());
    let out = rrun_run(state.path(), &b2, &id);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hello-from-image\n"));
    // umount --rm removes the bundles; gc then drops the layers of removed images only.
    for b in [&b1, &b2] {
        run(rrun_image().arg("umount").arg("--rm").arg(b), true);
        assert!(!b.exists());
    }
    run(rrun_image().arg("--root").arg(&store).arg("gc"), true);
    // The layout's image is not in the store's index: once unmounted, its cached layers go.
    assert!(store.join("layers").read_dir().unwrap().next().is_none());
}

#[test]
fn command_after_double_dash_replaces_the_image_command() {
    let tmp = TempDir::new("command");
    let mut layout = Layout::new(&tmp.path().join("layout"));
    layout.image("nocmd", &layers(false), json!({"Env": ["FOO=bar"]}));
    let src = format!("{}:nocmd", layout.dir.display());
    let store = tmp.path().join("store");
    let unpack_cmd = |bundle: &Path, command: &[&str], ok: bool| {
        let mut cmd = rrun_image();
        cmd.arg("--root")
            .arg(&store)
            .arg("unpack")
            .arg(&src)
            .arg(bundle);
        if !command.is_empty() {
            cmd.arg("--").args(command);
        }
        run(&mut cmd, ok)
    };
    // No command in the image and none given: refused, saying how to give one.
    let refused = tmp.path().join("refused");
    let out = unpack_cmd(&refused, &[], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("neither Entrypoint nor Cmd"), "{err}");
    assert!(err.contains("-- CMD"), "{err}");
    assert!(!refused.join("config.json").exists());
    // Given after `--` (options-looking arguments included): it is the process's args.
    let bundle = tmp.path().join("bundle");
    unpack_cmd(&bundle, &["/bin/sh", "-c", "echo hi", "--rootless"], true);
    let config: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["process"]["args"],
        json!(["/bin/sh", "-c", "echo hi", "--rootless"])
    );
}

/// Two `docker save`-style archives merged into one holding both images (what `docker save a b`
/// writes): the members of both, one manifest.json listing both entries.
fn merge_archives(a: &Path, b: &Path, out: &Path) {
    let mut manifest: Vec<Value> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut builder = tar::Builder::new(std::fs::File::create(out).unwrap());
    for src in [a, b] {
        let mut ar = tar::Archive::new(std::fs::File::open(src).unwrap());
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            if name == "manifest.json" {
                let list: Vec<Value> = serde_json::from_slice(&data).unwrap();
                manifest.extend(list);
                continue;
            }
            if !seen.insert(name.clone()) || e.header().entry_type() != EntryType::Regular {
                continue;
            }
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            builder.append_data(&mut h, &name, &data[..]).unwrap();
        }
    }
    let data = serde_json::to_vec(&manifest).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    builder
        .append_data(&mut h, "manifest.json", &data[..])
        .unwrap();
    builder.finish().unwrap();
}

/// Issue 20: skopeo's transport names (`docker-archive:FILE[:REF]`, `oci:`, `oci-archive:`),
/// one image chosen among several in a `docker save` archive, and paths that do not exist
/// named as such (before: `docker-archive:FILE` was taken for a registry host, a second image
/// of an archive could not be chosen, `/nonexistent` was "repository must be lowercase").
#[test]
fn skopeo_transport_names_and_archives_with_several_images() {
    let tmp = TempDir::new("transports");
    let mut layout = Layout::new(&tmp.path().join("layout"));
    layout.image("v1", &layers(false), exec_config());
    let mut other = exec_config();
    other["Env"] = json!(["FOO=second"]);
    layout.image("v2", &layers(false)[..1], other);
    let ldir = layout.dir.display().to_string();
    let (a1, a2, both) = (
        tmp.path().join("a1.tar"),
        tmp.path().join("a2.tar"),
        tmp.path().join("both.tar"),
    );
    for (tag, file, name) in [("v1", &a1, "test/app:v1"), ("v2", &a2, "test/app:v2")] {
        run(
            Command::new("skopeo")
                .arg("copy")
                .arg(format!("oci:{ldir}:{tag}"))
                .arg(format!("docker-archive:{}:{name}", file.display())),
            true,
        );
    }
    merge_archives(&a1, &a2, &both);
    let env_of = |bundle: &Path| -> Vec<Value> {
        let c: Value =
            serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
        c["process"]["env"].as_array().unwrap().clone()
    };
    let has = |bundle: &Path, v: &str| env_of(bundle).contains(&json!(v));
    let bundle = |n: &str| tmp.path().join(n);
    let b = both.display().to_string();
    unpack(
        &format!("docker-archive:{b}:test/app:v2"),
        &bundle("by-tag"),
        &[],
    );
    assert!(has(&bundle("by-tag"), "FOO=second"));
    unpack(
        &format!("docker-archive:{b}:docker.io/test/app:v1"),
        &bundle("normalized"),
        &[],
    );
    assert!(has(&bundle("normalized"), "FOO=bar"));
    unpack(&format!("docker-archive:{b}:@1"), &bundle("by-index"), &[]);
    assert!(has(&bundle("by-index"), "FOO=second"));
    unpack(
        &format!("docker-archive:{}", a1.display()),
        &bundle("single"),
        &[],
    );
    assert!(has(&bundle("single"), "FOO=bar"));
    // oci: and oci-archive: name the same image as the short DIR:TAG form.
    unpack(&format!("oci:{ldir}:v1"), &bundle("oci"), &[]);
    let oci_archive = tmp.path().join("oci.tar");
    run(
        Command::new("skopeo")
            .arg("copy")
            .arg(format!("oci:{ldir}:v1"))
            .arg(format!("oci-archive:{}:v1", oci_archive.display())),
        true,
    );
    unpack(
        &format!("oci-archive:{}:v1", oci_archive.display()),
        &bundle("oci-archive"),
        &[],
    );
    assert_eq!(
        tree(&bundle("oci").join("rootfs")),
        tree(&bundle("oci-archive").join("rootfs"))
    );
    assert!(has(&bundle("oci-archive"), "FOO=bar"));
    // Refusals that say what is wrong, and leave no bundle behind.
    let fails = |source: &str| -> String {
        let out = run(
            rrun_image()
                .arg("--root")
                .arg(tmp.path().join("store"))
                .arg("unpack")
                .arg(source)
                .arg(tmp.path().join("refused")),
            false,
        );
        assert!(!tmp.path().join("refused").exists());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = fails(&b);
    assert!(
        e.contains("holds 2 images") && e.contains("test/app:v2"),
        "{e}"
    );
    let e = fails(&format!("docker-archive:{b}:test/app:v9"));
    assert!(e.contains("no image tagged \"test/app:v9\""), "{e}");
    let e = fails("/nonexistent/dir");
    assert!(e.contains("/nonexistent/dir does not exist"), "{e}");
    let e = fails(&format!("oci-archive:{}", a1.display()));
    assert!(e.contains("no oci-layout member"), "{e}");
}

/// Issue 20: bundles that run as `docker run IMAGE` runs them. Before: the three capabilities
/// of `runc spec` (nginx's chown failed), an image volume that came up empty and hid the
/// image's data (MariaDB found no tables), and none of docker run's options.
#[test]
fn bundles_run_like_docker_run() {
    let tmp = TempDir::new("dockerlike");
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let mut l1 = busybox_layer();
    l1.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/srv:/bin/sh\n",
    );
    let mut e = Entry::new("srv/", EntryType::Directory);
    (e.uid, e.gid, e.mode) = (33, 33, 0o750);
    l1.entry(e);
    let mut e = Entry::new("srv/index.html", EntryType::Regular);
    (e.uid, e.gid, e.data) = (33, 33, b"served-from-image\n");
    l1.entry(e);
    l1.symlink("srv/passwd", "/etc/passwd");
    let script = "touch /tmp/x && chown 33 /tmp/x 2>/dev/null && echo CHOWN-OK; \
                  cat /srv/index.html; echo A=$A B=$B; hostname; id -u; \
                  readlink /proc/self/ns/net; cat /hostdata/f 2>/dev/null; \
                  echo w > /hostdata/g 2>/dev/null && echo HOSTDATA-WRITABLE; true";
    layout.image(
        "v1",
        &[(l1.tar(), Compression::Gzip)],
        json!({"Cmd": ["sh", "-c", script], "Env": ["A=image", "B=image"],
               "Volumes": {"/srv": {}}}),
    );
    let source = format!("oci:{}:v1", layout.dir.display());
    let hostdata = tmp.path().join("hostdata");
    std::fs::create_dir_all(&hostdata).unwrap();
    std::fs::write(hostdata.join("f"), "from-host\n").unwrap();
    let run_bundle = |name: &str, extra: &[&str]| -> (Value, String) {
        let bundle = tmp.path().join(name);
        unpack(&source, &bundle, extra);
        let config: Value =
            serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
        let state = TempDir::new("dockerlike-state");
        let out = rrun_run(
            state.path(),
            &bundle,
            &format!("dl-{}-{name}", std::process::id()),
        );
        (config, String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let host_net = host_net.to_string_lossy();

    // Defaults: Docker's capabilities, seccomp profile, masked paths; the volume holds the
    // image's files with their owners; -e replaces the image's value; --hostname.
    let (config, out) = run_bundle("defaults", &["-e", "A=cli", "--hostname", "web1"]);
    assert_eq!(
        config["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .len(),
        14
    );
    assert_eq!(
        config["linux"]["seccomp"]["defaultAction"],
        "SCMP_ACT_ERRNO"
    );
    assert!(config["linux"]["maskedPaths"]
        .as_array()
        .unwrap()
        .contains(&json!("/proc/kcore")));
    assert!(out.contains("CHOWN-OK\n"), "{out}");
    assert!(
        out.contains("served-from-image\nA=cli B=image\nweb1\n0\n"),
        "{out}"
    );
    assert!(!out.contains(&*host_net), "{out}");
    let vol = tmp.path().join("defaults/volumes");
    let vol = std::fs::read_dir(&vol)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(vol.join("index.html")).unwrap();
    assert_eq!((md.uid(), md.gid()), (33, 33));
    let md = std::fs::metadata(&vol).unwrap();
    assert_eq!((md.uid(), md.mode() & 0o7777), (33, 0o750));
    assert_eq!(
        std::fs::read_link(vol.join("passwd")).unwrap(),
        Path::new("/etc/passwd")
    );

    // runc's profile, and --cap-drop: no CAP_CHOWN.
    let (config, out) = run_bundle("runc-profile", &["--profile", "runc"]);
    assert!(config["linux"].get("seccomp").is_none());
    assert!(!out.contains("CHOWN-OK"), "{out}");
    let (_, out) = run_bundle("cap-drop", &["--cap-drop", "chown"]);
    assert!(!out.contains("CHOWN-OK"), "{out}");
    assert!(out.contains("served-from-image"), "{out}");

    // --user, a read-only -v, the host's network.
    let v = format!("{}:/hostdata:ro", hostdata.display());
    let (config, out) = run_bundle(
        "user-net-vol",
        &["--user", "www", "-v", &v, "--net", "host"],
    );
    assert!(!config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "network"));
    assert!(out.contains("\n33\n"), "{out}");
    assert!(out.contains(&format!("{host_net}\nfrom-host\n")), "{out}");
    assert!(!out.contains("HOSTDATA-WRITABLE"), "{out}");
    assert!(!hostdata.join("g").exists());

    // Bad options are refused before anything is written.
    for bad in [
        &["-v", "relative:/x"][..],
        &["-e", "NOEQUALS"],
        &["--cap-add", "NOT_A_CAP"],
        &["--hostname", "bad host"],
    ] {
        let bundle = tmp.path().join("refused");
        let out = run(
            rrun_image()
                .arg("--root")
                .arg(tmp.path().join("store"))
                .arg("unpack")
                .args(bad)
                .arg(&source)
                .arg(&bundle),
            false,
        );
        assert!(!bundle.exists(), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
}
