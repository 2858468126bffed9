//! `--log` and `--log-format`: where rrun's own messages go and in which shape.
//!
//! As runc does, errors always reach stderr as one plain line; with `--log FILE` they are also
//! appended there, as `{"level":"error","msg":...,"time":...}` with `--log-format json` (the
//! containerd shim shows the last such line to the user) or logfmt-like text otherwise.

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

impl Logger {
    /// One formatted line for the log file.
    pub fn line(&self, level: &str, msg: &str) -> String {
        let time = librrun::timefmt::now(false);
        match self.format {
            Format::Json => {
                serde_json::to_string(&JsonLine { level, msg, time }).expect("log line serialises")
            }
            Format::Text => format!("time={:?} level={level} msg={:?}", time, msg),
        }
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

    pub fn error(&self, msg: &str) {
        self.write_file("error", msg);
        eprintln!("{msg}");
    }

    pub fn warn(&self, msg: &str) {
        self.write_file("warning", msg);
        if self.file.is_none() {
            eprintln!("warning: {msg}");
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write_file("debug", msg);
            if self.file.is_none() {
                eprintln!("debug: {msg}");
            }
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
