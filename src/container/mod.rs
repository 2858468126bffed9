#![forbid(unsafe_code)]
//! Containers: the [`Container`] type with create, start, kill, delete, exec, pause, resume and
//! update, the one table of what each status allows ([`operation`]), and the state directory
//! they keep under `--root` ([`dir`], [`state`]).
//!
//! Crash consistency: `create` writes a first state.json (marked `creating`, naming the cgroups
//! it is about to make) before it makes anything, and saves the init's pid as soon as the init
//! exists, so a `create` killed at any point leaves a state that `delete --force` can clean.
//! No process that outlives a command holds the lock: the init gets its own open of the
//! directory, not a copy of the locked descriptor.

pub mod console;
mod create;
pub mod dir;
pub mod error;
mod exec;
mod lifecycle;
pub mod operation;
pub mod start_fifos;
pub mod state;

pub use console::Console;
pub use create::{CreateOptions, Created};
pub use dir::{list_ids, validate_id, write_atomic, ContainerDir, LOCK_WAIT, STATE_FILE};
pub use error::ContainerError;
pub use exec::{ExecOptions, Executed};
pub use lifecycle::Container;
pub use operation::{Decision, Operation};
pub use start_fifos::{EXEC_FIFO, EXEC_STATUS};
