//! Pure types and rules: no I/O and no AWS, HTTP or Lambda types.
pub mod activity;
pub mod change;
pub mod convergence;
pub mod email;
pub mod health;
pub mod ids;
pub mod job;
pub mod mapping;
pub mod metrics;
pub mod okta;
pub mod rotation;
pub mod routing;
pub mod scim_filter;
pub mod scim_schemas;
pub mod scim_token;
pub mod scim_user;
pub mod secret;
pub mod sso;
pub mod sync_run;
pub mod team;
pub mod tenant;
pub mod user;

pub use email::Email;
pub use ids::{OktaUserId, TenantId, UserId};
pub use secret::Secret;
