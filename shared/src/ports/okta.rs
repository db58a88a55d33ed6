use std::time::Duration;

use async_trait::async_trait;

use super::Cause;
use crate::domain::okta::{AppUser, EventHook, EventHookSpec, OktaApp, OktaUser};
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

/// The Okta Management API, as the use cases need it (docs/okta-wire.md §2).
#[async_trait]
pub trait OktaDirectory: Send + Sync {
    /// A user by id or login; `None` when Okta answers `E0000007` (deleted or never existed).
    async fn get_user(&self, org: &OktaOrg, id_or_login: &str) -> Result<Option<OktaUser>, OktaError>;

    /// The app integration; `None` when Okta answers `E0000007` (no such app in the org).
    async fn get_app(&self, org: &OktaOrg, app_id: &str) -> Result<Option<OktaApp>, OktaError>;

    /// One app assignment; `None` when Okta answers `E0000007`, which it also answers for a
    /// missing app: confirm the app with [`OktaDirectory::get_app`] before reading it as "not assigned".
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

    /// Whether the token may read users: one `GET /api/v1/users?limit=1` ("Connect to Okta").
    async fn probe_users(&self, org: &OktaOrg) -> Result<(), OktaError>;

    /// The org's event hooks (`GET /api/v1/eventHooks`, `okta.eventHooks.read`).
    async fn list_event_hooks(&self, org: &OktaOrg) -> Result<Vec<EventHook>, OktaError>;

    /// Creates an event hook (`POST /api/v1/eventHooks`, `okta.eventHooks.manage`); not retried.
    async fn create_event_hook(&self, org: &OktaOrg, spec: &EventHookSpec) -> Result<EventHook, OktaError>;

    /// Replaces an event hook's events and channel (`PUT /api/v1/eventHooks/{id}`); not retried.
    async fn update_event_hook(&self, org: &OktaOrg, id: &str, spec: &EventHookSpec) -> Result<EventHook, OktaError>;

    /// Activates an inactive hook (`POST /api/v1/eventHooks/{id}/lifecycle/activate`).
    async fn activate_event_hook(&self, org: &OktaOrg, id: &str) -> Result<EventHook, OktaError>;

    /// Asks Okta to verify the hook (`POST /api/v1/eventHooks/{id}/lifecycle/verify`): Okta calls
    /// our receiver with a challenge; `Rejected` (400) when it did not answer it.
    async fn verify_event_hook(&self, org: &OktaOrg, id: &str) -> Result<EventHook, OktaError>;
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
    /// `404 E0000007` for the app's own user list: the configured app does not exist.
    #[error("Okta has no app with the configured app id")]
    AppNotFound,
    /// A `400`/`404`/`409` Okta explains (`errorCode`, `errorSummary`): e.g. a hook that failed
    /// verification. The summary is Okta's words, never holding a secret we sent.
    #[error("Okta refused the request ({code}): {summary}")]
    Rejected { status: u16, code: String, summary: String },
    /// Okta answered something that is not what its API documents.
    #[error("unexpected Okta response: {0}")]
    Protocol(String),
}
