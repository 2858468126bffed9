#![forbid(unsafe_code)]
//! The container process's own setup, shared by the init and `exec`: credentials,
//! capabilities, rlimits, the executable lookup and the final execve.

pub mod caps;
pub mod exec;
pub mod rlimits;
pub mod sched;
pub mod user;
