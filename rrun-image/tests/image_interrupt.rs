//! Issue 20: an interrupted unpack removes what it was building (before: a 257 MB
//! `.NAME.rrun-image-PID` directory stayed beside the bundle), and `gc` removes what an unpack
//! killed outright left.
mod image_common;

use image_common::*;
use serde_json::json;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A layout whose one (uncompressed) layer holds an `mb` MB file: long enough to unpack
/// that it can be interrupted midway.
fn big_layout(dir: &Path, mb: usize) -> String {
    let mut layout = Layout::new(dir);
    let mut l = busybox_layer();
    let zeros = vec![0u8; mb << 20];
    l.file("big", &zeros);
    layout.image(
        "v1",
        &[(l.tar(), Compression::None)],
        json!({"Cmd": ["true"]}),
    );
    format!("oci:{}:v1", dir.display())
}

fn temp_dirs(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".rrun-image-"))
        .collect()
}

/// Start an unpack and return once its temp dir exists.
fn start_unpack(source: &str, store: &Path, bundle: &Path) -> Child {
    let child = rrun_image()
        .arg("--root")
        .arg(store)
        .arg("unpack")
        .arg("-q")
        .arg(source)
        .arg(bundle)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while temp_dirs(bundle.parent().unwrap()).is_empty() {
        assert!(Instant::now() < deadline, "no temp dir appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

/// `rrun-image gc`'s report.
fn gc(store: &Path) -> String {
    let out = run(rrun_image().arg("--root").arg(store).arg("gc"), true);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn interrupted_and_killed_unpacks_leave_nothing() {
    let tmp = TempDir::new("interrupt");
    let source = big_layout(&tmp.path().join("layout"), 64);
    let store = tmp.path().join("store");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let bundle = out.join(format!("b{sig}"));
        let child = start_unpack(&source, &store, &bundle);
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let res = child.wait_with_output().unwrap();
        assert_eq!(res.status.code(), Some(128 + sig), "{res:?}");
        assert!(String::from_utf8_lossy(&res.stderr).contains("interrupted; removed"));
        assert!(temp_dirs(&out).is_empty(), "{:?}", temp_dirs(&out));
        assert!(!bundle.exists());
    }
    // SIGKILL cannot be caught: the directory stays, and gc finds it through its mark.
    let bundle = out.join("killed");
    let mut child = start_unpack(&source, &store, &bundle);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(temp_dirs(&out).len(), 1);
    let said = gc(&store);
    assert!(
        said.contains("1 directories left by interrupted unpacks"),
        "{said}"
    );
    assert!(temp_dirs(&out).is_empty());
    // A live unpack's directory is not touched by gc.
    let bundle = out.join("live");
    let mut child = start_unpack(&source, &store, &bundle);
    let said = gc(&store);
    assert!(said.contains("0 directories"), "{said}");
    assert!(child.wait().unwrap().success());
    assert!(bundle.join("rootfs/big").exists());
}

/// Unmounts on drop, even when the test fails.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Issue 20: a full disk is said once (it was repeated three times), and the unpack leaves
/// nothing on it.
#[test]
fn a_full_disk_is_said_once_and_nothing_is_left() {
    let tmp = TempDir::new("diskfull");
    let mut layout = Layout::new(&tmp.path().join("layout"));
    layout.image(
        "v1",
        &[(busybox_layer().tar(), Compression::Gzip)],
        json!({"Cmd": ["true"]}),
    );
    let small = tmp.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    run(
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
            .arg(&small),
        true,
    );
    let _guard = Mounted(small.clone());
    let out = run(
        rrun_image()
            .arg("--root")
            .arg(tmp.path().join("store"))
            .arg("unpack")
            .arg(format!("oci:{}:v1", layout.dir.display()))
            .arg(small.join("bundle")),
        false,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("No space left on device").count(), 1, "{err}");
    assert_eq!(std::fs::read_dir(&small).unwrap().count(), 0);
}

/// Issue 20: an unpack whose stderr is not a terminal says how far it is every few seconds
/// (here every 100 ms), then its summary on a line of its own; `-q` says nothing.
#[test]
fn unpack_progress_lines_and_quiet() {
    let tmp = TempDir::new("progress");
    let source = big_layout(&tmp.path().join("layout"), 16);
    // `unpack [extra...] SOURCE BUNDLE`: its stderr.
    let unpack = |bundle: &str, extra: &[&str]| -> String {
        let mut cmd = rrun_image();
        cmd.env("RRUN_IMAGE_PROGRESS_INTERVAL_MS", "100")
            .arg("--root")
            .arg(tmp.path().join("store"))
            .arg("unpack")
            .args(extra);
        let out = run(cmd.arg(&source).arg(tmp.path().join(bundle)), true);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // A progress line for the layer, and the summary last, on a line of its own.
    let progress_then = |said: &str, summary: &str| {
        let lines: Vec<&str> = said.lines().collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("unpacking layer 1/1: ") && l.contains(" entries, ")),
            "{said}"
        );
        assert!(lines.last().is_some_and(|l| l.contains(summary)), "{said}");
    };
    progress_then(&unpack("b1", &[]), "entries unpacked into");
    assert_eq!(unpack("b2", &["-q"]), "");
    // The first overlay snapshot extracts the layer into the cache: the same progress lines.
    let _mounted = Mounted(tmp.path().join("s1/rootfs"));
    progress_then(
        &unpack("s1", &["--snapshot", "overlay"]),
        "overlay rootfs mounted in",
    );
}
