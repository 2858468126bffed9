//! The image configuration turned into a runtime-spec config.json, following the image-spec's
//! conversion rules: Entrypoint+Cmd -> args, Env, WorkingDir -> cwd, User resolved in the
//! rootfs, ExposedPorts/StopSignal/labels -> annotations, Volumes -> mounts. A command given by
//! the user replaces Entrypoint+Cmd. Everything else starts from what `docker run` gives a
//! container (the default `docker` profile: Docker's capabilities, masked paths and seccomp
//! profile) or from `runc spec`'s defaults (the `runc` profile), with the options of
//! [`RunOptions`] (network, env, user, bind mounts, capabilities, hostname, tty) on top, and a
//! user namespace when the rootfs is id-mapped.

use super::idmap::{IdMap, IdRange};
use super::manifest::ImageConfig;
use super::run_options::{self, Net, Profile, RunOptions};
use super::user::{self, UserError};
use librrun::rootfs::resolve::Root;
use librrun::spec::template;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(
        "the image has neither Entrypoint nor Cmd: there is no command to run \
         (give one after the bundle: rrun-image unpack SOURCE BUNDLE -- CMD ARGS...)"
    )]
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
    /// The user's command (`unpack ... -- CMD ARGS...`): replaces Entrypoint+Cmd when not empty.
    pub command: Option<&'a [String]>,
    /// `docker run`'s options.
    pub run: &'a RunOptions,
}

fn mappings(ranges: &[IdRange]) -> Value {
    ranges
        .iter()
        .map(|r| json!({"containerID": r.container, "hostID": r.host, "size": r.size}))
        .collect()
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
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            a.insert(format!("org.opencontainers.image.{k}"), v);
        }
    };
    put("os", Some(image.os.clone()));
    put("architecture", Some(image.architecture.clone()));
    put("variant", image.variant.clone());
    put("os.version", image.os_version.clone());
    put(
        "os.features",
        image.os_features.as_ref().map(|f| f.join(",")),
    );
    put("author", image.author.clone());
    put("created", image.created.clone());
    put("stopSignal", exec.stop_signal);
    put(
        "exposedPorts",
        exec.exposed_ports
            .map(|p| p.keys().cloned().collect::<Vec<_>>().join(",")),
    );
    // conversion.md: a label with the same key as a derived annotation wins, so the labels go
    // in last.
    if let Some(labels) = exec.labels {
        a.extend(labels);
    }
    a
}

/// Build config.json for an image whose rootfs is `root`.
pub fn runtime_config(
    image: &ImageConfig,
    root: &Root,
    opts: &Options<'_>,
) -> Result<Value, ConvertError> {
    let exec = image.config.clone().unwrap_or_default();
    let args = match opts.command.filter(|c| !c.is_empty()) {
        Some(command) => command.to_vec(),
        None => {
            let mut args = exec.entrypoint.clone().unwrap_or_default();
            args.extend(exec.cmd.clone().unwrap_or_default());
            args
        }
    };
    if args.is_empty() {
        return Err(ConvertError::NoCommand);
    }
    let run = opts.run;
    let user_spec = run.user.as_deref().or(exec.user.as_deref()).unwrap_or("");
    let user = user::resolve(root, user_spec)?;
    let mut env = exec.env.clone().unwrap_or_default();
    if run.tty {
        env.push("TERM=xterm".to_string());
    }
    // -e NAME=VALUE replaces the same name (image's or an earlier -e), as docker run does.
    for e in &run.env {
        let name = e.split('=').next().unwrap_or("");
        env.retain(|have| have.split('=').next() != Some(name));
        env.push(e.clone());
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    // conversion.md makes WorkingDir the cwd verbatim, but the runtime spec (and rrun's
    // validation) wants an absolute cwd: a relative WorkingDir is taken from the root, as
    // Docker does ("app" -> "/app"), instead of being dropped. Empty or absent means "/".
    let cwd = match exec.working_dir.as_deref() {
        None | Some("") => "/".to_string(),
        Some(w) if w.starts_with('/') => w.to_string(),
        Some(w) => format!("/{w}"),
    };
    let mut process_user = json!({"uid": user.uid, "gid": user.gid});
    if !user.additional_gids.is_empty() {
        process_user["additionalGids"] = json!(user.additional_gids);
    }
    // runc's defaults (librrun's one template), Docker's on top unless the runc profile is
    // asked for, then the image's process and volumes and the user's options.
    let mut config = template::default_spec();
    let own_netns = run.net != Net::Host && !opts.rootless;
    if run.profile == Profile::Docker {
        super::docker_profile::apply(&mut config, own_netns);
    }
    if opts.rootless {
        template::drop_privileged_parts(&mut config);
    }
    if !run.cap_add.is_empty() || !run.cap_drop.is_empty() {
        let caps = &mut config["process"]["capabilities"];
        let base: Vec<String> =
            serde_json::from_value(caps["bounding"].clone()).unwrap_or_default();
        let new = json!(run_options::capabilities(
            &base,
            &run.cap_add,
            &run.cap_drop
        ));
        for set in ["bounding", "effective", "permitted", "ambient"] {
            if caps.get(set).is_some() {
                caps[set] = new.clone();
            }
        }
    }
    let no_new_privileges = config["process"]["noNewPrivileges"].take();
    config["process"] = json!({
        "terminal": run.tty,
        "user": process_user,
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": config["process"]["capabilities"].take(),
        "rlimits": config["process"]["rlimits"].take(),
        "noNewPrivileges": no_new_privileges,
    });
    if let Some(h) = &run.hostname {
        config["hostname"] = json!(h);
    } else if run.net == Net::Host {
        if let Ok(h) = nix::unistd::gethostname() {
            config["hostname"] = json!(h.to_string_lossy());
        }
    }
    if run.net == Net::Host {
        if let Some(ns) = config["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
        }
    }
    config["root"]["readonly"] = json!(false);
    config["annotations"] = json!(annotations(image));
    if let Some(mounts) = config["mounts"].as_array_mut() {
        for v in volumes(image) {
            let source: PathBuf = opts.bundle.join("volumes").join(&v.dir_name);
            mounts.push(json!({"destination": v.destination, "type": "bind",
                               "source": source, "options": ["rbind", "rw"]}));
        }
        // With the host's network, its name resolution too (Docker copies these files).
        if run.net == Net::Host {
            for f in ["/etc/resolv.conf", "/etc/hosts"] {
                if Path::new(f).exists() {
                    mounts.push(json!({"destination": f, "type": "bind", "source": f,
                                       "options": ["rbind", "ro"]}));
                }
            }
        }
        for v in &run.volumes {
            let mode = if v.readonly { "ro" } else { "rw" };
            mounts.push(json!({"destination": v.container, "type": "bind",
                               "source": v.host, "options": ["rbind", mode]}));
        }
    }
    if opts.ids.is_userns() {
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
        let linux = &mut config["linux"];
        linux["uidMappings"] = mappings(&uids);
        linux["gidMappings"] = mappings(&gids);
        if let Some(ns) = linux["namespaces"].as_array_mut() {
            ns.push(json!({"type": "user"}));
        }
    }
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
        // Tests run in parallel threads of one process: each call gets its own directory.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp =
            std::env::temp_dir().join(format!("rrun-image-convert-{}-{n}", std::process::id()));
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
                command: None,
                run: &RunOptions::default(),
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
    fn labels_win_over_derived_annotations() {
        let img = image(
            r#"{"os":"linux","architecture":"amd64","config":{"Cmd":["sh"],
            "StopSignal":"SIGQUIT","ExposedPorts":{"80/tcp":{}},
            "Labels":{"org.opencontainers.image.os":"label-os",
            "org.opencontainers.image.stopSignal":"SIGTERM",
            "org.opencontainers.image.exposedPorts":"8080/tcp"}}}"#,
        );
        let a = &convert(&img, &IdMap::default(), false)["annotations"];
        assert_eq!(a["org.opencontainers.image.os"], "label-os");
        assert_eq!(a["org.opencontainers.image.stopSignal"], "SIGTERM");
        assert_eq!(a["org.opencontainers.image.exposedPorts"], "8080/tcp");
        assert_eq!(a["org.opencontainers.image.architecture"], "amd64");
    }

    /// conversion.md: os.version and os.features become annotations.
    #[test]
    fn os_version_and_features_are_annotated() {
        let img = image(
            r#"{"os":"windows","architecture":"amd64","os.version":"10.0.17763.1040",
            "os.features":["win32k"],"config":{"Cmd":["cmd"]}}"#,
        );
        let a = &convert(&img, &IdMap::default(), false)["annotations"];
        assert_eq!(a["org.opencontainers.image.os.version"], "10.0.17763.1040");
        assert_eq!(a["org.opencontainers.image.os.features"], "win32k");
    }

    #[test]
    fn relative_working_dir_is_kept_under_the_root() {
        let cwd = |w: &str| {
            let img = image(&format!(
                r#"{{"config":{{"Cmd":["sh"],"WorkingDir":{w:?}}}}}"#
            ));
            convert(&img, &IdMap::default(), false)["process"]["cwd"].clone()
        };
        assert_eq!(cwd("app"), "/app");
        assert_eq!(cwd("a/b"), "/a/b");
        assert_eq!(cwd("/abs"), "/abs");
        assert_eq!(cwd(""), "/");
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
            command: None,
            run: &RunOptions::default(),
        };
        let err = runtime_config(&image(r#"{"config":{}}"#), &root, &opts).unwrap_err();
        assert!(matches!(err, ConvertError::NoCommand));
    }

    #[test]
    fn a_given_command_replaces_entrypoint_and_cmd() {
        let root = Root::open(&std::env::temp_dir()).unwrap();
        let ids = IdMap::default();
        let command = ["/bin/echo".to_string(), "hi".to_string()];
        let opts = Options {
            ids: &ids,
            rootless: false,
            bundle: Path::new("/b"),
            command: Some(&command),
            run: &RunOptions::default(),
        };
        for img in [
            r#"{"config":{}}"#,
            r#"{"config":{"Entrypoint":["/ep"],"Cmd":["x"]}}"#,
        ] {
            let c = runtime_config(&image(img), &root, &opts).unwrap();
            assert_eq!(c["process"]["args"], json!(["/bin/echo", "hi"]), "{img}");
        }
    }

    #[test]
    fn no_command_error_says_how_to_give_one() {
        let root = Root::open(&std::env::temp_dir()).unwrap();
        let ids = IdMap::default();
        let opts = Options {
            ids: &ids,
            rootless: false,
            bundle: Path::new("/b"),
            command: None,
            run: &RunOptions::default(),
        };
        let err = runtime_config(&image(r#"{"config":{}}"#), &root, &opts).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("neither Entrypoint nor Cmd"), "{msg}");
        assert!(msg.contains("-- CMD"), "{msg}");
    }
}
