//! Test bundles: a temporary directory with `rootfs/` (static busybox, its
//! applet links, the checker, /etc/passwd and /etc/group) and a config.json
//! built from `spec::base_config()` and edited by the test.

use crate::spec;
use crate::tempdir::{TempDir, TempDirError};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const APPLETS: [&str; 34] = [
    "sh", "cat", "echo", "sleep", "true", "false", "ls", "mkdir", "touch", "env", "id", "hostname",
    "readlink", "stat", "test", "grep", "head", "ps", "mount", "kill", "uname", "wc", "rm", "cp",
    "date", "printf", "ip", "sync", "ln", "chmod", "mknod", "dd", "tr", "cut",
];

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    TempDir(#[from] TempDirError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io { op, path, source }
}

/// The binaries copied into every rootfs. They are copied once into the
/// scratch directory so bundles can hard-link them.
#[derive(Debug)]
pub struct Assets {
    pub busybox: PathBuf,
    pub checker: PathBuf,
    pub scratch: PathBuf,
}

impl Assets {
    pub fn prepare(busybox: &Path, checker: &Path, scratch: &Path) -> Result<Assets, BundleError> {
        let dir = scratch.join("assets");
        std::fs::create_dir_all(&dir).map_err(io("mkdir", &dir))?;
        let bb = dir.join("busybox");
        let ck = dir.join("oci-checker");
        std::fs::copy(busybox, &bb).map_err(io("copy", busybox))?;
        std::fs::copy(checker, &ck).map_err(io("copy", checker))?;
        Ok(Assets {
            busybox: bb,
            checker: ck,
            scratch: scratch.to_path_buf(),
        })
    }
}

#[derive(Debug)]
pub struct Bundle {
    dir: TempDir,
    pub config: Value,
}

fn link_or_copy(src: &Path, dst: &Path) -> Result<(), BundleError> {
    if std::fs::hard_link(src, dst).is_ok() {
        return Ok(());
    }
    std::fs::copy(src, dst).map(|_| ()).map_err(io("copy", dst))
}

impl Bundle {
    pub fn new(assets: &Assets) -> Result<Bundle, BundleError> {
        let dir = TempDir::new_in(&assets.scratch, "bundle")?;
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root", "shared"] {
            let p = rootfs.join(d);
            std::fs::create_dir_all(&p).map_err(io("mkdir", &p))?;
        }
        link_or_copy(&assets.busybox, &rootfs.join("bin/busybox"))?;
        link_or_copy(&assets.checker, &rootfs.join("bin/oci-checker"))?;
        for a in APPLETS {
            let p = rootfs.join("bin").join(a);
            std::os::unix::fs::symlink("busybox", &p).map_err(io("symlink", &p))?;
        }
        let passwd = rootfs.join("etc/passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )
        .map_err(io("write", &passwd))?;
        let group = rootfs.join("etc/group");
        std::fs::write(&group, "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n")
            .map_err(io("write", &group))?;
        use std::os::unix::fs::PermissionsExt;
        let tmp = rootfs.join("tmp");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
            .map_err(io("chmod", &tmp))?;
        let shared = dir.path().join("shared");
        std::fs::create_dir_all(&shared).map_err(io("mkdir", &shared))?;
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777))
            .map_err(io("chmod", &shared))?;
        Ok(Bundle {
            dir,
            config: spec::base_config(),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Host directory bind-mounted (read-write) at /shared in the container
    /// once `share()` has been called.
    pub fn shared_dir(&self) -> PathBuf {
        self.dir.path().join("shared")
    }

    /// Add the bind mount of `shared_dir()` at /shared.
    pub fn share(&mut self) -> PathBuf {
        let src = self.shared_dir();
        self.add_mount(json!({
            "destination": "/shared", "type": "bind",
            "source": src.display().to_string(), "options": ["rbind", "rw"]
        }));
        src
    }

    pub fn add_mount(&mut self, mount: Value) {
        if let Some(list) = self.config["mounts"].as_array_mut() {
            list.push(mount);
        }
    }

    pub fn set_args(&mut self, args: &[&str]) {
        self.config["process"]["args"] = json!(args);
    }

    /// Checker subcommand as the process: `oci-checker <args...>`.
    pub fn checker(&mut self, args: &[&str]) {
        let mut v = vec![spec::CHECKER];
        v.extend_from_slice(args);
        self.set_args(&v);
    }

    /// Shell command as the process.
    pub fn shell(&mut self, script: &str) {
        self.set_args(&["/bin/sh", "-c", script]);
    }

    pub fn remove_namespace(&mut self, kind: &str) {
        if let Some(list) = self.config["linux"]["namespaces"].as_array_mut() {
            list.retain(|n| n["type"] != kind);
        }
    }

    pub fn set_namespace(&mut self, kind: &str, path: Option<&str>) {
        self.remove_namespace(kind);
        let entry = match path {
            Some(p) => json!({"type": kind, "path": p}),
            None => json!({"type": kind}),
        };
        if let Some(list) = self.config["linux"]["namespaces"].as_array_mut() {
            list.push(entry);
        }
    }

    pub fn write_config(&self) -> Result<(), BundleError> {
        let p = self.dir.path().join("config.json");
        let text = serde_json::to_string_pretty(&self.config).unwrap_or_default();
        std::fs::write(&p, text).map_err(io("write", &p))
    }

    /// Write an arbitrary config.json (for invalid-config tests).
    pub fn write_raw_config(&self, text: &str) -> Result<(), BundleError> {
        let p = self.dir.path().join("config.json");
        std::fs::write(&p, text).map_err(io("write", &p))
    }
}
