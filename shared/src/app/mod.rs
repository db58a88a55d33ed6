//! Use cases, one module per concern, written against ports only.
pub mod admin;
pub mod config_cache;
pub mod connect;
pub mod health;
pub mod hooks;
pub mod invitations;
pub mod provisioning;
pub mod root;
pub mod scim;
pub mod secrets;
pub mod sso;
pub mod sync;
pub mod telemetry;
pub mod tokens;
pub mod user_fetch;

pub use admin::{AdminError, AdminService};
pub use secrets::{SecretError, SecretService};
