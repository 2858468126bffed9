//! librrun's `Container` used directly, below the command line: a container's life through
//! the library, the status table's refusals, and the typed errors a failing init sends over
//! the sync socket. Needs root and busybox-static, like the CLI tests.
//!
//! One test function only: `Container::create` forks, and a test binary should not fork from
//! several test threads at once.

use librrun::container::state::Status;
use librrun::container::{Console, Container, ContainerError, CreateOptions, Decision, Operation};
use librrun::init::error::Step;
use librrun::init::InitError;
use librrun::log::Silent;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A temp directory removed on drop (containers in it are force-deleted first).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let root = self.0.join("state");
        for id in librrun::container::list_ids(&root).unwrap_or_default() {
            let _ = Container::delete_by_id(&root, &id, true, &Silent);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn busybox_bundle(dir: &Path, args: &[&str]) -> PathBuf {
    let bundle = dir.join(format!("bundle-{}", args.join("-").replace('/', "_")));
    let rootfs = bundle.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static is needed (apt-get install busybox-static)");
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sleep")).unwrap();
    let mut spec = librrun::spec::template::default_spec();
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(args);
    spec["root"]["readonly"] = false.into();
    std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    bundle
}

fn options(id: &str, bundle: &Path) -> CreateOptions {
    CreateOptions {
        id: id.to_string(),
        bundle: bundle.to_path_buf(),
        console: Console::Socket(None),
        detach: true,
        pid_file: None,
        no_pivot: false,
        no_new_keyring: false,
        preserve_fds: 0,
        cgroup_driver: librrun::cgroups::Driver::Cgroupfs,
        rootless: None,
    }
}

#[test]
fn a_container_through_the_library() {
    if !nix::unistd::geteuid().is_root() {
        panic!("these tests need root (they create real containers)");
    }
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "rrun-api-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let root = scratch.0.join("state");
    let pid_tag = std::process::id();

    // Life: create -> created, start -> running, kill -> stopped, delete -> gone.
    let id = format!("api-life-{pid_tag}");
    let bundle = busybox_bundle(&scratch.0, &["/bin/sleep", "100"]);
    let created = Container::create(&root, &options(&id, &bundle), &Silent).unwrap();
    let c = created.container;
    assert_eq!(c.status(), Status::Created);
    assert_eq!(c.oci_state().id, id);
    assert!(matches!(
        c.check(Operation::Resume),
        Err(ContainerError::NotAllowed {
            status: Status::Created,
            ..
        })
    ));
    assert_eq!(
        c.check(Operation::Delete { force: false }).unwrap(),
        Decision::KillInitFirst
    );
    c.start(&Silent).unwrap();
    drop(c);
    let c = Container::open(&root, &id).unwrap();
    assert_eq!(c.status(), Status::Running);
    let refused = c.start(&Silent).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "cannot start an already running container"
    );
    let refused = c.check(Operation::Delete { force: false }).unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!("cannot delete container {id} that is not stopped: running")
    );
    c.kill(libc::SIGKILL, false).unwrap();
    assert!(c.wait_gone(Duration::from_secs(10)));
    assert_eq!(c.status(), Status::Stopped);
    assert_eq!(
        c.kill(libc::SIGTERM, false).unwrap_err().to_string(),
        "container not running"
    );
    c.delete(false, &Silent).unwrap();
    assert!(matches!(
        Container::open(&root, &id),
        Err(ContainerError::NotExist)
    ));

    // A missing program: the init's typed error names the step, the errno and the path, and
    // nothing of the container is left.
    let id = format!("api-missing-{pid_tag}");
    let bundle = busybox_bundle(&scratch.0, &["/no/such/program"]);
    let err = match Container::create(&root, &options(&id, &bundle), &Silent) {
        Ok(_) => panic!("a missing program was accepted"),
        Err(e) => e,
    };
    match &err {
        ContainerError::StartProcess(InitError::Stage(stage)) => {
            assert_eq!(stage.step, Step::Exec, "{stage:?}");
            assert_eq!(stage.errno, Some(libc::ENOENT), "{stage:?}");
            assert!(stage.detail.contains("/no/such/program"), "{stage:?}");
        }
        other => panic!("not a typed init error: {other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("unable to start container process: exec: \"/no/such/program\""));
    assert!(
        !root.join(&id).exists(),
        "a failed create left its directory"
    );

    // A cwd that cannot be entered: step Cwd with its path.
    let id = format!("api-cwd-{pid_tag}");
    let bundle = busybox_bundle(&scratch.0, &["/bin/sh", "-c", "true"]);
    std::fs::write(bundle.join("rootfs/file"), "").unwrap();
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    spec["process"]["cwd"] = "/file/below".into();
    std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    match Container::create(&root, &options(&id, &bundle), &Silent) {
        Err(ContainerError::StartProcess(InitError::Stage(stage))) => {
            assert_eq!(stage.step, Step::Cwd, "{stage:?}");
            assert_eq!(stage.path.as_deref(), Some("/file/below"), "{stage:?}");
            assert_eq!(stage.errno, Some(libc::ENOTDIR), "{stage:?}");
        }
        Err(other) => panic!("not a typed init error: {other:?}"),
        Ok(_) => panic!("a cwd below a file was accepted"),
    }
    assert!(!root.join(&id).exists());
}
