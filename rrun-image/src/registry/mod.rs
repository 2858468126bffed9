//! The distribution API v2 client: authentication, requests with retries, and pulling an image
//! into the store.
pub mod auth;
pub mod client;
pub mod pull;
pub mod tls;
