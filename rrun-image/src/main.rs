//! rrun-image: pull images from registries into a local store and turn images (pulled, from an
//! OCI image layout, or from a `docker save` archive) into OCI bundles that `rrun run` starts.
#![forbid(unsafe_code)]
use rrun_image as image;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use image::idmap::{IdMap, IdRange};
use image::reference::Reference;
use image::registry::{auth, pull};
use image::store::Store;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "rrun-image",
    version,
    about = "Pull container images and unpack them into OCI bundles"
)]
struct Cli {
    /// The local image store (an OCI image layout).
    #[arg(long, global = true, default_value = "/var/lib/rrun-image")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct RegistryArgs {
    /// Platform to pick from a multi-platform image: os/arch[/variant] (default: this host's).
    #[arg(long)]
    platform: Option<String>,
    /// Allow plain HTTP to this registry (always allowed for localhost/127.0.0.1).
    #[arg(long)]
    insecure: bool,
    /// `--tls-verify=false`: accept any certificate from the registry, and plain HTTP (as
    /// skopeo's option), e.g. for a registry with a self-signed certificate.
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// Trust the CAs in DIR (`ca.crt`, any `*.crt`; a `NAME.cert` + `NAME.key` pair is the
    /// client certificate), e.g. `--cert-dir ./certs`. Without it:
    /// /etc/containers/certs.d/HOST:PORT/ or /etc/docker/certs.d/HOST:PORT/ when present.
    /// SSL_CERT_FILE and SSL_CERT_DIR are trusted too.
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<PathBuf>,
    /// Registry credentials `USER:PASSWORD` (with `USER` alone, the password is read from
    /// stdin), e.g. `--creds alice:s3cret`.
    #[arg(long, value_name = "USER[:PASSWORD]", conflicts_with_all = ["username", "authfile"])]
    creds: Option<String>,
    /// Credentials file in docker's config.json format (podman's and skopeo's auth.json), used
    /// instead of $DOCKER_CONFIG/config.json or ~/.docker/config.json.
    #[arg(long, value_name = "FILE", conflicts_with = "username")]
    authfile: Option<PathBuf>,
    /// Registry user name; the password is read from stdin (--password-stdin).
    #[arg(long, requires = "password_stdin")]
    username: Option<String>,
    /// Read the registry password from the first line of stdin.
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// Layers downloaded at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// No progress bars, even on a terminal, and no summary (errors and warnings only).
    #[arg(long, short)]
    quiet: bool,
}

/// What `docker run` users set most, for the bundle's config.json.
#[derive(Args, Clone)]
struct RunArgs {
    /// The defaults: `docker` (what `docker run` gives: its capabilities, masked paths and
    /// seccomp profile) or `runc` (what `runc spec` writes).
    #[arg(long, value_enum, default_value = "docker")]
    profile: image::run_options::Profile,
    /// `private` or `none`: a network namespace of its own with only loopback; `host`: the
    /// host's network (and its /etc/resolv.conf and /etc/hosts).
    #[arg(long, value_enum, default_value = "private")]
    net: image::run_options::Net,
    /// Set an environment variable, e.g. `-e MARIADB_ROOT_PASSWORD=secret` (repeatable).
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// Run as this user instead of the image's: `name`, `uid`, `name:group` or `uid:gid`.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Bind-mount a host path: `-v /srv/data:/data[:ro]` (repeatable).
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    volume: Vec<String>,
    /// Add a capability, e.g. `--cap-add NET_ADMIN` (or ALL).
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop a capability, e.g. `--cap-drop NET_RAW` (or ALL).
    #[arg(long)]
    cap_drop: Vec<String>,
    /// The container's hostname (default: rrun; with --net host, the host's).
    #[arg(long)]
    hostname: Option<String>,
    /// Give the process a terminal (then run it with `rrun run`, or create with a console socket).
    #[arg(short = 't', long)]
    tty: bool,
}

impl RunArgs {
    fn options(&self) -> Result<image::run_options::RunOptions> {
        use image::run_options as ro;
        Ok(ro::RunOptions {
            profile: self.profile,
            net: self.net,
            env: self
                .env
                .iter()
                .map(|e| ro::check_env(e))
                .collect::<Result<_, _>>()?,
            user: self.user.clone(),
            volumes: self
                .volume
                .iter()
                .map(|v| ro::parse_volume(v))
                .collect::<Result<_, _>>()?,
            cap_add: self
                .cap_add
                .iter()
                .map(|c| ro::capability(c))
                .collect::<Result<_, _>>()?,
            cap_drop: self
                .cap_drop
                .iter()
                .map(|c| ro::capability(c))
                .collect::<Result<_, _>>()?,
            hostname: self
                .hostname
                .as_deref()
                .map(ro::check_hostname)
                .transpose()?,
            tty: self.tty,
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Pull an image into the store (a second pull downloads only what changed).
    Pull {
        /// The image: `REF` or `docker://REF`, e.g. `127.0.0.1:5000/library/busybox:latest`
        /// (a name without a registry host means Docker Hub, without a tag `:latest`).
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// List the images in the store.
    Ls,
    /// Print an image's manifest and config as JSON.
    Inspect {
        /// A pulled image, as `ls` lists it, e.g. `127.0.0.1:5000/library/busybox:latest`.
        reference: String,
    },
    /// Remove images from the store (their blobs go at the next gc).
    Rm {
        /// Pulled images, as `ls` lists them, e.g. `127.0.0.1:5000/library/busybox:latest`.
        #[arg(required = true)]
        references: Vec<String>,
    },
    /// Delete blobs no image uses, and abandoned downloads.
    Gc,
    /// Unpack an image into a new bundle: rootfs/ and config.json. SOURCE is a reference
    /// (pulled when not in the store), an OCI layout, an OCI archive, or a `docker save` archive.
    Unpack {
        /// The image, in skopeo's names: `docker://REF` or `REF` (from the store, pulled when
        /// absent), `oci:DIR[:TAG]` or `DIR:TAG` (an OCI layout), `oci-archive:FILE[:TAG]`,
        /// `docker-archive:FILE[:NAME:TAG or :@N]` or `FILE.tar` (a `docker save` archive).
        /// Example: `rrun-image unpack docker-archive:nginx.tar:nginx:latest ./nginx`
        source: String,
        /// The bundle directory to create (absent or empty).
        bundle: PathBuf,
        /// Map container ids to host ids (CONTAINER:HOST:SIZE, repeatable) for a user namespace.
        #[arg(long = "uid-map", conflicts_with = "rootless")]
        uid_map: Vec<String>,
        /// Map container gids (default: the uid map).
        #[arg(long = "gid-map", conflicts_with = "rootless")]
        gid_map: Vec<String>,
        /// A bundle for a rootless container: files owned by the invoking user, mapped to root.
        #[arg(long)]
        rootless: bool,
        /// `overlay`: unpack each layer once into the store's layer cache and mount the rootfs
        /// as an overlay of them (undo with `rrun-image umount`).
        #[arg(long, value_enum)]
        snapshot: Option<Snapshot>,
        #[command(flatten)]
        registry: RegistryArgs,
        #[command(flatten)]
        run: Box<RunArgs>,
        /// The command to run (after `--`), replacing the image's Entrypoint and Cmd; needed
        /// when the image has neither.
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Unmount the overlay rootfs of a bundle made with `unpack --snapshot overlay`.
    Umount {
        /// The bundle directory, e.g. `./nginx`.
        bundle: PathBuf,
        /// Also delete the bundle directory (its upper layer included).
        #[arg(long)]
        rm: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Snapshot {
    Overlay,
}

fn credentials(args: &RegistryArgs, host: &str) -> Result<Option<auth::Credentials>> {
    if let Some(c) = &args.creds {
        return Ok(Some(auth::from_creds(c)?));
    }
    if let Some(f) = &args.authfile {
        return Ok(auth::from_auth_file(f, host)?);
    }
    match &args.username {
        Some(u) => Ok(Some(auth::Credentials::from_stdin(u.clone())?)),
        None => Ok(auth::from_docker_config(host)?),
    }
}

fn pull_options(args: &RegistryArgs, reference: &Reference) -> Result<pull::Options> {
    Ok(pull::Options {
        platform: match &args.platform {
            Some(p) => image::platform::parse(p)?,
            None => image::platform::host(),
        },
        insecure: args.insecure,
        tls: image::registry::tls::TlsOptions {
            no_verify: !args.tls_verify,
            cert_dir: args.cert_dir.clone(),
        },
        credentials: credentials(args, &reference.host)?,
        parallel: args.parallel,
        progress: !args.quiet && std::io::stderr().is_terminal(),
    })
}

fn do_pull(store: &Store, reference: &Reference, args: &RegistryArgs) -> Result<()> {
    let p = pull::pull(store, reference, &pull_options(args, reference)?)?;
    if !args.quiet {
        // Bytes that came over the wire in this pull, not the blobs' sizes: a resumed download
        // counts only what it fetched.
        let resumed = if p.resumed > 0 {
            format!("; {} bytes resumed from an earlier pull", p.resumed)
        } else {
            String::new()
        };
        eprintln!(
            "{}: {} of {} blobs downloaded ({} bytes over the wire{resumed})",
            p.name,
            p.layers_fetched,
            p.layers_fetched + p.layers_present,
            p.downloaded,
        );
    }
    // A digest-pinned name already ends with its digest.
    if p.name.contains('@') {
        println!("{}", p.name);
    } else {
        println!("{}@{}", p.name, p.manifest.digest);
    }
    Ok(())
}

fn id_map(uid_map: &[String], gid_map: &[String], rootless: bool) -> Result<IdMap> {
    if rootless {
        let ids = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        return Ok(IdMap {
            collapse: Some(ids),
            ..Default::default()
        });
    }
    let uids = uid_map
        .iter()
        .map(|s| IdRange::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let gids = if gid_map.is_empty() {
        uids.clone()
    } else {
        gid_map
            .iter()
            .map(|s| IdRange::parse(s))
            .collect::<Result<Vec<_>, _>>()?
    };
    if uids.is_empty() && !gids.is_empty() {
        bail!("--gid-map needs --uid-map too");
    }
    Ok(IdMap {
        uids,
        gids,
        collapse: None,
    })
}

fn open_source(store: &Store, source: &str, args: &RegistryArgs) -> Result<image::source::Image> {
    let wanted = match &args.platform {
        Some(p) => image::platform::parse(p)?,
        None => image::platform::host(),
    };
    use image::transport::SourceName;
    let source = match image::transport::parse(source)? {
        SourceName::Layout { dir, tag } => {
            return Ok(image::source::from_layout(&dir, tag.as_deref(), &wanted)?)
        }
        SourceName::OciArchive { file, tag } => {
            return Ok(image::source::from_oci_archive(
                &file,
                tag.as_deref(),
                &wanted,
            )?)
        }
        SourceName::DockerArchive { file, image } => {
            return Ok(image::source::from_docker_archive(&file, image.as_ref())?)
        }
        SourceName::Registry(r) => r,
    };
    let source = source.as_str();
    let reference = Reference::parse(source)?;
    let name = reference.to_string();
    if let Some(img) = image::source::from_store(store, &name)? {
        // A stored image of another platform than an explicit --platform is pulled again.
        let c = &img.config;
        let same_variant = match (&wanted.variant, &c.variant) {
            (Some(w), Some(v)) => w == v,
            _ => true,
        };
        if args.platform.is_none()
            || (c.os == wanted.os && c.architecture == wanted.architecture && same_variant)
        {
            return Ok(img);
        }
    }
    do_pull(store, &reference, args)?;
    image::source::from_store(store, &name)?.with_context(|| format!("{name} missing after pull"))
}

fn store_name(reference: &str) -> Result<String> {
    Ok(Reference::parse(without_docker_transport(reference))?.to_string())
}

/// `docker://REF` is skopeo's name for a registry image: the same as `REF`.
fn without_docker_transport(reference: &str) -> &str {
    reference.strip_prefix("docker://").unwrap_or(reference)
}

fn run(cli: Cli) -> Result<()> {
    let store = || {
        Store::open(&cli.root).with_context(|| format!("opening the store {}", cli.root.display()))
    };
    match &cli.command {
        Command::Pull {
            reference,
            registry,
        } => do_pull(
            &store()?,
            &Reference::parse(without_docker_transport(reference))?,
            registry,
        ),
        Command::Ls => {
            println!("{:<60} {:<71} SIZE", "REFERENCE", "DIGEST");
            // Listing never creates a store: no store is an empty list.
            if !cli.root.join("index.json").exists() {
                return Ok(());
            }
            let store = store()?;
            for n in store.list()? {
                let size = store.image_size(&n.descriptor)?;
                println!(
                    "{:<60} {:<71} {}",
                    n.name,
                    n.descriptor.digest.to_string(),
                    indicatif::HumanBytes(size)
                );
            }
            Ok(())
        }
        Command::Inspect { reference } => {
            let store = store()?;
            let name = store_name(reference)?;
            let desc = store
                .resolve(&name)?
                .with_context(|| format!("no image named {name} in {}", cli.root.display()))?;
            let manifest: serde_json::Value = serde_json::from_slice(&store.read_blob(&desc)?)?;
            let config_desc: image::manifest::Descriptor =
                serde_json::from_value(manifest["config"].clone()).context("manifest config")?;
            let config: serde_json::Value =
                serde_json::from_slice(&store.read_blob(&config_desc)?)?;
            let out = serde_json::json!({
                "name": name,
                "digest": desc.digest,
                "manifest": manifest,
                "config": config,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        Command::Rm { references } => {
            let store = store()?;
            for r in references {
                let name = store_name(r)?;
                store.remove(&name)?;
                println!("{name}");
            }
            Ok(())
        }
        Command::Gc => {
            let store = store()?;
            let _lock = store.lock(true)?;
            let (count, bytes) = store.gc()?;
            let layers = image::snapshot::gc_layers(&store)?;
            let stale = image::tempdirs::gc_stale(&cli.root)?;
            println!(
                "removed {count} files ({}), {layers} cached layers, \
                 {stale} directories left by interrupted unpacks",
                indicatif::HumanBytes(bytes)
            );
            Ok(())
        }
        Command::Unpack {
            source,
            bundle,
            uid_map,
            gid_map,
            rootless,
            snapshot,
            registry,
            run,
            command,
        } => {
            let run = run.options()?;
            let store = store()?;
            image::tempdirs::record_in_store(&cli.root);
            let ids = id_map(uid_map, gid_map, *rootless)?;
            let mut img = open_source(&store, source, registry)?;
            let _lock = store.lock(false)?;
            let opts = image::unpack::Options {
                ids,
                rootless: *rootless,
                command: command.clone(),
                run,
                progress: if registry.quiet {
                    image::progress::UnpackProgressMode::Off
                } else if std::io::stderr().is_terminal() {
                    image::progress::UnpackProgressMode::Bar
                } else {
                    image::progress::UnpackProgressMode::Lines
                },
            };
            let context = || format!("unpacking {source} into {}", bundle.display());
            if snapshot.is_some() {
                image::snapshot::unpack(&store, &mut img, bundle, &opts).with_context(context)?;
                if registry.quiet {
                    return Ok(());
                }
                eprintln!(
                    "{source} ({}): overlay rootfs mounted in {}",
                    img.digest,
                    bundle.display()
                );
                return Ok(());
            }
            let report = image::unpack::unpack(&mut img, bundle, &opts).with_context(context)?;
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            if registry.quiet {
                return Ok(());
            }
            eprintln!(
                "{source} ({}): {} entries unpacked into {}",
                img.digest,
                report.entries,
                bundle.display()
            );
            Ok(())
        }
        Command::Umount { bundle, rm } => Ok(image::snapshot::umount_bundle(bundle, *rm)?),
    }
}

fn main() {
    let cli = Cli::parse();
    // Before any thread starts: an interrupted unpack removes what it was building.
    image::tempdirs::install_signal_cleanup();
    if let Err(e) = run(cli) {
        if image::tempdirs::interrupted() {
            // The error comes from the directory being removed under the work: the signal's
            // thread reports it and exits with 128+signal.
            loop {
                std::thread::park();
            }
        }
        eprintln!("rrun-image: {}", error_text(&e));
        std::process::exit(1);
    }
}

/// The error and its causes, each said once: many errors name their source in their own
/// message too (`write bin/busybox: No space left on device`), which `{:#}` would repeat.
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
