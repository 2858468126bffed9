//! Progress: per-layer download bars (drawn only on a terminal), and an unpack's progress (a
//! bar on a terminal, a line every few seconds otherwise).

use super::digest::Digest;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    multi: MultiProgress,
}

impl Progress {
    /// Bars drawn on stderr when `visible`, else nothing at all.
    pub fn new(visible: bool) -> Progress {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
        }
    }

    pub fn bar(&self, digest: &Digest, size: u64) -> ProgressBar {
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .expect("valid template")
        .progress_chars("=> ");
        let bar = self.multi.add(ProgressBar::new(size));
        bar.set_style(style);
        bar.set_prefix(digest.hex()[..12].to_string());
        bar
    }
}

/// How an unpack shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnpackProgressMode {
    /// Nothing (`-q`, and the library's default).
    #[default]
    Off,
    /// A bar on a terminal: layer, entries, bytes of tar read.
    Bar,
    /// Not a terminal: a line every few seconds (`RRUN_IMAGE_PROGRESS_INTERVAL_MS`, default
    /// 5000), so that a long unpack in a log is not silence.
    Lines,
}

/// What an unpack has done so far, shared with the thread that shows it.
#[derive(Debug, Default)]
pub struct UnpackCounters {
    pub layer: std::sync::atomic::AtomicU64,
    pub entries: std::sync::atomic::AtomicU64,
    pub bytes: std::sync::atomic::AtomicU64,
}

/// Shows an unpack's progress until dropped; the last bar is cleared, so that the summary that
/// follows is on a line of its own.
pub struct UnpackProgress {
    counters: std::sync::Arc<UnpackCounters>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UnpackProgress {
    pub fn start(mode: UnpackProgressMode, layers: usize) -> UnpackProgress {
        use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
        use std::sync::Arc;
        let counters = Arc::new(UnpackCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = (mode != UnpackProgressMode::Off).then(|| {
            let (c, stop) = (counters.clone(), stop.clone());
            let interval = match mode {
                UnpackProgressMode::Bar => std::time::Duration::from_millis(100),
                _ => std::time::Duration::from_millis(
                    std::env::var("RRUN_IMAGE_PROGRESS_INTERVAL_MS")
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(5000),
                ),
            };
            std::thread::spawn(move || {
                let bar = (mode == UnpackProgressMode::Bar).then(|| {
                    let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                        b.set_style(style);
                    }
                    b
                });
                let text = || {
                    format!(
                        "unpacking layer {}/{layers}: {} entries, {} of tar",
                        c.layer.load(Relaxed) + 1,
                        c.entries.load(Relaxed),
                        indicatif::HumanBytes(c.bytes.load(Relaxed))
                    )
                };
                let mut last = std::time::Instant::now();
                while !stop.load(Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    if last.elapsed() < interval {
                        continue;
                    }
                    last = std::time::Instant::now();
                    match &bar {
                        Some(b) => {
                            b.set_message(text());
                            b.tick();
                        }
                        None => eprintln!("{}", text()),
                    }
                }
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
            })
        });
        UnpackProgress {
            counters,
            stop,
            thread,
        }
    }

    pub fn counters(&self) -> std::sync::Arc<UnpackCounters> {
        self.counters.clone()
    }
}

impl Drop for UnpackProgress {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Counts the bytes read through it.
pub struct CountingReader<R> {
    pub inner: R,
    pub counters: std::sync::Arc<UnpackCounters>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters
            .bytes
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}
