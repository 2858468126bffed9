//! A layer blob turned into its uncompressed tar stream on a separate thread, so decompression
//! (and hashing for the diff id) runs while the main thread writes files. The compression is
//! the one the layer descriptor's media type names (`…tar`, `…tar+gzip`, `…tar+zstd`, Docker's
//! `…diff.tar.gzip`); when there is no media type (a `docker save` archive) or it is not a tar
//! layer type, it is detected from the data's magic number. A media type naming a compression
//! this tool cannot read is refused before any layer is opened.

use crate::digest::Hasher;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

const CHUNK: usize = 1 << 20;
/// Chunks buffered ahead of the writer: bounds memory to a few MiB per layer.
const AHEAD: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A layer media type that names a compression other than gzip and zstd.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("layer media type {media_type:?} names an unsupported compression {compression:?} (supported: uncompressed tar, gzip, zstd)")]
pub struct UnknownCompression {
    pub media_type: String,
    pub compression: String,
}

impl Compression {
    /// The compression a layer media type names; `None` when it says nothing about one (empty,
    /// or not a tar layer type), and the data is then sniffed.
    pub fn of_media_type(media_type: &str) -> Result<Option<Compression>, UnknownCompression> {
        // Parameters (`; charset=…`) say nothing about the compression.
        let base = media_type.split(';').next().unwrap_or("").trim();
        // OCI: `…tar+gzip`; Docker: `…diff.tar.gzip`.
        let suffix = match base
            .rsplit_once("tar+")
            .or_else(|| base.rsplit_once(".tar."))
        {
            Some((_, suffix)) => suffix,
            None if base.ends_with(".tar") => return Ok(Some(Compression::None)),
            None => return Ok(None),
        };
        match suffix {
            "gzip" => Ok(Some(Compression::Gzip)),
            "zstd" => Ok(Some(Compression::Zstd)),
            other => Err(UnknownCompression {
                media_type: media_type.to_string(),
                compression: other.to_string(),
            }),
        }
    }
}

/// The compression the data's first bytes show: gzip's magic, a zstd frame's, or a zstd
/// skippable frame's (0x184D2A50..=0x184D2A5F, little-endian), which may open a zstd stream.
pub fn detect(prefix: &[u8]) -> Compression {
    match prefix {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        [low, 0x2a, 0x4d, 0x18, ..] if low & 0xf0 == 0x50 => Compression::Zstd,
        _ => Compression::None,
    }
}

/// Hands out a layer's (compressed) bytes after verifying them; runs on the layer's own thread.
pub type OpenFn = Box<dyn FnOnce() -> io::Result<Box<dyn Read + Send>> + Send>;

/// How to open a layer, and its compression when its descriptor names one.
pub struct LayerOpener {
    open: OpenFn,
    compression: Option<Compression>,
}

impl LayerOpener {
    /// A layer whose compression is detected from its data.
    pub fn sniffed(open: OpenFn) -> LayerOpener {
        LayerOpener {
            open,
            compression: None,
        }
    }

    /// A layer whose descriptor has `media_type` (sniffed when that names no compression).
    pub fn with_media_type(
        media_type: &str,
        open: OpenFn,
    ) -> Result<LayerOpener, UnknownCompression> {
        Ok(LayerOpener {
            open,
            compression: Compression::of_media_type(media_type)?,
        })
    }
}

/// The uncompressed stream of one layer.
pub struct LayerStream {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
    worker: Option<JoinHandle<io::Result<Hasher>>>,
}

fn decoder(layer: LayerOpener) -> io::Result<Box<dyn Read>> {
    let mut br = BufReader::with_capacity(CHUNK, (layer.open)()?);
    let kind = match layer.compression {
        Some(c) => c,
        None => detect(br.fill_buf()?),
    };
    Ok(match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(zstd::Decoder::with_buffer(br)?),
        Compression::None => Box::new(br),
    })
}

fn pump(
    blob: LayerOpener,
    tx: &std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>,
) -> io::Result<Hasher> {
    let mut r = decoder(blob)?;
    let mut hasher = Hasher::default();
    loop {
        let mut buf = vec![0u8; CHUNK];
        let mut n = 0;
        while n < CHUNK {
            match r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            return Ok(hasher);
        }
        buf.truncate(n);
        hasher.update(&buf);
        if tx.send(Ok(buf)).is_err() {
            // The reader gave up (an error while applying): stop quietly.
            return Ok(hasher);
        }
    }
}

impl LayerStream {
    /// Open (verify) and decompress a layer on a new thread.
    pub fn spawn(blob: LayerOpener) -> LayerStream {
        let (tx, rx) = sync_channel(AHEAD);
        let worker = std::thread::spawn(move || {
            let r = pump(blob, &tx);
            if let Err(e) = &r {
                let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
            }
            r
        });
        LayerStream {
            rx,
            chunk: Vec::new(),
            pos: 0,
            done: false,
            worker: Some(worker),
        }
    }

    /// Read to the end (the tar reader stops before the archive's trailing padding) and return
    /// the hash of the whole uncompressed stream: the layer's diff id.
    pub fn finish(mut self) -> io::Result<Hasher> {
        io::copy(&mut self, &mut io::sink())?;
        self.join()
    }

    fn join(&mut self) -> io::Result<Hasher> {
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("layer decompression thread panicked")),
            None => Err(io::Error::other("layer stream already finished")),
        }
    }
}

impl Read for LayerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use std::io::Write;

    fn open(data: Vec<u8>) -> OpenFn {
        Box::new(move || Ok(Box::new(io::Cursor::new(data)) as Box<dyn Read + Send>))
    }

    fn cursor(data: Vec<u8>) -> LayerOpener {
        LayerOpener::sniffed(open(data))
    }

    fn roundtrip(data: &[u8], compressed: Vec<u8>) {
        let mut s = LayerStream::spawn(cursor(compressed));
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(s.finish().unwrap().finish(), Digest::of(data));
    }

    #[test]
    fn decompresses_all_kinds_and_rejects_truncation() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        roundtrip(&data, data.clone());
        roundtrip(&data, gz.clone());
        roundtrip(&data, zst.clone());
        for cut in [gz[..gz.len() / 2].to_vec(), zst[..zst.len() / 2].to_vec()] {
            let s = LayerStream::spawn(cursor(cut));
            assert!(s.finish().is_err());
        }
    }

    /// A zstd stream may start with a skippable frame (magic 0x184D2A50..=0x184D2A5F, a
    /// little-endian length, that many bytes of payload) before its first data frame.
    fn skippable_then(magic_low: u8, zst: &[u8]) -> Vec<u8> {
        let mut v = vec![magic_low, 0x2a, 0x4d, 0x18];
        v.extend_from_slice(&5u32.to_le_bytes());
        v.extend_from_slice(b"extra");
        v.extend_from_slice(zst);
        v
    }

    #[test]
    fn zstd_with_a_leading_skippable_frame_is_sniffed() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        for low in [0x50, 0x5f] {
            roundtrip(&data, skippable_then(low, &zst));
        }
    }

    #[test]
    fn the_media_type_chooses_the_decoder() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let zst = skippable_then(0x53, &zstd::encode_all(&data[..], 1).unwrap());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        for (media_type, blob) in [
            ("application/vnd.oci.image.layer.v1.tar+zstd", zst),
            ("application/vnd.oci.image.layer.v1.tar+gzip", gz.clone()),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                gz.clone(),
            ),
            (
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                gz.clone(),
            ),
            // A plain tar is read as it is, even when it looks compressed.
            ("application/vnd.oci.image.layer.v1.tar", gz.clone()),
            ("application/vnd.docker.image.rootfs.diff.tar", data.clone()),
        ] {
            let expected = if media_type.ends_with(".tar") {
                &blob
            } else {
                &data
            };
            let layer = LayerOpener::with_media_type(media_type, open(blob.clone())).unwrap();
            let mut s = LayerStream::spawn(layer);
            let mut out = Vec::new();
            s.read_to_end(&mut out).unwrap();
            assert_eq!(&out, expected, "{media_type}");
        }
        // No media type, or one that is not a tar layer's: sniffed.
        for media_type in ["", "application/octet-stream"] {
            assert_eq!(Compression::of_media_type(media_type), Ok(None));
        }
        let e = Compression::of_media_type("application/vnd.oci.image.layer.v1.tar+lz4")
            .err()
            .unwrap();
        assert_eq!(e.compression, "lz4");
        assert!(e
            .to_string()
            .contains("application/vnd.oci.image.layer.v1.tar+lz4"));
    }
}
