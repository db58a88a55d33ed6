//! Use cases, one module per concern, written against ports only.
pub mod admin;
pub mod secrets;

pub use admin::{AdminError, AdminService};
pub use secrets::{SecretError, SecretService};
