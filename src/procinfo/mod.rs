#![forbid(unsafe_code)]
//! Parsers of the `/proc` files rrun reads: [`mountinfo`] (the mount table of a process) and
//! [`stat`] (a process's state and start time).
//!
//! Each parser takes the file's bytes, not a `String`: a mount point or a command name may hold
//! bytes that are not UTF-8, and such a file is still read whole. Errors name the file (and the
//! line, for mountinfo); malformed input is an error, never a panic.

use std::io::Read;
use std::path::Path;

mod error;
pub mod mountinfo;
pub mod stat;

pub use error::ProcInfoError;

/// Read a whole `/proc` file with plain read(2)s: procfs reports a size of 0, so std's helpers
/// would fstat the file for a size hint that is of no use.
fn read_file(path: &Path) -> Result<Vec<u8>, ProcInfoError> {
    let err = |source| ProcInfoError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk).map_err(err)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}
