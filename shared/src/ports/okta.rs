use std::time::Duration;

use async_trait::async_trait;

use super::Cause;
use crate::domain::okta::{AppUser, OktaUser};
use crate::domain::{OktaUserId, Secret};

/// Which Okta org to call, and with what token.
#[derive(Debug, Clone)]
pub struct OktaOrg {
    /// Whose org this is (for metrics and logs; never sent to Okta).
    pub tenant: crate::domain::TenantId,
    /// `https://{org}.okta.com` (validated when the tenant config was written).
    pub base_url: String,
    pub api_token: Secret,
}

/// One page of app users and the opaque link to the next.
#[derive(Debug, Clone)]
pub struct AppUserPage {
    pub users: Vec<AppUser>,
    pub next: Option<String>,
}

/// What Okta said about the rate-limit bucket of the last call to an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u64,
    pub remaining: u64,
    /// UTC epoch seconds when the window resets.
    pub reset: i64,
}

/// The Okta Management API, as the use cases need it (okta-wire.md §2).
#[async_trait]
pub trait OktaDirectory: Send + Sync {
    /// A user by id or login; `None` when Okta answers `E0000007` (deleted or never existed).
    async fn get_user(&self, org: &OktaOrg, id_or_login: &str) -> Result<Option<OktaUser>, OktaError>;

    /// One app assignment; `None` when the user is not assigned.
    async fn get_app_user(&self, org: &OktaOrg, app_id: &str, user: &OktaUserId) -> Result<Option<AppUser>, OktaError>;

    /// A page of app users with `expand=user`; `next` is the `Link: rel="next"` URL to pass back.
    async fn list_app_users(
        &self,
        org: &OktaOrg,
        app_id: &str,
        next: Option<&str>,
        limit: u32,
    ) -> Result<AppUserPage, OktaError>;

    /// The rate-limit headers of the last call to this org, if any were seen.
    fn rate_limit(&self, base_url: &str) -> Option<RateLimit>;
}

#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    /// `429`: try again after this long (from `X-Rate-Limit-Reset` against the response `Date`).
    #[error("Okta rate limit reached; retry in {}s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// `401`/`403`: the API token is wrong, expired, or lacks a permission. Not retried inline.
    #[error("Okta refused the API token ({code})")]
    Unauthorized { code: String },
    /// `5xx`, timeouts and connection errors that outlived the client's own retries.
    #[error("Okta is unavailable")]
    Unavailable(#[source] Cause),
    /// Okta answered something that is not what its API documents.
    #[error("unexpected Okta response: {0}")]
    Protocol(String),
}
