//! The error type of the `/proc` parsers: every variant names the file.

use std::path::PathBuf;

use super::mountinfo::LineError;
use super::stat::StatError;

#[derive(Debug, thiserror::Error)]
pub enum ProcInfoError {
    /// The file could not be read.
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line of a mountinfo file is malformed (`line` counts from 1).
    #[error("{path}: line {line} {text:?}: {source}")]
    MountInfo {
        path: PathBuf,
        line: usize,
        /// The line as read, with bytes that are not UTF-8 replaced.
        text: String,
        source: LineError,
    },
    /// A stat file is malformed.
    #[error("{path}: {source}")]
    Stat { path: PathBuf, source: StatError },
}

impl ProcInfoError {
    /// The errno behind a read error.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ProcInfoError::Read { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
