//! `unpack`: an image's layers applied in order into `<bundle>/rootfs`, and its config turned
//! into `<bundle>/config.json`. Everything is built in a temporary directory next to the bundle
//! and renamed into place at the end, so a failure never leaves a half bundle behind.

use super::convert::{self, ConvertError};
use super::digest::Digest;
use super::error::{io_err, IoError};
use super::idmap::IdMap;
use super::layer::apply::{Applier, ApplyError, Options as ApplyOptions};
use super::layer::stream::LayerStream;
use super::source::Image;
use librrun::rootfs::resolve::{ResolveError, Root};
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("{0} already exists and is not an empty directory")]
    Exists(PathBuf),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("layer {index} ({diff_id}): {source}")]
    Apply {
        index: usize,
        diff_id: Digest,
        source: ApplyError,
    },
    #[error("layer {index} ({diff_id}): reading the layer: {source}")]
    Read {
        index: usize,
        diff_id: Digest,
        source: io::Error,
    },
    #[error(
        "layer {index}: uncompressed content is {actual}, but the image config says {expected}"
    )]
    DiffId {
        index: usize,
        expected: Digest,
        actual: Digest,
    },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error(transparent)]
    TempDir(#[from] super::tempdirs::TempDirError),
}

type Result<T> = std::result::Result<T, UnpackError>;

pub struct Options {
    pub ids: IdMap,
    pub rootless: bool,
    /// The command to run instead of the image's Entrypoint+Cmd (empty: the image's).
    pub command: Vec<String>,
    /// `docker run`'s options for the config.
    pub run: crate::run_options::RunOptions,
    /// How the unpack shows its progress.
    pub progress: crate::progress::UnpackProgressMode,
}

pub struct Report {
    pub entries: u64,
    pub warnings: Vec<String>,
}

pub use super::tempdirs::TempDir;

/// The bundle as an absolute path, after checking it can be created.
pub fn check_bundle(bundle: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(bundle).map_err(io_err("absolute", bundle))?;
    let empty = match std::fs::read_dir(&abs) {
        Ok(mut d) => d.next().is_none(),
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    };
    if !empty {
        return Err(UnpackError::Exists(abs));
    }
    let parent = abs.parent().unwrap_or(Path::new("/"));
    let parent = parent.canonicalize().map_err(io_err("resolve", parent))?;
    Ok(parent.join(abs.file_name().unwrap_or_default()))
}

/// Apply one layer stream and check what was read against the layer's diff id.
pub fn apply_verified(
    applier: &mut Applier,
    mut stream: LayerStream,
    index: usize,
    diff_id: Digest,
    counters: Option<std::sync::Arc<crate::progress::UnpackCounters>>,
) -> std::result::Result<(), UnpackError> {
    let applied = match counters {
        Some(counters) => applier.apply(crate::progress::CountingReader {
            inner: &mut stream,
            counters,
        }),
        None => applier.apply(&mut stream),
    };
    applied.map_err(|source| match source {
        ApplyError::Tar(source) => UnpackError::Read {
            index,
            diff_id: diff_id.clone(),
            source,
        },
        source => UnpackError::Apply {
            index,
            diff_id: diff_id.clone(),
            source,
        },
    })?;
    let actual = stream
        .finish()
        .map_err(|source| UnpackError::Read {
            index,
            diff_id: diff_id.clone(),
            source,
        })?
        .finish();
    if actual != diff_id {
        return Err(UnpackError::DiffId {
            index,
            expected: diff_id,
            actual,
        });
    }
    Ok(())
}

/// Apply every layer of `image` to `root`, each checked against its diff id.
pub fn apply_layers(
    image: &mut Image,
    root: &Root,
    opts: &ApplyOptions,
    counters: Option<std::sync::Arc<crate::progress::UnpackCounters>>,
) -> Result<Report> {
    let mut applier = Applier::new(root, opts, &[]);
    applier.counters = counters.clone();
    let n = image.diff_ids.len();
    // Layer i+1 is verified and decompressed while layer i is written; no more, to bound memory.
    let mut streams: VecDeque<LayerStream> = VecDeque::new();
    let mut next = 0;
    for index in 0..n {
        while next < n && next <= index + 1 {
            let opener = image.take_layer(next).expect("each layer is opened once");
            streams.push_back(LayerStream::spawn(opener));
            next += 1;
        }
        let stream = streams.pop_front().expect("stream spawned above");
        let diff_id = image.diff_ids[index].clone();
        if let Some(c) = &counters {
            c.layer
                .store(index as u64, std::sync::atomic::Ordering::Relaxed);
        }
        apply_verified(&mut applier, stream, index, diff_id, counters.clone())?;
    }
    let report = Report {
        entries: applier.entries,
        warnings: std::mem::take(&mut applier.warnings),
    };
    applier.finish().map_err(|source| UnpackError::Apply {
        index: n,
        diff_id: image.digest.clone(),
        source,
    })?;
    Ok(report)
}

/// Create `<bundle>/volumes/<dir>` for each image volume, owned like the directory it covers
/// and holding a copy of what the image has there (Docker's copy-up for a new volume).
pub fn make_volumes(tmp: &Path, image: &Image, root: &Root) -> Result<()> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for v in convert::volumes(&image.config) {
        let dir = tmp.join("volumes").join(&v.dir_name);
        std::fs::create_dir_all(&dir).map_err(io_err("mkdir", &dir))?;
        if let Ok(fd) = root.open_path(
            Path::new(&v.destination),
            libc::O_RDONLY | libc::O_DIRECTORY,
        ) {
            let dst = std::fs::File::open(&dir).map_err(io_err("open", &dir))?;
            crate::volume_copy::copy_tree(fd.as_fd(), dst.as_fd())
                .map_err(io_err("copy the image's content into volume", &dir))?;
            let md = std::fs::File::from(fd)
                .metadata()
                .map_err(io_err("stat", Path::new(&v.destination)))?;
            std::os::unix::fs::chown(&dir, Some(md.uid()), Some(md.gid()))
                .map_err(io_err("chown", &dir))?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(md.mode() & 0o7777))
                .map_err(io_err("chmod", &dir))?;
        }
    }
    Ok(())
}

/// Write config.json for `image` into the bundle directory being built.
pub fn write_config(
    tmp: &Path,
    final_bundle: &Path,
    image: &Image,
    root: &Root,
    opts: &Options,
) -> Result<()> {
    make_volumes(tmp, image, root)?;
    let config = convert::runtime_config(
        &image.config,
        root,
        &convert::Options {
            ids: &opts.ids,
            rootless: opts.rootless,
            bundle: final_bundle,
            command: Some(&opts.command),
            run: &opts.run,
        },
    )?;
    let path = tmp.join("config.json");
    let data = serde_json::to_vec_pretty(&config).expect("config serialises");
    std::fs::write(&path, data).map_err(io_err("write", &path))?;
    Ok(())
}

/// Unpack `image` into a new bundle at `bundle`.
pub fn unpack(image: &mut Image, bundle: &Path, opts: &Options) -> Result<Report> {
    let final_bundle = check_bundle(bundle)?;
    let tmp = TempDir::beside(&final_bundle)?;
    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir(&rootfs).map_err(io_err("mkdir", &rootfs))?;
    std::fs::set_permissions(&rootfs, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(io_err("chmod", &rootfs))?;
    let root = Root::open(&rootfs)?;
    let apply_opts = ApplyOptions {
        ids: opts.ids.clone(),
        overlay_whiteouts: false,
        skip_devices: opts.rootless,
    };
    let progress = crate::progress::UnpackProgress::start(opts.progress, image.diff_ids.len());
    let report = apply_layers(image, &root, &apply_opts, Some(progress.counters()))?;
    drop(progress);
    write_config(tmp.path(), &final_bundle, image, &root, opts)?;
    tmp.commit(&final_bundle)?;
    Ok(report)
}
