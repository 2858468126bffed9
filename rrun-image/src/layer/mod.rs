//! Layers: decompressing a layer blob (in its own thread, hashed for its diff id) and applying
//! the tar stream to a root filesystem with OCI layer semantics.
pub mod apply;
mod create;
mod deferred;
mod entry;
mod hardlink;
pub mod stream;
#[cfg(test)]
mod tests;
mod whiteout;
