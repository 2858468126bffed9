//! The applier on real directories: layers built in memory, applied to a temp dir. Entries are
//! owned by the invoking user, so the default mode runs without root; overlay-mode whiteouts
//! (a 0/0 device node) need root and are skipped, with a note, without it.

use super::apply::{Applier, Options};
use librrun::rootfs::resolve::Root;
use nix::unistd::{getegid, geteuid};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const MTIME: u64 = 1_000_000;

/// A directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p =
            std::env::temp_dir().join(format!("rrun-image-layer-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    /// A new empty root directory inside.
    fn root(&self, name: &str) -> (PathBuf, Root) {
        let p = self.0.join(name);
        std::fs::create_dir(&p).unwrap();
        let r = Root::open(&p).unwrap();
        (p, r)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A layer's tar stream, every entry owned by the invoking user.
#[derive(Default)]
struct Layer(Vec<(tar::EntryType, String, u32, Vec<u8>)>);

impl Layer {
    fn dir(mut self, path: &str, mode: u32) -> Layer {
        self.0
            .push((tar::EntryType::Directory, path.into(), mode, vec![]));
        self
    }
    fn file(mut self, path: &str, data: &str) -> Layer {
        let data = data.as_bytes().to_vec();
        self.0
            .push((tar::EntryType::Regular, path.into(), 0o644, data));
        self
    }
    fn symlink(mut self, path: &str, target: &str) -> Layer {
        let target = target.as_bytes().to_vec();
        self.0
            .push((tar::EntryType::Symlink, path.into(), 0o777, target));
        self
    }
    fn hardlink(mut self, path: &str, target: &str) -> Layer {
        let target = target.as_bytes().to_vec();
        self.0
            .push((tar::EntryType::Link, path.into(), 0o644, target));
        self
    }

    /// An entry of any type, `data` as its content.
    fn raw(mut self, kind: tar::EntryType, path: &str, data: &str) -> Layer {
        let data = data.as_bytes().to_vec();
        self.0.push((kind, path.into(), 0o755, data));
        self
    }

    fn tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (kind, path, mode, data) in &self.0 {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(*mode);
            h.set_uid(geteuid().as_raw().into());
            h.set_gid(getegid().as_raw().into());
            h.set_mtime(MTIME);
            if kind.is_symlink() || kind.is_hard_link() {
                h.set_size(0);
                let target = std::str::from_utf8(data).unwrap();
                b.append_link(&mut h, path, target).unwrap();
            } else {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, &data[..]).unwrap();
            }
        }
        b.into_inner().unwrap()
    }
}

fn apply(root: &Root, opts: &Options, lowers: &[Root], layers: &[Layer]) {
    let mut a = Applier::new(root, opts, lowers);
    for l in layers {
        a.apply(&l.tar()[..]).unwrap();
    }
    a.finish().unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn whiteouts_remove_what_lower_layers_put_there() {
    let s = Scratch::new("whiteout");
    let (p, root) = s.root("rootfs");
    let lower = Layer::default()
        .file("a/f", "1")
        .file("a/g", "1")
        .file("d/old", "1")
        .file("d/sub/old", "1")
        .file("e/old", "1");
    // An opaque marker keeps what its own layer put in the directory, before it or after.
    let upper = Layer::default()
        .file("a/.wh.f", "")
        .file("gone/.wh.x", "")
        .file("d/kept", "2")
        .file("d/sub/kept", "2")
        .file("d/.wh..wh..opq", "")
        .file("e/.wh..wh..opq", "")
        .file("e/new", "2");
    apply(&root, &Options::default(), &[], &[lower, upper]);
    assert_eq!(names(&p.join("a")), ["g"]);
    assert_eq!(names(&p.join("d")), ["kept", "sub"]);
    assert_eq!(names(&p.join("d/sub")), ["kept"]);
    assert_eq!(names(&p.join("e")), ["new"]);
    assert!(!p.join("gone").exists());
}

#[test]
fn a_whiteout_spares_what_its_own_layer_put_there() {
    let s = Scratch::new("whiteout-own");
    let (p, root) = s.root("rootfs");
    let lower = Layer::default()
        .file("a/x", "old")
        .file("a/y", "old")
        .file("d/low", "old");
    // Whatever the order, `.wh.NAME` hides only the lower layers' NAME; a directory this
    // layer wrote into loses what the lower layers had in it and keeps its own entries.
    let upper = Layer::default()
        .file("a/x", "new")
        .file("a/.wh.x", "")
        .file("a/.wh.y", "")
        .file("a/y", "new")
        .file("d/own", "new")
        .file(".wh.d", "");
    apply(&root, &Options::default(), &[], &[lower, upper]);
    assert_eq!(std::fs::read(p.join("a/x")).unwrap(), b"new");
    assert_eq!(std::fs::read(p.join("a/y")).unwrap(), b"new");
    assert_eq!(names(&p.join("d")), ["own"]);
}

#[test]
fn v7_directories_and_pax_global_headers() {
    let s = Scratch::new("v7");
    let (p, root) = s.root("rootfs");
    // Old V7 tars have no directory type: a regular entry whose name ends in `/` is one. A pax
    // global header ('g') carries defaults for the archive, not a file.
    let global = "31 comment=made by an old tool\n";
    let l = Layer::default()
        .raw(tar::EntryType::XGlobalHeader, "pax_global_header", global)
        .raw(tar::EntryType::Regular, "v7dir/", "")
        .file("v7dir/f", "1");
    apply(&root, &Options::default(), &[], &[l]);
    assert!(p.join("v7dir").symlink_metadata().unwrap().is_dir());
    assert_eq!(std::fs::read(p.join("v7dir/f")).unwrap(), b"1");
    assert_eq!(names(&p), ["v7dir"]);
}

#[test]
fn hard_links_reach_earlier_layers() {
    let s = Scratch::new("hardlink");
    let (p, root) = s.root("rootfs");
    let l1 = Layer::default().file("bin/tool", "x");
    let l2 = Layer::default().hardlink("usr/bin/alias", "/bin/../bin/tool");
    apply(&root, &Options::default(), &[], &[l1, l2]);
    let (a, b) = (p.join("bin/tool"), p.join("usr/bin/alias"));
    assert_eq!(a.metadata().unwrap().ino(), b.metadata().unwrap().ino());

    // Overlay mode: a target in a lower layer's own directory is copied.
    let (lp, lower) = s.root("lower");
    apply(
        &lower,
        &Options::default(),
        &[],
        &[Layer::default().file("f", "data")],
    );
    let (up, upper) = s.root("upper");
    let l = Layer::default().hardlink("g", "f");
    apply(&upper, &Options::default(), &[lower], &[l]);
    assert_eq!(std::fs::read(up.join("g")).unwrap(), b"data");
    assert_ne!(
        up.join("g").metadata().unwrap().ino(),
        lp.join("f").metadata().unwrap().ino()
    );
}

#[test]
fn directory_metadata_is_set_after_the_last_layer() {
    let s = Scratch::new("deferred");
    let (p, root) = s.root("rootfs");
    // Filled after its entry says 0555, and again by the next layer. Without root, `shut`
    // can be set only after `shut/sub`: its owner may not search it then.
    let l1 = Layer::default().dir("ro", 0o555).file("ro/a", "1");
    let l2 = Layer::default()
        .file("ro/b", "2")
        .dir("shut", 0o600)
        .dir("shut/sub", 0o700);
    apply(&root, &Options::default(), &[], &[l1, l2]);
    for (dir, mode) in [("ro", 0o555), ("shut", 0o600)] {
        let md = p.join(dir).metadata().unwrap();
        assert_eq!(md.permissions().mode() & 0o7777, mode, "{dir}");
        assert_eq!(md.mtime(), MTIME as i64, "{dir}");
    }
    assert_eq!(names(&p.join("ro")), ["a", "b"]);
    for dir in ["ro", "shut"] {
        std::fs::set_permissions(p.join(dir), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(
        p.join("shut/sub").metadata().unwrap().permissions().mode() & 0o7777,
        0o700
    );
}

#[test]
fn parents_are_made_through_dangling_symlinks_inside_the_root() {
    let s = Scratch::new("dangling");
    let (p, root) = s.root("rootfs");
    let l = Layer::default()
        .symlink("var/run", "/run")
        .file("var/run/pid", "1")
        .symlink("rel", "made/here")
        .file("rel/f", "2");
    apply(&root, &Options::default(), &[], &[l]);
    assert_eq!(std::fs::read(p.join("run/pid")).unwrap(), b"1");
    assert_eq!(std::fs::read(p.join("made/here/f")).unwrap(), b"2");
    assert!(p.join("var/run").symlink_metadata().unwrap().is_symlink());
}

#[test]
fn overlay_mode_writes_whiteouts_for_overlayfs() {
    if !geteuid().is_root() {
        eprintln!("skipped: overlay whiteouts need root (mknod of a 0/0 device, trusted.* xattr)");
        return;
    }
    let s = Scratch::new("overlay");
    let (p, root) = s.root("rootfs");
    let opts = Options {
        overlay_whiteouts: true,
        ..Options::default()
    };
    let l = Layer::default()
        .file("d/kept", "1")
        .file("d/.wh..wh..opq", "")
        .file("d/.wh.hidden", "");
    apply(&root, &opts, &[], &[l]);
    let md = p.join("d/hidden").symlink_metadata().unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &md.file_type()
    ));
    assert_eq!(md.rdev(), 0);
    assert_eq!(names(&p.join("d")), ["hidden", "kept"]);
    // The opaque xattr is read by overlayfs itself in image_unpack's snapshot test.
}

#[test]
fn overlay_mode_whiteouts_spare_their_own_layer() {
    if !geteuid().is_root() {
        eprintln!("skipped: overlay whiteouts need root (mknod of a 0/0 device, trusted.* xattr)");
        return;
    }
    let s = Scratch::new("overlay-own");
    let (p, root) = s.root("rootfs");
    let opts = Options {
        overlay_whiteouts: true,
        ..Options::default()
    };
    // The layer's own `own` and `dir` stay what it wrote, not whiteout devices.
    let l = Layer::default()
        .file("d/own", "1")
        .file("d/.wh.own", "")
        .file("dir/f", "2")
        .file(".wh.dir", "");
    apply(&root, &opts, &[], &[l]);
    assert_eq!(std::fs::read(p.join("d/own")).unwrap(), b"1");
    assert!(p.join("dir").symlink_metadata().unwrap().is_dir());
    assert_eq!(names(&p.join("dir")), ["f"]);

    // A whiteout before what its layer puts at the same name: the name is the layer's (an
    // opaque directory for a directory, hiding the lower one), not a whiteout device.
    let (p, root) = s.root("rootfs2");
    let l = Layer::default()
        .file(".wh.a", "")
        .file("a/f", "1")
        .file(".wh.b", "")
        .dir("b", 0o755)
        .file(".wh.c", "")
        .file("c", "3");
    apply(&root, &opts, &[], &[l]);
    assert_eq!(names(&p.join("a")), ["f"]);
    assert!(p.join("b").symlink_metadata().unwrap().is_dir());
    assert_eq!(std::fs::read(p.join("c")).unwrap(), b"3");
    // (Their `trusted.overlay.opaque` xattr is not read back here: no unsafe in this crate
    // outside `sys`.)
}
