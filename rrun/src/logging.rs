//! `--log` and `--log-format`: where rrun's own messages go and in which shape.
//!
//! As runc does: without `--log`, messages go to stderr as logrus text lines
//! (`time="..." level=error msg="..."`: scripts and suites look for `error` there); with
//! `--log FILE` they are appended to the file, as `{"level":"error","msg":...,"time":...}` with
//! `--log-format json` (the containerd shim shows the last such line to the user) or as text,
//! and an error also reaches stderr as one plain line.

use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Default)]
pub struct Logger {
    pub file: Option<PathBuf>,
    pub format: Format,
    pub debug: bool,
}

#[derive(serde::Serialize)]
struct JsonLine<'a> {
    level: &'a str,
    msg: &'a str,
    time: String,
}

/// A log line in `format`, stamped now.
fn format_line(format: Format, level: &str, msg: &str) -> String {
    let time = librrun::timefmt::now(false);
    match format {
        Format::Json => {
            serde_json::to_string(&JsonLine { level, msg, time }).expect("log line serialises")
        }
        Format::Text => format!("time={:?} level={level} msg={:?}", time, msg),
    }
}

impl Logger {
    /// One formatted line for the log file.
    pub fn line(&self, level: &str, msg: &str) -> String {
        format_line(self.format, level, msg)
    }

    fn write_file(&self, level: &str, msg: &str) {
        let Some(p) = &self.file else { return };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            let _ = writeln!(f, "{}", self.line(level, msg));
        }
    }

    /// Without a log file: the text line on stderr.
    fn write_stderr(&self, level: &str, msg: &str) {
        eprintln!("{}", format_line(Format::Text, level, msg));
    }

    pub fn error(&self, msg: &str) {
        if self.file.is_some() {
            self.write_file("error", msg);
            eprintln!("{msg}");
        } else {
            self.write_stderr("error", msg);
        }
    }

    pub fn warn(&self, msg: &str) {
        if self.file.is_some() {
            self.write_file("warning", msg);
        } else {
            self.write_stderr("warning", msg);
        }
    }

    pub fn debug(&self, msg: &str) {
        if !self.debug {
            return;
        }
        if self.file.is_some() {
            self.write_file("debug", msg);
        } else {
            self.write_stderr("debug", msg);
        }
    }
}

impl librrun::log::Log for Logger {
    fn warn(&self, msg: &str) {
        Logger::warn(self, msg)
    }
    fn debug(&self, msg: &str) {
        Logger::debug(self, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_shape() {
        let l = Logger {
            format: Format::Json,
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_str(&l.line("error", "a \"b\"")).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "a \"b\"");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
}
