//! The image configuration turned into a runtime-spec config.json, following the image-spec's
//! conversion rules: Entrypoint+Cmd -> args, Env, WorkingDir -> cwd, User resolved in the
//! rootfs, ExposedPorts/StopSignal/labels -> annotations, Volumes -> mounts. Everything else is
//! the same sound default `runc spec` writes (namespaces, standard mounts, masked and read-only
//! paths, default capabilities), with a user namespace when the rootfs is id-mapped.

use super::idmap::{IdMap, IdRange};
use super::manifest::ImageConfig;
use super::user::{self, UserError};
use librrun::rootfs::resolve::Root;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const DEFAULT_CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("the image has neither Entrypoint nor Cmd: there is no command to run")]
    NoCommand,
    #[error(transparent)]
    User(#[from] UserError),
    #[error("the generated config.json is not a valid runtime spec: {0}")]
    Invalid(String),
}

/// A volume of the image: a directory of the bundle bind-mounted at `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub destination: String,
    /// Name of the directory under `<bundle>/volumes/`.
    pub dir_name: String,
}

pub struct Options<'a> {
    pub ids: &'a IdMap,
    /// runc's `spec --rootless` shape: no network namespace, /sys bind-mounted.
    pub rootless: bool,
    /// Where the bundle will finally be (volume sources are absolute paths in it).
    pub bundle: &'a Path,
}

fn mappings(ranges: &[IdRange]) -> Value {
    ranges
        .iter()
        .map(|r| json!({"containerID": r.container, "hostID": r.host, "size": r.size}))
        .collect()
}

fn base_mounts(rootless: bool) -> Vec<Value> {
    let mut devpts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if !rootless {
        devpts.push("gid=5");
    }
    let sys = if rootless {
        json!({"destination": "/sys", "type": "none", "source": "/sys",
               "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    } else {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]})
    };
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        sys,
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ]
}

/// The volumes of an image, with the bundle directory each one gets.
pub fn volumes(image: &ImageConfig) -> Vec<Volume> {
    let Some(vols) = image.config.as_ref().and_then(|c| c.volumes.as_ref()) else {
        return vec![];
    };
    vols.keys()
        .enumerate()
        .map(|(i, dest)| {
            let slug: String = dest
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            Volume {
                destination: dest.clone(),
                dir_name: format!("{i}{slug}"),
            }
        })
        .collect()
}

fn annotations(image: &ImageConfig) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let exec = image.config.clone().unwrap_or_default();
    if let Some(labels) = exec.labels {
        a.extend(labels);
    }
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            a.insert(format!("org.opencontainers.image.{k}"), v);
        }
    };
    put("os", Some(image.os.clone()));
    put("architecture", Some(image.architecture.clone()));
    put("variant", image.variant.clone());
    put("author", image.author.clone());
    put("created", image.created.clone());
    put("stopSignal", exec.stop_signal);
    put(
        "exposedPorts",
        exec.exposed_ports
            .map(|p| p.keys().cloned().collect::<Vec<_>>().join(",")),
    );
    a
}

/// Build config.json for an image whose rootfs is `root`.
pub fn runtime_config(
    image: &ImageConfig,
    root: &Root,
    opts: &Options<'_>,
) -> Result<Value, ConvertError> {
    let exec = image.config.clone().unwrap_or_default();
    let mut args = exec.entrypoint.clone().unwrap_or_default();
    args.extend(exec.cmd.clone().unwrap_or_default());
    if args.is_empty() {
        return Err(ConvertError::NoCommand);
    }
    let user = user::resolve(root, exec.user.as_deref().unwrap_or(""))?;
    let mut env = exec.env.clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let cwd = exec
        .working_dir
        .clone()
        .filter(|w| w.starts_with('/'))
        .unwrap_or_else(|| "/".to_string());
    let mut process_user = json!({"uid": user.uid, "gid": user.gid});
    if !user.additional_gids.is_empty() {
        process_user["additionalGids"] = json!(user.additional_gids);
    }
    let mut mounts = base_mounts(opts.rootless);
    for v in volumes(image) {
        let source: PathBuf = opts.bundle.join("volumes").join(&v.dir_name);
        mounts.push(json!({"destination": v.destination, "type": "bind",
                           "source": source, "options": ["rbind", "rw"]}));
    }
    let mut namespaces = vec!["pid", "network", "ipc", "uts", "mount"];
    if opts.rootless {
        namespaces.retain(|n| *n != "network");
    }
    let mut linux = json!({
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
            "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    });
    if !opts.rootless {
        linux["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    }
    if opts.ids.is_userns() {
        namespaces.push("user");
        let (uids, gids) = match opts.ids.collapse {
            Some((u, g)) => (
                vec![IdRange {
                    container: 0,
                    host: u,
                    size: 1,
                }],
                vec![IdRange {
                    container: 0,
                    host: g,
                    size: 1,
                }],
            ),
            None => (opts.ids.uids.clone(), opts.ids.gids.clone()),
        };
        linux["uidMappings"] = mappings(&uids);
        linux["gidMappings"] = mappings(&gids);
    }
    linux["namespaces"] = namespaces.iter().map(|n| json!({"type": n})).collect();
    let config = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": process_user,
            "args": args,
            "env": env,
            "cwd": cwd,
            "capabilities": {
                "bounding": DEFAULT_CAPS, "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS, "ambient": DEFAULT_CAPS,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true,
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "rrun",
        "mounts": mounts,
        "annotations": annotations(image),
        "linux": linux,
    });
    // The typed runtime-spec model is the check that the document is well formed.
    serde_json::from_value::<oci_spec::runtime::Spec>(config.clone())
        .map_err(|e| ConvertError::Invalid(e.to_string()))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(json: &str) -> ImageConfig {
        ImageConfig::parse("test", json.as_bytes()).unwrap()
    }

    fn convert(img: &ImageConfig, ids: &IdMap, rootless: bool) -> Value {
        let tmp = std::env::temp_dir().join(format!(
            "rrun-image-convert-{}-{rootless}",
            std::process::id()
        ));
        std::fs::create_dir_all(tmp.join("etc")).unwrap();
        std::fs::write(
            tmp.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:10:20::/srv:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            tmp.join("etc/group"),
            "root:x:0:\napp:x:20:\nextra:x:30:app\n",
        )
        .unwrap();
        let root = Root::open(&tmp).unwrap();
        let v = runtime_config(
            img,
            &root,
            &Options {
                ids,
                rootless,
                bundle: Path::new("/b"),
            },
        )
        .unwrap();
        std::fs::remove_dir_all(&tmp).unwrap();
        v
    }

    #[test]
    fn follows_image_spec_conversion() {
        let img = image(
            r#"{"os":"linux","architecture":"amd64","config":{
            "Entrypoint":["/bin/ep"],"Cmd":["-x"],"Env":["A=1"],"WorkingDir":"/w","User":"app",
            "ExposedPorts":{"80/tcp":{},"53/udp":{}},"StopSignal":"SIGQUIT",
            "Labels":{"l":"v"},"Volumes":{"/data":{}}}}"#,
        );
        let c = convert(&img, &IdMap::default(), false);
        let p = &c["process"];
        assert_eq!(p["args"], json!(["/bin/ep", "-x"]));
        assert_eq!(p["env"][0], DEFAULT_PATH);
        assert_eq!(p["env"][1], "A=1");
        assert_eq!(p["env"][2], "HOME=/srv");
        assert_eq!(p["cwd"], "/w");
        assert_eq!(
            p["user"],
            json!({"uid": 10, "gid": 20, "additionalGids": [30]})
        );
        let a = &c["annotations"];
        assert_eq!(a["org.opencontainers.image.exposedPorts"], "53/udp,80/tcp");
        assert_eq!(a["org.opencontainers.image.stopSignal"], "SIGQUIT");
        assert_eq!(a["l"], "v");
        let m = c["mounts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            m,
            json!({"destination": "/data", "type": "bind",
            "source": "/b/volumes/0_data", "options": ["rbind", "rw"]})
        );
        assert!(c["linux"]["uidMappings"].is_null());
    }

    #[test]
    fn user_namespace_and_rootless() {
        let img = image(r#"{"config":{"Cmd":["sh"]}}"#);
        let ids = IdMap {
            collapse: Some((1000, 1000)),
            ..Default::default()
        };
        let c = convert(&img, &ids, true);
        let ns: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "user"]);
        assert_eq!(
            c["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 1000, "size": 1}])
        );
        let root = Root::open(&std::env::temp_dir()).unwrap();
        let opts = Options {
            ids: &ids,
            rootless: false,
            bundle: Path::new("/b"),
        };
        let err = runtime_config(&image(r#"{"config":{}}"#), &root, &opts).unwrap_err();
        assert!(matches!(err, ConvertError::NoCommand));
    }
}
