#![forbid(unsafe_code)]
//! `checkpoint` and `restore` with CRIU, as runc 1.1 does them, through CRIU's command line
//! (see [`criu`] for why not its RPC). One concern per file: [`options`] (the flags as data),
//! [`plan`] (the CRIU command lines, pure and unit-tested), [`criu`] (running it, its reason
//! for a failure), [`dump`] (checkpoint) and [`restore`].

pub mod criu;
pub mod dump;
pub mod error;
pub mod options;
pub mod plan;
pub mod restore;

pub use dump::checkpoint;
pub use error::CheckpointError;
pub use options::{CgroupsMode, CheckpointOptions, PageServer, RestoreOptions};
pub use restore::{action, restore, Restored};
