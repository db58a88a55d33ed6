//! Pure types and rules: no I/O and no AWS, HTTP or Lambda types.
pub mod activity;
pub mod api_token;
pub mod change;
pub mod convergence;
pub mod email;
pub mod group;
pub mod health;
pub mod ids;
pub mod job;
pub mod legacy_scim_tokens;
pub mod mapping;
pub mod metrics;
pub mod net;
pub mod okta;
pub mod rotation;
pub mod routing;
pub mod saml;
pub mod scim;
pub mod secret;
pub mod sso;
pub mod sync_run;
pub mod team;
pub mod tenant;
pub mod user;

pub use email::Email;
pub use ids::{GroupId, OktaUserId, TenantId, UserId};
pub use secret::Secret;
