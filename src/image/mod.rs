//! rrun-image: registry images, OCI layouts and `docker save` archives turned into bundles.
//! Compiled into the `rrun-image` binary only; the runtime never links it.
pub mod convert;
pub mod digest;
pub mod fsops;
pub mod idmap;
pub mod layer;
pub mod manifest;
pub mod platform;
pub mod progress;
pub mod reference;
pub mod registry;
pub mod snapshot;
pub mod source;
pub mod store;
pub mod unpack;
pub mod user;
