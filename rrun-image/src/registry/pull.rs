//! `pull`: a reference resolved (index -> this platform's manifest), its manifest and config
//! stored, and its missing layers downloaded in parallel straight into the store, each streamed
//! through its sha256 check and resumed from where it stopped after a transient error.

use super::auth::Credentials;
use super::client::{Client, ClientError};
use super::tls::TlsOptions;
use crate::digest::Digest;
use crate::manifest::{Descriptor, Document, ManifestError, Platform, MANIFEST_ACCEPT};
use crate::platform::{self, PlatformError};
use crate::progress::Progress;
use crate::reference::Reference;
use crate::store::{Store, StoreError};
use std::io::Read;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Largest manifest accepted (the distribution spec's limit is 4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;
/// Attempts at one blob when the connection drops mid-body (each resumes).
const BODY_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("{what}: {reason}")]
    Body { what: String, reason: String },
    #[error("{what}: the registry sent {actual}, but {expected} was asked for")]
    ManifestDigest {
        what: String,
        expected: Digest,
        actual: Digest,
    },
}

type Result<T> = std::result::Result<T, PullError>;

pub struct Options {
    pub platform: Platform,
    pub insecure: bool,
    pub tls: TlsOptions,
    pub credentials: Option<Credentials>,
    pub parallel: usize,
    pub progress: bool,
}

pub struct Pulled {
    /// The name the image has in the store.
    pub name: String,
    pub manifest: Descriptor,
    /// Bytes of blobs that came over the wire in this pull (a resumed download counts only
    /// what it fetched; a body abandoned and fetched again counts twice).
    pub downloaded: u64,
    /// Bytes of blobs a killed pull had left and this one resumed from.
    pub resumed: u64,
    pub layers_fetched: usize,
    pub layers_present: usize,
}

/// GET a manifest, checking its digest when the selector is one.
fn get_manifest(
    client: &Client,
    selector: &str,
    what: &str,
) -> Result<(Vec<u8>, Option<String>, Digest)> {
    let accept = MANIFEST_ACCEPT.join(", ");
    let resp = client.get(
        &format!("manifests/{selector}"),
        &[("Accept", &accept)],
        what,
    )?;
    let content_type = resp.header("Content-Type").map(str::to_string);
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut body)
        .map_err(|e| PullError::Body {
            what: what.to_string(),
            reason: e.to_string(),
        })?;
    if body.len() as u64 > MAX_MANIFEST {
        return Err(PullError::Body {
            what: what.to_string(),
            reason: "manifest larger than 4 MiB".to_string(),
        });
    }
    let digest = Digest::of(&body);
    if let Ok(expected) = Digest::parse(selector) {
        if expected != digest {
            return Err(PullError::ManifestDigest {
                what: what.to_string(),
                expected,
                actual: digest,
            });
        }
    }
    Ok((body, content_type, digest))
}

fn descriptor(media_type: Option<String>, data: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_type.unwrap_or_default(),
        digest: Digest::of(data),
        size: data.len() as u64,
        platform: None,
        annotations: Default::default(),
    }
}

/// What the download threads add up.
#[derive(Default)]
struct Transferred {
    /// Blob bytes read from response bodies.
    wire: AtomicU64,
    /// Bytes of partial downloads found in `ingest/` and resumed from.
    resumed: AtomicU64,
}

/// Download one blob into the store (resuming a partial download), verified as it streams.
fn fetch_blob(
    client: &Client,
    store: &Store,
    desc: &Descriptor,
    progress: &Progress,
    transferred: &Transferred,
) -> Result<bool> {
    let what = format!("blob {}", desc.digest);
    let Some(mut ingest) = store.ingest(desc)? else {
        return Ok(false);
    };
    let mut resumed = ingest.offset();
    transferred.resumed.fetch_add(resumed, Ordering::Relaxed);
    let bar = progress.bar(&desc.digest, desc.size);
    let mut attempt = 0;
    let mut buf = vec![0u8; 256 * 1024];
    while ingest.offset() < desc.size {
        attempt += 1;
        let offset = ingest.offset();
        let range = format!("bytes={offset}-");
        let headers: &[(&str, &str)] = if offset > 0 {
            &[("Range", &range)]
        } else {
            &[]
        };
        let resp = client.get(&format!("blobs/{}", desc.digest), headers, &what)?;
        if offset > 0 && resp.status() != 206 {
            ingest.restart()?;
            // What an earlier pull left was not used after all.
            transferred
                .resumed
                .fetch_sub(std::mem::take(&mut resumed), Ordering::Relaxed);
        }
        bar.set_position(ingest.offset());
        let mut body = resp.into_reader();
        let failed = loop {
            match body.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    if ingest.offset() + n as u64 > desc.size {
                        break Some(format!(
                            "more than the {} bytes its descriptor says",
                            desc.size
                        ));
                    }
                    ingest.write(&buf[..n])?;
                    transferred.wire.fetch_add(n as u64, Ordering::Relaxed);
                    bar.inc(n as u64);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e.to_string()),
            }
        };
        match failed {
            Some(reason) if reason.starts_with("more than") => {
                return Err(PullError::Body { what, reason })
            }
            Some(reason) if attempt >= BODY_ATTEMPTS => {
                return Err(PullError::Body { what, reason })
            }
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(250 << attempt)),
            None if ingest.offset() < desc.size && attempt >= BODY_ATTEMPTS => {
                return Err(PullError::Body {
                    what,
                    reason: format!("body ended at {} of {} bytes", ingest.offset(), desc.size),
                })
            }
            None => {}
        }
    }
    ingest.commit()?;
    bar.finish();
    Ok(true)
}

/// Pull `reference` into `store` and name it there.
pub fn pull(store: &Store, reference: &Reference, opts: &Options) -> Result<Pulled> {
    let _lock = store.lock(false)?;
    let name = reference.to_string();
    let client = Client::new(
        reference.api_host(),
        &reference.repository,
        opts.insecure,
        &opts.tls,
        opts.credentials.clone(),
    )?;
    // A digest-pinned manifest already stored needs no request at all.
    let pinned = reference.digest.as_ref().map(|d| Descriptor {
        media_type: String::new(),
        digest: d.clone(),
        size: 0,
        platform: None,
        annotations: Default::default(),
    });
    let (mut body, mut content_type) = match pinned {
        Some(p) if store.blob_path(&p.digest).is_file() => {
            let data = std::fs::read(store.blob_path(&p.digest)).map_err(|e| PullError::Body {
                what: name.clone(),
                reason: e.to_string(),
            })?;
            (data, None)
        }
        _ => {
            let (b, ct, _) = get_manifest(&client, &reference.manifest_selector(), &name)?;
            (b, ct)
        }
    };
    let manifest = loop {
        let doc = Document::parse(&name, content_type.as_deref(), &body)?;
        let desc = descriptor(content_type.clone(), &body);
        store.put(&desc, &body)?;
        match doc {
            Document::Manifest(m) => break (desc, m),
            Document::Index(index) => {
                let chosen = platform::select(&name, &index, &opts.platform)?.clone();
                if store.has(&chosen) {
                    body = store.read_blob(&chosen)?;
                } else {
                    let (b, _, _) = get_manifest(&client, &chosen.digest.to_string(), &name)?;
                    body = b;
                }
                content_type = Some(chosen.media_type.clone()).filter(|m| !m.is_empty());
            }
        }
    };
    let (mut manifest_desc, manifest) = manifest;
    if manifest_desc.media_type.is_empty() {
        manifest_desc.media_type = manifest
            .media_type
            .clone()
            .unwrap_or_else(|| crate::manifest::OCI_MANIFEST.to_string());
    }
    let progress = Progress::new(opts.progress);
    let mut blobs = vec![manifest.config.clone()];
    blobs.extend(manifest.layers.iter().cloned());
    let missing: Vec<&Descriptor> = blobs.iter().filter(|b| !store.has(b)).collect();
    let present = blobs.len() - missing.len();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<bool>>> = Mutex::new(Vec::new());
    let transferred = Transferred::default();
    std::thread::scope(|s| {
        for _ in 0..opts.parallel.clamp(1, 8).min(missing.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(desc) = missing.get(i) else { break };
                let r = fetch_blob(&client, store, desc, &progress, &transferred);
                let failed = r.is_err();
                results.lock().expect("results lock").push(r);
                if failed {
                    // Stop handing out work; the others finish their current blob.
                    next.store(missing.len(), Ordering::SeqCst);
                }
            });
        }
    });
    let mut fetched = 0;
    for r in results.into_inner().expect("results lock") {
        if r? {
            fetched += 1;
        }
    }
    store.tag(&name, &manifest_desc)?;
    Ok(Pulled {
        name,
        manifest: manifest_desc,
        downloaded: transferred.wire.into_inner(),
        resumed: transferred.resumed.into_inner(),
        layers_fetched: fetched,
        layers_present: present,
    })
}
