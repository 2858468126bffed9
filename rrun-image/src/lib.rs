//! rrun-image: registry images, OCI layouts and `docker save` archives turned into bundles.
//! A crate of its own: the `rrun` binary never links it (`cargo tree -p rrun` has no HTTP,
//! TLS or compression crate). From the runtime it uses only `librrun::rootfs::resolve`.
//!
//! No `unsafe` outside `sys`, which wraps the few syscalls that neither std nor nix does.
#![deny(unsafe_code)]

pub mod convert;
pub mod digest;
pub mod docker_profile;
pub mod error;
pub mod fsops;
pub mod idmap;
pub mod layer;
pub mod manifest;
pub mod platform;
pub mod progress;
pub mod reference;
pub mod registry;
pub mod run_options;
pub mod snapshot;
pub mod source;
pub mod store;
#[allow(unsafe_code)]
mod sys;
pub mod transport;
pub mod unpack;
pub mod user;
pub mod volume_copy;
