//! rrun-image unpack against crafted layers: nothing may be written, linked or removed outside
//! the rootfs, and blobs that fail their digest, size or decompression leave no bundle behind.
mod image_common;

use image_common::*;
use serde_json::json;
use std::path::{Path, PathBuf};

struct Case {
    tmp: TempDir,
    outside: PathBuf,
    bundle: PathBuf,
}

impl Case {
    /// A test dir with `outside/secret` (what an escape would hit) and a layout to fill.
    fn new(tag: &str) -> Case {
        let tmp = TempDir::new(tag);
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "secret").unwrap();
        let bundle = tmp.path().join("bundle");
        Case {
            tmp,
            outside,
            bundle,
        }
    }

    /// The outside dir as an absolute path without its leading `/` (for `../../..` prefixes).
    fn outside_rel(&self) -> String {
        self.outside
            .to_str()
            .unwrap()
            .trim_start_matches('/')
            .to_string()
    }

    fn unpack(&self, layers: Vec<Layer>) -> std::process::Output {
        let mut layout = Layout::new(&self.tmp.path().join("layout"));
        let layers: Vec<_> = layers
            .iter()
            .map(|l| (l.tar(), Compression::Gzip))
            .collect();
        layout.image("t", &layers, json!({"Cmd": ["/bin/true"]}));
        self.unpack_layout(&layout)
    }

    fn unpack_layout(&self, layout: &Layout) -> std::process::Output {
        rrun_image()
            .arg("--root")
            .arg(self.tmp.path().join("store"))
            .arg("unpack")
            .arg(format!("{}:t", layout.dir.display()))
            .arg(&self.bundle)
            .output()
            .unwrap()
    }

    /// Nothing outside the rootfs changed.
    fn assert_contained(&self) {
        let names: Vec<_> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("secret")],
            "files appeared outside the rootfs"
        );
        assert_eq!(
            std::fs::read_to_string(self.outside.join("secret")).unwrap(),
            "secret"
        );
        let md = std::fs::metadata(self.outside.join("secret")).unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::nlink(&md),
            1,
            "outside file was hard-linked"
        );
    }

    /// The unpack failed and left neither a bundle nor its temp dir.
    fn assert_failed_cleanly(&self, out: &std::process::Output, msg: &str) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "unpack should fail");
        assert!(stderr.contains(msg), "stderr {stderr:?} lacks {msg:?}");
        assert!(!self.bundle.exists(), "a failed unpack left a bundle");
        let leftovers: Vec<_> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("rrun-image"))
            .collect();
        assert!(leftovers.is_empty(), "temp dirs left: {leftovers:?}");
        self.assert_contained();
    }

    fn assert_ok(&self, out: &std::process::Output) {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.assert_contained();
    }

    fn rootfs(&self) -> PathBuf {
        self.bundle.join("rootfs")
    }
}

#[test]
fn dotdot_and_absolute_paths_stay_inside() {
    let c = Case::new("paths");
    let mut l = Layer::new();
    let up = "../".repeat(12);
    l.file(&format!("{up}{}/dotdot", c.outside_rel()), b"x");
    l.file(&format!("/{}/absolute", c.outside_rel()), b"x");
    let out = c.unpack(vec![l]);
    c.assert_ok(&out);
    let inside = c.rootfs().join(c.outside_rel());
    assert!(inside.join("dotdot").is_file() && inside.join("absolute").is_file());
}

#[test]
fn symlinks_are_not_written_through() {
    let c = Case::new("symlinks");
    let abs = format!("/{}", c.outside_rel());
    let mut l1 = Layer::new();
    l1.symlink("same", &abs).file("same/via-same-layer", b"x");
    l1.symlink("rel", &format!("{}{}", "../".repeat(12), c.outside_rel()));
    l1.symlink("over", &format!("{abs}/secret"));
    let mut l2 = Layer::new();
    l2.file("rel/via-earlier-layer", b"x");
    l2.file("over", b"replaced");
    let out = c.unpack(vec![l1, l2]);
    c.assert_ok(&out);
    let inside = c.rootfs().join(c.outside_rel());
    assert!(inside.join("via-same-layer").is_file());
    assert!(inside.join("via-earlier-layer").is_file());
    assert_eq!(std::fs::read(c.rootfs().join("over")).unwrap(), b"replaced");
}

#[test]
fn hardlinks_to_outside_targets_fail() {
    for target in ["ABS/secret", "up/secret", "../../../../../../../ABS/secret"] {
        let c = Case::new("hardlink");
        let target = target.replace("ABS", &c.outside_rel());
        let target = if target.starts_with("up") || target.starts_with("..") {
            target
        } else {
            format!("/{target}")
        };
        let mut l = Layer::new();
        l.symlink("up", &format!("/{}", c.outside_rel()));
        l.hardlink("link", &target);
        let out = c.unpack(vec![l]);
        c.assert_failed_cleanly(&out, "does not exist in this or an earlier layer");
    }
}

#[test]
fn whiteouts_cannot_escape() {
    let c = Case::new("whiteout");
    let mut l1 = Layer::new();
    l1.symlink("wo", &format!("/{}", c.outside_rel())).dir("d/");
    let mut l2 = Layer::new();
    l2.file("wo/.wh.secret", b"");
    l2.file(
        &format!("{}{}/.wh.secret", "../".repeat(12), c.outside_rel()),
        b"",
    );
    let out = c.unpack(vec![l1, l2]);
    c.assert_ok(&out);

    let c = Case::new("whiteout-dotdot");
    let mut l = Layer::new();
    l.dir("d/").file("d/.wh...", b"");
    let out = c.unpack(vec![l]);
    c.assert_failed_cleanly(&out, "invalid whiteout");
}

/// A layout whose single layer blob is then altered by `corrupt`.
fn corrupted(
    c: &Case,
    corrupt: impl FnOnce(&Path, &mut serde_json::Value),
) -> std::process::Output {
    let mut layout = Layout::new(&c.tmp.path().join("layout"));
    let mut l = busybox_layer();
    l.file("big", &vec![7u8; 200_000]);
    let tar = l.tar();
    let (gz, mt) = compress(&tar, Compression::Gzip);
    let mut layer = layout.blob(&gz, mt);
    corrupt(&layout.dir, &mut layer);
    let config = json!({"architecture": host_arch(), "os": "linux", "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]}});
    let config = layout.blob(
        &serde_json::to_vec(&config).unwrap(),
        "application/vnd.oci.image.config.v1+json",
    );
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]});
    let m = layout.blob(
        &serde_json::to_vec(&manifest).unwrap(),
        "application/vnd.oci.image.manifest.v1+json",
    );
    layout.tag("t", &m);
    c.unpack_layout(&layout)
}

fn blob_path(dir: &Path, desc: &serde_json::Value) -> PathBuf {
    dir.join("blobs/sha256")
        .join(&desc["digest"].as_str().unwrap()[7..])
}

#[test]
fn bad_blobs_leave_no_bundle() {
    let c = Case::new("digest");
    let out = corrupted(&c, |dir, d| {
        let p = blob_path(dir, d);
        let mut data = std::fs::read(&p).unwrap();
        let n = data.len();
        data[n / 2] ^= 0xff;
        std::fs::write(p, data).unwrap();
    });
    c.assert_failed_cleanly(&out, "digest mismatch");

    let c = Case::new("size");
    let out = corrupted(&c, |_, d| {
        d["size"] = json!(d["size"].as_u64().unwrap() + 1)
    });
    c.assert_failed_cleanly(&out, "size mismatch");

    // Truncated gzip whose descriptor matches the truncated bytes: decompression must fail.
    let c = Case::new("truncated");
    let out = corrupted(&c, |dir, d| {
        let p = blob_path(dir, d);
        let data = std::fs::read(&p).unwrap();
        let cut = &data[..data.len() / 2];
        std::fs::remove_file(&p).unwrap();
        *d = Layout::new(dir).blob(cut, d["mediaType"].as_str().unwrap());
    });
    c.assert_failed_cleanly(&out, "layer 0");

    // Well-formed data that is not what the config's diff id says.
    let c = Case::new("diffid");
    let out = corrupted(&c, |dir, d| {
        let other = compress(&busybox_layer().tar(), Compression::Gzip).0;
        std::fs::remove_file(blob_path(dir, d)).unwrap();
        *d = Layout::new(dir).blob(&other, d["mediaType"].as_str().unwrap());
    });
    c.assert_failed_cleanly(&out, "but the image config says");
}
