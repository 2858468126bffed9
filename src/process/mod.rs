#![forbid(unsafe_code)]
//! The container process's own setup, shared by the init and `exec`: credentials,
//! capabilities, rlimits, the executable lookup and the final execve.

pub mod affinity;
pub mod caps;
pub mod cpus;
pub mod exec;
pub mod mempolicy;
pub mod rlimits;
pub mod sched;
pub mod user;
