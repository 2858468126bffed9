//! rrun: a low-level OCI container runtime.
pub mod cgroups;
pub mod rootfs;
