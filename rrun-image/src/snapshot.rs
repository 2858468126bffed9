//! `unpack --snapshot overlay`: each layer is unpacked once into the store's layer cache
//! (`<root>/layers/<diff id>`, whiteouts in overlayfs's own format) and a bundle's rootfs is an
//! overlay mount of those directories with a private upper dir, so any number of bundles of one
//! image share one copy of its files. `rrun-image umount` takes the mount down.

use super::error::{io_err, IoError};
use super::idmap::IdMap;
use super::layer::apply::{Applier, ApplyError, Options as ApplyOptions};
use super::layer::stream::LayerStream;
use super::source::Image;
use super::store::{self, Store, StoreError};
use super::unpack::{self, TempDir, UnpackError};
use librrun::rootfs::resolve::Root;
use nix::mount::{MntFlags, MsFlags};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// Longest overlay option string `mount(2)` takes (one page).
const MAX_MOUNT_DATA: usize = 4095;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    TempDir(#[from] super::tempdirs::TempDirError),
    #[error(
        "{0} layers make an overlay option string longer than a page; unpack without --snapshot"
    )]
    TooManyLayers(usize),
    #[error("{0} is not an overlay snapshot made by rrun-image (no mounted rootfs)")]
    NotMounted(PathBuf),
}

type Result<T> = std::result::Result<T, SnapshotError>;

/// The cache directory name of a layer: its diff id, plus the id map when there is one (a
/// mapped layer has different owners on disk).
fn cache_name(diff_id: &str, ids: &IdMap) -> String {
    if !ids.is_userns() {
        return diff_id.to_string();
    }
    let map = format!("{:?}{:?}{:?}", ids.uids, ids.gids, ids.collapse);
    let tag = super::digest::Digest::of(map.as_bytes());
    format!("{diff_id}-{}", &tag.hex()[..12])
}

/// Make sure every layer of `image` is in the cache; returns their directories, bottom first.
/// The layers extracted now count in `counters` (the unpack's progress).
fn ensure_layers(
    store: &Store,
    image: &mut Image,
    opts: &ApplyOptions,
    counters: &std::sync::Arc<crate::progress::UnpackCounters>,
) -> Result<Vec<PathBuf>> {
    let dir = store.layers_dir();
    std::fs::create_dir_all(&dir).map_err(io_err("mkdir", &dir))?;
    let mut paths = Vec::new();
    let mut lowers: Vec<Root> = Vec::new();
    for (index, diff_id) in image.diff_ids.clone().into_iter().enumerate() {
        let path = dir.join(cache_name(diff_id.hex(), &opts.ids));
        let _lock = store::flock(&path.with_extension("lock"), true, true)?;
        if !path.exists() {
            let tmp = TempDir::beside(&path)?;
            let root = Root::open(tmp.path()).map_err(UnpackError::from)?;
            let mut applier = Applier::new(&root, opts, &lowers);
            applier.counters = Some(counters.clone());
            counters
                .layer
                .store(index as u64, std::sync::atomic::Ordering::Relaxed);
            let opener = image.take_layer(index).expect("each layer is opened once");
            let stream = LayerStream::spawn(opener);
            let wrap = |source: ApplyError| UnpackError::Apply {
                index,
                diff_id: diff_id.clone(),
                source,
            };
            unpack::apply_verified(
                &mut applier,
                stream,
                index,
                diff_id.clone(),
                Some(counters.clone()),
            )?;
            applier.finish().map_err(wrap)?;
            tmp.commit(&path)?;
        }
        lowers.push(Root::open(&path).map_err(UnpackError::from)?);
        paths.push(path);
    }
    Ok(paths)
}

fn mount_overlay(lower: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Result<()> {
    // overlayfs lists the topmost lower directory first.
    let lowerdir: Vec<String> = lower
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowerdir.join(":"),
        upper.display(),
        work.display()
    );
    if data.len() > MAX_MOUNT_DATA {
        return Err(SnapshotError::TooManyLayers(lower.len()));
    }
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|e| io_err("mount overlay on", target)(e.into()))?;
    Ok(())
}

fn umount(target: &Path) -> io::Result<()> {
    Ok(nix::mount::umount2(target, MntFlags::empty())?)
}

/// Unmounts the rootfs of a bundle being built if the build fails.
struct MountGuard(Option<PathBuf>);

impl Drop for MountGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = umount(&p);
        }
    }
}

/// Build a bundle whose rootfs is an overlay of the cached layers.
pub fn unpack(
    store: &Store,
    image: &mut Image,
    bundle: &Path,
    opts: &unpack::Options,
) -> Result<()> {
    let final_bundle = unpack::check_bundle(bundle)?;
    let apply_opts = ApplyOptions {
        ids: opts.ids.clone(),
        overlay_whiteouts: true,
        skip_devices: opts.rootless,
    };
    // The progress of the layers not cached yet (the first snapshot of an image).
    let progress = crate::progress::UnpackProgress::start(opts.progress, image.diff_ids.len());
    let layers = ensure_layers(store, image, &apply_opts, &progress.counters());
    drop(progress);
    let layers = layers?;
    let tmp = TempDir::beside(&final_bundle)?;
    let (rootfs, upper, work) = (
        tmp.path().join("rootfs"),
        tmp.path().join("upper"),
        tmp.path().join("work"),
    );
    for d in [&rootfs, &upper, &work] {
        std::fs::create_dir(d).map_err(io_err("mkdir", d))?;
    }
    if let Some((uid, gid)) = opts
        .ids
        .host_owner(0, 0, "/")
        .ok()
        .filter(|_| opts.ids.is_userns())
    {
        std::os::unix::fs::chown(&upper, Some(uid), Some(gid)).map_err(io_err("chown", &upper))?;
    }
    mount_overlay(&layers, &upper, &work, &rootfs)?;
    let mut guard = MountGuard(Some(rootfs.clone()));
    let root = Root::open(&rootfs).map_err(UnpackError::from)?;
    unpack::write_config(tmp.path(), &final_bundle, image, &root, opts)?;
    drop(root);
    tmp.commit(&final_bundle)?;
    guard.0 = None;
    Ok(())
}

/// The mount points listed in /proc/self/mountinfo, and every overlay mount's options.
fn mountinfo() -> Result<Vec<(PathBuf, String)>> {
    let p = Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(p).map_err(io_err("read", p))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let mount_point = f.get(4)?.replace("\\040", " ");
            Some((PathBuf::from(mount_point), f.last()?.to_string()))
        })
        .collect())
}

/// Unmount a snapshot bundle's rootfs; with `remove`, delete the bundle too.
pub fn umount_bundle(bundle: &Path, remove: bool) -> Result<()> {
    let rootfs = bundle.join("rootfs");
    let rootfs = rootfs.canonicalize().map_err(io_err("resolve", &rootfs))?;
    if !mountinfo()?.iter().any(|(m, _)| *m == rootfs) {
        return Err(SnapshotError::NotMounted(bundle.to_path_buf()));
    }
    umount(&rootfs).map_err(io_err("umount", &rootfs))?;
    if remove {
        std::fs::remove_dir_all(bundle).map_err(io_err("remove", bundle))?;
    }
    Ok(())
}

/// Remove cached layers no stored image uses and no mounted overlay lists. The caller holds
/// the store's exclusive lock. Returns the number of layer directories removed.
pub fn gc_layers(store: &Store) -> Result<u64> {
    let dir = store.layers_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let (_, diff_ids) = store.reachable()?;
    let keep: BTreeSet<String> = diff_ids.iter().map(|d| d.hex().to_string()).collect();
    let mounted: Vec<String> = mountinfo()?.into_iter().map(|(_, opts)| opts).collect();
    let mut removed = 0;
    for e in entries {
        let path = e.map_err(io_err("readdir", &dir))?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".lock") || name.starts_with('.') {
            continue;
        }
        let diff_id = name.split('-').next().unwrap_or("");
        let in_use = mounted
            .iter()
            .any(|o| o.contains(&path.display().to_string()));
        if !keep.contains(diff_id) && !in_use {
            std::fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
            let _ = std::fs::remove_file(path.with_extension("lock"));
            removed += 1;
        }
    }
    Ok(removed)
}
