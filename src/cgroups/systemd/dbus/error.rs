//! The errors of the D-Bus client.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    /// The bus socket could not be connected to.
    #[error("connect to D-Bus socket {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("D-Bus {op} on {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The peer did not accept the EXTERNAL authentication.
    #[error("D-Bus authentication on {path} refused: {reply:?}")]
    Auth { path: PathBuf, reply: String },
    /// A message could not be built or parsed.
    #[error("malformed D-Bus message: {0}")]
    Malformed(String),
    /// The peer answered a call with an error.
    #[error("{member}: {name}: {message}")]
    Remote {
        member: String,
        name: String,
        message: String,
    },
    /// No answer in time.
    #[error("D-Bus: no {what} from {path} within {secs} s")]
    Timeout {
        what: String,
        path: PathBuf,
        secs: u64,
    },
    /// The bus address is not one this client can use.
    #[error("D-Bus address {0:?}: only unix:path=... is supported")]
    Address(String),
}

impl DbusError {
    pub(crate) fn malformed(reason: String) -> DbusError {
        DbusError::Malformed(reason)
    }

    /// The D-Bus error name of a remote error (`org.freedesktop.systemd1.NoSuchUnit`).
    pub fn remote_name(&self) -> Option<&str> {
        match self {
            DbusError::Remote { name, .. } => Some(name),
            _ => None,
        }
    }
}
