//! rrun: a low-level OCI container runtime.
pub mod rootfs;
