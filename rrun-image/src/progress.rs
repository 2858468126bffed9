//! Per-layer download progress bars, drawn only on a terminal.

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
