//! `/proc/<pid>/stat`: the state letter and start time of a process (proc(5)).
//!
//! The command name (field 2) is in parentheses and may itself hold spaces, parentheses and
//! bytes that are not UTF-8, so the fields are counted after the last `)`.

use std::path::{Path, PathBuf};

use super::ProcInfoError;

/// A process as /proc shows it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `Z`, `X`...
    pub state: char,
    /// Field 22: clock ticks after boot at which the process started; with the pid it names
    /// the process even after the pid is reused.
    pub start_time: u64,
}

/// What is wrong with a stat file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatError {
    #[error("no ')' closing the command name")]
    NoCommandEnd,
    /// The text ends before the named field.
    #[error("no {0} field")]
    Missing(&'static str),
    #[error("start time is not a number: {0:?}")]
    BadStartTime(String),
}

/// Read and parse `/proc/<pid>/stat`.
pub fn read(pid: i32) -> Result<ProcStat, ProcInfoError> {
    let path = PathBuf::from(format!("/proc/{pid}/stat"));
    parse(&super::read_file(&path)?, &path)
}

/// Parse the text of a stat file; `path` names it in errors.
pub fn parse(text: &[u8], path: &Path) -> Result<ProcStat, ProcInfoError> {
    parse_fields(text).map_err(|source| ProcInfoError::Stat {
        path: path.to_path_buf(),
        source,
    })
}

/// The state letter and start time of `pid`; None when the process is gone (or its stat file
/// cannot be read or parsed).
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    read(pid).ok()
}

/// [`parse`] of a stat text held as a string, for callers that only need to know if it parsed.
pub fn parse_stat(s: &str) -> Option<ProcStat> {
    parse_fields(s.as_bytes()).ok()
}

fn parse_fields(text: &[u8]) -> Result<ProcStat, StatError> {
    let comm_end = text
        .iter()
        .rposition(|&b| b == b')')
        .ok_or(StatError::NoCommandEnd)?;
    let mut fields = text[comm_end + 1..]
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty());
    // The fields after the command name start at field 3 (state); start time is field 22.
    let state = fields
        .next()
        .and_then(|f| f.first())
        .ok_or(StatError::Missing("state"))?;
    let start_time = fields.nth(18).ok_or(StatError::Missing("start time"))?;
    let start_time = std::str::from_utf8(start_time)
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StatError::BadStartTime(String::from_utf8_lossy(start_time).into_owned()))?;
    Ok(ProcStat {
        state: char::from(*state),
        start_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str =
        "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";

    #[test]
    fn stat_with_odd_comm() {
        let st = parse_stat(LINE).unwrap();
        assert_eq!(st.state, 'S');
        assert_eq!(st.start_time, 987654);
    }

    #[test]
    fn a_command_name_that_is_not_utf8() {
        let mut text = b"7 (\xff) x) ".to_vec();
        text.extend_from_slice(b"Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 42 1");
        let st = parse(&text, Path::new("/proc/7/stat")).unwrap();
        assert_eq!((st.state, st.start_time), ('Z', 42));
    }

    #[test]
    fn truncated_and_garbled_texts_are_errors() {
        for end in 0..LINE.len() {
            let cut = &LINE[..end];
            // Cut inside the start time, the number is shorter, not wrong.
            if end > LINE.find(" 987654").unwrap() + 1 {
                assert!(parse_stat(cut).is_some(), "{cut}");
            } else {
                assert!(parse_stat(cut).is_none(), "{cut}");
            }
        }
        let err = parse(b"1 (x) S 1 2", Path::new("/proc/1/stat")).unwrap_err();
        assert_eq!(err.to_string(), "/proc/1/stat: no start time field");
        let bad = LINE.replace("987654", "98x654");
        assert_eq!(
            parse_fields(bad.as_bytes()),
            Err(StatError::BadStartTime("98x654".into()))
        );
        assert_eq!(
            parse_fields(b"no parenthesis"),
            Err(StatError::NoCommandEnd)
        );
        assert_eq!(parse_fields(b"1 (x)"), Err(StatError::Missing("state")));
        assert_eq!(
            parse_fields(LINE.replace("987654", "-1").as_bytes()),
            Err(StatError::BadStartTime("-1".into()))
        );
    }

    #[test]
    fn own_stat_is_readable() {
        let st = proc_stat(std::process::id() as i32).unwrap();
        assert!(st.start_time > 0);
        let err = read(-1).unwrap_err();
        assert!(err.to_string().contains("/proc/-1/stat"), "{err}");
    }
}
