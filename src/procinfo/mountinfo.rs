//! `/proc/<pid>/mountinfo`: one line per mount (proc(5)).
//!
//! ```text
//! 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//! (1)(2) (3)  (4)   (5)      (6)      (7)    (8) (9)    (10)         (11)
//! ```
//!
//! Mount id, parent id, `major:minor`, root, mount point, mount options, zero or more optional
//! fields, the separator `-`, the filesystem type, the source and the super options. Fields
//! are separated by one space; the kernel writes a space, tab, newline or backslash inside a
//! field as an octal escape (`\040`, `\011`, `\012`, `\134`), and a mount option value may
//! escape more (`\054` for a comma in an overlay `lowerdir`). Every `\` followed by three octal
//! digits (at most `\377`) is undone, once; any other backslash is kept as it is. Option lists
//! are split at their commas before the escapes are undone, so an escaped comma stays inside
//! its option. Root and mount point are kept byte for byte; the other fields are text, with
//! bytes that are not UTF-8 replaced.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::ProcInfoError;

/// The mount table of this process.
pub const SELF: &str = "/proc/self/mountinfo";

/// One mount: one line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub mount_id: u32,
    pub parent_id: u32,
    /// The device of the filesystem (`st_dev` of files on it).
    pub major: u32,
    pub minor: u32,
    /// The directory of the filesystem that is mounted (`/` unless a bind mount of a subtree).
    pub root: PathBuf,
    /// Where it is mounted, as this process sees it.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw`, `nosuid`, `relatime`...).
    pub mount_options: Vec<String>,
    /// Propagation and the like: `shared:7`, `master:1`, `propagate_from:2`, `unbindable`.
    pub optional_fields: Vec<String>,
    pub fs_type: String,
    /// The mount source (a device, `tmpfs`, `none`...); empty when mounted with an empty one.
    pub source: String,
    /// Per-superblock options (`rw,mode=755`; a v1 cgroup's controllers).
    pub super_options: Vec<String>,
}

/// What is wrong with one mountinfo line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The line ends before the named field.
    #[error("no {0} field")]
    Missing(&'static str),
    /// No `-` ends the optional fields.
    #[error("no ' - ' separator after the optional fields")]
    NoSeparator,
    /// A numeric field is not a number (or too large).
    #[error("{field} is not a number: {value:?}")]
    BadNumber { field: &'static str, value: String },
    /// The device is not `major:minor`.
    #[error("device is not major:minor: {0:?}")]
    BadDevice(String),
}

/// Read and parse the mountinfo file at `path` (e.g. [`SELF`]).
pub fn read(path: &Path) -> Result<Vec<MountInfo>, ProcInfoError> {
    parse(&super::read_file(path)?, path)
}

/// [`read`] of this process's mountinfo.
pub fn read_self() -> Result<Vec<MountInfo>, ProcInfoError> {
    read(Path::new(SELF))
}

/// Parse a whole mountinfo text; `path` names it in errors. Empty lines are skipped.
pub fn parse(text: &[u8], path: &Path) -> Result<Vec<MountInfo>, ProcInfoError> {
    text.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| {
            parse_line(line).map_err(|source| ProcInfoError::MountInfo {
                path: path.to_path_buf(),
                line: i + 1,
                text: String::from_utf8_lossy(line).into_owned(),
                source,
            })
        })
        .collect()
}

/// Parse one line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<MountInfo, LineError> {
    let mut fields = line.split(|&b| b == b' ');
    let mut next = |name: &'static str| fields.next().ok_or(LineError::Missing(name));
    let mount_id = number("mount id", next("mount id")?)?;
    let parent_id = number("parent id", next("parent id")?)?;
    let device = next("major:minor")?;
    let root = next("root")?;
    let mount_point = next("mount point")?;
    let mount_options = next("mount options")?;
    let mut optional_fields = Vec::new();
    loop {
        match fields.next() {
            Some(b"-") => break,
            Some(field) => optional_fields.push(text(field)),
            None => return Err(LineError::NoSeparator),
        }
    }
    let mut next = |name: &'static str| fields.next().ok_or(LineError::Missing(name));
    let fs_type = next("filesystem type")?;
    let source = next("source")?;
    let super_options = next("super options")?;
    // Anything after the super options would be a field of a later kernel: ignored.
    let (major, minor) = device_numbers(device)?;
    Ok(MountInfo {
        mount_id,
        parent_id,
        major,
        minor,
        root: path(root),
        mount_point: path(mount_point),
        mount_options: options(mount_options),
        optional_fields,
        fs_type: text(fs_type),
        source: text(source),
        super_options: options(super_options),
    })
}

fn number(field: &'static str, value: &[u8]) -> Result<u32, LineError> {
    std::str::from_utf8(value)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| LineError::BadNumber {
            field,
            value: String::from_utf8_lossy(value).into_owned(),
        })
}

fn device_numbers(device: &[u8]) -> Result<(u32, u32), LineError> {
    let bad = || LineError::BadDevice(String::from_utf8_lossy(device).into_owned());
    let colon = device.iter().position(|&b| b == b':').ok_or_else(bad)?;
    let major = number("major", &device[..colon]).map_err(|_| bad())?;
    let minor = number("minor", &device[colon + 1..]).map_err(|_| bad())?;
    Ok((major, minor))
}

/// A comma-separated option list, each option unescaped; an empty field is no option.
fn options(field: &[u8]) -> Vec<String> {
    field
        .split(|&b| b == b',')
        .filter(|o| !o.is_empty())
        .map(text)
        .collect()
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(&unescape(field)).into_owned()
}

fn path(field: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape(field)))
}

/// Undo the octal escapes: `\` and three octal digits worth at most 0o377 become that byte.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut rest = field;
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'\\' {
            if let Some(byte) = tail.get(..3).and_then(octal_byte) {
                out.push(byte);
                rest = &tail[3..];
                continue;
            }
        }
        out.push(first);
        rest = tail;
    }
    out
}

fn octal_byte(digits: &[u8]) -> Option<u8> {
    digits.iter().try_fold(0u8, |acc, &d| {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        acc.checked_mul(8)?.checked_add(d - b'0')
    })
}

#[cfg(test)]
mod tests;
