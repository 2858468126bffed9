#![forbid(unsafe_code)]
//! What the library tells its caller besides results: warnings (an accepted config value that
//! cannot be honoured, a failing poststart or poststop hook) and debug notes. The CLI prints
//! them in runc's log format; tests and other callers can collect or drop them.

pub trait Log {
    fn warn(&self, msg: &str);
    fn debug(&self, msg: &str);
}

/// A log that drops everything.
pub struct Silent;

impl Log for Silent {
    fn warn(&self, _msg: &str) {}
    fn debug(&self, _msg: &str) {}
}
