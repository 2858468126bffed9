//! rrun: a low-level OCI container runtime.
//!
//! The flow of `create`: [`spec::load`] -> [`container::ContainerDir::create`] -> [`cgroups`] ->
//! [`init::launch`] (parent, stage-1, stage-2; see init/sync.rs for the protocol) -> state.json.
//!
//! Unsafe code is denied here and forbidden in every module but [`sys`], which holds all of
//! it behind safe functions (a module's own `forbid` could not be lifted for `sys`, so the
//! crate root denies and `sys` alone is allowed).

#![deny(unsafe_code)]

pub mod cgroups;
pub mod checkpoint;
pub mod container;
pub mod faults;
pub mod hooks;
pub mod init;
pub mod log;
pub mod lsm;
pub mod namespaces;
pub mod netdev;
pub mod process;
pub mod procinfo;
pub mod rootfs;
pub mod rootless;
pub mod sealed_exe;
pub mod seccomp;
pub mod signals;
pub mod spec;
#[allow(unsafe_code)]
pub mod sys;
pub mod timefmt;
pub mod tty;
