//! A small blocking D-Bus client, only as much of the protocol as the systemd driver needs:
//! the wire format ([`wire`]), messages ([`message`]) and a unix-socket connection with EXTERNAL
//! authentication ([`connection`]). No async runtime, no C library, no unsafe code.
//!
//! Why not a crate: zbus (even its blocking API) runs an async executor inside, which the rrun
//! binary must not carry; the `dbus` crate links libdbus-1 (C), which the static release build
//! would have to carry too; youki wrote its own small client for the same reasons, runc uses
//! godbus (pure Go) and crun libsystemd's sd-bus.

pub mod connection;
mod error;
pub mod message;
pub mod wire;

pub use connection::Connection;
pub use error::DbusError;
pub use message::{Kind, Message};
pub use wire::Value;
