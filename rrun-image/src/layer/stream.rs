//! A layer blob turned into its uncompressed tar stream on a separate thread, so decompression
//! (and hashing for the diff id) runs while the main thread writes files. The compression is
//! detected from the data's magic number, not trusted from the media type: `docker save`
//! archives label every layer as a plain tar.

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

pub fn detect(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Opens a layer's (compressed) bytes after verifying them; runs on the layer's own thread.
pub type LayerOpener = Box<dyn FnOnce() -> io::Result<Box<dyn Read + Send>> + Send>;

/// The uncompressed stream of one layer.
pub struct LayerStream {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
    worker: Option<JoinHandle<io::Result<Hasher>>>,
}

fn decoder(open: LayerOpener) -> io::Result<Box<dyn Read>> {
    let mut br = BufReader::with_capacity(CHUNK, open()?);
    let kind = detect(br.fill_buf()?);
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

    fn cursor(data: Vec<u8>) -> LayerOpener {
        Box::new(move || Ok(Box::new(io::Cursor::new(data)) as Box<dyn Read + Send>))
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
}
